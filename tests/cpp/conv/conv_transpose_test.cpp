// tests/cpp/conv/conv_transpose_test.cpp — ConvTransposeF32 (scatter and col2im algorithms)
// against the definition (double accumulation), post-op chains with residual sums, output in
// a channel slice, larger outputs (output_size), and bad input.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "medkern/core/cpu.hpp"
#include "medkern/ops/conv_transpose.hpp"

using namespace medkern;
using kernels::Eltwise;
using kernels::PostOps;
using ops::ConvTransposeDesc;
using i64 = std::int64_t;

namespace {

struct Case {
  int spatial = 2;
  i64 N = 1, IC = 1, OC = 1, G = 1;
  std::array<i64, 3> in{1, 1, 1}, k{1, 1, 1}, s{1, 1, 1}, p{0, 0, 0}, op{0, 0, 0}, d{1, 1, 1};
  std::array<i64, 3> extra{0, 0, 0};  ///< output larger than the default (output_size)
  bool bias = false, sum = false;
  i64 slice_extra = 0, slice_offset = 0;
};

/// Runs the case; returns the algorithm that ran.
std::string run(const Case& c, std::uint32_t seed) {
  ConvTransposeDesc d;
  d.spatial = c.spatial;
  d.IC = c.IC;
  d.OC = c.OC;
  d.groups = c.G;
  d.kernel = c.k;
  d.stride = c.s;
  d.padding = c.p;
  d.output_padding = c.op;
  d.dilation = c.d;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1, 1);
  const i64 icg = c.IC / c.G, ocg = c.OC / c.G, kv = c.k[0] * c.k[1] * c.k[2];
  std::array<i64, 3> out{};
  for (int i = 0; i < 3; ++i)
    out[std::size_t(i)] = d.out(i, c.in[std::size_t(i)]) + c.extra[std::size_t(i)];
  const i64 P = c.in[0] * c.in[1] * c.in[2], Q = out[0] * out[1] * out[2];
  std::vector<float> x(std::size_t(c.N * c.IC * P)), w(std::size_t(c.IC * ocg * kv)),
      b(std::size_t(c.OC)), r(std::size_t(c.N * c.OC * Q));
  for (auto* v : {&x, &w, &b, &r})
    for (auto& e : *v) e = u(rng);
  // The definition.
  std::vector<double> ref(std::size_t(c.N * c.OC * Q), 0.0);
  for (i64 n = 0; n < c.N; ++n)
    for (i64 ic = 0; ic < c.IC; ++ic) {
      const i64 g = ic / icg;
      for (i64 oc = 0; oc < ocg; ++oc)
        for (i64 id = 0; id < c.in[0]; ++id)
          for (i64 ih = 0; ih < c.in[1]; ++ih)
            for (i64 iw = 0; iw < c.in[2]; ++iw)
              for (i64 kd = 0; kd < c.k[0]; ++kd)
                for (i64 kh = 0; kh < c.k[1]; ++kh)
                  for (i64 kw = 0; kw < c.k[2]; ++kw) {
                    const i64 od = id * c.s[0] - c.p[0] + kd * c.d[0];
                    const i64 oh = ih * c.s[1] - c.p[1] + kh * c.d[1];
                    const i64 ow = iw * c.s[2] - c.p[2] + kw * c.d[2];
                    if (od < 0 || od >= out[0] || oh < 0 || oh >= out[1] || ow < 0 || ow >= out[2])
                      continue;
                    const double xv = x[std::size_t(((n * c.IC + ic) * c.in[0] + id) * c.in[1] * c.in[2] + ih * c.in[2] + iw)];
                    const double wv = w[std::size_t(((ic * ocg + oc) * c.k[0] + kd) * c.k[1] * c.k[2] + kh * c.k[2] + kw)];
                    ref[std::size_t(((n * c.OC + g * ocg + oc) * out[0] + od) * out[1] * out[2] + oh * out[2] + ow)] += xv * wv;
                  }
    }
  PostOps post;
  if (c.sum) post.sum(0.5f).eltwise(Eltwise::gelu_erf);
  else post.eltwise(Eltwise::leaky_relu, 0.1f);
  for (i64 n = 0; n < c.N; ++n)
    for (i64 oc = 0; oc < c.OC; ++oc)
      for (i64 q = 0; q < Q; ++q) {
        const std::size_t e = std::size_t((n * c.OC + oc) * Q + q);
        double v = double(float(ref[e])) + (c.bias ? b[std::size_t(oc)] : 0.0);
        if (c.sum) {
          v += 0.5 * r[e];
          v = kernels::eltwise_ref(Eltwise::gelu_erf, float(v), 0, 0);
        } else {
          v = v >= 0 ? v : 0.1 * v;
        }
        ref[e] = v;
      }
  const i64 CT = c.OC + c.slice_extra;
  std::vector<float> y(std::size_t(c.N * CT * Q), -777.f);
  auto view = [&](float* p, i64 ch) {
    return c.spatial == 3 ? TensorView::contiguous(p, DType::f32, {c.N, ch, out[0], out[1], out[2]})
                          : TensorView::contiguous(p, DType::f32, {c.N, ch, out[1], out[2]});
  };
  const TensorView src =
      c.spatial == 3 ? TensorView::contiguous(x.data(), DType::f32, {c.N, c.IC, c.in[0], c.in[1], c.in[2]})
                     : TensorView::contiguous(x.data(), DType::f32, {c.N, c.IC, c.in[1], c.in[2]});
  const TensorView dst = ops::channel_slice(view(y.data(), CT), c.slice_offset, c.OC);
  const TensorView res = view(r.data(), c.OC);
  ops::ConvTransposeF32 conv(d, w.data(), c.bias ? b.data() : nullptr);
  conv.execute(src, dst, post, c.sum ? std::span<const TensorView>(&res, 1)
                                     : std::span<const TensorView>());
  const double tol = 1e-5 * std::sqrt(double(icg * kv) + 1);
  double worst = 0;
  bool guards = true;
  for (i64 n = 0; n < c.N; ++n)
    for (i64 ch = 0; ch < CT; ++ch)
      for (i64 q = 0; q < Q; ++q) {
        const float got = y[std::size_t((n * CT + ch) * Q + q)];
        if (ch < c.slice_offset || ch >= c.slice_offset + c.OC) {
          guards = guards && got == -777.f;
          continue;
        }
        const double want = ref[std::size_t((n * c.OC + ch - c.slice_offset) * Q + q)];
        worst = std::max(worst, std::abs(got - want) / (1 + std::abs(want)));
        if (std::isnan(got)) worst = INFINITY;
      }
  INFO("seed ", seed, " algorithm ", conv.algorithm(), " worst ", worst, " tol ", tol);
  CHECK(worst <= tol);
  CHECK(guards);
  return conv.algorithm();
}

}  // namespace

