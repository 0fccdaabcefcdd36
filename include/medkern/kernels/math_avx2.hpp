// medkern/kernels/math_avx2.hpp — the functions of math_avx512.hpp on ymm registers (same
// formulas and coefficients, except 2^n below), checked against std:: in the tests.
//
// exp: x = n*ln2 + r with |r| <= ln2/2 (ln2 split in a hi part exact in float and a lo part),
//   e^r - 1 = r * (1 + r/2 + ... + r^6/7!) (Taylor; truncation < 2e-8 relative), then 2^n by
//   building the exponent bits; x is clamped to [-87.3, 88.3] so 2^n stays a normal float
//   (results saturate at ~1e-38 / ~2e38 instead of 0 / inf).
// expm1: 2^n * (e^r - 1) + (2^n - 1): exact in relative terms for |x| < ln2/2 (n = 0), where
//   exp(x) - 1 would cancel.
// tanh: expm1(2x) / (expm1(2x) + 2), accurate near 0; 2x clamped to +-40 (tanh = +-1 there).
// erfc(z), z >= 0: below 0.5, 1 - z * P(z^2) with the Taylor series of erf to z^15; above,
//   exp(-z^2) * R(t), t = 1/(1+z), R a degree-8 least-squares fit of erfcx on [0.5, 10]
//   (relative error 3e-7 in float evaluation); exp(-z^2) takes the rounding error of z^2 into
//   account (exp(-h-l) = exp(-h) * (1 - l)). Negative z: 2 - erfc(-z).
// gelu_erf(x) = x/2 * erfc(-x/sqrt 2) (no cancellation of 1 + erf for negative x);
// gelu_tanh(x) = x * sigmoid(2u) (= x/2 * (1 + tanh u), again without cancellation).
#pragma once

#include <immintrin.h>

#include "medkern/core/config.hpp"

MEDKERN_ISA_BEGIN(avx2)
namespace medkern::kernels::avx2 {

struct ExpParts {
  __m256 n;    ///< round(x / ln2)
  __m256 em1;  ///< e^r - 1, r = x - n*ln2
};

MEDKERN_ALWAYS_INLINE ExpParts exp_parts(__m256 x) {
  // Clamps put x second in max/min, which return their second operand for NaN: NaN stays NaN.
  x = _mm256_min_ps(_mm256_set1_ps(88.3f), _mm256_max_ps(_mm256_set1_ps(-87.3f), x));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145751953125f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.428606765330187e-06f), r);
  __m256 p = _mm256_set1_ps(1.f / 5040.f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.f / 720.f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.f / 120.f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.f / 24.f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.f / 6.f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.f));
  return {n, _mm256_mul_ps(p, r)};
}

/// 2^n for integral n in [-126, 127].
MEDKERN_ALWAYS_INLINE __m256 pow2n(__m256 n) {
  return _mm256_castsi256_ps(
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23));
}

MEDKERN_ALWAYS_INLINE __m256 exp_ps(__m256 x) {
  const ExpParts e = exp_parts(x);
  return _mm256_mul_ps(_mm256_add_ps(e.em1, _mm256_set1_ps(1.f)), pow2n(e.n));
}

MEDKERN_ALWAYS_INLINE __m256 expm1_ps(__m256 x) {
  const ExpParts e = exp_parts(x);
  const __m256 t = pow2n(e.n);
  return _mm256_fmadd_ps(t, e.em1, _mm256_sub_ps(t, _mm256_set1_ps(1.f)));
}

MEDKERN_ALWAYS_INLINE __m256 tanh_ps(__m256 x) {
  const __m256 y = _mm256_min_ps(_mm256_set1_ps(40.f),
                                 _mm256_max_ps(_mm256_set1_ps(-40.f), _mm256_add_ps(x, x)));
  const __m256 e = expm1_ps(y);
  return _mm256_div_ps(e, _mm256_add_ps(e, _mm256_set1_ps(2.f)));
}

