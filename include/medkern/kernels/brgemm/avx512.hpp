// medkern/kernels/brgemm/avx512.hpp — f32 BRGEMM for AVX-512 (Skylake-SP and later).
//
// Register plan: an MR x NV tile of zmm accumulators (NV vectors of 16 columns), NV B vectors
// loaded per k and one broadcast of A per row: 6x4 (24 acc), 8x3, 14x2, 28x1 — at most 31 of
// the 32 zmm, enough independent FMA chains (>= 8) to cover 2 FMA ports x 4 cycles latency.
// Small M takes the tallest tile that covers all rows in one strip, so B streams through once.
// With several strips, the reduction runs in passes whose B slice (24 KiB) stays in L1 while
// every strip uses it; C holds partial sums between passes (one load/store per pass, against
// ~100 FMAs per C vector). B rows are prefetched 16 rows ahead.
// Tails: M by a table of tiles indexed by MR (1..MR_max); N by a mask on the last vector, used
// for B loads and C loads/stores, so nothing past a row is ever read or written.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>

#include "medkern/core/config.hpp"
#include "medkern/kernels/brgemm/ref.hpp"

MEDKERN_ISA_BEGIN(avx512)
namespace medkern::kernels::brgemm {
namespace avx512_f32 {

MEDKERN_ALWAYS_INLINE __m512 eltwise(__m512 v, const PostOp& op) {
  switch (op.alg) {
    case Eltwise::relu: return _mm512_max_ps(v, _mm512_setzero_ps());
    case Eltwise::leaky_relu: {
      const __mmask16 neg = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
      return _mm512_mask_mul_ps(v, neg, v, _mm512_set1_ps(op.alpha));
    }
    case Eltwise::clip:
      return _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(op.alpha)), _mm512_set1_ps(op.beta));
    case Eltwise::linear:
      return _mm512_fmadd_ps(v, _mm512_set1_ps(op.alpha), _mm512_set1_ps(op.beta));
  }
  return v;
}

/// Applies the post-op chain to vector `v` holding columns [n, n+16) (mask m for the tail).
MEDKERN_ALWAYS_INLINE __m512 post(const PostOps& p, __m512 v, std::int64_t n, __mmask16 m) {
  for (const PostOp& op : p) {
    switch (op.kind) {
      case PostOpKind::bias: v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, op.data + n)); break;
      case PostOpKind::scale:
        v = _mm512_mul_ps(v, op.data ? _mm512_maskz_loadu_ps(m, op.data + n)
                                     : _mm512_set1_ps(op.alpha));
        break;
      case PostOpKind::eltwise: v = eltwise(v, op); break;
    }
  }
  return v;
}

/// B rows fetched ahead of use (bench: brgemm f32 M16_N256_K256_B27, sweep 0/8/16/32).
inline constexpr std::int64_t kPrefetchRows = 16;

/// What one tile call does with C: where the accumulation starts and whether it finishes.
struct Pass {
  std::int64_t k0, k1;  ///< K rows of every batch element in this pass
  bool first;           ///< start from (accumulate ? C : 0); otherwise from the partial C
  bool last;            ///< apply the post-ops and write the final value
};

