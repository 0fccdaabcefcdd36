// medkern/kernels/reorder/avx512.hpp — layout reorders for AVX-512 (F+BW+VL), any element size.
//
// Register plan. Every format pair reduces to one of three moves over a channel block of
// nc <= 16 channels and a run of spatial points (base pointers and strides from the contract
// in ref.hpp):
//   planar -> blocked16 / channels_last  (transpose_in): per tile of 16 spatial points, load
//       16 channel rows of 16 points into r[0..15], transpose 16x16 in registers (64 shuffles:
//       unpack, shuffle_ps, two rounds of shuffle_f32x4), store 16 rows of 16 lanes. The loads
//       read one cache line from each of 16 channel planes and the stores write 1 KB (f32)
//       contiguously, so the loop streams at memory speed; the shuffles (port 5, ~64 cycles
//       per KB) stay well under the memory time.
//   blocked16 / channels_last -> planar  (transpose_out): the inverse.
//   blocked16 / channels_last <-> blocked16 / channels_last (copy_rows): one 16-lane row per
//       spatial point, a masked load and a masked store (no transpose needed).
//   planar -> planar: one memcpy per channel row.
// Element sizes 2 and 1 reuse the 32-bit transpose: rows are zero-extended to 32-bit lanes on
// load (vpmovzxwd / vpmovzxbd) and narrowed on store (vpmovdw / vpmovdb, masked forms), which
// costs two extra shuffles per row but keeps one transpose for every dtype; copy_rows moves
// them at their native width. Bytes between planar and 16-byte point rows (u8/s8 to and from
// blocked16) additionally have a full-line path: 16 channels x 64 points, an in-lane byte
// transpose (four unpack rounds) plus a 4x4 regrouping of 128-bit lanes, 96 shuffles per KB
// instead of ~450 (f32-style tiles of u8 ran at 2.1x memcpy time, this path at 1.2x).
//
// Tails. Channels: rows past nc are zeros instead of loads (so blocked16 padding lanes come
// out zero), and channels_last stores/loads use the lane mask (1 << nc) - 1, never touching
// the neighbouring block's channels. Spatial: the last partial tile uses the point mask
// (1 << rem) - 1 on planar loads/stores and skips rows >= rem on the spatial-major side.
// Nothing is read or written outside the described elements (blocked16 source rows are read
// whole: their padding lanes are part of the tensor).
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "medkern/core/config.hpp"
#include "medkern/kernels/reorder/ref.hpp"

MEDKERN_ISA_BEGIN(avx512)
namespace medkern::kernels::reorder {
namespace avx512_detail {

/// Moves 16 elements of size ES between memory and the 16 32-bit lanes of a zmm.
template <int ES>
struct Io;

template <>
struct Io<4> {
  static MEDKERN_ALWAYS_INLINE __m512i load(const char* p) { return _mm512_loadu_si512(p); }
  static MEDKERN_ALWAYS_INLINE __m512i load(const char* p, __mmask16 m) {
    return _mm512_maskz_loadu_epi32(m, p);
  }
  static MEDKERN_ALWAYS_INLINE void store(char* p, __m512i v) { _mm512_storeu_si512(p, v); }
  static MEDKERN_ALWAYS_INLINE void store(char* p, __mmask16 m, __m512i v) {
    _mm512_mask_storeu_epi32(p, m, v);
  }
  /// Copies the lanes of `lm` (others zero) from `s` to the lanes `sm` of `d`.
  static MEDKERN_ALWAYS_INLINE void copy(char* d, __mmask16 sm, const char* s, __mmask16 lm) {
    _mm512_mask_storeu_epi32(d, sm, _mm512_maskz_loadu_epi32(lm, s));
  }
};

template <>
struct Io<2> {
  static MEDKERN_ALWAYS_INLINE __m512i load(const char* p) {
    return _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static MEDKERN_ALWAYS_INLINE __m512i load(const char* p, __mmask16 m) {
    return _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p));
  }
  static MEDKERN_ALWAYS_INLINE void store(char* p, __m512i v) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_cvtepi32_epi16(v));
  }
  static MEDKERN_ALWAYS_INLINE void store(char* p, __mmask16 m, __m512i v) {
    _mm512_mask_cvtepi32_storeu_epi16(p, m, v);
  }
  static MEDKERN_ALWAYS_INLINE void copy(char* d, __mmask16 sm, const char* s, __mmask16 lm) {
    _mm256_mask_storeu_epi16(d, sm, _mm256_maskz_loadu_epi16(lm, s));
  }
};

