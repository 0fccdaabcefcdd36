// medkern/radiomics/marching.hpp — marching cubes / squares cell tables for a binary mask, built
// at first use from the cell geometry instead of typed in.
//
// Vertices sit at edge midpoints (a binary mask has no sub-voxel information). pyradiomics'
// conventions: cube corners in (z, y, x) order p0 (0,0,0) p1 (0,0,1) p2 (0,1,1) p3 (0,1,0)
// p4 (1,0,0) p5 (1,0,1) p6 (1,1,1) p7 (1,1,0); edges e0 p0-p1, e1 p1-p2, e2 p2-p3, e3 p3-p0,
// e4..e7 the same on z = 1, e8..e11 the vertical edges p0-p4, p1-p5, p2-p6, p3-p7. A cell
// with p7 inside is looked up as its complement (the surface is the same, oriented the other
// way). On a face with two diagonal inside corners, each inside corner is cut off on its own.
// Surface polygons are the cycles of the per-face segments; triangles are oriented with the
// normal pointing out of the inside corners. Each polygon is split into the triangles of
// largest total area (first such in a fixed enumeration order when several tie); the
// seven-sided polygon (five inside corners, the three outside ones an adjacent pair plus an
// isolated corner) is instead fanned from the vertex on the isolated corner's edge parallel to
// the pair. These choices reproduce pyradiomics' marching-cubes area and volume exactly, for
// every cell configuration and any spacing.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

