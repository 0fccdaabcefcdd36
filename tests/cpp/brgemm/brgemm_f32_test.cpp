// tests/cpp/brgemm/brgemm_f32_test.cpp — every f32 registry row against the ref.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "medkern/core/cpu.hpp"
#include "medkern/kernels/brgemm/registry.hpp"
#include "testing/brgemm_tester.hpp"

namespace {

using medkern::DType;
using medkern::Isa;
using medkern::cpu_info;
using medkern::kernels::Eltwise;
using medkern::kernels::brgemm::BrgemmRow;
using medkern::kernels::brgemm::kRegistry;
using medkern::testing::BrgemmTester;

/// f32 rows of the registry the host can run (a skipped row is reported once).
std::vector<const BrgemmRow*> f32_rows() {
  std::vector<const BrgemmRow*> rows;
  for (const BrgemmRow& r : kRegistry) {
    const auto d = BrgemmTester().types(DType::f32, DType::f32, DType::f32).desc();
    if (!r.supports(d)) continue;
    if (!cpu_info().supports(r.isa)) {
      MESSAGE("skipping ", r.name, ": CPU lacks ", medkern::isa_name(r.isa));
      continue;
    }
    rows.push_back(&r);
  }
  return rows;
}

constexpr std::int64_t kSizes[] = {1, 15, 16, 17, 31, 33, 64, 100, 257};

}  // namespace

TEST_CASE("brgemm f32: every row matches ref over M, N, K sizes and tails") {
  for (const BrgemmRow* r : f32_rows()) {
    std::uint64_t seed = 1;
    // Full cross product of M x N with K sampled from the list, plus every K with small M, N.
    for (std::int64_t M : kSizes)
      for (std::int64_t N : kSizes) {
        const std::int64_t K = kSizes[std::size_t(seed % std::size(kSizes))];
        const std::int64_t batch = 1 + std::int64_t(seed % 3);
        CHECK(BrgemmTester().types(DType::f32, DType::f32, DType::f32).m(M).n(N).k(K)
                  .batch(batch).seed(seed++).test(r->run, r->name));
      }
    for (std::int64_t K : kSizes)
      for (std::int64_t batch = 1; batch <= 5; ++batch)
        CHECK(BrgemmTester().types(DType::f32, DType::f32, DType::f32).m(7).n(19).k(K)
                  .batch(batch).seed(seed++).test(r->run, r->name));
  }
}

TEST_CASE("brgemm f32: strides, misalignment, accumulate and post-ops") {
  for (const BrgemmRow* r : f32_rows()) {
    std::uint64_t seed = 100;
    for (std::int64_t M : {1, 6, 13, 25, 30}) {
      for (std::int64_t N : {5, 16, 47, 64, 80, 130}) {
        auto t = [&] {
          return BrgemmTester().types(DType::f32, DType::f32, DType::f32).m(M).n(N).k(33)
              .batch(2).seed(seed++);
        };
        CHECK(t().lda(45).ldb(N + 9).ldc(N + 3).misalign(1).test(r->run, r->name));
        CHECK(t().accumulate(true).misalign(3).test(r->run, r->name));
        CHECK(t().bias().eltwise(Eltwise::relu).test(r->run, r->name));
        CHECK(t().scale_per_column().bias().eltwise(Eltwise::leaky_relu, 0.1f)
                  .test(r->run, r->name));
        CHECK(t().accumulate(true).scale(0.5f).eltwise(Eltwise::clip, -0.25f, 0.5f)
                  .test(r->run, r->name));
        CHECK(t().eltwise(Eltwise::linear, 2.f, -1.f).test(r->run, r->name));
      }
    }
  }
}

TEST_CASE("brgemm f32: multi-pass reductions keep accumulate and post-ops exact") {
  // Tall M with long K or many batch elements splits the reduction into L1-sized passes.
  for (const BrgemmRow* r : f32_rows()) {
    std::uint64_t seed = 500;
    for (std::int64_t K : {16, 95, 97, 200, 300})
      for (std::int64_t batch : {1, 3, 7}) {
        auto t = [&] {
          return BrgemmTester().types(DType::f32, DType::f32, DType::f32).m(30).n(80).k(K)
              .batch(batch).seed(seed++);
        };
        CHECK(t().accumulate(true).bias().eltwise(Eltwise::relu).test(r->run, r->name));
        CHECK(t().scale(0.5f).eltwise(Eltwise::clip, -1.f, 1.f).test(r->run, r->name));
      }
  }
}

TEST_CASE("brgemm f32: zero sizes write nothing or only post(C)") {
  for (const BrgemmRow* r : f32_rows()) {
    auto t = [] { return BrgemmTester().types(DType::f32, DType::f32, DType::f32); };
    CHECK(t().m(0).n(17).k(5).test(r->run, r->name));
    CHECK(t().m(9).n(0).k(5).test(r->run, r->name));
    CHECK(t().m(9).n(17).k(0).bias().test(r->run, r->name));
    CHECK(t().m(9).n(17).k(8).batch(0).accumulate(true).test(r->run, r->name));
  }
}
