// medkern/kernels/brgemm/desc.hpp — the batch-reduce GEMM problem and B packing formats.
//
//   C[M,N] = (accumulate ? C : 0) + sum_{b<batch} A_b[M,K] * B_b[K,N],  then post-ops
//
// A_b: row-major, element (m,k) at a[b][m*lda + k].
// B_b: depends on its dtype (the packing every ISA of that dtype shares, AMX included):
//   f32:       row-major, (k,n) at b[b][k*ldb + n]                           (ldb >= N)
//   bf16:      pair-packed [ceil(K/2)][ldb][2]: (k,n) at ((k/2)*ldb + n)*2 + k%2
//   s8:        quad-packed [ceil(K/4)][ldb][4]: (k,n) at ((k/4)*ldb + n)*4 + k%4
//   Padding entries of the last pair/quad (k >= K) must be zero.
// C: row-major with ldc. Accumulation: f32 for f32 and bf16 inputs; s32 for u8/s8 x s8.
//   f32 inputs -> f32 C.  bf16 x bf16 -> f32 C.  u8|s8 x s8 -> s32 C (exact, no post-ops) or
//   f32 C (s32 converted, then post-ops, usually a dequantization scale first).
// s8 A: kernels may add 128 to A (to use u8 x s8 instructions) and subtract 128*sum_k B[k][n];
//   that sum over every batch element, `b_compensation[n]`, is supplied by the caller (see
//   compensation_s8 in ref.hpp) whenever a_type is s8.
// FLOPs: 2 * batch * M * N * K.
#pragma once

#include <cstdint>
#include <string>

#include "medkern/core/isa.hpp"
#include "medkern/core/tensor.hpp"
#include "medkern/kernels/post_ops.hpp"

namespace medkern::kernels::brgemm {

struct BrgemmDesc {
  DType a_type = DType::f32;
  DType b_type = DType::f32;
  DType c_type = DType::f32;
  std::int64_t M = 0, N = 0, K = 0;
  std::int64_t lda = 0;  ///< A row stride, elements
  std::int64_t ldb = 0;  ///< B stride in columns (see the packing formats above)
  std::int64_t ldc = 0;  ///< C row stride, elements
  bool accumulate = false;  ///< add into the existing C instead of overwriting it
  PostOps post;
  const std::int32_t* b_compensation = nullptr;  ///< required when a_type == s8
};

/// One batch-reduce call: `batch` pairs of A_b / B_b base pointers.
using BrgemmFn = void (*)(const BrgemmDesc& d, std::int64_t batch, const void* const* a,
                          const void* const* b, void* c) noexcept;

struct BrgemmRow {
  const char* name;  ///< "brgemm_f32f32_f32__avx512_m6n64"
  Isa isa;
  bool (*supports)(const BrgemmDesc&);
  BrgemmFn run;
};

/// Number of K rows of the packed B layout (pairs for bf16, quads for s8).
constexpr std::int64_t packed_k_rows(DType b_type, std::int64_t K) noexcept {
  return b_type == DType::bf16 ? (K + 1) / 2 : b_type == DType::s8 ? (K + 3) / 4 : K;
}

/// Elements per packed group along K (1 f32, 2 bf16, 4 s8).
constexpr std::int64_t k_group(DType b_type) noexcept {
  return b_type == DType::bf16 ? 2 : b_type == DType::s8 ? 4 : 1;
}

inline std::string describe(const BrgemmDesc& d, std::int64_t batch) {
  return detail::concat(dtype_name(d.a_type), dtype_name(d.b_type), dtype_name(d.c_type),
                        ",M=", d.M, ",N=", d.N, ",K=", d.K, ",batch=", batch, ",lda=", d.lda,
                        ",ldb=", d.ldb, ",ldc=", d.ldc, d.accumulate ? ",acc" : "",
                        ",post=", post_ops_str(d.post));
}

}  // namespace medkern::kernels::brgemm
