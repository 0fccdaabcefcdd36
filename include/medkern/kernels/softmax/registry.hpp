// medkern/kernels/softmax/registry.hpp — every softmax kernel, best first; ref last.
#pragma once

#include <array>

#include "medkern/kernels/softmax/avx512.hpp"
#include "medkern/kernels/softmax/ref.hpp"

namespace medkern::kernels::softmax {

template <class Impl>
constexpr SoftmaxRow row(Isa isa) {
  return SoftmaxRow{Impl::name, isa, &Impl::supports, &Impl::run};
}

inline constexpr std::array<SoftmaxRow, 2> kRegistry = {
    row<impl<isa::avx512_t>>(Isa::avx512),
    row<impl<isa::ref_t>>(Isa::ref),
};

}  // namespace medkern::kernels::softmax
