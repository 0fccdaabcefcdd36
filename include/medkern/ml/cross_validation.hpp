// medkern/ml/cross_validation.hpp — K-fold LassoCV / ElasticNetCV (scikit-learn's LinearModelCV).
//
// For every l1_ratio the alpha grid is computed once on all data (sklearn's _alpha_grid), then
// every (l1_ratio, fold) pair fits the whole path on its training rows — centered with the
// training means, Gram solver when n_train > n_features unless overridden — and scores the
// held-out rows. The (l1_ratio, fold) tasks run in parallel on medkern's oneTBB arena; each
// task writes only its own row of mse_path, so the result does not depend on the thread
// count. alpha_ / l1_ratio_ minimise the fold-mean MSE (first minimum, as numpy.argmin), then
// the model is refitted on all data.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "medkern/core/threading.hpp"
#include "medkern/ml/linear_model.hpp"

namespace medkern::ml {

/// One cross-validation split: indices of training and test rows.
struct Fold {
  std::vector<std::int64_t> train, test;
};

/// sklearn's KFold(n_splits) without shuffling: the first n % k folds have one more sample.
inline std::vector<Fold> kfold(std::int64_t n, std::int64_t k) {
  if (k < 2) detail::throw_shape("kfold: n_splits ", k, " must be >= 2");
  if (k > n)
    detail::throw_shape("kfold: n_splits ", k, " must be <= n_samples ", n,
                        " (every fold needs a test sample)");
  std::vector<Fold> folds(static_cast<std::size_t>(k));
  std::int64_t start = 0;
  for (std::int64_t f = 0; f < k; ++f) {
    const std::int64_t size = n / k + (f < n % k ? 1 : 0);
    Fold& fo = folds[std::size_t(f)];
    for (std::int64_t i = 0; i < n; ++i)
      (i >= start && i < start + size ? fo.test : fo.train).push_back(i);
    start += size;
  }
  return folds;
}

struct EnetCvOptions {
  EnetOptions enet;                     ///< l1_ratio is ignored; see l1_ratios
  std::vector<double> l1_ratios{1.0};   ///< ElasticNetCV's l1_ratio list (LassoCV: {1})
  std::vector<double> alphas;           ///< explicit grid (all l1_ratios); empty: sklearn's grid
  std::int64_t n_alphas = 100;
  double eps = 1e-3;
};

template <class T>
struct EnetCvResult {
  std::vector<std::vector<double>> alphas;  ///< per l1_ratio, decreasing
  std::vector<double> mse_path;             ///< [l1_ratio][fold][alpha], row-major
  std::int64_t n_folds = 0, n_alphas = 0;
  double alpha = 0, l1_ratio = 1;           ///< chosen
  std::int64_t best_l1_index = 0, best_alpha_index = 0;
  EnetPath<T> model;                        ///< refit on all data at (alpha, l1_ratio)
};

/// Cross-validated ElasticNet on row-major X (n x p), y (n) over `folds`.
template <class T>
EnetCvResult<T> enet_cv(const T* x, const T* y, std::int64_t n, std::int64_t p,
                        const std::vector<Fold>& folds, const EnetCvOptions& o) {
  detail::check_enet_inputs("enet_cv", x, y, n, p, o.enet);
  if (folds.empty()) detail::throw_shape("enet_cv: at least one fold is required");
  if (o.l1_ratios.empty()) detail::throw_shape("enet_cv: l1_ratios must not be empty");
  for (double r : o.l1_ratios)
    if (!(r >= 0.0 && r <= 1.0)) detail::throw_shape("enet_cv: l1_ratio ", r, " must be in [0, 1]");
  for (double a : o.alphas)
    if (!(a >= 0.0) || !std::isfinite(a))
      detail::throw_shape("enet_cv: alpha ", a, " must be finite and >= 0");
  for (std::size_t f = 0; f < folds.size(); ++f) {
    if (folds[f].train.empty() || folds[f].test.empty())
      detail::throw_shape("enet_cv: fold ", f, " has an empty train or test set");
    for (const auto* v : {&folds[f].train, &folds[f].test})
      for (std::int64_t i : *v)
        if (i < 0 || i >= n) detail::throw_shape("enet_cv: fold ", f, " index ", i, " out of [0, ", n, ")");
  }
  EnetCvResult<T> r;
  const std::int64_t nl = std::int64_t(o.l1_ratios.size()), nf = std::int64_t(folds.size());
  if (o.alphas.empty()) {
    const auto d = detail::make_design<T>(x, y, n, p, nullptr, o.enet.fit_intercept, Precompute::no);
    const auto xy = detail::design_xty(d);
    for (double l1 : o.l1_ratios) {
      if (!(l1 > 0.0))
        detail::throw_shape("enet_cv: l1_ratio ", l1,
                            " must be > 0 for an automatic grid (give alphas explicitly)");
      r.alphas.push_back(detail::alpha_grid_from_xty(xy, n, l1, o.enet.positive, o.eps, o.n_alphas));
    }
  } else {
    std::vector<double> a = o.alphas;
    std::sort(a.begin(), a.end(), [](double u, double v) { return u > v; });
    r.alphas.assign(std::size_t(nl), a);
  }
  const std::int64_t na = std::int64_t(r.alphas[0].size());
  r.n_folds = nf;
  r.n_alphas = na;
  r.mse_path.assign(std::size_t(nl * nf * na), 0.0);
  parallel_tasks(nl * nf, [&](std::int64_t task) {
    const std::int64_t l = task / nf, f = task % nf;
    const Fold& fo = folds[std::size_t(f)];
    EnetOptions eo = o.enet;
    eo.l1_ratio = o.l1_ratios[std::size_t(l)];
    eo.seed = o.enet.seed + std::uint32_t(task) * 2654435761u;
    const auto d = detail::make_design<T>(x, y, std::int64_t(fo.train.size()), p, fo.train.data(),
                                          eo.fit_intercept, eo.precompute);
    const auto path = detail::path_on_design<T>(d, r.alphas[std::size_t(l)], eo, nullptr);
    double* mse = r.mse_path.data() + (l * nf + f) * na;
    const double inv = 1.0 / double(fo.test.size());
    for (std::int64_t a = 0; a < na; ++a) {
      const T* w = path.coefs.data() + a * p;
      // Only the nonzero coefficients contribute; sparse solutions make this cheap.
      std::vector<std::int64_t> nz;
      for (std::int64_t j = 0; j < p; ++j)
        if (w[j] != T(0)) nz.push_back(j);
      double s = 0;
      for (std::int64_t i : fo.test) {
        const T* xr = x + i * p;
        double pred = path.intercepts[std::size_t(a)];
        if (!eo.fit_intercept) pred = 0;
        for (std::int64_t j : nz) pred += double(xr[j]) * double(w[j]);
        const double e = pred - double(y[i]);
        s += e * e;
      }
      mse[a] = s * inv;
    }
  });
  double best = std::numeric_limits<double>::infinity();
  for (std::int64_t l = 0; l < nl; ++l) {
    std::int64_t ib = 0;
    double mb = std::numeric_limits<double>::infinity();
    for (std::int64_t a = 0; a < na; ++a) {
      double m = 0;
      for (std::int64_t f = 0; f < nf; ++f) m += r.mse_path[std::size_t((l * nf + f) * na + a)];
      m /= double(nf);
      if (m < mb || a == 0) {
        if (a == 0 || m < mb) {
          mb = m;
          ib = a;
        }
      }
    }
    if (mb < best) {
      best = mb;
      r.best_l1_index = l;
      r.best_alpha_index = ib;
    }
  }
  r.l1_ratio = o.l1_ratios[std::size_t(r.best_l1_index)];
  r.alpha = r.alphas[std::size_t(r.best_l1_index)][std::size_t(r.best_alpha_index)];
  EnetOptions eo = o.enet;
  eo.l1_ratio = r.l1_ratio;
  r.model = enet_fit<T>(x, y, n, p, r.alpha, eo);
  return r;
}

}  // namespace medkern::ml
