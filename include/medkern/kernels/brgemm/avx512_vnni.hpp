// medkern/kernels/brgemm/avx512_vnni.hpp — u8|s8 A x s8 B (quad-packed) -> s32|f32 C with
// vpdpbusd (AVX512-VNNI), s32 accumulation.
//
// Register plan: an MR x NV tile of zmm s32 accumulators (NV vectors of 16 columns), NV B
// vectors of the current quad row and one broadcast A dword: 6x4 (24 acc), 8x3, 14x2, 28x1 --
// at most 31 of the 32 zmm (kMaxMr). vpdpbusd issues 2/cycle with 5 cycles of latency, so a
// tile needs >= 10 chains. Per quad: NV B loads + MR broadcasts feed MR*NV dots.
// Driver (drive(), shared with the bf16 kernel): small M takes the tallest tile of >= 2
// vectors that covers every row in one strip, so B streams through once (1-vector tiles only
// when N <= 16: at one broadcast per dot they top out near 88%); with several strips the
// reduction runs in passes whose B slice (24 KiB) stays in L1 while every strip uses it, and C
// holds the partial sums in between (store_s32_pass). A rows are addressed in groups of four
// from one base pointer ([base], [base+L], [base+2L], [base+3L]), so a 28-row tile keeps 7
// pointers in registers. B quad rows are prefetched 16 rows ahead.
// s8 A: vpdpbusd needs an unsigned first operand, so A is flipped to u8 (a + 128 == a ^ 0x80)
// while being staged in 256-byte K chunks through a stack buffer (one vector op per 64 bytes
// instead of one per broadcast), and desc.b_compensation[n] (= 128 * sum_k B[k][n]) is
// subtracted on the last pass. u8 A reads A in place.
// Tails: M by tables of tiles indexed by MR; N by a mask on the last B vector (maskz loads,
// only in blocks with a tail) and the last C vector; a K tail (K % 4 != 0, last pass only)
// builds the last A dword from the 1-3 valid bytes and zeros (u8) or zero-pads the staged
// chunk (s8), so no byte past a row is read (B's padding is zero by the packing contract).
// Epilogue (in registers), last pass: - compensation, then s32 C: + C if accumulate (wrapping,
// exact); f32 C: convert, + C if accumulate, post-ops, masked stores.
//
// This file also holds the AVX-512 epilogue helpers and the driver that the bf16 and AMX
// kernels reuse (namespace detail_lowp): they are compiled for the avx512_vnni region, a
// subset of those kernels' targets, so GCC inlines them there.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <utility>

