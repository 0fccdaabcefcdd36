// medkern/ml/gbdt/model.hpp — a trained gradient-boosted tree ensemble and its prediction.
//
// Trees are stored in the prediction layout of kernels/ml/gbdt_ref.hpp: node arrays indexed
// from the root (0), the two children of a node adjacent (right = left + 1), leaves pointing
// to themselves with threshold +inf. Raw score of row x for output c:
//   baseline[c] + sum over trees t with t % n_outputs == c of leaf_value_t(x).
// Binary log-loss has one output (the logit), multiclass log-loss one per class.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "medkern/core/error.hpp"
#include "medkern/core/threading.hpp"
#include "medkern/kernels/ml/gbdt_registry.hpp"

namespace medkern::ml::gbdt {

enum class Loss { squared_error, log_loss_binary, log_loss_multiclass };

inline const char* loss_name(Loss l) {
  switch (l) {
    case Loss::squared_error: return "squared_error";
    case Loss::log_loss_binary: return "binary_log_loss";
    case Loss::log_loss_multiclass: return "multiclass_log_loss";
  }
  return "?";
}

struct Tree {
  std::vector<std::int32_t> feature;  // split feature; 0 for a leaf
  std::vector<double> threshold;      // go left when x <= threshold; +inf for a leaf
  std::vector<std::uint8_t> missing_left;
  std::vector<std::int32_t> left;     // left child (right = left + 1); self for a leaf
  std::vector<double> value;          // leaf value, learning rate included
  std::vector<double> gain;           // split gain of an inner node, 0 for a leaf
  std::vector<std::int64_t> count;    // training rows that reached the node
  std::vector<std::uint8_t> bin;      // split bin (training-time traversal on binned data)
  std::vector<std::int32_t> info;     // feature | missing-left bit, for the kernels
  std::int32_t depth = 0;

  std::int64_t n_nodes() const { return std::int64_t(feature.size()); }
  bool is_leaf(std::int64_t i) const { return left[std::size_t(i)] == std::int32_t(i); }

  /// Recomputes the kernel view (info, depth) from the node arrays.
  void finalize() {
    const std::size_t n = feature.size();
    info.resize(n);
    for (std::size_t i = 0; i < n; ++i)
      info[i] = feature[i] | (missing_left[i] ? kernels::gbdt::kMissingLeftBit : 0);
    std::vector<std::int32_t> d(n, 0);
    depth = 0;
    for (std::size_t i = 0; i < n; ++i) {  // children always follow their parent
      if (left[i] == std::int32_t(i)) continue;
      for (int k = 0; k < 2; ++k) {
        d[std::size_t(left[i] + k)] = d[i] + 1;
        depth = std::max(depth, d[i] + 1);
      }
    }
  }

  kernels::gbdt::PredictTree view() const {
    return {info.data(), left.data(), threshold.data(), value.data(), depth};
  }
};

struct Model {
  Loss loss = Loss::squared_error;
  std::int64_t n_features = 0;
  std::int64_t n_outputs = 1;    // trees per iteration
  std::vector<double> baseline;  // n_outputs
  std::vector<Tree> trees;       // iteration-major: tree t belongs to output t % n_outputs

  std::int64_t n_iter() const { return std::int64_t(trees.size()) / std::max<std::int64_t>(1, n_outputs); }

  /// Checks the structural invariants (a model loaded from a file is untrusted input).
  void validate(const char* op) const {
    using ::medkern::detail::throw_shape;
    if (n_features < 1) throw_shape(op, ": model n_features=", n_features, " must be >= 1");
    if (n_outputs < 1) throw_shape(op, ": model n_outputs=", n_outputs, " must be >= 1");
    if (std::int64_t(baseline.size()) != n_outputs)
      throw_shape(op, ": model baseline has ", baseline.size(), " entries, expected ", n_outputs);
    if (std::int64_t(trees.size()) % n_outputs != 0)
      throw_shape(op, ": model has ", trees.size(), " trees, not a multiple of n_outputs=",
                  n_outputs);
    for (std::size_t t = 0; t < trees.size(); ++t) {
      const Tree& tr = trees[t];
      const std::size_t n = tr.feature.size();
      if (n == 0 || tr.threshold.size() != n || tr.missing_left.size() != n ||
          tr.left.size() != n || tr.value.size() != n)
        throw_shape(op, ": tree ", t, " has node arrays of different or zero lengths");
      if (n >= std::size_t(kernels::gbdt::kFeatureMask))
        throw_shape(op, ": tree ", t, " has too many nodes (", n, ")");
      std::vector<std::uint8_t> seen(n, 0);
      for (std::size_t i = 0; i < n; ++i) {
        const std::int32_t l = tr.left[i];
        if (l == std::int32_t(i)) {
          if (!(tr.threshold[i] == std::numeric_limits<double>::infinity()) || !tr.missing_left[i])
            throw_shape(op, ": tree ", t, " leaf ", i, " must have threshold inf and missing_left");
          if (!std::isfinite(tr.value[i]))
            throw_shape(op, ": tree ", t, " leaf ", i, " has a non-finite value");
          continue;
        }
        // children strictly after the parent: no cycles, depth computable in one pass
        if (l <= std::int32_t(i) || std::size_t(l) + 1 >= n)
          throw_shape(op, ": tree ", t, " node ", i, " has child ", l, " out of order or range");
        if (tr.feature[i] < 0 || tr.feature[i] >= n_features)
          throw_shape(op, ": tree ", t, " node ", i, " splits on feature ", tr.feature[i],
                      ", model has ", n_features);
        if (std::isnan(tr.threshold[i]))
          throw_shape(op, ": tree ", t, " node ", i, " has a NaN threshold");
        if (seen[std::size_t(l)]++ || seen[std::size_t(l) + 1]++)
          throw_shape(op, ": tree ", t, " node ", l, " has two parents");
      }
    }
  }
};

/// Raw scores (n x n_outputs, row-major) of X (n x n_features, row-major, NaN = missing).
inline void predict_raw(const Model& m, const double* x, std::int64_t n, double* out,
                        const kernels::gbdt::GbdtRow& k) {
  const std::int64_t K = m.n_outputs;
  std::vector<kernels::gbdt::PredictTree> views;
  views.reserve(m.trees.size());
  for (const Tree& t : m.trees) views.push_back(t.view());
  // 256-row blocks: 256 x n_features doubles of X stay in L2 while every tree walks them.
  constexpr std::int64_t kBlock = 256;
  parallel_for_1d((n + kBlock - 1) / kBlock, 1, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t blk = b; blk < e; ++blk) {
      const std::int64_t i0 = blk * kBlock, i1 = std::min(n, i0 + kBlock);
      for (std::int64_t i = i0; i < i1; ++i)
        for (std::int64_t c = 0; c < K; ++c) out[i * K + c] = m.baseline[std::size_t(c)];
      k.predict_add(x + i0 * m.n_features, i1 - i0, m.n_features, views.data(),
                    std::int64_t(views.size()), K, out + i0 * K);
    }
  });
}

inline void predict_raw(const Model& m, const double* x, std::int64_t n, double* out) {
  predict_raw(m, x, n, out, kernels::gbdt::active_kernels());
}

}  // namespace medkern::ml::gbdt