TEST_CASE("conv_transpose: U-Net up-convolutions take the scatter path and match") {
  Case c;
  c.N = 2; c.IC = 16; c.OC = 8; c.in = {1, 5, 7}; c.k = {1, 2, 2}; c.s = {1, 2, 2}; c.bias = true;
  CHECK(run(c, 1) == "scatter");
  c.sum = true; c.slice_extra = 5; c.slice_offset = 2;
  CHECK(run(c, 2) == "scatter");
  Case t;
  t.spatial = 3; t.IC = 8; t.OC = 4; t.in = {3, 2, 5}; t.k = {2, 2, 2}; t.s = {2, 2, 2};
  t.bias = true; t.sum = true;
  CHECK(run(t, 3) == "scatter");
  Case a;  // anisotropic kernel == stride, groups
  a.IC = 6; a.OC = 9; a.G = 3; a.in = {1, 4, 3}; a.k = {1, 3, 1}; a.s = {1, 3, 1};
  CHECK(run(a, 4) == "scatter");
}

TEST_CASE("conv_transpose: general geometry through col2im") {
  std::uint32_t seed = 10;
  Case c;
  c.IC = 17; c.OC = 3; c.in = {1, 6, 5}; c.k = {1, 3, 3}; c.s = {1, 2, 2}; c.p = {0, 1, 1};
  c.op = {0, 1, 0}; c.bias = true;
  CHECK(run(c, seed++) == "col2im");
  c.d = {1, 2, 1}; c.op = {0, 1, 1}; c.sum = true;
  run(c, seed++);
  Case g;  // groups, stride 3, padding larger than half the kernel, dilation
  g.N = 2; g.IC = 4; g.OC = 6; g.G = 2; g.in = {1, 3, 4}; g.k = {1, 3, 2}; g.s = {1, 3, 1};
  g.p = {0, 2, 1}; g.d = {1, 2, 2}; g.slice_extra = 3; g.slice_offset = 3;
  run(g, seed++);
  Case e;  // output_size larger than the default; 2x2 stride 2 leaves uncovered pixels
  e.IC = 5; e.OC = 2; e.in = {1, 3, 3}; e.k = {1, 2, 2}; e.s = {1, 2, 2}; e.extra = {0, 1, 1};
  e.bias = true;
  CHECK(run(e, seed++) == "scatter");  // the primitive's algorithm; this call runs col2im
  Case t;
  t.spatial = 3; t.N = 2; t.IC = 3; t.OC = 4; t.in = {2, 3, 4}; t.k = {3, 1, 2}; t.s = {2, 1, 2};
  t.p = {1, 0, 0}; t.op = {1, 0, 1}; t.sum = true;
  run(t, seed++);
  Case one;
  one.IC = 1; one.OC = 1; one.in = {1, 1, 1}; one.k = {1, 1, 1};
  run(one, seed++);
}

