// tests/cpp/conv/conv_test.cpp — ConvF32 (direct, gemm_1x1, im2col_gemm; every direct
// registry row the CPU has) against the double reference conv_fwd_ref, im2col/col2im against
// their definitions, and every bad-input rule.
//
//   ConvTester().ic(17).oc(33).in(1, 9, 31).k(1, 3, 3).stride(1, 2, 2).pad({0,1,1},{0,2,0})
//       .bias().eltwise(Eltwise::relu).algorithm(ConvAlgorithm::direct).test(&row);
//
// test() prints the seed, the problem and max abs/rel error with the first bad index; output
// tensors are channel slices of a larger buffer whose other channels are sentinels (guards
// that also check writing into a concat buffer).
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "medkern/core/cpu.hpp"
#include "medkern/kernels/conv/ref.hpp"
#include "medkern/kernels/conv/registry.hpp"
#include "medkern/kernels/conv/winograd/registry.hpp"
#include "medkern/ops/conv.hpp"
#include "medkern/ops/gemm.hpp"
#include "medkern/ops/im2col.hpp"

using namespace medkern;
using kernels::Eltwise;
using kernels::PostOps;
using kernels::conv::ConvDesc;
using ops::ConvAlgorithm;
using i64 = std::int64_t;

namespace {

constexpr float kSentinel = -12345.f;

class ConvTester {
 public:
  ConvTester& spatial(int s) { d_.spatial = s; return *this; }
  ConvTester& n(i64 v) { d_.N = v; return *this; }
  ConvTester& ic(i64 v) { d_.IC = v; return *this; }
  ConvTester& oc(i64 v) { d_.OC = v; return *this; }
  ConvTester& groups(i64 v) { d_.groups = v; return *this; }
  ConvTester& in(i64 D, i64 H, i64 W) { d_.in = {D, H, W}; return *this; }
  ConvTester& k(i64 D, i64 H, i64 W) { d_.kernel = {D, H, W}; return *this; }
  ConvTester& stride(i64 D, i64 H, i64 W) { d_.stride = {D, H, W}; return *this; }
  ConvTester& dilation(i64 D, i64 H, i64 W) { d_.dilation = {D, H, W}; return *this; }
  ConvTester& pad(std::array<i64, 3> before, std::array<i64, 3> after) {
    d_.pad_before = before;
    d_.pad_after = after;
    return *this;
  }
  ConvTester& bias() { bias_ = true; return *this; }
  /// Folded batch norm: per-channel scale then shift (scale + bias post-ops).
  ConvTester& batch_norm() {
    specs_.push_back({kernels::PostOpKind::scale, Eltwise::relu, true, 0.f, 0.f});
    specs_.push_back({kernels::PostOpKind::bias, Eltwise::relu, true, 0.f, 0.f});
    return *this;
  }
  ConvTester& eltwise(Eltwise a, float alpha = 0.f, float beta = 0.f) {
    specs_.push_back({kernels::PostOpKind::eltwise, a, false, alpha, beta});
    return *this;
  }
  /// PReLU with per-channel slopes or one scalar slope.
  ConvTester& prelu(bool per_channel, float slope = 0.25f) {
    specs_.push_back({kernels::PostOpKind::prelu, Eltwise::relu, per_channel, slope, 0.f});
    return *this;
  }
  /// Residual sum with a random tensor of the output's shape (rows padded to twice W).
  ConvTester& sum(float scale = 1.f) {
    specs_.push_back({kernels::PostOpKind::sum, Eltwise::relu, false, scale, 0.f});
    return *this;
  }
  /// Per-channel binary add / mul (bias / scale kinds with data).
  ConvTester& binary(bool mul) {
    specs_.push_back({mul ? kernels::PostOpKind::scale : kernels::PostOpKind::bias, Eltwise::relu,
                      true, 0.f, 0.f});
    return *this;
  }
  ConvTester& algorithm(ConvAlgorithm a) { algo_ = a; return *this; }
  /// Output written into channels [offset, offset + OC) of a tensor of `extra` more channels.
  ConvTester& dst_slice(i64 extra, i64 offset) { extra_ = extra; offset_ = offset; return *this; }
  /// Runs execute_blocked instead: blocked input and sums, output into blocks
  /// [offset, offset + ceil(OC/16)) of a blocked tensor of `extra` more blocks.
  ConvTester& blocked(i64 extra = 0, i64 offset = 0) {
    blocked_ = true;
    extra_ = extra;
    offset_ = offset;
    return *this;
  }
  ConvTester& seed(std::uint32_t s) { seed_ = s; return *this; }
  const ConvDesc& desc() const { return d_; }

  /// Runs ConvF32 with direct-kernel `row` (nullptr: dispatch) and checks it; returns the
  /// algorithm name that ran.
  std::string test(const kernels::conv::DirectRow* row = nullptr) {
    ConvDesc d = d_;
    if (d.spatial == 2) {
      d.in[0] = 1;
    }
    std::mt19937 rng(seed_);
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    const i64 OD = d.out(0), OH = d.out(1), OW = d.out(2);
    const i64 in_n = d.N * d.IC * d.in[0] * d.in[1] * d.in[2];
    const i64 w_n = d.OC * d.icg() * d.kernel_volume();
    std::vector<float> x(std::size_t(std::max<i64>(in_n, 1))), w(static_cast<std::size_t>(w_n)),
        b(std::size_t(d.OC));
    for (auto& v : x) v = u(rng);
    for (auto& v : w) v = u(rng);
    for (auto& v : b) v = u(rng);

    const i64 spat = OD * OH * OW, CT = d.OC + extra_, out_n = d.N * d.OC * spat;
    // Post-op data: per-channel arrays, residuals (contiguous for the reference; for the
    // primitive the first half of each row of a twice-as-wide buffer: a non-contiguous view).
    std::vector<std::vector<float>> data;
    std::vector<std::vector<float>> wide;
    std::vector<TensorView> sums;
    PostOps post, ref_post;
    if (bias_) ref_post.bias(b.data());
    for (const Spec& sp : specs_) {
      kernels::PostOp op{sp.kind, sp.alg, nullptr, sp.alpha, sp.beta};
      if (sp.per_channel) {
        data.emplace_back(std::size_t(d.OC));
        for (auto& v : data.back()) v = u(rng);
        op.data = data.back().data();
      }
      kernels::PostOp rop = op;
      if (sp.kind == kernels::PostOpKind::sum) {
        data.emplace_back(std::size_t(std::max<i64>(out_n, 1)));
        wide.emplace_back(std::size_t(std::max<i64>(2 * out_n, 1)), 0.f);
        for (std::size_t i = 0; i < data.back().size(); ++i) {
          data.back()[i] = u(rng);
          const std::size_t row = i / std::size_t(OW), w = i % std::size_t(OW);
          if (out_n > 0) wide.back()[row * 2 * std::size_t(OW) + w] = data.back()[i];
        }
        rop.data = data.back().data();
        TensorView r = d.spatial == 3
            ? TensorView::contiguous(wide.back().data(), DType::f32, {d.N, d.OC, OD, OH, 2 * OW})
            : TensorView::contiguous(wide.back().data(), DType::f32, {d.N, d.OC, OH, 2 * OW});
        r.shape[std::size_t(r.rank - 1)] = OW;
        sums.push_back(r);
      }
      post.push(op);
      ref_post.push(rop);
    }
    std::vector<float> ref(std::size_t(std::max<i64>(out_n, 1)));
    kernels::conv::conv_fwd_ref(d, x.data(), w.data(), ref.data(), ref_post);
    if (blocked_) return test_blocked(d, row, x, w, b, post, ref_post, data, ref);

    std::vector<float> out(std::size_t(std::max<i64>(d.N * CT * spat, 1)), kSentinel);
    TensorView src, dst;
    if (d.spatial == 3) {
      src = TensorView::contiguous(x.data(), DType::f32, {d.N, d.IC, d.in[0], d.in[1], d.in[2]});
      dst = TensorView::contiguous(out.data(), DType::f32, {d.N, CT, OD, OH, OW});
    } else {
      src = TensorView::contiguous(x.data(), DType::f32, {d.N, d.IC, d.in[1], d.in[2]});
      dst = TensorView::contiguous(out.data(), DType::f32, {d.N, CT, OH, OW});
    }
    const TensorView dv = ops::channel_slice(dst, offset_, d.OC);
    ops::ConvF32 conv(d, w.data(), bias_ ? b.data() : nullptr, algo_, row);
    conv.execute(src, dv, post, sums);

    double max_ref = 1, max_err = 0;
    i64 bad = -1;
    const double tol = 8 * 1.2e-7 * std::sqrt(double(d.icg() * d.kernel_volume()) + 1) * 4;
    double floor = tol;  // Winograd: relative to the output's scale (see test_blocked)
    if (std::string(conv.algorithm()) == "winograd") {
      double m = 1;
      for (const float r : ref) m = std::max(m, double(std::abs(r)));
      floor = tol * m;
    }
    for (i64 nn = 0; nn < d.N; ++nn)
      for (i64 c = 0; c < CT; ++c)
        for (i64 p = 0; p < spat; ++p) {
          const float got = out[std::size_t((nn * CT + c) * spat + p)];
          const bool inside = c >= offset_ && c < offset_ + d.OC;
          if (!inside) {
            if (std::memcmp(&got, &kSentinel, 4) != 0 && bad < 0) bad = (nn * CT + c) * spat + p;
            continue;
          }
          const double r = ref[std::size_t((nn * d.OC + c - offset_) * spat + p)];
          max_ref = std::max(max_ref, std::abs(r));
          const double e = std::abs(r - double(got));
          if (!(e <= tol * std::max(1.0, std::abs(r)) + floor) && bad < 0) bad = (nn * CT + c) * spat + p;
          if (!(e <= max_err)) max_err = std::isnan(e) ? INFINITY : e;
        }
    INFO("seed=", seed_, " ", kernels::conv::describe(d), " algo=", conv.algorithm(),
         " kernel=", conv.kernel(), " post=", kernels::post_ops_str(ref_post), " slice=", offset_,
         "+", extra_, " max_err=", max_err, " max_ref=", max_ref, " tol=", tol,
         " first_bad=", bad);
    CHECK(bad < 0);
    return conv.algorithm();
  }