template <>
struct Io<1> {
  static MEDKERN_ALWAYS_INLINE __m512i load(const char* p) {
    return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static MEDKERN_ALWAYS_INLINE __m512i load(const char* p, __mmask16 m) {
    return _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, p));
  }
  static MEDKERN_ALWAYS_INLINE void store(char* p, __m512i v) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm512_cvtepi32_epi8(v));
  }
  static MEDKERN_ALWAYS_INLINE void store(char* p, __mmask16 m, __m512i v) {
    _mm512_mask_cvtepi32_storeu_epi8(p, m, v);
  }
  static MEDKERN_ALWAYS_INLINE void copy(char* d, __mmask16 sm, const char* s, __mmask16 lm) {
    _mm_mask_storeu_epi8(d, sm, _mm_maskz_loadu_epi8(lm, s));
  }
};

/// Lanes [0, k) set, 0 <= k <= 16.
MEDKERN_ALWAYS_INLINE __mmask16 lanes(std::int64_t k) {
  return static_cast<__mmask16>((1u << static_cast<unsigned>(k)) - 1u);
}

/// In-register transpose of a 16x16 matrix of 32-bit elements: row i of the input becomes
/// column i of the output. Shuffles only, so any bit pattern passes unchanged.
MEDKERN_ALWAYS_INLINE void transpose16(__m512i (&x)[16]) {
  __m512 t[16], u[16];
  // Stage 1: interleave row pairs within 128-bit lanes.
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i) {
    const __m512 a = _mm512_castsi512_ps(x[2 * i]), b = _mm512_castsi512_ps(x[2 * i + 1]);
    t[2 * i] = _mm512_unpacklo_ps(a, b);
    t[2 * i + 1] = _mm512_unpackhi_ps(a, b);
  }
  // Stage 2: u[4g + k], 128-bit lane L = column 4L + k of rows 4g..4g+3.
#pragma GCC unroll 4
  for (int g = 0; g < 4; ++g) {
    u[4 * g + 0] = _mm512_shuffle_ps(t[4 * g + 0], t[4 * g + 2], _MM_SHUFFLE(1, 0, 1, 0));
    u[4 * g + 1] = _mm512_shuffle_ps(t[4 * g + 0], t[4 * g + 2], _MM_SHUFFLE(3, 2, 3, 2));
    u[4 * g + 2] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], _MM_SHUFFLE(1, 0, 1, 0));
    u[4 * g + 3] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  // Stages 3-4: gather lane L of u[k], u[4+k], u[8+k], u[12+k] into output column 4L + k.
#pragma GCC unroll 4
  for (int k = 0; k < 4; ++k) {
    const __m512 v0 = _mm512_shuffle_f32x4(u[k], u[4 + k], 0x88);  // lanes 0, 2
    const __m512 w0 = _mm512_shuffle_f32x4(u[k], u[4 + k], 0xdd);  // lanes 1, 3
    const __m512 v1 = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0x88);
    const __m512 w1 = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0xdd);
    x[k] = _mm512_castps_si512(_mm512_shuffle_f32x4(v0, v1, 0x88));
    x[8 + k] = _mm512_castps_si512(_mm512_shuffle_f32x4(v0, v1, 0xdd));
    x[4 + k] = _mm512_castps_si512(_mm512_shuffle_f32x4(w0, w1, 0x88));
    x[12 + k] = _mm512_castps_si512(_mm512_shuffle_f32x4(w0, w1, 0xdd));
  }
}