#include "medkern/core/config.hpp"
#include "medkern/kernels/brgemm/desc.hpp"
#include "medkern/kernels/brgemm/ref.hpp"
#include "medkern/kernels/post_ops.hpp"
#include "medkern/kernels/post_ops_avx512.hpp"

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
#pragma GCC unroll 28
          for (int i = 0; i < MR; ++i) acc[i][v] = _mm512_add_ps(acc[i][v], b);
        }
        break;
      case PostOpKind::scale:
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) {
          const __m512 s = op.data
                               ? _mm512_maskz_loadu_ps(vmask<NV>(v, last), op.data + n0 + 16 * v)
                               : _mm512_set1_ps(op.alpha);
#pragma GCC unroll 28
          for (int i = 0; i < MR; ++i) acc[i][v] = _mm512_mul_ps(acc[i][v], s);
        }
        break;
      case PostOpKind::eltwise: {
        const __m512 al = _mm512_set1_ps(op.alpha), be = _mm512_set1_ps(op.beta);
        const __m512 z = _mm512_setzero_ps();
        switch (op.alg) {
          case Eltwise::relu:  // max(x, 0): maxps returns 0 for NaN x, as the ref's x > 0 test
#pragma GCC unroll 28
            for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
              for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_max_ps(acc[i][v], z);
            break;
          case Eltwise::leaky_relu:  // x < 0 ? alpha*x : x (NaN stays NaN, as in the ref)
#pragma GCC unroll 28
            for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
              for (int v = 0; v < NV; ++v) {
                const __mmask16 neg = _mm512_cmp_ps_mask(acc[i][v], z, _CMP_LT_OQ);
                acc[i][v] = _mm512_mask_mul_ps(acc[i][v], neg, acc[i][v], al);
              }
            break;
          case Eltwise::clip:  // min(max(x, alpha), beta); NaN x gives clip(alpha) like fmax
#pragma GCC unroll 28
            for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
              for (int v = 0; v < NV; ++v)
                acc[i][v] = _mm512_min_ps(_mm512_max_ps(acc[i][v], al), be);
            break;
          case Eltwise::linear:
#pragma GCC unroll 28
            for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
              for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_fmadd_ps(acc[i][v], al, be);
            break;
          default:  // transcendental ones: the shared vector functions
#pragma GCC unroll 28
            for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
              for (int v = 0; v < NV; ++v) acc[i][v] = kernels::avx512::eltwise(acc[i][v], op);
            break;
        }
        break;
      }
      case PostOpKind::prelu:
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) {
          const __m512 s = op.data
                               ? _mm512_maskz_loadu_ps(vmask<NV>(v, last), op.data + n0 + 16 * v)
                               : _mm512_set1_ps(op.alpha);
#pragma GCC unroll 28
          for (int i = 0; i < MR; ++i) acc[i][v] = kernels::avx512::prelu(acc[i][v], s);
        }
        break;
      case PostOpKind::sum: break;  // register tiles run chain heads only (post_ops.hpp)
    }
  }
}

/// What one tile call does with C: the K range it reduces and where it starts and ends.
/// A reduction split into passes leaves partial sums in C between them (see store_s32_pass).
struct Pass {
  i64 k0, k1;  ///< K values [k0, k1) of every batch element; k0 is a multiple of the K group
  bool first;  ///< start from (accumulate ? C : 0); otherwise from the partial sums in C
  bool last;   ///< finish: s8 compensation, conversion, post-ops
};

/// The f32 epilogue of one pass: + C when `load_c`, the post-ops when `post`, masked stores.
/// c = &C[m0][n0].
template <int MR, int NV>
MEDKERN_ALWAYS_INLINE void store_f32_pass(const BrgemmDesc& d, __m512 (&acc)[MR][NV], float* c,
                                          i64 n0, __mmask16 last, bool load_c,
                                          bool post) noexcept {
  const i64 ldc = d.ldc;
  if (load_c) {
#pragma GCC unroll 28
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v)
        acc[i][v] = _mm512_add_ps(acc[i][v],
                                  _mm512_maskz_loadu_ps(vmask<NV>(v, last), c + i * ldc + 16 * v));
  }
  if (post && !d.post.empty()) post_ops_f32<MR, NV>(d.post, acc, n0, last);
#pragma GCC unroll 28
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      _mm512_mask_storeu_ps(c + i * ldc + 16 * v, vmask<NV>(v, last), acc[i][v]);
}

/// Final f32 stage of a whole reduction: + C when accumulating, post-ops, masked stores.
template <int MR, int NV>
MEDKERN_ALWAYS_INLINE void store_f32(const BrgemmDesc& d, __m512 (&acc)[MR][NV], float* c,
                                     i64 n0, __mmask16 last) noexcept {
  store_f32_pass<MR, NV>(d, acc, c, n0, last, d.accumulate, true);
}

