// medkern/kernels/concat/registry.hpp — concat kernels, best first; ref last.
#pragma once

#include <array>

#include "medkern/kernels/concat/avx512.hpp"
#include "medkern/kernels/concat/ref.hpp"

namespace medkern::kernels::concat {

template <class Impl>
constexpr ConcatRow row(Isa isa) {
  return ConcatRow{Impl::name, isa, nullptr, &Impl::copy, &Impl::repack};
}

inline constexpr std::array<ConcatRow, 2> kRegistry = {
    row<impl<isa::avx512_t>>(Isa::avx512),
    row<impl<isa::ref_t>>(Isa::ref),
};

}  // namespace medkern::kernels::concat
