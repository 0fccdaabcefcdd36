// medkern/ml/gbdt/grower.hpp — growing one regression tree on binned data, leaf-wise.
//
// The rows of each leaf are a contiguous range of one index array (ascending within the
// range); splitting a leaf stably partitions its range. Each open leaf owns a gradient/hessian
// histogram (n_features x (max_bins + 1) pairs of doubles). Of two children the smaller is
// built from its rows (per-thread histograms over row chunks, then summed per feature in
// chunk order: bitwise reproducible for a fixed thread count) and the larger is the parent's
// histogram minus the smaller, in place in the parent's buffer. A root holding every training
// row (no row subsample) reads the feature-major bins instead, feature by feature over blocks
// of rows (an L1-resident histogram slice per feature); with a constant hessian (squared
// error: every hessian is 1) it sums only the gradients and copies the hessian sums, the row
// counts per bin of all rows, from a table built once. Both give the same sums, in the same
// order, as the row-wise kernel.
//
// Split gain (no factor 1/2, as LightGBM and scikit-learn):
//   G_L^2 / (H_L + l2) + G_R^2 / (H_R + l2) - G^2 / (H + l2)
// subject to rows and hessian per child >= min_samples_leaf / min_hessian and gain > min_gain.
// Row counts of a candidate child are estimated from its hessian sum (hessian x n / H, exact
// for squared error), as LightGBM does; actual counts come from the partition. Missing values
// (the last histogram bin) are tried on both sides and go where the gain is larger; a node
// that saw none sends them to the child with more rows. Leaf value: -learning_rate G / (H + l2).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "medkern/core/threading.hpp"
#include "medkern/kernels/ml/gbdt_registry.hpp"
#include "medkern/ml/gbdt/binning.hpp"
#include "medkern/ml/gbdt/model.hpp"

namespace medkern::ml::gbdt {

struct GrowParams {
  int max_leaf_nodes = 31;  // <= 0: unbounded
  int max_depth = 0;        // <= 0: unbounded; root has depth 0
  std::int64_t min_samples_leaf = 20;
  double min_hessian = 1e-3;
  double l2 = 0.0;
  double min_gain = 0.0;
  double learning_rate = 0.1;
  bool constant_hessian = false;  // every row's hessian is exactly 1 (squared error)
};

/// The binned training matrix: row-major u8 (see binning.hpp) for histograms, and the same bins
/// feature-major (p x n) for partitioning, which reads one feature of a leaf's ascending rows:
/// a few cache lines feature-major where row-major touches one line per row.
struct BinnedData {
  const std::uint8_t* bins = nullptr;
  const std::uint8_t* cols = nullptr;  // feature-major copy
  std::int64_t n = 0, p = 0;
  const BinMapper* mapper = nullptr;
  std::vector<std::uint8_t> has_missing;  // per feature, in the training rows
};

struct SplitInfo {
  double gain = -std::numeric_limits<double>::infinity();
  std::int32_t feature = -1;
  int bin = 0;
  bool missing_left = false;
  double gl = 0, hl = 0;
};

/// The best split of one feature's histogram `e` (pairs, bins 0..n_bins-1, missing at miss).
inline SplitInfo best_split_feature(const double* e, int n_bins, int miss, bool has_missing,
                                    double G, double H, std::int64_t n, const GrowParams& gp) {
  SplitInfo best;
  const double cnt_factor = H > 0 ? double(n) / H : 0.0;
  const double parent = G * G / (H + gp.l2);
  const double mg = e[2 * miss], mh = e[2 * miss + 1];
  const bool any_missing = has_missing && mh > 0;
  // llround(c) >= m and llround(c) <= n - m for a count estimate c >= 0, without the rounding
  // call in the loop: c >= m - 0.5 and c < n - m + 0.5
  const double lo_cnt = double(gp.min_samples_leaf) - 0.5;
  const double hi_cnt = double(n - gp.min_samples_leaf) + 0.5;
  auto consider = [&](double gl, double hl, int b, bool ml) {
    const double gr = G - gl, hr = H - hl;
    if (hl < gp.min_hessian || hr < gp.min_hessian) return;
    const double nl = hl * cnt_factor;
    if (!(nl >= lo_cnt && nl < hi_cnt)) return;
    const double gain = gl * gl / (hl + gp.l2) + gr * gr / (hr + gp.l2) - parent;
    if (gain > best.gain) {
      best.gain = gain;
      best.bin = b;
      best.missing_left = ml;
      best.gl = gl;
      best.hl = hl;
    }
  };
  // missing values right: left = bins 0..b; b = n_bins-1 splits non-missing from missing
  double gl = 0, hl = 0;
  for (int b = 0; b < n_bins; ++b) {
    gl += e[2 * b];
    hl += e[2 * b + 1];
    if (b == n_bins - 1 && !any_missing) break;
    consider(gl, hl, b, false);
  }
  if (any_missing) {
    gl = mg;
    hl = mh;
    for (int b = 0; b + 1 < n_bins; ++b) {
      gl += e[2 * b];
      hl += e[2 * b + 1];
      consider(gl, hl, b, true);
    }
  } else if (best.gain > -std::numeric_limits<double>::infinity()) {
    // no missing value seen here: send them where most rows go
    const auto nl = std::int64_t(std::llround(best.hl * cnt_factor));
    best.missing_left = nl >= n - nl;
  }
  return best;
}

/// Grows trees; owns the histogram pool and scratch buffers, reused across trees.
class TreeGrower {
 public:
  struct Leaf {
    std::int32_t node;
    std::int64_t begin, end;
  };

