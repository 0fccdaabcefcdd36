// medkern/ml/gbdt/boosting.hpp — histogram gradient boosting: losses, the boosting loop, early
// stopping, row/column subsampling, feature importances.
//
// Losses (raw score F, per row; gradients/hessians as scikit-learn's HistGradientBoosting):
//   squared_error        loss (y - F)^2 / 2         g = F - y        h = 1
//   binary log-loss      log(1 + e^F) - y F          g = p - y        h = p (1 - p), p = sigmoid(F)
//   multiclass log-loss  logsumexp(F) - F_y          g_k = p_k - [y = k], h_k = p_k (1 - p_k)
// Baselines: mean(y); logit of the positive rate; log class priors. One tree per output per
// iteration. Early stopping as scikit-learn's: scores are -mean loss on the validation rows,
// recorded before the first iteration and after each; stop when none of the last
// n_iter_no_change scores beats the one before them by more than tol.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "medkern/core/error.hpp"
#include "medkern/core/threading.hpp"
#include "medkern/kernels/ml/gbdt_registry.hpp"
#include "medkern/ml/gbdt/binning.hpp"
#include "medkern/ml/gbdt/grower.hpp"
#include "medkern/ml/gbdt/model.hpp"

namespace medkern::ml::gbdt {

struct Params {
  Loss loss = Loss::squared_error;
  std::int64_t n_classes = 1;  // multiclass only
  double learning_rate = 0.1;
  std::int64_t max_iter = 100;
  int max_leaf_nodes = 31;  // <= 0: unbounded
  int max_depth = 0;        // <= 0: unbounded
  std::int64_t min_samples_leaf = 20;
  double min_hessian = 1e-3;
  double l2 = 0.0;
  double min_gain = 0.0;
  int max_bins = 255;
  double subsample = 1.0;         // fraction of rows per iteration (Bernoulli)
  double colsample_bytree = 1.0;  // fraction of features per tree
  std::int64_t n_iter_no_change = 10;
  double tol = 1e-7;
  std::uint64_t seed = 0;
  std::int64_t bin_subsample = 200000;  // rows used to find bin edges
};

struct FitResult {
  Model model;
  std::vector<double> train_score, validation_score;  // -loss, n_iter + 1 entries when recorded
  std::vector<double> importance_gain, importance_split;
  BinMapper mapper;
};

namespace detail {

inline double sigmoid(double f) {
  return f >= 0 ? 1.0 / (1.0 + std::exp(-f)) : std::exp(f) / (1.0 + std::exp(f));
}
inline double log1pexp(double f) { return f > 0 ? f + std::log1p(std::exp(-f)) : std::log1p(std::exp(f)); }

/// Mean loss of raw scores (n x K) against y.
inline double mean_loss(Loss loss, const double* y, const double* raw, std::int64_t n,
                        std::int64_t K) {
  if (n == 0) return 0.0;
  const double s = parallel_reduce_ordered(n, 4096, 0.0, [&](std::int64_t b, std::int64_t e) {
    double acc = 0;
    for (std::int64_t i = b; i < e; ++i) {
      if (loss == Loss::squared_error) {
        const double d = y[i] - raw[i];
        acc += 0.5 * d * d;
      } else if (loss == Loss::log_loss_binary) {
        acc += log1pexp(raw[i]) - y[i] * raw[i];
      } else {
        const double* f = raw + i * K;
        double mx = f[0];
        for (std::int64_t k = 1; k < K; ++k) mx = std::max(mx, f[k]);
        double se = 0;
        for (std::int64_t k = 0; k < K; ++k) se += std::exp(f[k] - mx);
        acc += mx + std::log(se) - f[std::int64_t(y[i])];
      }
    }
    return acc;
  }, [](double a, double b) { return a + b; });
  return s / double(n);
}

}  // namespace detail

/// Fits a boosted ensemble on X (n x p row-major, NaN = missing) and y (targets, or class
/// indices 0..K-1 as doubles). Optional validation rows (xv, yv, nv > 0) enable early stopping.
inline FitResult fit(const double* x, const double* y, std::int64_t n, std::int64_t p,
                     const double* xv, const double* yv, std::int64_t nv, const Params& prm,
                     const kernels::gbdt::GbdtRow& k) {
  using ::medkern::detail::throw_shape;
  const char* op = "gbdt fit";
  if (n < 1 || p < 1) throw_shape(op, ": X shape ", n, "x", p, " must be non-empty");
  if (n > std::int64_t(std::numeric_limits<std::uint32_t>::max()))
    throw_shape(op, ": ", n, " rows exceed the 2^32 - 1 row limit");
  ::medkern::detail::checked_mul(n, p, op);
  if (!(prm.learning_rate > 0)) throw_shape(op, ": learning_rate=", prm.learning_rate, " must be > 0");
  if (prm.max_iter < 1) throw_shape(op, ": max_iter=", prm.max_iter, " must be >= 1");
  if (prm.max_leaf_nodes > 0 && prm.max_leaf_nodes < 2)
    throw_shape(op, ": max_leaf_nodes=", prm.max_leaf_nodes, " must be >= 2");
  if (prm.min_samples_leaf < 1)
    throw_shape(op, ": min_samples_leaf=", prm.min_samples_leaf, " must be >= 1");
  if (!(prm.l2 >= 0)) throw_shape(op, ": l2_regularization=", prm.l2, " must be >= 0");
  if (!(prm.min_hessian >= 0)) throw_shape(op, ": min_hessian=", prm.min_hessian, " must be >= 0");
  if (!(prm.subsample > 0 && prm.subsample <= 1))
    throw_shape(op, ": subsample=", prm.subsample, " must be in (0, 1]");
  if (!(prm.colsample_bytree > 0 && prm.colsample_bytree <= 1))
    throw_shape(op, ": colsample_bytree=", prm.colsample_bytree, " must be in (0, 1]");
  const std::int64_t K = prm.loss == Loss::log_loss_multiclass ? prm.n_classes : 1;
  if (prm.loss == Loss::log_loss_multiclass && K < 3)
    throw_shape(op, ": multiclass log-loss needs >= 3 classes, got ", K);
  const Loss loss = prm.loss;
  for (std::int64_t i = 0; i < n; ++i) {
    const double v = y[i];
    if (!std::isfinite(v)) throw_shape(op, ": y[", i, "]=", v, " must be finite");
    if (loss == Loss::log_loss_binary && v != 0 && v != 1)
      throw_shape(op, ": y[", i, "]=", v, " must be 0 or 1 for binary log-loss");
    if (loss == Loss::log_loss_multiclass && (v < 0 || v >= double(K) || v != std::floor(v)))
      throw_shape(op, ": y[", i, "]=", v, " must be a class index in [0, ", K, ")");
  }

  FitResult res;
  res.mapper = fit_bins(x, n, p, prm.max_bins, prm.bin_subsample, prm.seed);
  std::vector<std::uint8_t> bins(std::size_t(n * p));
  apply_bins(res.mapper, x, n, bins.data(), k);
  std::vector<std::uint8_t> cols(std::size_t(n * p));
  transpose_bins(bins.data(), n, p, cols.data());
  BinnedData data{bins.data(), cols.data(), n, p, &res.mapper,
                  std::vector<std::uint8_t>(std::size_t(p), 0)};
  {
    const std::uint8_t miss = res.mapper.missing_bin();
    std::vector<std::vector<std::uint8_t>> part(std::size_t(num_threads()) * 4,
                                                std::vector<std::uint8_t>(std::size_t(p), 0));
    const std::int64_t chunks = std::int64_t(part.size());
    parallel_tasks(chunks, [&](std::int64_t c) {
      auto& hm = part[std::size_t(c)];
      for (std::int64_t i = n * c / chunks; i < n * (c + 1) / chunks; ++i)
        for (std::int64_t f = 0; f < p; ++f) hm[std::size_t(f)] |= bins[std::size_t(i * p + f)] == miss;
    });
    for (auto& hm : part)
      for (std::int64_t f = 0; f < p; ++f) data.has_missing[std::size_t(f)] |= hm[std::size_t(f)];
  }
  std::vector<std::uint8_t> vbins;
  if (nv > 0) {
    vbins.resize(std::size_t(nv * p));
    apply_bins(res.mapper, xv, nv, vbins.data(), k);
  }

  Model& m = res.model;
  m.loss = loss;
  m.n_features = p;
  m.n_outputs = K;
  m.baseline.assign(std::size_t(K), 0.0);
  if (loss == Loss::squared_error) {
    m.baseline[0] = std::accumulate(y, y + n, 0.0) / double(n);
  } else if (loss == Loss::log_loss_binary) {
    const double pos = std::clamp(std::accumulate(y, y + n, 0.0) / double(n), 1e-15, 1 - 1e-15);
    m.baseline[0] = std::log(pos / (1 - pos));
  } else {
    std::vector<double> cnt(std::size_t(K), 0.0);
    for (std::int64_t i = 0; i < n; ++i) cnt[std::size_t(y[i])] += 1;
    for (std::int64_t c = 0; c < K; ++c)
      m.baseline[std::size_t(c)] = std::log(std::max(cnt[std::size_t(c)] / double(n), 1e-15));
  }
  std::vector<double> raw(std::size_t(n * K)), vraw(std::size_t(nv * K));
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t c = 0; c < K; ++c) raw[std::size_t(i * K + c)] = m.baseline[std::size_t(c)];
  for (std::int64_t i = 0; i < nv; ++i)
    for (std::int64_t c = 0; c < K; ++c) vraw[std::size_t(i * K + c)] = m.baseline[std::size_t(c)];

