// medkern/kernels/conv/registry.hpp — every direct convolution kernel, best first; ref last.
//
// There is no AVX2 row: under an avx2 cap the op's heuristic (ops/conv.hpp) takes im2col +
// the AVX2 BRGEMM instead of the scalar direct kernel. Ops, tests and benchmarks iterate this
// one list; select() takes the first row whose ISA is available and whose supports() accepts.
#pragma once

#include <array>

#include "medkern/kernels/conv/avx512.hpp"
#include "medkern/kernels/conv/ref.hpp"

namespace medkern::kernels::conv {

template <class Impl>
constexpr DirectRow row(Isa isa) {
  return DirectRow{Impl::name, isa, &Impl::supports, &Impl::run, &Impl::to_blocked,
                   &Impl::from_blocked};
}

inline constexpr std::array<DirectRow, 2> kDirectRegistry = {
    row<impl<isa::avx512_t>>(Isa::avx512),
    row<impl<isa::ref_t>>(Isa::ref),
};

}  // namespace medkern::kernels::conv