  TreeGrower(const BinnedData& data, const GrowParams& gp, const kernels::gbdt::GbdtRow& k)
      : d_(data), gp_(gp), k_(k) {
    stride_ = d_.mapper->max_bins + 1;
    hist_size_ = std::size_t(2 * d_.p * stride_);
    threads_ = num_threads();
    scratch_rows_.resize(std::size_t(d_.n));
    chunk_hists_.resize(std::size_t(std::max(0, threads_ - 1)));
    for (auto& h : chunk_hists_) h.resize(hist_size_);
  }

  /// Grows one tree from rows[0..m) (ascending, permuted in place) with per-row (g, h) pairs
  /// `gh` (indexed by row id), splitting only on `features`. Fills `leaves` with the final
  /// leaf ranges of `rows`.
  Tree grow(std::uint32_t* rows, std::int64_t m, const float* gh,
            const std::vector<std::int32_t>& features, std::vector<Leaf>& leaves) {
    rows_ = rows;
    gh_ = gh;
    features_ = &features;
    Tree t;
    open_.clear();
    leaves.clear();
    new_node(t);
    Open root{0, 0, m, 0, 0, 0, acquire(), {}};
    // ascending rows: m == n rows are 0..n-1
    if (m == d_.n && m > 0 && rows[0] == 0 && rows[m - 1] == std::uint32_t(m - 1))
      build_root_hist(hist(root.hist));
    else
      build_hist(rows, m, hist(root.hist));
    const double* h0 = hist(root.hist);  // totals from feature 0's bins (missing bin included)
    for (std::int64_t b = 0; b < stride_; ++b) {
      root.g += h0[2 * b];
      root.h += h0[2 * b + 1];
    }
    t.count[0] = m;
    int n_leaves = 1;
    const bool can_grow = gp_.max_leaf_nodes <= 0 || gp_.max_leaf_nodes > 1;
    evaluate(root, can_grow);
    open_.push_back(root);
    while (gp_.max_leaf_nodes <= 0 || n_leaves < gp_.max_leaf_nodes) {
      std::size_t best = open_.size();
      for (std::size_t i = 0; i < open_.size(); ++i)
        if (open_[i].split.feature >= 0 &&
            (best == open_.size() || open_[i].split.gain > open_[best].split.gain))
          best = i;
      if (best == open_.size()) break;
      Open parent = open_[best];
      open_.erase(open_.begin() + std::ptrdiff_t(best));
      const SplitInfo& s = parent.split;
      const std::int64_t mid = partition(parent.begin, parent.end, s);
      const auto li = std::int32_t(t.feature.size());
      new_node(t);
      new_node(t);
      t.feature[std::size_t(parent.node)] = s.feature;
      t.threshold[std::size_t(parent.node)] =
          s.bin < d_.mapper->n_bins(s.feature) - 1
              ? d_.mapper->edges[std::size_t(s.feature)][std::size_t(s.bin)]
              : std::numeric_limits<double>::infinity();
      t.missing_left[std::size_t(parent.node)] = s.missing_left;
      t.left[std::size_t(parent.node)] = li;
      t.gain[std::size_t(parent.node)] = s.gain;
      t.bin[std::size_t(parent.node)] = std::uint8_t(s.bin);
      Open lc{li, parent.begin, mid, parent.depth + 1, s.gl, s.hl, -1, {}};
      Open rc{li + 1, mid, parent.end, parent.depth + 1, parent.g - s.gl, parent.h - s.hl, -1, {}};
      t.count[std::size_t(li)] = mid - parent.begin;
      t.count[std::size_t(li) + 1] = parent.end - mid;
      ++n_leaves;
      const bool more = gp_.max_leaf_nodes <= 0 || n_leaves < gp_.max_leaf_nodes;
      const bool want_l = more && splittable(lc), want_r = more && splittable(rc);
      if (want_l || want_r) {
        Open& small = (lc.end - lc.begin) <= (rc.end - rc.begin) ? lc : rc;
        Open& large = &small == &lc ? rc : lc;
        small.hist = acquire();
        build_hist(rows_ + small.begin, small.end - small.begin, hist(small.hist));
        large.hist = parent.hist;
        subtract(hist(large.hist), hist(small.hist));
        evaluate(lc, want_l);
        evaluate(rc, want_r);
      } else {
        release(parent.hist);
      }
      for (Open* c : {&lc, &rc}) {
        if (c->split.feature < 0) {
          if (c->hist >= 0) release(c->hist);
          c->hist = -1;
        }
        open_.push_back(*c);
      }
    }
    for (Open& o : open_) {
      if (o.hist >= 0) release(o.hist);
      const double denom = o.h + gp_.l2;
      t.value[std::size_t(o.node)] = denom > 0 ? -gp_.learning_rate * o.g / denom : 0.0;
      leaves.push_back({o.node, o.begin, o.end});
    }
    open_.clear();
    t.finalize();
    return t;
  }

