// medkern/core/tensor.hpp — dtypes, bf16, and TensorView: a non-owning, byte-strided view.
//
// Strides are in bytes, as numpy reports them, so a view of any numpy array is exact.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "medkern/core/error.hpp"

namespace medkern {

enum class DType : std::uint8_t { f32, bf16, s8, u8, s32 };

constexpr std::size_t dtype_size(DType t) noexcept {
  switch (t) {
    case DType::f32: return 4;
    case DType::bf16: return 2;
    case DType::s8: return 1;
    case DType::u8: return 1;
    case DType::s32: return 4;
  }
  return 0;
}

constexpr std::string_view dtype_name(DType t) noexcept {
  switch (t) {
    case DType::f32: return "f32";
    case DType::bf16: return "bf16";
    case DType::s8: return "s8";
    case DType::u8: return "u8";
    case DType::s32: return "s32";
  }
  return "?";
}

/// bfloat16: the upper 16 bits of an IEEE float. Conversion from float rounds to nearest even
/// and keeps NaN a (quiet) NaN, as vcvtneps2bf16 does.
struct bf16 {
  std::uint16_t bits = 0;

  bf16() = default;
  static constexpr bf16 from_bits(std::uint16_t b) noexcept {
    bf16 r;
    r.bits = b;
    return r;
  }
  explicit bf16(float f) noexcept : bits(round(f)) {}
  explicit operator float() const noexcept {
    const std::uint32_t u = std::uint32_t(bits) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }

  static std::uint16_t round(float f) noexcept {
    std::uint32_t u;
    std::memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return std::uint16_t((u >> 16) | 0x40u);  // quiet NaN
    u += 0x7fffu + ((u >> 16) & 1u);
    return std::uint16_t(u >> 16);
  }
};
static_assert(sizeof(bf16) == 2);

template <class T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::f32; };
template <> struct dtype_of<bf16> { static constexpr DType value = DType::bf16; };
template <> struct dtype_of<std::int8_t> { static constexpr DType value = DType::s8; };
template <> struct dtype_of<std::uint8_t> { static constexpr DType value = DType::u8; };
template <> struct dtype_of<std::int32_t> { static constexpr DType value = DType::s32; };

inline constexpr int kMaxRank = 8;

/// A non-owning view of a strided n-d array. Strides are in bytes.
struct TensorView {
  void* data = nullptr;
  DType dtype = DType::f32;
  int rank = 0;
  std::array<std::int64_t, kMaxRank> shape{};
  std::array<std::int64_t, kMaxRank> strides{};  // bytes

  /// A C-contiguous view of `shape`.
  static TensorView contiguous(void* data, DType dtype, std::initializer_list<std::int64_t> shape) {
    TensorView v;
    v.data = data;
    v.dtype = dtype;
    if (shape.size() > kMaxRank) detail::throw_shape("TensorView: rank ", shape.size(), " exceeds ", kMaxRank);
    v.rank = int(shape.size());
    int i = 0;
    for (std::int64_t s : shape) v.shape[std::size_t(i++)] = s;
    v.set_contiguous_strides();
    return v;
  }

  void set_contiguous_strides() {
    std::int64_t s = std::int64_t(dtype_size(dtype));
    for (int i = rank - 1; i >= 0; --i) {
      strides[std::size_t(i)] = s;
      s *= shape[std::size_t(i)] > 0 ? shape[std::size_t(i)] : 1;
    }
  }

  std::int64_t numel() const noexcept {
    std::int64_t n = 1;
    for (int i = 0; i < rank; ++i) n *= shape[std::size_t(i)];
    return n;
  }

  bool is_contiguous() const noexcept {
    if (numel() == 0) return true;  // nothing to address; numpy gives such views any strides
    std::int64_t s = std::int64_t(dtype_size(dtype));
    for (int i = rank - 1; i >= 0; --i) {
      const std::int64_t n = shape[std::size_t(i)];
      if (n != 1 && strides[std::size_t(i)] != s) return false;
      s *= n;
    }
    return true;
  }

  template <class T>
  T* ptr() const noexcept {
    return static_cast<T*>(data);
  }

  /// "1x3x224x224" for messages.
  std::string shape_str() const {
    std::string s;
    for (int i = 0; i < rank; ++i) {
      if (i) s += "x";
      s += std::to_string(shape[std::size_t(i)]);
    }
    return rank == 0 ? "scalar" : s;
  }
};

/// Byte range [lo, hi) a strided view touches (empty views give lo == hi).
inline std::pair<const char*, const char*> extent_of(const TensorView& t) {
  const char* lo = static_cast<const char*>(t.data);
  const char* hi = lo;
  for (int i = 0; i < t.rank; ++i) {
    const std::int64_t ext = (t.shape[std::size_t(i)] - 1) * t.strides[std::size_t(i)];
    if (t.shape[std::size_t(i)] == 0) return {lo, lo};
    (ext < 0 ? lo : hi) += ext;
  }
  return {lo, hi + std::int64_t(dtype_size(t.dtype))};
}

/// Whether two strided views share any byte of their extents (empty views never do).
inline bool overlap(const TensorView& a, const TensorView& b) {
  const auto [a0, a1] = extent_of(a);
  const auto [b0, b1] = extent_of(b);
  return a0 < a1 && b0 < b1 && a0 < b1 && b0 < a1;
}

}  // namespace medkern
