// medkern/radiomics/shape.hpp — mesh coefficients of pyradiomics 3.1's shape classes: marching
// cubes surface area and signed-tetrahedron volume, marching squares perimeter and area, and
// the maximum diameters between mesh vertices (all edge midpoints between ROI and background).
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "medkern/core/error.hpp"
#include "medkern/core/threading.hpp"
#include "medkern/kernels/radiomics/diameter.hpp"
#include "medkern/radiomics/marching.hpp"

namespace medkern::radiomics {

struct MaskView {
  const std::uint8_t* data = nullptr;  // 0 = background, else ROI; row-major (z, y, x)
  std::int64_t nz = 0, ny = 0, nx = 0;
};

struct Shape3D {
  double surface_area = 0, volume = 0;
  double diameter_slice = 0, diameter_column = 0, diameter_row = 0, diameter_3d = 0;
};

struct Shape2D {
  double perimeter = 0, surface = 0, diameter = 0;
};

namespace detail_shape {

inline void check_mask(const MaskView& m, const char* op) {
  if (m.nz < 1 || m.ny < 1 || m.nx < 1)
    detail::throw_shape(op, ": mask ", m.nz, "x", m.ny, "x", m.nx, " must have every size >= 1");
  const std::int64_t n = detail::checked_mul(detail::checked_mul(m.nz, m.ny, op), m.nx, op);
  bool any = false;
  for (std::int64_t i = 0; i < n && !any; ++i) any = m.data[i] != 0;
  if (!any) detail::throw_shape(op, ": the ROI is empty");
}

// Vertex coordinates in half-cell units (exact integers) and physical units.
struct Vertices {
  std::vector<std::int64_t> key[3];
  std::vector<double> pos[3];
  void add(const std::int64_t k[3], const double* spacing, int dims) {
    for (int d = 0; d < dims; ++d) {
      key[d].push_back(k[d]);
      pos[d].push_back(0.5 * double(k[d]) * spacing[d]);
    }
  }
};

// Largest squared distance within a point set (coordinate arrays of n points, z null in 2-D).
// Exact with pruning: the points are binned into a coarse grid; the farthest any point a can
// be from the set is bounded by its distance to the farthest corner of each cell's bounding
// box. Points are visited by that bound, descending, each scanned against all points, until
// the bound cannot beat the best found; the diameter's end points are few, so few scans run.
inline double max_sq_distance(const double* x, const double* y, const double* z, std::int64_t n) {
  if (n < 2) return 0.0;
  const auto& row = kernels::radiomics::active_diameter_kernel();
  const double* c[3] = {x, y, z};
  const int dims = z ? 3 : 2;
  double lo[3] = {0, 0, 0}, hi[3] = {0, 0, 0};
  for (int d = 0; d < dims; ++d) {
    lo[d] = *std::min_element(c[d], c[d] + n);
    hi[d] = *std::max_element(c[d], c[d] + n);
  }
  constexpr int kGrid = 8;  // cells per axis: bounds within a cell diagonal of the truth
  struct Box {
    double lo[3], hi[3];
    bool used;
  };
  std::vector<Box> cells(std::size_t(dims == 3 ? kGrid * kGrid * kGrid : kGrid * kGrid));
  for (auto& b : cells) b.used = false;
  for (std::int64_t i = 0; i < n; ++i) {
    int cell = 0;
    for (int d = 0; d < dims; ++d) {
      const double w = hi[d] - lo[d];
      const int k = w > 0 ? std::min(kGrid - 1, int((c[d][i] - lo[d]) / w * kGrid)) : 0;
      cell = cell * kGrid + k;
    }
    Box& b = cells[std::size_t(cell)];
    for (int d = 0; d < dims; ++d) {
      b.lo[d] = b.used ? std::min(b.lo[d], c[d][i]) : c[d][i];
      b.hi[d] = b.used ? std::max(b.hi[d], c[d][i]) : c[d][i];
    }
    b.used = true;
  }
  std::vector<Box> boxes;
  for (const Box& b : cells)
    if (b.used) boxes.push_back(b);
  auto far_sq = [&](const double* p, const Box& b) {
    double s = 0;
    for (int d = 0; d < dims; ++d) {
      const double e = std::max(std::abs(p[d] - b.lo[d]), std::abs(b.hi[d] - p[d]));
      s += e * e;
    }
    return s;
  };
  // A first best from the points extreme along each axis, and per cell an upper bound over
  // its box corners, so that most points never need their own bound.
  double best = 0;
  for (int d = 0; d < dims; ++d)
    for (const double* e : {std::min_element(c[d], c[d] + n), std::max_element(c[d], c[d] + n)}) {
      const std::int64_t i = e - c[d];
      best = std::max(best, row.max_sq_dist(x[i], y[i], z ? z[i] : 0.0, x, y, z, n));
    }
  std::vector<double> cell_bound(boxes.size(), 0.0);
  for (std::size_t a = 0; a < boxes.size(); ++a)
    for (int corner = 0; corner < (1 << dims); ++corner) {
      double p[3];
      for (int d = 0; d < dims; ++d) p[d] = (corner >> d) & 1 ? boxes[a].hi[d] : boxes[a].lo[d];
      for (const Box& b : boxes) cell_bound[a] = std::max(cell_bound[a], far_sq(p, b));
    }
  std::vector<std::size_t> box_of(cells.size(), 0);
  for (std::size_t a = 0, k = 0; k < cells.size(); ++k)
    if (cells[k].used) box_of[k] = a++;
  std::vector<std::pair<double, std::int64_t>> order;
  for (std::int64_t i = 0; i < n; ++i) {
    int cell = 0;
    for (int d = 0; d < dims; ++d) {
      const double w = hi[d] - lo[d];
      const int k = w > 0 ? std::min(kGrid - 1, int((c[d][i] - lo[d]) / w * kGrid)) : 0;
      cell = cell * kGrid + k;
    }
    if (cell_bound[box_of[std::size_t(cell)]] * (1 + 1e-12) < best) continue;
    const double p[3] = {x[i], y[i], z ? z[i] : 0.0};
    double bound = 0;
    for (const Box& b : boxes) bound = std::max(bound, far_sq(p, b));
    order.push_back({bound, i});
  }
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  });
  for (const auto& [bound, i] : order) {
    // The bound is rounded like any distance: stop only when it is clearly below the best.
    if (bound * (1 + 1e-12) < best) break;
    best = std::max(best, row.max_sq_dist(x[i], y[i], z ? z[i] : 0.0, x, y, z, n));
  }
  return best;
}