/// Byte transpose inside each 128-bit lane: out[p] lane L byte i = in[i] lane L byte p. Four
/// rounds of unpacks (epi8, epi16, epi32, epi64), 64 shuffles for 1 KB.
MEDKERN_ALWAYS_INLINE void transpose_bytes_in_lanes(__m512i (&x)[16]) {
  __m512i a[16], b[16];
  // a[8h + c]: points 8h..8h+7 of each lane, as pairs of channels 2c, 2c+1.
#pragma GCC unroll 8
  for (int c = 0; c < 8; ++c) {
    a[c] = _mm512_unpacklo_epi8(x[2 * c], x[2 * c + 1]);
    a[8 + c] = _mm512_unpackhi_epi8(x[2 * c], x[2 * c + 1]);
  }
  // b[4(2h + g) + q]: points 8h + 4g + 0..3, as quads of channels 4q..4q+3.
#pragma GCC unroll 8
  for (int hq = 0; hq < 8; ++hq) {
    const int h = hq / 4, q = hq % 4;
    b[4 * (2 * h) + q] = _mm512_unpacklo_epi16(a[8 * h + 2 * q], a[8 * h + 2 * q + 1]);
    b[4 * (2 * h + 1) + q] = _mm512_unpackhi_epi16(a[8 * h + 2 * q], a[8 * h + 2 * q + 1]);
  }
  // a[2(2hg + k) + e]: points 8h + 4g + 2k + 0..1, as octets of channels 8e..8e+7.
#pragma GCC unroll 8
  for (int he = 0; he < 8; ++he) {
    const int hg = he / 2, e = he % 2;
    a[2 * (2 * hg) + e] = _mm512_unpacklo_epi32(b[4 * hg + 2 * e], b[4 * hg + 2 * e + 1]);
    a[2 * (2 * hg + 1) + e] = _mm512_unpackhi_epi32(b[4 * hg + 2 * e], b[4 * hg + 2 * e + 1]);
  }
  // x[p], p = 8h + 4g + 2k + m: point p of each lane, all 16 channels.
#pragma GCC unroll 8
  for (int t = 0; t < 8; ++t) {
    x[2 * t] = _mm512_unpacklo_epi64(a[2 * t], a[2 * t + 1]);
    x[2 * t + 1] = _mm512_unpackhi_epi64(a[2 * t], a[2 * t + 1]);
  }
}

/// 4x4 transpose of 128-bit lanes within each group of four vectors x[4q..4q+3]:
/// out[4q + L] lane j = in[4q + j] lane L. Its own inverse.
MEDKERN_ALWAYS_INLINE void transpose_lanes4(__m512i (&x)[16]) {
#pragma GCC unroll 4
  for (int q = 0; q < 4; ++q) {
    __m512i* v = x + 4 * q;
    const __m512i p0 = _mm512_shuffle_i32x4(v[0], v[1], 0x44);  // v0.0 v0.1 v1.0 v1.1
    const __m512i p1 = _mm512_shuffle_i32x4(v[0], v[1], 0xee);  // v0.2 v0.3 v1.2 v1.3
    const __m512i p2 = _mm512_shuffle_i32x4(v[2], v[3], 0x44);
    const __m512i p3 = _mm512_shuffle_i32x4(v[2], v[3], 0xee);
    v[0] = _mm512_shuffle_i32x4(p0, p2, 0x88);
    v[1] = _mm512_shuffle_i32x4(p0, p2, 0xdd);
    v[2] = _mm512_shuffle_i32x4(p1, p3, 0x88);
    v[3] = _mm512_shuffle_i32x4(p1, p3, 0xdd);
  }
}

/// Channel-major -> spatial-major. src: nc rows (channels) `cs` elements apart, points
/// contiguous; dst: ns rows (points) `ss` elements apart, lanes contiguous. Writes the lanes of
/// `out` (all 16 for blocked16, so rows past nc store zeros; the first nc for channels_last).
template <int ES, bool kAllChannels, bool kFullStore>
void transpose_in(const char* src, std::int64_t cs, char* dst, std::int64_t ss, std::int64_t nc,
                  __mmask16 out, std::int64_t ns) noexcept {
  using io = Io<ES>;
  const std::int64_t src_row = cs * ES, dst_row = ss * ES;
  std::int64_t s = 0;
  if constexpr (ES == 1 && kFullStore) {
    // Bytes into 16-byte point rows (u8/s8 into blocked16): a full cache line of 64 points per
    // channel, transposed in 128-bit lanes, then lanes regrouped so each store writes 4
    // consecutive points (96 shuffles per KB instead of the widening path's ~450).
    if (ss == kBlock)
      for (; s + 64 <= ns; s += 64) {
        __m512i r[16];
#pragma GCC unroll 16
        for (int i = 0; i < 16; ++i)
          r[i] = (kAllChannels || i < nc) ? _mm512_loadu_si512(src + i * src_row + s)
                                          : _mm512_setzero_si512();
        transpose_bytes_in_lanes(r);  // r[p] lane L = point 16L + p
        transpose_lanes4(r);          // r[4q + L] = points 16L + 4q .. 16L + 4q + 3
#pragma GCC unroll 16
        for (int v = 0; v < 16; ++v)
          _mm512_storeu_si512(dst + (s + 16 * (v % 4) + 4 * (v / 4)) * kBlock, r[v]);
      }
  }
  for (; s + 16 <= ns; s += 16) {
    __m512i r[16];
    const char* p = src + s * ES;
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i)
      r[i] = (kAllChannels || i < nc) ? io::load(p + i * src_row) : _mm512_setzero_si512();
    transpose16(r);
    char* q = dst + s * dst_row;
#pragma GCC unroll 16
    for (int j = 0; j < 16; ++j) {
      if constexpr (kFullStore)
        io::store(q + j * dst_row, r[j]);
      else
        io::store(q + j * dst_row, out, r[j]);
    }
  }
  const std::int64_t rem = ns - s;
  if (rem > 0) {
    const __mmask16 m = lanes(rem);
    __m512i r[16];
    const char* p = src + s * ES;
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i)
      r[i] = (kAllChannels || i < nc) ? io::load(p + i * src_row, m) : _mm512_setzero_si512();
    transpose16(r);
    char* q = dst + s * dst_row;
