// tests/cpp/ml/gbdt_test.cpp — gradient boosting: binning rules (and the bin finder's radix sort
// and the feature-major copy), histogram and prediction kernels of every registry row against
// ref (feature counts around the 4-bin word and the 16-lane width, sparse row lists), split
// finding on crafted histograms, small end-to-end fits, model validation; feature-major and
// constant-hessian roots against the row-wise one.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <utility>
#include <vector>

#include "medkern/core/cpu.hpp"
#include "medkern/kernels/ml/gbdt_registry.hpp"
#include "medkern/ml/gbdt/binning.hpp"
#include "medkern/ml/gbdt/boosting.hpp"
#include "medkern/ml/gbdt/grower.hpp"

using namespace medkern;
namespace kg = medkern::kernels::gbdt;
namespace gb = medkern::ml::gbdt;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

}  // namespace

TEST_CASE("gbdt binning: distinct values, quantiles, NaN bin, edges as split thresholds") {
  // few distinct values: midpoints, one bin each
  std::vector<double> x = {3, 1, 2, 1, kNaN, 3, 2};
  gb::BinMapper bm = gb::fit_bins(x.data(), 7, 1, 255, 0, 0);
  REQUIRE(bm.edges[0].size() == 2);
  CHECK(bm.edges[0][0] == doctest::Approx(1.5));
  CHECK(bm.edges[0][1] == doctest::Approx(2.5));
  std::vector<std::uint8_t> b(7);
  gb::apply_bins(bm, x.data(), 7, b.data());
  CHECK(b == std::vector<std::uint8_t>{2, 0, 1, 0, 255, 2, 1});
  // many distinct values: at most max_bins bins, roughly equal counts, x <= edge[b] <=> bin <= b
  std::mt19937 g(1);
  std::normal_distribution<double> d;
  const std::int64_t n = 3001;
  std::vector<double> y(n);
  for (auto& v : y) v = d(g);
  y[5] = kInf;
  y[6] = -kInf;
  for (int max_bins : {2, 16, 255}) {
    gb::BinMapper bq = gb::fit_bins(y.data(), n, 1, max_bins, 0, 0);
    CHECK(bq.n_bins(0) <= max_bins);
    CHECK(bq.n_bins(0) >= max_bins - 1);
    std::vector<std::uint8_t> by(n);
    gb::apply_bins(bq, y.data(), n, by.data());
    std::vector<std::int64_t> cnt(std::size_t(bq.n_bins(0)), 0);
    for (std::int64_t i = 0; i < n; ++i) {
      const int bin = by[std::size_t(i)];
      REQUIRE(bin < bq.n_bins(0));
      ++cnt[std::size_t(bin)];
      for (std::size_t e = 0; e < bq.edges[0].size(); ++e)
        REQUIRE((y[std::size_t(i)] <= bq.edges[0][e]) == (bin <= int(e)));
    }
    for (std::int64_t c : cnt) CHECK(c <= 2 * n / bq.n_bins(0) + 2);
  }
  // all-NaN and constant features: one bin, no edges
  std::vector<double> z = {kNaN, kNaN, 4, 4};
  gb::BinMapper bz = gb::fit_bins(z.data(), 2, 2, 255, 0, 0);
  CHECK(bz.n_bins(0) == 1);
  CHECK(bz.n_bins(1) == 1);
  CHECK_THROWS_AS(gb::fit_bins(z.data(), 2, 2, 256, 0, 0), ShapeError);
  // the bin finder's radix sort orders like std::sort (NaN excluded by the caller)
  std::mt19937_64 rg(11);
  std::normal_distribution<double> rn;
  for (std::size_t sn : {0u, 1u, 2u, 3u, 2047u, 2049u, 100000u}) {
    for (int kind = 0; kind < 4; ++kind) {
      std::vector<double> v(sn);
      for (auto& a : v)
        a = kind == 0   ? rn(rg)
            : kind == 1 ? double(int(rn(rg) * 3))  // many duplicates
            : kind == 2 ? (rg() % 2 != 0 ? -0.0 : 0.0)
                        : (rg() % 3 == 0 ? -kInf : rg() % 3 == 1 ? kInf : rn(rg) * 1e300);
      std::vector<double> w = v;
      std::sort(w.begin(), w.end());
      gb::detail::radix_sort(v);
      for (std::size_t i = 0; i < sn; ++i) {
        REQUIRE(v[i] == w[i]);
        if (i > 0) REQUIRE(!(v[i] < v[i - 1]));
      }
    }
  }
  // the feature-major copy holds the same bins
  for (std::int64_t tn : {1, 63, 64, 65, 5000}) {
    const std::int64_t tp = 7;
    std::vector<std::uint8_t> rb(std::size_t(tn * tp)), cb(rb.size());
    for (std::size_t i = 0; i < rb.size(); ++i) rb[i] = std::uint8_t(i * 31 % 251);
    gb::transpose_bins(rb.data(), tn, tp, cb.data());
    for (std::int64_t i = 0; i < tn; ++i)
      for (std::int64_t f = 0; f < tp; ++f)
        REQUIRE(cb[std::size_t(f * tn + i)] == rb[std::size_t(i * tp + f)]);
  }
}

