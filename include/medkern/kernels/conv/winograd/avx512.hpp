// medkern/kernels/conv/winograd/avx512.hpp — Winograd F(4x4, 3x3) tile transforms for
// AVX-512 (contract in ref.hpp).
//
// One zmm per pixel (16 channel lanes): the input transform loads the 36 pixels of a tile,
// runs B^T on the columns then on the rows (6 x 6 applications of 4 FMAs or adds each, the
// constants 4, 5 and 2 folded into FMAs) and stores 36 vectors; the output transform loads
// 36, runs A^T on the columns (6 x 4 outputs) then on the 4 rows, and stores the 16 pixels
// (masked out by rows / cols at the bottom and right edges).
#pragma once

#include <immintrin.h>

#include "medkern/core/config.hpp"
#include "medkern/kernels/conv/winograd/ref.hpp"

MEDKERN_ISA_BEGIN(avx512)
namespace medkern::kernels::conv::winograd {
namespace avx512_f32 {

/// t[0..5] = B^T x[0..5].
MEDKERN_ALWAYS_INLINE void bt6(const __m512* x, __m512* t) noexcept {
  const __m512 four = _mm512_set1_ps(4.f), five = _mm512_set1_ps(5.f),
               two = _mm512_set1_ps(2.f);
  t[0] = _mm512_fnmadd_ps(five, x[2], _mm512_fmadd_ps(four, x[0], x[4]));
  t[1] = _mm512_fnmadd_ps(four, _mm512_add_ps(x[1], x[2]), _mm512_add_ps(x[3], x[4]));
  t[2] = _mm512_fmadd_ps(four, _mm512_sub_ps(x[1], x[2]), _mm512_sub_ps(x[4], x[3]));
  const __m512 a = _mm512_sub_ps(x[4], x[2]), b = _mm512_sub_ps(x[3], x[1]);
  t[3] = _mm512_fmadd_ps(two, b, a);
  t[4] = _mm512_fnmadd_ps(two, b, a);
  t[5] = _mm512_fnmadd_ps(five, x[3], _mm512_fmadd_ps(four, x[1], x[5]));
}

/// s[0..3] = A^T x[0..5].
MEDKERN_ALWAYS_INLINE void at6(const __m512* x, __m512* s) noexcept {
  const __m512 p12 = _mm512_add_ps(x[1], x[2]), m12 = _mm512_sub_ps(x[1], x[2]);
  const __m512 p34 = _mm512_add_ps(x[3], x[4]), m34 = _mm512_sub_ps(x[3], x[4]);
  s[0] = _mm512_add_ps(_mm512_add_ps(x[0], p12), p34);
  s[1] = _mm512_fmadd_ps(_mm512_set1_ps(2.f), m34, m12);
  s[2] = _mm512_fmadd_ps(_mm512_set1_ps(4.f), p34, p12);
  s[3] = _mm512_add_ps(_mm512_fmadd_ps(_mm512_set1_ps(8.f), m34, m12), x[5]);
}

}  // namespace avx512_f32

template <>
struct impl<isa::avx512_t> {
  static constexpr const char* name = "conv_f32_winograd_f4x3__avx512";
  static bool supports(const ConvDesc& d) { return wino_supports(d); }

  static void input_tile(const float* src, i64 rs, float* v, i64 vpos) noexcept {
    using namespace avx512_f32;
    __m512 t[6][6];
#pragma GCC unroll 6
    for (int c = 0; c < 6; ++c) {
      __m512 x[6], o[6];
#pragma GCC unroll 6
      for (int r = 0; r < 6; ++r) x[r] = _mm512_loadu_ps(src + r * rs + c * 16);
      bt6(x, o);
#pragma GCC unroll 6
      for (int r = 0; r < 6; ++r) t[r][c] = o[r];
    }
#pragma GCC unroll 6
    for (int r = 0; r < 6; ++r) {
      __m512 o[6];
      bt6(t[r], o);
#pragma GCC unroll 6
      for (int c = 0; c < 6; ++c) _mm512_store_ps(v + (r * 6 + c) * vpos, o[c]);
    }
  }

  static void output_tile(const float* m, i64 mpos, float* y, i64 ys, int rows,
                          int cols) noexcept {
    using namespace avx512_f32;
    __m512 t[4][6];
#pragma GCC unroll 6
    for (int c = 0; c < 6; ++c) {
      __m512 x[6], o[4];
#pragma GCC unroll 6
      for (int r = 0; r < 6; ++r) x[r] = _mm512_load_ps(m + (r * 6 + c) * mpos);
      at6(x, o);
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) t[i][c] = o[i];
    }
    if (rows == 4 && cols == 4) {
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) {
        __m512 o[4];
        at6(t[i], o);
#pragma GCC unroll 4
        for (int j = 0; j < 4; ++j) _mm512_storeu_ps(y + i * ys + j * 16, o[j]);
      }
      return;
    }
    for (int i = 0; i < rows; ++i) {
      __m512 o[4];
      at6(t[i], o);
      for (int j = 0; j < cols; ++j) _mm512_storeu_ps(y + i * ys + j * 16, o[j]);
    }
  }
};

}  // namespace medkern::kernels::conv::winograd
MEDKERN_ISA_END()
