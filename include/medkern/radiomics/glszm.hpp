// medkern/radiomics/glszm.hpp — gray level size zone matrix (pyradiomics 3.1): zones are
// connected under the 26-neighbourhood in 3-D (8 in 2-D, or with force2D).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "medkern/kernels/radiomics/ref.hpp"
#include "medkern/radiomics/grid.hpp"

namespace medkern::radiomics {

struct SizeZones {
  std::vector<double> counts;  // (ng, max_size); entry (i-1, s-1) = #zones of level i, size s
  std::int32_t ng = 0;
  std::int64_t max_size = 0;
};

inline SizeZones glszm_matrix(const LevelsView& in, bool force2d, int force2d_dim) {
  constexpr const char* op = "glszm";
  SizeZones r;
  r.ng = check_levels(in, op);
  const std::vector<Angle> angles =
      generate_angles(in.nz, in.ny, in.nx, {1}, true, force2d ? force2d_dim : -1, op);
  const PaddedLevels p = pad_levels(in, angles);
  std::vector<std::int64_t> off;
  for (const Angle& a : angles) off.push_back(p.offset_of(a));
  const std::int64_t n_roi = std::int64_t(p.roi.size());
  std::vector<std::int32_t> work(p.lv);
  const auto nr = static_cast<std::size_t>(n_roi);
  std::vector<std::int64_t> stack(nr), size(nr);
  std::vector<std::int32_t> level(nr);
  const std::int64_t zones = kernels::radiomics::glszm_zones(
      work.data(), p.roi.data(), n_roi, off.data(), std::int64_t(off.size()), stack.data(),
      level.data(), size.data());
  r.max_size = std::max<std::int64_t>(1, *std::max_element(size.begin(), size.begin() + zones));
  r.counts.assign(std::size_t(detail::checked_mul(r.ng, r.max_size, op)), 0.0);
  for (std::int64_t z = 0; z < zones; ++z)
    r.counts[std::size_t((level[std::size_t(z)] - 1) * r.max_size + size[std::size_t(z)] - 1)] += 1.0;
  return r;
}

}  // namespace medkern::radiomics
