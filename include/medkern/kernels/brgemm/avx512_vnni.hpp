// medkern/kernels/brgemm/avx512_vnni.hpp — u8|s8 A x s8 B (quad-packed) -> s32|f32 C with
// vpdpbusd (AVX512-VNNI), s32 accumulation.
//
// Register plan: an MR x NV block of zmm s32 accumulators (NV vectors of 16 columns), one zmm
// per B vector of the current quad row, one zmm for the broadcast A dword:
//   NV=4: MR=6 (24 acc + 4 B + 1 A), NV=3: MR=8, NV=2: MR=12, NV=1: MR=24  (<= 29 of 32 zmm).
// Per K quad: NV B loads + MR A broadcasts (load port only) feed MR*NV vpdpbusd, so 6x4 does 24
// dot instructions per 10 loads: bound by the two vector ports, not by loads. The batch loop is
// inside the micro-kernel, so accumulators stay in registers across the whole reduction.
// s8 A: vpdpbusd needs an unsigned first operand, so A is flipped to u8 (a ^ 0x80 == a + 128)
// while being staged in 256-byte K chunks through a stack buffer (one vector op per 64 bytes
// instead of one per broadcast, which cost ~20% of the dot slots), and desc.b_compensation[n]
// (= 128 * sum_k B[k][n]) is subtracted at the end. u8 A reads A directly.
// Tails: M tails call the micro-kernel instantiated for the remaining row count (function
// tables indexed by MR); N tails mask the last B vector (maskz loads, never past the buffer)
// and the last C vector; a K tail (K % 4 != 0) builds the last A dword from the 1-3 valid bytes
// and zeros (u8) or zero-pads the staged chunk (s8), so no byte past a row is read (B's
// padding is zero by the packing contract).
// Epilogue (in registers): - compensation, then s32 C: + C if accumulate (wrapping, exact);
// f32 C: convert, + C if accumulate, post-ops, masked stores.
//
// This file also holds the AVX-512 epilogue helpers that the bf16 and AMX kernels reuse
// (namespace detail_lowp): they are compiled for the avx512_vnni region, a subset of those
// kernels' targets, so GCC inlines them there.
#pragma once

#include <immintrin.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <utility>

#include "medkern/core/config.hpp"
#include "medkern/kernels/brgemm/desc.hpp"
#include "medkern/kernels/brgemm/ref.hpp"
#include "medkern/kernels/post_ops.hpp"

