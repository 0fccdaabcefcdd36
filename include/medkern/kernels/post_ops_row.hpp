// medkern/kernels/post_ops_row.hpp — the post-op chain on a stored row of one output channel:
// how the op layer applies what register tiles cannot (sums, see post_ops.hpp), and whole
// chains after a GEMM whose rows are channels (im2col convolution, transposed convolution).
//
//   v[i] = chain(v[i]) for i in [0, n), channel c: per-channel data is read at data[c] (one
//   broadcast per op), a sum reads data[i] (the caller points it at the residual's row).
// Ops run one after the other over the whole row: the row is in L1 (callers keep it short).
// The blocked variant (PostBlockedFn) does the same on a row of 16-channel pixels (nC..16c).
// kPostRowRegistry lists the ISA variants best first; the ref one is the oracle.
#pragma once

#include <immintrin.h>

#include <array>
#include <cstdint>

#include "medkern/core/config.hpp"
#include "medkern/core/isa.hpp"
#include "medkern/kernels/post_ops.hpp"
#include "medkern/kernels/post_ops_avx2.hpp"
#include "medkern/kernels/post_ops_avx512.hpp"

namespace medkern::kernels {

using PostRowFn = void (*)(const PostOps& p, std::int64_t c, float* v, std::int64_t n) noexcept;
/// The chain on n pixels of one channel block of a blocked (nC...16c) row: v[i*16 + l] is
/// channel c0 + l of pixel i; per-channel data is read at data[c0 + l] (16 readable floats),
/// a sum reads data[i*16 + l].
using PostBlockedFn = void (*)(const PostOps& p, std::int64_t c0, float* v,
                               std::int64_t n) noexcept;

inline void post_ops_row_ref(const PostOps& p, std::int64_t c, float* v, std::int64_t n) noexcept {
  for (std::int64_t i = 0; i < n; ++i) v[i] = apply_post_ops_ref(p, v[i], c, i);
}

inline void post_ops_blocked_ref(const PostOps& p, std::int64_t c0, float* v,
                                 std::int64_t n) noexcept {
  for (std::int64_t i = 0; i < n * 16; ++i) v[i] = apply_post_ops_ref(p, v[i], c0 + i % 16, i);
}

MEDKERN_ISA_BEGIN(avx512)
inline void post_ops_row_avx512(const PostOps& p, std::int64_t c, float* v,
                                std::int64_t n) noexcept {
  for (const PostOp& op : p) {
    const float s = op.data && op.kind != PostOpKind::sum ? op.data[c] : op.alpha;
    const __m512 k = _mm512_set1_ps(s);
    for (std::int64_t i = 0; i < n; i += 16) {
      const __mmask16 m = n - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << unsigned(n - i)) - 1u);
      __m512 x = _mm512_maskz_loadu_ps(m, v + i);
      switch (op.kind) {
        case PostOpKind::bias: x = _mm512_add_ps(x, k); break;
        case PostOpKind::scale: x = _mm512_mul_ps(x, k); break;
        case PostOpKind::prelu: x = avx512::prelu(x, k); break;
        case PostOpKind::eltwise: x = avx512::eltwise(x, op); break;
        case PostOpKind::sum: x = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, op.data + i), k, x); break;
      }
      _mm512_mask_storeu_ps(v + i, m, x);
    }
  }
}

inline void post_ops_blocked_avx512(const PostOps& p, std::int64_t c0, float* v,
                                    std::int64_t n) noexcept {
  for (const PostOp& op : p) {
    const __m512 k = op.data && op.kind != PostOpKind::sum ? _mm512_loadu_ps(op.data + c0)
                                                           : _mm512_set1_ps(op.alpha);
    for (std::int64_t i = 0; i < n * 16; i += 16) {
      __m512 x = _mm512_loadu_ps(v + i);
      switch (op.kind) {
        case PostOpKind::bias: x = _mm512_add_ps(x, k); break;
        case PostOpKind::scale: x = _mm512_mul_ps(x, k); break;
        case PostOpKind::prelu: x = avx512::prelu(x, k); break;
        case PostOpKind::eltwise: x = avx512::eltwise(x, op); break;
        case PostOpKind::sum: x = _mm512_fmadd_ps(_mm512_loadu_ps(op.data + i), k, x); break;
      }
      _mm512_storeu_ps(v + i, x);
    }
  }
}
MEDKERN_ISA_END()

MEDKERN_ISA_BEGIN(avx2)
inline void post_ops_row_avx2(const PostOps& p, std::int64_t c, float* v,
                              std::int64_t n) noexcept {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  for (const PostOp& op : p) {
    const float s = op.data && op.kind != PostOpKind::sum ? op.data[c] : op.alpha;
    const __m256 k = _mm256_set1_ps(s);
    for (std::int64_t i = 0; i < n; i += 8) {
      const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n - i < 8 ? n - i : 8)), idx);
      __m256 x = _mm256_maskload_ps(v + i, m);
      switch (op.kind) {
        case PostOpKind::bias: x = _mm256_add_ps(x, k); break;
        case PostOpKind::scale: x = _mm256_mul_ps(x, k); break;
        case PostOpKind::prelu: x = avx2::prelu(x, k); break;
        case PostOpKind::eltwise: x = avx2::eltwise(x, op); break;
        case PostOpKind::sum: x = _mm256_fmadd_ps(_mm256_maskload_ps(op.data + i, m), k, x); break;
      }
      _mm256_maskstore_ps(v + i, m, x);
    }
  }
}

inline void post_ops_blocked_avx2(const PostOps& p, std::int64_t c0, float* v,
                                  std::int64_t n) noexcept {
  for (const PostOp& op : p) {
    const bool per_channel = op.data && op.kind != PostOpKind::sum;
    for (int h = 0; h < 2; ++h) {  // the two 8-lane halves of a block
      const __m256 k = per_channel ? _mm256_loadu_ps(op.data + c0 + 8 * h)
                                   : _mm256_set1_ps(op.alpha);
      for (std::int64_t i = 8 * h; i < n * 16; i += 16) {
        __m256 x = _mm256_loadu_ps(v + i);
        switch (op.kind) {
          case PostOpKind::bias: x = _mm256_add_ps(x, k); break;
          case PostOpKind::scale: x = _mm256_mul_ps(x, k); break;
          case PostOpKind::prelu: x = avx2::prelu(x, k); break;
          case PostOpKind::eltwise: x = avx2::eltwise(x, op); break;
          case PostOpKind::sum: x = _mm256_fmadd_ps(_mm256_loadu_ps(op.data + i), k, x); break;
        }
        _mm256_storeu_ps(v + i, x);
      }
    }
  }
}
MEDKERN_ISA_END()

struct PostRowRow {
  const char* name;
  Isa isa;
  bool (*supports)(const PostOps&);
  PostRowFn run;
  PostBlockedFn blocked;
};

inline constexpr std::array<PostRowRow, 3> kPostRowRegistry = {
    PostRowRow{"post_ops_row__avx512", Isa::avx512, nullptr, &post_ops_row_avx512,
               &post_ops_blocked_avx512},
    PostRowRow{"post_ops_row__avx2", Isa::avx2, nullptr, &post_ops_row_avx2,
               &post_ops_blocked_avx2},
    PostRowRow{"post_ops_row__ref", Isa::ref, nullptr, &post_ops_row_ref,
               &post_ops_blocked_ref},
};

}  // namespace medkern::kernels
