// tests/cpp/ml/pca_test.cpp — PCA solvers against Eigen's reference decompositions, the sign
// rule, randomized recovery of a low-rank matrix, bad input.
#include <doctest/doctest.h>

#include <Eigen/Dense>

#include <cmath>
#include <random>
#include <vector>

#include "medkern/ml/pca.hpp"

using namespace medkern;

namespace {

std::vector<double> data(std::int64_t n, std::int64_t p, std::uint32_t seed, double decay = 0.8) {
  std::mt19937 g(seed);
  std::normal_distribution<double> d;
  std::vector<double> x(static_cast<std::size_t>(n * p));
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < p; ++j) x[std::size_t(i * p + j)] = d(g) * std::pow(decay, double(j)) + 0.5 * double(j);
  return x;
}

// Reference: Eigen's JacobiSVD of the centered data.
void reference(const std::vector<double>& x, std::int64_t n, std::int64_t p,
               Eigen::VectorXd& s, Eigen::MatrixXd& v) {
  Eigen::MatrixXd a(n, p);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < p; ++j) a(i, j) = x[std::size_t(i * p + j)];
  a.rowwise() -= a.colwise().mean();
  Eigen::JacobiSVD<Eigen::MatrixXd> svd(a, Eigen::ComputeThinV);
  s = svd.singularValues();
  v = svd.matrixV();
}

void check_against_reference(const ml::PcaResult& r, const std::vector<double>& x, std::int64_t n,
                             std::int64_t p, std::int64_t k, double tol) {
  Eigen::VectorXd s;
  Eigen::MatrixXd v;
  reference(x, n, p, s, v);
  for (std::int64_t i = 0; i < k; ++i) {
    CAPTURE(i);
    CHECK(r.singular_values[std::size_t(i)] == doctest::Approx(s(i)).epsilon(tol));
    CHECK(r.explained_variance[std::size_t(i)] == doctest::Approx(s(i) * s(i) / double(n - 1)).epsilon(tol));
    // same direction up to sign, and the sign rule: largest |entry| positive
    double dot = 0, mx = 0, mxv = 0;
    for (std::int64_t j = 0; j < p; ++j) {
      const double c = r.components[std::size_t(i * p + j)];
      dot += c * v(j, i);
      if (std::fabs(c) > mx) {
        mx = std::fabs(c);
        mxv = c;
      }
    }
    CHECK(std::fabs(std::fabs(dot) - 1.0) <= 1e3 * tol);
    CHECK(mxv > 0);
  }
}

}  // namespace

TEST_CASE("pca: sym_eigh matches Eigen's SelfAdjointEigenSolver") {
  for (std::int64_t n : {1, 2, 7, 33, 100}) {
    std::mt19937 g{static_cast<std::uint32_t>(n)};
    std::normal_distribution<double> d;
    Eigen::MatrixXd a(n, n);
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = 0; j < n; ++j) a(i, j) = d(g);
    a = (a + a.transpose()).eval();
    std::vector<double> buf(a.data(), a.data() + n * n), w, vt;
    ml::detail::sym_eigh(n, buf, w, vt);
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(a);
    for (std::int64_t i = 0; i < n; ++i) {
      CHECK(w[std::size_t(i)] == doctest::Approx(es.eigenvalues()(n - 1 - i)).epsilon(1e-10).scale(a.norm()));
      // A v = lambda v
      Eigen::Map<Eigen::VectorXd> vi(vt.data() + i * n, n);
      CHECK((a * vi - w[std::size_t(i)] * vi).norm() <= 1e-10 * a.norm());
      CHECK(vi.norm() == doctest::Approx(1.0).epsilon(1e-12));
    }
  }
}

namespace {

// A = O diag(lam) O^T with a random orthogonal O.
Eigen::MatrixXd with_spectrum(const Eigen::VectorXd& lam, std::uint32_t seed) {
  const auto n = lam.size();
  std::mt19937 g(seed);
  std::normal_distribution<double> d;
  Eigen::MatrixXd r(n, n);
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index j = 0; j < n; ++j) r(i, j) = d(g);
  Eigen::HouseholderQR<Eigen::MatrixXd> qr(r);
  const Eigen::MatrixXd o = qr.householderQ();
  return o * lam.asDiagonal() * o.transpose();
}

// sym_eigh against Eigen: eigenvalues, residual, orthogonality, descending order.
void check_eigh(const Eigen::MatrixXd& a) {
  const std::int64_t n = a.rows();
  std::vector<double> buf(a.data(), a.data() + n * n), w, vt;
  ml::detail::sym_eigh(n, buf, w, vt);
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(a, Eigen::EigenvaluesOnly);
  const double an = std::max(a.cwiseAbs().maxCoeff(), 1e-300);
  Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> v(vt.data(), n, n);
  Eigen::Map<const Eigen::VectorXd> wv(w.data(), n);
  const double tol = 1e-13 * double(std::max<std::int64_t>(n, 10));
  for (std::int64_t i = 0; i < n; ++i) {
    CAPTURE(i);
    CHECK(std::fabs(w[std::size_t(i)] - es.eigenvalues()(n - 1 - i)) <= tol * an);
    if (i > 0) CHECK(w[std::size_t(i)] <= w[std::size_t(i - 1)]);
  }
  const double orth = (v * v.transpose() - Eigen::MatrixXd::Identity(n, n)).cwiseAbs().maxCoeff();
  const double res = (a * v.transpose() - v.transpose() * wv.asDiagonal()).cwiseAbs().maxCoeff();
  CHECK(orth <= tol);
  CHECK(res <= tol * an);
}

}  // namespace

