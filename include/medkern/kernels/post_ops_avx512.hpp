// medkern/kernels/post_ops_avx512.hpp — the post-op chain (post_ops.hpp) on zmm registers,
// shared by the AVX-512 kernels that fuse it into their output tile.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "medkern/core/config.hpp"
#include "medkern/kernels/math_avx512.hpp"
#include "medkern/kernels/post_ops.hpp"

MEDKERN_ISA_BEGIN(avx512)
namespace medkern::kernels::avx512 {

/// The transcendental eltwise ops, out of line: inlined into every accumulator of every
/// register tile they would multiply the code of the kernels (and their compile time) many
/// times over for ops that are rare in a chain and cost ~30 instructions per vector anyway.
/// NaN inputs come out as NaN, as in torch: the clamps inside the approximations
/// (math_avx512.hpp) keep NaN, and elu's mask is false for NaN.
__attribute__((noinline)) inline __m512 eltwise_transcendental(__m512 v, const PostOp& op) {
  switch (op.alg) {
    case Eltwise::elu: {
      const __mmask16 neg = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
      return _mm512_mask_mul_ps(v, neg, expm1_ps(v), _mm512_set1_ps(op.alpha));
    }
    case Eltwise::sigmoid: return sigmoid_ps(v);
    case Eltwise::tanh: return tanh_ps(v);
    case Eltwise::gelu_erf: return gelu_erf_ps(v);
    case Eltwise::gelu_tanh: return gelu_tanh_ps(v);
    default: return v;
  }
}

MEDKERN_ALWAYS_INLINE __m512 eltwise(__m512 v, const PostOp& op) {
  const __m512 z = _mm512_setzero_ps();
  switch (op.alg) {
    case Eltwise::relu: return _mm512_max_ps(z, v);  // max/min return the 2nd operand on NaN: keeps NaN
    case Eltwise::leaky_relu: {
      const __mmask16 neg = _mm512_cmp_ps_mask(v, z, _CMP_LT_OQ);
      return _mm512_mask_mul_ps(v, neg, v, _mm512_set1_ps(op.alpha));
    }
    case Eltwise::clip:
      return _mm512_min_ps(_mm512_set1_ps(op.beta), _mm512_max_ps(_mm512_set1_ps(op.alpha), v));
    case Eltwise::linear:
      return _mm512_fmadd_ps(v, _mm512_set1_ps(op.alpha), _mm512_set1_ps(op.beta));
    case Eltwise::elu:
    case Eltwise::sigmoid:
    case Eltwise::tanh:
    case Eltwise::gelu_erf:
    case Eltwise::gelu_tanh: return eltwise_transcendental(v, op);
    case Eltwise::hardswish: {
      const __m512 r6 = _mm512_min_ps(_mm512_max_ps(_mm512_add_ps(v, _mm512_set1_ps(3.f)), z),
                                      _mm512_set1_ps(6.f));
      return _mm512_div_ps(_mm512_mul_ps(v, r6), _mm512_set1_ps(6.f));
    }
  }
  return v;
}

/// v < 0 ? slope * v : v.
MEDKERN_ALWAYS_INLINE __m512 prelu(__m512 v, __m512 slope) {
  const __mmask16 neg = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
  return _mm512_mask_mul_ps(v, neg, v, slope);
}

/// Applies the chain to `v` holding output columns [n, n + 16); per-column data is read under
/// mask `m`, so a tail vector never reads past the end of bias/scale arrays. Register tiles
/// run heads of chains only (post_ops.hpp): a sum here is a no-op.
MEDKERN_ALWAYS_INLINE __m512 apply_post_ops(const PostOps& p, __m512 v, std::int64_t n,
                                            __mmask16 m = 0xffff) {
  for (const PostOp& op : p) {
    switch (op.kind) {
      case PostOpKind::bias: v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, op.data + n)); break;
      case PostOpKind::scale:
        v = _mm512_mul_ps(v, op.data ? _mm512_maskz_loadu_ps(m, op.data + n)
                                     : _mm512_set1_ps(op.alpha));
        break;
      case PostOpKind::prelu:
        v = prelu(v, op.data ? _mm512_maskz_loadu_ps(m, op.data + n) : _mm512_set1_ps(op.alpha));
        break;
      case PostOpKind::eltwise: v = eltwise(v, op); break;
      case PostOpKind::sum: break;
    }
  }
  return v;
}

/// The chain on a register tile acc[MR][NV] whose block j holds output columns
/// [n0 + 16 j, n0 + 16 j + 16), the last block's per-column data read under mask `last`:
/// each op is decoded once per tile and its per-column data loaded once per block, not once
/// per accumulator. (Per accumulator, bias + relu cost a 64 -> 64 3x3 convolution 5% of its
/// time.)
template <int MR, int NV>
MEDKERN_ALWAYS_INLINE void apply_post_ops_tile(const PostOps& p, __m512 (&acc)[MR][NV],
                                               std::int64_t n0, __mmask16 last = 0xffff) {
  const __m512 z = _mm512_setzero_ps();
  for (const PostOp& op : p) {
    switch (op.kind) {
      case PostOpKind::bias:
      case PostOpKind::scale:
      case PostOpKind::prelu:
#pragma GCC unroll 4
        for (int j = 0; j < NV; ++j) {
          const __m512 c =
              op.data ? _mm512_maskz_loadu_ps(j == NV - 1 ? last : __mmask16(0xffff),
                                              op.data + n0 + 16 * j)
                      : _mm512_set1_ps(op.alpha);
#pragma GCC unroll 28
          for (int i = 0; i < MR; ++i)
            acc[i][j] = op.kind == PostOpKind::bias    ? _mm512_add_ps(acc[i][j], c)
                        : op.kind == PostOpKind::scale ? _mm512_mul_ps(acc[i][j], c)
                                                       : prelu(acc[i][j], c);
        }
        break;
      case PostOpKind::eltwise:
        if (op.alg == Eltwise::relu) {
#pragma GCC unroll 28
          for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
            for (int j = 0; j < NV; ++j) acc[i][j] = _mm512_max_ps(z, acc[i][j]);  // keeps NaN
        } else {
#pragma GCC unroll 28
          for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
            for (int j = 0; j < NV; ++j) acc[i][j] = eltwise(acc[i][j], op);
        }
        break;
      case PostOpKind::sum: break;
    }
  }
}

}  // namespace medkern::kernels::avx512
MEDKERN_ISA_END()