TEST_CASE("conv_transpose: bad input") {
  std::vector<float> w(4 * 4 * 9, 0.f), x(4 * 9), y(4 * 100);
  ConvTransposeDesc d;
  d.IC = 4; d.OC = 4; d.kernel = {1, 3, 3};
  auto bad = [&](ConvTransposeDesc dd, const char* needle) {
    CHECK_THROWS_WITH_AS(ops::ConvTransposeF32(dd, w.data()), doctest::Contains(needle),
                         ShapeError);
  };
  { auto dd = d; dd.stride = {1, 0, 1}; bad(dd, "stride 0x1 must be positive"); }
  { auto dd = d; dd.groups = 3; bad(dd, "divisible by groups 3"); }
  { auto dd = d; dd.padding = {0, -1, 0}; bad(dd, "padding -1x0 must be non-negative"); }
  { auto dd = d; dd.output_padding = {0, 1, 0}; bad(dd, "output_padding 1x0 must be"); }
  { auto dd = d; dd.kernel = {1, 0, 3}; bad(dd, "kernel 0x3 must be positive"); }
  { auto dd = d; dd.dilation = {1, 1, 0}; bad(dd, "dilation 1x0 must be positive"); }
  ops::ConvTransposeF32 conv(d, w.data());
  const auto src = TensorView::contiguous(x.data(), DType::f32, {1, 4, 3, 3});
  CHECK_THROWS_WITH_AS(conv.execute(src, TensorView::contiguous(y.data(), DType::f32, {1, 4, 6, 5})),
                       doctest::Contains("output must be f32 1x4x5x5"), ShapeError);
  CHECK_THROWS_WITH_AS(conv.execute(TensorView::contiguous(x.data(), DType::f32, {1, 3, 3, 3}),
                                    TensorView::contiguous(y.data(), DType::f32, {1, 4, 5, 5})),
                       doctest::Contains("input channels 3 must equal"), ShapeError);
  ConvTransposeDesc s = d;
  s.padding = {0, 3, 3};
  CHECK_THROWS_WITH_AS(ops::ConvTransposeF32(s, w.data()).output_shape(src),
                       doctest::Contains("must be positive"), ShapeError);
}

