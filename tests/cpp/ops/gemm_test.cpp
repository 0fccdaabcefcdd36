// tests/cpp/ops/gemm_test.cpp — matmul/gemm op: results vs a double reference for each dtype,
// post-ops, thread-count independence, and every bad-input rule.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "medkern/core/dispatch.hpp"
#include "medkern/ops/matmul.hpp"

using namespace medkern;

namespace {

template <class T>
std::vector<T> random_vec(std::int64_t n, std::mt19937& rng) {
  std::vector<T> v(std::size_t(std::max<std::int64_t>(n, 1)));
  if constexpr (std::is_same_v<T, float>) {
    std::uniform_real_distribution<float> u(-1, 1);
    for (auto& x : v) x = u(rng);
  } else if constexpr (std::is_same_v<T, bf16>) {
    std::uniform_real_distribution<float> u(-1, 1);
    for (auto& x : v) x = bf16(u(rng));
  } else if constexpr (std::is_same_v<T, std::uint8_t>) {
    std::uniform_int_distribution<int> u(0, 255);
    for (auto& x : v) x = std::uint8_t(u(rng));
  } else {
    std::uniform_int_distribution<int> u(-128, 127);
    for (auto& x : v) x = std::int8_t(u(rng));
  }
  return v;
}

template <class T>
double as_double(T x) {
  if constexpr (std::is_same_v<T, bf16>)
    return double(float(x));
  else
    return double(x);
}

template <class TA, class TB, class TC>
void check_matmul_case(std::int64_t M, std::int64_t K, std::int64_t N, std::uint32_t seed) {
  std::mt19937 rng(seed);
  auto a = random_vec<TA>(M * K, rng);
  auto b = random_vec<TB>(K * N, rng);
  std::vector<TC> c(std::size_t(std::max<std::int64_t>(M * N, 1)), TC(7));
  const auto va = TensorView::contiguous(a.data(), dtype_of<TA>::value, {M, K});
  const auto vb = TensorView::contiguous(b.data(), dtype_of<TB>::value, {K, N});
  const auto vc = TensorView::contiguous(c.data(), dtype_of<TC>::value, {M, N});
  ops::matmul(va, vb, vc);
  double max_err = 0, max_ref = 1;
  for (std::int64_t m = 0; m < M; ++m)
    for (std::int64_t n = 0; n < N; ++n) {
      double r = 0;
      for (std::int64_t k = 0; k < K; ++k)
        r += as_double(a[std::size_t(m * K + k)]) * as_double(b[std::size_t(k * N + n)]);
      max_ref = std::max(max_ref, std::abs(r));
      max_err = std::max(max_err, std::abs(r - double(c[std::size_t(m * N + n)])));
    }
  INFO("matmul ", dtype_name(dtype_of<TA>::value), " M=", M, " K=", K, " N=", N, " seed=", seed,
       " max_err=", max_err, " max_ref=", max_ref);
  if constexpr (std::is_same_v<TC, std::int32_t>)
    CHECK(max_err == 0);
  else
    CHECK(max_err <= 1e-5 * std::sqrt(double(std::max<std::int64_t>(K, 1))) * max_ref);
}

}  // namespace

TEST_CASE("matmul f32/bf16/u8s8 vs double reference, sizes around blocking edges") {
  std::uint32_t seed = 1;
  for (auto [M, K, N] : std::vector<std::array<std::int64_t, 3>>{
           {1, 1, 1}, {5, 7, 3}, {17, 33, 65}, {96, 128, 64}, {97, 129, 63}, {200, 300, 130},
           {13, 1, 200}, {1, 500, 1}, {0, 5, 4}, {4, 0, 5}, {4, 5, 0}}) {
    check_matmul_case<float, float, float>(M, K, N, seed++);
    check_matmul_case<bf16, bf16, float>(M, K, N, seed++);
    check_matmul_case<std::uint8_t, std::int8_t, std::int32_t>(M, K, N, seed++);
  }
}

