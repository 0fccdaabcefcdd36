// bench/pca_bench.cpp — the phases of full PCA on one shape (default 10000 x 1000, as
// `python -m medkern.bench ml --only pca_full_gauss`): the centered Gram matrix (SYRK on the
// blocked f64 GEMM), then the eigensolver's tridiagonalization, divide and conquer and
// back-transformation, each timed alone on the output of the previous phase.
//
//   medkern_bench_pca [--benchmark_filter=...]    the first shape of shapes/pca.txt (or of the
//   file named by MEDKERN_BENCH_PCA_SHAPES); threads: MEDKERN_NUM_THREADS (default all cores).
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "bench_common.hpp"
#include "medkern/ml/pca.hpp"

namespace {

using namespace medkern;
namespace E = medkern::ml::detail::eigh;
using i64 = std::int64_t;

struct Problem {
  i64 n = 10000, p = 1000;
  std::vector<double> x, mean, cov, a, d, e, tau, z;
  i64 ldz = 0;
};

// Gaussian data offset by 3 (so the centering matters); every phase's input computed once.
Problem& problem() {
  static Problem pr = [] {
    Problem q;
    const auto shapes = medkern::bench::read_shapes("MEDKERN_BENCH_PCA_SHAPES",
                                                    MEDKERN_BENCH_SHAPES_FILE, 2);
    if (!shapes.empty()) {
      q.n = shapes.front().v[0];
      q.p = shapes.front().v[1];
    }
    std::mt19937 g(1);
    std::normal_distribution<double> nd;
    q.x.resize(std::size_t(q.n * q.p));
    for (auto& v : q.x) v = nd(g) + 3.0;
    ml::detail::column_means(q.x.data(), q.n, q.p, q.mean);
    q.cov.resize(std::size_t(q.p * q.p));
    ml::detail::gram<double>(q.x.data(), q.p, q.n, q.p, nullptr, q.mean.data(), q.cov.data());
    for (auto& v : q.cov) v /= double(q.n - 1);
    const auto& kr = kernels::ml::active_kernels();
    q.a = q.cov;
    q.d.resize(std::size_t(q.p));
    q.e.resize(std::size_t(q.p));
    q.tau.resize(std::size_t(q.p));
    E::tridiagonalize(kr, q.p, q.a.data(), q.d.data(), q.e.data(), q.tau.data());
    q.ldz = E::pad8(q.p) + 8;
    q.z.assign(std::size_t(q.p * q.ldz), 0.0);
    std::vector<double> dd = q.d;
    E::tridiagonal_eigh(kr, q.p, dd.data(), q.e.data(), q.z.data(), q.ldz);
    return q;
  }();
  return pr;
}

void BM_gram(benchmark::State& st) {
  Problem& q = problem();
  std::vector<double> g(std::size_t(q.p * q.p));
  for (auto _ : st)
    ml::detail::gram<double>(q.x.data(), q.p, q.n, q.p, nullptr, q.mean.data(), g.data());
  // SYRK: the lower triangle, n p (p + 1) FLOP
  st.counters["GFLOP/s"] = benchmark::Counter(double(q.n) * double(q.p) * double(q.p + 1),
                                              benchmark::Counter::kIsIterationInvariantRate);
}

void BM_tridiagonalize(benchmark::State& st) {
  Problem& q = problem();
  const auto& kr = kernels::ml::active_kernels();
  std::vector<double> a, d(std::size_t(q.p)), e(std::size_t(q.p)), tau(std::size_t(q.p));
  for (auto _ : st) {
    st.PauseTiming();
    a = q.cov;
    st.ResumeTiming();
    E::tridiagonalize(kr, q.p, a.data(), d.data(), e.data(), tau.data());
  }
}

void BM_divide_and_conquer(benchmark::State& st) {
  Problem& q = problem();
  const auto& kr = kernels::ml::active_kernels();
  std::vector<double> d, z;
  for (auto _ : st) {
    st.PauseTiming();
    d = q.d;
    z.assign(std::size_t(q.p * q.ldz), 0.0);
    st.ResumeTiming();
    E::tridiagonal_eigh(kr, q.p, d.data(), q.e.data(), z.data(), q.ldz);
  }
}

void BM_back_transform(benchmark::State& st) {
  Problem& q = problem();
  const auto& kr = kernels::ml::active_kernels();
  std::vector<double> z;
  for (auto _ : st) {
    st.PauseTiming();
    z = q.z;
    st.ResumeTiming();
    E::back_transform(kr, q.p, q.a.data(), q.tau.data(), z.data(), q.ldz, q.p,
                      [&](std::int64_t c) { return z.data() + c * q.ldz; });
  }
}

void BM_pca_fit(benchmark::State& st) {
  Problem& q = problem();
  for (auto _ : st) benchmark::DoNotOptimize(ml::pca_fit(q.x.data(), q.n, q.p));
}

}  // namespace

BENCHMARK(BM_gram)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_tridiagonalize)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_divide_and_conquer)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_back_transform)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_pca_fit)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
