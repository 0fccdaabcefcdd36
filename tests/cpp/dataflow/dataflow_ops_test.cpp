// tests/cpp/dataflow/dataflow_ops_test.cpp — the data-movement ops through the active
// dispatch: shapes, a few known values, concat in NCHW / NHWC / blocked against an index
// formula, and each validation error.
#include <doctest/doctest.h>

#include <cstdint>
#include <numeric>
#include <vector>

#include "medkern/core/error.hpp"
#include "medkern/core/tensor.hpp"
#include "medkern/ops/concat.hpp"
#include "medkern/ops/pool.hpp"
#include "medkern/ops/resample.hpp"
#include "medkern/ops/softmax.hpp"

using medkern::DType;
using medkern::ShapeError;
using medkern::TensorView;
namespace mo = medkern::ops;

TEST_CASE("pool op: 2x2 max and avg, ceil mode shape, errors") {
  std::vector<float> x(16);
  std::iota(x.begin(), x.end(), 0.f);
  const TensorView src = TensorView::contiguous(x.data(), DType::f32, {1, 1, 4, 4});
  std::vector<float> y(4);
  const TensorView dst = TensorView::contiguous(y.data(), DType::f32, {1, 1, 2, 2});
  mo::pool(src, dst, mo::PoolSpec::max(2, {2, 2}));
  CHECK(y == std::vector<float>{5, 7, 13, 15});
  mo::pool(src, dst, mo::PoolSpec::avg(2, {2, 2}));
  CHECK(y == std::vector<float>{2.5f, 4.5f, 10.5f, 12.5f});
  mo::pool(src, dst, mo::PoolSpec::adaptive_avg(2, {2, 2}));
  CHECK(y == std::vector<float>{2.5f, 4.5f, 10.5f, 12.5f});

  auto s = mo::PoolSpec::max(2, {3, 3});
  s.stride = {2, 2};
  s.ceil_mode = true;
  CHECK(mo::pool_output_shape(src, s) == std::vector<std::int64_t>{1, 1, 2, 2});
  s.padding = {2, 2};
  CHECK_THROWS_AS(mo::pool_output_shape(src, s), ShapeError);  // padding > kernel / 2
  s.padding = {0, 0};
  s.stride = {0, 1};
  CHECK_THROWS_AS(mo::pool_output_shape(src, s), ShapeError);
  CHECK_THROWS_AS(mo::pool_output_shape(src, mo::PoolSpec::max(2, {5, 1})), ShapeError);
  CHECK_THROWS_AS(mo::pool(src, dst, mo::PoolSpec::max(3, {2, 2, 2})), ShapeError);  // rank
  CHECK_THROWS_AS(mo::pool(src, dst, mo::PoolSpec::max(2, {1, 1})), ShapeError);     // dst shape
}

TEST_CASE("pool op, blocked: a block slice in, a block slice out, errors") {
  // (1, 3 blocks, 4, 4, 16): value = block * 1000 + pixel * 16 + lane; pool blocks [1, 3).
  std::vector<float> x(3 * 16 * 16);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = float(i / 256 * 1000 + i % 256);
  TensorView full = TensorView::contiguous(x.data(), DType::f32, {1, 3, 4, 4, 16});
  TensorView src = full;
  src.data = x.data() + 256;
  src.shape[1] = 2;
  std::vector<float> y(3 * 4 * 16, -1.f);
  TensorView dst = TensorView::contiguous(y.data(), DType::f32, {1, 3, 2, 2, 16});
  dst.shape[1] = 2;  // blocks [0, 2) of a 3-block output
  const auto spec = mo::PoolSpec::max(2, {2, 2});
  CHECK(mo::pool_blocked_output_shape(src, spec) == std::vector<std::int64_t>{1, 2, 2, 2, 16});
  mo::pool_blocked(src, dst, spec);
  for (int b = 0; b < 2; ++b)
    for (int oh = 0; oh < 2; ++oh)
      for (int ow = 0; ow < 2; ++ow)
        for (int l = 0; l < 16; ++l) {
          const int pix = (2 * oh + 1) * 4 + 2 * ow + 1;  // the window's largest pixel
          CHECK(y[std::size_t(((b * 2 + oh) * 2 + ow) * 16 + l)] ==
                float((b + 1) * 1000 + pix * 16 + l));
        }
  for (std::size_t i = 2 * 64; i < y.size(); ++i) CHECK(y[i] == -1.f);  // block 2 untouched

  auto avg = mo::PoolSpec::adaptive_avg(2, {1, 1});
  CHECK_THROWS_AS(mo::pool_blocked(src, dst, avg), medkern::UnsupportedError);
  TensorView bad = src;
  bad.shape[4] = 8;
  CHECK_THROWS_WITH_AS(mo::pool_blocked(bad, dst, spec),
                       doctest::Contains("max_pool2d: blocked input must be f32 (N, ceil(C/16), "
                                         "H, W, 16)"),
                       ShapeError);
  TensorView strided = src;
  strided.strides[3] = 128;  // W not contiguous
  CHECK_THROWS_AS(mo::pool_blocked(strided, dst, spec), ShapeError);
  TensorView wrong = dst;
  wrong.shape[2] = 1;
  CHECK_THROWS_WITH_AS(mo::pool_blocked(src, wrong, spec),
                       doctest::Contains("blocked output shape 1x2x1x2x16 must be"), ShapeError);
  TensorView alias = src;  // output over the input
  alias.shape[2] = alias.shape[3] = 2;
  alias.strides = TensorView::contiguous(x.data(), DType::f32, {1, 2, 2, 2, 16}).strides;
  CHECK_THROWS_WITH_AS(mo::pool_blocked(src, alias, spec), doctest::Contains("overlaps the input"),
                       ShapeError);
}

