// medkern/kernels/brgemm/pack.hpp — packing B into the layouts of desc.hpp.
//
// Scalar and allocation-free: the caller owns the destination (size from packed_b_elems) and
// parallelises over panels when it pays. Packing happens once per weight, outside hot loops.
#pragma once

#include <cstdint>
#include <cstring>

#include "medkern/kernels/brgemm/desc.hpp"

namespace medkern::kernels::brgemm {

/// Elements of a packed B with `ldb` columns (ldb >= N).
constexpr std::int64_t packed_b_elems(DType b_type, std::int64_t K, std::int64_t ldb) noexcept {
  return packed_k_rows(b_type, K) * ldb * k_group(b_type);
}

/// Row-major src[K][lds] (columns [0, N)) into the packed `b_type` layout with stride ldb;
/// columns [N, ldb) and the K padding of the last group are zero-filled.
/// T is float for f32, bf16 for bf16, int8_t for s8.
template <class T>
void pack_b(const T* src, std::int64_t lds, std::int64_t K, std::int64_t N, std::int64_t ldb,
            T* dst) noexcept {
  constexpr DType dt = dtype_of<T>::value;
  constexpr std::int64_t g = k_group(dt);
  const std::int64_t rows = packed_k_rows(dt, K);
  for (std::int64_t r = 0; r < rows; ++r) {
    T* out = dst + r * ldb * g;
    for (std::int64_t n = 0; n < ldb; ++n)
      for (std::int64_t q = 0; q < g; ++q) {
        const std::int64_t k = r * g + q;
        out[n * g + q] = (n < N && k < K) ? src[k * lds + n] : T{};
      }
  }
}

/// Column sums over every batch element of a quad-packed s8 B, times 128: the correction a
/// kernel that feeds s8 A through u8 x s8 instructions subtracts (desc.b_compensation).
inline void compensation_s8(std::int64_t batch, const std::int8_t* const* b, std::int64_t K,
                            std::int64_t N, std::int64_t ldb, std::int32_t* comp) noexcept {
  for (std::int64_t n = 0; n < N; ++n) comp[n] = 0;
  const std::int64_t rows = packed_k_rows(DType::s8, K);
  for (std::int64_t i = 0; i < batch; ++i)
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t n = 0; n < N; ++n)
        for (std::int64_t q = 0; q < 4; ++q) comp[n] += 128 * b[i][(r * ldb + n) * 4 + q];
}

}  // namespace medkern::kernels::brgemm
