// tests/cpp/radiomics/shape_test.cpp — marching-cubes/squares coefficients on shapes with known
// answers, invariances, and every diameter kernel row against the reference.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "medkern/core/cpu.hpp"
#include "medkern/kernels/radiomics/diameter.hpp"
#include "medkern/radiomics/shape.hpp"

using namespace medkern;
using namespace medkern::radiomics;

TEST_CASE("radiomics shape of one voxel is the midpoint octahedron") {
  std::vector<std::uint8_t> m{1};
  const auto s = shape3d_coefficients({m.data(), 1, 1, 1}, {1.0, 1.0, 1.0});
  CHECK(s.volume == doctest::Approx(1.0 / 6.0).epsilon(1e-12));
  CHECK(s.surface_area == doctest::Approx(std::sqrt(3.0)).epsilon(1e-12));
  CHECK(s.diameter_3d == doctest::Approx(1.0).epsilon(1e-12));
  CHECK(s.diameter_slice == doctest::Approx(1.0).epsilon(1e-12));
  const auto t = shape2d_coefficients({m.data(), 1, 1, 1}, {2.0, 1.0});
  CHECK(t.surface == doctest::Approx(1.0).epsilon(1e-12));  // diamond with diagonals 2 and 1
  CHECK(t.perimeter == doctest::Approx(4 * std::sqrt(1.0 + 0.25)).epsilon(1e-12));
  CHECK(t.diameter == doctest::Approx(2.0).epsilon(1e-12));
}

// The midpoint mesh is not closed where neighbouring cells resolve a shared ambiguous face
// differently, so (as in pyradiomics) the signed-tetrahedron volume depends on the array origin
// and the surface on orientation; area under translation and diameters are invariant.
TEST_CASE("radiomics shape invariances") {
  std::mt19937 g(3);
  const std::int64_t nz = 5, ny = 6, nx = 7;
  std::vector<std::uint8_t> m(std::size_t(nz * ny * nx)), pad(std::size_t((nz + 2) * (ny + 2) * (nx + 2)), 0),
      mir(m.size());
  for (auto& v : m) v = std::uint8_t(g() % 2);
  for (std::int64_t z = 0; z < nz; ++z)
    for (std::int64_t y = 0; y < ny; ++y)
      for (std::int64_t x = 0; x < nx; ++x) {
        const auto v = m[std::size_t((z * ny + y) * nx + x)];
        pad[std::size_t(((z + 1) * (ny + 2) + y + 1) * (nx + 2) + x + 1)] = v;
        mir[std::size_t(((nz - 1 - z) * ny + y) * nx + (nx - 1 - x))] = v;
      }
  const std::array<double, 3> sp{2.5, 0.8, 1.1};
  const auto a = shape3d_coefficients({m.data(), nz, ny, nx}, sp);
  const auto b = shape3d_coefficients({pad.data(), nz + 2, ny + 2, nx + 2}, sp);
  const auto c = shape3d_coefficients({mir.data(), nz, ny, nx}, sp);
  CHECK(b.surface_area == doctest::Approx(a.surface_area).epsilon(1e-12));
  CHECK(b.volume == doctest::Approx(a.volume).epsilon(0.05));
  for (const auto* o : {&b, &c}) {
    CHECK(o->diameter_3d == doctest::Approx(a.diameter_3d).epsilon(1e-12));
    CHECK(o->diameter_slice == doctest::Approx(a.diameter_slice).epsilon(1e-12));
    CHECK(o->diameter_column == doctest::Approx(a.diameter_column).epsilon(1e-12));
    CHECK(o->diameter_row == doctest::Approx(a.diameter_row).epsilon(1e-12));
  }
  // A full box: volume is the box minus the cut corners and edges of the midpoint mesh.
  std::vector<std::uint8_t> box(std::size_t(3 * 4 * 5), 1);
  const auto bx = shape3d_coefficients({box.data(), 3, 4, 5}, {1.0, 1.0, 1.0});
  CHECK(bx.volume > 3 * 4 * 5 - 0.5 * (3 * 4 + 4 * 5 + 3 * 5) * 2);
  CHECK(bx.volume < 3 * 4 * 5);
  CHECK_THROWS_AS(shape3d_coefficients({box.data(), 3, 4, 5}, {1.0, 0.0, 1.0}), ShapeError);
  std::vector<std::uint8_t> none(8, 0);
  CHECK_THROWS_AS(shape3d_coefficients({none.data(), 2, 2, 2}, sp), ShapeError);
}

