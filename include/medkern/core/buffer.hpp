// medkern/core/buffer.hpp — aligned owning buffers.
//
// 64-byte alignment (a cache line and a zmm register); sizes are overflow-checked and an
// allocation failure is std::bad_alloc (Python MemoryError).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <type_traits>
#include <utility>

#include "medkern/core/error.hpp"

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace medkern {

inline constexpr std::size_t kDefaultAlignment = 64;
inline constexpr std::int64_t kHugePageBytes = std::int64_t(2) << 20;

/// Owning, aligned, uninitialised array of trivially copyable T.
template <class T>
class AlignedBuffer {
  static_assert(std::is_trivially_copyable_v<T>, "AlignedBuffer holds trivially copyable data");

 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(std::int64_t n, std::size_t alignment = kDefaultAlignment) {
    allocate(n, alignment);
  }
  AlignedBuffer(AlignedBuffer&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  AlignedBuffer& operator=(AlignedBuffer&& o) noexcept {
    if (this != &o) {
      std::free(data_);
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  ~AlignedBuffer() { std::free(data_); }

  /// Replaces the contents with `n` uninitialised elements.
  void allocate(std::int64_t n, std::size_t alignment = kDefaultAlignment) {
    const std::int64_t bytes = detail::checked_mul(n, std::int64_t(sizeof(T)), "AlignedBuffer");
    std::free(data_);
    data_ = nullptr;
    size_ = 0;
    if (bytes == 0) return;
    // Large buffers (packed weights, scratch) go on 2 MiB-aligned memory advised for
    // transparent huge pages: first touch then costs one fault per 2 MiB instead of per
    // 4 KiB, which otherwise dominates packing a few MiB of weights (bench: gemm_f32 pack).
    if (bytes >= kHugePageBytes) alignment = std::max<std::size_t>(alignment, kHugePageBytes);
    // aligned_alloc needs a size that is a multiple of the alignment.
    const std::int64_t rounded =
        (bytes + std::int64_t(alignment) - 1) / std::int64_t(alignment) * std::int64_t(alignment);
    void* p = std::aligned_alloc(alignment, std::size_t(rounded));
    if (p == nullptr) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (bytes >= kHugePageBytes) madvise(p, std::size_t(rounded), MADV_HUGEPAGE);
#endif
    data_ = static_cast<T*>(p);
    size_ = n;
  }

  void fill_zero() noexcept {
    if (data_) std::memset(static_cast<void*>(data_), 0, std::size_t(size_) * sizeof(T));
  }

  T* data() noexcept { return data_; }
  const T* data() const noexcept { return data_; }
  std::int64_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  T& operator[](std::int64_t i) noexcept { return data_[i]; }
  const T& operator[](std::int64_t i) const noexcept { return data_[i]; }

 private:
  T* data_ = nullptr;
  std::int64_t size_ = 0;
};

}  // namespace medkern