/// The s32 epilogue of one pass; c = &C[m0][n0] of C's dtype (both are 4 bytes).
/// Between passes C holds s32 partial sums (their bits, for an f32 C), so a split reduction
/// is exactly the unsplit one -- except for f32 C with accumulate, whose prior C must survive
/// until the end: there each pass converts its sum and adds it to C in f32 (exact while the
/// partial sums stay below 2^24). The last pass subtracts comp[n] (s8 A fed as u8) when
/// comp_base is not null, then stores s32 (wrapping) or converts and runs the post-ops.
template <int MR, int NV>
MEDKERN_ALWAYS_INLINE void store_s32_pass(const BrgemmDesc& d, __m512i (&acc)[MR][NV], void* c,
                                          i64 n0, __mmask16 last, const std::int32_t* comp_base,
                                          Pass p) noexcept {
  if (p.last && comp_base != nullptr) {
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      const __m512i comp =
          _mm512_maskz_loadu_epi32(vmask<NV>(v, last), comp_base + n0 + 16 * v);
#pragma GCC unroll 28
      for (int i = 0; i < MR; ++i) acc[i][v] = _mm512_sub_epi32(acc[i][v], comp);
    }
  }
  const i64 ldc = d.ldc;
  const bool f32_partials = d.c_type == DType::f32 && d.accumulate;
  if (!f32_partials) {
    auto* ci = static_cast<std::int32_t*>(c);
    const bool load_c = d.accumulate || !p.first;  // for f32 C: only our own partial sums
    const bool to_f32 = d.c_type == DType::f32 && p.last;
    if (load_c || !to_f32) {
#pragma GCC unroll 28
      for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) {
          const __mmask16 m = vmask<NV>(v, last);
          if (load_c)
            acc[i][v] = _mm512_add_epi32(acc[i][v],
                                         _mm512_maskz_loadu_epi32(m, ci + i * ldc + 16 * v));
          if (!to_f32) _mm512_mask_storeu_epi32(ci + i * ldc + 16 * v, m, acc[i][v]);
        }
    }
    if (!to_f32) return;
  }
  __m512 f[MR][NV];
#pragma GCC unroll 28
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) f[i][v] = _mm512_cvtepi32_ps(acc[i][v]);
  store_f32_pass<MR, NV>(d, f, static_cast<float*>(c), n0, last, f32_partials, p.last);
}

/// Final s32 stage of a whole reduction: - comp[n] when comp_base is not null (s8 A fed as
/// u8), then s32 C (exact, + C when accumulating) or f32 C (converted, then store_f32).
template <int MR, int NV>
MEDKERN_ALWAYS_INLINE void store_s32(const BrgemmDesc& d, __m512i (&acc)[MR][NV], void* c, i64 n0,
                                     __mmask16 last, const std::int32_t* comp_base) noexcept {
  store_s32_pass<MR, NV>(d, acc, c, n0, last, comp_base, Pass{0, d.K, true, true});
}

// ---- the driver shared by the bf16 and VNNI tiles ------------------------------------------

/// One MR x 16*NV tile of C at (m0, n0) over batch elements [0, batch) of a/b and the K range
/// of `p`; `last` masks the final B and C vector.
using TileFn = void (*)(const BrgemmDesc&, i64 batch, const void* const* a, const void* const* b,
                        void* c, i64 m0, i64 n0, __mmask16 last, Pass p) noexcept;

/// Largest MR per NV: MR*NV accumulators + NV B vectors + 1 broadcast A dword <= 32 zmm, and
/// enough independent dot chains (vpdpbusd issues 2/cycle with 5 cycles of latency: >= 10).
inline constexpr int kMaxMr[5] = {0, 28, 14, 8, 6};

/// Column vectors per tile for M rows: the tallest tile of at least `min_nv` vectors that
/// covers every row in one strip when M is small (B streams through the core once);
/// otherwise 6x4, whose B reuse across strips is served from L1 by the K passes of drive().
/// VNNI takes min_nv = 2: its 1-vector tiles spend one broadcast per dot and reach ~88% of
/// peak against ~92-99% for 14x2 and 6x4 strips (bench: vnni M28_N128_K128_B9,
/// M16_N256_K4608_B1); bf16, at half the dot rate, keeps 28x1.
inline int tile_nv(i64 M, int min_nv) noexcept {
  for (int nv = 4; nv >= min_nv; --nv)
    if (M <= kMaxMr[nv]) return nv;
  return 4;
}

