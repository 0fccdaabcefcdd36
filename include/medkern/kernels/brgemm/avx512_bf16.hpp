// medkern/kernels/brgemm/avx512_bf16.hpp — bf16 A x bf16 B (pair-packed) -> f32 C with
// vdpbf16ps (AVX512-BF16), f32 accumulation.
//
// Register plan: an MR x NV tile of zmm f32 accumulators (NV vectors of 16 columns), NV B
// vectors of the current pair row and one broadcast A pair: 6x4 (24 acc), 8x3, 14x2, 28x1 --
// at most 31 of the 32 zmm (kMaxMr). Per K pair: NV B loads + MR dword broadcasts of
// (A[m][2p], A[m][2p+1]) feed MR*NV vdpbf16ps.
// Driver: drive() of avx512_vnni.hpp, as the VNNI kernel (see there): small M takes the
// tallest tile covering every row in one strip (28x1 included: at half the VNNI dot rate the
// broadcasts are free), so B streams through once; several strips split the reduction into
// L1-sized passes of whole pairs with partial sums in C; A rows in groups of four from one
// base pointer; B pair rows prefetched 16 rows ahead.
// Tails: M by tables of tiles indexed by MR; N by a mask on the last B vector (only in blocks
// with a tail) and the last C vector; an odd K (last pass only) builds the last A dword from
// the one valid bf16 and a zero (never reading past the row; B's padding entry is zero by the
// packing contract).
// Epilogue in registers: + C if accumulate or not the first pass, post-ops on the last pass,
// masked stores (detail_lowp helpers of avx512_vnni.hpp).
// Numerics: vdpbf16ps computes acc + a0*b0 + a1*b1 per lane with round-to-nearest-even,
// treating denormal inputs and outputs as zero (DAZ/FTZ, MXCSR is not consulted). bf16 products
// are exact in f32, so only the summation order differs from the ref's double accumulation.
#pragma once

#include <immintrin.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <utility>

#include "medkern/core/config.hpp"
#include "medkern/kernels/brgemm/avx512_vnni.hpp"
#include "medkern/kernels/brgemm/desc.hpp"
#include "medkern/kernels/brgemm/ref.hpp"
#include "medkern/kernels/post_ops.hpp"

