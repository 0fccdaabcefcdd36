// medkern/kernels/brgemm/registry.hpp — every BRGEMM variant, best first; ref last.
//
// Ops, tests and benchmarks all iterate this one list: select() takes the first row whose ISA
// is available and whose supports() accepts the problem.
#pragma once

#include <array>

#include "medkern/kernels/brgemm/amx.hpp"
#include "medkern/kernels/brgemm/avx2.hpp"
#include "medkern/kernels/brgemm/avx512.hpp"
#include "medkern/kernels/brgemm/avx512_bf16.hpp"
#include "medkern/kernels/brgemm/avx512_vnni.hpp"
#include "medkern/kernels/brgemm/ref.hpp"

namespace medkern::kernels::brgemm {

template <class Impl>
constexpr BrgemmRow row(Isa isa) {
  return BrgemmRow{Impl::name, isa, &Impl::supports, &Impl::run};
}

inline constexpr std::array<BrgemmRow, 6> kRegistry = {
    row<impl<isa::amx_t>>(Isa::amx),
    row<impl<isa::avx512_bf16_t>>(Isa::avx512_bf16),
    row<impl<isa::avx512_vnni_t>>(Isa::avx512_vnni),
    row<impl<isa::avx512_t>>(Isa::avx512),
    row<impl<isa::avx2_t>>(Isa::avx2),
    row<impl<isa::ref_t>>(Isa::ref),
};

}  // namespace medkern::kernels::brgemm
