// medkern/kernels/reorder/registry.hpp — every reorder variant, best first; ref last.
//
// Reorders move bits, so rows are keyed by element size, not dtype: x32 serves f32 and s32,
// x16 bf16, x8 s8 and u8. Each row handles every pair of formats (planar, channels_last,
// blocked16). Ops, tests and benchmarks all iterate this one list; select() takes the first
// row whose ISA is available and whose supports() accepts the problem.
#pragma once

#include <array>

#include "medkern/kernels/reorder/avx512.hpp"
#include "medkern/kernels/reorder/ref.hpp"

namespace medkern::kernels::reorder {

template <class Impl>
constexpr ReorderRow row(const char* name, Isa isa) {
  return ReorderRow{name, isa, &Impl::supports, &Impl::run};
}

inline constexpr std::array<ReorderRow, 4> kRegistry = {
    row<impl<isa::avx512_t>::x32>("reorder_x32__avx512", Isa::avx512),
    row<impl<isa::avx512_t>::x16>("reorder_x16__avx512", Isa::avx512),
    row<impl<isa::avx512_t>::x8>("reorder_x8__avx512", Isa::avx512),
    row<impl<isa::ref_t>>(impl<isa::ref_t>::name, Isa::ref),
};

}  // namespace medkern::kernels::reorder