TEST_CASE("pca: sym_eigh on clustered, repeated, graded and block spectra") {
  // Sizes around the divide-and-conquer leaf (32), the panel width (32) and the parallel
  // split (256).
  for (std::int64_t n : {3, 31, 32, 33, 65, 130, 257, 300}) {
    CAPTURE(n);
    std::mt19937 g{static_cast<std::uint32_t>(n + 7)};
    std::normal_distribution<double> d;
    Eigen::VectorXd lam(n);
    // random
    for (std::int64_t i = 0; i < n; ++i) lam(i) = d(g);
    check_eigh(with_spectrum(lam, 1));
    // a tight cluster (relative width 1e-10) beside a few large values
    for (std::int64_t i = 0; i < n; ++i) lam(i) = i < n / 10 ? 10 + d(g) : 1.0 + 1e-10 * double(i);
    check_eigh(with_spectrum(lam, 2));
    // three eigenvalues, each repeated about n / 3 times
    for (std::int64_t i = 0; i < n; ++i) lam(i) = i % 3 == 0 ? 2.0 : (i % 3 == 1 ? -1.0 : 5.0);
    check_eigh(with_spectrum(lam, 3));
    // graded over 12 orders of magnitude (a covariance of nearly collinear features)
    for (std::int64_t i = 0; i < n; ++i) lam(i) = std::pow(10.0, -12.0 * double(i) / double(n));
    check_eigh(with_spectrum(lam, 4));
    // rank deficient: half the spectrum exactly zero
    for (std::int64_t i = 0; i < n; ++i) lam(i) = i < n / 2 ? 0.0 : 1.0 + d(g) * d(g);
    check_eigh(with_spectrum(lam, 5));
    // already diagonal with repeats (the tridiagonal has zero couplings)
    Eigen::MatrixXd diag = Eigen::MatrixXd::Zero(n, n);
    for (std::int64_t i = 0; i < n; ++i) diag(i, i) = double(i % 4);
    check_eigh(diag);
    // Wilkinson-type tridiagonal: pairs of eigenvalues agreeing to many digits
    Eigen::MatrixXd wk = Eigen::MatrixXd::Zero(n, n);
    for (std::int64_t i = 0; i < n; ++i) {
      wk(i, i) = std::fabs(double(i) - double(n - 1) / 2.0);
      if (i + 1 < n) wk(i, i + 1) = wk(i + 1, i) = 1.0;
    }
    check_eigh(wk);
    // zero matrix: every merge deflates completely
    check_eigh(Eigen::MatrixXd::Zero(n, n));
  }
}

TEST_CASE("pca: covariance_eigh, gram_eigh and svd agree with a reference SVD") {
  const std::int64_t n = 200, p = 37;
  const auto x = data(n, p, 1);
  for (auto s : {ml::PcaSolver::covariance_eigh, ml::PcaSolver::svd, ml::PcaSolver::automatic}) {
    ml::PcaOptions o;
    o.solver = s;
    const auto r = ml::pca_fit<double>(x.data(), n, p, o);
    CHECK(r.n_components == p);
    check_against_reference(r, x, n, p, 20, 1e-8);
  }
  // wide data: gram_eigh on the rows
  const std::int64_t n2 = 30, p2 = 90;
  const auto x2 = data(n2, p2, 2, 0.97);
  ml::PcaOptions o;
  const auto r2 = ml::pca_fit<double>(x2.data(), n2, p2, o);
  CHECK(r2.solver == ml::PcaSolver::gram_eigh);
  CHECK(r2.n_components == n2);
  check_against_reference(r2, x2, n2, p2, 20, 1e-7);
  // float32 input is computed in double
  std::vector<float> xf(x.begin(), x.end());
  std::vector<double> xd(xf.begin(), xf.end());
  const auto rf = ml::pca_fit<float>(xf.data(), n, p, {});
  check_against_reference(rf, xd, n, p, 10, 1e-8);
}

TEST_CASE("pca: randomized recovers the components of a low-rank matrix, both orientations") {
  for (auto [n, p] : {std::pair<std::int64_t, std::int64_t>{300, 60}, {40, 150}}) {
    std::mt19937 g(3);
    std::normal_distribution<double> d;
    const std::int64_t rank = 6;
    std::vector<double> u(static_cast<std::size_t>(n * rank)), v(static_cast<std::size_t>(rank * p)), x(static_cast<std::size_t>(n * p), 0.0);
    for (auto& t : u) t = d(g);
    for (auto& t : v) t = d(g);
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = 0; j < p; ++j)
        for (std::int64_t t = 0; t < rank; ++t)
          x[std::size_t(i * p + j)] += u[std::size_t(i * rank + t)] * v[std::size_t(t * p + j)] * double(rank - t);
    ml::PcaOptions o;
    o.solver = ml::PcaSolver::randomized;
    o.n_components = 4;
    o.seed = 9;
    const auto r = ml::pca_fit<double>(x.data(), n, p, o);
    CHECK(r.n_components == 4);
    check_against_reference(r, x, n, p, 4, 1e-9);
  }
}

TEST_CASE("pca: bad input") {
  std::vector<double> x(12, 1.0);
  ml::PcaOptions o;
  o.solver = ml::PcaSolver::randomized;
  o.n_components = 5;
  CHECK_THROWS_WITH_AS(ml::pca_fit<double>(x.data(), 4, 3, o),
                       "pca: n_components 5 must be in [1, min(n_samples, n_features) = 3] for the randomized solver",
                       ShapeError);
  x[4] = INFINITY;
  CHECK_THROWS_AS(ml::pca_fit<double>(x.data(), 4, 3, {}), ShapeError);
  CHECK_THROWS_AS(ml::pca_fit<double>(x.data(), 0, 3, {}), ShapeError);
}