 private:
  struct Open {
    std::int32_t node;
    std::int64_t begin, end;
    int depth;
    double g, h;
    int hist;  // index in the pool, -1 none
    SplitInfo split;
  };

  static void new_node(Tree& t) {
    const auto i = std::int32_t(t.feature.size());
    t.feature.push_back(0);
    t.threshold.push_back(std::numeric_limits<double>::infinity());
    t.missing_left.push_back(1);
    t.left.push_back(i);
    t.value.push_back(0.0);
    t.gain.push_back(0.0);
    t.count.push_back(0);
    t.bin.push_back(0);
  }

  bool splittable(const Open& o) const {
    const std::int64_t n = o.end - o.begin;
    return (gp_.max_depth <= 0 || o.depth < gp_.max_depth) && n >= 2 * gp_.min_samples_leaf &&
           n >= 2 && o.h >= 2 * gp_.min_hessian;
  }

  int acquire() {
    if (!free_.empty()) {
      const int i = free_.back();
      free_.pop_back();
      return i;
    }
    pool_.emplace_back(hist_size_);
    return int(pool_.size()) - 1;
  }
  void release(int i) { free_.push_back(i); }
  double* hist(int i) { return pool_[std::size_t(i)].data(); }

  /// The histogram of m rows into `out`: `part(b, e, buf)` adds the rows at positions [b, e)
  /// into the zeroed buffer buf. Per-thread chunks are summed in chunk order.
  template <class Part>
  void build_chunked(std::int64_t m, double* out, const Part& part) {
    // Below this many rows one thread is faster than zeroing and summing per-thread copies.
    constexpr std::int64_t kParallelRows = 8192;
    if (threads_ == 1 || m < kParallelRows) {
      std::memset(out, 0, hist_size_ * sizeof(double));
      part(std::int64_t(0), m, out);
      return;
    }
    const std::int64_t chunks = threads_;
    parallel_tasks(chunks, [&](std::int64_t c) {
      double* buf = c == 0 ? out : chunk_hists_[std::size_t(c - 1)].data();
      std::memset(buf, 0, hist_size_ * sizeof(double));
      part(m * c / chunks, m * (c + 1) / chunks, buf);
    });
    const std::int64_t per_feature = 2 * stride_;
    parallel_for_1d(d_.p, 4, [&](std::int64_t f0, std::int64_t f1) {
      for (std::int64_t c = 1; c < chunks; ++c) {
        const double* src = chunk_hists_[std::size_t(c - 1)].data();
        for (std::int64_t i = f0 * per_feature; i < f1 * per_feature; ++i) out[i] += src[i];
      }
    });
  }