TEST_CASE("gbdt kernels: every registry row matches ref") {
  std::mt19937 g(7);
  for (const auto& row : kg::kRegistry) {
    if (!cpu_info().supports(row.isa)) {
      MESSAGE("skipping " << row.k.name << ": CPU lacks the ISA");
      continue;
    }
    for (std::int64_t p : {1, 2, 3, 4, 5, 15, 16, 17, 33, 50}) {
      const std::int64_t n = 97, stride = 256;
      std::vector<std::uint8_t> bins(std::size_t(n * p));
      std::uniform_int_distribution<int> bd(0, 255);
      for (auto& v : bins) v = std::uint8_t(bd(g));
      for (std::int64_t i = 0; i < n; ++i) bins[std::size_t(i * p)] = 3;  // repeated bin
      std::vector<float> gh(std::size_t(2 * n));
      std::normal_distribution<float> nd;
      for (auto& v : gh) v = nd(g);
      std::vector<std::uint32_t> rows;
      for (std::uint32_t i = 0; i < n; i += 1 + std::uint32_t(g() % 3)) rows.push_back(i);
      // guard entries past the histogram catch out-of-range writes
      std::vector<double> h(std::size_t(2 * p * stride + 8), 0.0), r(h.size(), 0.0);
      row.k.hist_gh(bins.data(), p, rows.data(), std::int64_t(rows.size()), gh.data(), h.data(),
                    stride);
      kg::impl<isa::ref_t>::hist_gh(bins.data(), p, rows.data(), std::int64_t(rows.size()),
                                    gh.data(), r.data(), stride);
      for (std::size_t i = 0; i < h.size(); ++i) REQUIRE(h[i] == doctest::Approx(r[i]).epsilon(1e-12));
      for (std::size_t i = h.size() - 8; i < h.size(); ++i) REQUIRE(h[i] == 0.0);
    }
    // feature-major histograms of a contiguous row range: the row-wise sums, bitwise (same
    // order per entry); ranges across the 8192-row blocks, a range not starting at row 0
    for (std::int64_t p : {1, 3, 4, 5, 17}) {
      const std::int64_t n = 9000, stride = 256;
      std::vector<std::uint8_t> bins(std::size_t(n * p)), cols(bins.size());
      std::uniform_int_distribution<int> bd(0, 255);
      for (auto& v : bins) v = std::uint8_t(bd(g));
      for (std::int64_t i = 0; i < n; i += 2) bins[std::size_t(i * p)] = 7;  // repeated bin
      gb::transpose_bins(bins.data(), n, p, cols.data());
      std::vector<float> gh(std::size_t(2 * n));
      std::normal_distribution<float> nd;
      for (auto& v : gh) v = nd(g);
      for (auto [b, e] : {std::pair<std::int64_t, std::int64_t>{0, n}, {5, 8200}, {3, 6}}) {
        std::vector<std::uint32_t> rows;
        for (std::int64_t i = b; i < e; ++i) rows.push_back(std::uint32_t(i));
        std::vector<double> h(std::size_t(2 * p * stride + 8), 0.0), r(h.size(), 0.0),
            hg(h.size(), 0.0);
        row.k.hist_gh_cols(cols.data(), n, p, b, e, gh.data(), h.data(), stride);
        row.k.hist_g_cols(cols.data(), n, p, b, e, gh.data(), hg.data(), stride);
        kg::impl<isa::ref_t>::hist_gh(bins.data(), p, rows.data(), std::int64_t(rows.size()),
                                      gh.data(), r.data(), stride);
        for (std::size_t i = 0; i < h.size(); ++i) {
          REQUIRE(h[i] == r[i]);
          REQUIRE(hg[i] == (i % 2 == 0 ? r[i] : 0.0));  // hessian entries untouched
        }
      }
    }
    // binning: values on, between and beyond the edges, NaN, +-inf; 0, few and 255 edges
    {
      const std::int64_t n = 700, p = 4;
      std::vector<double> edges(std::size_t(p * 256), kInf);
      const int n_edges[p] = {0, 3, 200, 255};
      std::normal_distribution<double> nd;
      for (std::int64_t f = 0; f < p; ++f) {
        std::vector<double> e(static_cast<std::size_t>(n_edges[f]));
        for (auto& v : e) v = nd(g);
        std::sort(e.begin(), e.end());
        e.erase(std::unique(e.begin(), e.end()), e.end());
        std::copy(e.begin(), e.end(), edges.begin() + f * 256);
      }
      std::vector<double> x(std::size_t(n * p));
      for (std::int64_t i = 0; i < n; ++i)
        for (std::int64_t f = 0; f < p; ++f) {
          double& v = x[std::size_t(i * p + f)];
          const int ne = n_edges[f];
          switch (i % 5) {
            case 0: v = ne > 0 ? edges[std::size_t(f * 256 + i % ne)] : 0.0; break;  // on an edge
            case 1: v = i % 3 == 0 ? kNaN : i % 3 == 1 ? kInf : -kInf; break;
            default: v = 1.5 * nd(g);
          }
        }
      std::vector<std::uint8_t> a(std::size_t(n * p) + 1, 77), r(a.size(), 77);
      row.k.bin_rows(x.data(), n, p, edges.data(), 255, a.data());
      kg::impl<isa::ref_t>::bin_rows(x.data(), n, p, edges.data(), 255, r.data());
      CHECK(a == r);
      CHECK(a.back() == 77);
      for (std::int64_t i = 0; i < n; ++i)  // the rule: #{edges < x}
        for (std::int64_t f = 0; f < p; ++f) {
          const double v = x[std::size_t(i * p + f)];
          const auto below = std::count_if(edges.begin() + f * 256, edges.begin() + f * 256 + 255,
                                           [&](double e) { return e < v; });
          REQUIRE(int(r[std::size_t(i * p + f)]) == (std::isnan(v) ? 255 : int(below)));
        }
    }
    // prediction on a fitted model, rows with NaN and +-inf, sizes around 8/16 lanes
    const std::int64_t n = 300, p = 5;
    std::vector<double> x(static_cast<std::size_t>(n * p)), y(static_cast<std::size_t>(n));
    std::normal_distribution<double> nd;
    for (auto& v : x) v = nd(g);
    for (std::int64_t i = 0; i < n; ++i) {
      if (i % 7 == 0) x[std::size_t(i * p + 1)] = kNaN;
      y[std::size_t(i)] = x[std::size_t(i * p)] + (std::isnan(x[std::size_t(i * p + 1)]) ? 2.0 : 0.0);
    }
    gb::Params prm;
    prm.max_iter = 5;
    prm.min_samples_leaf = 5;
    const gb::FitResult fr = gb::fit(x.data(), y.data(), n, p, nullptr, nullptr, 0, prm);
    x[3] = kInf;
    x[9] = -kInf;
    for (std::int64_t m : {1, 7, 8, 9, 16, 17, 300}) {
      std::vector<double> a(std::size_t(m) + 1, -7.0), b(std::size_t(m), 0.0);
      gb::predict_raw(fr.model, x.data(), m, a.data(), row.k);
      gb::predict_raw(fr.model, x.data(), m, b.data(), kg::kRegistry.back().k);
      // same leaves; only the order of the additions differs
      for (std::int64_t i = 0; i < m; ++i)
        REQUIRE(a[std::size_t(i)] == doctest::Approx(b[std::size_t(i)]).epsilon(1e-12));
      CHECK(a[std::size_t(m)] == -7.0);
    }
  }
}

