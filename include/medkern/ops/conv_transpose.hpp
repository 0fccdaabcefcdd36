// medkern/ops/conv_transpose.hpp — FP32 transposed convolution 2-D / 3-D (torch's
// conv_transpose2d/3d): the ConvTransposeF32 primitive (validate and pack the weights once,
// execute many times).
//
// Semantics (per spatial dimension, 2-D being D = 1): weights (IC, OC/groups, K...), input
// (N, IC, in...), output (N, OC, out...) with
//   out = (in - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1
//   y[n][g*OCg + oc][o] += x[n][g*ICg + ic][i] * w[g*ICg + ic][oc][k]
//       for every o = i*stride - padding + k*dilation inside [0, out),
// then bias and the post-op chain (post_ops.hpp; sums read residuals of the output's shape).
// It is the adjoint of the forward convolution with the same geometry: a GEMM per group
//   col[(oc, k)][i] = sum_ic W^T[(oc, k)][ic] * x[ic][i]     (M = OCg*K, N = pixels, K = ICg)
// followed by a scatter of col into y. Two algorithms:
//   scatter (U-Net's 2x2 / 2x2x2 stride-2 up-convolution; any kernel == stride, dilation 1, no
//     padding or output padding): the kernel taps of different input pixels never meet, so
//     each output pixel is written exactly once, straight from the GEMM result (no zeroing, no
//     accumulation). Tasks: (image, group, chunk of input rows); after a chunk's GEMM, every
//     output row it produces is complete and gets the whole post-op chain while in cache.
//   col2im (everything else): tasks own disjoint output channels (image, group, channel
//     chunk); they zero their channels, then per chunk of input rows GEMM + col2im-accumulate
//     (kernels/conv/im2col.hpp, the forward convolution's adjoint), then run the chain over
//     their rows.
// MEDKERN_VERBOSE=1 logs "conv_transpose,<algorithm>:<gemm kernel>,<problem>,<ms>".
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "medkern/core/buffer.hpp"
#include "medkern/core/dispatch.hpp"
#include "medkern/core/error.hpp"
#include "medkern/core/tensor.hpp"
#include "medkern/core/threading.hpp"
#include "medkern/core/verbose.hpp"
#include "medkern/kernels/brgemm/registry.hpp"
#include "medkern/kernels/conv/im2col.hpp"
#include "medkern/kernels/post_ops.hpp"
#include "medkern/kernels/post_ops_row.hpp"
#include "medkern/ops/conv.hpp"

namespace medkern::ops {

/// Transposed convolution geometry; spatial arrays are (D, H, W) (D entries 1 / 0 for 2-D).
struct ConvTransposeDesc {
  using i64 = std::int64_t;
  int spatial = 2;
  i64 IC = 0, OC = 0, groups = 1;
  std::array<i64, 3> kernel{1, 1, 1};
  std::array<i64, 3> stride{1, 1, 1};
  std::array<i64, 3> padding{0, 0, 0};
  std::array<i64, 3> output_padding{0, 0, 0};
  std::array<i64, 3> dilation{1, 1, 1};

  i64 icg() const noexcept { return IC / groups; }
  i64 ocg() const noexcept { return OC / groups; }
  i64 kernel_volume() const noexcept { return kernel[0] * kernel[1] * kernel[2]; }
  /// Output size along dimension i for an input of size `in`.
  i64 out(int i, i64 in) const noexcept {
    const std::size_t k = std::size_t(i);
    return (in - 1) * stride[k] - 2 * padding[k] + dilation[k] * (kernel[k] - 1) +
           output_padding[k] + 1;
  }
};

enum class ConvTransposeAlgorithm : std::uint8_t { scatter, col2im };

class ConvTransposeF32 {
 public:
  using i64 = std::int64_t;

