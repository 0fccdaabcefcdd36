// tests/cpp/ops/eltwise_test.cpp — ops::apply_post_ops (a post-op chain on its own over a planar
// tensor) against the reference chain, in place and into a channel slice, and its bad input.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "medkern/core/error.hpp"
#include "medkern/kernels/post_ops.hpp"
#include "medkern/ops/eltwise.hpp"

using namespace medkern;
using i64 = std::int64_t;
using kernels::Eltwise;

TEST_CASE("apply_post_ops equals the reference chain, in place and into a channel slice") {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-3.f, 3.f);
  const i64 N = 2, C = 5, H = 37, W = 301;  // planes of 11137 floats: three chunks each
  std::vector<float> x(std::size_t(N * C * H * W)), scale(C), shift(C), slope(C);
  for (auto& v : x) v = u(rng);
  for (auto& v : scale) v = u(rng);
  for (auto& v : shift) v = u(rng);
  for (auto& v : slope) v = u(rng) / 10;
  x[7] = NAN;
  for (const Eltwise e : {Eltwise::relu, Eltwise::sigmoid, Eltwise::gelu_erf, Eltwise::elu}) {
    kernels::PostOps chain;
    chain.scale(scale.data()).bias(shift.data()).eltwise(e, 0.7f).prelu(slope.data());
    CAPTURE(kernels::post_ops_str(chain));
    std::vector<float> ref(x.size());
    for (i64 i = 0; i < i64(x.size()); ++i)
      ref[std::size_t(i)] =
          kernels::apply_post_ops_ref(chain, x[std::size_t(i)], (i / (H * W)) % C, 0);
    // out of place into channels [2, 2 + C) of a 9-channel tensor
    const i64 CT = 9;
    std::vector<float> wide(std::size_t(N * CT * H * W), -7.f);
    const TensorView src = TensorView::contiguous(x.data(), DType::f32, {N, C, H, W});
    TensorView dst = TensorView::contiguous(wide.data(), DType::f32, {N, CT, H, W});
    dst.shape[1] = C;
    dst.data = wide.data() + 2 * H * W;
    ops::apply_post_ops(src, dst, chain);
    // in place
    std::vector<float> y = x;
    const TensorView yv = TensorView::contiguous(y.data(), DType::f32, {N, C, H, W});
    ops::apply_post_ops(yv, yv, chain);
    i64 bad = -1;
    for (i64 n = 0; n < N && bad < 0; ++n)
      for (i64 c = 0; c < CT; ++c)
        for (i64 p = 0; p < H * W; ++p) {
          const float got = wide[std::size_t((n * CT + c) * H * W + p)];
          if (c < 2 || c >= 2 + C) {
            if (got != -7.f) bad = p;
            continue;
          }
          const i64 i = (n * C + c - 2) * H * W + p;
          const float r = ref[std::size_t(i)], g2 = y[std::size_t(i)];
          const auto close = [&](float g) {
            return (std::isnan(r) && std::isnan(g)) || std::abs(g - r) <= 1e-5f * (1 + std::abs(r));
          };
          if (!close(got) || !close(g2)) bad = i;
        }
    CHECK(bad < 0);
  }
}

TEST_CASE("apply_post_ops bad input: clear errors") {
  std::vector<float> a(2 * 3 * 4 * 4, 1.f), b(a.size());
  const TensorView x = TensorView::contiguous(a.data(), DType::f32, {2, 3, 4, 4});
  const TensorView y = TensorView::contiguous(b.data(), DType::f32, {2, 3, 4, 4});
  kernels::PostOps relu;
  relu.eltwise(Eltwise::relu);
  TensorView other = TensorView::contiguous(b.data(), DType::f32, {2, 3, 16});
  CHECK_THROWS_WITH_AS(ops::apply_post_ops(x, other, relu), doctest::Contains("same rank"),
                       ShapeError);
  TensorView strided = x;  // W stride 8 bytes: planes not contiguous
  strided.shape[3] = 2;
  strided.strides[3] = 8;
  TensorView small = y;
  small.shape[3] = 2;
  CHECK_THROWS_WITH_AS(ops::apply_post_ops(strided, small, relu),
                       doctest::Contains("C-contiguous"), ShapeError);
  TensorView shifted = x;  // overlaps x one plane further on
  shifted.data = a.data() + 16;
  shifted.shape[1] = 2;
  TensorView x2 = x;
  x2.shape[1] = 2;
  CHECK_THROWS_WITH_AS(ops::apply_post_ops(x2, shifted, relu), doctest::Contains("overlap"),
                       ShapeError);
  kernels::PostOps sum;
  sum.sum(1.f, a.data());
  CHECK_THROWS_AS(ops::apply_post_ops(x, y, sum), UnsupportedError);
  TensorView ints = y;
  ints.dtype = DType::s32;
  CHECK_THROWS_WITH_AS(ops::apply_post_ops(x, ints, relu), doctest::Contains("float32"),
                       ShapeError);
}
