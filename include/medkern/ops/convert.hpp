// medkern/ops/convert.hpp — element conversions between f32 and bf16 (round to nearest even).
#pragma once

#include <cstdint>

#include "medkern/core/tensor.hpp"
#include "medkern/core/threading.hpp"

namespace medkern::ops {

/// dst[i] = bf16(src[i]) with round-to-nearest-even, NaN kept NaN.
inline void convert_f32_to_bf16(const float* src, bf16* dst, std::int64_t n) {
  parallel_for_1d(n, 1 << 16, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) dst[i] = bf16(src[i]);
  });
}

/// dst[i] = float(src[i]) (exact).
inline void convert_bf16_to_f32(const bf16* src, float* dst, std::int64_t n) {
  parallel_for_1d(n, 1 << 16, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) dst[i] = float(src[i]);
  });
}

}  // namespace medkern::ops