 private:
  /// Planar (N, C, S) -> blocked (N, ceil(C/16), S, 16), padding lanes zero.
  static std::vector<float> to_blocked(const std::vector<float>& p, i64 N, i64 C, i64 S) {
    const i64 CB = (C + 15) / 16;
    std::vector<float> r(std::size_t(std::max<i64>(N * CB * S * 16, 1)), 0.f);
    for (i64 n = 0; n < N; ++n)
      for (i64 c = 0; c < C; ++c)
        for (i64 s = 0; s < S; ++s)
          r[std::size_t(((n * CB + c / 16) * S + s) * 16 + c % 16)] = p[std::size_t((n * C + c) * S + s)];
    return r;
  }

  static TensorView blocked_view(float* p, int spatial, i64 N, i64 CB, i64 D, i64 H, i64 W) {
    return spatial == 3 ? TensorView::contiguous(p, DType::f32, {N, CB, D, H, W, 16})
                        : TensorView::contiguous(p, DType::f32, {N, CB, H, W, 16});
  }

  std::string test_blocked(const ConvDesc& d, const kernels::conv::DirectRow* row,
                           const std::vector<float>& x, const std::vector<float>& w,
                           const std::vector<float>& b, const PostOps& post,
                           const PostOps& ref_post, const std::vector<std::vector<float>>& data,
                           const std::vector<float>& ref) {
    const i64 OD = d.out(0), OH = d.out(1), OW = d.out(2), spat = OD * OH * OW;
    const i64 S_in = d.in[0] * d.in[1] * d.in[2];
    const i64 ICB = (d.IC + 15) / 16, OCB = (d.OC + 15) / 16, CBT = OCB + extra_;
    std::vector<float> xb = to_blocked(x, d.N, d.IC, S_in);
    // Sum tensors: the residuals of ref_post (contiguous planar) reordered to blocked.
    std::vector<std::vector<float>> rb;
    std::vector<TensorView> sums;
    for (const auto& op : ref_post)
      if (op.kind == kernels::PostOpKind::sum) {
        rb.push_back(to_blocked(std::vector<float>(op.data, op.data + d.N * d.OC * spat), d.N,
                                d.OC, spat));
        sums.push_back(blocked_view(rb.back().data(), d.spatial, d.N, OCB, OD, OH, OW));
      }
    (void)data;
    std::vector<float> out(std::size_t(std::max<i64>(d.N * CBT * spat * 16, 1)), kSentinel);
    const TensorView src = blocked_view(xb.data(), d.spatial, d.N, ICB, d.in[0], d.in[1], d.in[2]);
    const TensorView dst = blocked_view(out.data(), d.spatial, d.N, CBT, OD, OH, OW);
    ops::ConvF32 conv(d, w.data(), bias_ ? b.data() : nullptr, algo_, row);
    conv.execute_blocked(src, ops::channel_slice(dst, offset_, OCB), post, sums);
    double max_err = 0;
    i64 bad = -1;
    const double tol = 8 * 1.2e-7 * std::sqrt(double(d.icg() * d.kernel_volume()) + 1) * 4;
    // Winograd's error is bounded relative to the output's scale, not per element (its
    // transforms mix 36 products of up to 8x the inputs): tol times max|ref| for every entry.
    double floor = tol;
    if (std::string(conv.algorithm()) == "winograd") {
      double max_ref = 1;
      for (const float r : ref) max_ref = std::max(max_ref, double(std::abs(r)));
      floor = tol * max_ref;
    }
    for (i64 nn = 0; nn < d.N; ++nn)
      for (i64 cb = 0; cb < CBT; ++cb)
        for (i64 p = 0; p < spat; ++p)
          for (i64 l = 0; l < 16; ++l) {
            const i64 i = ((nn * CBT + cb) * spat + p) * 16 + l;
            const float got = out[std::size_t(i)];
            const i64 c = (cb - offset_) * 16 + l;
            if (cb < offset_ || cb >= offset_ + OCB) {
              if (std::memcmp(&got, &kSentinel, 4) != 0 && bad < 0) bad = i;
              continue;
            }
            if (c >= d.OC) {  // padding lanes: exact zeros
              if (got != 0.f && bad < 0) bad = i;
              continue;
            }
            const double r = ref[std::size_t((nn * d.OC + c) * spat + p)];
            const double e = std::abs(r - double(got));
            if (!(e <= tol * std::max(1.0, std::abs(r)) + floor) && bad < 0) bad = i;
            if (!(e <= max_err)) max_err = std::isnan(e) ? INFINITY : e;
          }
    INFO("blocked seed=", seed_, " ", kernels::conv::describe(d), " algo=", conv.algorithm(),
         " kernel=", conv.kernel(), " post=", kernels::post_ops_str(ref_post), " blocks=",
         offset_, "+", extra_, " max_err=", max_err, " tol=", tol, " first_bad=", bad);
    CHECK(bad < 0);
    return conv.algorithm();
  }

  struct Spec {
    kernels::PostOpKind kind;
    Eltwise alg;
    bool per_channel;
    float alpha, beta;
  };
  ConvDesc d_;
  bool bias_ = false;
  std::vector<Spec> specs_;
  ConvAlgorithm algo_ = ConvAlgorithm::automatic;
  i64 extra_ = 0, offset_ = 0;
  bool blocked_ = false;
  std::uint32_t seed_ = 1;
};

std::vector<const kernels::conv::DirectRow*> available_rows() {
  std::vector<const kernels::conv::DirectRow*> rows;
  for (const auto& r : kernels::conv::kDirectRegistry) {
    if (cpu_info().supports(r.isa))
      rows.push_back(&r);
    else
      MESSAGE("skipping ", r.name, ": CPU lacks ", isa_name(r.isa));
  }
  return rows;
}

}  // namespace

TEST_CASE("direct rows: planar <-> blocked row transforms match their definitions") {
  std::mt19937 gen(7);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  for (const auto* row : available_rows())
    for (const int nc : {1, 5, 15, 16})
      for (const i64 W : {i64(1), i64(15), i64(16), i64(17), i64(40)})
        for (const i64 ws : {i64(4), i64(12)}) {  // unit and strided pixels
          CAPTURE(row->name); CAPTURE(nc); CAPTURE(W); CAPTURE(ws);
          const i64 cs = W * ws + 12;  // channel rows a few floats apart
          std::vector<float> planar(std::size_t(16 * cs / 4 + 16));
          for (float& v : planar) v = u(gen);
          std::vector<float> blocked(std::size_t(W * 16), 99.f);
          const char* ps = reinterpret_cast<const char*>(planar.data());
          row->to_blocked(ps, cs, ws, nc, W, blocked.data());
          for (i64 w = 0; w < W; ++w)
            for (int c = 0; c < 16; ++c) {
              const float want = c < nc ? planar[std::size_t((c * cs + w * ws) / 4)] : 0.f;
              REQUIRE(blocked[std::size_t(w * 16 + c)] == want);
            }
          std::vector<float> back(planar.size(), 7.f);
          row->from_blocked(blocked.data(), nc, W, reinterpret_cast<char*>(back.data()), cs, ws);
          for (i64 w = 0; w < W; ++w)
            for (int c = 0; c < nc; ++c) {
              const std::size_t i = std::size_t((c * cs + w * ws) / 4);
              REQUIRE(back[i] == planar[i]);
            }
        }
}

TEST_CASE("direct rows: few planar channels (kc, ldk), partial sums read apart, streaming") {
  // C[m][oc] = sum_b sum_{k<kc} A_b[m][k] B_b[k][oc] with A_b[m][k] at
  // src + a_off[b] + m*lda + k*ldk bytes: a planar source, lda 1 float, channels a plane
  // apart; two passes, the second reading the first's sums from a separate buffer.
  std::mt19937 gen(11);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  for (const auto* row : available_rows())
    for (const int nv : {1, 2, 4})
      for (const int kc : {1, 3, 16})
        for (const i64 M : {i64(1), i64(7), i64(30)}) {
          CAPTURE(row->name); CAPTURE(nv); CAPTURE(kc); CAPTURE(M);
          const i64 nb = 5, plane = 64, N = 16 * nv;
          std::vector<float> src(std::size_t(16 * plane + 64));
          for (float& v : src) v = u(gen);
          AlignedBuffer<float> wei(nb * 16 * N), part(M * N), dst(M * N);
          for (i64 i = 0; i < wei.size(); ++i) wei.data()[i] = u(gen);
          std::vector<i64> off{0, 3, 9, 1, 20};
          kernels::conv::DirectArgs a;
          a.src = src.data();
          a.a_off = off.data();
          a.wei = wei.data();
          a.lda = 1;
          a.ldk = plane * i64(sizeof(float));
          a.kc = kc;
          a.nv = nv;
          a.dst = part.data();
          a.dst_pix = 16;
          a.dst_block = M * 16;
          row->run(a, M, 0, 2, true, false);  // pass 1 into `part`
          a.acc = part.data();
          a.acc_block = M * 16;
          a.dst = dst.data();
          a.stream = true;
          row->run(a, M, 2, nb, false, true);  // pass 2: reads `part`, stores into dst
          for (i64 m = 0; m < M; ++m)
            for (i64 n = 0; n < N; ++n) {
              double want = 0;
              for (i64 b = 0; b < nb; ++b)
                for (int k = 0; k < kc; ++k)
                  want += double(src[std::size_t(off[std::size_t(b)] + m + k * plane)]) *
                          double(wei.data()[(b * 16 + k) * N + n]);
              REQUIRE(dst.data()[(n / 16) * M * 16 + m * 16 + n % 16] ==
                      doctest::Approx(want).epsilon(1e-5));
            }
        }
}

