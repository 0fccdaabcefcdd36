// medkern/kernels/brgemm/ref.hpp — reference batch-reduce GEMM: the oracle of every variant.
//
// Contract (layouts and packing in desc.hpp):
//   C[m,n] = post( (accumulate ? C[m,n] : 0) + sum_b sum_k A_b[m,k] * B_b[k,n] )
// Accumulation: double for f32/bf16 (then rounded once to f32), int64 for integers (then
// wrapped to s32, as the hardware's s32 accumulators would be for in-range results).
// bf16 inputs are widened exactly. Post-ops run on the f32 value; an s32 C takes no post-ops.
// FLOPs: 2 * batch * M * N * K.
#pragma once

#include <cstdint>

#include "medkern/core/isa.hpp"
#include "medkern/kernels/brgemm/desc.hpp"
#include "medkern/kernels/post_ops.hpp"

namespace medkern::kernels::brgemm {

template <class IsaTag>
struct impl;

namespace detail_ref {

inline double load_a(const BrgemmDesc& d, const void* a, std::int64_t m, std::int64_t k) {
  const std::int64_t i = m * d.lda + k;
  switch (d.a_type) {
    case DType::f32: return static_cast<const float*>(a)[i];
    case DType::bf16: return double(float(static_cast<const bf16*>(a)[i]));
    case DType::u8: return static_cast<const std::uint8_t*>(a)[i];
    case DType::s8: return static_cast<const std::int8_t*>(a)[i];
    case DType::s32: return static_cast<const std::int32_t*>(a)[i];
  }
  return 0;
}

inline double load_b(const BrgemmDesc& d, const void* b, std::int64_t k, std::int64_t n) {
  const std::int64_t g = k_group(d.b_type);
  const std::int64_t i = ((k / g) * d.ldb + n) * g + k % g;
  switch (d.b_type) {
    case DType::f32: return static_cast<const float*>(b)[i];
    case DType::bf16: return double(float(static_cast<const bf16*>(b)[i]));
    case DType::s8: return static_cast<const std::int8_t*>(b)[i];
    default: return 0;
  }
}

}  // namespace detail_ref

template <>
struct impl<isa::ref_t> {
  static constexpr const char* name = "brgemm_any__ref";

  static bool supports(const BrgemmDesc& d) {
    const bool f32 = d.a_type == DType::f32 && d.b_type == DType::f32 && d.c_type == DType::f32;
    const bool bf = d.a_type == DType::bf16 && d.b_type == DType::bf16 && d.c_type == DType::f32;
    const bool q = (d.a_type == DType::u8 || d.a_type == DType::s8) && d.b_type == DType::s8 &&
                   (d.c_type == DType::s32 || d.c_type == DType::f32);
    return (f32 || bf || q) && !(d.c_type == DType::s32 && !d.post.empty());
  }

  static void run(const BrgemmDesc& d, std::int64_t batch, const void* const* a,
                  const void* const* b, void* c) noexcept {
    const bool integer = d.b_type == DType::s8;
    for (std::int64_t m = 0; m < d.M; ++m)
      for (std::int64_t n = 0; n < d.N; ++n) {
        double accf = 0;
        std::int64_t acci = 0;
        for (std::int64_t i = 0; i < batch; ++i)
          for (std::int64_t k = 0; k < d.K; ++k) {
            const double p = detail_ref::load_a(d, a[i], m, k) * detail_ref::load_b(d, b[i], k, n);
            if (integer)
              acci += static_cast<std::int64_t>(p);
            else
              accf += p;
          }
        const std::int64_t ci = m * d.ldc + n;
        if (d.c_type == DType::s32) {
          auto* cc = static_cast<std::int32_t*>(c);
          const std::int64_t prev = d.accumulate ? cc[ci] : 0;
          cc[ci] = static_cast<std::int32_t>(static_cast<std::uint32_t>(prev + acci));
        } else {
          auto* cc = static_cast<float*>(c);
          double v = integer ? double(acci) : accf;
          if (d.accumulate) v += cc[ci];
          cc[ci] = apply_post_ops_ref(d.post, static_cast<float>(v), n);
        }
      }
  }
};

}  // namespace medkern::kernels::brgemm