/// B rows (packed K groups: pairs, quads) fetched ahead of use; a packed row of 16 columns is
/// one 64-byte line, as in f32. Sweep 0/16/32 (bench: brgemm bf16|vnni M16_N256_K256_B27,
/// M16_N256_K4608_B1): 16 lifts the streamed-B shapes (bf16 63% -> 100%, vnni 72% -> 83%)
/// and is neutral elsewhere; 32 is worse. Near the end of a short B the prefetches run into
/// the next batch element's B when the matrices are adjacent; skipping them measured worse.
inline constexpr i64 kPrefetchRows = 16;

/// B bytes of one column block kept in L1 across the strips of a pass (half of a 48 KiB L1d).
inline constexpr i64 kPassBytes = 24 * 1024;

/// Address of A row i of a tile whose rows are addressed in groups of four from one base
/// pointer each: [base], [base + L], [base + 2L], [base + 3L] (L = lda in bytes, L3 = 3L), so
/// two index registers serve every group and a 28-row tile needs 7 pointers, not 28.
MEDKERN_ALWAYS_INLINE const char* a_row(const char* const* base, int i, i64 L, i64 L3) noexcept {
  const char* r = base[i / 4];
  return i % 4 == 0 ? r : i % 4 == 1 ? r + L : i % 4 == 2 ? r + 2 * L : r + L3;
}

/// Runs the tiles over C: column blocks of 16*NV (NV from tile_nv(M, min_nv), fewer for
/// a narrow N), strips of kMaxMr[NV] rows (then one tail tile), and -- with several strips --
/// the reduction in L1-sized passes aligned to the K group `kg` (2 bf16, 4 s8).
/// tables[nv][mr - 1] is the MR x NV tile.
inline void drive(const BrgemmDesc& d, i64 batch, const void* const* a, const void* const* b,
                  void* c, const TileFn* const* tables, i64 kg, int min_nv) noexcept {
  if (d.K == 0) batch = 0;  // nothing to reduce: C = post(accumulate ? C : 0)
  const i64 groups = (d.K + kg - 1) / kg;  // packed B rows per batch element
  const int nv_main = std::min<int>(tile_nv(d.M, min_nv), int((d.N + 15) / 16));
  const i64 n_block = 16 * nv_main;
  for (i64 n0 = 0; n0 < d.N; n0 += n_block) {
    const i64 nrem = std::min(d.N - n0, n_block);
    const int nv = int((nrem + 15) / 16);
    const __mmask16 last = tail_mask16(nrem - 16 * (nv - 1));
    const int mr_max = kMaxMr[nv];
    const TileFn* tab = tables[nv];
    auto run_strips = [&](i64 bb, i64 nb, Pass p) {
      i64 m0 = 0;
      for (; m0 + mr_max <= d.M; m0 += mr_max)
        tab[mr_max - 1](d, nb, a + bb, b + bb, c, m0, n0, last, p);
      if (m0 < d.M) tab[d.M - m0 - 1](d, nb, a + bb, b + bb, c, m0, n0, last, p);
    };
    if (d.M <= mr_max || batch == 0) {
      run_strips(0, batch, Pass{0, d.K, true, true});
      continue;
    }
    // Several strips share each B row: split the reduction into passes whose B slice fits
    // L1, so strips after the first read it from L1. C holds the partial sums in between.
    const i64 rows = std::max<i64>(8, kPassBytes / (64 * nv));
    if (groups >= rows) {
      const i64 passes = (groups + rows - 1) / rows;
      const i64 step = (groups + passes - 1) / passes * kg;  // a whole number of K groups
      for (i64 bi = 0; bi < batch; ++bi)
        for (i64 k0 = 0; k0 < d.K; k0 += step) {
          const i64 k1 = std::min(d.K, k0 + step);
          run_strips(bi, 1, Pass{k0, k1, bi == 0 && k0 == 0, bi == batch - 1 && k1 == d.K});
        }
    } else {
      const i64 per = rows / groups;  // whole batch elements per pass
      for (i64 b0 = 0; b0 < batch; b0 += per) {
        const i64 nb = std::min(per, batch - b0);
        run_strips(b0, nb, Pass{0, d.K, b0 == 0, b0 + nb == batch});
      }
    }
  }
}