  /// `weights`: (IC, OC/groups, K...) contiguous, torch's layout; `bias`: OC floats or null.
  ConvTransposeF32(const ConvTransposeDesc& desc, const float* weights,
                   const float* bias = nullptr)
      : d_(desc) {
    op_ = d_.spatial == 3 ? "conv_transpose3d" : "conv_transpose2d";
    validate();
    const Isa isa = active_isa();
    kb::BrgemmDesc bd;
    gemm_row_ = select(kb::kRegistry, bd, isa);
    post_row_ = select(kernels::kPostRowRegistry, PostOps{}, isa);
    if (gemm_row_ == nullptr || post_row_ == nullptr)
      medkern::detail::throw_unsupported(op_, ": no f32 GEMM kernel");
    bool disjoint = true;
    for (std::size_t i = 0; i < 3; ++i)
      disjoint = disjoint && d_.kernel[i] == d_.stride[i] && d_.dilation[i] == 1 &&
                 d_.padding[i] == 0 && d_.output_padding[i] == 0;
    algo_ = disjoint ? ConvTransposeAlgorithm::scatter : ConvTransposeAlgorithm::col2im;
    if (bias != nullptr) bias_.assign(bias, bias + d_.OC);
    // W^T per group: row (oc*KV + k), column ic — the A operand of the GEMM.
    const i64 G = d_.groups, icg = d_.icg(), ocg = d_.ocg(), kv = d_.kernel_volume();
    wt_.allocate(medkern::detail::checked_mul(d_.IC, ocg * kv, op_));
    for (i64 g = 0; g < G; ++g)
      for (i64 ic = 0; ic < icg; ++ic)
        for (i64 r = 0; r < ocg * kv; ++r)
          wt_.data()[(g * ocg * kv + r) * icg + ic] = weights[((g * icg + ic) * ocg) * kv + r];
  }

  const char* algorithm() const noexcept {
    return algo_ == ConvTransposeAlgorithm::scatter ? "scatter" : "col2im";
  }
  const char* kernel() const noexcept { return gemm_row_->name; }
  const ConvTransposeDesc& desc() const noexcept { return d_; }

  /// (N, OC, out...) for an input (N, IC, in...) with the desc's output_padding; validates
  /// the input. execute() also accepts outputs larger by less than max(stride, dilation) per
  /// dimension (torch's output_size: the output padding is then taken from dst).
  std::vector<i64> output_shape(const TensorView& src) const {
    const Geo g = geometry(src);
    std::vector<i64> s{g.N, d_.OC};
    for (int i = d_.spatial == 3 ? 0 : 1; i < 3; ++i) s.push_back(g.out[std::size_t(i)]);
    return s;
  }

  /// dst = post(conv_transpose(src) + bias); dst a planar f32 view (any strides that are
  /// multiples of 4, e.g. a channel slice of a larger tensor), not overlapping src; `sums`
  /// as in ConvF32::execute.
  void execute(const TensorView& src, const TensorView& dst, const PostOps& post = {},
               std::span<const TensorView> sums = {}) const {
    Geo g = geometry(src);
    std::vector<i64> want{g.N, d_.OC};
    for (int i = d_.spatial == 3 ? 0 : 1; i < 3; ++i) want.push_back(g.out[std::size_t(i)]);
    bool ok = dst.rank == int(want.size()) && dst.dtype == DType::f32;
    for (int i = 0; ok && i < dst.rank; ++i) {
      const std::size_t k = std::size_t(i);
      ok = dst.strides[k] % 4 == 0;
      if (i < 2) {
        ok = ok && dst.shape[k] == want[k];
      } else {  // a larger output padding (output_size) within torch's range
        const std::size_t j = std::size_t(3 - d_.spatial + i - 2);
        const i64 op = d_.output_padding[j] + dst.shape[k] - want[k];
        ok = ok && op >= 0 && op < std::max(d_.stride[j], d_.dilation[j]);
        g.op[j] = op;
        g.out[j] = dst.shape[k];
      }
    }
    if (!ok)
      medkern::detail::throw_shape(
          op_, ": output must be f32 ", shape_str(want), " (or larger along a spatial dimension "
          "by less than max(stride, dilation)) with strides that are multiples of 4 bytes, got ",
          dtype_name(dst.dtype), " ", dst.shape_str(), " (input ", src.shape_str(), ")");
    PostOps chain;
    if (!bias_.empty()) chain.bias(bias_.data());
    if (chain.count + post.count > PostOps::kMax)
      medkern::detail::throw_shape(op_, ": ", post.count, " post-ops plus the bias exceed the ",
                                   PostOps::kMax, " a convolution fuses");
    for (const auto& op : post) chain.push(op);
    for (const auto& op : chain)
      if (op.kind == kernels::PostOpKind::bias && op.data == nullptr)
        medkern::detail::throw_shape(op_, ": a bias post-op needs data");
    conv_detail::check_sums(op_, chain, sums, dst);
    if (g.N > 0 && conv_detail::overlap(src, dst))
      medkern::detail::throw_shape(op_, ": the output must not overlap the input");
    if (g.N == 0) return;
    // A larger output (output_size) leaves pixels no tap reaches: col2im zeroes them.
    const bool scatter =
        algo_ == ConvTransposeAlgorithm::scatter && g.op == std::array<i64, 3>{0, 0, 0};
    const std::string name = std::string(scatter ? "scatter:" : "col2im:") + gemm_row_->name;
    VerboseScope vs("conv_transpose", name.c_str(), [&] {
      return medkern::detail::concat(src.shape_str(), "->", dst.shape_str(), ",g", d_.groups,
                                     ",k", d_.kernel[0], "x", d_.kernel[1], "x", d_.kernel[2],
                                     ",s", d_.stride[0], "x", d_.stride[1], "x", d_.stride[2],
                                     ",post=", kernels::post_ops_str(chain),
                                     ",threads=", num_threads());
    });
    // The GEMM reads each input channel plane as one row of pixels.
    AlignedBuffer<float> copy;
    const float* x = static_cast<const float*>(src.data);
    i64 xn = src.strides[0] / 4, xc = src.strides[1] / 4;
    if (!conv_detail::plane_contiguous(src) || src.strides[0] % 4 || src.strides[1] % 4) {
      const i64 P = g.in[0] * g.in[1] * g.in[2];
      copy.allocate(medkern::detail::checked_mul(g.N * d_.IC, P, op_));
      TensorView cv = src;
      cv.data = copy.data();
      cv.set_contiguous_strides();
      copy_planar(src, cv);
      x = copy.data();
      xn = d_.IC * P;
      xc = P;
    }
    std::vector<conv_detail::Planar> res;
    for (const TensorView& r : sums) res.push_back(conv_detail::planar_of(r));
    if (scatter)
      run_scatter(g, x, xn, xc, dst, chain, res);
    else
      run_col2im(g, x, xn, xc, dst, chain, res);
  }

