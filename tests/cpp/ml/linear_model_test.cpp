// tests/cpp/ml/linear_model_test.cpp — ML kernels against ref over tail sizes, ElasticNet/Lasso
// against known solutions and a plain reference coordinate descent, CV and bad input.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "medkern/core/cpu.hpp"
#include "medkern/core/threading.hpp"
#include "medkern/kernels/ml/registry.hpp"
#include "medkern/ml/cross_validation.hpp"
#include "medkern/ml/linear_model.hpp"

using namespace medkern;
namespace km = medkern::kernels::ml;

namespace {

std::vector<double> randn(std::int64_t n, std::mt19937& g) {
  std::normal_distribution<double> d;
  std::vector<double> v(static_cast<std::size_t>(std::max<std::int64_t>(n, 1)));
  for (auto& x : v) x = d(g);
  return v;
}

// Plain cyclic coordinate descent on the n-scaled problem, run to a tiny change.
std::vector<double> reference_enet(const std::vector<double>& x, const std::vector<double>& y,
                                   std::int64_t n, std::int64_t p, double alpha, double l1_ratio,
                                   bool center, bool positive, double* intercept) {
  std::vector<double> xm(static_cast<std::size_t>(p), 0.0);
  double ym = 0;
  if (center) {
    for (std::int64_t i = 0; i < n; ++i) {
      for (std::int64_t j = 0; j < p; ++j) xm[std::size_t(j)] += x[std::size_t(i * p + j)] / double(n);
      ym += y[std::size_t(i)] / double(n);
    }
  }
  std::vector<double> w(static_cast<std::size_t>(p), 0.0), r(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) r[std::size_t(i)] = y[std::size_t(i)] - ym;
  const double l1 = alpha * l1_ratio * double(n), l2 = alpha * (1 - l1_ratio) * double(n);
  for (int it = 0; it < 200000; ++it) {
    double dmax = 0;
    for (std::int64_t j = 0; j < p; ++j) {
      double rho = 0, nn = 0;
      for (std::int64_t i = 0; i < n; ++i) {
        const double xij = x[std::size_t(i * p + j)] - xm[std::size_t(j)];
        rho += xij * r[std::size_t(i)];
        nn += xij * xij;
      }
      rho += nn * w[std::size_t(j)];
      double wn = (rho > l1 ? rho - l1 : rho < -l1 ? rho + l1 : 0.0) / (nn + l2);
      if (positive && wn < 0) wn = 0;
      const double dw = wn - w[std::size_t(j)];
      if (dw != 0)
        for (std::int64_t i = 0; i < n; ++i) r[std::size_t(i)] -= dw * (x[std::size_t(i * p + j)] - xm[std::size_t(j)]);
      w[std::size_t(j)] = wn;
      dmax = std::max(dmax, std::fabs(dw));
    }
    if (dmax < 1e-15) break;
  }
  double b = ym;
  for (std::int64_t j = 0; j < p; ++j) b -= xm[std::size_t(j)] * w[std::size_t(j)];
  if (intercept) *intercept = center ? b : 0.0;
  return w;
}

// Correlated "radiomics-like" data: a few latent factors plus noise.
void make_data(std::int64_t n, std::int64_t p, std::uint32_t seed, std::vector<double>& x,
               std::vector<double>& y) {
  std::mt19937 g(seed);
  const std::int64_t f = 5;
  auto z = randn(n * f, g), l = randn(f * p, g), e = randn(n * p, g), ny = randn(n, g);
  x.assign(std::size_t(n * p), 0.0);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < p; ++j) {
      double s = 0.3 * e[std::size_t(i * p + j)] + 2.0;
      for (std::int64_t t = 0; t < f; ++t) s += z[std::size_t(i * f + t)] * l[std::size_t(t * p + j)];
      x[std::size_t(i * p + j)] = s;
    }
  y.assign(std::size_t(n), 0.0);
  for (std::int64_t i = 0; i < n; ++i) {
    y[std::size_t(i)] = 1.5 + 0.5 * ny[std::size_t(i)];
    for (std::int64_t j = 0; j < std::min<std::int64_t>(p, 4); ++j)
      y[std::size_t(i)] += (j % 2 ? -1.0 : 2.0) * x[std::size_t(i * p + j)];
  }
}

template <class F>
void for_each_row(F&& f) {
  for (const auto& row : km::kRegistry) {
    if (!cpu_info().supports(row.isa)) {
      MESSAGE("skipping " << row.k.name << ": CPU lacks " << isa_name(row.isa));
      continue;
    }
    f(row.k);
  }
}

}  // namespace

