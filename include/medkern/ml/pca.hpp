// medkern/ml/pca.hpp — PCA (scikit-learn's semantics): full by covariance eigendecomposition or
// SVD, randomized SVD with power iterations; sklearn's sign rule (svd_flip on the rows of Vt).
//
// Full solvers (all components):
//   * covariance_eigh — C = Xc^T Xc / (n - 1) (packed-panel Gram kernel, centering folded into
//     packing), then the symmetric eigensolver of eigh.hpp (blocked Householder
//     tridiagonalization, divide and conquer, blocked WY back-transformation). Used when p <= n.
//   * gram_eigh — for p > n the same on the n x n row Gram matrix, Vt = U^T Xc / S.
//   * svd — Eigen's BDCSVD of Xc (exact for tiny singular values; slower).
// Randomized (sklearn's randomized_svd: n_oversamples, n_iter 'auto' = 7 if k < 0.1 min(n, p)
// else 4, transpose when n < p): the Gaussian start matrix is an input so results reproduce
// sklearn's given its draw. Difference: the power iteration is normalized by QR once per
// M^T M product (sklearn: LU after each of the two products); the iterates span the same
// subspace, so the result agrees to rounding. Centering is implicit (X is never copied):
// Xc Q = X Q - 1 (mean^T Q), Xc^T P = X^T P - mean (1^T P).
#pragma once

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <type_traits>
#include <string>
#include <vector>

#include "medkern/core/error.hpp"
#include "medkern/core/threading.hpp"
#include "medkern/kernels/ml/registry.hpp"
#include "medkern/ml/eigh.hpp"
#include "medkern/ml/gram.hpp"

namespace medkern::ml {

enum class PcaSolver { automatic, covariance_eigh, gram_eigh, svd, randomized };

inline const char* pca_solver_name(PcaSolver s) {
  switch (s) {
    case PcaSolver::automatic: return "auto";
    case PcaSolver::covariance_eigh: return "covariance_eigh";
    case PcaSolver::gram_eigh: return "gram_eigh";
    case PcaSolver::svd: return "svd";
    case PcaSolver::randomized: return "randomized";
  }
  return "?";
}

struct PcaOptions {
  PcaSolver solver = PcaSolver::automatic;
  std::int64_t n_components = -1;  ///< randomized: required; full solvers compute all
  std::int64_t n_oversamples = 10;
  std::int64_t n_iter = -1;        ///< -1: sklearn's 'auto'
  const double* omega = nullptr;   ///< randomized start, (n or p) x (k + oversamples), row-major
  std::uint64_t seed = 0;          ///< used when omega is null
};

/// Components are rows (k x p, row-major); all arrays double.
struct PcaResult {
  std::int64_t n_samples = 0, n_features = 0, n_components = 0;
  PcaSolver solver = PcaSolver::automatic;
  std::vector<double> mean, components, explained_variance, singular_values;
  double total_var = 0;  ///< sum of all feature variances (ddof 1)
};

namespace detail {

using medkern::detail::throw_shape;

/// Eigen-decomposition of a symmetric n x n matrix (row-major `a`, overwritten): eigenvalues
/// descending in `w`; eigenvectors as rows of `vt` (n x n row-major). See eigh.hpp.
inline void sym_eigh(std::int64_t n, std::vector<double>& a, std::vector<double>& w,
                     std::vector<double>& vt) {
  eigh::sym_eigh(n, a.data(), w, vt);
}

/// Column means (double) of row-major X.
template <class T>
void column_means(const T* x, std::int64_t n, std::int64_t p, std::vector<double>& mean) {
  const std::int64_t chunks = std::max<std::int64_t>(1, std::min<std::int64_t>(n / 64, 4 * num_threads()));
  std::vector<std::vector<double>> part(static_cast<std::size_t>(chunks), std::vector<double>(std::size_t(p), 0.0));
  parallel_tasks(chunks, [&](std::int64_t c) {
    const std::int64_t b = n * c / chunks, e = n * (c + 1) / chunks;
    auto& s = part[std::size_t(c)];
    for (std::int64_t i = b; i < e; ++i)
      for (std::int64_t j = 0; j < p; ++j) s[std::size_t(j)] += double(x[i * p + j]);
  });
  mean.assign(std::size_t(p), 0.0);
  for (const auto& s : part)
    for (std::int64_t j = 0; j < p; ++j) mean[std::size_t(j)] += s[std::size_t(j)];
  for (auto& m : mean) m /= double(n);
}

/// Total variance (sum of the column variances, ddof 1) of row-major X around `mean`.
template <class T>
double total_variance(const T* x, std::int64_t n, std::int64_t p, const std::vector<double>& mean) {
  const std::int64_t chunks = std::max<std::int64_t>(1, std::min<std::int64_t>(n / 64, 4 * num_threads()));
  std::vector<double> part(static_cast<std::size_t>(chunks), 0.0);
  parallel_tasks(chunks, [&](std::int64_t c) {
    const std::int64_t b = n * c / chunks, e = n * (c + 1) / chunks;
    std::vector<double> s(static_cast<std::size_t>(p), 0.0);
    for (std::int64_t i = b; i < e; ++i)
      for (std::int64_t j = 0; j < p; ++j) {
        const double v = double(x[i * p + j]) - mean[std::size_t(j)];
        s[std::size_t(j)] += v * v;
      }
    double t = 0;
    for (double v : s) t += v;
    part[std::size_t(c)] = t;
  });
  double tv = 0;
  for (double v : part) tv += v;
  return n > 1 ? tv / double(n - 1) : 0.0;
}

/// Column means (double) and total variance (ddof 1) of row-major X.
template <class T>
void column_stats(const T* x, std::int64_t n, std::int64_t p, std::vector<double>& mean,
                  double& total_var) {
  column_means(x, n, p, mean);
  total_var = total_variance(x, n, p, mean);
}

/// sklearn's svd_flip(u_based_decision=False): each row of vt gets the sign making its
/// largest-magnitude entry (first one on ties) positive.
inline void flip_rows(std::vector<double>& vt, std::int64_t k, std::int64_t p) {
  parallel_for_1d(k, std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(p, 1)),
                  [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      double* v = vt.data() + r * p;
      std::int64_t am = 0;
      for (std::int64_t j = 1; j < p; ++j)
        if (std::fabs(v[j]) > std::fabs(v[am])) am = j;
      if (v[am] < 0)
        for (std::int64_t j = 0; j < p; ++j) v[j] = -v[j];
    }
  });
}

