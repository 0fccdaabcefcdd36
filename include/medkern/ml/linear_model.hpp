// medkern/ml/linear_model.hpp — ElasticNet / Lasso by coordinate descent, with scikit-learn's
// objective, stopping rule and regularization path.
//
// Objective (per alpha, as sklearn's ElasticNet):
//   1/(2n) ||y - X w - b||^2 + alpha * l1_ratio ||w||_1 + alpha * (1 - l1_ratio)/2 ||w||^2
// solved on centered data (fit_intercept) as sklearn's _cd_fast does on the n-scaled problem
//   1/2 ||y - X w||^2 + l1 ||w||_1 + l2/2 ||w||^2,  l1 = alpha*l1_ratio*n, l2 = alpha*(1-l1_ratio)*n.
// Stopping: after a sweep whose largest coefficient change is <= tol * max|w| (or when all w
// are 0, or at the last iteration), the duality gap G is computed and the solver stops when
// G <= tol * ||y||^2 (sklearn's `tol` semantics, formulation A of the gap for l1 > 0, B for
// l1 = 0 < l2); gap-safe screening (Fercoq et al.) removes features proved zero, exactly as
// sklearn >= 1.8 does. Two solvers:
//   * dense: columns of the centered X (column-major), residual R kept up to date, one dot and
//     at most one axpy of length n per coordinate (vectorized kernels);
//   * Gram: Q = Xc^T Xc and q = Xc^T yc precomputed, Qw kept up to date, O(p) per coordinate;
//     chosen automatically when n > p (overridable).
// The path runs alphas from large to small, each warm-started from the previous solution.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "medkern/core/error.hpp"
#include "medkern/core/threading.hpp"
#include "medkern/kernels/ml/registry.hpp"
#include "medkern/ml/gram.hpp"