// Largest distance between any two vertices.
inline double max_diameter(const Vertices& v, int dims) {
  const std::int64_t n = std::int64_t(v.pos[0].size());
  const double* p[3] = {v.pos[0].data(), v.pos[1].data(), dims > 2 ? v.pos[2].data() : nullptr};
  return std::sqrt(max_sq_distance(p[0], p[1], p[2], n));
}

// Convex hull of n distinct 2-D integer points sorted by (u, w): Andrew's monotone chain, exact
// in integers, collinear points dropped. Writes the indices of the hull vertices to `out`.
inline void hull_2d(const std::int64_t* u, const std::int64_t* w, std::int64_t n,
                    std::vector<std::int64_t>& out) {
  out.assign(std::size_t(n <= 2 ? n : 2 * n), 0);
  if (n <= 2) {
    for (std::int64_t i = 0; i < n; ++i) out[std::size_t(i)] = i;
    return;
  }
  auto turn = [&](std::int64_t o, std::int64_t a, std::int64_t b) {
    return (u[a] - u[o]) * (w[b] - w[o]) - (w[a] - w[o]) * (u[b] - u[o]);
  };
  std::size_t k = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    while (k >= 2 && turn(out[k - 2], out[k - 1], i) <= 0) --k;
    out[k++] = i;
  }
  for (std::int64_t i = n - 2, t = std::int64_t(k) + 1; i >= 0; --i) {
    while (std::int64_t(k) >= t && turn(out[k - 2], out[k - 1], i) <= 0) --k;
    out[k++] = i;
  }
  out.resize(k - 1);
}

