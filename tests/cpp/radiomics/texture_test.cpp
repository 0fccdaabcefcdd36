// tests/cpp/radiomics/texture_test.cpp — texture matrices (padded, chunked, parallel) against
// plain bounds-checked loops written straight from the definitions, on small random volumes;
// angle generation against pyradiomics' known sets; bad input.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <random>
#include <vector>

#include "medkern/core/threading.hpp"
#include "medkern/radiomics/glcm.hpp"
#include "medkern/radiomics/gldm.hpp"
#include "medkern/radiomics/glrlm.hpp"
#include "medkern/radiomics/glszm.hpp"
#include "medkern/radiomics/ngtdm.hpp"

using namespace medkern;
using namespace medkern::radiomics;

namespace {

struct Vol {
  std::int64_t nz, ny, nx;
  std::vector<std::int32_t> v;
  std::int32_t at(std::int64_t z, std::int64_t y, std::int64_t x) const {
    if (z < 0 || y < 0 || x < 0 || z >= nz || y >= ny || x >= nx) return 0;
    return v[std::size_t((z * ny + y) * nx + x)];
  }
  LevelsView view() const { return {v.data(), nz, ny, nx}; }
};

// Blobby ROI with few gray levels, so that runs, zones and dependences are non-trivial.
Vol random_volume(std::int64_t nz, std::int64_t ny, std::int64_t nx, int ng, unsigned seed) {
  std::mt19937 g(seed);
  std::uniform_int_distribution<int> lvl(1, ng), coin(0, 9);
  Vol r{nz, ny, nx, std::vector<std::int32_t>(std::size_t(nz * ny * nx))};
  for (auto& x : r.v) x = coin(g) < 7 ? lvl(g) : 0;
  for (std::size_t i = 1; i < r.v.size(); ++i)  // make neighbours alike more often
    if (coin(g) < 4 && r.v[i] > 0 && r.v[i - 1] > 0) r.v[i] = r.v[i - 1];
  if (r.v[0] == 0) r.v[0] = 1;
  return r;
}

std::vector<Vol> volumes() {
  return {random_volume(5, 7, 9, 4, 1), random_volume(1, 11, 13, 3, 2),
          random_volume(6, 1, 8, 5, 3), random_volume(9, 8, 7, 2, 4),
          random_volume(1, 1, 6, 3, 5)};
}

void check_equal(const std::vector<double>& got, const std::vector<double>& want) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i)
    if (std::abs(got[i] - want[i]) > 1e-9 * (1 + std::abs(want[i]))) {
      FAIL_CHECK("index " << i << ": got " << got[i] << " want " << want[i]);
      return;
    }
}

template <class F>
void for_threads(F&& f) {
  const int saved = num_threads();
  for (int t : {1, 2}) {
    set_num_threads(t);
    f();
  }
  set_num_threads(saved);
}

}  // namespace

TEST_CASE("radiomics angles follow pyradiomics' generation") {
  auto a = generate_angles(5, 5, 5, {1}, false, -1, "t");
  REQUIRE(a.size() == 13);
  CHECK(a.front() == Angle{1, 1, 1});
  CHECK(a.back() == Angle{0, 0, 1});
  CHECK(generate_angles(1, 5, 5, {1}, false, -1, "t").size() == 4);
  CHECK(generate_angles(5, 5, 5, {1}, false, 0, "t").size() == 4);
  CHECK(generate_angles(5, 5, 5, {1}, true, -1, "t").size() == 26);
  auto d2 = generate_angles(5, 2, 5, {2}, false, 0, "t");  // |dy| <= size - 1 = 1
  REQUIRE(d2.size() == 3);
  CHECK(d2[0] == Angle{0, 1, 2});
  CHECK(d2[2] == Angle{0, 0, 2});
  CHECK(generate_angles(5, 5, 5, {1, 2}, false, -1, "t").size() == 62);
  CHECK_THROWS_AS(generate_angles(5, 5, 5, {0}, false, -1, "t"), ShapeError);
}

TEST_CASE("radiomics glcm equals the definition") {
  for (const Vol& v : volumes())
    for (const std::vector<int>& dist : {std::vector<int>{1}, std::vector<int>{1, 2}})
      for_threads([&] {
        const auto r = glcm_matrix(v.view(), dist, false, 0);
        const std::int64_t ng = r.ng, na = std::int64_t(r.angles.size());
        std::vector<double> want(std::size_t(na * ng * ng), 0.0);
        for (std::int64_t a = 0; a < na; ++a)
          for (std::int64_t z = 0; z < v.nz; ++z)
            for (std::int64_t y = 0; y < v.ny; ++y)
              for (std::int64_t x = 0; x < v.nx; ++x) {
                const auto& o = r.angles[std::size_t(a)];
                const int i = v.at(z, y, x), j = v.at(z + o[0], y + o[1], x + o[2]);
                if (i > 0 && j > 0) want[std::size_t((a * ng + i - 1) * ng + j - 1)] += 1;
              }
        check_equal(r.counts, want);
      });
}