TEST_CASE("gemm with prepacked B and post-ops") {
  std::mt19937 rng(5);
  const std::int64_t M = 50, K = 300, N = 70;
  auto a = random_vec<float>(M * K, rng);
  auto b = random_vec<float>(K * N, rng);
  auto bias = random_vec<float>(N, rng);
  const ops::PackedB<float> pb(b.data(), N, K, N);
  CHECK(pb.bytes() >= K * N * 4);
  kernels::PostOps post;
  post.bias(bias.data()).eltwise(kernels::Eltwise::relu);
  std::vector<float> c(std::size_t(M * N));
  ops::gemm(M, a.data(), K, pb, c.data(), N, post);
  for (std::int64_t m = 0; m < M; ++m)
    for (std::int64_t n = 0; n < N; ++n) {
      double r = bias[std::size_t(n)];
      for (std::int64_t k = 0; k < K; ++k) r += double(a[std::size_t(m * K + k)]) * b[std::size_t(k * N + n)];
      r = r > 0 ? r : 0;
      REQUIRE(std::abs(r - c[std::size_t(m * N + n)]) <= 1e-4);
    }
}

TEST_CASE("matmul results do not depend on the thread count") {
  std::mt19937 rng(9);
  const std::int64_t M = 300, K = 260, N = 190;
  auto a = random_vec<float>(M * K, rng);
  auto b = random_vec<float>(K * N, rng);
  const int before = num_threads();
  std::vector<float> c1(std::size_t(M * N)), c2(std::size_t(M * N));
  set_num_threads(1);
  ops::matmul(TensorView::contiguous(a.data(), DType::f32, {M, K}),
              TensorView::contiguous(b.data(), DType::f32, {K, N}),
              TensorView::contiguous(c1.data(), DType::f32, {M, N}));
  set_num_threads(3);
  ops::matmul(TensorView::contiguous(a.data(), DType::f32, {M, K}),
              TensorView::contiguous(b.data(), DType::f32, {K, N}),
              TensorView::contiguous(c2.data(), DType::f32, {M, N}));
  set_num_threads(before);
  CHECK(std::memcmp(c1.data(), c2.data(), c1.size() * 4) == 0);
}

TEST_CASE("matmul rejects bad input with ShapeError naming the rule") {
  float a[12] = {}, b[12] = {}, c[16] = {};
  auto A = TensorView::contiguous(a, DType::f32, {3, 4});
  auto B = TensorView::contiguous(b, DType::f32, {4, 3});
  auto C = TensorView::contiguous(c, DType::f32, {3, 3});
  CHECK_NOTHROW(ops::matmul(A, B, C));
  auto expect = [](auto&& f, const char* needle) {
    try {
      f();
      FAIL("no exception; expected one mentioning '", needle, "'");
    } catch (const ShapeError& e) {
      INFO(std::string(e.what()));
      CHECK(std::string(e.what()).find(needle) != std::string::npos);
    }
  };
  expect([&] { ops::matmul(TensorView::contiguous(a, DType::f32, {12}), B, C); }, "2-D");
  expect([&] { ops::matmul(A, TensorView::contiguous(b, DType::f32, {3, 4}), C); },
         "inner dimensions 4 and 3");
  expect([&] { ops::matmul(A, B, TensorView::contiguous(c, DType::f32, {3, 4})); }, "out shape");
  expect([&] { ops::matmul(A, TensorView::contiguous(b, DType::s8, {4, 3}), C); }, "dtypes");
  TensorView strided = A;
  strided.strides[1] = 8;
  expect([&] { ops::matmul(strided, B, C); }, "unit stride");
  expect([&] { ops::matmul(A, B, TensorView::contiguous(a, DType::f32, {3, 3})); }, "overlap");
  TensorView neg = A;
  neg.shape[0] = -2;
  expect([&] { ops::matmul(neg, B, C); }, "negative");
  expect([&] { ops::PackedB<float>(b, 2, 4, 3); }, "ldb");
}