// ---- the VNNI tile --------------------------------------------------------------------------

/// The last, partial A dword of a row: `r` (1..3) valid bytes, zeros above; never reads past.
MEDKERN_ALWAYS_INLINE std::uint32_t load_partial_u32(const char* p, i64 r) noexcept {
  const auto* q = reinterpret_cast<const std::uint8_t*>(p);
  std::uint32_t w = q[0];
  if (r > 1) w |= std::uint32_t(q[1]) << 8;
  if (r > 2) w |= std::uint32_t(q[2]) << 16;
  return w;
}

/// acc += A[0:MR, quads) * B[quads, 0:16*NV) for nq quads. A rows from a_row(base, i, L, L3)
/// (u8 bytes), advanced by 4 per quad; B quad rows `ldb4` bytes apart. Advances base and pb.
/// kMasked: the last B vector is loaded under `last` (a column block with an N tail); a
/// masked load costs ~5-10% on 1-vector tiles, so full blocks use plain loads.
template <int MR, int NV, bool kMasked>
MEDKERN_ALWAYS_INLINE void vnni_quads(__m512i (&acc)[MR][NV], const char* (&base)[(MR + 3) / 4],
                                      i64 L, i64 L3, const char*& pb, i64 ldb4, i64 nq,
                                      __mmask16 last) noexcept {
  const char* MEDKERN_RESTRICT B = pb;
  for (i64 q = 0; q < nq; ++q) {
    // Quad rows are ldb4 apart: too far for the L1 streamer, so fetch kPrefetchRows ahead.
    if constexpr (kPrefetchRows > 0) {
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) _mm_prefetch(B + kPrefetchRows * ldb4 + 64 * v, _MM_HINT_T0);
    }
    __m512i bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      bv[v] = kMasked && v == NV - 1 ? _mm512_maskz_loadu_epi32(last, B + 64 * v)
                                     : _mm512_loadu_si512(B + 64 * v);
#pragma GCC unroll 28
    for (int i = 0; i < MR; ++i) {
      const __m512i av = _mm512_set1_epi32(int(load_u32(a_row(base, i, L, L3))));
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_dpbusd_epi32(acc[i][v], av, bv[v]);
    }
#pragma GCC unroll 7
    for (int g = 0; g < (MR + 3) / 4; ++g) base[g] += 4;
    B += ldb4;
  }
  pb = B;
}

/// s8 A is staged through a stack buffer in chunks of kS8Chunk K values, flipped to u8
/// (a ^ 0x80 == a + 128) once per element instead of once per broadcast per quad: flipping
/// the broadcast would spend a vector-port op per row per quad (~20% of the dot slots at 6x4,
/// all of them at 28x1), the staging copy spends one per 64 bytes. Chunk 256 keeps the 28-row
/// buffer at 7 KB.
inline constexpr i64 kS8Chunk = 256;

