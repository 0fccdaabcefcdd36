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
  if constexpr (g == 1) {
    // f32: the packed rows are the source rows, padded: a row copy and a zero tail.
    for (std::int64_t k = 0; k < K; ++k) {
      std::memcpy(dst + k * ldb, src + k * lds, std::size_t(N) * sizeof(T));
      std::memset(static_cast<void*>(dst + k * ldb + N), 0, std::size_t(ldb - N) * sizeof(T));
    }
  } else {
    // Interleave g consecutive source rows column by column; rows past K read as zero.
    for (std::int64_t r = 0; r < rows; ++r) {
      T* out = dst + r * ldb * g;
      const T* in[g];
      for (std::int64_t q = 0; q < g; ++q) in[q] = r * g + q < K ? src + (r * g + q) * lds : nullptr;
      for (std::int64_t n = 0; n < N; ++n)
        for (std::int64_t q = 0; q < g; ++q) out[n * g + q] = in[q] ? in[q][n] : T{};
      std::memset(static_cast<void*>(out + N * g), 0, std::size_t((ldb - N) * g) * sizeof(T));
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