TEST_CASE("resample op: nearest x2 and bilinear align_corners") {
  std::vector<float> x{0, 1, 2, 3};
  const TensorView src = TensorView::contiguous(x.data(), DType::f32, {1, 1, 2, 2});
  std::vector<float> y(16);
  const TensorView dst = TensorView::contiguous(y.data(), DType::f32, {1, 1, 4, 4});
  mo::resample(src, dst, mo::krs::Mode::nearest);
  CHECK(y == std::vector<float>{0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 3, 3, 2, 2, 3, 3});
  std::vector<float> z(9);
  const TensorView dz = TensorView::contiguous(z.data(), DType::f32, {1, 1, 3, 3});
  mo::resample(src, dz, mo::krs::Mode::linear, true);
  CHECK(z == std::vector<float>{0, 0.5f, 1, 1, 1.5f, 2, 2, 2.5f, 3});
  std::vector<float> w(4);
  CHECK_THROWS_AS(mo::resample(src, TensorView::contiguous(w.data(), DType::f32, {1, 2, 1, 2}),
                               mo::krs::Mode::nearest),
                  ShapeError);
  CHECK_THROWS_AS(mo::resample(src, TensorView::contiguous(w.data(), DType::f32, {1, 1, 0, 2}),
                               mo::krs::Mode::nearest),
                  ShapeError);
}

TEST_CASE("softmax op: rows sum to one, in place, errors") {
  std::vector<float> x{1, 2, 3, 1000, 1001, 1002};
  const TensorView t = TensorView::contiguous(x.data(), DType::f32, {2, 3});
  mo::softmax(t, t, -1);
  CHECK(x[0] == doctest::Approx(x[3]));
  CHECK(x[0] + x[1] + x[2] == doctest::Approx(1.f));
  CHECK_THROWS_AS(mo::softmax(t, t, 2), ShapeError);
}

TEST_CASE("concat op: NCHW, NHWC and blocked layouts") {
  const std::int64_t N = 2, H = 3, W = 5, c0 = 3, c1 = 17;
  std::vector<float> a(static_cast<std::size_t>(N * c0 * H * W)), b(std::size_t(N * c1 * H * W));
  std::iota(a.begin(), a.end(), 0.f);
  std::iota(b.begin(), b.end(), 1000.f);
  std::vector<float> out(static_cast<std::size_t>(N * (c0 + c1) * H * W));
  const TensorView ta = TensorView::contiguous(a.data(), DType::f32, {N, c0, H, W});
  const TensorView tb = TensorView::contiguous(b.data(), DType::f32, {N, c1, H, W});
  const TensorView to = TensorView::contiguous(out.data(), DType::f32, {N, c0 + c1, H, W});
  mo::concat_channels({ta, tb}, mo::Layout::nchw, to);
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t c = 0; c < c0 + c1; ++c)
      for (std::int64_t s = 0; s < H * W; ++s) {
        const float want = c < c0 ? a[std::size_t((n * c0 + c) * H * W + s)]
                                  : b[std::size_t((n * c1 + c - c0) * H * W + s)];
        REQUIRE(out[std::size_t((n * (c0 + c1) + c) * H * W + s)] == want);
      }
  // NHWC views of the same buffers (values differ, only the formula matters)
  const TensorView ha = TensorView::contiguous(a.data(), DType::f32, {N, H, W, c0});
  const TensorView hb = TensorView::contiguous(b.data(), DType::f32, {N, H, W, c1});
  const TensorView ho = TensorView::contiguous(out.data(), DType::f32, {N, H, W, c0 + c1});
  mo::concat_channels({ha, hb}, mo::Layout::nhwc, ho);
  for (std::int64_t p = 0; p < N * H * W; ++p)
    for (std::int64_t c = 0; c < c0 + c1; ++c)
      REQUIRE(out[std::size_t(p * (c0 + c1) + c)] ==
              (c < c0 ? a[std::size_t(p * c0 + c)] : b[std::size_t(p * c1 + c - c0)]));
  // blocked: reorder each input, concat, compare with the reorder of the NCHW concat
  auto blocked = [&](const std::vector<float>& v, std::int64_t C) {
    std::vector<float> r(static_cast<std::size_t>(N * ((C + 15) / 16) * H * W * 16));
    mo::reorder(TensorView::contiguous(const_cast<float*>(v.data()), DType::f32, {N, C, H, W}),
                mo::Layout::nchw,
                TensorView::contiguous(r.data(), DType::f32, {N, (C + 15) / 16, H, W, 16}),
                mo::Layout::nchw16c);
    return r;
  };
  mo::concat_channels({ta, tb}, mo::Layout::nchw, to);
  auto ba = blocked(a, c0), bb = blocked(b, c1), want = blocked(out, c0 + c1);
  std::vector<float> got(want.size(), -1.f);
  mo::concat_channels({TensorView::contiguous(ba.data(), DType::f32, {N, 1, H, W, 16}),
                       TensorView::contiguous(bb.data(), DType::f32, {N, 2, H, W, 16})},
                      mo::Layout::nchw16c,
                      TensorView::contiguous(got.data(), DType::f32, {N, 2, H, W, 16}), {c0, c1});
  CHECK(got == want);
  // errors: mismatched non-concat dims, wrong out shape, overlap
  CHECK_THROWS_AS(mo::concat({ta, TensorView::contiguous(b.data(), DType::f32, {N, c1, W, H})}, 1, to),
                  ShapeError);
  CHECK_THROWS_AS(mo::concat({ta, tb}, 0, to), ShapeError);
  CHECK_THROWS_AS(mo::concat({to, tb}, 1, to), ShapeError);
}