/// The VNNI tile: u8 A (kS8A = false, read in place) or s8 A (staged as u8, compensated).
template <int MR, int NV, bool kS8A>
void vnni_tile(const BrgemmDesc& d, i64 batch, const void* const* a, const void* const* b,
               void* c, i64 m0, i64 n0, __mmask16 last, Pass p) noexcept {
  __m512i acc[MR][NV];
#pragma GCC unroll 28
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_setzero_si512();

  constexpr int kGroups = (MR + 3) / 4;
  const i64 lda = d.lda, ldb4 = d.ldb * 4;  // B quad row stride in bytes
  const i64 len = p.k1 - p.k0;
  const bool full = last == __mmask16(0xffff);  // no N tail: plain B loads (see vnni_quads)
  for (i64 ib = 0; ib < batch; ++ib) {
    const char* A = static_cast<const char*>(a[ib]) + m0 * lda + p.k0;
    const char* B = static_cast<const char*>(b[ib]) + (p.k0 / 4) * ldb4 + n0 * 4;
    const char* base[kGroups];
    if constexpr (kS8A) {
      alignas(64) char buf[MR][kS8Chunk];
      const __m512i flip = _mm512_set1_epi8(char(0x80));
      for (i64 k0 = 0; k0 < len; k0 += kS8Chunk) {
        const i64 n = len - k0 < kS8Chunk ? len - k0 : kS8Chunk;
        for (i64 j = 0; j < n; j += 64) {
          // Masked load: never past the row. The padding of the last quad stays zero
          // (maskz_add: a + 128 == a ^ 0x80 in the lanes of m, zero above), as B's padding.
          const i64 r = n - j;
          const __mmask64 m = r >= 64 ? ~__mmask64(0) : (__mmask64(1) << r) - 1;
          const char* src = A + k0 + j;
#pragma GCC unroll 28
          for (int i = 0; i < MR; ++i)
            _mm512_store_si512(&buf[i][j], _mm512_maskz_add_epi8(
                                               m, _mm512_maskz_loadu_epi8(m, src + i * lda), flip));
        }
#pragma GCC unroll 7
        for (int g = 0; g < kGroups; ++g) base[g] = &buf[4 * g][0];
        const i64 nq = (n + 3) / 4;
        if (full)
          vnni_quads<MR, NV, false>(acc, base, kS8Chunk, 3 * kS8Chunk, B, ldb4, nq, last);
        else
          vnni_quads<MR, NV, true>(acc, base, kS8Chunk, 3 * kS8Chunk, B, ldb4, nq, last);
      }
    } else {
      const i64 L = lda, L3 = 3 * lda;
#pragma GCC unroll 7
      for (int g = 0; g < kGroups; ++g) base[g] = A + 4 * g * L;
      if (full)
        vnni_quads<MR, NV, false>(acc, base, L, L3, B, ldb4, len / 4, last);
      else
        vnni_quads<MR, NV, true>(acc, base, L, L3, B, ldb4, len / 4, last);
      if (const i64 kr = len % 4; kr != 0) {
        // The last, partial quad (k1 == K): the 1-3 valid bytes and zeros, never reading past
        // the row; B's padding is zero by the packing contract.
        __m512i bv[NV];
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v)
          bv[v] = _mm512_maskz_loadu_epi32(vmask<NV>(v, last), B + 64 * v);
#pragma GCC unroll 28
        for (int i = 0; i < MR; ++i) {
          const __m512i av = _mm512_set1_epi32(int(load_partial_u32(a_row(base, i, L, L3), kr)));
#pragma GCC unroll 4
          for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_dpbusd_epi32(acc[i][v], av, bv[v]);
        }
      }
    }
  }
  // s32 and f32 C elements are both 4 bytes, so one offset serves either C type.
  store_s32_pass<MR, NV>(d, acc, static_cast<std::int32_t*>(c) + m0 * d.ldc + n0, n0, last,
                         kS8A ? d.b_compensation : nullptr, p);
}

template <int NV, bool kS8A, int... I>
constexpr auto vnni_table(std::integer_sequence<int, I...>) {
  return std::array<TileFn, sizeof...(I)>{&vnni_tile<I + 1, NV, kS8A>...};
}

template <bool kS8A>
void vnni_run(const BrgemmDesc& d, i64 batch, const void* const* a, const void* const* b,
              void* c) noexcept {
  static constexpr auto t1 = vnni_table<1, kS8A>(std::make_integer_sequence<int, kMaxMr[1]>{});
  static constexpr auto t2 = vnni_table<2, kS8A>(std::make_integer_sequence<int, kMaxMr[2]>{});
  static constexpr auto t3 = vnni_table<3, kS8A>(std::make_integer_sequence<int, kMaxMr[3]>{});
  static constexpr auto t4 = vnni_table<4, kS8A>(std::make_integer_sequence<int, kMaxMr[4]>{});
  static constexpr const TileFn* tables[5] = {nullptr, t1.data(), t2.data(), t3.data(),
                                              t4.data()};
  drive(d, batch, a, b, c, tables, 4, 2);
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
