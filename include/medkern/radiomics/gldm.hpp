// medkern/radiomics/gldm.hpp — gray level dependence matrix as pyradiomics 3.1 counts it.
#pragma once

#include <cstdint>
#include <vector>

#include "medkern/kernels/radiomics/ref.hpp"
#include "medkern/radiomics/glcm.hpp"
#include "medkern/radiomics/grid.hpp"

namespace medkern::radiomics {

/// counts: (ng, angles + 1); entry (i-1, d) = #ROI voxels of level i with d dependent
/// neighbours (ROI neighbours over both directions of every angle with |level difference| <=
/// alpha). `angles` lists both directions.
inline AngleMatrices gldm_matrix(const LevelsView& in, const std::vector<int>& distances,
                                 int alpha, bool force2d, int force2d_dim) {
  constexpr const char* op = "gldm";
  if (alpha < 0) detail::throw_shape(op, ": gldm_a ", alpha, " must be >= 0");
  AngleMatrices r;
  r.ng = check_levels(in, op);
  r.angles = generate_angles(in.nz, in.ny, in.nx, distances, true, force2d ? force2d_dim : -1, op);
  const std::int64_t na = std::int64_t(r.angles.size()), ng = r.ng;
  r.counts.assign(std::size_t(detail::checked_mul(ng, na + 1, op)), 0.0);
  const PaddedLevels p = pad_levels(in, r.angles);
  std::vector<std::int64_t> off;
  for (const Angle& a : r.angles) off.push_back(p.offset_of(a));
  accumulate_chunks(std::int64_t(p.roi.size()), std::int64_t(r.counts.size()), r.counts.data(),
                    [&](std::int64_t b, std::int64_t e, double* t) {
                      kernels::radiomics::gldm_accumulate(p.lv.data(), p.roi.data() + b, e - b,
                                                          off.data(), na, alpha, t);
                    });
  return r;
}

}  // namespace medkern::radiomics
