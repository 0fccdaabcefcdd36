// medkern/kernels/pool/registry.hpp — every pooling kernel, best first; ref last.
//
// There is no AVX2 row yet: under an avx2 cap pooling runs the scalar reference.
#pragma once

#include <array>

#include "medkern/kernels/pool/avx512.hpp"
#include "medkern/kernels/pool/ref.hpp"

namespace medkern::kernels::pool {

template <class Impl>
constexpr PoolRow row(Isa isa) {
  return PoolRow{Impl::name, isa, &Impl::supports, &Impl::run, &Impl::run_blocked};
}

inline constexpr std::array<PoolRow, 2> kRegistry = {
    row<impl<isa::avx512_t>>(Isa::avx512),
    row<impl<isa::ref_t>>(Isa::ref),
};

}  // namespace medkern::kernels::pool