TEST_CASE("radiomics gldm and ngtdm equal the definitions") {
  for (const Vol& v : volumes())
    for_threads([&] {
      const auto g = gldm_matrix(v.view(), {1}, 1, false, 0);
      const auto n = ngtdm_matrix(v.view(), {1}, false, 0);
      const std::int64_t ng = g.ng, na = std::int64_t(g.angles.size());
      std::vector<double> wg(std::size_t(ng * (na + 1)), 0.0), wn(std::size_t(ng * 2), 0.0);
      for (std::int64_t z = 0; z < v.nz; ++z)
        for (std::int64_t y = 0; y < v.ny; ++y)
          for (std::int64_t x = 0; x < v.nx; ++x) {
            const int i = v.at(z, y, x);
            if (i == 0) continue;
            int dep = 0, cnt = 0;
            double sum = 0;
            for (int dz = -1; dz <= 1; ++dz)
              for (int dy = -1; dy <= 1; ++dy)
                for (int dx = -1; dx <= 1; ++dx) {
                  if (dz == 0 && dy == 0 && dx == 0) continue;
                  const int j = v.at(z + dz, y + dy, x + dx);
                  if (j == 0) continue;
                  dep += std::abs(i - j) <= 1;
                  ++cnt;
                  sum += j;
                }
            wg[std::size_t((i - 1) * (na + 1) + dep)] += 1;
            wn[std::size_t((i - 1) * 2)] += 1;
            wn[std::size_t((i - 1) * 2 + 1)] += cnt ? std::abs(i - sum / cnt) : 0.0;
          }
      check_equal(g.counts, wg);
      check_equal(n.counts, wn);
    });
}

TEST_CASE("radiomics glrlm equals the definition") {
  for (const Vol& v : volumes())
    for_threads([&] {
      std::int64_t nr = 0;
      const auto r = glrlm_matrix(v.view(), false, 0, &nr);
      const std::int64_t ng = r.ng, na = std::int64_t(r.angles.size());
      std::vector<double> want(std::size_t(na * ng * nr), 0.0);
      for (std::int64_t a = 0; a < na; ++a) {
        const auto& o = r.angles[std::size_t(a)];
        bool multi = false;
        std::vector<double> t(std::size_t(ng * nr), 0.0);
        for (std::int64_t z = 0; z < v.nz; ++z)
          for (std::int64_t y = 0; y < v.ny; ++y)
            for (std::int64_t x = 0; x < v.nx; ++x) {
              const int g = v.at(z, y, x);
              if (g == 0) continue;
              for (std::int64_t k = 1;; ++k) {  // another ROI voxel further along the line?
                const std::int64_t cz = z + k * o[0], cy = y + k * o[1], cx = x + k * o[2];
                if (cz < 0 || cy < 0 || cx < 0 || cz >= v.nz || cy >= v.ny || cx >= v.nx) break;
                if (v.at(cz, cy, cx) > 0) multi = true;
              }
              if (v.at(z - o[0], y - o[1], x - o[2]) == g) continue;
              std::int64_t len = 1;
              while (v.at(z + len * o[0], y + len * o[1], x + len * o[2]) == g) ++len;
              t[std::size_t((g - 1) * nr + len - 1)] += 1;
            }
        if (multi) std::copy(t.begin(), t.end(), want.begin() + a * ng * nr);
      }
      check_equal(r.counts, want);
    });
}

TEST_CASE("radiomics glszm zones equal a union-find labelling") {
  for (const Vol& v : volumes()) {
    const auto r = glszm_matrix(v.view(), false, 0);
    const std::int64_t n = v.nz * v.ny * v.nx;
    std::vector<std::int64_t> parent(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) parent[std::size_t(i)] = i;
    auto find = [&](std::int64_t i) {
      while (parent[std::size_t(i)] != i) i = parent[std::size_t(i)] = parent[std::size_t(parent[std::size_t(i)])];
      return i;
    };
    for (std::int64_t z = 0; z < v.nz; ++z)
      for (std::int64_t y = 0; y < v.ny; ++y)
        for (std::int64_t x = 0; x < v.nx; ++x) {
          const int g = v.at(z, y, x);
          if (g == 0) continue;
          for (int dz = -1; dz <= 1; ++dz)
            for (int dy = -1; dy <= 1; ++dy)
              for (int dx = -1; dx <= 1; ++dx)
                if (v.at(z + dz, y + dy, x + dx) == g)
                  parent[std::size_t(find((z * v.ny + y) * v.nx + x))] =
                      find(((z + dz) * v.ny + y + dy) * v.nx + x + dx);
        }
    std::map<std::int64_t, std::int64_t> size;
    std::map<std::int64_t, int> level;
    for (std::int64_t i = 0; i < n; ++i)
      if (v.v[std::size_t(i)] > 0) {
        ++size[find(i)];
        level[find(i)] = v.v[std::size_t(i)];
      }
    std::int64_t mx = 1;
    for (auto& [k, s] : size) mx = std::max(mx, s);
    REQUIRE(r.max_size == mx);
    std::vector<double> want(std::size_t(r.ng * mx), 0.0);
    for (auto& [k, s] : size) want[std::size_t((level[k] - 1) * mx + s - 1)] += 1;
    check_equal(r.counts, want);
  }
}

TEST_CASE("radiomics texture matrices reject bad input") {
  std::vector<std::int32_t> z(24, 0);
  const LevelsView empty{z.data(), 2, 3, 4};
  CHECK_THROWS_AS(glcm_matrix(empty, {1}, false, 0), ShapeError);
  z[3] = -2;
  CHECK_THROWS_AS(glszm_matrix(empty, false, 0), ShapeError);
  z[3] = 1;
  CHECK_THROWS_AS(gldm_matrix(empty, {1}, -1, false, 0), ShapeError);
  CHECK_THROWS_AS(ngtdm_matrix(empty, {1}, true, 3), ShapeError);
  CHECK_THROWS_AS(glcm_matrix(LevelsView{z.data(), 0, 3, 4}, {1}, false, 0), ShapeError);
}