namespace medkern::ml {

enum class Precompute { automatic, yes, no };
enum class Selection { cyclic, random };

/// Options of one ElasticNet fit or path (scikit-learn's names and defaults).
struct EnetOptions {
  double l1_ratio = 1.0;  ///< 1: Lasso
  bool fit_intercept = true;
  Precompute precompute = Precompute::automatic;  ///< Gram when n_samples > n_features
  std::int64_t max_iter = 1000;
  double tol = 1e-4;
  bool positive = false;
  Selection selection = Selection::cyclic;
  std::uint32_t seed = 0;  ///< random selection: seed of the first alpha's generator
  bool screening = true;   ///< gap-safe screening (exact; does not change the solution)
};

/// Result of a path: row a of `coefs` is the solution at alphas[a].
template <class T>
struct EnetPath {
  std::int64_t n_features = 0;
  std::vector<double> alphas;
  std::vector<T> coefs;            ///< n_alphas x n_features, row-major
  std::vector<double> intercepts;  ///< per alpha (0 without fit_intercept)
  std::vector<double> dual_gaps;   ///< achieved gap / n_samples (sklearn's dual_gap_)
  std::vector<std::int64_t> n_iters;
  std::vector<bool> converged;
  bool used_gram = false;
};

namespace detail {

using kernels::ml::Ops;
using medkern::detail::checked_mul;
using medkern::detail::throw_shape;

/// numpy.geomspace(start, stop, num) as sklearn's _alpha_grid calls it (endpoints exact).
inline std::vector<double> geomspace(double start, double stop, std::int64_t num) {
  std::vector<double> out(static_cast<std::size_t>(std::max<std::int64_t>(num, 0)));
  if (num <= 0) return out;
  const double ls = std::log10(start), le = std::log10(stop);
  const double step = num > 1 ? (le - ls) / double(num - 1) : 0.0;
  for (std::int64_t i = 0; i < num; ++i) out[std::size_t(i)] = std::pow(10.0, double(i) * step + ls);
  out[0] = start;
  if (num > 1) out[std::size_t(num - 1)] = stop;
  return out;
}

/// sklearn's rand_r (xorshift, capped to 2^31 - 1) for random coordinate selection.
inline std::uint32_t rand_r(std::uint32_t& s) {
  s ^= s << 13;
  s ^= s >> 17;
  s ^= s << 5;
  return s % (std::uint32_t(2147483647u) + 1u);
}

template <class T>
inline T fsign(T x) {
  return x > 0 ? T(1) : (x < 0 ? T(-1) : T(0));
}

/// Centered training data in the layout of one solver.
template <class T>
struct Design {
  std::int64_t n = 0, p = 0;
  bool gram = false;
  std::vector<T> xt;     // dense: p x n, column j of Xc at xt + j*n
  std::vector<T> norm2;  // dense: ||Xc[:, j]||^2
  std::vector<T> y;      // centered y (dense solver and the gap of the Gram solver)
  std::vector<T> Q, q;   // Gram: Xc^T Xc (p x p), Xc^T yc
  std::vector<T> x_mean;
  double y_mean = 0;
  T y_norm2 = 0;
};

/// Builds the design from rows `rows` (nullptr: all n) of row-major X and y.
template <class T>
Design<T> make_design(const T* x, const T* y, std::int64_t n, std::int64_t p,
                      const std::int64_t* rows, bool center, Precompute pre) {
  Design<T> d;
  d.n = n;
  d.p = p;
  d.gram = pre == Precompute::yes || (pre == Precompute::automatic && n > p);
  auto row = [&](std::int64_t i) { return rows ? rows[i] : i; };
  d.x_mean.assign(std::size_t(p), T(0));
  d.y.resize(std::size_t(n));
  if (center && n > 0) {
    // Column means in double, in fixed row order (reproducible for any thread count).
    std::vector<double> s(static_cast<std::size_t>(p), 0.0);
    double sy = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      const T* xr = x + row(i) * p;
      for (std::int64_t j = 0; j < p; ++j) s[std::size_t(j)] += double(xr[j]);
      sy += double(y[row(i)]);
    }
    for (std::int64_t j = 0; j < p; ++j) d.x_mean[std::size_t(j)] = T(s[std::size_t(j)] / double(n));
    d.y_mean = sy / double(n);
  }
  for (std::int64_t i = 0; i < n; ++i) d.y[std::size_t(i)] = T(double(y[row(i)]) - d.y_mean);
  const Ops<T> ops{kernels::ml::active_kernels()};
  d.y_norm2 = ops.dot(d.y.data(), d.y.data(), n);
  if (d.gram) {
    d.Q.resize(std::size_t(p * p));
    gram<T>(x, p, n, p, rows, center ? d.x_mean.data() : nullptr, d.Q.data());
    // q = Xc^T yc, accumulated row by row in double.
    std::vector<double> q(static_cast<std::size_t>(p), 0.0);
    for (std::int64_t i = 0; i < n; ++i) {
      const T* xr = x + row(i) * p;
      const double yi = double(d.y[std::size_t(i)]);
      for (std::int64_t j = 0; j < p; ++j)
        q[std::size_t(j)] += (double(xr[j]) - double(d.x_mean[std::size_t(j)])) * yi;
    }
    d.q.assign(q.begin(), q.end());
  } else {
    d.xt.resize(std::size_t(p * n));
    // Transpose with centering, in row strips so each source row is read once.
    parallel_for_1d(p, 64, [&](std::int64_t j0, std::int64_t j1) {
      for (std::int64_t i = 0; i < n; ++i) {
        const T* xr = x + row(i) * p;
        for (std::int64_t j = j0; j < j1; ++j) d.xt[std::size_t(j * n + i)] = xr[j] - d.x_mean[std::size_t(j)];
      }
    });
    d.norm2.resize(std::size_t(p));
    for (std::int64_t j = 0; j < p; ++j) {
      const T* c = d.xt.data() + j * n;
      d.norm2[std::size_t(j)] = ops.dot(c, c, n);
    }
  }
  return d;
}

/// X^T y of the design (for the alpha grid).
template <class T>
std::vector<double> design_xty(const Design<T>& d) {
  std::vector<double> xy(static_cast<std::size_t>(d.p));
  if (d.gram) {
    for (std::int64_t j = 0; j < d.p; ++j) xy[std::size_t(j)] = double(d.q[std::size_t(j)]);
  } else {
    const Ops<T> ops{kernels::ml::active_kernels()};
    for (std::int64_t j = 0; j < d.p; ++j)
      xy[std::size_t(j)] = double(ops.dot(d.xt.data() + j * d.n, d.y.data(), d.n));
  }
  return xy;
}

struct CdStats {
  double gap = 0, tol = 0;
  std::int64_t n_iter = 0;
  bool converged = true;
};

/// Gap formulation A (l1 > 0); sklearn's dual_gap_formulation_A.
template <class T>
T gap_formulation_a(T alpha, T beta, T w_l1, T w_l2sq, T r_norm2, T ry, T dual_norm) {
  const T primal = T(0.5) * (r_norm2 + beta * w_l2sq) + alpha * w_l1;
  const T scale = dual_norm > alpha ? alpha / dual_norm : T(1);
  const T dual = T(-0.5) * (scale * scale) * (r_norm2 + beta * w_l2sq) + scale * ry;
  return primal - dual;
}

/// Gap-safe screening over the currently included features; returns the active count.
template <class T, class Drop>
std::int64_t screen(std::int64_t p, const T* xta, T dual_norm, T alpha, T beta, T gap,
                    const T* diag, std::vector<std::uint32_t>& active,
                    std::vector<std::uint8_t>& excluded, bool first, T* w, Drop&& drop) {
  const T radius = std::sqrt(T(2) * std::fabs(gap)) / alpha;
  std::int64_t n_active = 0;
  for (std::int64_t j = 0; j < p; ++j) {
    if (!first && excluded[std::size_t(j)]) continue;
    if (first && diag[j] == T(0)) {
      w[j] = 0;
      excluded[std::size_t(j)] = 1;
      continue;
    }
    const T xj_theta = xta[j] / std::max(alpha, dual_norm);
    const T dj = (T(1) - std::fabs(xj_theta)) / std::sqrt(diag[j] + beta);
    if (dj <= radius) {
      active[std::size_t(n_active++)] = std::uint32_t(j);
      excluded[std::size_t(j)] = 0;
    } else {
      if (w[j] != T(0)) {
        drop(j, w[j]);
        w[j] = 0;
      }
      excluded[std::size_t(j)] = 1;
    }
  }
  return n_active;
}

/// Dense coordinate descent (sklearn's enet_coordinate_descent), w updated in place.
template <class T>
CdStats cd_dense(const Design<T>& d, T* w, T alpha, T beta, const EnetOptions& o,
                 std::uint32_t seed) {
  const Ops<T> ops{kernels::ml::active_kernels()};
  const std::int64_t n = d.n, p = d.p;
  const T* xt = d.xt.data();
  const T* y = d.y.data();
  std::vector<T> R(d.y), xta(static_cast<std::size_t>(p));
  for (std::int64_t j = 0; j < p; ++j)
    if (w[j] != T(0)) ops.axpy(-w[j], xt + j * n, R.data(), n);
  const T tol = T(o.tol) * d.y_norm2;
  bool screening = o.screening && alpha != T(0);
  std::vector<std::uint32_t> active;
  std::vector<std::uint8_t> excluded;
  if (screening) {
    active.resize(std::size_t(p));
    excluded.resize(std::size_t(p));
  }
  auto gap_fn = [&](T& dual_norm) -> T {
    T wl2 = 0;
    if (beta > 0) wl2 = ops.dot(w, w, p);
    const T rn2 = ops.dot(R.data(), R.data(), n);
    const T ry = ops.dot(R.data(), y, n);
    for (std::int64_t j = 0; j < p; ++j) xta[std::size_t(j)] = ops.dot(xt + j * n, R.data(), n) - beta * w[j];
    if (alpha == T(0)) {
      for (std::int64_t j = 0; j < p; ++j) xta[std::size_t(j)] += beta * w[j];
      dual_norm = ops.dot(xta.data(), xta.data(), p);
      if (beta == T(0)) return dual_norm;
      return rn2 + T(0.5) * beta * wl2 - ry + T(1) / (T(2) * beta) * dual_norm;
    }
    T dn = 0;
    T wl1 = 0;
    for (std::int64_t j = 0; j < p; ++j) {
      dn = o.positive ? std::max(dn, xta[std::size_t(j)]) : std::max(dn, std::fabs(xta[std::size_t(j)]));
      wl1 += std::fabs(w[j]);
    }
    if (o.positive) {
      dn = xta[0];
      for (std::int64_t j = 1; j < p; ++j) dn = std::max(dn, xta[std::size_t(j)]);
    }
    dual_norm = dn;
    return gap_formulation_a(alpha, beta, wl1, wl2, rn2, ry, dn);
  };
  auto drop = [&](std::int64_t j, T wj) { ops.axpy(wj, xt + j * n, R.data(), n); };
  CdStats st;
  st.tol = double(tol);
  T dual_norm = 0;
  T gap = gap_fn(dual_norm);
  if (gap <= tol) {
    st.gap = double(gap);
    st.n_iter = 0;
    return st;
  }
  std::int64_t n_active = p;
  if (screening)
    n_active = screen<T>(p, xta.data(), dual_norm, alpha, beta, gap, d.norm2.data(), active,
                         excluded, true, w, drop);
  std::uint32_t rs = seed;
  const T d_w_tol = T(o.tol);
  // One coordinate update of feature j; returns |change| and updates the residual.
  auto update = [&](std::int64_t j, T& w_max, T& d_w_max) {
    const T nj = d.norm2[std::size_t(j)];
    if (nj == T(0)) return;
    const T* xj = xt + j * n;
    const T w_j = w[j];
    const T tmp = ops.dot(xj, R.data(), n) + w_j * nj;
    T wn;
    if (o.positive && tmp < 0)
      wn = 0;
    else
      wn = fsign(tmp) * std::max(std::fabs(tmp) - alpha, T(0)) / (nj + beta);
    w[j] = wn;
    if (wn != w_j) ops.axpy(w_j - wn, xj, R.data(), n);
    d_w_max = std::max(d_w_max, std::fabs(wn - w_j));
    w_max = std::max(w_max, std::fabs(wn));
  };
  // Working set: the nonzero coefficients. Each outer round is one full sweep over the
  // (screened) features and the full duality gap (sklearn's certificate: stop when
  // gap <= tol * ||y||^2); then the subproblem on the working set alone is solved until its own
  // gap falls below a quarter of the full gap. The working-set sweeps touch only the few
  // active columns (L1/L2-resident) instead of streaming all of X; every sweep, full or not,
  // counts as one iteration against max_iter (bench: ml lassocv on 200x2000).
  std::vector<std::uint32_t> ws;
  ws.reserve(std::size_t(p));
  auto ws_gap = [&]() -> T {
    T wl1 = 0, wl2 = 0, dn = 0;
    bool first = true;
    for (std::uint32_t j : ws) {
      const T v = ops.dot(xt + std::int64_t(j) * n, R.data(), n) - beta * w[j];
      const T a = o.positive ? v : std::fabs(v);
      dn = first ? a : std::max(dn, a);
      first = false;
      wl1 += std::fabs(w[j]);
      wl2 += w[j] * w[j];
    }
    if (!o.positive) dn = std::max(dn, T(0));
    const T rn2 = ops.dot(R.data(), R.data(), n), ry = ops.dot(R.data(), y, n);
    return gap_formulation_a(alpha, beta, wl1, beta > 0 ? wl2 : T(0), rn2, ry, dn);
  };
  bool conv = false;
  std::int64_t it = 0;
  while (it < o.max_iter) {
    T w_max = 0, d_w_max = 0;
    for (std::int64_t f = 0; f < n_active; ++f) {
      std::int64_t j = o.selection == Selection::random ? std::int64_t(rand_r(rs) % std::uint32_t(n_active)) : f;
      if (screening) j = active[std::size_t(j)];
      update(j, w_max, d_w_max);
    }
    ++it;
    gap = gap_fn(dual_norm);
    if (gap <= tol) {
      conv = true;
      break;
    }
    if (screening)
      n_active = screen<T>(p, xta.data(), dual_norm, alpha, beta, gap, d.norm2.data(), active,
                           excluded, false, w, drop);
    if (alpha == T(0)) continue;  // no sparsity to exploit
    ws.clear();
    for (std::int64_t f = 0; f < n_active; ++f) {
      const std::int64_t j = screening ? active[std::size_t(f)] : f;
      if (w[j] != T(0)) ws.push_back(std::uint32_t(j));
    }
    if (ws.empty() || 2 * std::int64_t(ws.size()) > n_active) continue;
    const T target = std::max(tol, T(0.25) * gap);
    std::int64_t k = 0;
    while (it < o.max_iter) {
      T wm = 0, dm = 0;
      const std::int64_t nw = std::int64_t(ws.size());
      for (std::int64_t f = 0; f < nw; ++f) {
        const std::int64_t pos = o.selection == Selection::random ? std::int64_t(rand_r(rs) % std::uint32_t(nw)) : f;
        update(ws[std::size_t(pos)], wm, dm);
      }
      ++it;
      ++k;
      if (wm == T(0) || dm / wm <= d_w_tol || k % 10 == 0) {
        if (ws_gap() <= target) break;
      }
    }
  }
  if (!conv && it >= o.max_iter) gap = gap_fn(dual_norm);
  st.gap = double(gap);
  st.converged = conv;
  st.n_iter = it;
  return st;
}

/// Gram coordinate descent (sklearn's enet_coordinate_descent_gram), w updated in place.
template <class T>
CdStats cd_gram(const Design<T>& d, T* w, T alpha, T beta, const EnetOptions& o,
                std::uint32_t seed) {
  const Ops<T> ops{kernels::ml::active_kernels()};
  const std::int64_t p = d.p;
  const T* Q = d.Q.data();
  const T* q = d.q.data();
  std::vector<T> Qw(static_cast<std::size_t>(p), T(0)), xta(static_cast<std::size_t>(p)), diag(static_cast<std::size_t>(p));
  for (std::int64_t j = 0; j < p; ++j) {
    diag[std::size_t(j)] = Q[j * p + j];
    if (w[j] != T(0)) ops.axpy(w[j], Q + j * p, Qw.data(), p);
  }
  const T y_norm2 = d.y_norm2;
  const T tol = T(o.tol) * y_norm2;
  bool screening = o.screening && alpha != T(0);
  std::vector<std::uint32_t> active;
  std::vector<std::uint8_t> excluded;
  if (screening) {
    active.resize(std::size_t(p));
    excluded.resize(std::size_t(p));
  }
  auto gap_fn = [&](T& dual_norm) -> T {
    T wl2 = 0;
    if (beta > 0) wl2 = ops.dot(w, w, p);
    const T qw = ops.dot(w, q, p);
    const T wQw = ops.dot(w, Qw.data(), p);
    const T rn2 = y_norm2 + wQw - T(2) * qw;
    const T ry = y_norm2 - qw;
    if (alpha == T(0)) {
      for (std::int64_t j = 0; j < p; ++j) xta[std::size_t(j)] = q[j] - Qw[std::size_t(j)];
      dual_norm = ops.dot(xta.data(), xta.data(), p);
      if (beta == T(0)) return dual_norm;
      return rn2 + T(0.5) * beta * wl2 - ry + T(1) / (T(2) * beta) * dual_norm;
    }
    T wl1 = 0;
    for (std::int64_t j = 0; j < p; ++j) {
      xta[std::size_t(j)] = q[j] - Qw[std::size_t(j)] - beta * w[j];
      wl1 += std::fabs(w[j]);
    }
    T dn = o.positive ? xta[0] : T(0);
    for (std::int64_t j = 0; j < p; ++j)
      dn = o.positive ? std::max(dn, xta[std::size_t(j)]) : std::max(dn, std::fabs(xta[std::size_t(j)]));
    dual_norm = dn;
    return gap_formulation_a(alpha, beta, wl1, wl2, rn2, ry, dn);
  };
  auto drop = [&](std::int64_t j, T wj) { ops.axpy(-wj, Q + j * p, Qw.data(), p); };
  CdStats st;
  st.tol = double(tol);
  T dual_norm = 0;
  T gap = gap_fn(dual_norm);
  if (gap >= T(0) && gap <= tol) {
    st.gap = double(gap);
    st.n_iter = 0;
    return st;
  }
  std::int64_t n_active = p;
  if (screening)
    n_active = screen<T>(p, xta.data(), dual_norm, alpha, beta, gap, diag.data(), active,
                         excluded, true, w, drop);
  std::uint32_t rs = seed;
  const T d_w_tol = T(o.tol);
  bool conv = false;
  std::int64_t it = 0;
  for (it = 0; it < o.max_iter; ++it) {
    T w_max = 0, d_w_max = 0;
    for (std::int64_t f = 0; f < n_active; ++f) {
      std::int64_t j = o.selection == Selection::random ? std::int64_t(rand_r(rs) % std::uint32_t(n_active)) : f;
      if (screening) j = active[std::size_t(j)];
      const T qjj = diag[std::size_t(j)];
      if (qjj == T(0)) continue;
      const T w_j = w[j];
      const T tmp = q[j] - Qw[std::size_t(j)] + w_j * qjj;
      T wn;
      if (o.positive && tmp < 0)
        wn = 0;
      else
        wn = fsign(tmp) * std::max(std::fabs(tmp) - alpha, T(0)) / (qjj + beta);
      w[j] = wn;
      if (wn != w_j) ops.axpy(wn - w_j, Q + j * p, Qw.data(), p);
      d_w_max = std::max(d_w_max, std::fabs(wn - w_j));
      w_max = std::max(w_max, std::fabs(wn));
    }
    if (w_max == T(0) || d_w_max / w_max <= d_w_tol || it == o.max_iter - 1) {
      gap = gap_fn(dual_norm);
      if (gap <= tol) {
        conv = true;
        break;
      }
      if (screening)
        n_active = screen<T>(p, xta.data(), dual_norm, alpha, beta, gap, diag.data(), active,
                             excluded, false, w, drop);
    }
  }
  st.gap = double(gap);
  st.converged = conv;
  st.n_iter = conv ? it + 1 : o.max_iter;
  return st;
}

/// sklearn's _alpha_grid from X^T y of the centered data.
inline std::vector<double> alpha_grid_from_xty(const std::vector<double>& xy, std::int64_t n,
                                               double l1_ratio, bool positive, double eps,
                                               std::int64_t n_alphas) {
  double m = positive ? 0.0 : 0.0;
  for (double v : xy) m = positive ? std::max(m, v) : std::max(m, std::fabs(v));
  const double alpha_max = m / (double(n) * l1_ratio);
  const double res = 1e-15;  // numpy.finfo(float64).resolution
  if (alpha_max <= res) return std::vector<double>(std::size_t(n_alphas), res);
  return geomspace(alpha_max, alpha_max * eps, n_alphas);
}

/// Runs the path on a built design; alphas must be sorted decreasing.
template <class T>
EnetPath<T> path_on_design(const Design<T>& d, const std::vector<double>& alphas,
                           const EnetOptions& o, const T* coef_init) {
  EnetPath<T> out;
  const std::int64_t p = d.p, na = std::int64_t(alphas.size());
  out.n_features = p;
  out.alphas = alphas;
  out.coefs.assign(std::size_t(na * p), T(0));
  out.intercepts.assign(std::size_t(na), 0.0);
  out.dual_gaps.assign(std::size_t(na), 0.0);
  out.n_iters.assign(std::size_t(na), 0);
  out.converged.assign(std::size_t(na), true);
  out.used_gram = d.gram;
  std::vector<T> w(static_cast<std::size_t>(p), T(0));
  if (coef_init) std::copy(coef_init, coef_init + p, w.begin());
  std::uint32_t seed = o.seed;
  for (std::int64_t a = 0; a < na; ++a) {
    const double alpha = alphas[std::size_t(a)];
    const T l1 = T(alpha * o.l1_ratio * double(d.n));
    const T l2 = T(alpha * (1.0 - o.l1_ratio) * double(d.n));
    // A fresh generator state per alpha, as sklearn draws one seed per cd call.
    seed = seed * 1103515245u + 12345u;
    const std::uint32_t s = seed == 0 ? 1u : seed;
    const CdStats st = d.gram ? cd_gram<T>(d, w.data(), l1, l2, o, s)
                              : cd_dense<T>(d, w.data(), l1, l2, o, s);
    std::copy(w.begin(), w.end(), out.coefs.begin() + a * p);
    out.dual_gaps[std::size_t(a)] = st.gap / double(d.n);
    out.n_iters[std::size_t(a)] = st.n_iter;
    out.converged[std::size_t(a)] = st.converged;
    double b = d.y_mean;
    for (std::int64_t j = 0; j < p; ++j) b -= double(d.x_mean[std::size_t(j)]) * double(w[std::size_t(j)]);
    out.intercepts[std::size_t(a)] = o.fit_intercept ? b : 0.0;
  }
  return out;
}

template <class T>
void check_enet_inputs(const char* op, const T* x, const T* y, std::int64_t n, std::int64_t p,
                       const EnetOptions& o) {
  if (n < 1) throw_shape(op, ": n_samples ", n, " must be >= 1");
  if (p < 1) throw_shape(op, ": n_features ", p, " must be >= 1");
  checked_mul(n, p, op);
  if (!(o.l1_ratio >= 0.0 && o.l1_ratio <= 1.0))
    throw_shape(op, ": l1_ratio ", o.l1_ratio, " must be in [0, 1]");
  if (o.max_iter < 1) throw_shape(op, ": max_iter ", o.max_iter, " must be >= 1");
  if (!(o.tol >= 0.0)) throw_shape(op, ": tol ", o.tol, " must be >= 0");
  for (std::int64_t i = 0; i < n * p; ++i)
    if (!std::isfinite(double(x[i])))
      throw_shape(op, ": X contains NaN or infinity at (", i / p, ", ", i % p, ")");
  for (std::int64_t i = 0; i < n; ++i)
    if (!std::isfinite(double(y[i]))) throw_shape(op, ": y contains NaN or infinity at ", i);
}

}  // namespace detail