MEDKERN_ISA_BEGIN(avx512_vnni)
namespace medkern::kernels::brgemm {
namespace detail_lowp {

using i64 = std::int64_t;

/// Mask of the first n (0..16) lanes.
MEDKERN_ALWAYS_INLINE __mmask16 tail_mask16(i64 n) noexcept {
  return n >= 16 ? __mmask16(0xffff) : __mmask16((1u << unsigned(n)) - 1u);
}

/// Mask of vector v of NV: only the last vector of a block carries the N tail.
template <int NV>
MEDKERN_ALWAYS_INLINE __mmask16 vmask(int v, __mmask16 last) noexcept {
  return v == NV - 1 ? last : __mmask16(0xffff);
}

MEDKERN_ALWAYS_INLINE std::uint32_t load_u32(const void* p) noexcept {
  std::uint32_t w;
  std::memcpy(&w, p, 4);
  return w;
}

/// The post-op chain on an MR x NV block of f32 accumulators whose first column is n0.
/// The op switch sits outside the unrolled row/vector loops, so each case is straight-line
/// code on registers; per-column data (bias, scale) is loaded once per vector, masked.
template <int MR, int NV>
MEDKERN_ALWAYS_INLINE void post_ops_f32(const PostOps& post, __m512 (&acc)[MR][NV], i64 n0,
                                        __mmask16 last) noexcept {
  for (const PostOp& op : post) {
    switch (op.kind) {
      case PostOpKind::bias:
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) {
          const __m512 b = _mm512_maskz_loadu_ps(vmask<NV>(v, last), op.data + n0 + 16 * v);
#pragma GCC unroll 24
          for (int i = 0; i < MR; ++i) acc[i][v] = _mm512_add_ps(acc[i][v], b);
        }
        break;
      case PostOpKind::scale:
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) {
          const __m512 s = op.data
                               ? _mm512_maskz_loadu_ps(vmask<NV>(v, last), op.data + n0 + 16 * v)
                               : _mm512_set1_ps(op.alpha);
#pragma GCC unroll 24
          for (int i = 0; i < MR; ++i) acc[i][v] = _mm512_mul_ps(acc[i][v], s);
        }
        break;
      case PostOpKind::eltwise: {
        const __m512 al = _mm512_set1_ps(op.alpha), be = _mm512_set1_ps(op.beta);
        const __m512 z = _mm512_setzero_ps();
        switch (op.alg) {
          case Eltwise::relu:  // max(x, 0): maxps returns 0 for NaN x, as the ref's x > 0 test
#pragma GCC unroll 24
            for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
              for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_max_ps(acc[i][v], z);
            break;
          case Eltwise::leaky_relu:  // x < 0 ? alpha*x : x (NaN stays NaN, as in the ref)
#pragma GCC unroll 24
            for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
              for (int v = 0; v < NV; ++v) {
                const __mmask16 neg = _mm512_cmp_ps_mask(acc[i][v], z, _CMP_LT_OQ);
                acc[i][v] = _mm512_mask_mul_ps(acc[i][v], neg, acc[i][v], al);
              }
            break;
          case Eltwise::clip:  // min(max(x, alpha), beta); NaN x gives clip(alpha) like fmax
#pragma GCC unroll 24
            for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
              for (int v = 0; v < NV; ++v)
                acc[i][v] = _mm512_min_ps(_mm512_max_ps(acc[i][v], al), be);
            break;
          case Eltwise::linear:
#pragma GCC unroll 24
            for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
              for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_fmadd_ps(acc[i][v], al, be);
            break;
        }
        break;
      }
    }
  }
}

/// Final f32 stage: + C when accumulating, post-ops, masked stores. c = &C[m0][n0].
template <int MR, int NV>
MEDKERN_ALWAYS_INLINE void store_f32(const BrgemmDesc& d, __m512 (&acc)[MR][NV], float* c,
                                     i64 n0, __mmask16 last) noexcept {
  const i64 ldc = d.ldc;
  if (d.accumulate) {
#pragma GCC unroll 24
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v)
        acc[i][v] = _mm512_add_ps(acc[i][v],
                                  _mm512_maskz_loadu_ps(vmask<NV>(v, last), c + i * ldc + 16 * v));
  }
  if (!d.post.empty()) post_ops_f32<MR, NV>(d.post, acc, n0, last);
#pragma GCC unroll 24
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      _mm512_mask_storeu_ps(c + i * ldc + 16 * v, vmask<NV>(v, last), acc[i][v]);
}

/// Final s32 stage: - comp[n] when comp is not null (s8 A fed as u8), then s32 C (exact,
/// + C when accumulating) or f32 C (converted, then store_f32). c = &C[m0][n0] of C's dtype.
template <int MR, int NV>
MEDKERN_ALWAYS_INLINE void store_s32(const BrgemmDesc& d, __m512i (&acc)[MR][NV], void* c, i64 n0,
                                     __mmask16 last, const std::int32_t* comp_base) noexcept {
  if (comp_base != nullptr) {
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      const __m512i comp =
          _mm512_maskz_loadu_epi32(vmask<NV>(v, last), comp_base + n0 + 16 * v);
#pragma GCC unroll 24
      for (int i = 0; i < MR; ++i) acc[i][v] = _mm512_sub_epi32(acc[i][v], comp);
    }
  }
  const i64 ldc = d.ldc;
  if (d.c_type == DType::s32) {
    auto* ci = static_cast<std::int32_t*>(c);
#pragma GCC unroll 24
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        const __mmask16 m = vmask<NV>(v, last);
        __m512i r = acc[i][v];
        if (d.accumulate)
          r = _mm512_add_epi32(r, _mm512_maskz_loadu_epi32(m, ci + i * ldc + 16 * v));
        _mm512_mask_storeu_epi32(ci + i * ldc + 16 * v, m, r);
      }
    return;
  }
  __m512 f[MR][NV];
