// tests/cpp/brgemm/brgemm_lowp_test.cpp — bf16 and int8 BRGEMM variants against the ref.
//
// Variants: avx512_bf16 (bf16), avx512_vnni (u8|s8 A, s32|f32 C), AMX over the emulated tile
// backend (all of those), and AMX over real tiles where the CPU has them. A variant whose ISA
// this CPU lacks is skipped with a message. Each variant runs every value of
// {1,15,16,17,31,33,64,100,257} in each of M, N and K (all M x N pairs, K rotating so every
// K meets every M and N value class), batch 1..5, strides larger than the sizes, base pointers
// misaligned by one element, zero sizes, accumulate on and off, every post-op kind, and
// reductions split into several passes (tall M with long K or many batch elements).
#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "medkern/core/cpu.hpp"
#include "medkern/kernels/brgemm/amx.hpp"
#include "medkern/kernels/brgemm/avx512_bf16.hpp"
#include "medkern/kernels/brgemm/avx512_vnni.hpp"
#include "medkern/kernels/brgemm/ref.hpp"
#include "medkern/kernels/tiles.hpp"
#include "testing/brgemm_tester.hpp"

namespace {

using medkern::DType;
using medkern::Isa;
using medkern::kernels::Eltwise;
using medkern::kernels::TilesAmx;
using medkern::kernels::TilesEmulated;
using medkern::kernels::brgemm::amx_brgemm;
using medkern::kernels::brgemm::BrgemmFn;
using medkern::kernels::brgemm::impl;
using medkern::testing::BrgemmTester;
namespace isa = medkern::isa;

struct Variant {
  const char* label;
  Isa isa;  ///< what the CPU needs to run it
  BrgemmFn run;
  DType a, c;
  DType b() const { return a == DType::bf16 ? DType::bf16 : DType::s8; }
};

// The emulated AMX kernel is compiled in the amx region, so its AVX-512 epilogue (and any
// vectorised emulation code) may use AVX512-BF16/VNNI instructions: it needs avx512_bf16.
constexpr std::array<Variant, 15> kVariants = {{
    {"avx512_bf16 bf16->f32", Isa::avx512_bf16, &impl<isa::avx512_bf16_t>::run, DType::bf16, DType::f32},
    {"avx512_vnni u8->s32", Isa::avx512_vnni, &impl<isa::avx512_vnni_t>::run, DType::u8, DType::s32},
    {"avx512_vnni u8->f32", Isa::avx512_vnni, &impl<isa::avx512_vnni_t>::run, DType::u8, DType::f32},
    {"avx512_vnni s8->s32", Isa::avx512_vnni, &impl<isa::avx512_vnni_t>::run, DType::s8, DType::s32},
    {"avx512_vnni s8->f32", Isa::avx512_vnni, &impl<isa::avx512_vnni_t>::run, DType::s8, DType::f32},
    {"amx_emulated bf16->f32", Isa::avx512_bf16, &amx_brgemm<TilesEmulated>::run, DType::bf16, DType::f32},
    {"amx_emulated u8->s32", Isa::avx512_bf16, &amx_brgemm<TilesEmulated>::run, DType::u8, DType::s32},
    {"amx_emulated u8->f32", Isa::avx512_bf16, &amx_brgemm<TilesEmulated>::run, DType::u8, DType::f32},
    {"amx_emulated s8->s32", Isa::avx512_bf16, &amx_brgemm<TilesEmulated>::run, DType::s8, DType::s32},
    {"amx_emulated s8->f32", Isa::avx512_bf16, &amx_brgemm<TilesEmulated>::run, DType::s8, DType::f32},
    {"amx bf16->f32", Isa::amx, &impl<isa::amx_t>::run, DType::bf16, DType::f32},
    {"amx u8->s32", Isa::amx, &impl<isa::amx_t>::run, DType::u8, DType::s32},
    {"amx u8->f32", Isa::amx, &impl<isa::amx_t>::run, DType::u8, DType::f32},
    {"amx s8->s32", Isa::amx, &impl<isa::amx_t>::run, DType::s8, DType::s32},
    {"amx s8->f32", Isa::amx, &impl<isa::amx_t>::run, DType::s8, DType::f32},
}};

constexpr std::array<std::int64_t, 9> kSizes = {1, 15, 16, 17, 31, 33, 64, 100, 257};

bool runnable(const Variant& v) {
  if (medkern::cpu_info().supports(v.isa)) return true;
  MESSAGE("skipping ", std::string(v.label), ": this CPU lacks ", medkern::isa_name(v.isa));
  return false;
}

BrgemmTester base(const Variant& v) { return BrgemmTester().types(v.a, v.b(), v.c); }

}  // namespace