/// Row-major double copy of X - mean.
template <class T>
std::vector<double> centered(const T* x, std::int64_t n, std::int64_t p,
                             const std::vector<double>& mean) {
  std::vector<double> c(static_cast<std::size_t>(n * p));
  parallel_for_1d(n, 64, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i)
      for (std::int64_t j = 0; j < p; ++j) c[std::size_t(i * p + j)] = double(x[i * p + j]) - mean[std::size_t(j)];
  });
  return c;
}

/// Tall-skinny products with the implicitly centered data Xc = X - 1 mean^T (X row-major
/// double n x p; r columns padded to rp, a multiple of 8):
///   xc_q:   P[n x rp] = Xc Q[p x rp]
///   xct_p:  W[p x rp] = Xc^T P[n x rp]
///   fused:  W = Xc^T (Xc Q) in one pass over X
struct TallSkinny {
  const double* x;
  std::int64_t n, p, rp;
  const std::vector<double>& mean;
  const kernels::ml::MlRow& k;

  std::vector<double> mean_dot(const double* q) const {  // mean^T Q (rp)
    std::vector<double> c(static_cast<std::size_t>(rp), 0.0);
    for (std::int64_t j = 0; j < p; ++j)
      for (std::int64_t l = 0; l < rp; ++l) c[std::size_t(l)] += mean[std::size_t(j)] * q[j * rp + l];
    return c;
  }

  void xc_q(const double* q, double* out) const {
    const auto c = mean_dot(q);
    parallel_for_1d(n, 32, [&](std::int64_t b, std::int64_t e) {
      k.gemm_nn_f64(e - b, p, x + b * p, p, q, rp, rp, out + b * rp, rp);
      for (std::int64_t i = b; i < e; ++i)
        for (std::int64_t l = 0; l < rp; ++l) out[i * rp + l] -= c[std::size_t(l)];
    });
  }

