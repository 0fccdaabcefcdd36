// medkern/ops/peak.hpp — this machine's measured compute peak and copy bandwidth.
//
// Kernels report % of these numbers, so benchmarks compare against what this CPU actually
// sustains (its clock under AVX-512 load included), not a datasheet figure. Each probe runs
// ~20 ms per repetition; the best of 3 repetitions is kept (a peak is a maximum: noise from a
// shared machine only ever lowers it). Results are cached per thread count.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <string>

#include "medkern/core/buffer.hpp"
#include "medkern/core/cpu.hpp"
#include "medkern/core/dispatch.hpp"
#include "medkern/core/threading.hpp"
#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>
#include <tbb/task_arena.h>
#include "medkern/kernels/peak/probe.hpp"

namespace medkern::ops {

struct PeakNumbers {
  int threads = 1;
  double f32_gflops = 0;   ///< FMA (AVX-512 where present, else AVX2)
  double bf16_gflops = 0;  ///< vdpbf16ps; 0 when absent
  double s8_gops = 0;      ///< vpdpbusd; 0 when absent
  double amx_bf16_gflops = 0, amx_s8_gops = 0;  ///< 0 when AMX is absent
  double copy_gbs = 0;     ///< read+write bytes per second of a large parallel copy
};

namespace detail {

/// Runs f(i) for i in [0, threads) on an arena of exactly `threads` threads, independent of
/// medkern's own thread setting.
template <class F>
void run_on_threads(int threads, F&& f) {
  tbb::task_arena arena(threads);
  arena.execute([&] {
    tbb::parallel_for(0, threads, 1, [&](int i) { f(i); }, tbb::simple_partitioner());
  });
}

template <class F>
double best_rate(double ops_per_iter, int threads, F&& loop) {
  using clock = std::chrono::steady_clock;
  // Calibrate the iteration count for ~20 ms on one thread.
  std::int64_t iters = 1 << 14;
  for (;;) {
    const auto t0 = clock::now();
    loop(iters);
    const double s = std::chrono::duration<double>(clock::now() - t0).count();
    if (s > 0.005 || iters > (std::int64_t(1) << 40)) {
      iters = std::max<std::int64_t>(1, std::int64_t(double(iters) * 0.02 / std::max(s, 1e-9)));
      break;
    }
    iters *= 4;
  }
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    const auto t0 = clock::now();
    run_on_threads(threads, [&](int) { loop(iters); });
    const double s = std::chrono::duration<double>(clock::now() - t0).count();
    best = std::max(best, ops_per_iter * double(iters) * threads / s * 1e-9);
  }
  return best;
}

inline double copy_bandwidth(int threads) {
  // 4x the last-level cache per buffer (at least 256 MiB in all) so the copy streams DRAM.
  const std::int64_t llc = std::max<std::int64_t>(cache_bytes(3, 32 << 20), 32 << 20);
  const std::int64_t n = std::min<std::int64_t>(std::max<std::int64_t>(4 * llc, 128 << 20), 1 << 30);
  AlignedBuffer<char> src(n), dst(n);
  run_on_threads(threads, [&](std::int64_t c) {  // first touch by the copying threads
    const std::int64_t b = n * c / threads, e = n * (c + 1) / threads;
    std::memset(src.data() + b, 1, std::size_t(e - b));
    std::memset(dst.data() + b, 0, std::size_t(e - b));
  });
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    const std::int64_t chunks = threads;
    run_on_threads(threads, [&](std::int64_t c) {
      const std::int64_t b = n * c / chunks, e = n * (c + 1) / chunks;
      std::memcpy(dst.data() + b, src.data() + b, std::size_t(e - b));
    });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, 2.0 * double(n) / s * 1e-9);
  }
  return best;
}

}  // namespace detail

/// Measures (once per thread count, then cached) the peaks at `threads` threads (0: all).
inline PeakNumbers measure_peak(int threads = 0) {
  static std::mutex mu;
  static std::map<int, PeakNumbers> cache;
  if (threads <= 0) threads = num_threads();
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = cache.find(threads); it != cache.end()) return it->second;
  namespace pk = kernels::peak;
  const CpuInfo& cpu = cpu_info();
  PeakNumbers p;
  p.threads = threads;
  if (cpu.supports(Isa::avx512))
    p.f32_gflops = detail::best_rate(pk::kChains * 32.0, threads, pk::fma_f32_avx512);
  else if (cpu.supports(Isa::avx2))
    p.f32_gflops = detail::best_rate(12 * 16.0, threads, pk::fma_f32_avx2);
  if (cpu.supports(Isa::avx512_vnni))
    p.s8_gops = detail::best_rate(pk::kChains * 128.0, threads, pk::dot_s8_vnni);
  if (cpu.supports(Isa::avx512_bf16))
    p.bf16_gflops = detail::best_rate(pk::kChains * 64.0, threads, pk::dot_bf16_avx512);
  if (cpu.supports(Isa::amx)) {
    p.amx_bf16_gflops = detail::best_rate(4 * 16384.0, threads,
                                          [](std::int64_t it) { pk::dot_amx(it, true); });
    p.amx_s8_gops = detail::best_rate(4 * 32768.0, threads,
                                      [](std::int64_t it) { pk::dot_amx(it, false); });
  }
  p.copy_gbs = detail::copy_bandwidth(threads);
  cache[threads] = p;
  return p;
}

}  // namespace medkern::ops