 private:
  /// Input and output sizes of one call.
  struct Geo {
    i64 N = 0;
    std::array<i64, 3> in{1, 1, 1}, out{1, 1, 1};
    std::array<i64, 3> op{0, 0, 0};  ///< output padding of this call
  };

  static std::string shape_str(const std::vector<i64>& v) {
    std::string s;
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (i) s += 'x';
      s += std::to_string(v[i]);
    }
    return s;
  }

  std::string weight_str() const {
    std::string s = medkern::detail::concat(d_.IC, "x", d_.ocg());
    for (int i = d_.spatial == 3 ? 0 : 1; i < 3; ++i)
      s += medkern::detail::concat("x", d_.kernel[std::size_t(i)]);
    return s;
  }

  std::string dims(const std::array<i64, 3>& v) const {
    std::string s;
    for (int i = d_.spatial == 3 ? 0 : 1; i < 3; ++i) {
      if (!s.empty()) s += 'x';
      s += std::to_string(v[std::size_t(i)]);
    }
    return s;
  }

  void validate() {
    using medkern::detail::throw_shape;
    if (d_.spatial != 2 && d_.spatial != 3)
      throw_shape("conv_transpose: spatial rank ", d_.spatial, " must be 2 or 3");
    const std::string ctx = "weight " + weight_str() + ", groups " + std::to_string(d_.groups);
    if (d_.groups < 1) throw_shape(op_, ": groups ", d_.groups, " must be positive (", ctx, ")");
    if (d_.IC < 1 || d_.OC < 1)
      throw_shape(op_, ": channels in ", d_.IC, ", out ", d_.OC, " must be positive (", ctx, ")");
    if (d_.IC % d_.groups != 0 || d_.OC % d_.groups != 0)
      throw_shape(op_, ": in_channels ", d_.IC, " and out_channels ", d_.OC,
                  " must be divisible by groups ", d_.groups, " (", ctx, ")");
    if (d_.spatial == 2) {
      d_.kernel[0] = d_.stride[0] = d_.dilation[0] = 1;
      d_.padding[0] = d_.output_padding[0] = 0;
    }
    for (int i = 0; i < 3; ++i) {
      const std::size_t k = std::size_t(i);
      if (d_.kernel[k] < 1) throw_shape(op_, ": kernel ", dims(d_.kernel), " must be positive");
      if (d_.stride[k] < 1) throw_shape(op_, ": stride ", dims(d_.stride), " must be positive");
      if (d_.dilation[k] < 1)
        throw_shape(op_, ": dilation ", dims(d_.dilation), " must be positive");
      if (d_.padding[k] < 0)
        throw_shape(op_, ": padding ", dims(d_.padding), " must be non-negative");
      if (d_.output_padding[k] < 0 ||
          d_.output_padding[k] >= std::max(d_.stride[k], d_.dilation[k]))
        throw_shape(op_, ": output_padding ", dims(d_.output_padding),
                    " must be non-negative and smaller than stride ", dims(d_.stride),
                    " or dilation ", dims(d_.dilation));
    }
    medkern::detail::checked_mul(d_.IC * d_.ocg(), d_.kernel_volume(), op_);
  }