TEST_CASE("conv direct 2-D: every registry row, channel tails, strides, padding, post-ops") {
  for (const auto* row : available_rows()) {
    CAPTURE(row->name);
    std::uint32_t seed = 100;
    ConvTester().ic(16).oc(16).in(1, 7, 9).k(1, 3, 3).pad({0, 1, 1}, {0, 1, 1})
        .algorithm(ConvAlgorithm::direct).seed(seed++).test(row);
    ConvTester().ic(17).oc(33).in(1, 9, 31).k(1, 3, 3).stride(1, 2, 2).pad({0, 1, 1}, {0, 2, 0})
        .bias().eltwise(Eltwise::relu).algorithm(ConvAlgorithm::direct).seed(seed++).test(row);
    ConvTester().n(5).ic(3).oc(64).in(1, 11, 13).k(1, 5, 5).stride(1, 3, 3)
        .pad({0, 4, 4}, {0, 3, 4}).batch_norm().algorithm(ConvAlgorithm::direct).seed(seed++)
        .test(row);
    ConvTester().ic(32).oc(80).in(1, 13, 40).k(1, 3, 3).dilation(1, 2, 2).pad({0, 2, 2}, {0, 2, 2})
        .bias().eltwise(Eltwise::leaky_relu, 0.1f).algorithm(ConvAlgorithm::direct).seed(seed++)
        .test(row);
    ConvTester().ic(1).oc(1).in(1, 1, 1).k(1, 1, 1).algorithm(ConvAlgorithm::direct)
        .seed(seed++).test(row);
    ConvTester().ic(48).oc(48).in(1, 5, 200).k(1, 3, 1).pad({0, 1, 0}, {0, 1, 0})
        .eltwise(Eltwise::clip, -0.5f, 0.5f).algorithm(ConvAlgorithm::direct).seed(seed++)
        .dst_slice(20, 7).test(row);
    // groups with 16-channel groups run direct.
    ConvTester().ic(64).oc(32).groups(2).in(1, 6, 17).k(1, 3, 3).pad({0, 1, 1}, {0, 1, 1})
        .bias().algorithm(ConvAlgorithm::direct).seed(seed++).test(row);
    // 1x1 as GEMM, with and without a contiguous output plane.
    ConvTester().n(2).ic(33).oc(17).in(1, 9, 23).k(1, 1, 1).bias()
        .algorithm(ConvAlgorithm::gemm_1x1).seed(seed++).test(row);
    ConvTester().ic(64).oc(64).in(1, 15, 15).k(1, 1, 1).eltwise(Eltwise::linear, 0.5f, 0.25f)
        .algorithm(ConvAlgorithm::gemm_1x1).dst_slice(3, 1).seed(seed++).test(row);
  }
}

TEST_CASE("conv direct 3-D anisotropic, every registry row") {
  for (const auto* row : available_rows()) {
    CAPTURE(row->name);
    ConvTester().spatial(3).n(2).ic(16).oc(32).in(5, 7, 9).k(3, 3, 3)
        .pad({1, 1, 1}, {1, 1, 1}).bias().eltwise(Eltwise::relu)
        .algorithm(ConvAlgorithm::direct).seed(7).test(row);
    ConvTester().spatial(3).ic(17).oc(20).in(3, 12, 5).k(1, 3, 5).stride(1, 2, 1)
        .dilation(2, 1, 1).pad({0, 2, 2}, {1, 1, 2}).batch_norm()
        .algorithm(ConvAlgorithm::direct).seed(8).test(row);
    ConvTester().spatial(3).ic(32).oc(16).in(4, 4, 4).k(1, 1, 1)
        .algorithm(ConvAlgorithm::gemm_1x1).seed(9).test(row);
  }
}

TEST_CASE("conv im2col_gemm: groups, depthwise, dilation, 2-D and 3-D") {
  std::uint32_t seed = 300;
  ConvTester().ic(6).oc(9).groups(3).in(1, 10, 12).k(1, 3, 3).pad({0, 1, 1}, {0, 1, 1}).bias()
      .algorithm(ConvAlgorithm::im2col_gemm).seed(seed++).test();
  ConvTester().n(5).ic(17).oc(17).groups(17).in(1, 9, 14).k(1, 3, 3).stride(1, 2, 2)
      .pad({0, 1, 1}, {0, 1, 1}).eltwise(Eltwise::relu).seed(seed++).test();
  ConvTester().ic(3).oc(33).in(1, 40, 37).k(1, 7, 7).stride(1, 2, 2).pad({0, 3, 3}, {0, 3, 3})
      .batch_norm().eltwise(Eltwise::relu).seed(seed++).test();
  ConvTester().ic(33).oc(1).in(1, 8, 8).k(1, 3, 3).dilation(1, 2, 2).pad({0, 5, 5}, {0, 5, 5})
      .bias().algorithm(ConvAlgorithm::im2col_gemm).dst_slice(2, 2).seed(seed++).test();
  ConvTester().spatial(3).ic(4).oc(6).groups(2).in(3, 5, 6).k(2, 3, 3).stride(2, 1, 2)
      .pad({1, 1, 1}, {0, 1, 1}).algorithm(ConvAlgorithm::im2col_gemm).seed(seed++).test();
  ConvTester().ic(8).oc(5).in(1, 6, 7).k(1, 1, 1).bias()
      .algorithm(ConvAlgorithm::im2col_gemm).seed(seed++).test();  // skips im2col
}

TEST_CASE("conv randomized shapes through dispatch and forced direct rows") {
  std::mt19937 rng(2024);
  auto pick = [&](std::initializer_list<i64> v) {
    return *(v.begin() + std::uniform_int_distribution<std::size_t>(0, v.size() - 1)(rng));
  };
  const auto rows = available_rows();
  for (int it = 0; it < 60; ++it) {
    const bool three = it % 5 == 4;
    ConvTester t;
    const i64 g = pick({1, 1, 1, 2, 3});
    const i64 icg = pick({1, 3, 16, 17, 33}), ocg = pick({1, 3, 16, 17, 33});
    const i64 kh = pick({1, 2, 3, 5}), kw = pick({1, 3, 4}), kd = three ? pick({1, 2, 3}) : 1;
    const i64 sh = pick({1, 2, 3}), sw = pick({1, 2, 3}), dh = pick({1, 2}), dw = pick({1, 2});
    const i64 H = std::uniform_int_distribution<i64>(1, three ? 9 : 40)(rng);
    const i64 W = std::uniform_int_distribution<i64>(1, three ? 9 : 40)(rng);
    const i64 D = three ? std::uniform_int_distribution<i64>(1, 6)(rng) : 1;
    const i64 ph0 = pick({0, 1, 3}), ph1 = pick({0, 2}), pw0 = pick({0, 1, 4}), pw1 = pick({0, 1});
    const i64 pd0 = three ? pick({0, 1}) : 0, pd1 = three ? pick({0, 2}) : 0;
    t.spatial(three ? 3 : 2).n(pick({1, 1, 5})).ic(icg * g).oc(ocg * g).groups(g)
        .in(D, H, W).k(kd, kh, kw).stride(three ? pick({1, 2}) : 1, sh, sw)
        .dilation(three ? pick({1, 2}) : 1, dh, dw).pad({pd0, ph0, pw0}, {pd1, ph1, pw1})
        .seed(std::uint32_t(it));
    const auto& d = t.desc();
    bool fits = true;
    for (int i = 0; i < 3; ++i) fits = fits && d.padded(i) >= d.extent(i);
    if (!fits) continue;
    if (it % 3 == 0) t.bias();
    if (it % 4 == 1) t.batch_norm();
    if (it % 2 == 0) t.eltwise(it % 4 == 0 ? Eltwise::relu : Eltwise::leaky_relu, 0.2f);
    t.test();
    if (g == 1 || (icg % 16 == 0 && ocg % 16 == 0))
      for (const auto* row : rows) t.algorithm(ConvAlgorithm::direct).test(row);
  }
}

TEST_CASE("conv post-op chains: every eltwise, prelu, residual sum, per-channel binary") {
  const Eltwise algs[] = {Eltwise::relu,     Eltwise::leaky_relu, Eltwise::clip,
                          Eltwise::linear,   Eltwise::elu,        Eltwise::sigmoid,
                          Eltwise::tanh,     Eltwise::gelu_erf,   Eltwise::gelu_tanh,
                          Eltwise::hardswish};
  const auto rows = available_rows();
  std::uint32_t seed = 500;
  for (ConvAlgorithm algo :
       {ConvAlgorithm::direct, ConvAlgorithm::gemm_1x1, ConvAlgorithm::im2col_gemm}) {
    const std::string aname = ops::conv_algorithm_name(algo);
    CAPTURE(aname);
    const bool k1 = algo == ConvAlgorithm::gemm_1x1;
    auto base = [&] {
      ConvTester t;
      t.n(2).ic(17).oc(20).in(1, 5, 19).k(1, k1 ? 1 : 3, k1 ? 1 : 3).algorithm(algo).seed(seed++);
      if (!k1) t.pad({0, 1, 1}, {0, 1, 1});
      return t;
    };
    for (Eltwise a : algs) {
      const std::string ename = kernels::eltwise_name(a);
      CAPTURE(ename);
      base().bias().eltwise(a, 0.7f, 1.5f).test();
      base().batch_norm().sum(0.5f).eltwise(a, 0.3f, 2.f).test();
    }
    base().bias().prelu(true).test();
    base().prelu(false, 0.1f).sum().test();
    base().bias().sum(-1.5f).binary(true).binary(false).eltwise(Eltwise::relu).test();
    base().binary(false).sum().prelu(true).sum(2.f).eltwise(Eltwise::tanh).dst_slice(5, 3).test();
    for (const auto* row : rows)
      if (algo != ConvAlgorithm::im2col_gemm)
        base().bias().eltwise(Eltwise::gelu_erf).sum().eltwise(Eltwise::elu, 0.5f).test(row);
  }
  ConvTester().spatial(3).n(2).ic(16).oc(16).in(3, 4, 6).k(3, 3, 3).pad({1, 1, 1}, {1, 1, 1})
      .bias().sum().eltwise(Eltwise::relu).algorithm(ConvAlgorithm::direct).seed(seed++).test();
  ConvTester().spatial(3).ic(3).oc(5).in(3, 4, 6).k(1, 3, 3).pad({0, 1, 1}, {0, 1, 1})
      .batch_norm().sum(0.25f).eltwise(Eltwise::sigmoid).seed(seed++).test();
  // A residual that is a channel slice too, rows longer than one segment.
  ConvTester().ic(16).oc(32).in(1, 2, 300).k(1, 1, 3).pad({0, 0, 1}, {0, 0, 1}).sum()
      .eltwise(Eltwise::hardswish).dst_slice(16, 16).seed(seed++).test();
}

