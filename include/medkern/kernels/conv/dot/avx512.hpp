// medkern/kernels/conv/dot/avx512.hpp — few-output 1x1 convolution, blocked in, planar out,
// for AVX-512 (contract in ref.hpp).
//
// Register plan: 8 pixels x 2 output channels, 16 zmm accumulators of 16 channel lanes; per
// input block 8 pixel loads feed 16 FMAs (two weight vectors in registers), 16 independent
// chains. The 8 accumulators of an output channel then reduce to the 8 pixels' sums in 24
// shuffles and adds (pairs -> quads within 128-bit lanes, then across lanes), one 256-bit
// store. For a 2-class head over 32 channels that is 16 FMAs + 24 reduction ops per 8
// pixels and channel against the direct kernel's 256 FMAs: the input's memory stream is the
// limit again.
#pragma once

#include <immintrin.h>

#include <array>

#include "medkern/core/config.hpp"
#include "medkern/kernels/conv/dot/ref.hpp"

MEDKERN_ISA_BEGIN(avx512)
namespace medkern::kernels::conv::dot {
namespace avx512_f32 {

/// Sums of the 16 lanes of each of v[0..7], in order.
MEDKERN_ALWAYS_INLINE __m256 reduce8(const __m512* v) noexcept {
  __m512 q[4];
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i)  // per 128-bit lane: v[2i] at 0 and 2, v[2i+1] at 1 and 3
    q[i] = _mm512_add_ps(_mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]),
                         _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]));
  __m512 h[2];
#pragma GCC unroll 2
  for (int i = 0; i < 2; ++i)  // per 128-bit lane: v[4i..4i+3]
    h[i] = _mm512_add_ps(_mm512_shuffle_ps(q[2 * i], q[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                         _mm512_shuffle_ps(q[2 * i], q[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
  // lanes: v0-3 (lanes 0+2 of h0), v0-3 (1+3), v4-7 (0+2 of h1), v4-7 (1+3)
  const __m512 g = _mm512_add_ps(_mm512_shuffle_f32x4(h[0], h[1], _MM_SHUFFLE(1, 0, 1, 0)),
                                 _mm512_shuffle_f32x4(h[0], h[1], _MM_SHUFFLE(3, 2, 3, 2)));
  const __m512 s = _mm512_add_ps(_mm512_shuffle_f32x4(g, g, _MM_SHUFFLE(2, 0, 2, 0)),
                                 _mm512_shuffle_f32x4(g, g, _MM_SHUFFLE(3, 1, 3, 1)));
  return _mm512_castps512_ps256(s);
}

/// Pixels [m0, m0 + n) (n in 1..8) of output channels [o0, o0 + NO).
template <int NO>
MEDKERN_ALWAYS_INLINE void block(const DotArgs& a, i64 m0, int n, int o0) noexcept {
  __m512 acc[NO][8];
#pragma GCC unroll 2
  for (int o = 0; o < NO; ++o)
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) acc[o][i] = _mm512_setzero_ps();
  const float* src = a.src + m0 * 16;
  for (int b = 0; b < a.nb; ++b, src += a.lds) {
    __m512 w[NO];
#pragma GCC unroll 2
    for (int o = 0; o < NO; ++o) w[o] = _mm512_load_ps(a.wei + ((o0 + o) * a.nb + b) * 16);
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) {
      // a partial block re-reads its last pixel (in bounds) and stores only n sums
      const __m512 x = _mm512_loadu_ps(src + (i < n ? i : n - 1) * 16);
#pragma GCC unroll 2
      for (int o = 0; o < NO; ++o) acc[o][i] = _mm512_fmadd_ps(x, w[o], acc[o][i]);
    }
  }
#pragma GCC unroll 2
  for (int o = 0; o < NO; ++o) {
    const __m256 s = reduce8(acc[o]);
    float* d = a.dst + (o0 + o) * a.ldd + m0;
    if (n == 8)
      _mm256_storeu_ps(d, s);
    else
      _mm256_mask_storeu_ps(d, __mmask8((1u << unsigned(n)) - 1u), s);
  }
}

}  // namespace avx512_f32

template <>
struct impl<isa::avx512_t> {
  static constexpr const char* name = "conv_f32f32_f32_dot__avx512";
  static bool supports(const ConvDesc& d) { return dot_supports(d); }
  static void run(const DotArgs& a, i64 M) noexcept {
    using namespace avx512_f32;
    for (i64 m0 = 0; m0 < M; m0 += 8) {
      const int n = M - m0 >= 8 ? 8 : int(M - m0);
      int o = 0;
      for (; o + 2 <= a.noc; o += 2) block<2>(a, m0, n, o);
      if (o < a.noc) block<1>(a, m0, n, o);
    }
  }
};

}  // namespace medkern::kernels::conv::dot
MEDKERN_ISA_END()
