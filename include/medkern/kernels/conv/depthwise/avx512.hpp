// medkern/kernels/conv/depthwise/avx512.hpp — depthwise convolution kernel for AVX-512.
//
// Register plan: 12 output pixels x 1 block of 16 channels per tile, 12 zmm accumulators;
// per tap one weight vector and 12 input vectors (pixels lda floats apart), 12 independent
// FMA chains (>= 8 cover the 2 FMA ports x 4 cycles of latency). The loads are the limit
// (1 load per FMA, 2 load ports), which is inherent to depthwise: every input value meets only
// the taps of its own channel. Tail pixels run in tiles of 1..11 from a table.
#pragma once

#include <immintrin.h>

#include <array>
#include <utility>

#include "medkern/core/config.hpp"
#include "medkern/kernels/conv/depthwise/ref.hpp"
#include "medkern/kernels/post_ops_avx512.hpp"

MEDKERN_ISA_BEGIN(avx512)
namespace medkern::kernels::conv::depthwise {
namespace avx512_f32 {

template <int MR>
void tile(const DwArgs& a, i64 m0) noexcept {
  __m512 acc[MR];
#pragma GCC unroll 12
  for (int i = 0; i < MR; ++i) acc[i] = _mm512_setzero_ps();
  const float* src = a.src + m0 * a.lda;
  for (i64 t = 0; t < a.taps; ++t) {
    const __m512 w = _mm512_load_ps(a.wei + t * 16);
    const float* x = src + a.tap_off[t];
#pragma GCC unroll 12
    for (int i = 0; i < MR; ++i) acc[i] = _mm512_fmadd_ps(_mm512_loadu_ps(x + i * a.lda), w, acc[i]);
  }
  const bool has_post = !a.post.empty();
#pragma GCC unroll 12
  for (int i = 0; i < MR; ++i) {
    __m512 v = acc[i];
    if (has_post) v = kernels::avx512::apply_post_ops(a.post, v, 0);
    _mm512_storeu_ps(a.dst + (m0 + i) * 16, v);
  }
}

using TileFn = void (*)(const DwArgs&, i64) noexcept;
inline constexpr int kMr = 12;

template <int... I>
constexpr auto make_table(std::integer_sequence<int, I...>) {
  return std::array<TileFn, sizeof...(I)>{&tile<I + 1>...};
}
inline constexpr auto kTiles = make_table(std::make_integer_sequence<int, kMr>{});

}  // namespace avx512_f32

template <>
struct impl<isa::avx512_t> {
  static constexpr const char* name = "conv_f32f32_f32_depthwise__avx512";
  static bool supports(const ConvDesc& d) { return impl<isa::ref_t>::supports(d); }
  static void run(const DwArgs& a, i64 M) noexcept {
    using namespace avx512_f32;
    i64 m0 = 0;
    for (; m0 + kMr <= M; m0 += kMr) tile<kMr>(a, m0);
    if (m0 < M) kTiles[std::size_t(M - m0 - 1)](a, m0);
  }
};

}  // namespace medkern::kernels::conv::depthwise
MEDKERN_ISA_END()