TEST_CASE("conv sum post-op: bad residuals are refused") {
  std::vector<float> w(4 * 4 * 9, 0.f), x(4 * 25), y(4 * 25), r(4 * 25);
  ConvDesc d;
  d.IC = 4;
  d.OC = 4;
  d.kernel = {1, 3, 3};
  d.pad_before = d.pad_after = {0, 1, 1};
  const auto src = TensorView::contiguous(x.data(), DType::f32, {1, 4, 5, 5});
  const auto dst = TensorView::contiguous(y.data(), DType::f32, {1, 4, 5, 5});
  const auto res = TensorView::contiguous(r.data(), DType::f32, {1, 4, 5, 5});
  ops::ConvF32 conv(d, w.data());
  PostOps s1;
  s1.sum();
  CHECK_THROWS_WITH_AS(conv.execute(src, dst, s1), doctest::Contains("need as many residual"),
                       ShapeError);
  const TensorView wrong = TensorView::contiguous(r.data(), DType::f32, {1, 4, 5, 4});
  CHECK_THROWS_WITH_AS(conv.execute(src, dst, s1, {&wrong, 1}),
                       doctest::Contains("output's shape"), ShapeError);
  CHECK_THROWS_WITH_AS(conv.execute(src, dst, s1, {&dst, 1}), doctest::Contains("overlap"),
                       ShapeError);
  conv.execute(src, dst, s1, {&res, 1});
  PostOps g;
  g.sum();
  std::vector<float> a(16), bb(16), c(16);
  ops::PackedB<float> pb(bb.data(), 4, 4, 4);
  CHECK_THROWS_AS(ops::gemm(4, a.data(), 4, pb, c.data(), 4, g), UnsupportedError);
}

TEST_CASE("conv depthwise: channel tails, strides, dilation, padding, post-ops, 3-D") {
  std::uint32_t seed = 700;
  for (i64 c : {3, 16, 17, 33}) {
    CAPTURE(c);
    CHECK(ConvTester().n(2).ic(c).oc(c).groups(c).in(1, 9, 14).k(1, 3, 3)
              .pad({0, 1, 1}, {0, 1, 1}).bias().eltwise(Eltwise::clip, 0.f, 6.f)
              .seed(seed++).test() == "depthwise");
    ConvTester().ic(c).oc(c).groups(c).in(1, 13, 11).k(1, 5, 3).stride(1, 2, 3)
        .dilation(1, 2, 1).pad({0, 5, 1}, {0, 4, 2}).batch_norm().sum(0.5f)
        .eltwise(Eltwise::hardswish).seed(seed++).test();
    ConvTester().ic(c).oc(c).groups(c).in(1, 1, 200).k(1, 1, 7).pad({0, 0, 3}, {0, 0, 3})
        .prelu(true).dst_slice(4, 2).seed(seed++).test();
  }
  ConvTester().spatial(3).n(2).ic(20).oc(20).groups(20).in(4, 5, 6).k(3, 3, 3)
      .pad({1, 1, 1}, {1, 1, 1}).bias().sum().eltwise(Eltwise::gelu_erf).seed(seed++).test();
  ConvTester().spatial(3).ic(5).oc(5).groups(5).in(3, 7, 4).k(1, 3, 3).stride(2, 2, 1)
      .pad({0, 1, 0}, {0, 2, 1}).algorithm(ConvAlgorithm::depthwise).seed(seed++).test();
  // The same problems through im2col agree.
  ConvTester().ic(17).oc(17).groups(17).in(1, 8, 9).k(1, 3, 3).pad({0, 1, 1}, {0, 1, 1})
      .algorithm(ConvAlgorithm::im2col_gemm).seed(seed++).test();
}

TEST_CASE("conv heuristic picks the documented algorithm") {
  ConvDesc d;
  d.IC = 64;
  d.OC = 64;
  d.kernel = {1, 3, 3};
  std::vector<float> w(64 * 64 * 9, 0.f);
  // Under an avx2 cap the direct kernel would be the scalar one: im2col + AVX2 BRGEMM instead.
  const bool avx2 = active_isa() == Isa::avx2;
  // 3x3 stride 1 on AVX-512: Winograd.
  const bool avx512 = active_isa() >= Isa::avx512;
  CHECK(std::string(ops::ConvF32(d, w.data()).algorithm()) ==
        (avx2 ? "im2col_gemm" : avx512 ? "winograd" : "direct"));
  d.stride = {1, 2, 2};
  CHECK(std::string(ops::ConvF32(d, w.data()).algorithm()) == (avx2 ? "im2col_gemm" : "direct"));
  d.stride = {1, 1, 1};
  d.OC = 12;  // padded output lanes: Winograd still beats im2col (a DenseNet growth rate)
  CHECK(std::string(ops::ConvF32(d, w.data()).algorithm()) ==
        (avx512 ? "winograd" : "im2col_gemm"));
  d.OC = 64;
  d.IC = 17;  // padded input lanes: the waste rule
  CHECK(std::string(ops::ConvF32(d, w.data()).algorithm()) == "im2col_gemm");
  d.IC = 64;
  d.kernel = {1, 1, 1};
  CHECK(std::string(ops::ConvF32(d, w.data()).algorithm()) == (avx2 ? "im2col_gemm" : "gemm_1x1"));
  d.IC = 3;
  d.kernel = {1, 3, 3};
  // Few input channels: the planar direct kernel on AVX-512, im2col + BRGEMM otherwise.
  const bool planar = active_isa() >= Isa::avx512;
  const ops::ConvF32 first(d, w.data());
  CHECK(std::string(first.algorithm()) == (planar ? "direct" : "im2col_gemm"));
  if (planar) CHECK(std::string(first.kernel()) == kernels::conv::kPlanarAvx512Name);
  d.OC = 2;  // a 2-channel head on 3 inputs: the padding waste rule
  CHECK(std::string(ops::ConvF32(d, w.data()).algorithm()) == "im2col_gemm");
  d.OC = 64;
  d.IC = 64;
  d.groups = 64;
  CHECK(std::string(ops::ConvF32(d, w.data()).algorithm()) == "depthwise");
  d.OC = 128;  // channel multiplier 2: not the depthwise kernel
  CHECK(std::string(ops::ConvF32(d, w.data()).algorithm()) == "im2col_gemm");
}

TEST_CASE("conv planar kernel (few input channels) through dispatch: 2-D and 3-D") {
  // ICg <= 8 with OCg >= 8 takes the planar kernel under AVX-512 (im2col otherwise; both are
  // checked against the reference). Output-channel tails of the 12-channel tiles, row tails
  // of the 32-pixel tiles, W padding (copied rows) and none (rows read in place).
  ConvTester().ic(1).oc(32).in(1, 9, 37).k(1, 3, 3).pad({0, 1, 1}, {0, 1, 1}).bias()
      .eltwise(Eltwise::relu).test();
  ConvTester().ic(3).oc(13).in(1, 6, 16).k(1, 3, 3).test();
  ConvTester().n(2).ic(3).oc(25).in(1, 11, 50).k(1, 7, 5).stride(1, 2, 1)
      .pad({0, 3, 2}, {0, 1, 0}).batch_norm().eltwise(Eltwise::leaky_relu, 0.1f)
      .dst_slice(5, 2).test();
  ConvTester().ic(2).oc(8).in(1, 7, 33).k(1, 3, 3).dilation(1, 2, 2).pad({0, 2, 2}, {0, 2, 2})
      .test();
  ConvTester().spatial(3).ic(1).oc(16).in(5, 6, 19).k(3, 3, 3).pad({1, 1, 1}, {1, 1, 1})
      .bias().test();
  ConvTester().spatial(3).ic(4).oc(12).in(4, 5, 9).k(2, 3, 5).stride(2, 1, 1)
      .pad({0, 2, 1}, {1, 0, 3}).eltwise(Eltwise::clip, -0.5f, 0.75f).test();
  // Strided views (non-unit W strides): copied rows in, a per-task row buffer out.
  ConvDesc d;
  d.IC = 2;
  d.OC = 9;
  d.kernel = {1, 3, 3};
  d.pad_before = d.pad_after = {0, 1, 1};
  std::vector<float> x(2 * 5 * 14, 0.f), w(9 * 2 * 9), y(9 * 5 * 7 * 2, kSentinel);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1, 1);
  for (auto& v : x) v = u(rng);
  for (auto& v : w) v = u(rng);
  TensorView src = TensorView::contiguous(x.data(), DType::f32, {1, 2, 5, 7});
  src.strides[3] = 8;  // every other float of rows 14 floats long
  src.strides[2] = 14 * 4;
  src.strides[1] = 5 * 14 * 4;
  src.strides[0] = 2 * 5 * 14 * 4;
  TensorView dst = TensorView::contiguous(y.data(), DType::f32, {1, 9, 5, 7});
  dst.strides[3] = 8;
  dst.strides[2] = 14 * 4;
  dst.strides[1] = 5 * 14 * 4;
  dst.strides[0] = 9 * 5 * 14 * 4;
  ops::ConvF32(d, w.data()).execute(src, dst);
  std::vector<float> xc(2 * 5 * 7), ref(9 * 5 * 7);
  for (std::size_t i = 0; i < xc.size(); ++i) xc[i] = x[2 * i];
  ConvDesc full = d;
  full.in = {1, 5, 7};
  kernels::conv::conv_fwd_ref(full, xc.data(), w.data(), ref.data());
  for (std::size_t i = 0; i < ref.size(); ++i) {
    CHECK(y[2 * i] == doctest::Approx(ref[i]).epsilon(1e-5));
    CHECK(y[2 * i + 1] == kSentinel);
  }
}

