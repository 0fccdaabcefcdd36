// medkern/radiomics/glrlm.hpp — gray level run length matrices, one per angle (pyradiomics 3.1).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "medkern/kernels/radiomics/ref.hpp"
#include "medkern/radiomics/glcm.hpp"
#include "medkern/radiomics/grid.hpp"

namespace medkern::radiomics {

namespace detail_glrlm {

// pyradiomics zeroes an angle along which no image line holds two ROI voxels (a 2-D ROI seen
// edge-on): true when some ROI voxel has another ROI voxel further along its line.
inline bool angle_has_multi_element_line(const LevelsView& in, const PaddedLevels& p,
                                         const Angle& a) {
  for (std::int64_t z = 0; z < in.nz; ++z)
    for (std::int64_t y = 0; y < in.ny; ++y)
      for (std::int64_t x = 0; x < in.nx; ++x) {
        if (in.data[(z * in.ny + y) * in.nx + x] <= 0) continue;
        std::int64_t cz = z + a[0], cy = y + a[1], cx = x + a[2];
        while (cz >= 0 && cz < in.nz && cy >= 0 && cy < in.ny && cx >= 0 && cx < in.nx) {
          if (p.lv[std::size_t(p.index_of(cz, cy, cx))] > 0) return true;
          cz += a[0];
          cy += a[1];
          cx += a[2];
        }
      }
  return false;
}

}  // namespace detail_glrlm

/// counts: (angles, ng, nr) with nr = the largest volume size; entry (a, i-1, r-1) = #maximal
/// runs of ROI voxels of level i and length r along angle a (one direction per angle).
inline AngleMatrices glrlm_matrix(const LevelsView& in, bool force2d, int force2d_dim,
                                  std::int64_t* nr_out) {
  constexpr const char* op = "glrlm";
  AngleMatrices r;
  r.ng = check_levels(in, op);
  r.angles = generate_angles(in.nz, in.ny, in.nx, {1}, false, force2d ? force2d_dim : -1, op);
  const std::int64_t na = std::int64_t(r.angles.size()), ng = r.ng;
  const std::int64_t nr = std::max({in.nz, in.ny, in.nx});
  *nr_out = nr;
  const std::int64_t per_angle = detail::checked_mul(ng, nr, op);
  r.counts.assign(std::size_t(detail::checked_mul(na, per_angle, op)), 0.0);
  if (na == 0) return r;
  const PaddedLevels p = pad_levels(in, r.angles);
  const std::int64_t n_roi = std::int64_t(p.roi.size());
  parallel_tasks(na, [&](std::int64_t a) {
    const Angle& ang = r.angles[std::size_t(a)];
    double* t = r.counts.data() + a * per_angle;
    if (!detail_glrlm::angle_has_multi_element_line(in, p, ang)) return;
    kernels::radiomics::glrlm_accumulate(p.lv.data(), p.roi.data(), n_roi, p.offset_of(ang), ng,
                                         nr, t);
  });
  return r;
}

}  // namespace medkern::radiomics