  /// W = Xc^T P, or with `q` given, W = Xc^T (Xc Q) computing P strip by strip.
  void xct_p(const double* pin, const double* q, double* w) const {
    const std::int64_t chunks = std::max<std::int64_t>(1, std::min<std::int64_t>(n / 64, 2 * num_threads()));
    std::vector<std::vector<double>> part(static_cast<std::size_t>(chunks));
    std::vector<std::vector<double>> colsum(static_cast<std::size_t>(chunks));
    std::vector<double> c;
    if (q) c = mean_dot(q);
    parallel_tasks(chunks, [&](std::int64_t ch) {
      const std::int64_t b = n * ch / chunks, e = n * (ch + 1) / chunks;
      auto& wp = part[std::size_t(ch)];
      auto& cs = colsum[std::size_t(ch)];
      wp.assign(std::size_t(p * rp), 0.0);
      cs.assign(std::size_t(rp), 0.0);
      constexpr std::int64_t kStrip = 16;
      std::vector<double> strip(static_cast<std::size_t>(kStrip * rp));
      for (std::int64_t i0 = b; i0 < e; i0 += kStrip) {
        const std::int64_t m = std::min(kStrip, e - i0);
        const double* ps;
        if (q) {
          k.gemm_nn_f64(m, p, x + i0 * p, p, q, rp, rp, strip.data(), rp);
          for (std::int64_t i = 0; i < m; ++i)
            for (std::int64_t l = 0; l < rp; ++l) strip[std::size_t(i * rp + l)] -= c[std::size_t(l)];
          ps = strip.data();
        } else {
          ps = pin + i0 * rp;
        }
        k.gemm_tn_acc_f64(m, p, x + i0 * p, p, ps, rp, rp, wp.data(), rp);
        for (std::int64_t i = 0; i < m; ++i)
          for (std::int64_t l = 0; l < rp; ++l) cs[std::size_t(l)] += ps[i * rp + l];
      }
    });
    std::fill(w, w + p * rp, 0.0);
    std::vector<double> s(static_cast<std::size_t>(rp), 0.0);
    for (std::int64_t ch = 0; ch < chunks; ++ch) {
      const auto& wp = part[std::size_t(ch)];
      for (std::int64_t i = 0; i < p * rp; ++i) w[i] += wp[std::size_t(i)];
      for (std::int64_t l = 0; l < rp; ++l) s[std::size_t(l)] += colsum[std::size_t(ch)][std::size_t(l)];
    }
    for (std::int64_t j = 0; j < p; ++j)
      for (std::int64_t l = 0; l < rp; ++l) w[j * rp + l] -= mean[std::size_t(j)] * s[std::size_t(l)];
  }
};

/// Orthonormal basis of the first r columns of a (m x rp row-major), written back in place.
inline void orthonormalize(std::vector<double>& a, std::int64_t m, std::int64_t r, std::int64_t rp) {
  using Mat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
  Mat A(m, r);
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t l = 0; l < r; ++l) A(i, l) = a[std::size_t(i * rp + l)];
  Eigen::HouseholderQR<Mat> qr(A);
  Mat Q = qr.householderQ() * Mat::Identity(m, r);
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t l = 0; l < rp; ++l) a[std::size_t(i * rp + l)] = l < r ? Q(i, l) : 0.0;
}

}  // namespace detail

