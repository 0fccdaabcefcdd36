// medkern/kernels/conv/avx512.hpp — f32 direct convolution kernel for AVX-512.
//
// Register plan: an MR x NV tile of zmm accumulators (MR output pixels x NV blocks of 16
// output channels): 6x4 (24 acc), 8x3, 14x2, 28x1 — the BRGEMM tiles, so NV B vectors + MR
// broadcasts feed MR*NV independent FMA chains (>= 8 cover 2 ports x 4 cycles). The reduction
// over one batch element is K = 16 input channels: every A broadcast is
// [base + {0,1,2,3}*lda], and the 16 weight rows of a batch element are one contiguous
// 1 KiB * NV panel read in order. Rows of A are addressed in groups of four
// from one base pointer each (7 pointers for 28 rows, no spills), as in brgemm/avx512.hpp.
// Tails: pixels by a table of tiles indexed by MR (1..MR_max); channels need none — blocked
// layouts and packed weights are padded to 16 lanes with zeros.
// Row transforms (planar <-> blocked rows): one masked gather per 16 channels of a pixel in,
// one gather per 16 pixels of a channel out (strided loads from an L1-resident row).
#pragma once

#include <immintrin.h>

#include <array>
#include <climits>
#include <cstdint>
#include <utility>

#include "medkern/core/config.hpp"
#include "medkern/kernels/post_ops_avx512.hpp"
#include "medkern/kernels/conv/ref.hpp"

MEDKERN_ISA_BEGIN(avx512)
namespace medkern::kernels::conv {
namespace avx512_f32 {

/// MR pixels from m0 x NV channel blocks over batch elements [b0, b1).
template <int MR, int NV>
MEDKERN_ALWAYS_INLINE void tile(const DirectArgs& a, i64 m0, i64 b0, i64 b1, bool first,
                                bool last) noexcept {
  __m512 acc[MR][NV];
  float* c = a.dst + m0 * a.dst_pix;
  const i64 cp = a.dst_pix, cb = a.dst_block;
  const float* const pc = a.acc != nullptr ? a.acc + m0 * cp : c;  // partial sums
  const i64 pb = a.acc != nullptr ? a.acc_block : cb;
#pragma GCC unroll 28
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j)
      acc[i][j] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(pc + j * pb + i * cp);

  constexpr int kGroups = (MR + 3) / 4;
  const i64 L = a.lda * i64(sizeof(float)), L3 = 3 * L;
  const float* src = a.src + m0 * a.lda;
  const int kc = a.kc;
  const i64 ldk = a.ldk;
  if (a.lda == 1) {
    // Consecutive planar pixels (first layers, stride 1): the MR broadcasts sit at constant
    // displacements from one pointer per batch element. With one output block each
    // broadcast is an FMA's embedded-broadcast operand, which indexed addressing would
    // split in two uops; and a batch element of a first layer holds a single channel or a
    // few, too little work to set up a pointer per four rows (1 -> 16 5x5x5: 175 -> 208
    // GFLOP/s).
    for (i64 b = b0; b < b1; ++b) {
      const float* MEDKERN_RESTRICT w = a.wei + b * 256 * NV;
      const char* p = reinterpret_cast<const char*>(src + a.a_off[b]);
      for (int k = 0; k < kc; ++k, p += ldk, w += 16 * NV) {
        __m512 bv[NV];
#pragma GCC unroll 4
        for (int j = 0; j < NV; ++j) bv[j] = _mm512_load_ps(w + j * 16);
#pragma GCC unroll 28
        for (int i = 0; i < MR; ++i) {
          const __m512 av = _mm512_set1_ps(*reinterpret_cast<const float*>(p + 4 * i));
#pragma GCC unroll 4
          for (int j = 0; j < NV; ++j) acc[i][j] = _mm512_fmadd_ps(av, bv[j], acc[i][j]);
        }
      }
    }
  } else
  for (i64 b = b0; b < b1; ++b) {
    const float* MEDKERN_RESTRICT w = a.wei + b * 256 * NV;
    const char* base[kGroups];
#pragma GCC unroll 7
    for (int g = 0; g < kGroups; ++g)
      base[g] = reinterpret_cast<const char*>(src + a.a_off[b]) + 4 * g * L;
    // Not unrolled: a 16x unrolled body lets GCC 12 interleave iterations until the 24
    // accumulators spill (conv 64->64 3x3 on 1x64x128x128, 2 threads: 45% -> ~55-70% of
    // the measured peak; not yet in BENCHMARKS.md).
#pragma GCC unroll 1
    for (int k = 0; k < kc; ++k) {
      __m512 bv[NV];
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) bv[j] = _mm512_load_ps(w + j * 16);
#pragma GCC unroll 28
      for (int i = 0; i < MR; ++i) {
        const char* r = base[i / 4];
        const char* pa = i % 4 == 0 ? r : i % 4 == 1 ? r + L : i % 4 == 2 ? r + 2 * L : r + L3;
        const __m512 av = _mm512_set1_ps(*reinterpret_cast<const float*>(pa));
#pragma GCC unroll 4
        for (int j = 0; j < NV; ++j) acc[i][j] = _mm512_fmadd_ps(av, bv[j], acc[i][j]);
      }
#pragma GCC unroll 7
      for (int g = 0; g < kGroups; ++g) base[g] += ldk;
      w += 16 * NV;
    }
  }