TEST_CASE("radiomics diameter kernels equal the reference") {
  namespace kr = kernels::radiomics;
  std::mt19937 g(11);
  std::normal_distribution<double> d;
  for (std::int64_t n : {0, 1, 7, 8, 9, 15, 16, 17, 33, 130}) {
    std::vector<double> x(std::size_t(n + 1)), y(x.size()), z(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = d(g), y[i] = d(g), z[i] = d(g);
    for (const auto& row : kr::kDiameterRegistry) {
      if (!cpu_info().supports(row.isa)) {
        MESSAGE("skipping " << row.name << ": CPU lacks the ISA");
        continue;
      }
      for (bool three : {true, false}) {
        const double want = kr::max_sq_dist_ref(x[0], y[0], z[0], x.data() + 1, y.data() + 1,
                                                three ? z.data() + 1 : nullptr, n);
        const double got = row.max_sq_dist(x[0], y[0], z[0], x.data() + 1, y.data() + 1,
                                           three ? z.data() + 1 : nullptr, n);
        CHECK_MESSAGE(std::abs(got - want) <= 1e-14 * want, row.name << " n=" << n);
      }
    }
  }
}

// The diameters (per-plane convex hulls, 3-D search over the slice hulls) against all pairs
// of mesh vertices (every axis-edge midpoint between ROI and background), on random masks of
// several densities, sizes of 1 included.
TEST_CASE("radiomics shape diameters equal the all-pairs maximum") {
  std::mt19937 g(11);
  for (int trial = 0; trial < 12; ++trial) {
    const std::int64_t nz = 1 + g() % 6, ny = 1 + g() % 9, nx = 1 + g() % 8;
    const unsigned density = 1 + g() % 3;  // of 4
    std::vector<std::uint8_t> m(std::size_t(nz * ny * nx));
    for (auto& v : m) v = std::uint8_t(g() % 4 < density);
    m[0] = 1;
    const std::array<double, 3> sp{0.5 + (g() % 5) * 0.5, 0.7, 0.3 + (g() % 3) * 0.4};
    // Brute force on the padded mask.
    const std::int64_t pz = nz + 2, py = ny + 2, px = nx + 2;
    auto at = [&](std::int64_t z, std::int64_t y, std::int64_t x) -> int {
      if (z < 1 || y < 1 || x < 1 || z > nz || y > ny || x > nx) return 0;
      return m[std::size_t(((z - 1) * ny + y - 1) * nx + x - 1)] != 0;
    };
    std::vector<std::array<std::int64_t, 3>> keys;
    for (std::int64_t z = 0; z < pz; ++z)
      for (std::int64_t y = 0; y < py; ++y)
        for (std::int64_t x = 0; x < px; ++x) {
          if (z + 1 < pz && at(z, y, x) != at(z + 1, y, x)) keys.push_back({2 * z + 1, 2 * y, 2 * x});
          if (y + 1 < py && at(z, y, x) != at(z, y + 1, x)) keys.push_back({2 * z, 2 * y + 1, 2 * x});
          if (x + 1 < px && at(z, y, x) != at(z, y, x + 1)) keys.push_back({2 * z, 2 * y, 2 * x + 1});
        }
    double want[4] = {0, 0, 0, 0};  // 3-D, slice (z), column (y), row (x)
    for (std::size_t a = 0; a < keys.size(); ++a)
      for (std::size_t b = a + 1; b < keys.size(); ++b) {
        double d = 0;
        for (int k = 0; k < 3; ++k) {
          const double e = 0.5 * double(keys[a][std::size_t(k)] - keys[b][std::size_t(k)]) * sp[std::size_t(k)];
          d += e * e;
        }
        want[0] = std::max(want[0], d);
        for (int k = 0; k < 3; ++k)
          if (keys[a][std::size_t(k)] == keys[b][std::size_t(k)]) want[1 + k] = std::max(want[1 + k], d);
      }
    const auto s = shape3d_coefficients({m.data(), nz, ny, nx}, sp);
    CAPTURE(trial);
    CHECK(s.diameter_3d == doctest::Approx(std::sqrt(want[0])).epsilon(1e-12));
    CHECK(s.diameter_slice == doctest::Approx(std::sqrt(want[1])).epsilon(1e-12));
    CHECK(s.diameter_column == doctest::Approx(std::sqrt(want[2])).epsilon(1e-12));
    CHECK(s.diameter_row == doctest::Approx(std::sqrt(want[3])).epsilon(1e-12));
  }
}
