// medkern/kernels/brgemm/avx512.hpp — f32 BRGEMM for AVX-512 (Skylake-SP and later).
//
// Register plan: an MR x NV tile of zmm accumulators (NV vectors of 16 columns), NV B vectors
// loaded per k and one broadcast of A per row: 6x4 (24 acc), 8x3, 12x2, 24x1 — at most 29 of
// the 32 zmm, enough independent FMA chains (>= 8) to cover 2 FMA ports x 4 cycles latency.
// C stays in registers across the whole batch and K loop, so each output is loaded/stored once.
// Tails: M by a table of tiles indexed by MR (1..MR_max); N by a mask on the last vector, used
// for B loads and C loads/stores, so nothing past a row is ever read or written.
// Loop order: N blocks outside, M strips inside, so a B panel (K x 64 floats) is reused from
// L1/L2 by every strip of A.
#pragma once

#include <immintrin.h>

#include <array>
#include <cstdint>
#include <utility>

#include "medkern/core/config.hpp"
#include "medkern/kernels/brgemm/ref.hpp"

MEDKERN_ISA_BEGIN(avx512)
namespace medkern::kernels::brgemm {
namespace avx512_f32 {

MEDKERN_ALWAYS_INLINE __m512 eltwise(__m512 v, const PostOp& op) {
  switch (op.alg) {
    case Eltwise::relu: return _mm512_max_ps(v, _mm512_setzero_ps());
    case Eltwise::leaky_relu: {
      const __mmask16 neg = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
      return _mm512_mask_mul_ps(v, neg, v, _mm512_set1_ps(op.alpha));
    }
    case Eltwise::clip:
      return _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(op.alpha)), _mm512_set1_ps(op.beta));
    case Eltwise::linear:
      return _mm512_fmadd_ps(v, _mm512_set1_ps(op.alpha), _mm512_set1_ps(op.beta));
  }
  return v;
}

/// Applies the post-op chain to vector `v` holding columns [n, n+16) (mask m for the tail).
MEDKERN_ALWAYS_INLINE __m512 post(const PostOps& p, __m512 v, std::int64_t n, __mmask16 m) {
  for (const PostOp& op : p) {
    switch (op.kind) {
      case PostOpKind::bias: v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, op.data + n)); break;
      case PostOpKind::scale:
        v = _mm512_mul_ps(v, op.data ? _mm512_maskz_loadu_ps(m, op.data + n)
                                     : _mm512_set1_ps(op.alpha));
        break;
      case PostOpKind::eltwise: v = eltwise(v, op); break;
    }
  }
  return v;
}

/// One MR x (16*NV) tile of C at (m0, n0); the last vector uses `last` as its column mask.
template <int MR, int NV>
void tile(const BrgemmDesc& d, std::int64_t batch, const float* const* a, const float* const* b,
          float* c, std::int64_t m0, std::int64_t n0, __mmask16 last) noexcept {
  __m512 acc[MR][NV];
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) acc[i][j] = _mm512_setzero_ps();

  // Rows of A are addressed in groups of four from one base pointer each, as
  // [base], [base + L], [base + 2L], [base + 3L] with L = lda in bytes: two index registers
  // serve every group, so a 24-row tile needs 6 pointers instead of 24 (which would spill).
  constexpr int kGroups = (MR + 3) / 4;
  const std::int64_t L = d.lda * std::int64_t(sizeof(float)), L3 = 3 * L, ldb = d.ldb, K = d.K;
  for (std::int64_t bi = 0; bi < batch; ++bi) {
    const char* base[kGroups];
#pragma GCC unroll 8
    for (int g = 0; g < kGroups; ++g)
      base[g] = reinterpret_cast<const char*>(a[bi] + m0 * d.lda) + 4 * g * L;
    const float* MEDKERN_RESTRICT pb = b[bi] + n0;
    for (std::int64_t k = 0; k < K; ++k) {
      __m512 bv[NV];
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j)
        bv[j] = j == NV - 1 ? _mm512_maskz_loadu_ps(last, pb + j * 16) : _mm512_loadu_ps(pb + j * 16);
#pragma GCC unroll 32
      for (int i = 0; i < MR; ++i) {
        const char* row = base[i / 4];
        const char* p = i % 4 == 0 ? row : i % 4 == 1 ? row + L : i % 4 == 2 ? row + 2 * L : row + L3;
        const __m512 av = _mm512_set1_ps(*reinterpret_cast<const float*>(p));
#pragma GCC unroll 4
        for (int j = 0; j < NV; ++j) acc[i][j] = _mm512_fmadd_ps(av, bv[j], acc[i][j]);
      }
#pragma GCC unroll 8
      for (int g = 0; g < kGroups; ++g) base[g] += sizeof(float);
      pb += ldb;
    }
  }

  const bool has_post = !d.post.empty();
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i) {
    float* pc = c + (m0 + i) * d.ldc + n0;
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) {
      const __mmask16 m = j == NV - 1 ? last : __mmask16(0xffff);
      __m512 v = acc[i][j];
      if (d.accumulate) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, pc + j * 16));
      if (has_post) v = post(d.post, v, n0 + j * 16, m);
      _mm512_mask_storeu_ps(pc + j * 16, m, v);
    }
  }
}

