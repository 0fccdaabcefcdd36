// medkern/radiomics/ngtdm.hpp — neighbouring gray tone difference matrix (pyradiomics 3.1).
#pragma once

#include <cstdint>
#include <vector>

#include "medkern/kernels/radiomics/ref.hpp"
#include "medkern/radiomics/glcm.hpp"
#include "medkern/radiomics/grid.hpp"

namespace medkern::radiomics {

/// counts: (ng, 2); entry (i-1, 0) = #ROI voxels of level i, (i-1, 1) = sum over them of
/// |i - mean level of their ROI neighbours| (the centre excluded, 0 without neighbours).
inline AngleMatrices ngtdm_matrix(const LevelsView& in, const std::vector<int>& distances,
                                  bool force2d, int force2d_dim) {
  constexpr const char* op = "ngtdm";
  AngleMatrices r;
  r.ng = check_levels(in, op);
  r.angles = generate_angles(in.nz, in.ny, in.nx, distances, true, force2d ? force2d_dim : -1, op);
  const std::int64_t na = std::int64_t(r.angles.size()), ng = r.ng;
  r.counts.assign(std::size_t(ng * 2), 0.0);
  const PaddedLevels p = pad_levels(in, r.angles);
  std::vector<std::int64_t> off;
  for (const Angle& a : r.angles) off.push_back(p.offset_of(a));
  accumulate_chunks(std::int64_t(p.roi.size()), std::int64_t(r.counts.size()), r.counts.data(),
                    [&](std::int64_t b, std::int64_t e, double* t) {
                      kernels::radiomics::ngtdm_accumulate(p.lv.data(), p.roi.data() + b, e - b,
                                                           off.data(), na, t);
                    });
  return r;
}

}  // namespace medkern::radiomics
