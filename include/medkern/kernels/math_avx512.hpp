// medkern/kernels/math_avx512.hpp — vectorised exp, expm1, tanh, sigmoid, erfc and the GELUs
// on zmm registers, to ~3e-7 relative error (a few float ulps) over the whole float range
// (checked against std:: in tests/cpp/kernels/post_ops_test.cpp).
//
// exp: x = n*ln2 + r with |r| <= ln2/2 (ln2 split in a hi part exact in float and a lo part),
//   e^r - 1 = r * (1 + r/2 + ... + r^6/7!) (Taylor; truncation < 2e-8 relative), then 2^n by
//   vscalefps, which saturates to inf / 0 without integer exponent tricks.
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

MEDKERN_ISA_BEGIN(avx512)
namespace medkern::kernels::avx512 {

struct ExpParts {
  __m512 n;    ///< round(x / ln2)
  __m512 em1;  ///< e^r - 1, r = x - n*ln2
};

MEDKERN_ALWAYS_INLINE ExpParts exp_parts(__m512 x) {
  // Clamps put x second in max/min, which return their second operand for NaN: NaN stays NaN.
  x = _mm512_min_ps(_mm512_set1_ps(89.f), _mm512_max_ps(_mm512_set1_ps(-104.f), x));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187e-06f), r);
  __m512 p = _mm512_set1_ps(1.f / 5040.f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 720.f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 120.f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 24.f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 6.f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f));
  return {n, _mm512_mul_ps(p, r)};
}

MEDKERN_ALWAYS_INLINE __m512 exp_ps(__m512 x) {
  const ExpParts e = exp_parts(x);
  return _mm512_scalef_ps(_mm512_add_ps(e.em1, _mm512_set1_ps(1.f)), e.n);
}

MEDKERN_ALWAYS_INLINE __m512 expm1_ps(__m512 x) {
  const ExpParts e = exp_parts(x);
  const __m512 t = _mm512_scalef_ps(_mm512_set1_ps(1.f), e.n);
  return _mm512_fmadd_ps(t, e.em1, _mm512_sub_ps(t, _mm512_set1_ps(1.f)));
}

MEDKERN_ALWAYS_INLINE __m512 tanh_ps(__m512 x) {
  const __m512 y = _mm512_min_ps(_mm512_set1_ps(40.f),
                                 _mm512_max_ps(_mm512_set1_ps(-40.f), _mm512_add_ps(x, x)));
  const __m512 e = expm1_ps(y);
  return _mm512_div_ps(e, _mm512_add_ps(e, _mm512_set1_ps(2.f)));
}

MEDKERN_ALWAYS_INLINE __m512 sigmoid_ps(__m512 x) {
  const __m512 one = _mm512_set1_ps(1.f);
  return _mm512_div_ps(one, _mm512_add_ps(one, exp_ps(_mm512_sub_ps(_mm512_setzero_ps(), x))));
}

MEDKERN_ALWAYS_INLINE __m512 erfc_ps(__m512 z) {
  const __m512 a = _mm512_abs_ps(z);
  const __m512 a2 = _mm512_mul_ps(a, a);
  // Small |z|: erf(a) = 2/sqrt(pi) * sum (-1)^k a^(2k+1) / (k! (2k+1)).
  __m512 p = _mm512_set1_ps(-1.4925650e-05f);
  p = _mm512_fmadd_ps(p, a2, _mm512_set1_ps(1.2055333e-04f));
  p = _mm512_fmadd_ps(p, a2, _mm512_set1_ps(-8.5483270e-04f));
  p = _mm512_fmadd_ps(p, a2, _mm512_set1_ps(5.2239776e-03f));
  p = _mm512_fmadd_ps(p, a2, _mm512_set1_ps(-2.6866170e-02f));
  p = _mm512_fmadd_ps(p, a2, _mm512_set1_ps(1.1283792e-01f));
  p = _mm512_fmadd_ps(p, a2, _mm512_set1_ps(-3.7612639e-01f));
  p = _mm512_fmadd_ps(p, a2, _mm512_set1_ps(1.1283792f));
  const __m512 small = _mm512_fnmadd_ps(a, p, _mm512_set1_ps(1.f));
  // Large |z|: exp(-a^2) * R(1 / (1 + a)).
  const __m512 ac = _mm512_min_ps(_mm512_set1_ps(10.f), a);
  const __m512 h = _mm512_mul_ps(ac, ac);
  const __m512 l = _mm512_fmsub_ps(ac, ac, h);
  const __m512 eh = exp_ps(_mm512_sub_ps(_mm512_setzero_ps(), h));
  const __m512 e = _mm512_fnmadd_ps(eh, l, eh);
  const __m512 t = _mm512_div_ps(_mm512_set1_ps(1.f), _mm512_add_ps(_mm512_set1_ps(1.f), ac));
  __m512 q = _mm512_set1_ps(7.902095318e-01f);
  q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(-2.831688166e+00f));
  q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(4.026758671e+00f));
  q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(-2.500667095e+00f));
  q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(1.741443276e-01f));
  q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(2.101974040e-01f));
  q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(5.710719228e-01f));
  q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(5.638244748e-01f));
  q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(8.199874173e-06f));
  const __m512 large = _mm512_mul_ps(e, q);
  const __mmask16 is_small = _mm512_cmp_ps_mask(a, _mm512_set1_ps(0.5f), _CMP_LT_OQ);
  const __m512 v = _mm512_mask_blend_ps(is_small, large, small);
  const __mmask16 neg = _mm512_cmp_ps_mask(z, _mm512_setzero_ps(), _CMP_LT_OQ);
  return _mm512_mask_sub_ps(v, neg, _mm512_set1_ps(2.f), v);
}

MEDKERN_ALWAYS_INLINE __m512 gelu_erf_ps(__m512 x) {
  const __m512 z = _mm512_mul_ps(x, _mm512_set1_ps(-0.70710678118654752f));
  return _mm512_mul_ps(_mm512_mul_ps(x, _mm512_set1_ps(0.5f)), erfc_ps(z));
}

MEDKERN_ALWAYS_INLINE __m512 gelu_tanh_ps(__m512 x) {
  const __m512 x3 = _mm512_mul_ps(_mm512_mul_ps(x, x), x);
  const __m512 u = _mm512_mul_ps(_mm512_fmadd_ps(x3, _mm512_set1_ps(0.044715f), x),
                                 _mm512_set1_ps(0.7978845608028654f));
  return _mm512_mul_ps(x, sigmoid_ps(_mm512_add_ps(u, u)));
}

}  // namespace medkern::kernels::avx512
MEDKERN_ISA_END()