TEST_CASE("gbdt split finding on crafted histograms") {
  gb::GrowParams gp;
  gp.min_samples_leaf = 1;
  gp.min_hessian = 0;
  // 4 bins + missing (index 4); bins 0,1 have gradient -1 per row, bins 2,3 +1; 10 rows each
  std::vector<double> e(10, 0.0);
  const double g[4] = {-10, -10, 10, 10};
  for (int b = 0; b < 4; ++b) {
    e[std::size_t(2 * b)] = g[b];
    e[std::size_t(2 * b + 1)] = 10;
  }
  gb::SplitInfo s = gb::best_split_feature(e.data(), 4, 4, false, 0.0, 40.0, 40, gp);
  CHECK(s.bin == 1);
  CHECK(s.gl == -20.0);
  CHECK(s.gain == doctest::Approx(400.0 / 20 + 400.0 / 20));
  CHECK(s.missing_left == true);  // no missing values: the side with more rows (tie: left)
  // missing rows with negative gradient join the left side
  e[8] = -10;
  e[9] = 10;
  s = gb::best_split_feature(e.data(), 4, 4, true, -10.0, 50.0, 50, gp);
  CHECK(s.bin == 1);
  CHECK(s.missing_left);
  CHECK(s.gl == -30.0);
  // ... and with positive gradient the right side
  e[8] = 10;
  s = gb::best_split_feature(e.data(), 4, 4, true, 10.0, 50.0, 50, gp);
  CHECK(s.bin == 1);
  CHECK_FALSE(s.missing_left);
  // min_samples_leaf forbids the best cut: the next best is taken; none when impossible
  gp.min_samples_leaf = 25;
  s = gb::best_split_feature(e.data(), 4, 4, true, 10.0, 50.0, 50, gp);
  CHECK(s.feature == -1);  // the feature is filled in by the caller
  CHECK((s.bin == 2 || s.gain == -kInf));
  gp.min_samples_leaf = 30;
  s = gb::best_split_feature(e.data(), 4, 4, true, 10.0, 50.0, 50, gp);
  CHECK(s.gain == -kInf);
  // l2 shrinks the gain
  gp.min_samples_leaf = 1;
  gp.l2 = 10;
  e[8] = e[9] = 0;
  s = gb::best_split_feature(e.data(), 4, 4, false, 0.0, 40.0, 40, gp);
  CHECK(s.gain == doctest::Approx(400.0 / 30 + 400.0 / 30));
}