TEST_CASE("conv planar kernel streams outputs larger than ops::stream_bytes()") {
  ops::set_stream_bytes(std::int64_t(8) << 20);  // automatic: a quarter of the L3
  ConvDesc d;
  d.IC = 1;
  d.OC = 16;
  d.kernel = {1, 3, 3};
  d.pad_before = d.pad_after = {0, 1, 1};
  d.in = {1, 360, 368};  // 16 x 360 x 368 floats: above the threshold, rows 64-byte aligned
  const i64 out_n = 16 * 360 * 368;
  REQUIRE(out_n * 4 > ops::stream_bytes());
  AlignedBuffer<float> x(360 * 368), y(out_n);
  std::vector<float> w(16 * 9), b(16), ref(static_cast<std::size_t>(out_n));
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> u(-1, 1);
  for (i64 i = 0; i < x.size(); ++i) x[i] = u(rng);
  for (auto& v : w) v = u(rng);
  for (auto& v : b) v = u(rng);
  ops::ConvF32 conv(d, w.data(), b.data());
  conv.execute(TensorView::contiguous(x.data(), DType::f32, {1, 1, 360, 368}),
               TensorView::contiguous(y.data(), DType::f32, {1, 16, 360, 368}),
               PostOps().eltwise(Eltwise::relu));
  PostOps full;
  full.bias(b.data()).eltwise(Eltwise::relu);
  kernels::conv::conv_fwd_ref(d, x.data(), w.data(), ref.data(), full);
  i64 bad = -1;
  for (i64 i = 0; i < out_n && bad < 0; ++i)
    if (!(std::abs(y[i] - ref[std::size_t(i)]) <= 1e-5f * (1.f + std::abs(ref[std::size_t(i)]))))
      bad = i;
  ops::set_stream_bytes(0);
  INFO("kernel=", conv.kernel(), " first_bad=", bad);
  CHECK(bad < 0);
}

TEST_CASE("conv results do not depend on the thread count") {
  ConvTester t;
  t.n(2).ic(32).oc(48).in(1, 20, 30).k(1, 3, 3).pad({0, 1, 1}, {0, 1, 1});
  const ConvDesc& d0 = t.desc();
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> x(std::size_t(2 * 32 * 20 * 30)), w(std::size_t(48 * 32 * 9));
  for (auto& v : x) v = u(rng);
  for (auto& v : w) v = u(rng);
  ConvDesc d = d0;
  std::vector<float> y1(std::size_t(2 * 48 * 20 * 30)), y2(y1.size());
  const auto src = TensorView::contiguous(x.data(), DType::f32, {2, 32, 20, 30});
  const int saved = num_threads();
  for (auto algo : {ConvAlgorithm::automatic, ConvAlgorithm::im2col_gemm}) {
    ops::ConvF32 conv(d, w.data(), nullptr, algo);
    set_num_threads(1);
    conv.execute(src, TensorView::contiguous(y1.data(), DType::f32, {2, 48, 20, 30}));
    set_num_threads(3);
    conv.execute(src, TensorView::contiguous(y2.data(), DType::f32, {2, 48, 20, 30}));
    CHECK(std::memcmp(y1.data(), y2.data(), y1.size() * 4) == 0);
  }
  set_num_threads(saved);
}

TEST_CASE("im2col / col2im match their definitions and are adjoint") {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> u(-1, 1);
  for (int three = 0; three < 2; ++three) {
    ConvDesc g;
    g.spatial = three ? 3 : 2;
    g.kernel = {three ? 2 : 1, 3, 2};
    g.stride = {three ? 2 : 1, 2, 1};
    g.pad_before = {three ? 1 : 0, 1, 2};
    g.pad_after = {0, 2, 1};
    g.dilation = {1, 2, 1};
    const i64 N = 2, C = 3, D = three ? 4 : 1, H = 7, W = 6;
    std::vector<float> x(std::size_t(N * C * D * H * W));
    for (auto& v : x) v = u(rng);
    const TensorView src = three ? TensorView::contiguous(x.data(), DType::f32, {N, C, D, H, W})
                                 : TensorView::contiguous(x.data(), DType::f32, {N, C, H, W});
    const auto shape = ops::im2col_shape(src, g);
    std::vector<float> col(std::size_t(shape[0] * shape[1] * shape[2]));
    const auto cv = TensorView::contiguous(col.data(), DType::f32, {shape[0], shape[1], shape[2]});
    ops::im2col(src, g, cv);
    ConvDesc f = g;
    f.N = N;
    f.IC = C;
    f.in = {D, H, W};
    const i64 OD = f.out(0), OH = f.out(1), OW = f.out(2), L = shape[2];
    CHECK(L == OD * OH * OW);
    bool ok = true;
    for (i64 n = 0; n < N; ++n)
      for (i64 c = 0; c < C; ++c)
        for (i64 kd = 0; kd < f.kernel[0]; ++kd)
          for (i64 kh = 0; kh < 3; ++kh)
            for (i64 kw = 0; kw < 2; ++kw)
              for (i64 q = 0; q < L; ++q) {
                const i64 od = q / (OH * OW), oh = (q / OW) % OH, ow = q % OW;
                const i64 id = od * f.stride[0] - f.pad_before[0] + kd * f.dilation[0];
                const i64 ih = oh * f.stride[1] - f.pad_before[1] + kh * f.dilation[1];
                const i64 iw = ow * f.stride[2] - f.pad_before[2] + kw * f.dilation[2];
                const bool in = id >= 0 && id < D && ih >= 0 && ih < H && iw >= 0 && iw < W;
                const float want = in ? x[std::size_t((((n * C + c) * D + id) * H + ih) * W + iw)] : 0.f;
                const i64 r = ((c * f.kernel[0] + kd) * 3 + kh) * 2 + kw;
                ok = ok && col[std::size_t((n * shape[1] + r) * L + q)] == want;
              }
    CHECK(ok);
    // Adjoint: <im2col(x), y> == <x, col2im(y)>.
    std::vector<float> y(col.size()), back(x.size(), 99.f);
    for (auto& v : y) v = u(rng);
    const TensorView bv = three ? TensorView::contiguous(back.data(), DType::f32, {N, C, D, H, W})
                                : TensorView::contiguous(back.data(), DType::f32, {N, C, H, W});
    ops::col2im(TensorView::contiguous(y.data(), DType::f32, {shape[0], shape[1], shape[2]}), g, bv);
    double lhs = 0, rhs = 0;
    for (std::size_t i = 0; i < col.size(); ++i) lhs += double(col[i]) * y[i];
    for (std::size_t i = 0; i < x.size(); ++i) rhs += double(x[i]) * back[i];
    CHECK(std::abs(lhs - rhs) < 1e-4 * (1 + std::abs(lhs)));
  }
}

TEST_CASE("conv bad input: clear errors naming op, value and rule") {
  // Weights sized for the largest variant below (the primitive reads OC x IC/groups x taps).
  std::vector<float> w(4 * 4 * 27, 0.f), x(1 * 4 * 5 * 5), y(1 * 4 * 5 * 5);
  ConvDesc d;
  d.IC = 4;
  d.OC = 4;
  d.kernel = {1, 3, 3};
  d.pad_before = d.pad_after = {0, 1, 1};
  const auto src = TensorView::contiguous(x.data(), DType::f32, {1, 4, 5, 5});
  const auto dst = TensorView::contiguous(y.data(), DType::f32, {1, 4, 5, 5});
  auto bad = [&](ConvDesc dd, const char* needle) {
    bool thrown = false;
    try {
      ops::ConvF32(dd, w.data()).execute(src, dst);
    } catch (const ShapeError& e) {
      thrown = true;
      INFO(e.what());
      CHECK(std::string(e.what()).find(needle) != std::string::npos);
      CHECK(std::string(e.what()).rfind("conv2d:", 0) == 0);
    }
    CHECK(thrown);
  };
  { auto dd = d; dd.kernel = {1, 0, 3}; bad(dd, "kernel 0x3 must be positive"); }
  { auto dd = d; dd.stride = {1, 0, 1}; bad(dd, "stride 0x1 must be positive"); }
  { auto dd = d; dd.dilation = {1, 1, -1}; bad(dd, "dilation 1x-1 must be positive"); }
  { auto dd = d; dd.pad_before = {0, -1, 0}; bad(dd, "must be non-negative"); }
  { auto dd = d; dd.groups = 3; bad(dd, "divisible by groups 3"); }
  { auto dd = d; dd.IC = 8; dd.groups = 2; dd.OC = 4; bad(dd, "input channels 4 must equal"); }
  { auto dd = d; dd.kernel = {1, 9, 3}; bad(dd, "larger than the padded input"); }
  {
    auto dd = d;
    dd.src_type = DType::u8;
    CHECK_THROWS_AS(ops::ConvF32(dd, w.data()), UnsupportedError);
  }
  ops::ConvF32 conv(d, w.data());
  CHECK_THROWS_WITH_AS(conv.execute(TensorView::contiguous(x.data(), DType::f32, {4, 5, 5}), dst),
                       doctest::Contains("must be 4-D"), ShapeError);
  CHECK_THROWS_WITH_AS(
      conv.execute(src, TensorView::contiguous(y.data(), DType::f32, {1, 4, 5, 4})),
      doctest::Contains("output must be f32 1x4x5x5"), ShapeError);
  PostOps many;
  for (int i = 0; i < PostOps::kMax; ++i) many.eltwise(Eltwise::relu);
  std::vector<float> b(4, 0.f);
  CHECK_THROWS_WITH_AS(ops::ConvF32(d, w.data(), b.data()).execute(src, dst, many),
                       doctest::Contains("exceed"), ShapeError);
  // Forced algorithms that cannot serve the problem.
  auto g = d;
  g.groups = 2;
  CHECK_THROWS_AS(ops::ConvF32(g, w.data(), nullptr, ConvAlgorithm::direct), UnsupportedError);
  CHECK_THROWS_AS(ops::ConvF32(d, w.data(), nullptr, ConvAlgorithm::gemm_1x1), UnsupportedError);
  CHECK_THROWS_WITH_AS(ops::ConvF32(d, w.data(), nullptr, ConvAlgorithm::depthwise),
                       doctest::Contains("depthwise needs groups == in_channels"), UnsupportedError);
  // Zero batch is a no-op.
  conv.execute(TensorView::contiguous(x.data(), DType::f32, {0, 4, 5, 5}),
               TensorView::contiguous(y.data(), DType::f32, {0, 4, 5, 5}));
}