#pragma GCC unroll 16
    for (int j = 0; j < 16; ++j)
      if (j < rem) io::store(q + j * dst_row, out, r[j]);
  }
}

/// Spatial-major -> channel-major, the inverse of transpose_in. Reads the lanes of `in` of
/// each point row (all 16 for a blocked16 source), writes nc channel rows.
template <int ES, bool kAllChannels, bool kFullLoad>
void transpose_out(const char* src, std::int64_t ss, char* dst, std::int64_t cs, std::int64_t nc,
                   __mmask16 in, std::int64_t ns) noexcept {
  using io = Io<ES>;
  const std::int64_t src_row = ss * ES, dst_row = cs * ES;
  std::int64_t s = 0;
  if constexpr (ES == 1 && kFullLoad) {
    // The inverse of transpose_in's byte path: 4 points per load, lanes regrouped so vector p
    // holds point 16L + p in lane L, then the in-lane byte transpose yields channel rows.
    if (ss == kBlock)
      for (; s + 64 <= ns; s += 64) {
        __m512i r[16];
#pragma GCC unroll 16
        for (int v = 0; v < 16; ++v)
          r[v] = _mm512_loadu_si512(src + (s + 16 * (v % 4) + 4 * (v / 4)) * kBlock);
        transpose_lanes4(r);
        transpose_bytes_in_lanes(r);  // r[i] = channel i, points s .. s + 63
#pragma GCC unroll 16
        for (int i = 0; i < 16; ++i)
          if (kAllChannels || i < nc) _mm512_storeu_si512(dst + i * dst_row + s, r[i]);
      }
  }
  for (; s + 16 <= ns; s += 16) {
    __m512i r[16];
    const char* p = src + s * src_row;
#pragma GCC unroll 16
    for (int j = 0; j < 16; ++j) {
      if constexpr (kFullLoad)
        r[j] = io::load(p + j * src_row);
      else
        r[j] = io::load(p + j * src_row, in);
    }
    transpose16(r);
    char* q = dst + s * ES;
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i)
      if (kAllChannels || i < nc) io::store(q + i * dst_row, r[i]);
  }
  const std::int64_t rem = ns - s;
  if (rem > 0) {
    const __mmask16 m = lanes(rem);
    __m512i r[16];
    const char* p = src + s * src_row;
#pragma GCC unroll 16
    for (int j = 0; j < 16; ++j)
      r[j] = j < rem ? io::load(p + j * src_row, in) : _mm512_setzero_si512();
    transpose16(r);
    char* q = dst + s * ES;
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i)
      if (kAllChannels || i < nc) io::store(q + i * dst_row, m, r[i]);
  }
}

/// Spatial-major -> spatial-major: per point, lanes `in` of the source row (others zero) go to
/// lanes `out` of the destination row.
template <int ES>
void copy_rows(const char* src, std::int64_t ss_src, char* dst, std::int64_t ss_dst,
               __mmask16 in, __mmask16 out, std::int64_t ns) noexcept {
  const std::int64_t a = ss_src * ES, b = ss_dst * ES;
#pragma GCC unroll 4
  for (std::int64_t s = 0; s < ns; ++s) Io<ES>::copy(dst + s * b, out, src + s * a, in);
}

