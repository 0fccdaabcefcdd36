// medkern/ml/gemm.hpp — cache-blocked f64 GEMM / SYRK for the classical-ML solvers (Gram
// matrices, the eigensolver's rank-2k updates, divide-and-conquer merges, WY back-transforms).
//
// C[m x n] = (acc ? C : 0) + alpha * A[m x k] B[k x n], A and B strided views (any transpose),
// optionally with a per-row shift of A and a per-column shift of B subtracted while packing
// (centering folded into the Gram matrix at no extra pass). Goto-style blocking around the
// micro-kernel of kernels/ml (kGemmMr x kGemmNr register tile):
//   for each k block of kKc:   pack all of A in slivers of 8 rows (kKc x 8, k-major) and all of
//                              B in slivers of 24 interleaved columns (kKc x 24), in parallel;
//                              a SYRK packs once (its A slivers are thirds of its B slivers);
//     for each C block of kMc x kNc (one task each, in parallel):
//       for each A sliver (kKc x MR, L1) / B sliver (kKc x NR, the B block in L2): micro-kernel.
// `tri` restricts the work to the register tiles that touch the lower (row >= col) or upper
// triangle of C: a SYRK at half the FLOPs. Tiles crossing the diagonal are written whole, so
// entries just beyond the diagonal are overwritten too (callers mirror or never read them).
// Each C tile is owned by one task and the k blocks run in order: the result does not depend
// on the thread count.
#pragma once

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <utility>
#include <vector>

#include "medkern/core/buffer.hpp"
#include "medkern/core/threading.hpp"
#include "medkern/kernels/ml/registry.hpp"

namespace medkern::ml::detail {

/// Read-only strided matrix operand: element (r, c) = p[r * rs + c * cs] - shift[r or c].
/// The shift (may be null) is per row for A and per column for B.
struct MatF64 {
  const double* p;
  std::int64_t rs, cs;
  const double* shift = nullptr;
};

enum class Tri { full, lower, upper };

/// Block sizes (bench: ml pca_full, 10000 x 1000 Gram): an A sliver of kKc x 8 doubles
/// (16 KiB) stays in L1 while the task's B block (kKc x kNc, 480 KiB) streams from L2. The B
/// block's footprint is what matters: kKc = 256 with kNc = 480 (960 KiB) was 10% slower than
/// 128 x 480 on a 2 MiB L2; 256 x 240 keeps the 480 KiB block and halves the passes over C
/// (Gram 101 -> 97-98 ms at 2 threads on a 1 MiB L2 / 32 MiB L3 machine; not yet measured on
/// the 2 MiB one). B slivers in L1 against an A block in L2 was 10% slower.
inline constexpr std::int64_t kGemmKc = 256;
inline constexpr std::int64_t kGemmMc = 96;
inline constexpr std::int64_t kGemmNc = 240;

/// Reusable double scratch for the solvers' many mid-sized temporaries (packed panels, merge
/// workspaces): a fresh multi-MiB allocation per call costs page faults on first touch (a
/// third of the divide-and-conquer time at n = 1000). Buffers are taken and given back under
/// a mutex, so nested and concurrent users never share one. Like a BLAS's buffer pool, the
/// buffers stay for the next call (at most kKeep of them, 128 MiB); trim() frees them.
class ScratchPool {
 public:
  AlignedBuffer<double> take(std::int64_t n) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      std::size_t best = free_.size();
      for (std::size_t i = 0; i < free_.size(); ++i)
        if (free_[i].size() >= n && (best == free_.size() || free_[i].size() < free_[best].size()))
          best = i;
      if (best < free_.size()) {
        AlignedBuffer<double> b = std::move(free_[best]);
        free_.erase(free_.begin() + std::ptrdiff_t(best));
        return b;
      }
    }
    return AlignedBuffer<double>(std::max<std::int64_t>(n, 1));
  }
  /// Keeps the most recently returned buffers: when the pool is over its limits the oldest go
  /// (a pool full of one solver's leftovers would otherwise make every later caller fault its
  /// pages in again).
  void give(AlignedBuffer<double>&& b) {
    if (b.size() > kKeepDoubles) return;
    std::vector<AlignedBuffer<double>> drop;  // freed outside the lock
    std::lock_guard<std::mutex> lock(mu_);
    free_.push_back(std::move(b));
    std::int64_t kept = 0;
    for (const auto& f : free_) kept += f.size();
    std::size_t first = 0;
    while (free_.size() - first > kKeep || kept > kKeepDoubles) kept -= free_[first++].size();
    for (std::size_t i = 0; i < first; ++i) drop.push_back(std::move(free_[i]));
    free_.erase(free_.begin(), free_.begin() + std::ptrdiff_t(first));
  }
  /// Frees every buffer not in use.
  void trim() {
    std::vector<AlignedBuffer<double>> drop;
    std::lock_guard<std::mutex> lock(mu_);
    drop.swap(free_);
  }

 private:
  static constexpr std::size_t kKeep = 32;
  static constexpr std::int64_t kKeepDoubles = std::int64_t(16) << 20;  // 128 MiB
  std::mutex mu_;
  std::vector<AlignedBuffer<double>> free_;
};