// Largest distance between the 3-D vertices sharing key[axis], over every such plane. Within a
// plane the farthest pair are vertices of the plane's convex hull, found exactly on the integer
// half-cell keys (scaling each axis to mm keeps hull membership); the hull vertices are then
// compared pairwise in mm. Every vertex of the 3-D hull is a vertex of its plane's hull, so
// the union of the plane hulls (appended to `hull_keys` as key triples when given) holds the
// end points of the 3-D diameter too.
inline double plane_diameter(const Vertices& v, int axis, const double* spacing,
                             std::vector<std::array<std::int64_t, 3>>* hull_keys) {
  const int ua = axis == 0 ? 1 : 0, wa = axis == 2 ? 1 : 2;
  const std::size_t n = v.key[0].size();
  std::int64_t ku = 1, kw = 1;
  for (std::size_t i = 0; i < n; ++i) {
    ku = std::max(ku, v.key[ua][i] + 1);
    kw = std::max(kw, v.key[wa][i] + 1);
  }
  std::vector<std::int64_t> code(n);  // (plane, u, w) in one sortable integer, unique per vertex
  for (std::size_t i = 0; i < n; ++i)
    code[i] = (v.key[axis][i] * ku + v.key[ua][i]) * kw + v.key[wa][i];
  std::sort(code.begin(), code.end());
  const std::int64_t plane_size = ku * kw;
  std::vector<std::int64_t> gu, gw, hull;
  std::vector<double> pos[3];
  double best = 0;
  for (std::size_t start = 0; start < n;) {
    const std::int64_t plane = code[start] / plane_size;
    std::size_t end = start;
    gu.clear();
    gw.clear();
    for (; end < n && code[end] / plane_size == plane; ++end) {
      const std::int64_t r = code[end] % plane_size;
      gu.push_back(r / kw);
      gw.push_back(r % kw);
    }
    hull_2d(gu.data(), gw.data(), std::int64_t(gu.size()), hull);
    for (auto& p : pos) p.clear();
    for (const std::int64_t h : hull) {
      std::array<std::int64_t, 3> k{};
      k[std::size_t(axis)] = plane;
      k[std::size_t(ua)] = gu[std::size_t(h)];
      k[std::size_t(wa)] = gw[std::size_t(h)];
      for (int d = 0; d < 3; ++d)
        pos[d].push_back(0.5 * double(k[std::size_t(d)]) * spacing[d]);  // as Vertices::add
      if (hull_keys) hull_keys->push_back(k);
    }
    const auto& row = kernels::radiomics::active_diameter_kernel();
    for (std::size_t a = 0; a + 1 < pos[0].size(); ++a)
      best = std::max(best, row.max_sq_dist(pos[0][a], pos[1][a], pos[2][a], pos[0].data() + a + 1,
                                            pos[1].data() + a + 1, pos[2].data() + a + 1,
                                            std::int64_t(pos[0].size() - a - 1)));
    start = end;
  }
  return std::sqrt(best);
}

}  // namespace detail_shape