namespace {

/// (N, C, S) planar -> (N, ceil(C/16), S, 16) blocked with zero padding lanes.
std::vector<float> to_blocked(const std::vector<float>& v, i64 N, i64 C, i64 S) {
  const i64 CB = (C + 15) / 16;
  std::vector<float> b(std::size_t(N * CB * S * 16), 0.f);
  for (i64 n = 0; n < N; ++n)
    for (i64 c = 0; c < C; ++c)
      for (i64 s = 0; s < S; ++s)
        b[std::size_t(((n * CB + c / 16) * S + s) * 16 + c % 16)] =
            v[std::size_t((n * C + c) * S + s)];
  return b;
}

/// A C-contiguous f32 view of `shape`.
TensorView cview(float* p, const std::vector<i64>& shape) {
  TensorView v;
  v.data = p;
  v.rank = int(shape.size());
  for (std::size_t i = 0; i < shape.size(); ++i) v.shape[i] = shape[i];
  v.set_contiguous_strides();
  return v;
}

}  // namespace

TEST_CASE("conv_transpose: blocked execute of every direct row matches the planar execute") {
  std::mt19937 rng(21);
  std::uniform_real_distribution<float> u(-1, 1);
  struct B {
    int spatial;
    i64 N, IC, OC;
    std::array<i64, 3> in, k;
  };
  const B cases[] = {{2, 2, 16, 8, {1, 5, 7}, {1, 2, 2}},   {2, 1, 3, 17, {1, 1, 1}, {1, 2, 2}},
                     {2, 1, 33, 70, {1, 3, 180}, {1, 2, 2}}, {2, 1, 64, 80, {1, 4, 6}, {1, 2, 3}},
                     {3, 2, 8, 4, {3, 2, 5}, {2, 2, 2}},     {3, 1, 40, 33, {2, 3, 4}, {2, 1, 2}}};
  for (const B& c : cases)
    for (const auto& row : kernels::conv::kDirectRegistry) {
      if (!cpu_info().supports(row.isa)) continue;
      ConvTransposeDesc d;
      d.spatial = c.spatial;
      d.IC = c.IC;
      d.OC = c.OC;
      d.kernel = c.k;
      d.stride = c.k;
      const i64 kv = c.k[0] * c.k[1] * c.k[2], P = c.in[0] * c.in[1] * c.in[2], Q = P * kv;
      std::vector<float> x(std::size_t(c.N * c.IC * P)), w(std::size_t(c.IC * c.OC * kv)),
          b(std::size_t(c.OC)), r(std::size_t(c.N * c.OC * Q)), sl(std::size_t(c.OC));
      for (auto* v : {&x, &w, &b, &r, &sl})
        for (auto& e : *v) e = u(rng);
      ops::ConvTransposeF32 conv(d, w.data(), b.data(), &row);
      REQUIRE(conv.blocked_supported());
      CHECK(std::string(conv.blocked_kernel()) == row.name);
      PostOps post;
      post.prelu(sl.data()).sum(0.5f).eltwise(Eltwise::tanh);
      std::vector<i64> ps{c.N, c.IC}, po{c.N, c.OC};
      for (int i = c.spatial == 3 ? 0 : 1; i < 3; ++i) {
        ps.push_back(c.in[std::size_t(i)]);
        po.push_back(c.in[std::size_t(i)] * c.k[std::size_t(i)]);
      }
      std::vector<float> want(std::size_t(c.N * c.OC * Q));
      const TensorView res = cview(r.data(), po);
      conv.execute(cview(x.data(), ps), cview(want.data(), po), post,
                   std::span<const TensorView>(&res, 1));
      // Blocked: the output goes into blocks [1, 1 + OCB) of a buffer of OCB + 2 blocks.
      const i64 ICB = (c.IC + 15) / 16, OCB = (c.OC + 15) / 16;
      auto xb = to_blocked(x, c.N, c.IC, P);
      auto rb = to_blocked(r, c.N, c.OC, Q);
      std::vector<float> yb(std::size_t(c.N * (OCB + 2) * Q * 16), -777.f);
      auto bview = [&](float* p, i64 blocks, const std::vector<i64>& planar) {
        std::vector<i64> s{planar[0], blocks};
        s.insert(s.end(), planar.begin() + 2, planar.end());
        s.push_back(16);
        return cview(p, s);
      };
      TensorView dst = bview(yb.data(), OCB + 2, po);
      dst.data = yb.data() + Q * 16;
      dst.shape[1] = OCB;
      const TensorView rbv = bview(rb.data(), OCB, po);
      conv.execute_blocked(bview(xb.data(), ICB, ps), dst, post,
                           std::span<const TensorView>(&rbv, 1));
      INFO("row ", row.name, " IC ", c.IC, " OC ", c.OC, " W ", c.in[2]);
      double worst = 0;
      bool guards = true;
      for (i64 n = 0; n < c.N; ++n)
        for (i64 cb = 0; cb < OCB + 2; ++cb)
          for (i64 q = 0; q < Q; ++q)
            for (i64 l = 0; l < 16; ++l) {
              const float got = yb[std::size_t(((n * (OCB + 2) + cb) * Q + q) * 16 + l)];
              const i64 ch = (cb - 1) * 16 + l;
              if (cb == 0 || cb == OCB + 1) {
                guards = guards && got == -777.f;
              } else if (ch >= c.OC) {
                guards = guards && got == 0.f;  // padding lanes zero
              } else {
                const float e = want[std::size_t((n * c.OC + ch) * Q + q)];
                worst = std::max(worst, double(std::abs(got - e)) / (1 + std::abs(e)));
                if (std::isnan(got)) worst = INFINITY;
              }
            }
      CHECK(worst <= 1e-5 * std::sqrt(double(c.IC) + 1));
      CHECK(guards);
    }
}

