// medkern/kernels/post_ops_avx512.hpp — the post-op chain (post_ops.hpp) on zmm registers,
// shared by the AVX-512 kernels that fuse it into their output tile.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "medkern/core/config.hpp"
#include "medkern/kernels/post_ops.hpp"

MEDKERN_ISA_BEGIN(avx512)
namespace medkern::kernels::avx512 {

MEDKERN_ALWAYS_INLINE __m512 eltwise(__m512 v, const PostOp& op) {
  switch (op.alg) {
    case Eltwise::relu: return _mm512_max_ps(v, _mm512_setzero_ps());
    case Eltwise::leaky_relu: {
      const __mmask16 neg = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
      return _mm512_mask_mul_ps(v, neg, v, _mm512_set1_ps(op.alpha));
    }
    case Eltwise::clip:
      return _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(op.alpha)), _mm512_set1_ps(op.beta));
    case Eltwise::linear:
      return _mm512_fmadd_ps(v, _mm512_set1_ps(op.alpha), _mm512_set1_ps(op.beta));
  }
  return v;
}

/// Applies the chain to `v` holding output columns [n, n + 16); per-column data is read under
/// mask `m`, so a tail vector never reads past the end of bias/scale arrays.
MEDKERN_ALWAYS_INLINE __m512 apply_post_ops(const PostOps& p, __m512 v, std::int64_t n,
                                            __mmask16 m = 0xffff) {
  for (const PostOp& op : p) {
    switch (op.kind) {
      case PostOpKind::bias: v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, op.data + n)); break;
      case PostOpKind::scale:
        v = _mm512_mul_ps(v, op.data ? _mm512_maskz_loadu_ps(m, op.data + n)
                                     : _mm512_set1_ps(op.alpha));
        break;
      case PostOpKind::eltwise: v = eltwise(v, op); break;
    }
  }
  return v;
}

}  // namespace medkern::kernels::avx512
MEDKERN_ISA_END()