/// Fits PCA on row-major X (n x p). Full solvers return all min(n, p) components; randomized
/// returns n_components.
template <class T>
PcaResult pca_fit(const T* x, std::int64_t n, std::int64_t p, const PcaOptions& o = {}) {
  using detail::throw_shape;
  if (n < 1 || p < 1) throw_shape("pca: X shape (", n, ", ", p, ") must have n_samples >= 1 and n_features >= 1");
  medkern::detail::checked_mul(n, p, "pca");
  PcaResult r;
  r.n_samples = n;
  r.n_features = p;
  // A NaN or infinity makes its column sum non-finite: only then look for it (one pass less).
  detail::column_means(x, n, p, r.mean);
  if (!std::all_of(r.mean.begin(), r.mean.end(), [](double m) { return std::isfinite(m); }))
    for (std::int64_t i = 0; i < n * p; ++i)
      if (!std::isfinite(double(x[i])))
        throw_shape("pca: X contains NaN or infinity at (", i / p, ", ", i % p, ")");
  const std::int64_t kmax = std::min(n, p);
  PcaSolver s = o.solver;
  if (s == PcaSolver::automatic) s = p <= n ? PcaSolver::covariance_eigh : PcaSolver::gram_eigh;
  r.solver = s;
  const double dof = n > 1 ? double(n - 1) : 1.0;
  if (s == PcaSolver::covariance_eigh) {
    std::vector<double> meanT(r.mean.begin(), r.mean.end());
    detail::Scratch g(p * p);  // pooled: the 8 MB of a 1000-feature covariance are not faulted in
    if constexpr (std::is_same_v<T, double>) {
      detail::gram<double>(x, p, n, p, nullptr, meanT.data(), g.data());
    } else {
      const auto xc = detail::centered(x, n, p, r.mean);
      detail::gram<double>(xc.data(), p, n, p, nullptr, nullptr, g.data());
    }
    // The eigensolver rescales its input anyway: the 1 / (n - 1) goes on the eigenvalues.
    r.total_var = 0;  // the trace of the covariance matrix
    for (std::int64_t j = 0; j < p; ++j) r.total_var += g[j * p + j] / dof;
    std::vector<double> w, vt;
    detail::eigh::sym_eigh(p, g.data(), w, vt);
    for (auto& v : w) v /= dof;
    r.n_components = kmax;
    r.explained_variance.resize(std::size_t(kmax));
    r.singular_values.resize(std::size_t(kmax));
    for (std::int64_t i = 0; i < kmax; ++i) {
      const double ev = std::max(w[std::size_t(i)], 0.0);
      r.explained_variance[std::size_t(i)] = ev;
      r.singular_values[std::size_t(i)] = std::sqrt(ev * dof);
    }
    vt.resize(std::size_t(kmax * p));
    detail::flip_rows(vt, kmax, p);
    r.components = std::move(vt);
    return r;
  }
  if (s != PcaSolver::covariance_eigh) r.total_var = detail::total_variance(x, n, p, r.mean);
  if (s == PcaSolver::gram_eigh) {
    // Row Gram Xc Xc^T (n x n) from the transposed centered data (a p x n row-major matrix).
    std::vector<double> xct(static_cast<std::size_t>(p * n));
    parallel_for_1d(p, 16, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = 0; i < n; ++i)
        for (std::int64_t j = b; j < e; ++j) xct[std::size_t(j * n + i)] = double(x[i * p + j]) - r.mean[std::size_t(j)];
    });
    std::vector<double> g(static_cast<std::size_t>(n * n));
    detail::gram<double>(xct.data(), n, p, n, nullptr, nullptr, g.data());
    std::vector<double> w, ut;
    detail::sym_eigh(n, g, w, ut);
    r.n_components = kmax;
    r.explained_variance.resize(std::size_t(kmax));
    r.singular_values.resize(std::size_t(kmax));
    r.components.assign(std::size_t(kmax * p), 0.0);
    for (std::int64_t i = 0; i < kmax; ++i) {
      const double lam = std::max(w[std::size_t(i)], 0.0);
      const double sv = std::sqrt(lam);
      r.singular_values[std::size_t(i)] = sv;
      r.explained_variance[std::size_t(i)] = lam / dof;
      // v_i = Xc^T u_i / s_i  (rows of xct are columns of Xc)
      if (sv > 0) {
        const double* u = ut.data() + i * n;
        double* v = r.components.data() + i * p;
        parallel_for_1d(p, 64, [&](std::int64_t b, std::int64_t e) {
          for (std::int64_t j = b; j < e; ++j) {
            double acc = 0;
            const double* c = xct.data() + j * n;
            for (std::int64_t t = 0; t < n; ++t) acc += c[t] * u[t];
            v[j] = acc / sv;
          }
        });
      }
    }
    detail::flip_rows(r.components, kmax, p);
    return r;
  }
  if (s == PcaSolver::svd) {
    using Mat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    const auto xc = detail::centered(x, n, p, r.mean);
    Eigen::Map<const Mat> A(xc.data(), n, p);
    Eigen::BDCSVD<Eigen::MatrixXd> svd(A, Eigen::ComputeThinV);
    r.n_components = kmax;
    r.explained_variance.resize(std::size_t(kmax));
    r.singular_values.resize(std::size_t(kmax));
    r.components.resize(std::size_t(kmax * p));
    for (std::int64_t i = 0; i < kmax; ++i) {
      const double sv = svd.singularValues()(i);
      r.singular_values[std::size_t(i)] = sv;
      r.explained_variance[std::size_t(i)] = sv * sv / dof;
      for (std::int64_t j = 0; j < p; ++j) r.components[std::size_t(i * p + j)] = svd.matrixV()(j, i);
    }
    detail::flip_rows(r.components, kmax, p);
    return r;
  }
  // Randomized.
  const std::int64_t k = o.n_components;
  if (k < 1 || k > kmax)
    throw_shape("pca: n_components ", k, " must be in [1, min(n_samples, n_features) = ", kmax,
                "] for the randomized solver");
  if (o.n_oversamples < 0) throw_shape("pca: n_oversamples ", o.n_oversamples, " must be >= 0");
  const std::int64_t rnd = k + o.n_oversamples;  // sklearn draws k + oversamples columns
  const std::int64_t n_iter = o.n_iter >= 0 ? o.n_iter : (double(k) < 0.1 * double(kmax) ? 7 : 4);
  const bool transpose = n < p;
  const std::int64_t a_cols = transpose ? n : p;  // columns of M (rows of the start matrix)
  const std::int64_t a_rows = transpose ? p : n;
  const std::int64_t rp = (rnd + 7) / 8 * 8;
  std::vector<double> xd;
  const double* xp;
  if constexpr (std::is_same_v<T, double>) {
    xp = x;
  } else {
    xd.assign(x, x + n * p);
    xp = xd.data();
  }
  detail::TallSkinny ts{xp, n, p, rp, r.mean, kernels::ml::active_kernels()};
  std::vector<double> q(static_cast<std::size_t>(a_cols * rp), 0.0);
  if (o.omega) {
    for (std::int64_t i = 0; i < a_cols; ++i)
      for (std::int64_t l = 0; l < rnd; ++l) q[std::size_t(i * rp + l)] = o.omega[i * rnd + l];
  } else {
    std::mt19937_64 gen(o.seed);
    std::normal_distribution<double> nd;
    for (std::int64_t i = 0; i < a_cols; ++i)
      for (std::int64_t l = 0; l < rnd; ++l) q[std::size_t(i * rp + l)] = nd(gen);
  }
  std::vector<double> tmp;
  // M Q and M^T P with M = Xc (no transpose) or Xc^T (transpose).
  auto m_q = [&](const std::vector<double>& in, std::vector<double>& out) {
    out.assign(std::size_t(a_rows * rp), 0.0);
    if (!transpose)
      ts.xc_q(in.data(), out.data());
    else
      ts.xct_p(in.data(), nullptr, out.data());
  };
  for (std::int64_t it = 0; it < n_iter; ++it) {
    if (!transpose) {
      // Q <- orth(Xc^T Xc Q), one pass over X.
      std::vector<double> w(static_cast<std::size_t>(p * rp));
      ts.xct_p(nullptr, q.data(), w.data());
      q.swap(w);
    } else {
      std::vector<double> t1(static_cast<std::size_t>(p * rp)), t2(static_cast<std::size_t>(n * rp));
      ts.xct_p(q.data(), nullptr, t1.data());
      ts.xc_q(t1.data(), t2.data());
      q.swap(t2);
    }
    detail::orthonormalize(q, a_cols, rnd, rp);
  }
  std::vector<double> y;
  m_q(q, y);  // a_rows x rp
  detail::orthonormalize(y, a_rows, rnd, rp);
  // B^T = M^T Qf  (a_cols x rp)
  std::vector<double> bt(static_cast<std::size_t>(a_cols * rp));
  if (!transpose)
    ts.xct_p(y.data(), nullptr, bt.data());
  else
    ts.xc_q(y.data(), bt.data());
  using Mat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
  Mat Bt(a_cols, rnd);
  for (std::int64_t i = 0; i < a_cols; ++i)
    for (std::int64_t l = 0; l < rnd; ++l) Bt(i, l) = bt[std::size_t(i * rp + l)];
  // B = Uhat S Vt  <=>  B^T = V S Uhat^T
  Eigen::BDCSVD<Mat> svd(Bt, Eigen::ComputeThinU | Eigen::ComputeThinV);
  r.n_components = k;
  r.components.assign(std::size_t(k * p), 0.0);
  r.singular_values.resize(std::size_t(k));
  r.explained_variance.resize(std::size_t(k));
  for (std::int64_t i = 0; i < k; ++i) {
    const double sv = svd.singularValues()(i);
    r.singular_values[std::size_t(i)] = sv;
    r.explained_variance[std::size_t(i)] = sv * sv / dof;
    double* v = r.components.data() + i * p;
    if (!transpose) {
      for (std::int64_t j = 0; j < p; ++j) v[j] = svd.matrixU()(j, i);  // rows of Vt
    } else {
      // components = (Qf Uhat)^T rows; Uhat = svd.matrixV() of B^T
      for (std::int64_t j = 0; j < p; ++j) {
        double acc = 0;
        for (std::int64_t l = 0; l < rnd; ++l) acc += y[std::size_t(j * rp + l)] * svd.matrixV()(l, i);
        v[j] = acc;
      }
    }
  }
  detail::flip_rows(r.components, k, p);
  return r;
}

}  // namespace medkern::ml
