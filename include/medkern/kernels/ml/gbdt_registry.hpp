// medkern/kernels/ml/gbdt_registry.hpp — histogram gradient boosting kernel sets, best first;
// ref last. The booster selects one row per fit/predict; tests iterate every row the CPU has.
#pragma once

#include <array>

#include "medkern/core/dispatch.hpp"
#include "medkern/kernels/ml/gbdt_avx512.hpp"
#include "medkern/kernels/ml/gbdt_ref.hpp"

namespace medkern::kernels::gbdt {

/// Every problem is supported by every row; the descriptor exists for select()'s signature.
struct GbdtDesc {};

struct GbdtRegistryRow {
  GbdtRow k;
  Isa isa;
  bool (*supports)(const GbdtDesc&);
};

inline constexpr std::array<GbdtRegistryRow, 2> kRegistry = {
    GbdtRegistryRow{gbdt_row<impl<isa::avx512_t>>(Isa::avx512), Isa::avx512, nullptr},
    GbdtRegistryRow{gbdt_row<impl<isa::ref_t>>(Isa::ref), Isa::ref, nullptr},
};

/// The kernel set for the active ISA (ref is always available).
inline const GbdtRow& active_kernels() {
  const GbdtRegistryRow* r = select(kRegistry, GbdtDesc{}, active_isa());
  return r != nullptr ? r->k : kRegistry.back().k;
}

}  // namespace medkern::kernels::gbdt