TEST_CASE("conv execute_blocked: every algorithm and direct row against the reference") {
  const auto rows = available_rows();
  std::uint32_t seed = 900;
  for (const auto* row : rows) {
    CAPTURE(row->name);
    const auto direct = ConvAlgorithm::direct;
    // 3x3 padded: borders from halos, interior in place, D/H padding from the zero row.
    ConvTester().ic(16).oc(16).in(1, 7, 9).k(1, 3, 3).pad({0, 1, 1}, {0, 1, 1})
        .algorithm(direct).blocked().seed(seed++).test(row);
    ConvTester().n(2).ic(32).oc(48).in(1, 9, 40).k(1, 3, 3).pad({0, 1, 1}, {0, 1, 1}).bias()
        .eltwise(Eltwise::relu).algorithm(direct).blocked(3, 2).seed(seed++).test(row);
    ConvTester().ic(17).oc(33).in(1, 9, 31).k(1, 3, 3).stride(1, 2, 2).pad({0, 1, 1}, {0, 2, 0})
        .bias().eltwise(Eltwise::sigmoid).algorithm(direct).blocked(1, 1).seed(seed++).test(row);
    ConvTester().ic(32).oc(80).in(1, 13, 200).k(1, 3, 3).dilation(1, 2, 2)
        .pad({0, 2, 2}, {0, 2, 2}).batch_norm().eltwise(Eltwise::leaky_relu, 0.1f)
        .algorithm(direct).blocked().seed(seed++).test(row);
    ConvTester().ic(16).oc(16).in(1, 3, 2).k(1, 5, 5).pad({0, 4, 4}, {0, 3, 4})
        .algorithm(direct).blocked().seed(seed++).test(row);  // no interior at all
    ConvTester().ic(64).oc(32).groups(2).in(1, 6, 17).k(1, 3, 3).pad({0, 1, 1}, {0, 1, 1})
        .bias().algorithm(direct).blocked().seed(seed++).test(row);
    // residual sums (head fused in the kernel, tail on the stored blocked rows)
    ConvTester().n(2).ic(20).oc(20).in(1, 5, 19).k(1, 3, 3).pad({0, 1, 1}, {0, 1, 1})
        .batch_norm().sum(0.5f).eltwise(Eltwise::linear, 0.3f, 2.f).binary(false)
        .algorithm(direct).blocked(1, 0).seed(seed++).test(row);
    // 3-D with D padding, 5x5x5
    ConvTester().spatial(3).n(2).ic(16).oc(32).in(5, 7, 9).k(3, 3, 3).pad({1, 1, 1}, {1, 1, 1})
        .bias().sum().eltwise(Eltwise::relu).algorithm(direct).blocked().seed(seed++).test(row);
    ConvTester().spatial(3).ic(17).oc(20).in(6, 12, 21).k(5, 5, 5).stride(2, 2, 1)
        .pad({2, 2, 2}, {2, 2, 2}).prelu(true).algorithm(direct).blocked().seed(seed++).test(row);
    // 1x1: flat GEMM and strided
    ConvTester().n(2).ic(33).oc(17).in(1, 9, 23).k(1, 1, 1).bias().sum(2.f)
        .algorithm(ConvAlgorithm::gemm_1x1).blocked(2, 1).seed(seed++).test(row);
    ConvTester().spatial(3).ic(32).oc(64).in(3, 5, 9).k(1, 1, 1).stride(2, 2, 2)
        .eltwise(Eltwise::relu).algorithm(direct).blocked().seed(seed++).test(row);
  }
  // Algorithms without a blocked path go through planar temporaries.
  ConvTester().n(2).ic(17).oc(17).groups(17).in(1, 9, 14).k(1, 3, 3).stride(1, 2, 2)
      .pad({0, 1, 1}, {0, 1, 1}).sum().eltwise(Eltwise::relu).blocked(1, 1).seed(seed++).test();
  ConvTester().ic(3).oc(33).in(1, 40, 37).k(1, 7, 7).stride(1, 2, 2).pad({0, 3, 3}, {0, 3, 3})
      .batch_norm().eltwise(Eltwise::relu).blocked().seed(seed++).test();
  ConvTester().ic(1).oc(32).in(1, 20, 37).k(1, 3, 3).pad({0, 1, 1}, {0, 1, 1}).bias()
      .blocked().seed(seed++).test();
  ConvTester().ic(6).oc(9).groups(3).in(1, 10, 12).k(1, 3, 3).pad({0, 1, 1}, {0, 1, 1}).bias()
      .algorithm(ConvAlgorithm::im2col_gemm).blocked().seed(seed++).test();
}

TEST_CASE("conv execute_blocked randomized against the reference") {
  std::mt19937 rng(77);
  auto pick = [&](std::initializer_list<i64> v) {
    return *(v.begin() + std::uniform_int_distribution<std::size_t>(0, v.size() - 1)(rng));
  };
  const auto rows = available_rows();
  for (int it = 0; it < 40; ++it) {
    const bool three = it % 4 == 3;
    ConvTester t;
    const i64 ic = pick({3, 16, 17, 32, 48}), oc = pick({16, 17, 32, 64});
    const i64 kh = pick({1, 3, 5}), kw = pick({1, 3, 5}), kd = three ? pick({1, 3}) : 1;
    const i64 H = std::uniform_int_distribution<i64>(1, three ? 9 : 40)(rng);
    const i64 W = std::uniform_int_distribution<i64>(1, three ? 20 : 60)(rng);
    const i64 D = three ? std::uniform_int_distribution<i64>(1, 6)(rng) : 1;
    t.spatial(three ? 3 : 2).n(pick({1, 2})).ic(ic).oc(oc).in(D, H, W).k(kd, kh, kw)
        .stride(1, pick({1, 2}), pick({1, 2, 3})).dilation(1, pick({1, 2}), pick({1, 2}))
        .pad({kd / 2, pick({0, kh / 2, kh}), pick({0, kw / 2, kw})},
             {kd / 2, pick({0, kh / 2}), pick({0, kw / 2, kw})})
        .seed(std::uint32_t(1000 + it));
    const auto& d = t.desc();
    bool fits = true;
    for (int i = 0; i < 3; ++i) fits = fits && d.padded(i) >= d.extent(i);
    if (!fits) continue;
    if (it % 3 == 0) t.bias();
    if (it % 4 == 1) t.sum(0.5f);
    if (it % 2 == 0) t.eltwise(Eltwise::relu);
    t.blocked(it % 3, it % 3 == 2 ? 1 : 0);
    t.test();
    for (const auto* row : rows) t.algorithm(ConvAlgorithm::direct).test(row);
  }
}

TEST_CASE("conv execute_blocked bad input") {
  ConvDesc d;
  d.IC = 17;
  d.OC = 20;
  d.kernel = {1, 3, 3};
  std::vector<float> w(std::size_t(20 * 17 * 9), 0.5f), x(std::size_t(2 * 5 * 6 * 16), 1.f),
      y(std::size_t(2 * 3 * 4 * 16), 0.f);
  ops::ConvF32 conv(d, w.data());
  const TensorView src = TensorView::contiguous(x.data(), DType::f32, {1, 2, 5, 6, 16});
  const TensorView dst = TensorView::contiguous(y.data(), DType::f32, {1, 2, 3, 4, 16});
  CHECK_NOTHROW(conv.execute_blocked(src, dst));
  // wrong block count of the input (17 channels need 2 blocks)
  CHECK_THROWS_AS(conv.execute_blocked(
                      TensorView::contiguous(x.data(), DType::f32, {1, 1, 5, 12, 16}), dst),
                  ShapeError);
  // lane dimension not 16
  CHECK_THROWS_AS(conv.execute_blocked(
                      TensorView::contiguous(x.data(), DType::f32, {1, 2, 5, 16, 6}), dst),
                  ShapeError);
  // output of the wrong spatial size
  CHECK_THROWS_AS(conv.execute_blocked(
                      src, TensorView::contiguous(y.data(), DType::f32, {1, 2, 4, 3, 16})),
                  ShapeError);
  // non-contiguous spatial dimensions
  TensorView s2 = src;
  s2.strides[3] *= 2;
  s2.shape[3] = 3;
  CHECK_THROWS_AS(conv.execute_blocked(s2, dst), ShapeError);
  // a sum post-op without its tensor
  CHECK_THROWS_AS(conv.execute_blocked(src, dst, PostOps().sum()), ShapeError);
  // output overlapping the input
  CHECK_THROWS_AS(conv.execute_blocked(
                      src, TensorView::contiguous(x.data(), DType::f32, {1, 2, 3, 4, 16})),
                  ShapeError);
}

