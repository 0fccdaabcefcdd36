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
//   hist_gh_cols(cols, n, n_features, begin, end, gh, hist, stride):
//       the same sums over the contiguous rows [begin, end), reading the feature-major copy
//       (cols[f*n + r] = bins[r*n_features + f]): per feature the histogram is one
//       stride-entry slice that stays in L1 while the feature's bins stream by. Every entry is
//       summed in ascending row order, as hist_gh does for ascending rows: bitwise the same.
//   hist_g_cols(cols, n, n_features, begin, end, gh, hist, stride):
//       as hist_gh_cols for the gradients only: hist[2*(f*stride + b)] += gh[2*r]; the hessian
//       entries are not touched (a constant hessian makes them row counts known beforehand).
//   bin_rows(x, n, n_features, edges, missing, out):
//       out[i*n_features + f] = missing if x[i*n_features + f] is NaN, else
//       #{k < 255 : edges[f*256 + k] < x[i*n_features + f]}
//     x: row-major f64; edges: 256 ascending values per feature, padded with +inf (entry 255
//     is always +inf). A value's bin is the number of edges below it.
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

  static void hist_gh_cols(const std::uint8_t* cols, std::int64_t n, std::int64_t n_features,
                           std::int64_t begin, std::int64_t end, const float* gh, double* hist,
                           std::int64_t stride) noexcept {
    for (std::int64_t f = 0; f < n_features; ++f) {
      const std::uint8_t* c = cols + f * n;
      double* h = hist + 2 * f * stride;
      for (std::int64_t r = begin; r < end; ++r) {
        h[2 * c[r]] += gh[2 * r];
        h[2 * c[r] + 1] += gh[2 * r + 1];
      }
    }
  }

  static void hist_g_cols(const std::uint8_t* cols, std::int64_t n, std::int64_t n_features,
                          std::int64_t begin, std::int64_t end, const float* gh, double* hist,
                          std::int64_t stride) noexcept {
    for (std::int64_t f = 0; f < n_features; ++f) {
      const std::uint8_t* c = cols + f * n;
      double* h = hist + 2 * f * stride;
      for (std::int64_t r = begin; r < end; ++r) h[2 * c[r]] += gh[2 * r];
    }
  }

  static void bin_rows(const double* x, std::int64_t n, std::int64_t n_features,
                       const double* edges, std::uint8_t missing, std::uint8_t* out) noexcept {
    constexpr std::int64_t kBlock = 256;  // rows per block: the block stays in L2 across features
    for (std::int64_t i0 = 0; i0 < n; i0 += kBlock) {
      const std::int64_t i1 = i0 + kBlock < n ? i0 + kBlock : n;
      for (std::int64_t f = 0; f < n_features; ++f) {
        const double* ed = edges + f * 256;
        for (std::int64_t i = i0; i < i1; ++i) {
          const double v = x[i * n_features + f];
          int pos = 0;  // branch-free binary search over the 255 (padded) edges
          for (int s = 128; s > 0; s >>= 1) pos += (ed[pos + s - 1] < v) ? s : 0;
          out[i * n_features + f] = v != v ? missing : std::uint8_t(pos);
        }
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
  // hist_gh_cols, hist_g_cols
  void (*hist_gh_cols)(const std::uint8_t*, std::int64_t, std::int64_t, std::int64_t,
                       std::int64_t, const float*, double*, std::int64_t) noexcept;
  void (*hist_g_cols)(const std::uint8_t*, std::int64_t, std::int64_t, std::int64_t,
                      std::int64_t, const float*, double*, std::int64_t) noexcept;
  void (*bin_rows)(const double*, std::int64_t, std::int64_t, const double*, std::uint8_t,
                   std::uint8_t*) noexcept;
  void (*predict_add)(const double*, std::int64_t, std::int64_t, const PredictTree*,
                      std::int64_t, std::int64_t, double*) noexcept;
};

template <class Impl>
constexpr GbdtRow gbdt_row(Isa isa) {
  return GbdtRow{Impl::name,          isa,          &Impl::hist_gh, &Impl::hist_gh_cols,
                 &Impl::hist_g_cols, &Impl::bin_rows,    &Impl::predict_add};
}

}  // namespace medkern::kernels::gbdt