  void build_hist(const std::uint32_t* rows, std::int64_t m, double* out) {
    build_chunked(m, out, [&](std::int64_t b, std::int64_t e, double* buf) {
      k_.hist_gh(d_.bins, d_.p, rows + b, e - b, gh_, buf, stride_);
    });
  }

  /// The histogram of every training row (rows 0..n-1), from the feature-major bins.
  void build_root_hist(double* out) {
    if (!gp_.constant_hessian) {
      build_chunked(d_.n, out, [&](std::int64_t b, std::int64_t e, double* buf) {
        k_.hist_gh_cols(d_.cols, d_.n, d_.p, b, e, gh_, buf, stride_);
      });
      return;
    }
    if (root_counts_.empty()) {  // rows per (feature, bin): the hessian sums of every root
      root_counts_.assign(std::size_t(d_.p * stride_), 0.0);
      parallel_for_1d(d_.p, 1, [&](std::int64_t f0, std::int64_t f1) {
        std::vector<std::int64_t> cnt(static_cast<std::size_t>(stride_));
        for (std::int64_t f = f0; f < f1; ++f) {
          std::fill(cnt.begin(), cnt.end(), 0);
          const std::uint8_t* c = d_.cols + f * d_.n;
          for (std::int64_t r = 0; r < d_.n; ++r) ++cnt[c[r]];
          for (std::int64_t b = 0; b < stride_; ++b)
            root_counts_[std::size_t(f * stride_ + b)] = double(cnt[std::size_t(b)]);
        }
      });
    }
    build_chunked(d_.n, out, [&](std::int64_t b, std::int64_t e, double* buf) {
      k_.hist_g_cols(d_.cols, d_.n, d_.p, b, e, gh_, buf, stride_);
    });
    const std::int64_t entries = d_.p * stride_;
    for (std::int64_t i = 0; i < entries; ++i) out[2 * i + 1] = root_counts_[std::size_t(i)];
  }