TEST_CASE("conv execute_blocked streams a first layer's output past ops::stream_bytes()") {
  // The blocked direct path's non-temporal stores (a first layer on its planar input) with
  // the threshold lowered, so a small output takes them; equal to execute either way.
  ConvDesc d;
  d.N = 2;
  d.IC = 1;
  d.OC = 32;
  d.kernel = {1, 3, 3};
  d.pad_before = d.pad_after = {0, 1, 1};
  d.in = {1, 64, 80};
  std::mt19937 rng(17);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> w(32 * 9), b(32);
  for (auto& v : w) v = u(rng);
  for (auto& v : b) v = u(rng);
  ops::ConvF32 conv(d, w.data(), b.data());
  if (!conv.planar_blocked()) return;  // an ISA cap without the direct kernel
  AlignedBuffer<float> x(2 * 64 * 80), want(2 * 32 * 64 * 80), got(2 * 2 * 64 * 80 * 16);
  for (i64 i = 0; i < x.size(); ++i) x[i] = u(rng);
  const TensorView src = TensorView::contiguous(x.data(), DType::f32, {2, 1, 64, 80});
  conv.execute(src, TensorView::contiguous(want.data(), DType::f32, {2, 32, 64, 80}),
               PostOps().eltwise(Eltwise::relu));
  for (std::int64_t limit : {std::int64_t(64) << 10, std::int64_t(0)}) {
    CAPTURE(limit);
    ops::set_stream_bytes(limit);  // 0: the automatic threshold (no streaming this small)
    std::fill_n(got.data(), got.size(), -1.f);
    conv.execute_blocked(src, TensorView::contiguous(got.data(), DType::f32, {2, 2, 64, 80, 16}),
                         PostOps().eltwise(Eltwise::relu));
    float worst = 0.f;
    for (i64 n = 0; n < 2; ++n)
      for (i64 c = 0; c < 32; ++c)
        for (i64 p = 0; p < 64 * 80; ++p)
          worst = std::max(worst, std::abs(got[((n * 2 + c / 16) * 64 * 80 + p) * 16 + c % 16] -
                                           want[(n * 32 + c) * 64 * 80 + p]));
    CHECK(worst <= 1e-5f);
  }
  CHECK_THROWS_AS(ops::set_stream_bytes(-1), ShapeError);
}

TEST_CASE("dot rows (few-output 1x1, blocked in, planar out) equal the ref row") {
  using namespace kernels::conv::dot;
  std::mt19937 rng(21);
  std::uniform_real_distribution<float> u(-1, 1);
  for (const DotRow& row : kDotRegistry) {
    if (!cpu_info().supports(row.isa)) continue;
    for (int nb : {1, 2, 5})
      for (int noc = 1; noc <= kMaxDotOc; ++noc)
        for (i64 M : {0, 1, 7, 8, 9, 31, 200}) {
          CAPTURE(row.name);
          CAPTURE(nb);
          CAPTURE(noc);
          CAPTURE(M);
          const i64 lds = M * 16 + 48;  // blocks apart by more than their pixels
          const i64 ldd = M + 5;
          std::vector<float> src(std::size_t(nb * lds));
          AlignedBuffer<float> wei(noc * nb * 16);
          for (float& v : src) v = u(rng);
          for (i64 i = 0; i < wei.size(); ++i) wei[i] = u(rng);
          std::vector<float> got(std::size_t(noc * ldd), 9.f), want(got);
          DotArgs a;
          a.src = src.data();
          a.lds = lds;
          a.nb = nb;
          a.wei = wei.data();
          a.noc = noc;
          a.ldd = ldd;
          a.dst = got.data();
          row.run(a, M);
          a.dst = want.data();
          impl<isa::ref_t>::run(a, M);
          for (std::size_t i = 0; i < got.size(); ++i)
            CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-5).scale(4.0));
        }
  }
}

TEST_CASE("conv execute_blocked_to_planar: blocked input, planar rows, equal to execute") {
  struct Case {
    int spatial;
    i64 ic, oc, k, stride, pad;
    std::array<i64, 3> in;
  };
  const Case cases[] = {{2, 32, 2, 1, 1, 0, {1, 37, 70}},  // a segmentation head: flat rows
                        {2, 64, 35, 3, 1, 1, {1, 20, 23}},
                        {2, 48, 20, 3, 2, 1, {1, 17, 19}},
                        {3, 32, 17, 3, 1, 1, {6, 9, 11}},
                        // few-class heads (the dot kernel): 1, 3 and 4 classes, pixel tails
                        {2, 64, 1, 1, 1, 0, {1, 13, 7}},
                        {2, 48, 3, 1, 1, 0, {1, 45, 47}},
                        {3, 16, 4, 1, 1, 0, {3, 5, 7}}};
  std::mt19937 rng(5);
  std::normal_distribution<float> nd;
  for (const Case& c : cases) {
    CAPTURE(c.oc);
    ConvDesc d;
    d.spatial = c.spatial;
    d.N = 2;
    d.IC = c.ic;
    d.OC = c.oc;
    d.in = c.in;
    const i64 kd = c.spatial == 3 ? c.k : 1, pd = c.spatial == 3 ? c.pad : 0;
    d.kernel = {kd, c.k, c.k};
    d.stride = {c.spatial == 3 ? c.stride : 1, c.stride, c.stride};
    d.pad_before = d.pad_after = {pd, c.pad, c.pad};
    std::vector<float> w(std::size_t(c.oc * c.ic * kd * c.k * c.k)), bias(std::size_t(c.oc));
    for (float& v : w) v = nd(rng) * 0.1f;
    for (float& v : bias) v = nd(rng);
    ops::ConvF32 conv(d, w.data(), bias.data());
    const i64 S = d.in[0] * d.in[1] * d.in[2], icb = (c.ic + 15) / 16;
    const i64 OS = d.out(0) * d.out(1) * d.out(2);
    std::vector<float> x(std::size_t(2 * c.ic * S)), xb(std::size_t(2 * icb * S * 16), 0.f);
    for (float& v : x) v = nd(rng);
    for (i64 n = 0; n < 2; ++n)
      for (i64 ch = 0; ch < c.ic; ++ch)
        for (i64 s = 0; s < S; ++s)
          xb[std::size_t(((n * icb + ch / 16) * S + s) * 16 + ch % 16)] =
              x[std::size_t((n * c.ic + ch) * S + s)];
    const auto dims = [&](i64 ch, bool out, bool blocked) {
      std::vector<i64> v{2, ch};
      for (int i = c.spatial == 3 ? 0 : 1; i < 3; ++i) v.push_back(out ? d.out(i) : d.in[std::size_t(i)]);
      if (blocked) v.push_back(16);
      return v;
    };
    const auto view = [](float* p, const std::vector<i64>& s) {
      return s.size() == 4   ? TensorView::contiguous(p, DType::f32, {s[0], s[1], s[2], s[3]})
             : s.size() == 5 ? TensorView::contiguous(p, DType::f32, {s[0], s[1], s[2], s[3], s[4]})
                             : TensorView::contiguous(p, DType::f32, {s[0], s[1], s[2], s[3], s[4], s[5]});
    };
    std::vector<float> want(std::size_t(2 * c.oc * OS));
    // the planar result goes into channels [3, 3 + oc) of a wider tensor
    std::vector<float> got(std::size_t(2 * (c.oc + 5) * OS), 7.f);
    PostOps relu;
    relu.eltwise(Eltwise::relu);
    conv.execute(view(x.data(), dims(c.ic, false, false)),
                 view(want.data(), dims(c.oc, true, false)), relu);
    const TensorView wide = view(got.data(), dims(c.oc + 5, true, false));
    if (!conv.blocked_native()) {  // an ISA cap without the direct kernel: refused, clearly
      CHECK_THROWS_AS(conv.execute_blocked_to_planar(view(xb.data(), dims(icb, false, true)),
                                                     ops::channel_slice(wide, 3, c.oc), relu),
                      UnsupportedError);
      continue;
    }
    conv.execute_blocked_to_planar(view(xb.data(), dims(icb, false, true)),
                                   ops::channel_slice(wide, 3, c.oc), relu);
    float worst = 0.f;
    for (i64 n = 0; n < 2; ++n)
      for (i64 ch = 0; ch < c.oc + 5; ++ch)
        for (i64 s = 0; s < OS; ++s) {
          const float g = got[std::size_t((n * (c.oc + 5) + ch) * OS + s)];
          if (ch < 3 || ch >= 3 + c.oc) {
            CHECK(g == 7.f);
            continue;
          }
          worst = std::max(worst, std::abs(g - want[std::size_t((n * c.oc + ch - 3) * OS + s)]));
        }
    CHECK(worst <= 1e-4f * std::sqrt(float(c.ic * kd * c.k * c.k)));
  }
  // no sum post-ops; spatial dimensions must be contiguous
  ConvDesc d;
  d.IC = 16;
  d.OC = 2;
  std::vector<float> w(32, 0.5f), x(std::size_t(4 * 5 * 16), 1.f), y(std::size_t(2 * 4 * 10), 0.f);
  ops::ConvF32 conv(d, w.data());
  if (!conv.blocked_native()) return;
  const TensorView src = TensorView::contiguous(x.data(), DType::f32, {1, 1, 4, 5, 16});
  const TensorView dst = TensorView::contiguous(y.data(), DType::f32, {1, 2, 4, 5});
  CHECK_NOTHROW(conv.execute_blocked_to_planar(src, dst));
  CHECK_THROWS_AS(conv.execute_blocked_to_planar(src, dst, PostOps().sum()), UnsupportedError);
  TensorView gapped = TensorView::contiguous(y.data(), DType::f32, {1, 2, 4, 10});
  gapped.shape[3] = 5;
  gapped.strides[3] = 8;
  CHECK_THROWS_AS(conv.execute_blocked_to_planar(src, gapped), ShapeError);
}