using TileFn = void (*)(const BrgemmDesc&, std::int64_t, const float* const*, const float* const*,
                        float*, std::int64_t, std::int64_t, __mmask16) noexcept;

// Largest MR per NV; chosen so MR*NV + NV + 1 <= 32 zmm (and MR*NV >= 8 for FMA latency).
inline constexpr int kMaxMr[5] = {0, 24, 12, 8, 6};

template <int NV, int... I>
constexpr auto make_table(std::integer_sequence<int, I...>) {
  return std::array<TileFn, sizeof...(I)>{&tile<I + 1, NV>...};
}
inline constexpr auto kTiles1 = make_table<1>(std::make_integer_sequence<int, 24>{});
inline constexpr auto kTiles2 = make_table<2>(std::make_integer_sequence<int, 12>{});
inline constexpr auto kTiles3 = make_table<3>(std::make_integer_sequence<int, 8>{});
inline constexpr auto kTiles4 = make_table<4>(std::make_integer_sequence<int, 6>{});

inline TileFn pick(int nv, int mr) noexcept {
  switch (nv) {
    case 1: return kTiles1[std::size_t(mr - 1)];
    case 2: return kTiles2[std::size_t(mr - 1)];
    case 3: return kTiles3[std::size_t(mr - 1)];
    default: return kTiles4[std::size_t(mr - 1)];
  }
}

}  // namespace avx512_f32

template <>
struct impl<isa::avx512_t> {
  static constexpr const char* name = "brgemm_f32f32_f32__avx512_m6n64";

  static bool supports(const BrgemmDesc& d) {
    return d.a_type == DType::f32 && d.b_type == DType::f32 && d.c_type == DType::f32;
  }

  static void run(const BrgemmDesc& d, std::int64_t batch, const void* const* a,
                  const void* const* b, void* c) noexcept {
    using namespace avx512_f32;
    if (d.M <= 0 || d.N <= 0) return;
    const auto* pa = reinterpret_cast<const float* const*>(a);
    const auto* pb = reinterpret_cast<const float* const*>(b);
    auto* pc = static_cast<float*>(c);
    if (d.K == 0) batch = 0;  // nothing to reduce: C = post(accumulate ? C : 0)
    for (std::int64_t n0 = 0; n0 < d.N; n0 += 64) {
      const std::int64_t nrem = d.N - n0 < 64 ? d.N - n0 : 64;
      const int nv = int((nrem + 15) / 16);
      const int tail = int(nrem - 16 * (nv - 1));
      const __mmask16 last = __mmask16((1u << tail) - 1u);
      const int mr_max = kMaxMr[nv];
      const TileFn full = pick(nv, mr_max);
      std::int64_t m0 = 0;
      for (; m0 + mr_max <= d.M; m0 += mr_max) full(d, batch, pa, pb, pc, m0, n0, last);
      if (m0 < d.M) pick(nv, int(d.M - m0))(d, batch, pa, pb, pc, m0, n0, last);
    }
  }
};

}  // namespace medkern::kernels::brgemm
MEDKERN_ISA_END()