TEST_CASE("ml kernels: dot, axpy, gram_tile, gemm_nn, gemm_tn_acc vs ref") {
  const km::MlRow& ref = km::kRegistry.back().k;
  std::mt19937 g(7);
  for_each_row([&](const km::MlRow& k) {
    CAPTURE(k.name);
    for (std::int64_t n : {0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100, 257}) {
      CAPTURE(n);
      auto x = randn(n + 1, g), y = randn(n + 1, g);
      // misaligned by one element
      const double d = k.dot_f64(x.data() + 1, y.data() + 1, n);
      const double dr = ref.dot_f64(x.data() + 1, y.data() + 1, n);
      CHECK(std::fabs(d - dr) <= 1e-12 * (1 + std::fabs(dr)) * std::sqrt(double(n + 1)));
      std::vector<float> xf(x.begin(), x.end()), yf(y.begin(), y.end());
      const float df = k.dot_f32(xf.data() + 1, yf.data() + 1, n);
      CHECK(std::fabs(double(df) - dr) <= 1e-4 * (1 + std::fabs(dr)) * std::sqrt(double(n + 1)));
      auto y1 = y, y2 = y;
      y1.push_back(42.0);
      y2.push_back(42.0);
      k.axpy_f64(0.75, x.data(), y1.data(), n);
      ref.axpy_f64(0.75, x.data(), y2.data(), n);
      for (std::size_t i = 0; i < y1.size(); ++i) CHECK(std::fabs(y1[i] - y2[i]) <= 1e-14 * (1 + std::fabs(y2[i])));
      CHECK(y1.back() == 42.0);  // guard element untouched
      std::vector<float> f1(yf), f2(yf);
      k.axpy_f32(0.75f, xf.data(), f1.data(), n);
      ref.axpy_f32(0.75f, xf.data(), f2.data(), n);
      for (std::size_t i = 0; i < f1.size(); ++i) CHECK(std::fabs(f1[i] - f2[i]) <= 1e-5f * (1 + std::fabs(f2[i])));
    }
    for (std::int64_t kc : {1, 5, 32}) {
      for (int nb = 1; nb <= 3; ++nb) {
        auto pa = randn(kc * 8, g), pb = randn(3 * kc * 8, g);
        std::vector<double> c1(8 * 24, 1.0), c2(8 * 24, 1.0);
        k.gram_tile_f64(pa.data(), pb.data(), kc, nb, c1.data(), 24);
        ref.gram_tile_f64(pa.data(), pb.data(), kc, nb, c2.data(), 24);
        for (std::size_t i = 0; i < c1.size(); ++i) CHECK(std::fabs(c1[i] - c2[i]) <= 1e-12 * (1 + std::fabs(c2[i])));
        std::vector<float> paf(pa.begin(), pa.end()), pbf(pb.begin(), pb.end()), g1(8 * 24, 1.f), g2(8 * 24, 1.f);
        k.gram_tile_f32(paf.data(), pbf.data(), kc, nb, g1.data(), 24);
        ref.gram_tile_f32(paf.data(), pbf.data(), kc, nb, g2.data(), 24);
        for (std::size_t i = 0; i < g1.size(); ++i) CHECK(std::fabs(g1[i] - g2[i]) <= 1e-4f * (1 + std::fabs(g2[i])));
      }
    }
    for (std::int64_t m : {1, 3, 4, 9}) {
      for (std::int64_t kk : {1, 5, 17}) {
        for (std::int64_t nn : {8, 16, 24, 32, 40, 72}) {
          CAPTURE(m);
          CAPTURE(kk);
          CAPTURE(nn);
          auto a = randn(m * kk, g), b = randn(kk * nn, g), pm = randn(m * nn, g);
          std::vector<double> c1(static_cast<std::size_t>(m * nn)), c2(static_cast<std::size_t>(m * nn));
          k.gemm_nn_f64(m, kk, a.data(), kk, b.data(), nn, nn, c1.data(), nn);
          ref.gemm_nn_f64(m, kk, a.data(), kk, b.data(), nn, nn, c2.data(), nn);
          for (std::size_t i = 0; i < c1.size(); ++i) CHECK(std::fabs(c1[i] - c2[i]) <= 1e-12 * (1 + std::fabs(c2[i])));
          std::vector<double> w1(static_cast<std::size_t>(kk * nn), 0.5), w2(static_cast<std::size_t>(kk * nn), 0.5);
          k.gemm_tn_acc_f64(m, kk, a.data(), kk, pm.data(), nn, nn, w1.data(), nn);
          ref.gemm_tn_acc_f64(m, kk, a.data(), kk, pm.data(), nn, nn, w2.data(), nn);
          for (std::size_t i = 0; i < w1.size(); ++i) CHECK(std::fabs(w1[i] - w2[i]) <= 1e-12 * (1 + std::fabs(w2[i])));
        }
      }
    }
  });
}