MEDKERN_ISA_BEGIN(avx512_bf16)
namespace medkern::kernels::brgemm {
namespace detail_lowp {

/// acc += A[0:MR, pairs) * B[pairs, 0:16*NV) for np pairs. A rows from a_row(base, i, L, L3)
/// (bf16), advanced by one pair (4 bytes) per step; B pair rows `ldb4` bytes apart. kMasked:
/// the last B vector is loaded under `last` (only column blocks with an N tail).
template <int MR, int NV, bool kMasked>
MEDKERN_ALWAYS_INLINE void bf16_pairs(__m512 (&acc)[MR][NV], const char* (&base)[(MR + 3) / 4],
                                      i64 L, i64 L3, const char*& pb, i64 ldb4, i64 np,
                                      __mmask16 last) noexcept {
  const char* MEDKERN_RESTRICT B = pb;
  for (i64 q = 0; q < np; ++q) {
    // Pair rows are ldb4 apart: too far for the L1 streamer, so fetch kPrefetchRows ahead.
    if constexpr (kPrefetchRows > 0) {
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) _mm_prefetch(B + kPrefetchRows * ldb4 + 64 * v, _MM_HINT_T0);
    }
    __m512bh bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      bv[v] = (__m512bh)(kMasked && v == NV - 1 ? _mm512_maskz_loadu_epi32(last, B + 64 * v)
                                                : _mm512_loadu_si512(B + 64 * v));
#pragma GCC unroll 28
    for (int i = 0; i < MR; ++i) {
      const __m512bh av = (__m512bh)_mm512_set1_epi32(int(load_u32(a_row(base, i, L, L3))));
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_dpbf16_ps(acc[i][v], av, bv[v]);
    }
#pragma GCC unroll 7
    for (int g = 0; g < (MR + 3) / 4; ++g) base[g] += 4;
    B += ldb4;
  }
  pb = B;
}

/// One MR x 16*NV tile of C at (m0, n0) over batch elements [0, batch) and K values
/// [p.k0, p.k1) (k0 even; k1 odd only when it is K); `last` masks the final B and C vector.
template <int MR, int NV>
void bf16_tile(const BrgemmDesc& d, i64 batch, const void* const* a, const void* const* b,
               void* c, i64 m0, i64 n0, __mmask16 last, Pass p) noexcept {
  __m512 acc[MR][NV];
#pragma GCC unroll 28
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_setzero_ps();

  constexpr int kGroups = (MR + 3) / 4;
  const i64 L = d.lda * 2, L3 = 3 * L, ldb4 = d.ldb * 4;  // bytes: A row, B pair row
  const i64 len = p.k1 - p.k0;
  const bool full = last == __mmask16(0xffff);  // no N tail: plain B loads
  for (i64 ib = 0; ib < batch; ++ib) {
    const char* A = static_cast<const char*>(a[ib]) + m0 * L + 2 * p.k0;
    const char* B = static_cast<const char*>(b[ib]) + (p.k0 / 2) * ldb4 + n0 * 4;
    const char* base[kGroups];
#pragma GCC unroll 7
    for (int g = 0; g < kGroups; ++g) base[g] = A + 4 * g * L;
    if (full)
      bf16_pairs<MR, NV, false>(acc, base, L, L3, B, ldb4, len / 2, last);
    else
      bf16_pairs<MR, NV, true>(acc, base, L, L3, B, ldb4, len / 2, last);
    if (len % 2 != 0) {
      // Odd K, last pass: the final A value and a zero (never reading past the row); B's
      // padding entry is zero by the packing contract.
      __m512bh bv[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v)
        bv[v] = (__m512bh)_mm512_maskz_loadu_epi32(vmask<NV>(v, last), B + 64 * v);
#pragma GCC unroll 28
      for (int i = 0; i < MR; ++i) {
        std::uint16_t lo;
        std::memcpy(&lo, a_row(base, i, L, L3), 2);
        const __m512bh av = (__m512bh)_mm512_set1_epi32(int(std::uint32_t(lo)));
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_dpbf16_ps(acc[i][v], av, bv[v]);
      }
    }
  }
  store_f32_pass<MR, NV>(d, acc, static_cast<float*>(c) + m0 * d.ldc + n0, n0, last,
                         d.accumulate || !p.first, p.last);
}

template <int NV, int... I>
constexpr auto bf16_table(std::integer_sequence<int, I...>) {
  return std::array<TileFn, sizeof...(I)>{&bf16_tile<I + 1, NV>...};
}

inline void bf16_run(const BrgemmDesc& d, i64 batch, const void* const* a, const void* const* b,
                     void* c) noexcept {
  static constexpr auto t1 = bf16_table<1>(std::make_integer_sequence<int, kMaxMr[1]>{});
  static constexpr auto t2 = bf16_table<2>(std::make_integer_sequence<int, kMaxMr[2]>{});
  static constexpr auto t3 = bf16_table<3>(std::make_integer_sequence<int, kMaxMr[3]>{});
  static constexpr auto t4 = bf16_table<4>(std::make_integer_sequence<int, kMaxMr[4]>{});
  static constexpr const TileFn* tables[5] = {nullptr, t1.data(), t2.data(), t3.data(),
                                              t4.data()};
  drive(d, batch, a, b, c, tables, 2, 1);
}

}  // namespace detail_lowp

template <>
struct impl<isa::avx512_bf16_t> {
  static constexpr const char* name = "brgemm_bf16bf16_f32__avx512_bf16_m6n64";

  static bool supports(const BrgemmDesc& d) {
    return d.a_type == DType::bf16 && d.b_type == DType::bf16 && d.c_type == DType::f32;
  }

  static void run(const BrgemmDesc& d, std::int64_t batch, const void* const* a,
                  const void* const* b, void* c) noexcept {
    MEDKERN_DCHECK(d.M >= 0 && d.N >= 0 && d.K >= 0 && batch >= 0);
    MEDKERN_DCHECK(d.M <= 1 || d.lda >= d.K);
    MEDKERN_DCHECK(d.ldb >= d.N && (d.M <= 1 || d.ldc >= d.N));
    if (d.M == 0 || d.N == 0) return;
    detail_lowp::bf16_run(d, batch, a, b, c);
  }
};

}  // namespace medkern::kernels::brgemm
MEDKERN_ISA_END()