TEST_CASE("winograd transform rows equal the ref row") {
  namespace kw = kernels::conv::winograd;
  std::mt19937 rng(41);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  const auto& ref = kw::kWinoRegistry.back();
  for (const auto& r : kw::kWinoRegistry) {
    if (!cpu_info().supports(r.isa)) continue;
    CAPTURE(r.name);
    // input: 6 rows of 9 pixels (rs = 9 * 16), V positions 48 floats apart
    std::vector<float> src(6 * 9 * 16);
    for (auto& v : src) v = u(rng);
    AlignedBuffer<float> a(36 * 48), b(36 * 48);
    r.input_tile(src.data() + 16, 9 * 16, a.data(), 48);
    ref.input_tile(src.data() + 16, 9 * 16, b.data(), 48);
    for (i64 p = 0; p < 36; ++p)
      for (i64 l = 0; l < 16; ++l)
        CHECK(a.data()[p * 48 + l] == doctest::Approx(b.data()[p * 48 + l]).epsilon(1e-6));
    // output: every partial tile writes exactly rows x cols pixels
    AlignedBuffer<float> m(36 * 32);
    for (i64 i = 0; i < m.size(); ++i) m.data()[i] = u(rng);
    for (int rows = 1; rows <= 4; ++rows)
      for (int cols = 1; cols <= 4; ++cols) {
        std::vector<float> ya(5 * 6 * 16, 7.f), yb(5 * 6 * 16, 7.f);
        r.output_tile(m.data(), 32, ya.data(), 6 * 16, rows, cols);
        ref.output_tile(m.data(), 32, yb.data(), 6 * 16, rows, cols);
        for (std::size_t i = 0; i < ya.size(); ++i) {
          const i64 px = i64(i / 16), row = px / 6, col = px % 6;
          if (row < rows && col < cols)
            CHECK(ya[i] == doctest::Approx(yb[i]).epsilon(1e-6));
          else
            CHECK(ya[i] == 7.f);
        }
      }
  }
  // The transforms' algebra: a 3x3 filter that picks one tap reproduces the shifted input.
  float g[9] = {0, 0, 0, 0, 0, 0, 0, 0, 1.f};  // y(i, j) = d(i + 2, j + 2)
  double uu[36];
  kw::weight_tile(g, uu);
  std::vector<float> d(36 * 16);
  for (auto& v : d) v = u(rng);
  AlignedBuffer<float> v(36 * 16), mm(36 * 16);
  ref.input_tile(d.data(), 6 * 16, v.data(), 16);
  for (i64 p = 0; p < 36; ++p)
    for (i64 l = 0; l < 16; ++l) mm.data()[p * 16 + l] = float(uu[p]) * v.data()[p * 16 + l];
  std::vector<float> y(16 * 16);
  ref.output_tile(mm.data(), 16, y.data(), 4 * 16, 4, 4);
  for (i64 i = 0; i < 4; ++i)
    for (i64 j = 0; j < 4; ++j)
      for (i64 l = 0; l < 16; ++l)
        CHECK(y[std::size_t((i * 4 + j) * 16 + l)] ==
              doctest::Approx(d[std::size_t(((i + 2) * 6 + j + 2) * 16 + l)]).epsilon(1e-5));
}

TEST_CASE("conv winograd: execute_blocked against the reference, every direct row") {
  const auto rows = available_rows();
  const auto wino = ConvAlgorithm::winograd;
  std::uint32_t seed = 4100;
  for (const auto* row : rows) {
    CAPTURE(row->name);
    ConvTester().ic(16).oc(16).in(1, 8, 8).k(1, 3, 3).pad({0, 1, 1}, {0, 1, 1})
        .algorithm(wino).blocked().seed(seed++).test(row);
    // channel tails, outputs not multiples of 4, a block slice of a wider output
    ConvTester().n(2).ic(17).oc(33).in(1, 13, 30).k(1, 3, 3).pad({0, 1, 1}, {0, 1, 1}).bias()
        .eltwise(Eltwise::relu).algorithm(wino).blocked(2, 1).seed(seed++).test(row);
    // asymmetric padding; sigmoid maps the padding lanes' zeros to 0.5: they must stay zero
    ConvTester().ic(32).oc(48).in(1, 7, 9).k(1, 3, 3).pad({0, 2, 0}, {0, 0, 2}).bias()
        .eltwise(Eltwise::sigmoid).algorithm(wino).blocked(1, 0).seed(seed++).test(row);
    // no padding, batch norm and leaky relu; more tiles than one task takes
    ConvTester().ic(48).oc(16).in(1, 40, 37).k(1, 3, 3).batch_norm()
        .eltwise(Eltwise::leaky_relu, 0.1f).algorithm(wino).blocked().seed(seed++).test(row);
    ConvTester().ic(64).oc(80).in(1, 70, 66).k(1, 3, 3).pad({0, 1, 1}, {0, 1, 1})
        .algorithm(wino).blocked().seed(seed++).test(row);
    // few tiles (a 7x7 output: 4): the chunk's block groups split over the threads
    ConvTester().n(1).ic(48).oc(80).in(1, 7, 7).k(1, 3, 3).pad({0, 1, 1}, {0, 1, 1}).bias()
        .eltwise(Eltwise::relu).algorithm(wino).blocked().seed(seed++).test(row);
    // residual sum with its scale, then an eltwise
    ConvTester().n(2).ic(20).oc(20).in(1, 11, 19).k(1, 3, 3).pad({0, 1, 1}, {0, 1, 1})
        .batch_norm().sum(0.5f).eltwise(Eltwise::linear, 0.3f, 2.f).algorithm(wino)
        .blocked(1, 0).seed(seed++).test(row);
    // outputs under 4 x 4 run direct; the planar execute reorders around the blocked run
    ConvTester().ic(16).oc(16).in(1, 3, 9).k(1, 3, 3).algorithm(wino).blocked().seed(seed++)
        .test(row);
    ConvTester().ic(17).oc(20).in(1, 9, 10).k(1, 3, 3).pad({0, 1, 1}, {0, 1, 1}).bias()
        .eltwise(Eltwise::gelu_erf).algorithm(wino).dst_slice(7, 5).seed(seed++).test(row);
    ConvTester().n(2).ic(32).oc(16).in(1, 12, 7).k(1, 3, 3).pad({0, 1, 1}, {0, 1, 1})
        .sum(2.f).algorithm(wino).seed(seed++).test(row);  // planar sum: direct
  }
  // Automatic choice on the AVX-512 rows: the same results through the default path.
  ConvTester().n(2).ic(32).oc(32).in(1, 33, 21).k(1, 3, 3).pad({0, 1, 1}, {0, 1, 1}).bias()
      .eltwise(Eltwise::relu).blocked().seed(seed++).test();
  // Problems Winograd does not take.
  ConvDesc d;
  d.IC = 16;
  d.OC = 16;
  std::vector<float> w(16 * 16 * 125, 0.f);
  d.kernel = {1, 5, 5};
  CHECK_THROWS_WITH_AS(ops::ConvF32(d, w.data(), nullptr, wino),
                       doctest::Contains("winograd needs a 3x3 kernel in (H, W)"),
                       UnsupportedError);
  d.kernel = {1, 3, 3};
  d.stride = {1, 2, 2};
  CHECK_THROWS_AS(ops::ConvF32(d, w.data(), nullptr, wino), UnsupportedError);
  d.stride = {1, 1, 1};
  d.dilation = {1, 2, 2};
  CHECK_THROWS_AS(ops::ConvF32(d, w.data(), nullptr, wino), UnsupportedError);
  d.dilation = {1, 1, 1};
  d.spatial = 3;
  d.kernel = {3, 3, 3};
  d.stride = {2, 1, 1};
  CHECK_THROWS_AS(ops::ConvF32(d, w.data(), nullptr, wino), UnsupportedError);
}

TEST_CASE("conv winograd 3-D (Winograd in H, W; depth taps in the GEMMs) against the reference") {
  const auto rows = available_rows();
  const auto wino = ConvAlgorithm::winograd;
  std::uint32_t seed = 4300;
  for (const auto* row : rows) {
    CAPTURE(row->name);
    ConvTester().spatial(3).ic(16).oc(16).in(4, 8, 8).k(3, 3, 3).pad({1, 1, 1}, {1, 1, 1})
        .algorithm(wino).blocked().seed(seed++).test(row);
    // anisotropic, depth padding 2 / 0, channel tails, a block slice, post-ops
    ConvTester().spatial(3).n(2).ic(17).oc(33).in(5, 9, 14).k(3, 3, 3)
        .pad({2, 1, 0}, {0, 1, 2}).bias().eltwise(Eltwise::sigmoid).algorithm(wino)
        .blocked(2, 1).seed(seed++).test(row);
    // two block groups (80 outputs: 3 + 2 blocks), and the group split of few tiles
    ConvTester().spatial(3).ic(32).oc(80).in(3, 9, 10).k(3, 3, 3).pad({1, 1, 1}, {1, 1, 1})
        .bias().algorithm(wino).blocked().seed(seed++).test(row);
    ConvTester().spatial(3).ic(16).oc(80).in(1, 6, 7).k(3, 3, 3).pad({1, 1, 1}, {1, 1, 1})
        .algorithm(wino).blocked().seed(seed++).test(row);
    // a 1x3x3 kernel in 3-D, and a depth-5 kernel
    ConvTester().spatial(3).ic(32).oc(16).in(3, 10, 7).k(1, 3, 3).pad({0, 1, 1}, {0, 1, 1})
        .batch_norm().algorithm(wino).blocked().seed(seed++).test(row);
    ConvTester().spatial(3).ic(16).oc(20).in(6, 7, 9).k(5, 3, 3).pad({2, 1, 1}, {2, 1, 1})
        .sum(0.5f).eltwise(Eltwise::relu).algorithm(wino).blocked().seed(seed++).test(row);
    // planar execute (reorders around the blocked run)
    ConvTester().spatial(3).ic(20).oc(17).in(4, 6, 11).k(3, 3, 3).pad({1, 1, 1}, {1, 1, 1})
        .bias().algorithm(wino).dst_slice(3, 2).seed(seed++).test(row);
  }
  ConvTester().spatial(3).n(2).ic(32).oc(32).in(6, 17, 13).k(3, 3, 3).pad({1, 1, 1}, {1, 1, 1})
      .bias().eltwise(Eltwise::relu).blocked().seed(seed++).test();
}
