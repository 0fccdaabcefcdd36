// medkern/kernels/softmax/avx512.hpp — softmax for AVX-512, f32.
//
// Strided case (inner > 1, e.g. the channel dimension of NCHW): the 16 lanes of a zmm are 16
// neighbouring positions (pixels), so the reduction along L is lane-wise with no horizontal
// work: pass 1 takes the max over the L rows, pass 2 writes exp(x - max) and sums it, pass 3
// scales by 1/sum. A run of 16..64 pixels x L rows stays in L1 between passes.
// Contiguous case (inner == 1): the same three passes along the row with horizontal
// reductions at the end of passes 1 and 2.
//
// exp: range reduction x = n ln2 + r (Cody-Waite, two-part ln2), |r| <= ln2/2, degree-6
// polynomial (Cephes expf coefficients, relative error ~1e-7), scaling by 2^n with vscalefps,
// which also gives 0 for very negative x without a separate clamp on n.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "medkern/core/config.hpp"
#include "medkern/kernels/softmax/ref.hpp"

MEDKERN_ISA_BEGIN(avx512)
namespace medkern::kernels::softmax {
namespace avx512_detail {

MEDKERN_ALWAYS_INLINE __mmask16 lanes(std::int64_t n) {
  return n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1u);
}

MEDKERN_ALWAYS_INLINE __m512 exp_ps(__m512 x) {
  x = _mm512_max_ps(x, _mm512_set1_ps(-104.f));  // below: the result underflows to 0 anyway
  x = _mm512_min_ps(x, _mm512_set1_ps(88.7f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.f)));
  return _mm512_scalef_ps(p, n);
}

inline void strided(const SoftmaxDesc& d, const float* src, float* dst, std::int64_t o,
                    std::int64_t i0, std::int64_t i1) noexcept {
  const std::int64_t L = d.L, inner = d.inner, base = o * L * inner;
  for (std::int64_t i = i0; i < i1; i += 16) {
    const __mmask16 m = lanes(i1 - i);
    const float* x = src + base + i;
    float* y = dst + base + i;
    __m512 mx = _mm512_maskz_loadu_ps(m, x);
    for (std::int64_t l = 1; l < L; ++l) mx = _mm512_max_ps(mx, _mm512_maskz_loadu_ps(m, x + l * inner));
    __m512 sum = _mm512_setzero_ps();
    for (std::int64_t l = 0; l < L; ++l) {
      const __m512 e = exp_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + l * inner), mx));
      _mm512_mask_storeu_ps(y + l * inner, m, e);
      sum = _mm512_add_ps(sum, e);
    }
    const __m512 inv = _mm512_div_ps(_mm512_set1_ps(1.f), sum);
    for (std::int64_t l = 0; l < L; ++l)
      _mm512_mask_storeu_ps(y + l * inner, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, y + l * inner), inv));
  }
}

inline void contiguous(const SoftmaxDesc& d, const float* src, float* dst, std::int64_t o) noexcept {
  const std::int64_t L = d.L;
  const float* x = src + o * L;
  float* y = dst + o * L;
  __m512 mx = _mm512_set1_ps(-__builtin_inff());
  for (std::int64_t l = 0; l < L; l += 16) {
    const __mmask16 m = lanes(L - l);
    mx = _mm512_mask_max_ps(mx, m, mx, _mm512_maskz_loadu_ps(m, x + l));
  }
  const __m512 vmax = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
  __m512 sum = _mm512_setzero_ps();
  for (std::int64_t l = 0; l < L; l += 16) {
    const __mmask16 m = lanes(L - l);
    const __m512 e = _mm512_maskz_mov_ps(m, exp_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + l), vmax)));
    _mm512_mask_storeu_ps(y + l, m, e);
    sum = _mm512_add_ps(sum, e);
  }
  const __m512 inv = _mm512_set1_ps(1.f / _mm512_reduce_add_ps(sum));
  for (std::int64_t l = 0; l < L; l += 16) {
    const __mmask16 m = lanes(L - l);
    _mm512_mask_storeu_ps(y + l, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, y + l), inv));
  }
}

}  // namespace avx512_detail

template <>
struct impl<isa::avx512_t> {
  static constexpr const char* name = "softmax_f32__avx512";

  static bool supports(const SoftmaxDesc&) { return true; }

  static void run(const SoftmaxDesc& d, const float* src, float* dst, std::int64_t o,
                  std::int64_t i0, std::int64_t i1) noexcept {
    MEDKERN_DCHECK(o >= 0 && o < d.outer && i0 >= 0 && i0 <= i1 && i1 <= d.inner);
    if (d.inner == 1) avx512_detail::contiguous(d, src, dst, o);
    else avx512_detail::strided(d, src, dst, o, i0, i1);
  }
};

}  // namespace medkern::kernels::softmax
MEDKERN_ISA_END()
