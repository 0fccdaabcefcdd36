// medkern/core/error.hpp — the exceptions of the public API and their message helpers.
//
// Messages follow "op: what value, which rule (context)", e.g.
//   "matmul: inner dimensions 3 and 4 must match (a 2x3, b 4x5)".
// Validation happens at the op boundary before any work starts; kernels never throw.
#pragma once

#include <cstdint>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace medkern {

/// Bad shape, size, stride, dtype combination or setting: Python ValueError.
class ShapeError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// Valid request that this build or this CPU cannot serve: Python RuntimeError.
class UnsupportedError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {

template <class... Args>
std::string concat(Args&&... args) {
  std::ostringstream os;
  (os << ... << std::forward<Args>(args));
  return os.str();
}

template <class... Args>
[[noreturn]] void throw_shape(Args&&... args) {
  throw ShapeError(concat(std::forward<Args>(args)...));
}

template <class... Args>
[[noreturn]] void throw_unsupported(Args&&... args) {
  throw UnsupportedError(concat(std::forward<Args>(args)...));
}

/// a*b, or a ShapeError naming `op` when the product overflows int64 or a factor is negative.
inline std::int64_t checked_mul(std::int64_t a, std::int64_t b, const char* op) {
  if (a < 0 || b < 0) throw_shape(op, ": size ", a < 0 ? a : b, " must be non-negative");
  std::int64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r))
    throw_shape(op, ": size ", a, " x ", b, " overflows 64-bit indexing");
  return r;
}

}  // namespace detail
}  // namespace medkern
