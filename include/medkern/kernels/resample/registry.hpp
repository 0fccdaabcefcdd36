// medkern/kernels/resample/registry.hpp — every resampling kernel, best first; ref last.
#pragma once

#include <array>

#include "medkern/kernels/resample/avx512.hpp"
#include "medkern/kernels/resample/ref.hpp"

namespace medkern::kernels::resample {

template <class Impl>
constexpr ResampleRow row(Isa isa) {
  return ResampleRow{Impl::name, isa, &Impl::supports, &Impl::run};
}

inline constexpr std::array<ResampleRow, 2> kRegistry = {
    row<impl<isa::avx512_t>>(Isa::avx512),
    row<impl<isa::ref_t>>(Isa::ref),
};

}  // namespace medkern::kernels::resample