TEST_CASE("lasso: orthogonal design has the soft-threshold solution (dense and Gram)") {
  // Columns of a 8x4 Hadamard block: X^T X = 8 I, no intercept.
  const double H[8][4] = {{1, 1, 1, 1},   {1, -1, 1, -1}, {1, 1, -1, -1}, {1, -1, -1, 1},
                          {1, 1, 1, 1},   {1, -1, 1, -1}, {1, 1, -1, -1}, {1, -1, -1, 1}};
  std::vector<double> x(32), y = {3, -1, 2, 0.5, 1, 4, -2, 0};
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 4; ++j) x[std::size_t(i * 4 + j)] = H[i][j];
  for (auto pre : {ml::Precompute::no, ml::Precompute::yes}) {
    ml::EnetOptions o;
    o.fit_intercept = false;
    o.precompute = pre;
    o.tol = 1e-12;
    const double alpha = 0.4;
    const auto r = ml::enet_fit<double>(x.data(), y.data(), 8, 4, alpha, o);
    CHECK(r.used_gram == (pre == ml::Precompute::yes));
    for (int j = 0; j < 4; ++j) {
      double z = 0;
      for (int i = 0; i < 8; ++i) z += H[i][j] * y[std::size_t(i)];
      z /= 8;
      const double want = z > alpha ? z - alpha : z < -alpha ? z + alpha : 0.0;
      CHECK(r.coefs[std::size_t(j)] == doctest::Approx(want).epsilon(1e-12));
    }
    CHECK(r.converged[0]);
  }
}

TEST_CASE("enet: path matches a reference coordinate descent (dense, Gram, positive, l1_ratio)") {
  for (auto [n, p] : {std::pair<std::int64_t, std::int64_t>{40, 120}, {150, 30}}) {
    std::vector<double> x, y;
    make_data(n, p, 11, x, y);
    for (double l1 : {1.0, 0.5}) {
      for (bool positive : {false, true}) {
        for (auto pre : {ml::Precompute::automatic, ml::Precompute::no, ml::Precompute::yes}) {
          CAPTURE(n);
          CAPTURE(l1);
          CAPTURE(positive);
          ml::EnetOptions o;
          o.l1_ratio = l1;
          o.positive = positive;
          o.precompute = pre;
          o.tol = 1e-12;
          o.max_iter = 100000;
          const auto path = ml::enet_path<double>(x.data(), y.data(), n, p, {}, o, 12, 1e-2);
          REQUIRE(path.alphas.size() == 12);
          for (std::size_t a = 0; a < path.alphas.size(); a += 5) {
            double b = 0;
            const auto w = reference_enet(x, y, n, p, path.alphas[a], l1, true, positive, &b);
            double scale = 1e-9;
            for (double v : w) scale = std::max(scale, std::fabs(v));
            for (std::int64_t j = 0; j < p; ++j)
              CHECK(std::fabs(path.coefs[a * std::size_t(p) + std::size_t(j)] - w[std::size_t(j)]) <= 1e-6 * scale);
            CHECK(std::fabs(path.intercepts[a] - b) <= 1e-6 * (1 + std::fabs(b)));
          }
          // alpha_max gives the zero solution
          for (std::int64_t j = 0; j < p; ++j) CHECK(std::fabs(path.coefs[std::size_t(j)]) <= 1e-12);
        }
      }
    }
  }
}

TEST_CASE("enet: float32 and random selection converge to the float64 solution") {
  std::vector<double> x, y;
  make_data(60, 25, 3, x, y);
  std::vector<float> xf(x.begin(), x.end()), yf(y.begin(), y.end());
  ml::EnetOptions o;
  o.tol = 1e-8;
  const auto r64 = ml::enet_fit<double>(x.data(), y.data(), 60, 25, 0.05, o);
  const auto r32 = ml::enet_fit<float>(xf.data(), yf.data(), 60, 25, 0.05, o);
  o.tol = 1e-12;
  o.max_iter = 200000;
  const auto rc = ml::enet_fit<double>(x.data(), y.data(), 60, 25, 0.05, o);
  o.selection = ml::Selection::random;
  o.seed = 5;
  const auto rr = ml::enet_fit<double>(x.data(), y.data(), 60, 25, 0.05, o);
  CHECK(rr.converged[0]);
  CHECK(rc.converged[0]);
  for (int j = 0; j < 25; ++j) {
    CHECK(std::fabs(double(r32.coefs[std::size_t(j)]) - r64.coefs[std::size_t(j)]) <= 2e-3);
    CHECK(std::fabs(rr.coefs[std::size_t(j)] - rc.coefs[std::size_t(j)]) <= 1e-8);
  }
}