/// sklearn's default alpha grid (_alpha_grid): n_alphas values from alpha_max (all
/// coefficients zero) down to eps * alpha_max, geometrically spaced.
template <class T>
std::vector<double> alpha_grid(const T* x, const T* y, std::int64_t n, std::int64_t p,
                               double l1_ratio = 1.0, bool fit_intercept = true,
                               bool positive = false, double eps = 1e-3,
                               std::int64_t n_alphas = 100) {
  if (!(l1_ratio > 0.0))
    detail::throw_shape("alpha_grid: l1_ratio ", l1_ratio,
                        " must be > 0 for an automatic grid (give alphas explicitly)");
  if (!(eps > 0.0)) detail::throw_shape("alpha_grid: eps ", eps, " must be > 0");
  if (n_alphas < 1) detail::throw_shape("alpha_grid: n_alphas ", n_alphas, " must be >= 1");
  const auto d = detail::make_design<T>(x, y, n, p, nullptr, fit_intercept, Precompute::no);
  return detail::alpha_grid_from_xty(detail::design_xty(d), n, l1_ratio, positive, eps, n_alphas);
}

/// ElasticNet / Lasso regularization path on row-major X (n x p) and y (n). `alphas` empty:
/// sklearn's grid with n_alphas and eps. Alphas are sorted decreasing, solutions warm-started.
template <class T>
EnetPath<T> enet_path(const T* x, const T* y, std::int64_t n, std::int64_t p,
                      std::vector<double> alphas, const EnetOptions& o = {},
                      std::int64_t n_alphas = 100, double eps = 1e-3,
                      const T* coef_init = nullptr) {
  detail::check_enet_inputs("enet_path", x, y, n, p, o);
  for (double a : alphas)
    if (!(a >= 0.0) || !std::isfinite(a))
      detail::throw_shape("enet_path: alpha ", a, " must be finite and >= 0");
  const auto d = detail::make_design<T>(x, y, n, p, nullptr, o.fit_intercept, o.precompute);
  if (alphas.empty()) {
    if (!(o.l1_ratio > 0.0))
      detail::throw_shape("enet_path: l1_ratio ", o.l1_ratio,
                          " must be > 0 for an automatic grid (give alphas explicitly)");
    if (!(eps > 0.0)) detail::throw_shape("enet_path: eps ", eps, " must be > 0");
    if (n_alphas < 1) detail::throw_shape("enet_path: n_alphas ", n_alphas, " must be >= 1");
    alphas = detail::alpha_grid_from_xty(detail::design_xty(d), n, o.l1_ratio, o.positive, eps,
                                         n_alphas);
  } else {
    std::sort(alphas.begin(), alphas.end(), [](double a, double b) { return a > b; });
  }
  return detail::path_on_design<T>(d, alphas, o, coef_init);
}

/// One ElasticNet fit at `alpha` (sklearn's ElasticNet.fit); coef_init warm-starts.
template <class T>
EnetPath<T> enet_fit(const T* x, const T* y, std::int64_t n, std::int64_t p, double alpha,
                     const EnetOptions& o = {}, const T* coef_init = nullptr) {
  if (!(alpha >= 0.0) || !std::isfinite(alpha))
    detail::throw_shape("elastic_net: alpha ", alpha, " must be finite and >= 0");
  return enet_path<T>(x, y, n, p, {alpha}, o, 1, 1e-3, coef_init);
}

}  // namespace medkern::ml