  Geo geometry(const TensorView& src) const {
    using medkern::detail::throw_shape;
    const int rank = d_.spatial + 2;
    if (src.rank != rank)
      throw_shape(op_, ": input must be ", rank, "-D (N, C, ", d_.spatial == 3 ? "D, " : "",
                  "H, W), got ", src.rank, "-D ", src.shape_str());
    if (src.dtype != DType::f32)
      throw_shape(op_, ": input must be f32, got ", dtype_name(src.dtype));
    Geo g;
    g.N = src.shape[0];
    if (src.shape[1] != d_.IC)
      throw_shape(op_, ": input channels ", src.shape[1], " must equal weight in_channels ",
                  d_.IC, " (input ", src.shape_str(), ", weight ", weight_str(), ")");
    for (int i = 0; i < d_.spatial; ++i)
      g.in[std::size_t(3 - d_.spatial + i)] = src.shape[std::size_t(2 + i)];
    for (int i = 0; i < 3; ++i) {
      const std::size_t k = std::size_t(i);
      if (g.in[k] < 1)
        throw_shape(op_, ": input spatial sizes must be positive, got ", src.shape_str());
      g.out[k] = d_.out(i, g.in[k]);
      g.op[k] = d_.output_padding[k];
      if (g.out[k] < 1)
        throw_shape(op_, ": output size ", g.out[k], " along a spatial dimension must be "
                    "positive (input ", src.shape_str(), ", kernel ", dims(d_.kernel),
                    ", stride ", dims(d_.stride), ", padding ", dims(d_.padding), ")");
    }
    if (g.N < 0) throw_shape(op_, ": batch ", g.N, " must be non-negative");
    if (g.N > 0 && src.data == nullptr) throw_shape(op_, ": input data is null");
    return g;
  }

  static void copy_planar(const TensorView& s, const TensorView& d) {
    const conv_detail::Planar a = conv_detail::planar_of(s), b = conv_detail::planar_of(d);
    const i64 D = s.rank == 5 ? s.shape[2] : 1, H = s.shape[std::size_t(s.rank - 2)],
              W = s.shape[std::size_t(s.rank - 1)];
    parallel_for_1d(s.shape[0] * s.shape[1], 1, [&](i64 r0, i64 r1) {
      for (i64 r = r0; r < r1; ++r) {
        const i64 n = r / s.shape[1], c = r % s.shape[1];
        for (i64 z = 0; z < D; ++z)
          for (i64 y = 0; y < H; ++y)
            for (i64 x = 0; x < W; ++x)
              std::memcpy(b.base + n * b.n + c * b.c + z * b.d + y * b.h + x * b.w,
                          a.base + n * a.n + c * a.c + z * a.d + y * a.h + x * a.w, 4);
      }
    });
  }

  /// The chain on output row (n, oc, od, oh) of W floats.
  void post_row(const PostOps& chain, const std::vector<conv_detail::Planar>& res,
                const conv_detail::Planar& o, i64 n, i64 oc, i64 od, i64 oh, i64 W) const {
    char* row = o.base + n * o.n + oc * o.c + od * o.d + oh * o.h;
    const PostOps rp = conv_detail::bind_row(chain, res, n, oc, od, oh, 0);
    if (o.w == 4) {
      post_row_->run(rp, oc, reinterpret_cast<float*>(row), W);
      return;
    }
    alignas(64) float buf[256];
    for (i64 w0 = 0; w0 < W; w0 += 256) {
      const i64 m = std::min<i64>(256, W - w0);
      const PostOps rq = conv_detail::bind_row(chain, res, n, oc, od, oh, w0);
      for (i64 w = 0; w < m; ++w) std::memcpy(buf + w, row + (w0 + w) * o.w, 4);
      post_row_->run(rq, oc, buf, m);
      for (i64 w = 0; w < m; ++w) std::memcpy(row + (w0 + w) * o.w, buf + w, 4);
    }
  }