MEDKERN_ALWAYS_INLINE __m256 sigmoid_ps(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.f);
  return _mm256_div_ps(one, _mm256_add_ps(one, exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), x))));
}

MEDKERN_ALWAYS_INLINE __m256 erfc_ps(__m256 z) {
  const __m256 a = _mm256_andnot_ps(_mm256_set1_ps(-0.f), z);
  const __m256 a2 = _mm256_mul_ps(a, a);
  // Small |z|: erf(a) = 2/sqrt(pi) * sum (-1)^k a^(2k+1) / (k! (2k+1)).
  __m256 p = _mm256_set1_ps(-1.4925650e-05f);
  p = _mm256_fmadd_ps(p, a2, _mm256_set1_ps(1.2055333e-04f));
  p = _mm256_fmadd_ps(p, a2, _mm256_set1_ps(-8.5483270e-04f));
  p = _mm256_fmadd_ps(p, a2, _mm256_set1_ps(5.2239776e-03f));
  p = _mm256_fmadd_ps(p, a2, _mm256_set1_ps(-2.6866170e-02f));
  p = _mm256_fmadd_ps(p, a2, _mm256_set1_ps(1.1283792e-01f));
  p = _mm256_fmadd_ps(p, a2, _mm256_set1_ps(-3.7612639e-01f));
  p = _mm256_fmadd_ps(p, a2, _mm256_set1_ps(1.1283792f));
  const __m256 small = _mm256_fnmadd_ps(a, p, _mm256_set1_ps(1.f));
  // Large |z|: exp(-a^2) * R(1 / (1 + a)).
  const __m256 ac = _mm256_min_ps(_mm256_set1_ps(10.f), a);
  const __m256 h = _mm256_mul_ps(ac, ac);
  const __m256 l = _mm256_fmsub_ps(ac, ac, h);
  const __m256 eh = exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), h));
  const __m256 e = _mm256_fnmadd_ps(eh, l, eh);
  const __m256 t = _mm256_div_ps(_mm256_set1_ps(1.f), _mm256_add_ps(_mm256_set1_ps(1.f), ac));
  __m256 q = _mm256_set1_ps(7.902095318e-01f);
  q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(-2.831688166e+00f));
  q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(4.026758671e+00f));
  q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(-2.500667095e+00f));
  q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(1.741443276e-01f));
  q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(2.101974040e-01f));
  q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(5.710719228e-01f));
  q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(5.638244748e-01f));
  q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(8.199874173e-06f));
  const __m256 large = _mm256_mul_ps(e, q);
  const __m256 is_small = _mm256_cmp_ps(a, _mm256_set1_ps(0.5f), _CMP_LT_OQ);
  const __m256 v = _mm256_blendv_ps(large, small, is_small);
  const __m256 neg = _mm256_cmp_ps(z, _mm256_setzero_ps(), _CMP_LT_OQ);
  return _mm256_blendv_ps(v, _mm256_sub_ps(_mm256_set1_ps(2.f), v), neg);
}

MEDKERN_ALWAYS_INLINE __m256 gelu_erf_ps(__m256 x) {
  const __m256 z = _mm256_mul_ps(x, _mm256_set1_ps(-0.70710678118654752f));
  return _mm256_mul_ps(_mm256_mul_ps(x, _mm256_set1_ps(0.5f)), erfc_ps(z));
}

MEDKERN_ALWAYS_INLINE __m256 gelu_tanh_ps(__m256 x) {
  const __m256 x3 = _mm256_mul_ps(_mm256_mul_ps(x, x), x);
  const __m256 u = _mm256_mul_ps(_mm256_fmadd_ps(x3, _mm256_set1_ps(0.044715f), x),
                                 _mm256_set1_ps(0.7978845608028654f));
  return _mm256_mul_ps(x, sigmoid_ps(_mm256_add_ps(u, u)));
}

}  // namespace medkern::kernels::avx2
MEDKERN_ISA_END()