TEST_CASE("conv_transpose: blocked execute bad input") {
  std::vector<float> w(20 * 8 * 4, 0.f), x(2 * 16 * 16, 0.f), y(1 * 1 * 8 * 8 * 16 * 2, 0.f);
  ConvTransposeDesc d;
  d.IC = 20; d.OC = 8; d.kernel = {1, 2, 2}; d.stride = {1, 2, 2};
  ops::ConvTransposeF32 conv(d, w.data());
  const auto src = TensorView::contiguous(x.data(), DType::f32, {1, 2, 4, 4, 16});
  CHECK(conv.blocked_output_shape(src) == std::vector<i64>{1, 1, 8, 8, 16});
  const auto one_block = TensorView::contiguous(x.data(), DType::f32, {1, 1, 4, 4, 16});
  const auto out = TensorView::contiguous(y.data(), DType::f32, {1, 1, 8, 8, 16});
  const auto narrow = TensorView::contiguous(y.data(), DType::f32, {1, 1, 8, 7, 16});
  CHECK_THROWS_WITH_AS(conv.execute_blocked(one_block, out),
                       doctest::Contains("has 2 blocks of 16, got 1"), ShapeError);
  CHECK_THROWS_WITH_AS(conv.execute_blocked(src, narrow),
                       doctest::Contains("blocked output must be f32 1x1x8x8x16"), ShapeError);
  CHECK_THROWS_WITH_AS(conv.execute_blocked(src, out, PostOps().sum()),
                       doctest::Contains("1 sum post-ops need as many residual tensors"),
                       ShapeError);
  ConvTransposeDesc p = d;
  p.kernel = {1, 3, 3};
  p.padding = {0, 1, 1};
  std::vector<float> w3(20 * 8 * 9, 0.f);
  ops::ConvTransposeF32 other(p, w3.data());
  CHECK_FALSE(other.blocked_supported());
  CHECK_THROWS_WITH_AS(other.blocked_output_shape(src),
                       doctest::Contains("the blocked layout needs kernel == stride"),
                       UnsupportedError);
}