/// pyradiomics' RadiomicsShape coefficients; spacing in (z, y, x) order.
inline Shape3D shape3d_coefficients(const MaskView& m, const std::array<double, 3>& spacing) {
  constexpr const char* op = "shape";
  detail_shape::check_mask(m, op);
  for (double s : spacing)
    if (!(s > 0) || !std::isfinite(s)) detail::throw_shape(op, ": spacing ", s, " must be > 0");
  // One background voxel around the ROI box, as pyradiomics pads the mask.
  const std::int64_t pz = m.nz + 2, py = m.ny + 2, px = m.nx + 2;
  std::vector<std::uint8_t> pm(std::size_t(pz * py * px), 0);
  for (std::int64_t z = 0; z < m.nz; ++z)
    for (std::int64_t y = 0; y < m.ny; ++y)
      for (std::int64_t x = 0; x < m.nx; ++x)
        pm[std::size_t(((z + 1) * py + y + 1) * px + x + 1)] = m.data[(z * m.ny + y) * m.nx + x] != 0;
  const auto& table = marching::cube_table();
  std::array<std::array<double, 3>, 12> ep;
  for (int e = 0; e < 12; ++e) ep[std::size_t(e)] = marching::edge_point(e);
  std::int64_t coff[8];
  for (int c = 0; c < 8; ++c)
    coff[c] = (marching::kCorner[c][0] * py + marching::kCorner[c][1]) * px + marching::kCorner[c][2];

  // Surface and volume per z slab of cells, summed in slab order.
  const std::int64_t ncz = pz - 1;
  std::vector<double> area(std::size_t(ncz), 0.0), vol(std::size_t(ncz), 0.0);
  parallel_for_1d(ncz, 1, [&](std::int64_t z0, std::int64_t z1) {
    for (std::int64_t z = z0; z < z1; ++z) {
      double sa = 0, sv = 0;
      for (std::int64_t y = 0; y + 1 < py; ++y)
        for (std::int64_t x = 0; x + 1 < px; ++x) {
          const std::int64_t base = (z * py + y) * px + x;
          unsigned idx = 0;
          for (int c = 0; c < 8; ++c) idx |= unsigned(pm[std::size_t(base + coff[c])]) << c;
          double sign = 1;
          if (idx & 0x80) {
            idx ^= 0xff;
            sign = -1;
          }
          if (idx == 0) continue;
          const auto& tri = table.tri[idx];
          for (int t = 0; tri[std::size_t(3 * t)] >= 0; ++t) {
            double a[3], b[3], c[3];
            const double o[3] = {double(z), double(y), double(x)};
            for (int d = 0; d < 3; ++d) {
              a[d] = (o[d] + ep[std::size_t(tri[std::size_t(3 * t)])][std::size_t(d)]) * spacing[std::size_t(d)];
              b[d] = (o[d] + ep[std::size_t(tri[std::size_t(3 * t + 1)])][std::size_t(d)]) * spacing[std::size_t(d)];
              c[d] = (o[d] + ep[std::size_t(tri[std::size_t(3 * t + 2)])][std::size_t(d)]) * spacing[std::size_t(d)];
            }
            const double ab[3] = {a[1] * b[2] - b[1] * a[2], a[2] * b[0] - b[2] * a[0],
                                  a[0] * b[1] - b[0] * a[1]};
            sv += sign * (ab[0] * c[0] + ab[1] * c[1] + ab[2] * c[2]);
            for (int d = 0; d < 3; ++d) {
              a[d] -= c[d];
              b[d] -= c[d];
            }
            const double n[3] = {a[1] * b[2] - b[1] * a[2], a[2] * b[0] - b[2] * a[0],
                                 a[0] * b[1] - b[0] * a[1]};
            sa += 0.5 * std::sqrt(n[0] * n[0] + n[1] * n[1] + n[2] * n[2]);
          }
        }
      area[std::size_t(z)] = sa;
      vol[std::size_t(z)] = sv;
    }
  });
  Shape3D r;
  for (std::int64_t z = 0; z < ncz; ++z) {
    r.surface_area += area[std::size_t(z)];
    r.volume += vol[std::size_t(z)];
  }
  r.volume /= 6;

  // Mesh vertices: the midpoints of every axis edge joining ROI and background.
  detail_shape::Vertices v;
  const double sp[3] = {spacing[0], spacing[1], spacing[2]};
  for (std::int64_t z = 0; z < pz; ++z)
    for (std::int64_t y = 0; y < py; ++y)
      for (std::int64_t x = 0; x < px; ++x) {
        const std::int64_t i = (z * py + y) * px + x;
        const std::uint8_t here = pm[std::size_t(i)];
        if (z + 1 < pz && pm[std::size_t(i + py * px)] != here) {
          const std::int64_t k[3] = {2 * z + 1, 2 * y, 2 * x};
          v.add(k, sp, 3);
        }
        if (y + 1 < py && pm[std::size_t(i + px)] != here) {
          const std::int64_t k[3] = {2 * z, 2 * y + 1, 2 * x};
          v.add(k, sp, 3);
        }
        if (x + 1 < px && pm[std::size_t(i + 1)] != here) {
          const std::int64_t k[3] = {2 * z, 2 * y, 2 * x + 1};
          v.add(k, sp, 3);
        }
      }
  std::vector<std::array<std::int64_t, 3>> hull_keys;
  r.diameter_slice = detail_shape::plane_diameter(v, 0, sp, &hull_keys);
  r.diameter_column = detail_shape::plane_diameter(v, 1, sp, nullptr);
  r.diameter_row = detail_shape::plane_diameter(v, 2, sp, nullptr);
  detail_shape::Vertices outer;  // the slice hulls: a superset of the 3-D hull's vertices
  for (const auto& k : hull_keys) outer.add(k.data(), sp, 3);
  r.diameter_3d = detail_shape::max_diameter(outer, 3);
  return r;
}