  if (last && !a.post.empty()) kernels::avx512::apply_post_ops_tile<MR, NV>(a.post, acc, 0);
#pragma GCC unroll 28
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) {
      const __m512 v = acc[i][j];
      if (last && a.stream)
        _mm512_stream_ps(c + j * cb + i * cp, v);  // 64-byte aligned: checked by the caller
      else
        _mm512_storeu_ps(c + j * cb + i * cp, v);
    }
}

/// `count` tiles of MR pixels from m0 in one call: the call, the argument loads and the
/// hoisted setup are paid once per row, not per tile (first layers reduce over 9-27
/// products per pixel, a few hundred cycles per tile).
template <int MR, int NV>
void tiles(const DirectArgs& a, i64 m0, i64 count, i64 b0, i64 b1, bool first,
           bool last) noexcept {
  for (i64 t = 0; t < count; ++t, m0 += MR) tile<MR, NV>(a, m0, b0, b1, first, last);
}

using TileFn = void (*)(const DirectArgs&, i64, i64, i64, i64, bool, bool) noexcept;

/// Largest MR per NV (see the register plan).
inline constexpr int kMaxMr[5] = {0, 28, 14, 8, 6};

template <int NV, int... I>
constexpr auto make_table(std::integer_sequence<int, I...>) {
  return std::array<TileFn, sizeof...(I)>{&tiles<I + 1, NV>...};
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

MEDKERN_ALWAYS_INLINE __mmask16 lanes(i64 n) noexcept {
  return n >= 16 ? __mmask16(0xffff) : __mmask16((1u << unsigned(n)) - 1u);
}

/// r[0..15] (row c = 16 floats of channel c) transposed in place: r[p] = the 16 channels of
/// pixel p. Pairs, quads (within 128-bit lanes), then 128-bit lanes across registers.
MEDKERN_ALWAYS_INLINE void transpose16(__m512* r) noexcept {
  __m512 t[16];
#pragma GCC unroll 8
  for (int k = 0; k < 8; ++k) {
    t[2 * k] = _mm512_unpacklo_ps(r[2 * k], r[2 * k + 1]);
    t[2 * k + 1] = _mm512_unpackhi_ps(r[2 * k], r[2 * k + 1]);
  }
#pragma GCC unroll 4
  for (int k = 0; k < 4; ++k) {
    r[4 * k] = _mm512_shuffle_ps(t[4 * k], t[4 * k + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[4 * k + 1] = _mm512_shuffle_ps(t[4 * k], t[4 * k + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[4 * k + 2] = _mm512_shuffle_ps(t[4 * k + 1], t[4 * k + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[4 * k + 3] = _mm512_shuffle_ps(t[4 * k + 1], t[4 * k + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
#pragma GCC unroll 4
  for (int k = 0; k < 4; ++k) {
    t[k] = _mm512_shuffle_f32x4(r[k], r[k + 4], 0x88);
    t[k + 4] = _mm512_shuffle_f32x4(r[k], r[k + 4], 0xdd);
    t[k + 8] = _mm512_shuffle_f32x4(r[k + 8], r[k + 12], 0x88);
    t[k + 12] = _mm512_shuffle_f32x4(r[k + 8], r[k + 12], 0xdd);
  }
#pragma GCC unroll 8
  for (int k = 0; k < 8; ++k) {
    r[k] = _mm512_shuffle_f32x4(t[k], t[k + 8], 0x88);
    r[k + 8] = _mm512_shuffle_f32x4(t[k], t[k + 8], 0xdd);
  }
}

}  // namespace avx512_f32

template <>
struct impl<isa::avx512_t> {
  static constexpr const char* name = "conv_f32f32_f32_direct__avx512";

  static bool supports(const ConvDesc& d) { return impl<isa::ref_t>::supports(d); }

  static void run(const DirectArgs& a, i64 M, i64 b0, i64 b1, bool first, bool last) noexcept {
    using namespace avx512_f32;
    MEDKERN_DCHECK(a.nv >= 1 && a.nv <= kMaxNv);
    // Tiles of balanced sizes: ceil(M / MR) tiles of floor or ceil of M over that count.
    // Tiles of 4-6 pixels x 4 blocks run at the same rate, one of 2 at two thirds of it (the
    // 4 weight loads then feed 8 FMAs): 128 = 18 x 6 + 4 x 5, not 21 x 6 + 2.
    const i64 mr = kMaxMr[a.nv];
    const i64 tiles = (M + mr - 1) / mr;
    if (tiles == 0) return;
    const i64 small = M / tiles, bigger = M % tiles;  // `bigger` tiles of small + 1 pixels
    i64 m0 = 0;
    if (bigger > 0) {
      pick(a.nv, int(small + 1))(a, m0, bigger, b0, b1, first, last);
      m0 += bigger * (small + 1);
    }
    if (small > 0) {
      pick(a.nv, int(small))(a, m0, (M - m0) / small, b0, b1, first, last);
    }
    if (last && a.stream) _mm_sfence();  // order the non-temporal stores before the join
  }

  static void to_blocked(const char* src, i64 cs, i64 ws, int nc, i64 W, float* dst) noexcept {
    using namespace avx512_f32;
    if (cs < 0 || cs > INT_MAX / 16) return impl<isa::ref_t>::to_blocked(src, cs, ws, nc, W, dst);
    const __m512i idx = _mm512_mullo_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
        _mm512_set1_epi32(int(cs)));
    const __mmask16 m = lanes(nc);
    i64 w = 0;
    if (ws == i64(sizeof(float)))  // unit-stride pixels: 16 x 16 transposes, no gathers
      for (; w + 16 <= W; w += 16) {
        __m512 r[16];
#pragma GCC unroll 16
        for (int c = 0; c < 16; ++c)
          r[c] = c < nc ? _mm512_loadu_ps(reinterpret_cast<const float*>(src + c * cs) + w)
                        : _mm512_setzero_ps();
        transpose16(r);
#pragma GCC unroll 16
        for (int p = 0; p < 16; ++p) _mm512_storeu_ps(dst + (w + p) * 16, r[p]);
      }
    for (; w < W; ++w)
      _mm512_storeu_ps(dst + w * 16,  // dst may be a caller's blocked tensor (unaligned)
                       _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, idx, src + w * ws, 1));
  }

  static void from_blocked(const float* src, int nc, i64 W, char* dst, i64 cs,
                           i64 ws) noexcept {
    using namespace avx512_f32;
    if (ws != i64(sizeof(float))) return impl<isa::ref_t>::from_blocked(src, nc, W, dst, cs, ws);
    const __m512i idx = _mm512_setr_epi32(0, 16, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176,
                                          192, 208, 224, 240);
    const i64 W16 = W / 16 * 16;
    for (i64 w = 0; w < W16; w += 16) {  // 16 x 16 transposes, no gathers
      __m512 r[16];
#pragma GCC unroll 16
      for (int p = 0; p < 16; ++p) r[p] = _mm512_loadu_ps(src + (w + p) * 16);
      transpose16(r);
      for (int c = 0; c < nc; ++c)
        _mm512_storeu_ps(reinterpret_cast<float*>(dst + c * cs) + w, r[c]);
    }
    if (W16 == W) return;
    src += W16 * 16;
    dst += W16 * i64(sizeof(float));
    W -= W16;
    for (int c = 0; c < nc; ++c) {
      float* out = reinterpret_cast<float*>(dst + c * cs);
      i64 w = 0;
      for (; w + 16 <= W; w += 16)
        _mm512_storeu_ps(out + w, _mm512_i32gather_ps(idx, src + w * 16 + c, 4));
      if (w < W) {
        const __mmask16 m = lanes(W - w);
        _mm512_mask_storeu_ps(
            out + w, m, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, idx, src + w * 16 + c, 4));
      }
    }
  }
};

}  // namespace medkern::kernels::conv
MEDKERN_ISA_END()
