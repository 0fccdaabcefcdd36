// medkern/kernels/ml/registry.hpp — the classical-ML kernel sets, best first; ref last.
//
// The solvers in ml/ select one row per call (select() with the active ISA); tests iterate
// every row the CPU supports.
#pragma once

#include <array>

#include "medkern/core/dispatch.hpp"
#include "medkern/kernels/ml/avx2.hpp"
#include "medkern/kernels/ml/avx512.hpp"
#include "medkern/kernels/ml/ref.hpp"

namespace medkern::kernels::ml {

/// Every problem is supported by every row; the descriptor exists for select()'s signature.
struct MlDesc {};

struct MlRegistryRow {
  MlRow k;
  Isa isa;
  bool (*supports)(const MlDesc&);
};

inline constexpr std::array<MlRegistryRow, 3> kRegistry = {
    MlRegistryRow{ml_row<impl<isa::avx512_t>>(Isa::avx512), Isa::avx512, nullptr},
    MlRegistryRow{ml_row<impl<isa::avx2_t>>(Isa::avx2), Isa::avx2, nullptr},
    MlRegistryRow{ml_row<impl<isa::ref_t>>(Isa::ref), Isa::ref, nullptr},
};

/// The kernel set for the active ISA (ref is always available).
inline const MlRow& active_kernels() {
  const MlRegistryRow* r = select(kRegistry, MlDesc{}, active_isa());
  return r != nullptr ? r->k : kRegistry.back().k;
}

/// Typed access to a row's kernels.
template <class T>
struct Ops {
  const MlRow& k;
  T dot(const T* x, const T* y, std::int64_t n) const noexcept {
    if constexpr (sizeof(T) == 8)
      return k.dot_f64(x, y, n);
    else
      return k.dot_f32(x, y, n);
  }
  void axpy(T a, const T* x, T* y, std::int64_t n) const noexcept {
    if constexpr (sizeof(T) == 8)
      k.axpy_f64(a, x, y, n);
    else
      k.axpy_f32(a, x, y, n);
  }
  void gram_tile(const T* pa, const T* pb, std::int64_t kc, int nb, T* c,
                 std::int64_t ldc) const noexcept {
    if constexpr (sizeof(T) == 8)
      k.gram_tile_f64(pa, pb, kc, nb, c, ldc);
    else
      k.gram_tile_f32(pa, pb, kc, nb, c, ldc);
  }
};

}  // namespace medkern::kernels::ml
