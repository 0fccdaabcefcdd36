// tests/cpp/dataflow/dataflow_kernels_test.cpp — pooling, resampling, softmax and concat:
// every registry row the CPU supports against the ref row over randomized small shapes
// (odd sizes, vector tails, padding, ceil mode, stride 1..3, dilation), with guard floats
// after every output to catch writes past the end. Max pooling, nearest resampling and
// concat must match bit for bit; sums within a few ulps.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "medkern/core/cpu.hpp"
#include "medkern/kernels/concat/registry.hpp"
#include "medkern/kernels/pool/registry.hpp"
#include "medkern/kernels/resample/registry.hpp"
#include "medkern/kernels/softmax/registry.hpp"

namespace {

constexpr float kGuardValue = 12345.f;
constexpr int kGuard = 32;

std::vector<float> random_vec(std::int64_t n, std::mt19937_64& g) {
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = nd(g);
  return v;
}

void check_close(const std::vector<float>& got, const std::vector<float>& want, float rtol,
                 std::int64_t valid) {
  for (std::int64_t i = 0; i < valid; ++i) {
    const float a = got[std::size_t(i)], b = want[std::size_t(i)];
    if (rtol == 0.f) {
      if (!(a == b || (std::isnan(a) && std::isnan(b)))) {
        FAIL("element ", i, ": ", a, " != ", b);
      }
    } else if (!(std::fabs(a - b) <= rtol * (1.f + std::fabs(b)))) {
      FAIL("element ", i, ": ", a, " vs ", b);
    }
  }
  for (std::size_t i = std::size_t(valid); i < got.size(); ++i) REQUIRE(got[i] == kGuardValue);
}

template <class Rows>
bool runnable(const Rows& row) {
  return medkern::cpu_info().supports(row.isa);
}

}  // namespace

TEST_CASE("pool kernels match ref") {
  namespace kp = medkern::kernels::pool;
  std::mt19937_64 g(7);
  for (int trial = 0; trial < 120; ++trial) {
    kp::PoolDesc d;
    d.kind = trial % 3 == 0 ? kp::Kind::max : (trial % 3 == 1 ? kp::Kind::avg : kp::Kind::adaptive_avg);
    const bool three = trial % 4 == 3;
    for (int x = three ? 0 : 1; x < 3; ++x) {
      d.in[x] = std::int64_t(g() % (x == 2 ? 70 : 12)) + 1;
      if (d.kind == kp::Kind::adaptive_avg) {
        d.out[x] = std::int64_t(g() % 9) + 1;
        continue;
      }
      d.k[x] = std::int64_t(g() % 4) + 1;
      d.stride[x] = std::int64_t(g() % 3) + 1;
      d.pad[x] = std::int64_t(g() % std::uint64_t(d.k[x] / 2 + 1));
      d.dilation[x] = d.kind == kp::Kind::max ? std::int64_t(g() % 2) + 1 : 1;
      const bool ceil_mode = g() % 2;
      const std::int64_t span = d.dilation[x] * (d.k[x] - 1) + 1;
      std::int64_t num = d.in[x] + 2 * d.pad[x] - span + (ceil_mode ? d.stride[x] - 1 : 0);
      if (num < 0) {  // kernel larger than the padded input: grow the input
        d.in[x] += -num;
        num = 0;
      }
      d.out[x] = num / d.stride[x] + 1;
      if (ceil_mode && (d.out[x] - 1) * d.stride[x] >= d.in[x] + d.pad[x]) --d.out[x];
    }
    d.count_include_pad = g() % 2;
    d.divisor_override = trial % 7 == 0 ? 3 : 0;
    const auto src = random_vec(d.in_plane(), g);
    std::vector<float> want(std::size_t(d.out_plane() + kGuard), kGuardValue);
    kp::impl<medkern::isa::ref_t>::run(d, src.data(), want.data(), 0, d.rows());
    for (const auto& row : kp::kRegistry) {
      if (!runnable(row) || !row.supports(d)) continue;
      CAPTURE(row.name);
      CAPTURE(kp::describe(d));
      std::vector<float> got(want.size(), kGuardValue);
      const std::int64_t mid = d.rows() / 2;  // two runs of rows, as tasks would split them
      row.run(d, src.data(), got.data(), 0, mid);
      row.run(d, src.data(), got.data(), mid, d.rows());
      check_close(got, want, d.kind == kp::Kind::max ? 0.f : 2e-6f, d.out_plane());
    }
  }
}

