// medkern/kernels/conv/winograd/registry.hpp — every Winograd transform row, best first; ref
// last.
//
// No AVX2 row: the op takes the Winograd algorithm only beside the AVX-512 direct kernel (its
// GEMMs); the ref row is the tests' oracle.
#pragma once

#include <array>

#include "medkern/kernels/conv/winograd/avx512.hpp"
#include "medkern/kernels/conv/winograd/ref.hpp"

namespace medkern::kernels::conv::winograd {

template <class Impl>
constexpr WinoRow row(Isa isa) {
  return WinoRow{Impl::name, isa, &Impl::supports, &Impl::input_tile, &Impl::output_tile};
}

inline constexpr std::array<WinoRow, 2> kWinoRegistry = {
    row<impl<isa::avx512_t>>(Isa::avx512),
    row<impl<isa::ref_t>>(Isa::ref),
};

}  // namespace medkern::kernels::conv::winograd