#pragma GCC unroll 24
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) f[i][v] = _mm512_cvtepi32_ps(acc[i][v]);
  store_f32<MR, NV>(d, f, static_cast<float*>(c), n0, last);
}

// ---- the VNNI micro-kernel ----------------------------------------------------------------

/// The last, partial A dword of a row: `r` (1..3) valid bytes, zeros above; never reads past.
MEDKERN_ALWAYS_INLINE std::uint32_t load_partial_u32(const std::uint8_t* p, i64 r) noexcept {
  std::uint32_t w = p[0];
  if (r > 1) w |= std::uint32_t(p[1]) << 8;
  if (r > 2) w |= std::uint32_t(p[2]) << 16;
  return w;
}

/// acc += A[0:MR, 0:4*nq) * B[0:4*nq, 0:16*NV) for nq full quads; A rows `lda` bytes apart
/// (u8 bytes), B quad rows `ldb4` bytes apart. Returns B advanced past the consumed quads.
template <int MR, int NV>
MEDKERN_ALWAYS_INLINE const std::int8_t* vnni_quads(__m512i (&acc)[MR][NV], const std::uint8_t* A,
                                                    i64 lda, const std::int8_t* B, i64 ldb4,
                                                    i64 nq, __mmask16 last) noexcept {
  for (i64 q = 0; q < nq; ++q) {
    __m512i bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      bv[v] = v == NV - 1 ? _mm512_maskz_loadu_epi32(last, B + 64 * v)
                          : _mm512_loadu_si512(B + 64 * v);
#pragma GCC unroll 24
    for (int i = 0; i < MR; ++i) {
      const __m512i av = _mm512_set1_epi32(int(load_u32(A + i * lda + 4 * q)));
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_dpbusd_epi32(acc[i][v], av, bv[v]);
    }
    B += ldb4;
  }
  return B;
}

/// s8 A is staged through a stack buffer in chunks of kS8Chunk K values, flipped to u8
/// (a ^ 0x80 == a + 128) once per element instead of once per broadcast per quad: flipping
/// the broadcast would spend a vector-port op per row per quad (~20% of the dot slots at 6x4),
/// the staging copy spends one per 64 bytes. Chunk 256 keeps the 24-row buffer at 6 KB.
inline constexpr i64 kS8Chunk = 256;

/// C[m0:m0+MR, n0:n0+16*NV) over the whole batch; `last` masks the final B and C vector.
template <int MR, int NV, bool kS8A>
void vnni_block(const BrgemmDesc& d, i64 batch, const void* const* a, const void* const* b,
                i64 m0, i64 n0, __mmask16 last, void* c) noexcept {
  __m512i acc[MR][NV];
#pragma GCC unroll 24
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_setzero_si512();

  const i64 lda = d.lda, ldb4 = d.ldb * 4;  // B quad row stride in bytes
  const i64 kq = d.K / 4, kr = d.K % 4;

  for (i64 ib = 0; ib < batch; ++ib) {
    const auto* A = static_cast<const std::uint8_t*>(a[ib]) + m0 * lda;
    const auto* B = static_cast<const std::int8_t*>(b[ib]) + n0 * 4;
    if constexpr (kS8A) {
      alignas(64) std::uint8_t buf[MR][kS8Chunk];
      const __m512i flip = _mm512_set1_epi8(char(0x80));
      for (i64 k0 = 0; k0 < d.K; k0 += kS8Chunk) {
        const i64 len = d.K - k0 < kS8Chunk ? d.K - k0 : kS8Chunk;
        for (int i = 0; i < MR; ++i)
          for (i64 j = 0; j < len; j += 64) {
            // Masked load: never past the row. The padding of the last quad stays zero
            // (maskz_mov after the flip), matching B's zero padding.
            const i64 r = len - j;
            const __mmask64 m = r >= 64 ? ~__mmask64(0) : (__mmask64(1) << r) - 1;
            const __m512i x = _mm512_maskz_loadu_epi8(m, A + i * lda + k0 + j);
            _mm512_store_si512(&buf[i][j], _mm512_maskz_mov_epi8(m, _mm512_xor_si512(x, flip)));
          }
        B = vnni_quads<MR, NV>(acc, &buf[0][0], kS8Chunk, B, ldb4, (len + 3) / 4, last);
      }
    } else {
      B = vnni_quads<MR, NV>(acc, A, lda, B, ldb4, kq, last);
      if (kr != 0) {
        // The last, partial quad: the 1-3 valid bytes and zeros, never reading past the row.
        __m512i bv[NV];
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v)
          bv[v] = _mm512_maskz_loadu_epi32(vmask<NV>(v, last), B + 64 * v);
#pragma GCC unroll 24
        for (int i = 0; i < MR; ++i) {
          const __m512i av = _mm512_set1_epi32(int(load_partial_u32(A + i * lda + 4 * kq, kr)));
#pragma GCC unroll 4
          for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_dpbusd_epi32(acc[i][v], av, bv[v]);
        }
      }
    }
  }
  // s32 and f32 C elements are both 4 bytes, so one offset serves either C type.
  store_s32<MR, NV>(d, acc, static_cast<std::int32_t*>(c) + m0 * d.ldc + n0, n0, last,
                    kS8A ? d.b_compensation : nullptr);
}