namespace medkern::radiomics::marching {

inline constexpr int kCorner[8][3] = {{0, 0, 0}, {0, 0, 1}, {0, 1, 1}, {0, 1, 0},
                                      {1, 0, 0}, {1, 0, 1}, {1, 1, 1}, {1, 1, 0}};
inline constexpr int kEdge[12][2] = {{0, 1}, {1, 2}, {2, 3}, {3, 0}, {4, 5}, {5, 6},
                                     {6, 7}, {7, 4}, {0, 4}, {1, 5}, {2, 6}, {3, 7}};
inline constexpr int kFace[6][4] = {{0, 1, 2, 3}, {4, 5, 6, 7}, {0, 1, 5, 4},
                                    {1, 2, 6, 5}, {2, 3, 7, 6}, {3, 0, 4, 7}};

/// Midpoint of edge e, in cell units (z, y, x).
inline std::array<double, 3> edge_point(int e) {
  std::array<double, 3> p{};
  for (int d = 0; d < 3; ++d)
    p[std::size_t(d)] = 0.5 * (kCorner[kEdge[e][0]][d] + kCorner[kEdge[e][1]][d]);
  return p;
}

/// Triangles (as edge-index triples) of each cell configuration 0..127; -1 terminated.
struct CubeTable {
  std::array<std::array<int, 16>, 128> tri{};
};

namespace detail {

inline int edge_between(int a, int b) {
  for (int e = 0; e < 12; ++e)
    if ((kEdge[e][0] == a && kEdge[e][1] == b) || (kEdge[e][0] == b && kEdge[e][1] == a)) return e;
  return -1;
}

inline std::vector<std::vector<int>> polygons(int config) {
  auto in = [&](int c) { return (config >> c) & 1; };
  std::vector<std::array<int, 2>> segs;
  for (const auto& f : kFace) {
    int crossing[4], n = 0;
    for (int i = 0; i < 4; ++i)
      if (in(f[i]) != in(f[(i + 1) % 4])) crossing[n++] = edge_between(f[i], f[(i + 1) % 4]);
    if (n == 2) {
      segs.push_back({crossing[0], crossing[1]});
    } else if (n == 4) {
      for (int i = 0; i < 4; ++i)
        if (in(f[i]))
          segs.push_back({edge_between(f[(i + 3) % 4], f[i]), edge_between(f[i], f[(i + 1) % 4])});
    }
  }
  std::vector<std::vector<int>> adj(12);
  for (const auto& s : segs) {
    adj[std::size_t(s[0])].push_back(s[1]);
    adj[std::size_t(s[1])].push_back(s[0]);
  }
  std::vector<std::vector<int>> cycles;
  bool seen[12] = {};
  for (int s = 0; s < 12; ++s) {
    if (adj[std::size_t(s)].empty() || seen[s]) continue;
    std::vector<int> cyc{s};
    seen[s] = true;
    int prev = -1, cur = s;
    for (;;) {
      int next = -1;
      for (int y : adj[std::size_t(cur)])
        if (y != prev && !seen[y]) next = y;
      if (next < 0) break;
      prev = cur;
      cur = next;
      seen[cur] = true;
      cyc.push_back(cur);
    }
    cycles.push_back(cyc);
  }
  return cycles;
}

// Outward direction at edge e: from its inside corner to its outside corner.
inline std::array<double, 3> outward(int config, int e) {
  const int a = kEdge[e][0], b = kEdge[e][1];
  const int inside = ((config >> a) & 1) ? a : b, outside = inside == a ? b : a;
  std::array<double, 3> r{};
  for (int d = 0; d < 3; ++d) r[std::size_t(d)] = kCorner[outside][d] - kCorner[inside][d];
  return r;
}

inline std::array<int, 3> oriented(int config, int a, int b, int c) {
  const auto pa = edge_point(a), pb = edge_point(b), pc = edge_point(c);
  double u[3], v[3], n[3], o[3];
  for (int d = 0; d < 3; ++d) {
    u[d] = pb[std::size_t(d)] - pa[std::size_t(d)];
    v[d] = pc[std::size_t(d)] - pa[std::size_t(d)];
    o[d] = outward(config, a)[std::size_t(d)] + outward(config, b)[std::size_t(d)] +
           outward(config, c)[std::size_t(d)];
  }
  n[0] = u[1] * v[2] - u[2] * v[1];
  n[1] = u[2] * v[0] - u[0] * v[2];
  n[2] = u[0] * v[1] - u[1] * v[0];
  const double s = n[0] * o[0] + n[1] * o[1] + n[2] * o[2];
  return s >= 0 ? std::array<int, 3>{a, b, c} : std::array<int, 3>{a, c, b};
}

}  // namespace detail

namespace detail {

using Tris = std::vector<std::array<int, 3>>;

// Every triangulation of polygon p: the triangle on edge (p0, p1) with apex p[k], k = 2..n-1,
// then the left and right remainders, in that order.
inline std::vector<Tris> triangulations(const std::vector<int>& p) {
  const std::size_t n = p.size();
  if (n < 3) return {Tris{}};
  if (n == 3) return {Tris{{p[0], p[1], p[2]}}};
  std::vector<Tris> out;
  for (std::size_t k = 2; k < n; ++k) {
    const std::vector<int> left(p.begin() + 1, p.begin() + std::ptrdiff_t(k) + 1);
    std::vector<int> right{p[0]};
    right.insert(right.end(), p.begin() + std::ptrdiff_t(k), p.end());
    for (const Tris& l : triangulations(left))
      for (const Tris& r : triangulations(right)) {
        Tris t{{p[0], p[1], p[k]}};
        t.insert(t.end(), l.begin(), l.end());
        t.insert(t.end(), r.begin(), r.end());
        out.push_back(std::move(t));
      }
  }
  return out;
}

inline double area(const Tris& t) {
  double s = 0;
  for (const auto& tri : t) {
    const auto a = edge_point(tri[0]), b = edge_point(tri[1]), c = edge_point(tri[2]);
    const double u[3] = {b[0] - a[0], b[1] - a[1], b[2] - a[2]};
    const double v[3] = {c[0] - a[0], c[1] - a[1], c[2] - a[2]};
    const double n[3] = {u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2],
                         u[0] * v[1] - u[1] * v[0]};
    s += 0.5 * std::sqrt(n[0] * n[0] + n[1] * n[1] + n[2] * n[2]);
  }
  return s;
}

// Fan apex of the seven-sided polygon (see the header comment); 0 if the pattern is absent.
inline std::size_t heptagon_apex(int config, const std::vector<int>& p) {
  int out[8], n_out = 0;
  for (int c = 0; c < 8; ++c)
    if (!((config >> c) & 1)) out[n_out++] = c;
  if (n_out != 3) return 0;
  for (int i = 0; i < 3; ++i) {
    const int iso = out[i], a = out[(i + 1) % 3], b = out[(i + 2) % 3];
    if (edge_between(iso, a) >= 0 || edge_between(iso, b) >= 0 || edge_between(a, b) < 0) continue;
    int axis = 0;
    while (kCorner[a][axis] == kCorner[b][axis]) ++axis;
    for (std::size_t k = 0; k < p.size(); ++k) {
      const int u = kEdge[p[k]][0], v = kEdge[p[k]][1];
      if ((u == iso || v == iso) && kCorner[u][axis] != kCorner[v][axis]) return k;
    }
  }
  return 0;
}

inline Tris split(int config, const std::vector<int>& p) {
  if (p.size() == 7) {
    const std::size_t k = heptagon_apex(config, p);
    Tris t;
    for (std::size_t i = 1; i + 1 < p.size(); ++i)
      t.push_back({p[k], p[(k + i) % 7], p[(k + i + 1) % 7]});
    return t;
  }
  const std::vector<Tris> all = triangulations(p);
  double best = -1;
  for (const Tris& t : all) best = std::max(best, area(t));
  for (const Tris& t : all)
    if (area(t) > best - 1e-9) return t;
  return all.front();
}

}  // namespace detail

/// The cube table of configurations 0..127 (built once).
inline const CubeTable& cube_table() {
  static const CubeTable t = [] {
    CubeTable r;
    for (auto& row : r.tri) row.fill(-1);
    for (int c = 1; c < 128; ++c) {
      std::size_t k = 0;
      for (const auto& poly : detail::polygons(c))
        for (const auto& tri : detail::split(c, poly))
          for (int v : detail::oriented(c, tri[0], tri[1], tri[2])) r.tri[std::size_t(c)][k++] = v;
    }
    return r;
  }();
  return t;
}

}  // namespace medkern::radiomics::marching