inline ScratchPool& scratch_pool() {
  static ScratchPool pool;
  return pool;
}

/// A pooled buffer of at least n doubles (uninitialised), returned to the pool on scope exit.
class Scratch {
 public:
  explicit Scratch(std::int64_t n) : b_(scratch_pool().take(n)) {}
  ~Scratch() { scratch_pool().give(std::move(b_)); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  double* data() noexcept { return b_.data(); }
  double& operator[](std::int64_t i) noexcept { return b_.data()[i]; }

 private:
  AlignedBuffer<double> b_;
};

namespace gemm_detail {

using i64 = std::int64_t;

/// Packs rows [i0, i0 + MR) x k range [k0, k0 + kb) of `a` into d[kk * MR + ii] (one sliver,
/// MR = 8 for A, 24 for B); rows past m are zero.
template <int MR>
inline void pack_rows(const MatF64& a, const double* shift, i64 m, i64 i0, i64 k0, i64 kb,
                      double* d) {
  const i64 mr = std::clamp<i64>(m - i0, 0, MR);
  if (a.rs == 1 && mr == MR) {
    for (i64 kk = 0; kk < kb; ++kk) {
      const double* s = a.p + (k0 + kk) * a.cs + i0;
      double* dk = d + kk * MR;
      for (i64 ii = 0; ii < MR; ++ii) dk[ii] = s[ii] - shift[i0 + ii];
    }
    return;
  }
  if (a.rs == 1) {
    for (i64 kk = 0; kk < kb; ++kk) {
      const double* s = a.p + (k0 + kk) * a.cs + i0;
      double* dk = d + kk * MR;
      for (i64 ii = 0; ii < mr; ++ii) dk[ii] = s[ii] - shift[i0 + ii];
      for (i64 ii = mr; ii < MR; ++ii) dk[ii] = 0.0;
    }
    return;
  }
  for (i64 ii = 0; ii < mr; ++ii) {
    const double* s = a.p + (i0 + ii) * a.rs + k0 * a.cs;
    const double sh = shift[i0 + ii];
    for (i64 kk = 0; kk < kb; ++kk) d[kk * MR + ii] = s[kk * a.cs] - sh;
  }
  for (i64 ii = mr; ii < MR; ++ii)
    for (i64 kk = 0; kk < kb; ++kk) d[kk * MR + ii] = 0.0;
}

/// Packs rows [kr0, kr1) of the k block starting at k0 (kb rows) of all ns slivers of width W,
/// for an operand with a.rs == 1: d[s*W*kb + kk*W + ii] = a(W s + ii, k0 + kk) - shift (zero
/// past m).
template <int W>
inline void pack_sweep(const MatF64& a, const double* shift, i64 m, i64 ns, i64 k0, i64 kr0,
                       i64 kr1, i64 kb, double* d) {
  const i64 full = m / W;
  for (i64 kk = kr0; kk < kr1; ++kk) {
    const double* s = a.p + (k0 + kk) * a.cs;
    for (i64 p = 0; p < full; ++p) {
      double* dk = d + p * W * kb + kk * W;
      const double* sp = s + p * W;
      const double* hp = shift + p * W;
      for (i64 ii = 0; ii < W; ++ii) dk[ii] = sp[ii] - hp[ii];
    }
    for (i64 p = full; p < ns; ++p) {
      double* dk = d + p * W * kb + kk * W;
      for (i64 ii = 0; ii < W; ++ii) {
        const i64 r = p * W + ii;
        dk[ii] = r < m ? s[r] - shift[r] : 0.0;
      }
    }
  }
}

}  // namespace gemm_detail

/// C = (acc ? C : 0) + alpha * A B on the given kernel set (see the file comment). C row-major
/// with leading dimension ldc; m, n, k >= 0.
inline void gemm_f64(const kernels::ml::MlRow& kr, std::int64_t m, std::int64_t n,
                     std::int64_t k, double alpha, const MatF64& a, const MatF64& b, bool acc,
                     double* c, std::int64_t ldc, Tri tri = Tri::full) {
  using gemm_detail::i64;
  constexpr int MR = kernels::ml::kGemmMr, NR = kernels::ml::kGemmNr;
  if (m <= 0 || n <= 0) return;
  auto touches = [tri](i64 i0, i64 i1, i64 j0, i64 j1) {  // [i0, i1) x [j0, j1) meets tri
    return tri == Tri::full || (tri == Tri::lower ? i1 - 1 >= j0 : j1 - 1 >= i0);
  };
  if (k <= 0) {
    if (!acc)
      for (i64 i = 0; i < m; ++i)
        for (i64 j = 0; j < n; ++j)
          if (touches(i, i + 1, j, j + 1)) c[i * ldc + j] = 0.0;
    return;
  }
  static_assert(NR % MR == 0, "a SYRK's A slivers are thirds of its B slivers");
  const i64 ms = (m + MR - 1) / MR, ns = (n + NR - 1) / NR;  // slivers
  const i64 kcap = std::min(k, kGemmKc);
  // A SYRK (B = A^T with the same shift) packs once: its A slivers are read inside the B
  // slivers (k stride NR).
  const bool same = a.p == b.p && a.rs == b.cs && a.cs == b.rs && a.shift == b.shift && m == n;
  Scratch pa(same ? 0 : ms * MR * kcap), pb(ns * NR * kcap);
  std::vector<double> zero(static_cast<std::size_t>(std::max(m, n)), 0.0);
  const double* sha = a.shift ? a.shift : zero.data();
  const double* shb = b.shift ? b.shift : zero.data();
  const MatF64 bt{b.p, b.cs, b.rs, nullptr};  // B^T: its rows are B's columns
  // C blocks that meet the triangle; slivers per block.
  constexpr i64 kMs = kGemmMc / MR, kNs = kGemmNc / NR;
  std::vector<std::pair<i64, i64>> blocks;
  for (i64 bi = 0; bi < ms; bi += kMs)
    for (i64 bj = 0; bj < ns; bj += kNs)
      if (touches(bi * MR, std::min(m, (bi + kMs) * MR), bj * NR, std::min(n, (bj + kNs) * NR)))
        blocks.emplace_back(bi, bj);
  for (i64 k0 = 0; k0 < k; k0 += kcap) {
    const i64 kb = std::min(kcap, k - k0);
    const bool first = k0 == 0;
    // An operand whose k-th row is contiguous (the Gram's X) is packed by sweeping those rows
    // front to back, so the hardware prefetcher streams them (sliver by sliver, every row would
    // be a strided first touch); others sliver by sliver.
    const bool sweep_a = !same && a.rs == 1, sweep_b = bt.rs == 1;
    if (sweep_a || sweep_b)
      parallel_for_1d(kb, 16, [&](i64 r0, i64 r1) {
        if (sweep_a) gemm_detail::pack_sweep<MR>(a, sha, m, ms, k0, r0, r1, kb, pa.data());
        if (sweep_b) gemm_detail::pack_sweep<NR>(bt, shb, n, ns, k0, r0, r1, kb, pb.data());
      });
    const i64 na = (same || sweep_a) ? 0 : ms, nb = sweep_b ? 0 : ns;
    parallel_for_1d(na + nb, 4, [&](i64 s0, i64 s1) {
      for (i64 s = s0; s < s1; ++s)
        if (s < na)
          gemm_detail::pack_rows<MR>(a, sha, m, s * MR, k0, kb, pa.data() + s * MR * kb);
        else
          gemm_detail::pack_rows<NR>(bt, shb, n, (s - na) * NR, k0, kb,
                                     pb.data() + (s - na) * NR * kb);
    });
    const i64 lda = same ? NR : MR;
    auto a_sliver = [&](i64 si) -> const double* {
      return same ? pb.data() + (si / (NR / MR)) * NR * kb + (si % (NR / MR)) * MR
                  : pa.data() + si * MR * kb;
    };
    parallel_tasks(i64(blocks.size()), [&](i64 t) {
      const auto [bi, bj] = blocks[std::size_t(t)];
      const i64 ie = std::min(ms, bi + kMs), je = std::min(ns, bj + kNs);
      for (i64 si = bi; si < ie; ++si) {
        const i64 i0 = si * MR, mm = std::min<i64>(MR, m - i0);
        const double* as = a_sliver(si);
        for (i64 sj = bj; sj < je; ++sj) {
          const i64 j0 = sj * NR, nn = std::min<i64>(NR, n - j0);
          if (!touches(i0, i0 + mm, j0, j0 + nn)) continue;
          kr.gemm_ukr_f64(kb, as, lda, pb.data() + sj * NR * kb, alpha, acc || !first,
                          c + i0 * ldc + j0, ldc, int(mm), int(nn));
        }
      }
    });
  }
}

}  // namespace medkern::ml::detail
