// tests/cpp/ml/gemm_test.cpp — the f64 GEMM micro-kernel of every ISA row against the ref row,
// and the cache-blocked GEMM / SYRK of ml/gemm.hpp against a plain triple loop: awkward shapes
// (1, primes, tile +- 1, tall, wide, k across several k blocks), every transpose, shifts,
// alpha, accumulate, triangles, guard entries past the written region.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "medkern/core/cpu.hpp"
#include "medkern/core/threading.hpp"
#include "medkern/ml/gemm.hpp"

using namespace medkern;
namespace km = medkern::kernels::ml;

namespace {

std::vector<double> normal(std::int64_t n, std::mt19937& g) {
  std::normal_distribution<double> d;
  std::vector<double> v(static_cast<std::size_t>(std::max<std::int64_t>(n, 1)));
  for (auto& x : v) x = d(g);
  return v;
}

template <class F>
void each_row(F&& f) {
  for (const auto& row : km::kRegistry) {
    if (!cpu_info().supports(row.isa)) {
      MESSAGE("skipping " << row.k.name << ": CPU lacks " << isa_name(row.isa));
      continue;
    }
    f(row.k);
  }
}

}  // namespace

TEST_CASE("ml kernels: gemm_ukr_f64 vs ref on every corner of the 8 x 24 tile") {
  const km::MlRow& ref = km::kRegistry.back().k;
  std::mt19937 g(11);
  each_row([&](const km::MlRow& k) {
    CAPTURE(k.name);
    for (std::int64_t kc : {1, 2, 7, 64, 129})
      for (std::int64_t lda : {8, 24}) {  // an A sliver of its own, or a third of a B sliver
        const auto pa = normal(kc * lda, g), pb = normal(kc * 24, g);
        for (int m : {1, 3, 7, 8})
          for (int n : {1, 5, 8, 9, 16, 17, 23, 24})
            for (bool acc : {false, true}) {
              CAPTURE(kc);
              CAPTURE(lda);
              CAPTURE(m);
              CAPTURE(n);
              CAPTURE(acc);
              constexpr std::int64_t ldc = 27;  // guard columns past 24, guard rows past m
              std::vector<double> c1(10 * ldc, 0.25), c2(10 * ldc, 0.25);
              k.gemm_ukr_f64(kc, pa.data(), lda, pb.data(), -0.5, acc, c1.data(), ldc, m, n);
              ref.gemm_ukr_f64(kc, pa.data(), lda, pb.data(), -0.5, acc, c2.data(), ldc, m, n);
              for (std::size_t i = 0; i < c1.size(); ++i)
                REQUIRE(std::fabs(c1[i] - c2[i]) <=
                        1e-12 * (1 + std::fabs(c2[i])) * std::sqrt(double(kc)));
              for (std::int64_t i = 0; i < 10; ++i)
                for (std::int64_t j = 0; j < ldc; ++j)
                  if (i >= m || j >= n) REQUIRE(c1[std::size_t(i * ldc + j)] == 0.25);
              // the reference itself against a direct sum (layout oracle)
              double s = 0;
              for (std::int64_t q = 0; q < kc; ++q)
                s += pa[std::size_t(q * lda + m - 1)] * pb[std::size_t(q * 24 + n - 1)];
              const double want = (acc ? 0.25 : 0.0) - 0.5 * s;
              const double got = c2[std::size_t((m - 1) * ldc + n - 1)];
              REQUIRE(std::fabs(got - want) <= 1e-12 * (1 + std::fabs(want)) * double(kc));
            }
      }
  });
}

TEST_CASE("ml kernels: dot_axpy8_f64 vs ref and a direct sum") {
  const km::MlRow& ref = km::kRegistry.back().k;
  std::mt19937 g(13);
  each_row([&](const km::MlRow& k) {
    CAPTURE(k.name);
    for (std::int64_t n : {0, 1, 3, 7, 8, 9, 15, 16, 17, 64, 129}) {
      CAPTURE(n);
      const std::int64_t lda = n + 3;
      const auto a = normal(8 * lda, g), x = normal(n, g), s = normal(8, g), y0 = normal(n + 2, g);
      std::vector<double> y1 = y0, y2 = y0;
      double t1[8], t2[8];
      k.dot_axpy8_f64(n, a.data(), lda, x.data(), s.data(), y1.data(), t1);
      ref.dot_axpy8_f64(n, a.data(), lda, x.data(), s.data(), y2.data(), t2);
      for (int q = 0; q < 8; ++q) {
        double want = 0;
        for (std::int64_t r = 0; r < n; ++r)
          want += a[std::size_t(q * lda + r)] * x[std::size_t(r)];
        REQUIRE(std::fabs(t2[q] - want) <= 1e-12 * (1 + std::fabs(want)) * double(n + 1));
        REQUIRE(std::fabs(t1[q] - t2[q]) <= 1e-12 * (1 + std::fabs(want)) * double(n + 1));
      }
      for (std::int64_t r = 0; r < n + 2; ++r) {
        double want = y0[std::size_t(r)];
        if (r < n)
          for (int q = 0; q < 8; ++q) want += s[std::size_t(q)] * a[std::size_t(q * lda + r)];
        REQUIRE(std::fabs(y1[std::size_t(r)] - want) <= 1e-12 * (1 + std::fabs(want)) * 8);
        REQUIRE(std::fabs(y2[std::size_t(r)] - want) <= 1e-12 * (1 + std::fabs(want)) * 8);
      }
    }
  });
}