TEST_CASE("gbdt fit: tiny problems, limits, losses") {
  // a step function is recovered exactly by one split per tree
  const std::int64_t n = 64;
  std::vector<double> x(n), y(n);
  for (std::int64_t i = 0; i < n; ++i) {
    x[std::size_t(i)] = double(i);
    y[std::size_t(i)] = i < 40 ? 1.0 : 5.0;
  }
  gb::Params prm;
  prm.learning_rate = 1.0;
  prm.max_iter = 1;
  prm.min_samples_leaf = 1;
  prm.max_leaf_nodes = 2;
  gb::FitResult r = gb::fit(x.data(), y.data(), n, 1, nullptr, nullptr, 0, prm);
  REQUIRE(r.model.trees.size() == 1);
  const gb::Tree& t = r.model.trees[0];
  CHECK(t.n_nodes() == 3);
  CHECK(t.threshold[0] == doctest::Approx(39.5));
  std::vector<double> out(static_cast<std::size_t>(n));
  gb::predict_raw(r.model, x.data(), n, out.data());
  for (std::int64_t i = 0; i < n; ++i) CHECK(out[std::size_t(i)] == doctest::Approx(y[std::size_t(i)]));
  CHECK(r.importance_split[0] == 1);
  // max_depth 1 allows 2 leaves whatever max_leaf_nodes says
  prm.max_leaf_nodes = 0;
  prm.max_depth = 1;
  prm.max_iter = 3;
  r = gb::fit(x.data(), y.data(), n, 1, nullptr, nullptr, 0, prm);
  for (const auto& tr : r.model.trees) CHECK(tr.depth <= 1);
  // one row: no split possible, the baseline predicts
  r = gb::fit(x.data(), y.data(), 1, 1, nullptr, nullptr, 0, prm);
  CHECK(r.model.trees[0].n_nodes() == 1);
  // binary and multiclass losses lower the training loss; early stopping stops
  std::vector<double> yb(n), ym(n);
  for (std::int64_t i = 0; i < n; ++i) {
    yb[std::size_t(i)] = i % 3 == 0 ? 1.0 : 0.0;
    ym[std::size_t(i)] = double(i % 3);
  }
  gb::Params pb;
  pb.loss = gb::Loss::log_loss_binary;
  pb.max_iter = 200;
  pb.min_samples_leaf = 2;
  pb.n_iter_no_change = 3;
  gb::FitResult rb = gb::fit(x.data(), yb.data(), n, 1, x.data(), yb.data(), n, pb);
  CHECK(rb.validation_score.back() > rb.validation_score.front());
  CHECK(rb.train_score.size() == std::size_t(rb.model.n_iter() + 1));
  // validation labels opposite to the training ones: the score only falls, so it stops
  std::vector<double> yflip(yb);
  for (auto& v : yflip) v = 1.0 - v;
  gb::FitResult rs = gb::fit(x.data(), yb.data(), n, 1, x.data(), yflip.data(), n, pb);
  CHECK(rs.model.n_iter() == pb.n_iter_no_change);
  gb::Params pm = pb;
  pm.loss = gb::Loss::log_loss_multiclass;
  pm.n_classes = 3;
  gb::FitResult rm = gb::fit(x.data(), ym.data(), n, 1, x.data(), ym.data(), n, pm);
  CHECK(rm.model.n_outputs == 3);
  CHECK(rm.model.trees.size() == std::size_t(3 * rm.model.n_iter()));
  CHECK(rm.validation_score.back() > rm.validation_score.front());
  // bad input
  CHECK_THROWS_AS(gb::fit(x.data(), yb.data(), 0, 1, nullptr, nullptr, 0, pb), ShapeError);
  CHECK_THROWS_AS(gb::fit(x.data(), ym.data(), n, 1, nullptr, nullptr, 0, pb), ShapeError);
  pm.n_classes = 2;
  CHECK_THROWS_AS(gb::fit(x.data(), ym.data(), n, 1, nullptr, nullptr, 0, pm), ShapeError);
  gb::Params pe;
  pe.subsample = 0;
  CHECK_THROWS_AS(gb::fit(x.data(), y.data(), n, 1, nullptr, nullptr, 0, pe), ShapeError);
}