TEST_CASE("enet_cv: kfold layout, chosen alpha minimises mean MSE, thread-count independent") {
  const auto folds = ml::kfold(10, 3);
  CHECK(folds[0].test.size() == 4);
  CHECK(folds[1].test.size() == 3);
  CHECK(folds[2].test.front() == 7);
  std::vector<double> x, y;
  make_data(90, 40, 5, x, y);
  ml::EnetCvOptions o;
  o.enet.tol = 1e-8;
  o.n_alphas = 30;
  const auto f5 = ml::kfold(90, 5);
  const int saved = num_threads();
  set_num_threads(1);
  const auto r1 = ml::enet_cv<double>(x.data(), y.data(), 90, 40, f5, o);
  set_num_threads(2);
  const auto r2 = ml::enet_cv<double>(x.data(), y.data(), 90, 40, f5, o);
  set_num_threads(saved);
  CHECK(r1.mse_path == r2.mse_path);
  CHECK(r1.alpha == r2.alpha);
  double best = 1e300;
  std::int64_t ib = -1;
  for (std::int64_t a = 0; a < r1.n_alphas; ++a) {
    double m = 0;
    for (std::int64_t f = 0; f < 5; ++f) m += r1.mse_path[std::size_t(f * r1.n_alphas + a)];
    if (m / 5 < best) {
      best = m / 5;
      ib = a;
    }
  }
  CHECK(ib == r1.best_alpha_index);
  CHECK(r1.alpha == r1.alphas[0][std::size_t(ib)]);
  o.l1_ratios = {0.3, 0.9};
  const auto r3 = ml::enet_cv<double>(x.data(), y.data(), 90, 40, f5, o);
  CHECK(r3.alphas.size() == 2);
  CHECK(r3.mse_path.size() == 2 * 5 * 30);
}

TEST_CASE("enet: bad input names the op, the value and the rule") {
  std::vector<double> x(20, 1.0), y(5, 1.0);
  ml::EnetOptions o;
  CHECK_THROWS_WITH_AS(ml::enet_fit<double>(x.data(), y.data(), 5, 4, -1.0, o),
                       "elastic_net: alpha -1 must be finite and >= 0", ShapeError);
  x[6] = std::nan("");
  CHECK_THROWS_AS(ml::enet_fit<double>(x.data(), y.data(), 5, 4, 1.0, o), ShapeError);
  x[6] = 1.0;
  o.l1_ratio = 1.5;
  CHECK_THROWS_WITH_AS(ml::enet_fit<double>(x.data(), y.data(), 5, 4, 1.0, o),
                       "enet_path: l1_ratio 1.5 must be in [0, 1]", ShapeError);
  o.l1_ratio = 1.0;
  o.max_iter = 0;
  CHECK_THROWS_AS(ml::enet_fit<double>(x.data(), y.data(), 5, 4, 1.0, o), ShapeError);
  CHECK_THROWS_AS(ml::enet_fit<double>(x.data(), y.data(), 0, 4, 1.0, {}), ShapeError);
  CHECK_THROWS_WITH_AS(ml::kfold(3, 5), "kfold: n_splits 5 must be <= n_samples 3 (every fold needs a test sample)", ShapeError);
  std::vector<ml::Fold> bad{{{0, 1, 2}, {9}}};
  CHECK_THROWS_AS(ml::enet_cv<double>(x.data(), y.data(), 5, 4, bad, {}), ShapeError);
  o.max_iter = 1000;
  o.l1_ratio = 0.0;
  CHECK_THROWS_AS(ml::enet_path<double>(x.data(), y.data(), 5, 4, {}, o), ShapeError);
  // all-zero y: alpha_max below resolution, grid of 1e-15 and zero coefficients
  std::vector<double> z(5, 0.0);
  std::mt19937 g(1);
  auto xr = randn(20, g);
  const auto pz = ml::enet_path<double>(xr.data(), z.data(), 5, 4, {}, {}, 3);
  CHECK(pz.alphas[0] == 1e-15);
  for (double c : pz.coefs) CHECK(c == 0.0);
}
