// medkern/kernels/conv/dot/registry.hpp — every few-output 1x1 kernel, best first; ref last.
//
// No AVX2 row: under an avx2 cap the op keeps the im2col / direct paths (the ref row is the
// tests' oracle, not a path the op takes).
#pragma once

#include <array>

#include "medkern/kernels/conv/dot/avx512.hpp"
#include "medkern/kernels/conv/dot/ref.hpp"

namespace medkern::kernels::conv::dot {

template <class Impl>
constexpr DotRow row(Isa isa) {
  return DotRow{Impl::name, isa, &Impl::supports, &Impl::run};
}

inline constexpr std::array<DotRow, 2> kDotRegistry = {
    row<impl<isa::avx512_t>>(Isa::avx512),
    row<impl<isa::ref_t>>(Isa::ref),
};

}  // namespace medkern::kernels::conv::dot