TEST_CASE("brgemm lowp: every size of M, N and K, batch 1..5, padded strides") {
  for (const Variant& v : kVariants) {
    CAPTURE(std::string(v.label));
    if (!runnable(v)) continue;
    int idx = 0, failures = 0;
    for (std::size_t i = 0; i < kSizes.size(); ++i)
      for (std::size_t j = 0; j < kSizes.size(); ++j, ++idx) {
        const std::int64_t M = kSizes[i], N = kSizes[j];
        const std::int64_t K = kSizes[(i + 2 * j + std::size_t(idx / 9)) % kSizes.size()];
        const std::int64_t pad = 1 + idx % 7;
        const bool ok = base(v)
                            .m(M)
                            .n(N)
                            .k(K)
                            .batch(1 + idx % 5)
                            .lda(K + pad)
                            .ldb(N + (idx % 3) * pad)  // also tight ldb: N tails at the edge
                            .ldc(N + pad + 2)
                            .accumulate(idx % 2 == 1)
                            .seed(std::uint64_t(1000 + idx))
                            .test(v.run, v.label);
        if (!ok && ++failures > 5) break;  // the first few reports say enough
      }
  }
}

TEST_CASE("brgemm lowp: every K value against a fixed M x N with tails") {
  for (const Variant& v : kVariants) {
    CAPTURE(std::string(v.label));
    if (!runnable(v)) continue;
    for (std::int64_t K : {0, 1, 2, 3, 4, 5, 6, 7, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 257})
      for (std::int64_t batch : {1, 2, 5})
        base(v).m(19).n(37).k(K).batch(batch).lda(K + 3).ldb(41).ldc(40).accumulate(K % 2 == 0)
            .seed(std::uint64_t(K * 10 + batch))
            .test(v.run, v.label);
  }
}

TEST_CASE("brgemm lowp: zero sizes") {
  for (const Variant& v : kVariants) {
    CAPTURE(std::string(v.label));
    if (!runnable(v)) continue;
    const bool f32 = v.c == DType::f32;
    for (bool acc : {false, true}) {
      auto t = [&] {
        BrgemmTester b = base(v).accumulate(acc);
        if (f32) b.bias().eltwise(Eltwise::relu);
        return b;
      };
      t().m(0).n(17).k(33).batch(2).test(v.run, v.label);
      t().m(17).n(0).k(33).batch(2).test(v.run, v.label);
      t().m(17).n(33).k(0).batch(2).lda(4).test(v.run, v.label);  // C = post(acc ? C : 0)
      t().m(17).n(33).k(33).batch(0).test(v.run, v.label);
      t().m(0).n(0).k(0).batch(0).test(v.run, v.label);
    }
  }
}

TEST_CASE("brgemm lowp: post-ops, each kind and a chain") {
  for (const Variant& v : kVariants) {
    CAPTURE(std::string(v.label));
    if (!runnable(v) || v.c != DType::f32) continue;
    // Integer accumulators are ~1e4..1e6: scale them near 1 first so clip/leaky act on both
    // sides of their thresholds.
    const float pre = v.a == DType::bf16 ? 1.f : 1e-5f;
    for (bool acc : {false, true})
      for (int kind = 0; kind < 8; ++kind) {
        CAPTURE(kind);
        auto t = base(v).m(29).n(50).k(77).batch(3).lda(80).ldb(53).ldc(55).accumulate(acc)
                     .seed(std::uint64_t(7 + kind));
        if (v.a != DType::bf16) t.scale(pre);
        switch (kind) {
          case 0: t.bias(); break;
          case 1: t.scale_per_column(); break;
          case 2: t.scale(0.37f); break;
          case 3: t.eltwise(Eltwise::relu); break;
          case 4: t.eltwise(Eltwise::leaky_relu, 0.1f); break;
          case 5: t.eltwise(Eltwise::clip, -0.5f, 0.75f); break;
          case 6: t.eltwise(Eltwise::linear, 0.5f, -0.25f); break;
          case 7: t.bias().scale_per_column().eltwise(Eltwise::clip, 0.f, 6.f); break;
        }
        t.test(v.run, v.label);
      }
  }
}