/// One MR x (16*NV) tile of C at (m0, n0) over batch elements [0, batch) of a/b and K rows
/// [p.k0, p.k1); the last vector uses `last` as its column mask.
template <int MR, int NV>
void tile(const BrgemmDesc& d, std::int64_t batch, const float* const* a, const float* const* b,
          float* c, std::int64_t m0, std::int64_t n0, __mmask16 last, Pass p) noexcept {
  __m512 acc[MR][NV];
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) acc[i][j] = _mm512_setzero_ps();

  // Rows of A are addressed in groups of four from one base pointer each, as
  // [base], [base + L], [base + 2L], [base + 3L] with L = lda in bytes: two index registers
  // serve every group, so a 28-row tile needs 7 pointers instead of 28 (which would spill).
  constexpr int kGroups = (MR + 3) / 4;
  const std::int64_t L = d.lda * std::int64_t(sizeof(float)), L3 = 3 * L, ldb = d.ldb;
  for (std::int64_t bi = 0; bi < batch; ++bi) {
    const char* base[kGroups];
#pragma GCC unroll 8
    for (int g = 0; g < kGroups; ++g)
      base[g] = reinterpret_cast<const char*>(a[bi] + m0 * d.lda + p.k0) + 4 * g * L;
    const float* MEDKERN_RESTRICT pb = b[bi] + p.k0 * ldb + n0;
    for (std::int64_t k = p.k0; k < p.k1; ++k) {
      // B rows are ldb apart: too far for the L1 streamer, so fetch kPrefetchRows ahead.
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j)
        _mm_prefetch(reinterpret_cast<const char*>(pb + kPrefetchRows * ldb + j * 16), _MM_HINT_T0);
      __m512 bv[NV];
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j)
        bv[j] = j == NV - 1 ? _mm512_maskz_loadu_ps(last, pb + j * 16) : _mm512_loadu_ps(pb + j * 16);
#pragma GCC unroll 32
      for (int i = 0; i < MR; ++i) {
        const char* row = base[i / 4];
        const char* pa = i % 4 == 0 ? row : i % 4 == 1 ? row + L : i % 4 == 2 ? row + 2 * L : row + L3;
        const __m512 av = _mm512_set1_ps(*reinterpret_cast<const float*>(pa));
#pragma GCC unroll 4
        for (int j = 0; j < NV; ++j) acc[i][j] = _mm512_fmadd_ps(av, bv[j], acc[i][j]);
      }
#pragma GCC unroll 8
      for (int g = 0; g < kGroups; ++g) base[g] += sizeof(float);
      pb += ldb;
    }
  }

  const bool load_c = d.accumulate || !p.first;
  const bool has_post = p.last && !d.post.empty();
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i) {
    float* pc = c + (m0 + i) * d.ldc + n0;
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) {
      const __mmask16 m = j == NV - 1 ? last : __mmask16(0xffff);
      __m512 v = acc[i][j];
      if (load_c) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, pc + j * 16));
      if (has_post) v = post(d.post, v, n0 + j * 16, m);
      _mm512_mask_storeu_ps(pc + j * 16, m, v);
    }
  }
}

using TileFn = void (*)(const BrgemmDesc&, std::int64_t, const float* const*, const float* const*,
                        float*, std::int64_t, std::int64_t, __mmask16, Pass) noexcept;

// Largest MR per NV: MR*NV accumulators + NV B vectors + 1 broadcast <= 32 zmm, and
// MR*NV >= 8 independent FMA chains for 2 ports x 4 cycles of latency.
inline constexpr int kMaxMr[5] = {0, 28, 14, 8, 6};

template <int NV, int... I>
constexpr auto make_table(std::integer_sequence<int, I...>) {
  return std::array<TileFn, sizeof...(I)>{&tile<I + 1, NV>...};
}
inline constexpr auto kTiles1 = make_table<1>(std::make_integer_sequence<int, 28>{});
inline constexpr auto kTiles2 = make_table<2>(std::make_integer_sequence<int, 14>{});
inline constexpr auto kTiles3 = make_table<3>(std::make_integer_sequence<int, 8>{});
inline constexpr auto kTiles4 = make_table<4>(std::make_integer_sequence<int, 6>{});

inline TileFn pick(int nv, int mr) noexcept {
  switch (nv) {
    case 1: return kTiles1[std::size_t(mr - 1)];
    case 2: return kTiles2[std::size_t(mr - 1)];
    case 3: return kTiles3[std::size_t(mr - 1)];
    default: return kTiles4[std::size_t(mr - 1)];
  }
}

