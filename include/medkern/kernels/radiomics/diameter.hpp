// medkern/kernels/radiomics/diameter.hpp — largest squared distance from one point to a run of
// points, the inner loop of the shape classes' maximum diameters (O(V^2) over mesh vertices).
//
// Contract: max_sq_dist(ax, ay, az, bx, by, bz, n) = max_i (ax-bx[i])^2 + (ay-by[i])^2
//   + (az-bz[i])^2, 0 when n == 0; bz == nullptr means 2-D (the z term is absent). max is
//   order-free; the vector row may fuse a multiply-add, so rows agree to a few ulp. 8 FLOP per
//   point.
// AVX-512 plan: 8 doubles per step, 2 independent max accumulators, masked tail (nothing read
//   past n).
#pragma once

#include <immintrin.h>

#include <array>
#include <cstdint>

#include "medkern/core/config.hpp"
#include "medkern/core/dispatch.hpp"
#include "medkern/core/isa.hpp"

namespace medkern::kernels::radiomics {

struct DiameterRow {
  const char* name;
  Isa isa;
  bool (*supports)(const int&);
  double (*max_sq_dist)(double, double, double, const double*, const double*, const double*,
                        std::int64_t) noexcept;
};

inline double max_sq_dist_ref(double ax, double ay, double az, const double* bx,
                              const double* by, const double* bz, std::int64_t n) noexcept {
  double m = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const double dx = ax - bx[i], dy = ay - by[i], dz = bz ? az - bz[i] : 0.0;
    const double d = dx * dx + dy * dy + dz * dz;
    m = d > m ? d : m;
  }
  return m;
}

}  // namespace medkern::kernels::radiomics

MEDKERN_ISA_BEGIN(avx512)
namespace medkern::kernels::radiomics {

inline double max_sq_dist_avx512(double ax, double ay, double az, const double* bx,
                                 const double* by, const double* bz, std::int64_t n) noexcept {
  const __m512d vx = _mm512_set1_pd(ax), vy = _mm512_set1_pd(ay), vz = _mm512_set1_pd(az);
  __m512d m0 = _mm512_setzero_pd(), m1 = _mm512_setzero_pd();
  auto dist = [&](__m512d x, __m512d y, __m512d z) {
    const __m512d dx = _mm512_sub_pd(vx, x), dy = _mm512_sub_pd(vy, y);
    __m512d d = _mm512_add_pd(_mm512_mul_pd(dx, dx), _mm512_mul_pd(dy, dy));
    if (bz) {
      const __m512d dz = _mm512_sub_pd(vz, z);
      d = _mm512_add_pd(d, _mm512_mul_pd(dz, dz));  // same association as the reference
    }
    return d;
  };
  std::int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512d z0 = bz ? _mm512_loadu_pd(bz + i) : vz, z1 = bz ? _mm512_loadu_pd(bz + i + 8) : vz;
    m0 = _mm512_max_pd(m0, dist(_mm512_loadu_pd(bx + i), _mm512_loadu_pd(by + i), z0));
    m1 = _mm512_max_pd(m1, dist(_mm512_loadu_pd(bx + i + 8), _mm512_loadu_pd(by + i + 8), z1));
  }
  for (; i < n; i += 8) {
    const std::int64_t r = n - i < 8 ? n - i : 8;
    const __mmask8 k = __mmask8((1u << r) - 1u);
    const __m512d z = bz ? _mm512_maskz_loadu_pd(k, bz + i) : vz;
    const __m512d d = dist(_mm512_maskz_loadu_pd(k, bx + i), _mm512_maskz_loadu_pd(k, by + i), z);
    m0 = _mm512_mask_max_pd(m0, k, m0, d);
  }
  return _mm512_reduce_max_pd(_mm512_max_pd(m0, m1));
}

}  // namespace medkern::kernels::radiomics
MEDKERN_ISA_END()

namespace medkern::kernels::radiomics {

inline constexpr std::array<DiameterRow, 2> kDiameterRegistry = {
    DiameterRow{"max_sq_dist_f64__avx512", Isa::avx512, nullptr, max_sq_dist_avx512},
    DiameterRow{"max_sq_dist_f64__ref", Isa::ref, nullptr, max_sq_dist_ref},
};

inline const DiameterRow& active_diameter_kernel() {
  const DiameterRow* r = select(kDiameterRegistry, 0, active_isa());
  return r != nullptr ? *r : kDiameterRegistry.back();
}

}  // namespace medkern::kernels::radiomics
