// medkern/radiomics/glcm.hpp — gray level co-occurrence matrices, one per angle, as pyradiomics
// 3.1 counts them (asymmetric counts; symmetrisation, weighting and normalisation follow in
// the feature class).
#pragma once

#include <cstdint>
#include <vector>

#include "medkern/kernels/radiomics/ref.hpp"
#include "medkern/radiomics/grid.hpp"

namespace medkern::radiomics {

struct AngleMatrices {
  std::vector<double> counts;  // layout given by each op
  std::vector<Angle> angles;
  std::int32_t ng = 0;  // largest gray level
};

/// counts: (angles, ng, ng); entry (a, i-1, j-1) = #voxel pairs (v, v + angle a) in the ROI with
/// levels (i, j). Angles: generate_angles(distances, one direction, force2D dimension).
inline AngleMatrices glcm_matrix(const LevelsView& in, const std::vector<int>& distances,
                                 bool force2d, int force2d_dim) {
  constexpr const char* op = "glcm";
  AngleMatrices r;
  r.ng = check_levels(in, op);
  r.angles = generate_angles(in.nz, in.ny, in.nx, distances, false, force2d ? force2d_dim : -1, op);
  const std::int64_t na = std::int64_t(r.angles.size()), ng = r.ng;
  r.counts.assign(std::size_t(detail::checked_mul(na, ng * ng, op)), 0.0);
  if (na == 0) return r;
  const PaddedLevels p = pad_levels(in, r.angles);
  std::vector<std::int64_t> off;
  for (const Angle& a : r.angles) off.push_back(p.offset_of(a));
  accumulate_chunks(std::int64_t(p.roi.size()), std::int64_t(r.counts.size()), r.counts.data(),
                    [&](std::int64_t b, std::int64_t e, double* t) {
                      kernels::radiomics::glcm_accumulate(p.lv.data(), p.roi.data() + b, e - b,
                                                          off.data(), na, ng, t);
                    });
  return r;
}

}  // namespace medkern::radiomics