/// Base element offset of (n, first channel of block cb, s0) and the channel / spatial
/// strides of format f (the formulas of ref.hpp, factored so the loops step by strides).
struct Geometry {
  std::int64_t base, cs, ss;
};

inline Geometry geometry(Format f, const ReorderDesc& d, std::int64_t n, std::int64_t cb,
                         std::int64_t s0) noexcept {
  switch (f) {
    case Format::planar: return {(n * d.C + cb * kBlock) * d.S + s0, d.S, 1};
    case Format::channels_last: return {(n * d.S + s0) * d.C + cb * kBlock, 1, d.C};
    case Format::blocked16: return {((n * d.blocks() + cb) * d.S + s0) * kBlock, 1, kBlock};
  }
  return {0, 0, 0};
}

template <int ES>
void run(const ReorderDesc& d, const void* src, void* dst, std::int64_t n, std::int64_t cb,
         std::int64_t s0, std::int64_t s1) noexcept {
  MEDKERN_DCHECK(d.elem_size == ES);
  MEDKERN_DCHECK(n >= 0 && n < d.N && cb >= 0 && cb < d.blocks());
  MEDKERN_DCHECK(s0 >= 0 && s0 <= s1 && s1 <= d.S);
  const std::int64_t nc = d.C - cb * kBlock < kBlock ? d.C - cb * kBlock : kBlock;
  const std::int64_t ns = s1 - s0;
  if (ns <= 0) return;
  const Geometry gs = geometry(d.src, d, n, cb, s0), gd = geometry(d.dst, d, n, cb, s0);
  const char* sp = static_cast<const char*>(src) + gs.base * ES;
  char* dp = static_cast<char*>(dst) + gd.base * ES;
  const bool all = nc == kBlock;
  const __mmask16 ch = lanes(nc);

  if (d.src == Format::planar) {
    if (d.dst == Format::planar) {
      for (std::int64_t i = 0; i < nc; ++i)
        std::memcpy(dp + i * gd.cs * ES, sp + i * gs.cs * ES, std::size_t(ns * ES));
      return;
    }
    // blocked16 stores whole rows (padding lanes get the zero rows); channels_last only nc.
    const bool full_store = all || d.dst == Format::blocked16;
    const __mmask16 out = d.dst == Format::blocked16 ? __mmask16(0xffff) : ch;
    if (all)
      transpose_in<ES, true, true>(sp, gs.cs, dp, gd.ss, nc, out, ns);
    else if (full_store)
      transpose_in<ES, false, true>(sp, gs.cs, dp, gd.ss, nc, out, ns);
    else
      transpose_in<ES, false, false>(sp, gs.cs, dp, gd.ss, nc, out, ns);
    return;
  }
  if (d.dst == Format::planar) {
    const __mmask16 in = d.src == Format::blocked16 ? __mmask16(0xffff) : ch;
    if (all)
      transpose_out<ES, true, true>(sp, gs.ss, dp, gd.cs, nc, in, ns);
    else if (d.src == Format::blocked16)
      transpose_out<ES, false, true>(sp, gs.ss, dp, gd.cs, nc, in, ns);
    else
      transpose_out<ES, false, false>(sp, gs.ss, dp, gd.cs, nc, in, ns);
    return;
  }
  copy_rows<ES>(sp, gs.ss, dp, gd.ss, ch, d.dst == Format::blocked16 ? __mmask16(0xffff) : ch,
                ns);
}

}  // namespace avx512_detail

/// One row per element size, so each compiles to straight-line code for its width.
template <int ES>
struct impl_avx512_es {
  static bool supports(const ReorderDesc& d) { return d.elem_size == ES; }
  static void run(const ReorderDesc& d, const void* src, void* dst, std::int64_t n,
                  std::int64_t cb, std::int64_t s0, std::int64_t s1) noexcept {
    avx512_detail::run<ES>(d, src, dst, n, cb, s0, s1);
  }
};

template <>
struct impl<isa::avx512_t> {
  using x32 = impl_avx512_es<4>;
  using x16 = impl_avx512_es<2>;
  using x8 = impl_avx512_es<1>;
};

}  // namespace medkern::kernels::reorder
MEDKERN_ISA_END()
