// medkern/kernels/post_ops_avx2.hpp — the post-op chain (post_ops.hpp) on ymm registers,
// shared by the AVX2 BRGEMM and the row post-op kernel.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "medkern/core/config.hpp"
#include "medkern/kernels/math_avx2.hpp"
#include "medkern/kernels/post_ops.hpp"

MEDKERN_ISA_BEGIN(avx2)
namespace medkern::kernels::avx2 {

/// The transcendental eltwise ops, out of line: inlined into every accumulator of every
/// register tile they would multiply the code of the kernels (and their compile time) many
/// times over for ops that are rare in a chain and cost ~30 instructions per vector anyway.
/// NaN inputs come out as NaN, as in torch: the clamps inside the approximations
/// (math_avx2.hpp) keep NaN, and elu's mask is false for NaN.
__attribute__((noinline)) inline __m256 eltwise_transcendental(__m256 v, const PostOp& op) {
  switch (op.alg) {
    case Eltwise::elu: {
      const __m256 neg = _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ);
      return _mm256_blendv_ps(v, _mm256_mul_ps(expm1_ps(v), _mm256_set1_ps(op.alpha)), neg);
    }
    case Eltwise::sigmoid: return sigmoid_ps(v);
    case Eltwise::tanh: return tanh_ps(v);
    case Eltwise::gelu_erf: return gelu_erf_ps(v);
    case Eltwise::gelu_tanh: return gelu_tanh_ps(v);
    default: return v;
  }
}

MEDKERN_ALWAYS_INLINE __m256 eltwise(__m256 v, const PostOp& op) {
  const __m256 z = _mm256_setzero_ps();
  switch (op.alg) {
    case Eltwise::relu: return _mm256_max_ps(z, v);  // max/min return the 2nd operand on NaN: keeps NaN
    case Eltwise::leaky_relu: {
      const __m256 neg = _mm256_cmp_ps(v, z, _CMP_LT_OQ);
      return _mm256_blendv_ps(v, _mm256_mul_ps(v, _mm256_set1_ps(op.alpha)), neg);
    }
    case Eltwise::clip:
      return _mm256_min_ps(_mm256_set1_ps(op.beta), _mm256_max_ps(_mm256_set1_ps(op.alpha), v));
    case Eltwise::linear:
      return _mm256_fmadd_ps(v, _mm256_set1_ps(op.alpha), _mm256_set1_ps(op.beta));
    case Eltwise::elu:
    case Eltwise::sigmoid:
    case Eltwise::tanh:
    case Eltwise::gelu_erf:
    case Eltwise::gelu_tanh: return eltwise_transcendental(v, op);
    case Eltwise::hardswish: {
      const __m256 r6 = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(v, _mm256_set1_ps(3.f)), z),
                                      _mm256_set1_ps(6.f));
      return _mm256_div_ps(_mm256_mul_ps(v, r6), _mm256_set1_ps(6.f));
    }
  }
  return v;
}

/// v < 0 ? slope * v : v.
MEDKERN_ALWAYS_INLINE __m256 prelu(__m256 v, __m256 slope) {
  const __m256 neg = _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ);
  return _mm256_blendv_ps(v, _mm256_mul_ps(v, slope), neg);
}

/// The chain on `v` holding columns [n, n + 8); per-column data read under lane mask `m`.
/// A sum is a no-op here (register tiles run heads of chains only, see post_ops.hpp).
MEDKERN_ALWAYS_INLINE __m256 apply_post_ops(const PostOps& p, __m256 v, std::int64_t n,
                                            __m256i m) {
  for (const PostOp& op : p) {
    switch (op.kind) {
      case PostOpKind::bias: v = _mm256_add_ps(v, _mm256_maskload_ps(op.data + n, m)); break;
      case PostOpKind::scale:
        v = _mm256_mul_ps(v, op.data ? _mm256_maskload_ps(op.data + n, m)
                                     : _mm256_set1_ps(op.alpha));
        break;
      case PostOpKind::prelu:
        v = prelu(v, op.data ? _mm256_maskload_ps(op.data + n, m) : _mm256_set1_ps(op.alpha));
        break;
      case PostOpKind::eltwise: v = eltwise(v, op); break;
      case PostOpKind::sum: break;
    }
  }
  return v;
}

}  // namespace medkern::kernels::avx2
MEDKERN_ISA_END()
