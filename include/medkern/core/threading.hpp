// medkern/core/threading.hpp — all parallelism goes through one oneTBB task arena.
//
// The arena's size is MEDKERN_NUM_THREADS, set_num_threads(n), or the hardware concurrency.
// Work is split into chunks that depend only on the problem and the thread count, and
// reductions combine per-chunk partials in chunk order, so results are bitwise reproducible
// for a fixed thread count.
#pragma once

#include <tbb/blocked_range.h>
#include <tbb/global_control.h>
#include <tbb/info.h>
#include <tbb/blocked_range2d.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>
#include <tbb/version.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "medkern/core/error.hpp"

namespace medkern {
namespace detail {

struct ThreadState {
  std::mutex mu;
  int n = 0;  // 0: not decided yet
  std::unique_ptr<tbb::task_arena> arena;
  // oneTBB caps workers at the hardware concurrency unless told otherwise; a user asking for
  // more threads (oversubscription tests, hyperthreads hidden by affinity) gets them.
  std::unique_ptr<tbb::global_control> allow;
};

inline ThreadState& thread_state() {
  static ThreadState s;
  return s;
}

inline int default_num_threads() {
  if (const char* env = std::getenv("MEDKERN_NUM_THREADS"); env != nullptr && *env != '\0') {
    char* end = nullptr;
    const long v = std::strtol(env, &end, 10);
    if (end == env || *end != '\0' || v < 1 || v > 4096)
      throw_shape("MEDKERN_NUM_THREADS: '", env, "' must be an integer in [1, 4096]");
    return int(v);
  }
  return std::max(1, tbb::info::default_concurrency());
}

inline tbb::task_arena& arena_locked(ThreadState& s) {
  if (s.n == 0) s.n = default_num_threads();
  if (!s.arena) {
    if (s.n > tbb::info::default_concurrency() && !s.allow)
      s.allow = std::make_unique<tbb::global_control>(
          tbb::global_control::max_allowed_parallelism, std::size_t(s.n));
    s.arena = std::make_unique<tbb::task_arena>(s.n);
  }
  return *s.arena;
}

}  // namespace detail

/// Number of threads medkern's parallel ops use.
inline int num_threads() {
  auto& s = detail::thread_state();
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.n == 0) s.n = detail::default_num_threads();
  return s.n;
}

/// Sets the thread count (a new task arena). Not to be called while medkern work runs.
inline void set_num_threads(int n) {
  if (n < 1 || n > 4096)
    detail::throw_shape("set_num_threads: ", n, " must be in [1, 4096]");
  auto& s = detail::thread_state();
  std::lock_guard<std::mutex> lock(s.mu);
  if (n == s.n && s.arena) return;
  s.n = n;
  s.arena.reset();
  s.allow.reset();
}

/// Runs f() inside medkern's arena, so nested parallel_for calls use its threads.
template <class F>
void in_arena(F&& f) {
  tbb::task_arena* a = nullptr;
  {
    auto& s = detail::thread_state();
    std::lock_guard<std::mutex> lock(s.mu);
    a = &detail::arena_locked(s);
  }
  a->execute(std::forward<F>(f));
}

/// Calls f(begin, end) over [0, n) in chunks of at least `grain`, in parallel when there is
/// more than one chunk and more than one thread. f must not throw.
template <class F>
void parallel_for_1d(std::int64_t n, std::int64_t grain, F&& f) {
  if (n <= 0) return;
  grain = std::max<std::int64_t>(1, grain);
  if (n <= grain || num_threads() == 1) {
    f(std::int64_t{0}, n);
    return;
  }
  in_arena([&] {
    tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, n, grain),
                      [&](const tbb::blocked_range<std::int64_t>& r) { f(r.begin(), r.end()); });
  });
}

/// Calls f(i0, i1, j0, j1) over [0, n0) x [0, n1) in 2D chunks.
template <class F>
void parallel_for_2d(std::int64_t n0, std::int64_t n1, F&& f) {
  if (n0 <= 0 || n1 <= 0) return;
  if (n0 * n1 == 1 || num_threads() == 1) {
    f(std::int64_t{0}, n0, std::int64_t{0}, n1);
    return;
  }
  in_arena([&] {
    tbb::parallel_for(tbb::blocked_range2d<std::int64_t>(0, n0, 1, 0, n1, 1),
                      [&](const tbb::blocked_range2d<std::int64_t>& r) {
                        f(r.rows().begin(), r.rows().end(), r.cols().begin(), r.cols().end());
                      });
  });
}

/// Runs f(task) for task in [0, n_tasks), one task per call, dynamically balanced.
template <class F>
void parallel_tasks(std::int64_t n_tasks, F&& f) {
  parallel_for_1d(n_tasks, 1, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t t = b; t < e; ++t) f(t);
  });
}

/// Runs f(task) for task in [0, n_tasks) with a static split: each thread takes the same
/// contiguous share of tasks on every call, so repeated passes over the same data (the
/// eigensolver's matrix-vector products) find their share in that core's cache.
template <class F>
void parallel_tasks_static(std::int64_t n_tasks, F&& f) {
  if (n_tasks <= 0) return;
  if (n_tasks == 1 || num_threads() == 1) {
    for (std::int64_t t = 0; t < n_tasks; ++t) f(t);
    return;
  }
  in_arena([&] {
    tbb::parallel_for(
        tbb::blocked_range<std::int64_t>(0, n_tasks, 1),
        [&](const tbb::blocked_range<std::int64_t>& r) {
          for (std::int64_t t = r.begin(); t < r.end(); ++t) f(t);
        },
        tbb::static_partitioner());
  });
}

/// Deterministic reduction: splits [0, n) into a number of chunks that depends only on n and
/// the thread count, computes partial(begin, end) per chunk in parallel and folds the partials
/// with combine() in chunk order.
template <class T, class Partial, class Combine>
T parallel_reduce_ordered(std::int64_t n, std::int64_t min_chunk, T init, Partial&& partial,
                          Combine&& combine) {
  if (n <= 0) return init;
  const std::int64_t max_chunks = std::max<std::int64_t>(1, n / std::max<std::int64_t>(1, min_chunk));
  const std::int64_t chunks = std::min<std::int64_t>(max_chunks, 4 * std::int64_t(num_threads()));
  std::vector<T> parts(static_cast<std::size_t>(chunks), init);
  parallel_tasks(chunks, [&](std::int64_t c) {
    const std::int64_t b = n * c / chunks, e = n * (c + 1) / chunks;
    parts[static_cast<std::size_t>(c)] = partial(b, e);
  });
  T acc = init;
  for (const T& p : parts) acc = combine(acc, p);
  return acc;
}

/// oneTBB version string of the headers this was compiled with.
inline std::string tbb_version_string() {
  return std::to_string(TBB_VERSION_MAJOR) + "." + std::to_string(TBB_VERSION_MINOR);
}

}  // namespace medkern
