// medkern/kernels/radiomics/ref.hpp — accumulation loops of the radiomics texture matrices.
//
// Contract (all kernels):
//   lv      gray levels of a zero-padded volume, int32, row-major (z, y, x); a value > 0 is a
//           ROI voxel with that gray level, 0 is outside the ROI or in the padding. The padding
//           is at least as wide as the largest offset along each axis, so lv[v + off] is always
//           readable for a ROI voxel v: no bounds checks in the loops.
//   roi     linear indices (into lv) of the ROI voxels, in raster order.
//   off     linear offsets of the neighbour directions ("angles"), na of them.
//   ng      the largest gray level; levels lie in 1..ng.
// Outputs are accumulated (+=) in double, which holds every count exactly (< 2^53); callers
// zero them and sum per-chunk partials, so a chunked parallel run equals a serial one.
//
//   glcm   out[(a*ng + i-1)*ng + j-1] += #{v : lv[v] = i, lv[v + off[a]] = j}
//   gldm   out[(i-1)*(na+1) + d]      += #{v : lv[v] = i, d = #{a : lv[v+off[a]] > 0,
//                                                               |lv[v+off[a]] - i| <= alpha}}
//   ngtdm  out[(i-1)*2 + 0] += #{v : lv[v] = i};  out[(i-1)*2 + 1] += |i - mean of the ROI
//          neighbours of v| (0 when v has none)
//   glrlm  out[(a*ng + i-1)*nr + r-1] += #{maximal runs of level i and length r along off[a]}
//          (a run starts at v when lv[v - off[a]] != lv[v]; the padding bounds every run)
//   glszm  zones: connected sets of equal level under the neighbour set `off` (both signs
//          given explicitly); returns the zone count, writing (level, size) per zone.
// Work: O(|roi| * na) for all but glrlm, O(|roi| + runs) per angle for glrlm. These loops are
// scatter increments into small tables: memory-latency bound, which is why there is only this
// scalar version (the op layer parallelises over ROI chunks).
#pragma once

#include <cstdint>
#include <cstdlib>

#include "medkern/core/config.hpp"

namespace medkern::kernels::radiomics {

inline void glcm_accumulate(const std::int32_t* lv, const std::int64_t* roi, std::int64_t n_roi,
                            const std::int64_t* off, std::int64_t na, std::int64_t ng,
                            double* out) noexcept {
  for (std::int64_t k = 0; k < n_roi; ++k) {
    const std::int64_t v = roi[k];
    const std::int32_t g = lv[v];
    MEDKERN_DCHECK(g >= 1 && g <= ng);
    double* row = out + (g - 1) * ng;
    for (std::int64_t a = 0; a < na; ++a) {
      const std::int32_t h = lv[v + off[a]];
      if (h > 0) row[a * ng * ng + h - 1] += 1.0;
    }
  }
}

inline void gldm_accumulate(const std::int32_t* lv, const std::int64_t* roi, std::int64_t n_roi,
                            const std::int64_t* off, std::int64_t na, std::int32_t alpha,
                            double* out) noexcept {
  for (std::int64_t k = 0; k < n_roi; ++k) {
    const std::int64_t v = roi[k];
    const std::int32_t g = lv[v];
    std::int64_t dep = 0;
    for (std::int64_t a = 0; a < na; ++a) {
      const std::int32_t h = lv[v + off[a]];
      dep += int(h > 0) & int(std::abs(h - g) <= alpha);  // branch-free: textures defeat prediction
    }
    out[(g - 1) * (na + 1) + dep] += 1.0;
  }
}

inline void ngtdm_accumulate(const std::int32_t* lv, const std::int64_t* roi, std::int64_t n_roi,
                             const std::int64_t* off, std::int64_t na, double* out) noexcept {
  for (std::int64_t k = 0; k < n_roi; ++k) {
    const std::int64_t v = roi[k];
    const std::int32_t g = lv[v];
    std::int64_t count = 0, sum = 0;
    for (std::int64_t a = 0; a < na; ++a) {
      const std::int32_t h = lv[v + off[a]];
      count += h > 0 ? 1 : 0;
      sum += h;  // h == 0 outside the ROI adds nothing
    }
    double diff = 0.0;
    if (count > 0) diff = double(g) - double(sum) / double(count);
    out[(g - 1) * 2] += 1.0;
    out[(g - 1) * 2 + 1] += diff < 0 ? -diff : diff;
  }
}

inline void glrlm_accumulate(const std::int32_t* lv, const std::int64_t* roi, std::int64_t n_roi,
                             std::int64_t off, std::int64_t ng, std::int64_t nr,
                             double* out) noexcept {
  for (std::int64_t k = 0; k < n_roi; ++k) {
    const std::int64_t v = roi[k];
    const std::int32_t g = lv[v];
    if (lv[v - off] == g) continue;  // not the first voxel of its run
    std::int64_t r = 1;
    for (std::int64_t w = v + off; lv[w] == g; w += off) ++r;
    MEDKERN_DCHECK(r <= nr);
    out[(g - 1) * nr + r - 1] += 1.0;
  }
  (void)ng;
}

/// Connected zones of equal gray level. `work` (a writable copy of lv) is consumed: a voxel's
/// level is zeroed once it joins a zone, so one compare tests both "same level" and "not yet
/// taken". `stack` holds n_roi entries. Writes zone_level[z], zone_size[z]; returns #zones.
inline std::int64_t glszm_zones(std::int32_t* work, const std::int64_t* roi, std::int64_t n_roi,
                                const std::int64_t* off, std::int64_t na, std::int64_t* stack,
                                std::int32_t* zone_level, std::int64_t* zone_size) noexcept {
  std::int64_t zones = 0;
  for (std::int64_t k = 0; k < n_roi; ++k) {
    const std::int64_t seed = roi[k];
    const std::int32_t g = work[seed];
    if (g == 0) continue;
    std::int64_t top = 0, size = 0;
    stack[top++] = seed;
    work[seed] = 0;
    while (top > 0) {
      const std::int64_t v = stack[--top];
      ++size;
      for (std::int64_t a = 0; a < na; ++a) {
        const std::int64_t w = v + off[a];
        if (work[w] == g) {
          work[w] = 0;
          stack[top++] = w;
        }
      }
    }
    zone_level[zones] = g;
    zone_size[zones] = size;
    ++zones;
  }
  return zones;
}

}  // namespace medkern::kernels::radiomics