TEST_CASE("resample kernels match ref") {
  namespace krs = medkern::kernels::resample;
  std::mt19937_64 g(11);
  for (int trial = 0; trial < 80; ++trial) {
    krs::ResampleDesc d;
    d.mode = trial % 2 ? krs::Mode::linear : krs::Mode::nearest;
    const bool three = trial % 3 == 2;
    const bool align = trial % 4 >= 2;
    std::vector<std::int32_t> i0[3], i1[3];
    std::vector<float> l0[3], l1[3];
    for (int x = 0; x < 3; ++x) {
      if (x > 0 || three) {
        d.in[x] = std::int64_t(g() % (x == 2 ? 40 : 9)) + 1;
        d.out[x] = trial % 5 == 0 ? 2 * d.in[x] : std::int64_t(g() % (x == 2 ? 70 : 12)) + 1;
      }
      const double scale = trial % 6 == 1 ? 1.5 : 0.0;
      for (std::int64_t i = 0; i < d.out[x]; ++i) {
        const krs::Source s = d.mode == krs::Mode::nearest
                                  ? krs::nearest_source(i, d.in[x], d.out[x], scale)
                                  : krs::linear_source(i, d.in[x], d.out[x], align, scale);
        REQUIRE(s.i0 >= 0);
        REQUIRE(s.i1 < d.in[x]);
        i0[x].push_back(s.i0);
        i1[x].push_back(s.i1);
        l0[x].push_back(s.l0);
        l1[x].push_back(s.l1);
      }
      d.axis[x] = krs::Axis{i0[x].data(), i1[x].data(), l0[x].data(), l1[x].data()};
    }
    const auto src = random_vec(d.in[0] * d.in[1] * d.in[2], g);
    const std::int64_t n_out = d.rows() * d.out[2];
    std::vector<float> want(std::size_t(n_out + kGuard), kGuardValue);
    std::vector<float> scratch(static_cast<std::size_t>(d.in[2]));
    krs::impl<medkern::isa::ref_t>::run(d, src.data(), want.data(), 0, d.rows(), scratch.data());
    for (const auto& row : krs::kRegistry) {
      if (!runnable(row) || !row.supports(d)) continue;
      CAPTURE(row.name);
      CAPTURE(krs::describe(d));
      std::vector<float> got(want.size(), kGuardValue);
      const std::int64_t mid = d.rows() / 3;
      row.run(d, src.data(), got.data(), 0, mid, scratch.data());
      row.run(d, src.data(), got.data(), mid, d.rows(), scratch.data());
      check_close(got, want, d.mode == krs::Mode::nearest ? 0.f : 2e-6f, n_out);
    }
  }
}

TEST_CASE("softmax kernels match ref") {
  namespace ksm = medkern::kernels::softmax;
  std::mt19937_64 g(13);
  for (int trial = 0; trial < 40; ++trial) {
    ksm::SoftmaxDesc d;
    d.outer = std::int64_t(g() % 3) + 1;
    d.L = std::int64_t(g() % 40) + 1;
    d.inner = trial % 3 == 0 ? 1 : std::int64_t(g() % 70) + 1;
    const std::int64_t n = d.outer * d.L * d.inner;
    auto src = random_vec(n, g);
    for (auto& v : src) v *= 30.f;  // wide range: the max subtraction matters
    std::vector<float> want(std::size_t(n + kGuard), kGuardValue);
    for (std::int64_t o = 0; o < d.outer; ++o)
      ksm::impl<medkern::isa::ref_t>::run(d, src.data(), want.data(), o, 0, d.inner);
    for (const auto& row : ksm::kRegistry) {
      if (!runnable(row) || !row.supports(d)) continue;
      CAPTURE(row.name);
      CAPTURE(ksm::describe(d));
      std::vector<float> got(want.size(), kGuardValue);
      const std::int64_t mid = d.inner / 2;
      for (std::int64_t o = 0; o < d.outer; ++o) {
        if (d.inner == 1) {
          row.run(d, src.data(), got.data(), o, 0, 1);
        } else {
          row.run(d, src.data(), got.data(), o, 0, mid);
          row.run(d, src.data(), got.data(), o, mid, d.inner);
        }
      }
      check_close(got, want, 2e-6f, n);
    }
  }
}