/// Column vectors per tile for M rows: cover every row with one strip when M is small, so B
/// streams through the core once (the narrow, tall tiles); otherwise the 6x4 tile, whose B
/// reuse across strips is served from L1 by the K passes below.
inline int tile_nv(std::int64_t M) noexcept {
  for (int nv = 4; nv >= 1; --nv)
    if (M <= kMaxMr[nv]) return nv;
  return 4;
}

/// B bytes of one column block kept in L1 across the strips of a pass (half of a 48 KiB L1d:
/// the rest holds the A rows and C) (bench: brgemm f32 M64_N64_K256_B9).
inline constexpr std::int64_t kPassBytes = 24 * 1024;

}  // namespace avx512_f32

template <>
struct impl<isa::avx512_t> {
  static constexpr const char* name = "brgemm_f32f32_f32__avx512_m6n64";

  static bool supports(const BrgemmDesc& d) {
    return d.a_type == DType::f32 && d.b_type == DType::f32 && d.c_type == DType::f32;
  }

  static void run(const BrgemmDesc& d, std::int64_t batch, const void* const* a,
                  const void* const* b, void* c) noexcept {
    using namespace avx512_f32;
    if (d.M <= 0 || d.N <= 0) return;
    const auto* pa = reinterpret_cast<const float* const*>(a);
    const auto* pb = reinterpret_cast<const float* const*>(b);
    auto* pc = static_cast<float*>(c);
    if (d.K == 0) batch = 0;  // nothing to reduce: C = post(accumulate ? C : 0)
    const int nv_main = std::min<int>(tile_nv(d.M), int((d.N + 15) / 16));
    const std::int64_t n_block = 16 * nv_main;
    for (std::int64_t n0 = 0; n0 < d.N; n0 += n_block) {
      const std::int64_t nrem = std::min(d.N - n0, n_block);
      const int nv = int((nrem + 15) / 16);
      const int tail = int(nrem - 16 * (nv - 1));
      const __mmask16 last = __mmask16((1u << tail) - 1u);
      const int mr_max = kMaxMr[nv];
      const std::int64_t strips = (d.M + mr_max - 1) / mr_max;
      auto run_strips = [&](std::int64_t bb, std::int64_t nb, Pass p) {
        std::int64_t m0 = 0;
        const TileFn full = pick(nv, mr_max);
        for (; m0 + mr_max <= d.M; m0 += mr_max) full(d, nb, pa + bb, pb + bb, pc, m0, n0, last, p);
        if (m0 < d.M) pick(nv, int(d.M - m0))(d, nb, pa + bb, pb + bb, pc, m0, n0, last, p);
      };
      if (strips == 1 || batch == 0) {
        run_strips(0, batch, Pass{0, d.K, true, true});
        continue;
      }
      // Several strips share each B row: split the reduction into passes whose B slice fits
      // L1, so strips after the first read it from L1. C holds the partial sums in between.
      const std::int64_t rows = std::max<std::int64_t>(8, kPassBytes / (64 * nv));
      if (d.K >= rows) {
        const std::int64_t step = (d.K + (d.K + rows - 1) / rows - 1) / ((d.K + rows - 1) / rows);
        for (std::int64_t bi = 0; bi < batch; ++bi)
          for (std::int64_t k0 = 0; k0 < d.K; k0 += step) {
            const std::int64_t k1 = std::min(d.K, k0 + step);
            run_strips(bi, 1, Pass{k0, k1, bi == 0 && k0 == 0, bi == batch - 1 && k1 == d.K});
          }
      } else {
        const std::int64_t group = rows / d.K;  // whole batch elements per pass
        for (std::int64_t b0 = 0; b0 < batch; b0 += group) {
          const std::int64_t nb = std::min(group, batch - b0);
          run_strips(b0, nb, Pass{0, d.K, b0 == 0, b0 + nb == batch});
        }
      }
    }
  }
};

}  // namespace medkern::kernels::brgemm
MEDKERN_ISA_END()