  const bool early = nv > 0 && prm.n_iter_no_change > 0;
  auto record = [&] {
    if (!early) return;
    res.train_score.push_back(-detail::mean_loss(loss, y, raw.data(), n, K));
    res.validation_score.push_back(-detail::mean_loss(loss, yv, vraw.data(), nv, K));
  };
  auto should_stop = [&] {
    const auto& s = res.validation_score;
    const std::size_t ref_pos = std::size_t(prm.n_iter_no_change) + 1;
    if (s.size() < ref_pos) return false;
    const double ref = s[s.size() - ref_pos] + prm.tol;
    for (std::size_t i = s.size() - ref_pos + 1; i < s.size(); ++i)
      if (s[i] > ref) return false;
    return true;
  };
  record();

  GrowParams gp;
  gp.max_leaf_nodes = prm.max_leaf_nodes;
  gp.max_depth = prm.max_depth;
  gp.min_samples_leaf = prm.min_samples_leaf;
  gp.min_hessian = prm.min_hessian;
  gp.l2 = prm.l2;
  gp.min_gain = prm.min_gain;
  gp.learning_rate = prm.learning_rate;
  gp.constant_hessian = loss == Loss::squared_error;  // h = 1 for every row
  TreeGrower grower(data, gp, k);
  std::vector<float> gh(std::size_t(2 * n * K));
  std::vector<std::uint32_t> sample, rows(static_cast<std::size_t>(n));
  std::vector<TreeGrower::Leaf> leaves;
  std::mt19937_64 rng(prm.seed ^ 0x9e3779b97f4a7c15ULL);
  std::vector<std::int32_t> all_features(static_cast<std::size_t>(p));
  std::iota(all_features.begin(), all_features.end(), 0);
  res.importance_gain.assign(std::size_t(p), 0.0);
  res.importance_split.assign(std::size_t(p), 0.0);
  const std::uint8_t miss = res.mapper.missing_bin();

