// medkern/kernels/ml/gbdt_ref.hpp — reference kernels of histogram gradient boosting: the
// oracle of every ISA variant.
//
// Contract:
//   hist_gh(bins, n_features, rows, n_rows, gh, hist, stride):
//       for r in rows[0..n_rows), f in [0, n_features):
//         hist[2*(f*stride + bins[r*n_features + f]) + {0, 1}] += gh[2*r + {0, 1}]
//     bins: row-major u8 binned matrix; gh: interleaved (gradient, hessian) f32 pairs; hist:
//     (sum_gradient, sum_hessian) f64 pairs, `stride` bins per feature. Accumulation in double.
//     2 * n_rows * n_features FLOP.
//   predict_add(x, n, n_features, trees, n_trees, n_outputs, out):
//       out[i*n_outputs + t % n_outputs] += value of the leaf that row i of x (row-major f64)
//     reaches in tree t. A node goes left when x[feature] <= threshold, or when x[feature] is
//     NaN and its missing-left bit is set. Children of a node are adjacent (right = left + 1);
//     a leaf points to itself with threshold +inf and missing-left set, so `depth` steps from
//     the root reach the leaf on every path.
#pragma once

#include <cstdint>

#include "medkern/core/isa.hpp"

namespace medkern::kernels::gbdt {

/// Bit 30 of PredictTree::info: NaN goes to the left child. Bits 0..29: the feature index.
inline constexpr std::int32_t kMissingLeftBit = 1 << 30;
inline constexpr std::int32_t kFeatureMask = kMissingLeftBit - 1;

/// One tree in the prediction layout (structure of arrays, indexed by node, root 0).
struct PredictTree {
  const std::int32_t* info;    // feature | kMissingLeftBit
  const std::int32_t* left;    // left child; right child is left + 1; a leaf points to itself
  const double* threshold;     // +inf for a leaf
  const double* value;         // leaf value (learning rate included); unused for inner nodes
  std::int32_t depth;          // longest root-to-leaf path, in edges
};

template <class IsaTag>
struct impl;

template <>
struct impl<isa::ref_t> {
  static constexpr const char* name = "gbdt__ref";

  static void hist_gh(const std::uint8_t* bins, std::int64_t n_features, const std::uint32_t* rows,
                      std::int64_t n_rows, const float* gh, double* hist,
                      std::int64_t stride) noexcept {
    for (std::int64_t i = 0; i < n_rows; ++i) {
      const std::int64_t r = rows[i];
      const std::uint8_t* b = bins + r * n_features;
      const double g = gh[2 * r], h = gh[2 * r + 1];
      for (std::int64_t f = 0; f < n_features; ++f) {
        double* e = hist + 2 * (f * stride + b[f]);
        e[0] += g;
        e[1] += h;
      }
    }
  }

  static std::int32_t leaf_of(const PredictTree& t, const double* x) noexcept {
    std::int32_t node = 0;
    for (std::int32_t d = 0; d < t.depth; ++d) {
      const std::int32_t info = t.info[node];
      const double v = x[info & kFeatureMask];
      const bool left = v != v ? (info & kMissingLeftBit) != 0 : v <= t.threshold[node];
      node = t.left[node] + (left ? 0 : 1);
    }
    return node;
  }

  static void predict_add(const double* x, std::int64_t n, std::int64_t n_features,
                          const PredictTree* trees, std::int64_t n_trees, std::int64_t n_outputs,
                          double* out) noexcept {
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t t = 0; t < n_trees; ++t)
        out[i * n_outputs + t % n_outputs] +=
            trees[t].value[leaf_of(trees[t], x + i * n_features)];
  }
};

/// One registry row: the kernel set of one ISA.
struct GbdtRow {
  const char* name;
  Isa isa;
  void (*hist_gh)(const std::uint8_t*, std::int64_t, const std::uint32_t*, std::int64_t,
                  const float*, double*, std::int64_t) noexcept;
  void (*predict_add)(const double*, std::int64_t, std::int64_t, const PredictTree*,
                      std::int64_t, std::int64_t, double*) noexcept;
};

template <class Impl>
constexpr GbdtRow gbdt_row(Isa isa) {
  return GbdtRow{Impl::name, isa, &Impl::hist_gh, &Impl::predict_add};
}

}  // namespace medkern::kernels::gbdt