TEST_CASE("gbdt grower: feature-major and constant-hessian roots grow the row-wise trees") {
  // Squared-error gradients (hessian 1) on n rows. Reference: the root built row-wise, by a
  // grower whose data holds one row more (so rows 0..n-1 are not all rows). Against it, on data
  // of exactly n rows: the feature-major root with hessians, and the feature-major root from
  // gradients plus the cached row counts. Same trees bitwise, also with per-thread chunks.
  const std::int64_t n = 20000, p = 7;
  std::mt19937 g(11);
  std::normal_distribution<double> nd;
  std::vector<double> x(std::size_t((n + 1) * p));
  for (auto& v : x) v = nd(g);
  for (std::int64_t i = 0; i < n; i += 13) x[std::size_t(i * p + 2)] = kNaN;
  const gb::BinMapper bm = gb::fit_bins(x.data(), n + 1, p, 255, 0, 0);
  std::vector<std::uint8_t> bins(x.size()), cols_n(std::size_t(n * p)), cols_n1(x.size());
  gb::apply_bins(bm, x.data(), n + 1, bins.data());
  gb::transpose_bins(bins.data(), n, p, cols_n.data());
  gb::transpose_bins(bins.data(), n + 1, p, cols_n1.data());
  const std::vector<std::uint8_t> has_missing(static_cast<std::size_t>(p), 1);
  const gb::BinnedData d_n{bins.data(), cols_n.data(), n, p, &bm, has_missing};
  const gb::BinnedData d_n1{bins.data(), cols_n1.data(), n + 1, p, &bm, has_missing};
  std::vector<std::int32_t> feats(static_cast<std::size_t>(p));
  for (std::int64_t f = 0; f < p; ++f) feats[std::size_t(f)] = std::int32_t(f);
  const int before = num_threads();
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (const auto& row : kg::kRegistry) {
      if (!cpu_info().supports(row.isa)) continue;
      gb::GrowParams gp;
      gb::GrowParams gc = gp;
      gc.constant_hessian = true;
      gb::TreeGrower rowwise(d_n1, gp, row.k), colwise(d_n, gp, row.k), konst(d_n, gc, row.k);
      std::vector<float> gh(std::size_t(2 * (n + 1)));
      for (int it = 0; it < 3; ++it) {  // several trees: the cached counts are reused
        for (std::int64_t i = 0; i <= n; ++i) {
          gh[std::size_t(2 * i)] = float(x[std::size_t(i * p)] * (it + 1) + nd(g));
          gh[std::size_t(2 * i + 1)] = 1.0f;
        }
        std::vector<gb::TreeGrower::Leaf> l0, l1;
        std::vector<std::uint32_t> r0(static_cast<std::size_t>(n));
        std::iota(r0.begin(), r0.end(), 0u);
        const std::vector<std::uint32_t> r1 = r0;
        const gb::Tree a = rowwise.grow(r0.data(), n, gh.data(), feats, l0);
        REQUIRE(a.n_nodes() > 3);
        for (gb::TreeGrower* gr : {&colwise, &konst}) {
          std::vector<std::uint32_t> r = r1;
          const gb::Tree b = gr->grow(r.data(), n, gh.data(), feats, l1);
          CHECK(a.feature == b.feature);
          CHECK(a.bin == b.bin);
          CHECK(a.missing_left == b.missing_left);
          CHECK(a.count == b.count);
          CHECK(a.value == b.value);
          CHECK(a.gain == b.gain);
          CHECK(r0 == r);
        }
      }
    }
  }
  set_num_threads(before);
}

TEST_CASE("gbdt model validation refuses malformed trees") {
  gb::Model m;
  m.n_features = 2;
  m.baseline = {0.0};
  gb::Tree t;
  t.feature = {1, 0, 0};
  t.threshold = {0.5, kInf, kInf};
  t.missing_left = {0, 1, 1};
  t.left = {1, 1, 2};
  t.value = {0, -1, 1};
  m.trees.push_back(t);
  CHECK_NOTHROW(m.validate("test"));
  m.trees[0].left[0] = 0;  // a self loop with a real threshold: not a leaf
  CHECK_THROWS_AS(m.validate("test"), ShapeError);
  m.trees[0].left[0] = 2;  // right child out of range
  CHECK_THROWS_AS(m.validate("test"), ShapeError);
  m.trees[0].left[0] = 1;
  m.trees[0].feature[0] = 2;
  CHECK_THROWS_AS(m.validate("test"), ShapeError);
  m.trees[0].feature[0] = 1;
  m.trees[0].value[1] = kNaN;
  CHECK_THROWS_AS(m.validate("test"), ShapeError);
}
