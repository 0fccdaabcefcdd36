// medkern/kernels/conv/planar_avx512.hpp — f32 direct convolution on planar rows for few
// input channels (first layers: 1 or 3 channels), AVX-512.
//
// Why a separate kernel: with ICg = 1..8 the channel-blocked kernel pads the reduction to 16
// lanes (2-16x wasted FMAs) and im2col + GEMM runs a K = 9..27 GEMM that is bound by the
// column matrix traffic. Here the vector lanes run along the output row instead: the output
// of such layers (OC planes) is much larger than the input, so every input vector loaded is
// reused by a tile of OCT output channels.
//
// One call computes one output row of all OC channels (stride 1 along W):
//   dst[oc][ow] = post_oc( sum_{r < R} sum_{kw < KW} rows[r][ow + kw*dil_w] * wei[oc][r][kw] )
// where the R = ICg*KD*KH input rows were prepared by the op (zero-padded along W, a shared
// zero row for taps in the D/H padding), and wei is the natural OI[D]HW order (tap
// t = r*KW + kw, T = R*KW taps per output channel).
// Register plan: a PV=2 x OCT=12 tile (24 zmm accumulators) of 32 output pixels x 12
// channels; per tap 2 row loads and 12 weight broadcasts feed 24 FMAs (FMA-bound). Tails:
// channels by a table of OCT = 1..12 tiles, pixels by masks (rows are never read past
// OW + (KW-1)*dil_w).
#pragma once

#include <immintrin.h>

#include <array>
#include <cstdint>
#include <utility>

#include "medkern/core/config.hpp"
#include "medkern/kernels/post_ops.hpp"
#include "medkern/kernels/post_ops_avx512.hpp"

namespace medkern::kernels::conv {

/// One output row of the planar kernel (see the file comment).
struct PlanarArgs {
  const float* const* rows = nullptr;  ///< R input rows, each readable at [0, OW + (KW-1)*dil_w)
  std::int64_t R = 0;
  int KW = 1;
  std::int64_t dil_w = 1;
  const float* wei = nullptr;  ///< [OC][R*KW]
  std::int64_t OC = 0;
  std::int64_t OW = 0;
  float* dst = nullptr;        ///< channel 0, pixel 0
  std::int64_t dst_oc = 0;     ///< floats between output channels (pixels contiguous)
  /// Per-channel data expanded to 16 lanes per channel: data[oc*16 + lane] = value(oc).
  PostOps post;
  /// Non-temporal stores for whole 64-byte-aligned vectors (outputs far larger than the
  /// caches: no read-for-ownership of the destination lines). The caller fences.
  bool stream = false;
};

using PlanarFn = void (*)(const PlanarArgs&) noexcept;

}  // namespace medkern::kernels::conv

MEDKERN_ISA_BEGIN(avx512)
namespace medkern::kernels::conv {
namespace planar_avx512 {

using i64 = std::int64_t;
inline constexpr int kOct = 12;

template <int OCT, bool Stream>
void tile(const PlanarArgs& a, i64 oc0, i64 ow0, __mmask16 m0, __mmask16 m1) noexcept {
  __m512 acc[OCT][2];
#pragma GCC unroll 12
  for (int o = 0; o < OCT; ++o) acc[o][0] = acc[o][1] = _mm512_setzero_ps();
  const i64 T = a.R * a.KW;
  const float* w = a.wei + oc0 * T;
  for (i64 r = 0; r < a.R; ++r) {
    const float* x = a.rows[r] + ow0;
    for (int kw = 0; kw < a.KW; ++kw, ++w, x += a.dil_w) {
      const __m512 x0 = _mm512_maskz_loadu_ps(m0, x);
      const __m512 x1 = _mm512_maskz_loadu_ps(m1, x + 16);
#pragma GCC unroll 12
      for (int o = 0; o < OCT; ++o) {
        const __m512 wv = _mm512_set1_ps(w[o * T]);
        acc[o][0] = _mm512_fmadd_ps(wv, x0, acc[o][0]);
        acc[o][1] = _mm512_fmadd_ps(wv, x1, acc[o][1]);
      }
    }
  }
  const bool post = !a.post.empty();
#pragma GCC unroll 12
  for (int o = 0; o < OCT; ++o) {
    float* out = a.dst + (oc0 + o) * a.dst_oc + ow0;
    __m512 v0 = acc[o][0], v1 = acc[o][1];
    if (post) {
      v0 = kernels::avx512::apply_post_ops(a.post, v0, (oc0 + o) * 16);
      v1 = kernels::avx512::apply_post_ops(a.post, v1, (oc0 + o) * 16);
    }
    if (Stream && m1 == 0xffff) {
      _mm512_stream_ps(out, v0);
      _mm512_stream_ps(out + 16, v1);
    } else {
      _mm512_mask_storeu_ps(out, m0, v0);
      _mm512_mask_storeu_ps(out + 16, m1, v1);
    }
  }
}

using TileFn = void (*)(const PlanarArgs&, i64, i64, __mmask16, __mmask16) noexcept;

template <bool Stream, int... I>
constexpr auto make_table(std::integer_sequence<int, I...>) {
  return std::array<TileFn, sizeof...(I)>{&tile<I + 1, Stream>...};
}
inline constexpr auto kTiles = make_table<false>(std::make_integer_sequence<int, kOct>{});
inline constexpr auto kTilesStream = make_table<true>(std::make_integer_sequence<int, kOct>{});

MEDKERN_ALWAYS_INLINE __mmask16 lanes(i64 n) noexcept {
  return n >= 16 ? __mmask16(0xffff) : n <= 0 ? __mmask16(0) : __mmask16((1u << unsigned(n)) - 1u);
}

inline void row(const PlanarArgs& a) noexcept {
  // Streaming needs every channel row 64-byte aligned (whole vectors then are too).
  const bool stream = a.stream && reinterpret_cast<std::uintptr_t>(a.dst) % 64 == 0 &&
                      (a.dst_oc * i64(sizeof(float))) % 64 == 0;
  const auto& tiles = stream ? kTilesStream : kTiles;
  const TileFn full = tiles[kOct - 1];
  for (i64 ow0 = 0; ow0 < a.OW; ow0 += 32) {
    const __mmask16 m0 = lanes(a.OW - ow0), m1 = lanes(a.OW - ow0 - 16);
    i64 oc0 = 0;
    for (; oc0 + kOct <= a.OC; oc0 += kOct) full(a, oc0, ow0, m0, m1);
    if (oc0 < a.OC) tiles[std::size_t(a.OC - oc0 - 1)](a, oc0, ow0, m0, m1);
  }
}

}  // namespace planar_avx512

inline constexpr const char* kPlanarAvx512Name = "conv_f32f32_f32_planar__avx512";

inline void planar_row_avx512(const PlanarArgs& a) noexcept { planar_avx512::row(a); }
/// Orders the non-temporal stores of this thread before its later stores (end of a task).
inline void planar_fence_avx512() noexcept { _mm_sfence(); }

}  // namespace medkern::kernels::conv
MEDKERN_ISA_END()