TEST_CASE("brgemm lowp: multi-pass reductions keep accumulate, compensation and post-ops") {
  // Several row strips (M above the tallest tile) with long K or many batch elements split the
  // reduction into L1-sized passes: K passes aligned to pairs (bf16) or quads (s8) with the
  // odd tail in the last one, or a few whole batch elements per pass. C holds the partial sums
  // between passes; accumulate, s8 compensation and post-ops must each act exactly once.
  struct Shape {
    std::int64_t m, n;
  };
  // 6x4 strips with a 16-column tail block, a partial last strip, 28x1 strips, ragged N.
  constexpr Shape kShapes[] = {{30, 80}, {57, 80}, {64, 16}, {45, 37}};
  for (const Variant& v : kVariants) {
    CAPTURE(std::string(v.label));
    if (!runnable(v)) continue;
    const bool f32 = v.c == DType::f32;
    const float pre = v.a == DType::bf16 ? 1.f : 1e-5f;  // integer sums near 1, as above
    std::uint64_t seed = 900;
    int idx = 0, failures = 0;
    for (std::int64_t K : {95, 97, 200, 300, 389, 770})
      for (std::int64_t batch : {1, 3, 7}) {
        const Shape s = kShapes[idx % 4];
        auto t = [&] {
          return base(v).m(s.m).n(s.n).k(K).batch(batch).lda(K + 5).ldb(s.n + (idx % 2) * 3)
              .ldc(s.n + 3).seed(seed++);
        };
        BrgemmTester x = t().accumulate(true), y = t();
        if (f32) {
          if (v.a != DType::bf16) x.scale(pre), y.scale(pre);
          x.bias().eltwise(Eltwise::relu);
          y.scale_per_column().eltwise(Eltwise::clip, -0.5f, 0.5f);
        }
        const bool ok_x = x.test(v.run, v.label), ok_y = y.test(v.run, v.label);
        const bool ok = ok_x && ok_y;
        ++idx;
        if (!ok && ++failures > 3) break;
      }
  }
}

TEST_CASE("brgemm lowp: aligned base pointers and tight strides") {
  for (const Variant& v : kVariants) {
    CAPTURE(std::string(v.label));
    if (!runnable(v)) continue;
    for (std::int64_t M : {16, 32, 48})
      for (std::int64_t N : {16, 32, 64, 128})
        base(v).m(M).n(N).k(128).batch(2).misalign(0).test(v.run, v.label);
  }
}

TEST_CASE("brgemm lowp: the tester catches a wrong kernel") {
  // Guards the guard: a kernel writing one element past N in the last row must be reported.
  auto bad = [](const medkern::kernels::brgemm::BrgemmDesc& d, std::int64_t batch,
                const void* const* a, const void* const* b, void* c) noexcept {
    impl<isa::ref_t>::run(d, batch, a, b, c);
    static_cast<std::int32_t*>(c)[(d.M - 1) * d.ldc + d.N] = 0;
  };
  const BrgemmTester t =
      BrgemmTester().types(DType::u8, DType::s8, DType::s32).m(3).n(5).k(7).ldc(9);
  const std::string report = t.check(bad, "bad");
  CHECK(report.find("guard overwritten") != std::string::npos);
  CHECK(report.find("seed=") != std::string::npos);
  CHECK(t.check(&impl<isa::ref_t>::run, "ref").empty());
}

TEST_CASE("tiles: emulated config cache and integer tile semantics") {
  using medkern::kernels::TileConfig;
  TilesEmulated::release();
  const TileConfig cfg = TileConfig::uniform(8, 16, 64);
  TilesEmulated::configure(cfg);
  alignas(64) std::uint8_t A[16][64], B[16][64];
  alignas(64) std::int32_t C[16][16];
  for (int r = 0; r < 16; ++r)
    for (int c = 0; c < 64; ++c) {
      A[r][c] = std::uint8_t(r * 7 + c * 3);
      B[r][c] = std::uint8_t(r * 5 - c * 11);
    }
  TilesEmulated::load<4>(A, 64);
  TilesEmulated::load<6>(B, 64);
  TilesEmulated::zero<0>();
  TilesEmulated::zero<1>();
  TilesEmulated::dpbusd<0, 4, 6>();
  TilesEmulated::dpbssd<1, 4, 6>();
  for (int t = 0; t < 2; ++t) {
    if (t == 0)
      TilesEmulated::store<0>(C, 64);
    else
      TilesEmulated::store<1>(C, 64);
    for (int m = 0; m < 16; ++m)
      for (int n = 0; n < 16; ++n) {
        std::int64_t ref = 0;
        for (int k = 0; k < 64; ++k) {
          const int a = t == 0 ? int(A[m][k]) : int(std::int8_t(A[m][k]));
          ref += std::int64_t(a) * std::int8_t(B[k / 4][4 * n + k % 4]);
        }
        REQUIRE(C[m][n] == ref);
      }
  }
  TilesEmulated::release();
}