/// pyradiomics' RadiomicsShape2D coefficients of a (y, x) mask; spacing in (y, x) order.
inline Shape2D shape2d_coefficients(const MaskView& m, const std::array<double, 2>& spacing) {
  constexpr const char* op = "shape2D";
  detail_shape::check_mask(m, op);
  if (m.nz != 1) detail::throw_shape(op, ": mask must be a single slice, got ", m.nz, " slices");
  for (double s : spacing)
    if (!(s > 0) || !std::isfinite(s)) detail::throw_shape(op, ": spacing ", s, " must be > 0");
  const std::int64_t py = m.ny + 2, px = m.nx + 2;
  std::vector<std::uint8_t> pm(std::size_t(py * px), 0);
  for (std::int64_t y = 0; y < m.ny; ++y)
    for (std::int64_t x = 0; x < m.nx; ++x)
      pm[std::size_t((y + 1) * px + x + 1)] = m.data[y * m.nx + x] != 0;
  // Square corners p0 (0,0) p1 (0,1) p2 (1,1) p3 (1,0) in (y, x); edge k joins pk and pk+1.
  static constexpr int kSq[4][2] = {{0, 0}, {0, 1}, {1, 1}, {1, 0}};
  static constexpr double kMid[4][2] = {{0, 0.5}, {0.5, 1}, {1, 0.5}, {0.5, 0}};
  // Segments per configuration, each cutting off the inside corner(s) on its left (in y, x).
  std::array<std::array<int, 4>, 16> seg{};
  for (int c = 0; c < 16; ++c) {
    seg[std::size_t(c)].fill(-1);
    auto in = [&](int k) { return (c >> (k & 3)) & 1; };
    int crossing[4], n = 0;
    for (int k = 0; k < 4; ++k)
      if (in(k) != in(k + 1)) crossing[n++] = k;
    std::vector<std::array<int, 3>> s;  // edge a, edge b, an inside corner
    if (n == 2) {
      const int corner = in(crossing[0]) ? crossing[0] : (crossing[0] + 1) & 3;
      s.push_back({crossing[0], crossing[1], corner});
    } else if (n == 4) {
      for (int k = 0; k < 4; ++k)
        if (in(k)) s.push_back({(k + 3) & 3, k, k});
    }
    for (std::size_t j = 0; j < s.size(); ++j) {
      const auto& [a, b, corner] = s[j];
      const double d0 = kMid[b][0] - kMid[a][0], d1 = kMid[b][1] - kMid[a][1];
      const double r0 = kSq[corner][0] - kMid[a][0], r1 = kSq[corner][1] - kMid[a][1];
      const bool left = d0 * r1 - d1 * r0 > 0;
      seg[std::size_t(c)][2 * j] = left ? a : b;
      seg[std::size_t(c)][2 * j + 1] = left ? b : a;
    }
  }
  Shape2D r;
  double twice_area = 0;
  for (std::int64_t y = 0; y + 1 < py; ++y)
    for (std::int64_t x = 0; x + 1 < px; ++x) {
      unsigned idx = 0;
      for (int k = 0; k < 4; ++k)
        idx |= unsigned(pm[std::size_t((y + kSq[k][0]) * px + x + kSq[k][1])]) << k;
      const auto& s = seg[idx];
      for (int j = 0; j < 2 && s[std::size_t(2 * j)] >= 0; ++j) {
        const int ea = s[std::size_t(2 * j)], eb = s[std::size_t(2 * j + 1)];
        const double a0 = (double(y) + kMid[ea][0]) * spacing[0], a1 = (double(x) + kMid[ea][1]) * spacing[1];
        const double b0 = (double(y) + kMid[eb][0]) * spacing[0], b1 = (double(x) + kMid[eb][1]) * spacing[1];
        twice_area += a0 * b1 - b0 * a1;
        r.perimeter += std::sqrt((a0 - b0) * (a0 - b0) + (a1 - b1) * (a1 - b1));
      }
    }
  r.surface = twice_area / 2;
  detail_shape::Vertices v;
  const double sp[2] = {spacing[0], spacing[1]};
  for (std::int64_t y = 0; y < py; ++y)
    for (std::int64_t x = 0; x < px; ++x) {
      const std::uint8_t here = pm[std::size_t(y * px + x)];
      if (y + 1 < py && pm[std::size_t((y + 1) * px + x)] != here) {
        const std::int64_t k[3] = {2 * y + 1, 2 * x, 0};
        v.add(k, sp, 2);
      }
      if (x + 1 < px && pm[std::size_t(y * px + x + 1)] != here) {
        const std::int64_t k[3] = {2 * y, 2 * x + 1, 0};
        v.add(k, sp, 2);
      }
    }
  r.diameter = detail_shape::max_diameter(v, 2);
  return r;
}

}  // namespace medkern::radiomics