TEST_CASE("ml gemm_f64: blocked GEMM / SYRK vs a triple loop") {
  std::mt19937 g(5);
  struct Shape {
    std::int64_t m, n, k;
  };
  // k = 300 spans three k blocks of 128; 97 x 500 crosses C blocks of 96 x 480.
  const Shape shapes[] = {{1, 1, 1},   {1, 24, 3},  {8, 1, 5},   {7, 23, 2},  {9, 25, 17},
                          {31, 13, 1}, {97, 500, 3}, {200, 7, 300}, {5, 130, 257}, {64, 64, 64}};
  const int saved = num_threads();
  for (int threads : {1, 3}) {
    set_num_threads(threads);
    each_row([&](const km::MlRow& kr) {
      CAPTURE(kr.name);
      CAPTURE(threads);
      for (const auto& s : shapes)
        for (bool ta : {false, true})
          for (bool tb : {false, true})
            for (int mode = 0; mode < 3; ++mode) {
              const std::int64_t m = s.m, n = s.n, k = s.k;
              CAPTURE(m);
              CAPTURE(n);
              CAPTURE(k);
              CAPTURE(ta);
              CAPTURE(tb);
              CAPTURE(mode);
              const auto a = normal(m * k, g), b = normal(k * n, g);
              const auto sa = normal(m, g), sb = normal(n, g);
              const bool shift = mode == 1, acc = mode != 0;
              const ml::detail::Tri tri = mode == 2 ? ml::detail::Tri::lower
                                                    : (mode == 1 ? ml::detail::Tri::upper : ml::detail::Tri::full);
              // A (m x k): row-major or stored transposed; same for B (k x n).
              const ml::detail::MatF64 av{a.data(), ta ? 1 : k, ta ? m : 1, shift ? sa.data() : nullptr};
              const ml::detail::MatF64 bv{b.data(), tb ? 1 : n, tb ? k : 1, shift ? sb.data() : nullptr};
              const std::int64_t ldc = n + 3;
              const auto c0 = normal((m + 1) * ldc, g);
              auto c = c0;
              ml::detail::gemm_f64(kr, m, n, k, 0.75, av, bv, acc, c.data(), ldc, tri);
              double err = 0;
              for (std::int64_t i = 0; i < m + 1; ++i)
                for (std::int64_t j = 0; j < ldc; ++j) {
                  const double got = c[std::size_t(i * ldc + j)];
                  if (i >= m || j >= n) {  // guard entries
                    REQUIRE(got == c0[std::size_t(i * ldc + j)]);
                    continue;
                  }
                  if ((tri == ml::detail::Tri::lower && i < j) || (tri == ml::detail::Tri::upper && i > j))
                    continue;  // outside the triangle: unspecified near the diagonal
                  double r = 0, mag = 0;
                  for (std::int64_t l = 0; l < k; ++l) {
                    const double x = av.p[i * av.rs + l * av.cs] - (shift ? sa[std::size_t(i)] : 0.0);
                    const double y = bv.p[l * bv.rs + j * bv.cs] - (shift ? sb[std::size_t(j)] : 0.0);
                    r += x * y;
                    mag += std::fabs(x * y);
                  }
                  const double want = (acc ? c0[std::size_t(i * ldc + j)] : 0.0) + 0.75 * r;
                  err = std::max(err, std::fabs(got - want) / (1 + mag));
                }
              REQUIRE(err <= 1e-13);
            }
    });
  }
  set_num_threads(saved);
}

TEST_CASE("ml gemm_f64: k = 0 and empty shapes") {
  const km::MlRow& kr = km::active_kernels();
  std::vector<double> a(4, 1.0), b(4, 1.0), c(6, 3.0);
  ml::detail::gemm_f64(kr, 2, 3, 0, 1.0, {a.data(), 1, 1}, {b.data(), 3, 1}, true, c.data(), 3);
  for (double v : c) CHECK(v == 3.0);
  ml::detail::gemm_f64(kr, 2, 3, 0, 1.0, {a.data(), 1, 1}, {b.data(), 3, 1}, false, c.data(), 3);
  for (double v : c) CHECK(v == 0.0);
  ml::detail::gemm_f64(kr, 0, 3, 4, 1.0, {a.data(), 1, 1}, {b.data(), 3, 1}, false, c.data(), 3);
  ml::detail::gemm_f64(kr, 2, 0, 4, 1.0, {a.data(), 1, 1}, {b.data(), 3, 1}, false, c.data(), 3);
}