  /// C[rows][np] = W^T rows [r0, r0 + rows) of group g times input pixels [p0, p0 + np).
  void gemm(i64 g, i64 r0, i64 rows, const float* xg, i64 xc, i64 p0, i64 np,
            float* c) const {
    kb::BrgemmDesc bd;
    bd.M = rows;
    bd.N = np;
    bd.K = d_.icg();
    bd.lda = d_.icg();
    bd.ldb = xc;
    bd.ldc = np;
    const void* pa = wt_.data() + (g * d_.ocg() * d_.kernel_volume() + r0) * d_.icg();
    const void* pb = xg + p0;
    gemm_row_->run(bd, 1, &pa, &pb, c);
  }

  void run_scatter(const Geo& g, const float* x, i64 xn, i64 xc, const TensorView& dst,
                   const PostOps& chain, const std::vector<conv_detail::Planar>& res) const {
    const conv_detail::Planar o = conv_detail::planar_of(dst);
    const i64 G = d_.groups, icg = d_.icg(), ocg = d_.ocg(), kv = d_.kernel_volume();
    const i64 KD = d_.kernel[0], KH = d_.kernel[1], KW = d_.kernel[2];
    const i64 ID = g.in[0], IH = g.in[1], IW = g.in[2], OW = g.out[2];
    const i64 rows_in = ID * IH;
    // Output channels per task: the GEMM result of a chunk stays within kIm2colBytes.
    const i64 occ = std::clamp<i64>(kIm2colBytes / std::max<i64>(1, 4 * kv * IW), 1, ocg);
    const i64 ocn = (ocg + occ - 1) / occ;
    const i64 qc = std::clamp<i64>(kIm2colBytes / std::max<i64>(1, 4 * kv * occ * IW), 1, rows_in);
    const i64 qn = (rows_in + qc - 1) / qc;
    const i64 items = g.N * G * ocn * qn;
    const i64 T = std::min<i64>(items, num_threads());
    AlignedBuffer<float> scratch(medkern::detail::checked_mul(T, occ * kv * qc * IW, op_));
    parallel_tasks(T, [&](i64 t) {
      float* tmp = scratch.data() + t * occ * kv * qc * IW;
      for (i64 it = items * t / T; it < items * (t + 1) / T; ++it) {
        const i64 q = it % qn, oj = (it / qn) % ocn, gi = (it / (qn * ocn)) % G,
                  n = it / (qn * ocn * G);
        const i64 q0 = q * qc, q1 = std::min(rows_in, q0 + qc), np = (q1 - q0) * IW;
        const i64 oc0 = oj * occ, noc = std::min(occ, ocg - oc0);
        gemm(gi, oc0 * kv, noc * kv, x + n * xn + gi * icg * xc, xc, q0 * IW, np, tmp);
        for (i64 c = 0; c < noc; ++c) {
          const i64 oc = gi * ocg + oc0 + c;
          for (i64 r = q0; r < q1; ++r) {
            const i64 id = r / IH, ih = r % IH;
            for (i64 kd = 0; kd < KD; ++kd)
              for (i64 kh = 0; kh < KH; ++kh) {
                const i64 od = id * KD + kd, oh = ih * KH + kh;
                char* row = o.base + n * o.n + oc * o.c + od * o.d + oh * o.h;
                for (i64 kw = 0; kw < KW; ++kw) {
                  const float* v = tmp + ((c * KD + kd) * KH * KW + kh * KW + kw) * np +
                                   (r - q0) * IW;
                  if (o.w == 4 && KW == 1) {
                    std::memcpy(row, v, std::size_t(IW) * 4);
                  } else if (o.w == 4 && KW == 2) {
                    float* out = reinterpret_cast<float*>(row) + kw;
                    for (i64 iw = 0; iw < IW; ++iw) out[2 * iw] = v[iw];
                  } else {
                    for (i64 iw = 0; iw < IW; ++iw)
                      std::memcpy(row + (iw * KW + kw) * o.w, v + iw, 4);
                  }
                }
                // The row is complete: the whole chain while it is in L1.
                if (chain.count > 0) post_row(chain, res, o, n, oc, od, oh, OW);
              }
          }
        }
      }
    });
  }

