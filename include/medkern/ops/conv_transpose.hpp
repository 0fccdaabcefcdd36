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
// execute_blocked (src and dst nC[d]hw16c; kernel == stride, groups 1, as scatter): each tap
//   (kd, kh, kw) is a 1x1 convolution whose output pixels lie KW pixels apart in an output row,
//   so the direct convolution kernel (kernels/conv, the one 1x1 convolutions run on) writes
//   them in place with dst_pix = 16*KW: no GEMM buffer, no scatter pass. A task owns one
//   output row segment (image, block of up to 4 output-channel blocks, od, oh, up to
//   kConvSegment input pixels) and runs its KW taps, which complete the segment; the chain's
//   head is fused in the kernel, its tail runs on the completed segment while it is in L1.
//   dst may be a block slice of a larger blocked tensor (the decoder's concat buffer).
// direct (the planar execute of the same geometry when the direct kernel is a vector one and
//   dst has unit stride along W): the input is reordered once into a blocked copy, each
//   task's output row segment goes to an L1 buffer through the same kernel calls and is then
//   transposed into dst's channel rows, where the chain's tail runs. The scatter algorithm's
//   GEMM reads input planes a multiple of 4 KiB apart (rows of its B operand) and scatters
//   through a per-chunk buffer: 20-26 GFLOP/s on the U-Net up-convolutions at 2 threads.
// MEDKERN_VERBOSE=1 logs "conv_transpose,<algorithm>:<gemm kernel>,<problem>,<ms>".
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "medkern/core/buffer.hpp"
#include "medkern/core/dispatch.hpp"
#include "medkern/core/error.hpp"
#include "medkern/core/tensor.hpp"
#include "medkern/core/threading.hpp"
#include "medkern/core/verbose.hpp"
#include "medkern/kernels/brgemm/registry.hpp"
#include "medkern/kernels/conv/im2col.hpp"
#include "medkern/kernels/conv/registry.hpp"
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
  /// `row` forces the direct-kernel registry row of execute_blocked (tests iterate the
  /// registry); null takes the best one for the active ISA.
  ConvTransposeF32(const ConvTransposeDesc& desc, const float* weights,
                   const float* bias = nullptr,
                   const kernels::conv::DirectRow* row = nullptr)
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
    if (disjoint && G == 1) pack_blocked(weights, row, isa);
  }

  /// Whether execute_blocked is available: kernel == stride (dilation 1, no padding or
  /// output padding) and groups 1.
  bool blocked_supported() const noexcept { return direct_row_ != nullptr; }
  /// Whether execute_blocked runs on a vector kernel (not the scalar ref one).
  bool blocked_native() const noexcept {
    return direct_row_ != nullptr && direct_row_->isa != Isa::ref;
  }
  /// The direct kernel of execute_blocked, or "" when it is not supported.
  const char* blocked_kernel() const noexcept { return direct_row_ ? direct_row_->name : ""; }

  /// (N, ceil(OC/16), [OD,] OH, OW, 16) for a blocked input (N, ceil(IC/16), [D,] H, W, 16).
  /// Throws UnsupportedError when !blocked_supported().
  std::vector<i64> blocked_output_shape(const TensorView& src) const {
    require_blocked();
    const Geo g = blocked_geometry(src);
    std::vector<i64> s{g.N, (d_.OC + 15) / 16};
    for (int i = d_.spatial == 3 ? 0 : 1; i < 3; ++i) s.push_back(g.out[std::size_t(i)]);
    s.push_back(16);
    return s;
  }

  /// dst = post(conv_transpose(src) + bias) on channel-blocked tensors (nChw16c / nCdhw16c):
  /// src (N, ceil(IC/16), [D,] H, W, 16), dst (N, ceil(OC/16), [OD,] OH, OW, 16), f32, each
  /// C-contiguous from the spatial dimensions on with any strides (multiples of 4 bytes)
  /// along N and the block dimension, so dst may be a block slice of a larger blocked tensor
  /// (a concat buffer). The padding lanes of dst's last block are written as zero; those of
  /// src are multiplied by zero weights. `sums`: one blocked view per sum post-op with dst's
  /// shape and the same layout rules, not overlapping dst. Needs blocked_supported().
  void execute_blocked(const TensorView& src, const TensorView& dst, const PostOps& post = {},
                       std::span<const TensorView> sums = {}) const {
    require_blocked();
    const Geo g = blocked_geometry(src);
    const std::vector<i64> want = blocked_output_shape(src);
    const PostOps chain = full_chain(post);
    conv_detail::check_blocked_outputs(op_, src, dst, want, chain, sums);
    if (g.N == 0) return;
    const std::string name = std::string("blocked:") + direct_row_->name;
    VerboseScope vs("conv_transpose", name.c_str(), [&] {
      return medkern::detail::concat(src.shape_str(), "->", dst.shape_str(), ",k",
                                     d_.kernel[0], "x", d_.kernel[1], "x", d_.kernel[2],
                                     ",post=", kernels::post_ops_str(chain),
                                     ",threads=", num_threads());
    });
    run_blocked(g, src, dst, chain, sums);
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
          op_, ": output must be f32 ", conv_detail::dims_str(want), " (or larger along a spatial dimension "
          "by less than max(stride, dilation)) with strides that are multiples of 4 bytes, got ",
          dtype_name(dst.dtype), " ", dst.shape_str(), " (input ", src.shape_str(), ")");
    const PostOps chain = full_chain(post);
    conv_detail::check_sums(op_, chain, sums, dst);
    if (g.N > 0 && medkern::overlap(src, dst))
      medkern::detail::throw_shape(op_, ": the output must not overlap the input");
    if (g.N == 0) return;
    // A larger output (output_size) leaves pixels no tap reaches: col2im zeroes them.
    const bool scatter =
        algo_ == ConvTransposeAlgorithm::scatter && g.op == std::array<i64, 3>{0, 0, 0};
    // The direct kernel writes dst's rows in place: unit stride along W.
    const bool direct =
        scatter && blocked_native() && dst.strides[std::size_t(dst.rank - 1)] == 4;
    const std::string name = direct ? std::string("direct:") + direct_row_->name
                             : std::string(scatter ? "scatter:" : "col2im:") + gemm_row_->name;
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
    if (direct && blocked_native())
      run_planar_direct(g, x, xn, xc, dst, chain, res);
    else if (scatter)
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

  void require_blocked() const {
    if (direct_row_ == nullptr)
      medkern::detail::throw_unsupported(
          op_, ": the blocked layout needs kernel == stride, dilation 1, no padding or output ",
          "padding and groups 1, got kernel ", dims(d_.kernel), ", stride ", dims(d_.stride),
          ", padding ", dims(d_.padding), ", dilation ", dims(d_.dilation), ", groups ",
          d_.groups);
  }

  /// The bias followed by `post`, validated.
  PostOps full_chain(const PostOps& post) const {
    PostOps chain;
    if (!bias_.empty()) chain.bias(bias_.data());
    if (chain.count + post.count > PostOps::kMax)
      medkern::detail::throw_shape(op_, ": ", post.count, " post-ops plus the bias exceed the ",
                                   PostOps::kMax, " a convolution fuses");
    for (const auto& op : post) chain.push(op);
    for (const auto& op : chain)
      if (op.kind == kernels::PostOpKind::bias && op.data == nullptr)
        medkern::detail::throw_shape(op_, ": a bias post-op needs data");
    return chain;
  }

  /// The geometry of a blocked input, validated (shape, block count, contiguity).
  Geo blocked_geometry(const TensorView& src) const {
    return geometry(conv_detail::blocked_as_planar(op_, src, d_.spatial, d_.IC));
  }

  /// Weights of execute_blocked: per tap k and output-block group j (up to kMaxNv blocks),
  /// the direct kernel's panels [icb][16 ic][16*nv oc] (zero beyond IC / OC).
  void pack_blocked(const float* w, const kernels::conv::DirectRow* row, Isa isa) {
    kernels::conv::ConvDesc cd;
    cd.IC = d_.IC;
    cd.OC = d_.OC;
    direct_row_ = row != nullptr ? row : select(kernels::conv::kDirectRegistry, cd, isa);
    if (direct_row_ == nullptr) return;
    const i64 kv = d_.kernel_volume(), IC = d_.IC, OC = d_.OC;
    icb_ = (IC + 15) / 16;
    const i64 ocb = (OC + 15) / 16, nmax = kernels::conv::kMaxNv;
    const i64 ngrp = (ocb + nmax - 1) / nmax;
    for (i64 j = 0, b0 = 0; j < ngrp; ++j) {
      const int nv = int(ocb / ngrp + (j < ocb % ngrp ? 1 : 0));
      grp_.push_back({b0, nv, b0 * 16 * icb_ * 16});
      b0 += nv;
    }
    tap_f_ = ocb * 16 * icb_ * 16;
    wb_.allocate(medkern::detail::checked_mul(kv, tap_f_, op_));
    parallel_tasks(kv * ngrp, [&](i64 t) {
      const i64 k = t / ngrp;
      const BlockGroup& gr = grp_[std::size_t(t % ngrp)];
      const i64 ncol = 16 * gr.nv;
      float* out = wb_.data() + k * tap_f_ + gr.offset;
      for (i64 ic = 0; ic < icb_ * 16; ++ic)
        for (i64 c = 0; c < ncol; ++c) {
          const i64 oc = gr.block0 * 16 + c;
          out[ic * ncol + c] = ic < IC && oc < OC ? w[(ic * OC + oc) * kv + k] : 0.f;
        }
    });
  }

  /// The direct-kernel loop of the kernel == stride algorithm on a blocked input x (image n
  /// at x + n*xsN floats, block b at + b*xsC). Task = (image, output-block group, output
  /// row, segment of input pixels [p0, p0 + M)); `target(n, group, row, p0, M)` gives where
  /// the KW taps store the segment's M*KW output pixels (pointer to block group's first
  /// block, floats between blocks); `finish(n, group, row, p0, M, out, block_stride)` runs
  /// once they are complete.
  template <class Target, class Finish>
  void direct_rows(const Geo& g, const float* x, i64 xsN, i64 xsC, const PostOps& head,
                   Target&& target, Finish&& finish) const {
    namespace kc = kernels::conv;
    const i64 KD = d_.kernel[0], KH = d_.kernel[1], KW = d_.kernel[2];
    const i64 IH = g.in[1], IW = g.in[2], OH = g.out[1];
    const i64 S = kConvSegment, nseg = (IW + S - 1) / S;
    const i64 ngrp = i64(grp_.size()), rows = g.out[0] * OH;
    const i64 items = g.N * ngrp * rows * nseg;
    const kc::DirectRow& krow = *direct_row_;
    std::vector<i64> off(static_cast<std::size_t>(icb_));
    for (i64 b = 0; b < icb_; ++b) off[std::size_t(b)] = b * xsC;
    parallel_for_1d(items, 1, [&](i64 t0, i64 t1) {
      kc::DirectArgs a;
      a.lda = 16;
      a.dst_pix = 16 * KW;
      a.a_off = off.data();
      for (i64 t = t0; t < t1; ++t) {
        i64 r = t;
        const i64 s = r % nseg; r /= nseg;
        const i64 row = r % rows; r /= rows;
        const i64 j = r % ngrp;
        const i64 n = r / ngrp;
        const i64 p0 = IW * s / nseg, p1 = IW * (s + 1) / nseg, M = p1 - p0;
        const i64 od = row / OH, oh = row % OH;
        const i64 id = od / KD, kd = od % KD, ih = oh / KH, kh = oh % KH;
        const BlockGroup& gr = grp_[std::size_t(j)];
        a.src = x + n * xsN + ((id * IH + ih) * IW + p0) * 16;
        a.nv = gr.nv;
        a.post = head.shifted(gr.block0 * 16);
        const auto [out, bs] = target(n, gr, row, p0, M);
        a.dst_block = bs;
        const i64 per = std::max<i64>(1, kConvPassBytes / (1024 * gr.nv));
        const i64 passes = (icb_ + per - 1) / per, step = (icb_ + passes - 1) / passes;
        for (i64 kw = 0; kw < KW; ++kw) {
          a.wei = wb_.data() + ((kd * KH + kh) * KW + kw) * tap_f_ + gr.offset;
          a.dst = out + kw * 16;
          for (i64 b0 = 0; b0 < icb_; b0 += step) {
            const i64 b1 = std::min(icb_, b0 + step);
            krow.run(a, M, b0, b1, b0 == 0, b1 == icb_);
          }
        }
        finish(n, gr, row, p0, M, out, bs);
      }
    });
  }

  void run_blocked(const Geo& g, const TensorView& src, const TensorView& dst,
                   const PostOps& chain, std::span<const TensorView> sums) const {
    const i64 KW = d_.kernel[2], OW = g.out[2], OC = d_.OC;
    char* const ys = static_cast<char*>(dst.data);
    const i64 ysN = dst.strides[0], ysC = dst.strides[1] / 4;
    std::vector<std::vector<float>> keep;
    keep.reserve(std::size_t(2 * PostOps::kMax));
    const i64 ocb = (d_.OC + 15) / 16;
    const PostOps head = conv_detail::pad_to_blocks(chain.head(), 1, d_.OC, ocb, keep);
    const PostOps tail = conv_detail::pad_to_blocks(chain.tail(), 1, d_.OC, ocb, keep);
    const auto target = [&](i64 n, const BlockGroup& gr, i64 row, i64 p0, i64) {
      float* o = reinterpret_cast<float*>(ys + n * ysN) + gr.block0 * ysC +
                 (row * OW + p0 * KW) * 16;
      return std::pair<float*, i64>(o, ysC);
    };
    const auto finish = [&](i64 n, const BlockGroup& gr, i64 row, i64 p0, i64 M, float* out,
                            i64) {
      for (int v = 0; v < gr.nv; ++v) {
        const i64 blk = gr.block0 + v;
        float* o = out + v * ysC;
        if (tail.count > 0) {
          const PostOps rp = conv_detail::bind_sums(tail, [&](std::size_t k) {
            const TensorView& sv = sums[k];
            return reinterpret_cast<const float*>(static_cast<const char*>(sv.data) +
                                                  n * sv.strides[0]) +
                   blk * (sv.strides[1] / 4) + (row * OW + p0 * KW) * 16;
          });
          post_row_->blocked(rp, blk * 16, o, M * KW);
        }
        const i64 nc = std::min<i64>(16, OC - blk * 16);
        if (nc < 16)  // padding lanes stay zero whatever the chain maps zero to
          for (i64 m = 0; m < M * KW; ++m) std::fill(o + m * 16 + nc, o + m * 16 + 16, 0.f);
      }
    };
    direct_rows(g, static_cast<const float*>(src.data), src.strides[0] / 4, src.strides[1] / 4,
                head, target, finish);
  }

  /// The planar execute on the direct kernel (kernel == stride, groups 1, unit W stride of
  /// dst): the input is reordered once into a blocked copy (a quarter of the output's bytes
  /// for 2x2 kernels); each task's output row segment is computed into an L1 buffer, the
  /// chain's head fused, then transposed into dst's channel rows, where the tail runs.
  void run_planar_direct(const Geo& g, const float* x, i64 xn, i64 xc, const TensorView& dst,
                         const PostOps& chain, const std::vector<conv_detail::Planar>& res) const {
    const i64 P = g.in[0] * g.in[1] * g.in[2], IC = d_.IC, OC = d_.OC, KW = d_.kernel[2];
    const i64 OH = g.out[1];
    AlignedBuffer<float> local;
    float* const xb = conv_detail::thread_scratch<0>(
        medkern::detail::checked_mul(g.N * icb_ * 16, P, op_), local);
    const kernels::conv::DirectRow& krow = *direct_row_;
    const i64 chunk = 1024;
    const i64 pc = (P + chunk - 1) / chunk;
    parallel_for_1d(g.N * icb_ * pc, 1, [&](i64 t0, i64 t1) {
      for (i64 t = t0; t < t1; ++t) {
        const i64 q = t % pc, b = (t / pc) % icb_, n = t / (pc * icb_);
        const i64 s0 = q * chunk, len = std::min(chunk, P - s0);
        krow.to_blocked(reinterpret_cast<const char*>(x + n * xn + b * 16 * xc + s0), xc * 4, 4,
                        int(std::min<i64>(16, IC - b * 16)), len,
                        xb + ((n * icb_ + b) * P + s0) * 16);
      }
    });
    const conv_detail::Planar o = conv_detail::planar_of(dst);
    std::vector<std::vector<float>> keep;
    keep.reserve(std::size_t(PostOps::kMax));
    const PostOps head = conv_detail::pad_to_blocks(chain.head(), 1, d_.OC, (d_.OC + 15) / 16, keep);
    const PostOps tail = chain.tail();
    const i64 seg = kernels::conv::kMaxNv * kConvSegment * 16 * KW;
    const auto target = [&](i64, const BlockGroup&, i64, i64, i64 M) {
      thread_local std::vector<float> buf;
      if (i64(buf.size()) < seg + 16) buf.resize(std::size_t(seg + 16));
      const std::uintptr_t at = reinterpret_cast<std::uintptr_t>(buf.data());
      float* b = reinterpret_cast<float*>((at + 63) & ~std::uintptr_t(63));
      return std::pair<float*, i64>(b, M * KW * 16);
    };
    const auto finish = [&](i64 n, const BlockGroup& gr, i64 row, i64 p0, i64 M, float* out,
                            i64 bs) {
      const i64 od = row / OH, oh = row % OH;
      for (int v = 0; v < gr.nv; ++v) {
        const i64 c0 = (gr.block0 + v) * 16, nc = std::min<i64>(16, OC - c0);
        char* base = o.base + n * o.n + c0 * o.c + od * o.d + oh * o.h + p0 * KW * o.w;
        krow.from_blocked(out + v * bs, int(nc), M * KW, base, o.c, o.w);
        if (tail.count > 0)
          for (i64 c = 0; c < nc; ++c)
            post_row_->run(conv_detail::bind_row(tail, res, n, c0 + c, od, oh, p0 * KW), c0 + c,
                           reinterpret_cast<float*>(base + c * o.c), M * KW);
      }
    };
    direct_rows(g, xb, icb_ * P * 16, P * 16, head, target, finish);
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
  /// execute_blocked: output-block groups of one tap's panels, packed weights, direct kernel.
  struct BlockGroup {
    i64 block0;
    int nv;
    i64 offset;  ///< floats from the tap's panels
  };
  std::vector<BlockGroup> grp_;
  AlignedBuffer<float> wb_;
  i64 icb_ = 0, tap_f_ = 0;
  const kernels::conv::DirectRow* direct_row_ = nullptr;
};

}  // namespace medkern::ops
