// medkern/kernels/brgemm/avx512.hpp — f32 BRGEMM for AVX-512 (Skylake-SP and later).
//
// Register plan: an MR x NV tile of zmm accumulators (NV vectors of 16 columns), NV B vectors
// loaded per k and one broadcast of A per row: 6x4 (24 acc), 8x3, 14x2, 28x1 — at most 31 of
// the 32 zmm, enough independent FMA chains (>= 8) to cover 2 FMA ports x 4 cycles latency.
// Small M takes the tallest tile that covers all rows in one strip, so B streams through once.
// C stays in registers across the whole batch and K loop: each output is loaded/stored once.
// (Splitting the reduction into L1-sized passes, with C holding partial sums, measured slower
// on M96_N64_K1024 and M64_N64_K256_B9: the C round trips cost more than the B reuse saved.)
// B rows are prefetched 16 rows ahead.
// Tails: M by a table of tiles indexed by MR (1..MR_max); N by a mask on the last vector, used
// for B loads and C loads/stores, so nothing past a row is ever read or written.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>

#include "medkern/core/config.hpp"
#include "medkern/kernels/post_ops_avx512.hpp"
#include "medkern/kernels/brgemm/ref.hpp"

MEDKERN_ISA_BEGIN(avx512)
namespace medkern::kernels::brgemm {
namespace avx512_f32 {

/// B rows fetched ahead of use (bench: brgemm f32 M16_N256_K256_B27, sweep 0/8/16/32).
inline constexpr std::int64_t kPrefetchRows = 16;

/// One MR x (16*NV) tile of C at (m0, n0) over every batch element and K row; the last
/// vector uses `last` as its column mask.
template <int MR, int NV>
void tile(const BrgemmDesc& d, std::int64_t batch, const float* const* a, const float* const* b,
          float* c, std::int64_t m0, std::int64_t n0, __mmask16 last) noexcept {
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
      base[g] = reinterpret_cast<const char*>(a[bi] + m0 * d.lda) + 4 * g * L;
    const float* MEDKERN_RESTRICT pb = b[bi] + n0;
    for (std::int64_t k = 0; k < d.K; ++k) {
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

  if (d.accumulate) {
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j)
        acc[i][j] = _mm512_add_ps(
            acc[i][j], _mm512_maskz_loadu_ps(j == NV - 1 ? last : __mmask16(0xffff),
                                             c + (m0 + i) * d.ldc + n0 + j * 16));
  }
  if (!d.post.empty()) kernels::avx512::apply_post_ops_tile<MR, NV>(d.post, acc, n0, last);
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i) {
    float* pc = c + (m0 + i) * d.ldc + n0;
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j)
      _mm512_mask_storeu_ps(pc + j * 16, j == NV - 1 ? last : __mmask16(0xffff), acc[i][j]);
  }
}

using TileFn = void (*)(const BrgemmDesc&, std::int64_t, const float* const*, const float* const*,
                        float*, std::int64_t, std::int64_t, __mmask16) noexcept;

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
/// streams through the core once (the narrow, tall tiles); otherwise the 6x4 tile, the best
/// FMA-to-load ratio, with B re-read from L1/L2 by each strip
/// (bench: brgemm f32 M14_N256_K256_B9, 2.5x over always 6x4).
inline int tile_nv(std::int64_t M) noexcept {
  for (int nv = 4; nv >= 1; --nv)
    if (M <= kMaxMr[nv]) return nv;
  return 4;
}

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
      const TileFn full = pick(nv, mr_max);
      std::int64_t m0 = 0;
      for (; m0 + mr_max <= d.M; m0 += mr_max) full(d, batch, pa, pb, pc, m0, n0, last);
      if (m0 < d.M) pick(nv, int(d.M - m0))(d, batch, pa, pb, pc, m0, n0, last);
    }
  }
};

}  // namespace medkern::kernels::brgemm
MEDKERN_ISA_END()
