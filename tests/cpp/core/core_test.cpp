// tests/cpp/core/core_test.cpp — CPU detection, ISA lattice and cap, errors, threads, buffers.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <vector>

#include "medkern/core/buffer.hpp"
#include "medkern/core/cpu.hpp"
#include "medkern/core/dispatch.hpp"
#include "medkern/core/tensor.hpp"
#include "medkern/core/threading.hpp"

using namespace medkern;

TEST_CASE("isa names round-trip and unknown names are rejected") {
  for (Isa i : kAllIsas) CHECK(parse_isa(isa_name(i)) == i);
  CHECK_FALSE(parse_isa("avx1024").has_value());
  CHECK_FALSE(parse_isa("AVX2").has_value());
  CHECK_THROWS_AS(set_max_isa(std::string("sse9")), ShapeError);
  try {
    set_max_isa(std::string("sse9"));
  } catch (const ShapeError& e) {
    CHECK(std::string(e.what()).find("avx512_vnni") != std::string::npos);  // lists valid names
  }
}

TEST_CASE("cpu detection is consistent with the lattice") {
  const CpuInfo& c = cpu_info();
  CHECK(c.supports(Isa::ref));
  // Each level implies the one below it.
  for (std::size_t i = 1; i < kAllIsas.size(); ++i)
    if (c.supports(kAllIsas[i])) CHECK(c.supports(kAllIsas[i - 1]));
  CHECK(static_cast<int>(c.best_isa()) >= 0);
  const auto av = available_isas();
  CHECK(av.front() == Isa::ref);
  CHECK(av.back() == c.best_isa());
  // x86-64 machines report at least one cache level with a plausible size.
  bool any = false;
  for (const CacheInfo& ci : c.caches) any |= ci.size_bytes >= 1024;
  CHECK(any);
  MESSAGE("cpu: ", c.model, ", best isa ", isa_name(c.best_isa()));
}

TEST_CASE("the ISA cap is fixed at the first kernel call") {
  // MEDKERN_MAX_ISA is set by ctest for the capped runs; respect it.
  const Isa cap = max_isa();
  const Isa active = active_isa();  // freezes
  CHECK(static_cast<int>(active) <= static_cast<int>(cap));
  CHECK(active == effective_isa());
  CHECK_NOTHROW(set_max_isa(cap));  // same value: fine
  const Isa other = cap == Isa::ref ? Isa::avx2 : Isa::ref;
  CHECK_THROWS_AS(set_max_isa(other), UnsupportedError);
  if (const char* env = std::getenv("MEDKERN_MAX_ISA"))
    CHECK(isa_name(cap) == std::string(env));
}

TEST_CASE("bf16 rounding is round-to-nearest-even and keeps NaN") {
  CHECK(float(bf16(1.0f)) == 1.0f);
  // 1 + 2^-8 is exactly halfway between two bf16 values: ties to even (1.0).
  CHECK(float(bf16(1.0f + std::ldexp(1.0f, -8))) == 1.0f);
  CHECK(float(bf16(1.0f + 3 * std::ldexp(1.0f, -8))) == 1.0f + std::ldexp(1.0f, -6));
  CHECK(std::isnan(float(bf16(std::numeric_limits<float>::quiet_NaN()))));
  CHECK(std::isinf(float(bf16(std::numeric_limits<float>::infinity()))));
  CHECK(float(bf16(-2.5f)) == -2.5f);
}

TEST_CASE("checked_mul rejects negative and overflowing sizes") {
  CHECK(detail::checked_mul(3, 4, "t") == 12);
  CHECK_THROWS_AS(detail::checked_mul(-1, 4, "t"), ShapeError);
  CHECK_THROWS_AS(detail::checked_mul(std::int64_t(1) << 40, std::int64_t(1) << 40, "t"),
                  ShapeError);
}

TEST_CASE("aligned buffers are aligned, sized and movable") {
  AlignedBuffer<float> b(1000);
  CHECK(reinterpret_cast<std::uintptr_t>(b.data()) % 64 == 0);
  CHECK(b.size() == 1000);
  b.fill_zero();
  CHECK(b[999] == 0.f);
  AlignedBuffer<float> c(std::move(b));
  CHECK(c.size() == 1000);
  CHECK(b.data() == nullptr);
  AlignedBuffer<float> empty(0);
  CHECK(empty.empty());
  CHECK_THROWS_AS(AlignedBuffer<float>(-5), ShapeError);
  CHECK_THROWS_AS(AlignedBuffer<double>(std::numeric_limits<std::int64_t>::max() / 2), ShapeError);
}

TEST_CASE("tensor views: contiguity and shapes") {
  float data[24];
  TensorView v = TensorView::contiguous(data, DType::f32, {2, 3, 4});
  CHECK(v.numel() == 24);
  CHECK(v.is_contiguous());
  CHECK(v.strides[0] == 48);
  CHECK(v.shape_str() == "2x3x4");
  v.strides[2] = 8;
  CHECK_FALSE(v.is_contiguous());
}

TEST_CASE("threads: set, reject bad counts, parallel loops cover ranges exactly once") {
  const int before = num_threads();
  CHECK(before >= 1);
  CHECK_THROWS_AS(set_num_threads(0), ShapeError);
  CHECK_THROWS_AS(set_num_threads(-3), ShapeError);
  for (int n : {1, 2, 3}) {
    set_num_threads(n);
    CHECK(num_threads() == n);
    std::vector<int> hits(10007, 0);
    parallel_for_1d(10007, 100, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) hits[std::size_t(i)]++;
    });
    for (int h : hits) REQUIRE(h == 1);
    std::vector<int> hits2(37 * 41, 0);
    parallel_for_2d(37, 41, [&](std::int64_t i0, std::int64_t i1, std::int64_t j0, std::int64_t j1) {
      for (auto i = i0; i < i1; ++i)
        for (auto j = j0; j < j1; ++j) hits2[std::size_t(i * 41 + j)]++;
    });
    for (int h : hits2) REQUIRE(h == 1);
  }
  // Ordered reductions are bitwise reproducible for a fixed thread count.
  std::vector<float> x(100000);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(float(i)) * 1e3f;
  auto sum = [&] {
    return parallel_reduce_ordered<double>(
        std::int64_t(x.size()), 1000, 0.0,
        [&](std::int64_t b, std::int64_t e) {
          float s = 0;
          for (auto i = b; i < e; ++i) s += x[std::size_t(i)];
          return double(s);
        },
        [](double a, double b) { return a + b; });
  };
  set_num_threads(2);
  const double s1 = sum(), s2 = sum();
  CHECK(std::memcmp(&s1, &s2, sizeof(double)) == 0);
  set_num_threads(before);
}
