// medkern/kernels/conv/depthwise/registry.hpp — every depthwise kernel, best first; ref last.
#pragma once

#include <array>

#include "medkern/kernels/conv/depthwise/avx512.hpp"
#include "medkern/kernels/conv/depthwise/ref.hpp"

namespace medkern::kernels::conv::depthwise {

template <class Impl>
constexpr DwRow row(Isa isa) {
  return DwRow{Impl::name, isa, &Impl::supports, &Impl::run};
}

inline constexpr std::array<DwRow, 2> kDwRegistry = {
    row<impl<isa::avx512_t>>(Isa::avx512),
    row<impl<isa::ref_t>>(Isa::ref),
};

}  // namespace medkern::kernels::conv::depthwise