  for (std::int64_t it = 0; it < prm.max_iter; ++it) {
    // gradients and hessians of every output, as (g, h) f32 pairs per row
    parallel_for_1d(n, 4096, [&](std::int64_t b, std::int64_t e) {
      std::vector<double> prob(static_cast<std::size_t>(K));
      for (std::int64_t i = b; i < e; ++i) {
        if (loss == Loss::squared_error) {
          gh[std::size_t(2 * i)] = float(raw[std::size_t(i)] - y[i]);
          gh[std::size_t(2 * i + 1)] = 1.0f;
        } else if (loss == Loss::log_loss_binary) {
          const double pr = detail::sigmoid(raw[std::size_t(i)]);
          gh[std::size_t(2 * i)] = float(pr - y[i]);
          gh[std::size_t(2 * i + 1)] = float(pr * (1 - pr));
        } else {
          const double* f = raw.data() + i * K;
          double mx = f[0];
          for (std::int64_t c = 1; c < K; ++c) mx = std::max(mx, f[c]);
          double se = 0;
          for (std::int64_t c = 0; c < K; ++c) se += (prob[std::size_t(c)] = std::exp(f[c] - mx));
          for (std::int64_t c = 0; c < K; ++c) {
            const double pr = prob[std::size_t(c)] / se;
            float* o = gh.data() + 2 * (c * n + i);
            o[0] = float(pr - (std::int64_t(y[i]) == c ? 1.0 : 0.0));
            o[1] = float(pr * (1 - pr));
          }
        }
      }
    });
    // row subsample of this iteration (shared by its K trees)
    sample.clear();
    if (prm.subsample < 1.0) {
      std::uniform_real_distribution<double> u(0.0, 1.0);
      for (std::int64_t i = 0; i < n; ++i)
        if (u(rng) < prm.subsample) sample.push_back(std::uint32_t(i));
      if (sample.empty()) sample.push_back(std::uint32_t(std::uniform_int_distribution<std::int64_t>(0, n - 1)(rng)));
    }
    for (std::int64_t c = 0; c < K; ++c) {
      std::vector<std::int32_t> feats = all_features;
      if (prm.colsample_bytree < 1.0) {
        const auto keep = std::max<std::int64_t>(1, std::llround(prm.colsample_bytree * double(p)));
        std::shuffle(feats.begin(), feats.end(), rng);
        feats.resize(std::size_t(keep));
        std::sort(feats.begin(), feats.end());
      }
      std::int64_t msz = n;
      if (prm.subsample < 1.0) {
        msz = std::int64_t(sample.size());
        std::copy(sample.begin(), sample.end(), rows.begin());
      } else {
        std::iota(rows.begin(), rows.end(), 0u);
      }
      Tree t = grower.grow(rows.data(), msz, gh.data() + 2 * c * n, feats, leaves);
      for (std::int64_t i = 0; i < t.n_nodes(); ++i)
        if (!t.is_leaf(i)) {
          res.importance_gain[std::size_t(t.feature[std::size_t(i)])] += t.gain[std::size_t(i)];
          res.importance_split[std::size_t(t.feature[std::size_t(i)])] += 1;
        }
      if (prm.subsample < 1.0) {  // rows outside the sample: walk the tree on their bins
        parallel_for_1d(n, 2048, [&](std::int64_t b, std::int64_t e) {
          for (std::int64_t i = b; i < e; ++i)
            raw[std::size_t(i * K + c)] +=
                t.value[std::size_t(leaf_of_binned(t, bins.data() + i * p, miss))];
        });
      } else {
        parallel_tasks(std::int64_t(leaves.size()), [&](std::int64_t l) {
          const TreeGrower::Leaf& lf = leaves[std::size_t(l)];
          const double v = t.value[std::size_t(lf.node)];
          for (std::int64_t j = lf.begin; j < lf.end; ++j) raw[std::size_t(rows[std::size_t(j)] * K + c)] += v;
        });
      }
      if (nv > 0)
        parallel_for_1d(nv, 2048, [&](std::int64_t b, std::int64_t e) {
          for (std::int64_t i = b; i < e; ++i)
            vraw[std::size_t(i * K + c)] +=
                t.value[std::size_t(leaf_of_binned(t, vbins.data() + i * p, miss))];
        });
      m.trees.push_back(std::move(t));
    }
    record();
    if (early && should_stop()) break;
  }
  return res;
}

inline FitResult fit(const double* x, const double* y, std::int64_t n, std::int64_t p,
                     const double* xv, const double* yv, std::int64_t nv, const Params& prm) {
  return fit(x, y, n, p, xv, yv, nv, prm, kernels::gbdt::active_kernels());
}

}  // namespace medkern::ml::gbdt
