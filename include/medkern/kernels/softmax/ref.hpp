// medkern/kernels/softmax/ref.hpp — reference softmax along one dimension: the oracle.
//
// Contract. A C-contiguous f32 tensor is viewed as (outer, L, inner): the softmax dimension
// has L entries at stride `inner`. A unit of work is one outer index o and a run [i0, i1) of
// inner positions (for NCHW along C: o = image, inner = H*W pixels). For each position:
//   m = max_l x[l], y[l] = exp(x[l] - m) / sum_l exp(x[l] - m)
// (stable: every exponent is <= 0). Sums in f32. src and dst may be the same array (the
// kernels read each element before writing it), otherwise must not overlap.
// Kernels are single-threaded, allocate nothing, validate nothing and never throw.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

#include "medkern/core/config.hpp"
#include "medkern/core/error.hpp"
#include "medkern/core/isa.hpp"

namespace medkern::kernels::softmax {

struct SoftmaxDesc {
  std::int64_t outer = 1, L = 1, inner = 1;
};

using SoftmaxFn = void (*)(const SoftmaxDesc& d, const float* src, float* dst, std::int64_t o,
                           std::int64_t i0, std::int64_t i1) noexcept;

struct SoftmaxRow {
  const char* name;  ///< "softmax_f32__avx512"
  Isa isa;
  bool (*supports)(const SoftmaxDesc&);
  SoftmaxFn run;
};

inline std::string describe(const SoftmaxDesc& d) {
  return medkern::detail::concat("outer=", d.outer, ",L=", d.L, ",inner=", d.inner);
}

template <class IsaTag>
struct impl;

template <>
struct impl<isa::ref_t> {
  static constexpr const char* name = "softmax_f32__ref";

  static bool supports(const SoftmaxDesc&) { return true; }

  static void run(const SoftmaxDesc& d, const float* src, float* dst, std::int64_t o,
                  std::int64_t i0, std::int64_t i1) noexcept {
    MEDKERN_DCHECK(o >= 0 && o < d.outer && i0 >= 0 && i0 <= i1 && i1 <= d.inner);
    const std::int64_t base = o * d.L * d.inner;
    for (std::int64_t i = i0; i < i1; ++i) {
      const float* x = src + base + i;
      float* y = dst + base + i;
      float m = x[0];
      for (std::int64_t l = 1; l < d.L; ++l) m = std::fmax(m, x[l * d.inner]);
      float sum = 0.f;
      for (std::int64_t l = 0; l < d.L; ++l) {
        const float e = std::exp(x[l * d.inner] - m);
        y[l * d.inner] = e;
        sum += e;
      }
      const float inv = 1.f / sum;
      for (std::int64_t l = 0; l < d.L; ++l) y[l * d.inner] *= inv;
    }
  }
};

}  // namespace medkern::kernels::softmax