TEST_CASE("concat kernels match ref") {
  namespace kc = medkern::kernels::concat;
  std::mt19937_64 g(17);
  for (int trial = 0; trial < 40; ++trial) {
    const std::int64_t S = std::int64_t(g() % 50) + 1;
    const int n_in = int(g() % 4) + 1;
    std::vector<std::vector<float>> ins;
    std::vector<kc::LanePiece> pieces;
    int lane = 0;
    for (int i = 0; i < n_in && lane < kc::kLanes; ++i) {
      const int lanes = std::min<int>(kc::kLanes - lane, int(g() % 8) + 1);
      const int src_lane = int(g() % std::uint64_t(kc::kLanes - lanes + 1));
      ins.push_back(random_vec(S * kc::kLanes, g));
      pieces.push_back({ins.back().data(), src_lane, lane, lanes});
      lane += lanes;
    }
    std::vector<float> want(std::size_t(S * kc::kLanes + kGuard), kGuardValue);
    kc::impl<medkern::isa::ref_t>::repack(pieces.data(), int(pieces.size()), want.data(), 0, S);
    for (const auto& row : kc::kRegistry) {
      if (!runnable(row)) continue;
      CAPTURE(row.name);
      std::vector<float> got(want.size(), kGuardValue);
      row.repack(pieces.data(), int(pieces.size()), got.data(), 0, S / 2);
      row.repack(pieces.data(), int(pieces.size()), got.data(), S / 2, S);
      check_close(got, want, 0.f, S * kc::kLanes);
      // copy, including the streaming path (>= 256 KiB) at an odd destination offset
      const std::int64_t bytes = trial % 10 == 0 ? (300 << 10) + 12 : std::int64_t(g() % 5000);
      std::vector<char> a(static_cast<std::size_t>(bytes)), b(std::size_t(bytes + 64 + 7), 'z');
      for (auto& c : a) c = char(g());
      row.copy(b.data() + 7, a.data(), bytes);
      REQUIRE(std::memcmp(b.data() + 7, a.data(), std::size_t(bytes)) == 0);
      for (std::size_t i = std::size_t(bytes + 7); i < b.size(); ++i) REQUIRE(b[i] == 'z');
    }
  }
}

TEST_CASE("blocked pool kernels match ref, and ref matches the planar ref per lane") {
  namespace kp = medkern::kernels::pool;
  std::mt19937_64 g(11);
  for (int trial = 0; trial < 80; ++trial) {
    kp::PoolDesc d;
    d.kind = trial % 2 == 0 ? kp::Kind::max : kp::Kind::avg;
    const bool three = trial % 4 >= 2;
    for (int x = three ? 0 : 1; x < 3; ++x) {
      d.in[x] = std::int64_t(g() % (x == 2 ? 37 : 9)) + 1;
      d.k[x] = std::int64_t(g() % 4) + 1;
      d.stride[x] = std::int64_t(g() % 3) + 1;
      d.pad[x] = std::int64_t(g() % std::uint64_t(d.k[x] / 2 + 1));
      d.dilation[x] = d.kind == kp::Kind::max ? std::int64_t(g() % 2) + 1 : 1;
      const bool ceil_mode = g() % 2;
      const std::int64_t span = d.dilation[x] * (d.k[x] - 1) + 1;
      std::int64_t num = d.in[x] + 2 * d.pad[x] - span + (ceil_mode ? d.stride[x] - 1 : 0);
      if (num < 0) {
        d.in[x] += -num;
        num = 0;
      }
      d.out[x] = num / d.stride[x] + 1;
      if (ceil_mode && (d.out[x] - 1) * d.stride[x] >= d.in[x] + d.pad[x]) --d.out[x];
    }
    d.count_include_pad = g() % 2;
    d.divisor_override = trial % 7 == 0 ? 3 : 0;
    auto src = random_vec(d.in_plane() * 16, g);
    if (d.kind == kp::Kind::max && trial % 5 == 0)
      src[std::size_t(g() % std::uint64_t(src.size()))] = NAN;
    std::vector<float> want(std::size_t(d.out_plane() * 16 + kGuard), kGuardValue);
    kp::impl<medkern::isa::ref_t>::run_blocked(d, src.data(), want.data(), 0, d.rows());
    // The blocked ref, lane by lane, against the planar ref on that lane's plane.
    for (int l = 0; l < 16; ++l) {
      std::vector<float> plane(std::size_t(d.in_plane())), out(std::size_t(d.out_plane()));
      for (std::int64_t i = 0; i < d.in_plane(); ++i)
        plane[std::size_t(i)] = src[std::size_t(i * 16 + l)];
      kp::impl<medkern::isa::ref_t>::run(d, plane.data(), out.data(), 0, d.rows());
      for (std::int64_t i = 0; i < d.out_plane(); ++i) {
        const float a = want[std::size_t(i * 16 + l)], b = out[std::size_t(i)];
        REQUIRE((a == b || (std::isnan(a) && std::isnan(b))));
      }
    }
    for (const auto& row : kp::kRegistry) {
      if (!runnable(row) || !row.supports(d)) continue;
      CAPTURE(row.name);
      CAPTURE(kp::describe(d));
      std::vector<float> got(want.size(), kGuardValue);
      const std::int64_t mid = d.rows() / 2;
      row.run_blocked(d, src.data(), got.data(), 0, mid);
      row.run_blocked(d, src.data(), got.data(), mid, d.rows());
      check_close(got, want, d.kind == kp::Kind::max ? 0.f : 2e-6f, d.out_plane() * 16);
    }
  }
}