  void subtract(double* parent, const double* small) const {
    parallel_for_1d(std::int64_t(hist_size_), 1 << 14, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) parent[i] -= small[i];
    });
  }

  void evaluate(Open& o, bool want) {
    o.split = SplitInfo{};
    if (!want || o.hist < 0) return;
    const std::vector<std::int32_t>& feats = *features_;
    std::vector<SplitInfo> per(feats.size());
    const double* h = hist(o.hist);
    const std::int64_t n = o.end - o.begin;
    parallel_for_1d(std::int64_t(feats.size()), 8, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) {
        const std::int32_t f = feats[std::size_t(i)];
        per[std::size_t(i)] = best_split_feature(
            h + 2 * f * stride_, d_.mapper->n_bins(f), d_.mapper->max_bins,
            d_.has_missing[std::size_t(f)] != 0, o.g, o.h, n, gp_);
        per[std::size_t(i)].feature = f;
      }
    });
    SplitInfo best;
    for (const SplitInfo& s : per)
      if (s.gain > best.gain) best = s;
    if (!(best.gain > gp_.min_gain) || !std::isfinite(best.gain)) best = SplitInfo{};
    o.split = best;
  }

  /// Stable partition of rows_[b..e) by the split; returns the first right position.
  std::int64_t partition(std::int64_t b, std::int64_t e, const SplitInfo& s) {
    const std::uint8_t* const col = d_.cols + s.feature * d_.n;  // the split feature's bins
    // side of each bin value (1 left): one table load per row instead of two compares
    std::uint8_t side[256];
    for (int v = 0; v < 256; ++v)
      side[v] = v == d_.mapper->missing_bin() ? s.missing_left : v <= s.bin;
    std::uint32_t* rows = rows_;
    std::uint32_t* tmp = scratch_rows_.data();
    const std::int64_t m = e - b;
    constexpr std::int64_t kParallelRows = 1 << 15;
    const std::int64_t chunks = (threads_ == 1 || m < kParallelRows) ? 1 : 4 * threads_;
    std::vector<std::int64_t> nl(std::size_t(chunks), 0);
    // pass 1: each chunk writes its lefts, then its rights (reversed), to its part of tmp
    parallel_tasks(chunks, [&](std::int64_t c) {
      const std::int64_t cb = b + m * c / chunks, ce = b + m * (c + 1) / chunks;
      std::int64_t l = cb, r = ce;
      const std::uint32_t* const src = rows;
      std::uint32_t* const dst = tmp;
      // branch-free: the row is written to both ends, one end advances (sides are random)
      for (std::int64_t i = cb; i < ce; ++i) {
        const std::uint32_t row = src[i];
        const std::int64_t left = side[col[row]];
        dst[l] = row;
        dst[r - 1] = row;
        l += left;
        r -= 1 - left;
      }
      nl[std::size_t(c)] = l - cb;
    });
    std::int64_t total_left = 0;
    for (std::int64_t c : nl) total_left += c;
    // pass 2: lefts in chunk order, then rights in chunk order (un-reversed): stable
    parallel_tasks(chunks, [&](std::int64_t c) {
      const std::int64_t cb = b + m * c / chunks, ce = b + m * (c + 1) / chunks;
      std::int64_t lo = b, ro = b + total_left;
      for (std::int64_t k = 0; k < c; ++k) {
        const std::int64_t kb = b + m * k / chunks, ke = b + m * (k + 1) / chunks;
        lo += nl[std::size_t(k)];
        ro += (ke - kb) - nl[std::size_t(k)];
      }
      const std::int64_t l = nl[std::size_t(c)];
      std::memcpy(rows + lo, tmp + cb, std::size_t(l) * sizeof(std::uint32_t));
      for (std::int64_t i = ce - 1; i >= cb + l; --i) rows[ro++] = tmp[i];
    });
    return b + total_left;
  }

  const BinnedData& d_;
  GrowParams gp_;
  const kernels::gbdt::GbdtRow& k_;
  std::int64_t stride_ = 256;
  std::size_t hist_size_ = 0;
  int threads_ = 1;
  std::vector<std::vector<double>> pool_;
  std::vector<int> free_;
  std::vector<std::vector<double>> chunk_hists_;
  std::vector<std::uint32_t> scratch_rows_;
  std::vector<double> root_counts_;  // constant hessian: rows per (feature, bin), all rows
  std::vector<Open> open_;
  std::uint32_t* rows_ = nullptr;
  const float* gh_ = nullptr;
  const std::vector<std::int32_t>* features_ = nullptr;
};

/// Leaf reached by binned row `b` (training-time traversal).
inline std::int32_t leaf_of_binned(const Tree& t, const std::uint8_t* b, std::uint8_t miss) {
  std::int32_t node = 0;
  while (!t.is_leaf(node)) {
    const std::uint8_t v = b[t.feature[std::size_t(node)]];
    const bool left = v == miss ? t.missing_left[std::size_t(node)] != 0
                                : v <= t.bin[std::size_t(node)];
    node = t.left[std::size_t(node)] + (left ? 0 : 1);
  }
  return node;
}

}  // namespace medkern::ml::gbdt