  void run_col2im(const Geo& g, const float* x, i64 xn, i64 xc, const TensorView& dst,
                  const PostOps& chain, const std::vector<conv_detail::Planar>& res) const {
    const conv_detail::Planar o = conv_detail::planar_of(dst);
    const i64 G = d_.groups, icg = d_.icg(), ocg = d_.ocg(), kv = d_.kernel_volume();
    const i64 IH = g.in[1], IW = g.in[2], rows_in = g.in[0] * IH;
    const i64 OD = g.out[0], OH = g.out[1], OW = g.out[2];
    // The forward convolution whose adjoint this is: image = our output, its output = our
    // input (pad_after chosen so that its output size is exactly our input size).
    kernels::conv::ConvDesc f;
    f.spatial = d_.spatial;
    f.in = g.out;
    f.kernel = d_.kernel;
    f.stride = d_.stride;
    f.dilation = d_.dilation;
    f.pad_before = d_.padding;
    for (std::size_t i = 0; i < 3; ++i) f.pad_after[i] = d_.padding[i] - g.op[i];
    const kernels::conv::ImageStrides st{o.c, o.d, o.h, o.w};
    // Tasks own disjoint output channels: enough of them for every thread.
    const i64 T0 = num_threads();
    const i64 want = std::max<i64>(1, (2 * T0 + g.N * G - 1) / (g.N * G));
    const i64 occ = std::max<i64>(1, (ocg + want - 1) / want);
    const i64 ocn = (ocg + occ - 1) / occ;
    const i64 qc = std::clamp<i64>(kIm2colBytes / std::max<i64>(1, 4 * kv * occ * IW), 1, rows_in);
    const i64 items = g.N * G * ocn;
    const i64 T = std::min<i64>(items, T0);
    AlignedBuffer<float> scratch(medkern::detail::checked_mul(T, occ * kv * qc * IW, op_));
    parallel_tasks(T, [&](i64 t) {
      float* tmp = scratch.data() + t * occ * kv * qc * IW;
      for (i64 it = items * t / T; it < items * (t + 1) / T; ++it) {
        const i64 oj = it % ocn, gi = (it / ocn) % G, n = it / (ocn * G);
        const i64 oc0 = oj * occ, noc = std::min(occ, ocg - oc0);
        const i64 c0 = gi * ocg + oc0;
        char* img = o.base + n * o.n + c0 * o.c;
        for (i64 c = 0; c < noc; ++c)
          for (i64 z = 0; z < OD; ++z)
            for (i64 y = 0; y < OH; ++y) {
              char* row = img + c * o.c + z * o.d + y * o.h;
              if (o.w == 4)
                std::memset(row, 0, std::size_t(OW) * 4);
              else
                for (i64 w = 0; w < OW; ++w) std::memset(row + w * o.w, 0, 4);
            }
        for (i64 q0 = 0; q0 < rows_in; q0 += qc) {
          const i64 q1 = std::min(rows_in, q0 + qc), np = (q1 - q0) * IW;
          gemm(gi, oc0 * kv, noc * kv, x + n * xn + gi * icg * xc, xc, q0 * IW, np, tmp);
          kernels::conv::col2im_f32(f, tmp, np, noc, q0, q1, img, st);
        }
        if (chain.count > 0)
          for (i64 c = 0; c < noc; ++c)
            for (i64 z = 0; z < OD; ++z)
              for (i64 y = 0; y < OH; ++y) post_row(chain, res, o, n, c0 + c, z, y, OW);
      }
    });
  }

  ConvTransposeDesc d_;
  const char* op_ = "conv_transpose2d";
  ConvTransposeAlgorithm algo_ = ConvTransposeAlgorithm::col2im;
  const kb::BrgemmRow* gemm_row_ = nullptr;
  const kernels::PostRowRow* post_row_ = nullptr;
  std::vector<float> bias_;
  AlignedBuffer<float> wt_;
};

}  // namespace medkern::ops