using BlockFn = void (*)(const BrgemmDesc&, i64, const void* const*, const void* const*, i64, i64,
                         __mmask16, void*) noexcept;

/// Rows per micro-tile for NV vectors (accumulators MR*NV <= 24 of the 32 zmm registers).
inline constexpr int kMrForNv[5] = {0, 24, 12, 8, 6};

template <int NV, bool kS8A, int... I>
constexpr auto vnni_table(std::integer_sequence<int, I...>) {
  return std::array<BlockFn, sizeof...(I)>{&vnni_block<I + 1, NV, kS8A>...};
}

template <bool kS8A>
void vnni_run(const BrgemmDesc& d, i64 batch, const void* const* a, const void* const* b,
              void* c) noexcept {
  static constexpr auto t1 = vnni_table<1, kS8A>(std::make_integer_sequence<int, kMrForNv[1]>{});
  static constexpr auto t2 = vnni_table<2, kS8A>(std::make_integer_sequence<int, kMrForNv[2]>{});
  static constexpr auto t3 = vnni_table<3, kS8A>(std::make_integer_sequence<int, kMrForNv[3]>{});
  static constexpr auto t4 = vnni_table<4, kS8A>(std::make_integer_sequence<int, kMrForNv[4]>{});
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
struct impl<isa::avx512_vnni_t> {
  /// x8 = u8 or s8 A; the C type (s32 or f32) is a run-time property of the desc.
  static constexpr const char* name = "brgemm_x8s8_s32f32__avx512_vnni_m6n64";

  static bool supports(const BrgemmDesc& d) {
    const bool types = (d.a_type == DType::u8 || d.a_type == DType::s8) &&
                       d.b_type == DType::s8 &&
                       (d.c_type == DType::s32 || d.c_type == DType::f32);
    return types && !(d.c_type == DType::s32 && !d.post.empty()) &&
           !(d.a_type == DType::s8 && d.b_compensation == nullptr);
  }

  static void run(const BrgemmDesc& d, std::int64_t batch, const void* const* a,
                  const void* const* b, void* c) noexcept {
    MEDKERN_DCHECK(d.M >= 0 && d.N >= 0 && d.K >= 0 && batch >= 0);
    MEDKERN_DCHECK(d.M <= 1 || d.lda >= d.K);
    MEDKERN_DCHECK(d.ldb >= d.N && (d.M <= 1 || d.ldc >= d.N));
    MEDKERN_DCHECK(d.a_type != DType::s8 || d.b_compensation != nullptr);
    if (d.M == 0 || d.N == 0) return;
    if (d.a_type == DType::s8)
      detail_lowp::vnni_run<true>(d, batch, a, b, c);
    else
      detail_lowp::vnni_run<false>(d, batch, a, b, c);
  }
};

}  // namespace medkern::kernels::brgemm
MEDKERN_ISA_END()
