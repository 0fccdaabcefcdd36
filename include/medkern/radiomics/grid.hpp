// medkern/radiomics/grid.hpp — what every texture matrix shares: validating a discretized
// volume, pyradiomics' neighbour directions ("angles"), the zero-padded level volume the
// kernels read without bounds checks, and the chunked parallel accumulation.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <vector>

#include "medkern/core/error.hpp"
#include "medkern/core/threading.hpp"

namespace medkern::radiomics {

/// A discretized volume as the feature classes receive it: gray level 1..Ng inside the ROI,
/// 0 outside, row-major (z, y, x); 2-D images have nz == 1.
struct LevelsView {
  const std::int32_t* data = nullptr;
  std::int64_t nz = 0, ny = 0, nx = 0;
};

/// Neighbour offset (dz, dy, dx).
using Angle = std::array<int, 3>;

/// pyradiomics' angle set: every offset whose infinity norm is one of `distances`, no larger
/// than size - 1 along any axis, zero along `force2d_dim` (-1: none). With `bidirectional`
/// false only the half whose first non-zero component is positive. Order: descending
/// lexicographic in (dz, dy, dx), as pyradiomics generates them.
inline std::vector<Angle> generate_angles(std::int64_t nz, std::int64_t ny, std::int64_t nx,
                                          const std::vector<int>& distances, bool bidirectional,
                                          int force2d_dim, const char* op) {
  if (distances.empty()) detail::throw_shape(op, ": distances must not be empty");
  std::set<int> ds;
  for (int d : distances) {
    if (d < 1) detail::throw_shape(op, ": distance ", d, " must be >= 1");
    ds.insert(d);
  }
  if (force2d_dim < -1 || force2d_dim > 2)
    detail::throw_shape(op, ": force2Ddimension ", force2d_dim, " must be 0, 1 or 2");
  const int dmax = *ds.rbegin();
  const std::int64_t size[3] = {nz, ny, nx};
  int lim[3];
  for (int k = 0; k < 3; ++k)
    lim[k] = k == force2d_dim ? 0 : int(std::min<std::int64_t>(dmax, size[k] - 1));
  std::vector<Angle> out;
  for (int dz = lim[0]; dz >= -lim[0]; --dz)
    for (int dy = lim[1]; dy >= -lim[1]; --dy)
      for (int dx = lim[2]; dx >= -lim[2]; --dx) {
        const int norm = std::max({std::abs(dz), std::abs(dy), std::abs(dx)});
        if (norm == 0 || !ds.count(norm)) continue;
        const bool forward = dz > 0 || (dz == 0 && (dy > 0 || (dy == 0 && dx > 0)));
        if (!bidirectional && !forward) continue;
        out.push_back({dz, dy, dx});
      }
  return out;
}

/// Validates a discretized volume and returns its largest gray level (>= 1).
inline std::int32_t check_levels(const LevelsView& in, const char* op) {
  if (in.data == nullptr && (in.nz * in.ny * in.nx) != 0)
    detail::throw_shape(op, ": discretized volume has no data");
  if (in.nz < 1 || in.ny < 1 || in.nx < 1)
    detail::throw_shape(op, ": discretized volume ", in.nz, "x", in.ny, "x", in.nx,
                        " must have every size >= 1");
  const std::int64_t n = detail::checked_mul(detail::checked_mul(in.nz, in.ny, op), in.nx, op);
  std::int32_t mx = 0, mn = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    mx = std::max(mx, in.data[i]);
    mn = std::min(mn, in.data[i]);
  }
  if (mn < 0) detail::throw_shape(op, ": gray level ", mn, " must be >= 0 (0 marks outside the ROI)");
  if (mx == 0) detail::throw_shape(op, ": the ROI is empty (no gray level > 0)");
  return mx;
}

/// The levels copied into a zero border of pad[k] voxels per axis, plus the ROI voxel list.
struct PaddedLevels {
  std::vector<std::int32_t> lv;
  std::vector<std::int64_t> roi;  // linear indices into lv, raster order
  std::int64_t pz = 0, py = 0, px = 0;  // padded sizes
  std::int64_t pad[3] = {0, 0, 0};
  std::int64_t offset_of(const Angle& a) const { return (a[0] * py + a[1]) * px + a[2]; }
  std::int64_t index_of(std::int64_t z, std::int64_t y, std::int64_t x) const {
    return ((z + pad[0]) * py + y + pad[1]) * px + x + pad[2];
  }
};

inline PaddedLevels pad_levels(const LevelsView& in, const std::vector<Angle>& angles,
                               std::int64_t min_pad = 0) {
  PaddedLevels p;
  for (int k = 0; k < 3; ++k) p.pad[k] = min_pad;
  for (const Angle& a : angles)
    for (int k = 0; k < 3; ++k) p.pad[k] = std::max<std::int64_t>(p.pad[k], std::abs(a[std::size_t(k)]));
  p.pz = in.nz + 2 * p.pad[0];
  p.py = in.ny + 2 * p.pad[1];
  p.px = in.nx + 2 * p.pad[2];
  p.lv.assign(std::size_t(p.pz * p.py * p.px), 0);
  for (std::int64_t z = 0; z < in.nz; ++z)
    for (std::int64_t y = 0; y < in.ny; ++y) {
      const std::int32_t* src = in.data + (z * in.ny + y) * in.nx;
      const std::int64_t base = p.index_of(z, y, 0);
      std::copy(src, src + in.nx, p.lv.begin() + base);
      for (std::int64_t x = 0; x < in.nx; ++x)
        if (src[x] > 0) p.roi.push_back(base + x);
    }
  return p;
}

/// Sums part(roi_begin, roi_end, table) over chunks of the ROI list into `out` (n doubles,
/// zeroed here). Chunk count depends on the ROI size and thread count only; the partial tables
/// are added in chunk order.
template <class Part>
void accumulate_chunks(std::int64_t n_roi, std::int64_t n, double* out, Part&& part) {
  std::fill(out, out + n, 0.0);
  constexpr std::int64_t kMinChunk = 8192;  // amortises one partial table per chunk
  const std::int64_t chunks =
      std::max<std::int64_t>(1, std::min<std::int64_t>(n_roi / kMinChunk, num_threads()));
  if (chunks == 1) {
    part(std::int64_t{0}, n_roi, out);
    return;
  }
  std::vector<double> partial(std::size_t(chunks * n), 0.0);
  parallel_tasks(chunks, [&](std::int64_t c) {
    part(n_roi * c / chunks, n_roi * (c + 1) / chunks, partial.data() + c * n);
  });
  for (std::int64_t c = 0; c < chunks; ++c)
    for (std::int64_t i = 0; i < n; ++i) out[i] += partial[std::size_t(c * n + i)];
}

}  // namespace medkern::radiomics
