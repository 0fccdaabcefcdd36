// medkern/kernels/brgemm/avx512_bf16.hpp — bf16 A x bf16 B (pair-packed) -> f32 C with
// vdpbf16ps (AVX512-BF16), f32 accumulation.
//
// Register plan: an MR x NV block of zmm f32 accumulators (NV vectors of 16 columns), one zmm
// per B vector of the current K pair row, one zmm for the broadcast A pair:
//   NV=4: MR=6 (24 acc + 4 B + 1 A), NV=3: MR=8, NV=2: MR=12, NV=1: MR=24  (<= 29 of 32 zmm).
// Per K pair: NV B loads + MR dword broadcasts of (A[m][2p], A[m][2p+1]) (load port only) feed
// MR*NV vdpbf16ps; 6x4 issues 24 dot instructions per 10 loads, so it is bound by the two
// vector ports (the peak) rather than by loads. The batch loop runs inside the micro-kernel,
// so accumulators stay in registers for the whole reduction.
// Tails: M tails call the micro-kernel instantiated for the remaining row count (function
// tables indexed by MR); N tails mask the last B vector (maskz loads, never past the buffer)
// and the last C vector; an odd K builds the last A dword from the one valid bf16 and a zero
// (never reading past the row; B's padding entry is zero by the packing contract).
// Epilogue in registers: + C if accumulate, post-ops, masked stores (detail_lowp helpers of
// avx512_vnni.hpp).
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

/// C[m0:m0+MR, n0:n0+16*NV) over the whole batch; `last` masks the final B and C vector.
template <int MR, int NV>
void bf16_block(const BrgemmDesc& d, i64 batch, const void* const* a, const void* const* b,
                i64 m0, i64 n0, __mmask16 last, void* c) noexcept {
  __m512 acc[MR][NV];
#pragma GCC unroll 24
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_setzero_ps();

  const i64 lda = d.lda, ldb2 = d.ldb * 2;  // B pair row stride in bf16 elements
  const i64 kp = d.K / 2;
  const bool odd = (d.K & 1) != 0;

  for (i64 ib = 0; ib < batch; ++ib) {
    const auto* A = static_cast<const std::uint16_t*>(a[ib]) + m0 * lda;
    const auto* B = static_cast<const std::uint16_t*>(b[ib]) + n0 * 2;
    for (i64 p = 0; p < kp; ++p) {
      __m512bh bv[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v)
        bv[v] = (__m512bh)(v == NV - 1 ? _mm512_maskz_loadu_epi32(last, B + 32 * v)
                                       : _mm512_loadu_si512(B + 32 * v));
#pragma GCC unroll 24
      for (int i = 0; i < MR; ++i) {
        const __m512bh av = (__m512bh)_mm512_set1_epi32(int(load_u32(A + i * lda + 2 * p)));
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_dpbf16_ps(acc[i][v], av, bv[v]);
      }
      B += ldb2;
    }
    if (odd) {
      __m512bh bv[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v)
        bv[v] = (__m512bh)_mm512_maskz_loadu_epi32(vmask<NV>(v, last), B + 32 * v);
#pragma GCC unroll 24
      for (int i = 0; i < MR; ++i) {
        const std::uint32_t w = A[i * lda + 2 * kp];  // the low bf16 only; high half zero
        const __m512bh av = (__m512bh)_mm512_set1_epi32(int(w));
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_dpbf16_ps(acc[i][v], av, bv[v]);
      }
    }
  }
  store_f32<MR, NV>(d, acc, static_cast<float*>(c) + m0 * d.ldc + n0, n0, last);
}

template <int NV, int... I>
constexpr auto bf16_table(std::integer_sequence<int, I...>) {
  return std::array<BlockFn, sizeof...(I)>{&bf16_block<I + 1, NV>...};
}

inline void bf16_run(const BrgemmDesc& d, i64 batch, const void* const* a, const void* const* b,
                     void* c) noexcept {
  static constexpr auto t1 = bf16_table<1>(std::make_integer_sequence<int, kMrForNv[1]>{});
  static constexpr auto t2 = bf16_table<2>(std::make_integer_sequence<int, kMrForNv[2]>{});
  static constexpr auto t3 = bf16_table<3>(std::make_integer_sequence<int, kMrForNv[3]>{});
  static constexpr auto t4 = bf16_table<4>(std::make_integer_sequence<int, kMrForNv[4]>{});
  static constexpr const BlockFn* tables[5] = {nullptr, t1.data(), t2.data(), t3.data(),
                                               t4.data()};
  // N outer, M inner: the B panel (K x 64 columns) is reused from L1/L2 across the M blocks.
  for (i64 n0 = 0; n0 < d.N; n0 += 64) {
    const i64 nr = d.N - n0 < 64 ? d.N - n0 : 64;
    const int nv = int((nr + 15) / 16);
    const __mmask16 last = tail_mask16(nr - 16 * (nv - 1));
    const int mr = kMrForNv[nv];
    const BlockFn* tab = tables[nv];
    for (i64 m0 = 0; m0 < d.M; m0 += mr) {
      const i64 rows = d.M - m0 < mr ? d.M - m0 : mr;
      tab[rows - 1](d, batch, a, b, m0, n0, last, c);
    }
  }
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
