// medkern/kernels/brgemm/avx2.hpp — f32 BRGEMM for AVX2+FMA (Haswell/Broadwell and later).
//
// Register plan: MR x NV ymm accumulators (NV vectors of 8 columns): 6x2 (12 acc) or 12x1,
// plus NV B vectors and one A broadcast, within the 16 ymm. A rows are addressed in groups of
// four from one base pointer (see avx512.hpp). Tails: M by tile tables indexed by MR, N by a
// lane mask (vmaskmovps) on the last vector for B loads and C loads/stores.
#pragma once

#include <immintrin.h>

#include <array>
#include <cstdint>
#include <utility>

#include "medkern/core/config.hpp"
#include "medkern/kernels/brgemm/ref.hpp"
#include "medkern/kernels/post_ops_avx2.hpp"

MEDKERN_ISA_BEGIN(avx2)
namespace medkern::kernels::brgemm {
namespace avx2_f32 {

MEDKERN_ALWAYS_INLINE __m256i lane_mask(int n) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), idx);
}

template <int MR, int NV>
void tile(const BrgemmDesc& d, std::int64_t batch, const float* const* a, const float* const* b,
          float* c, std::int64_t m0, std::int64_t n0, int tail) noexcept {
  const __m256i last = lane_mask(tail);
  const __m256i full = _mm256_set1_epi32(-1);
  __m256 acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 2
    for (int j = 0; j < NV; ++j) acc[i][j] = _mm256_setzero_ps();

  constexpr int kGroups = (MR + 3) / 4;
  const std::int64_t L = d.lda * std::int64_t(sizeof(float)), L3 = 3 * L, ldb = d.ldb, K = d.K;
  for (std::int64_t bi = 0; bi < batch; ++bi) {
    const char* base[kGroups];
#pragma GCC unroll 4
    for (int g = 0; g < kGroups; ++g)
      base[g] = reinterpret_cast<const char*>(a[bi] + m0 * d.lda) + 4 * g * L;
    const float* MEDKERN_RESTRICT pb = b[bi] + n0;
    for (std::int64_t k = 0; k < K; ++k) {
      __m256 bv[NV];
#pragma GCC unroll 2
      for (int j = 0; j < NV; ++j)
        bv[j] = j == NV - 1 ? _mm256_maskload_ps(pb + j * 8, last) : _mm256_loadu_ps(pb + j * 8);
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) {
        const char* row = base[i / 4];
        const char* p = i % 4 == 0 ? row : i % 4 == 1 ? row + L : i % 4 == 2 ? row + 2 * L : row + L3;
        const __m256 av = _mm256_broadcast_ss(reinterpret_cast<const float*>(p));
#pragma GCC unroll 2
        for (int j = 0; j < NV; ++j) acc[i][j] = _mm256_fmadd_ps(av, bv[j], acc[i][j]);
      }
#pragma GCC unroll 4
      for (int g = 0; g < kGroups; ++g) base[g] += sizeof(float);
      pb += ldb;
    }
  }

  const bool has_post = !d.post.empty();
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    float* pc = c + (m0 + i) * d.ldc + n0;
#pragma GCC unroll 2
    for (int j = 0; j < NV; ++j) {
      const __m256i m = j == NV - 1 ? last : full;
      __m256 v = acc[i][j];
      if (d.accumulate) v = _mm256_add_ps(v, _mm256_maskload_ps(pc + j * 8, m));
      if (has_post) v = kernels::avx2::apply_post_ops(d.post, v, n0 + j * 8, m);
      _mm256_maskstore_ps(pc + j * 8, m, v);
    }
  }
}

using TileFn = void (*)(const BrgemmDesc&, std::int64_t, const float* const*, const float* const*,
                        float*, std::int64_t, std::int64_t, int) noexcept;

inline constexpr int kMaxMr[3] = {0, 12, 6};

template <int NV, int... I>
constexpr auto make_table(std::integer_sequence<int, I...>) {
  return std::array<TileFn, sizeof...(I)>{&tile<I + 1, NV>...};
}
inline constexpr auto kTiles1 = make_table<1>(std::make_integer_sequence<int, 12>{});
inline constexpr auto kTiles2 = make_table<2>(std::make_integer_sequence<int, 6>{});

inline TileFn pick(int nv, int mr) noexcept {
  return nv == 1 ? kTiles1[std::size_t(mr - 1)] : kTiles2[std::size_t(mr - 1)];
}

}  // namespace avx2_f32

template <>
struct impl<isa::avx2_t> {
  static constexpr const char* name = "brgemm_f32f32_f32__avx2_m6n16";

  static bool supports(const BrgemmDesc& d) {
    return d.a_type == DType::f32 && d.b_type == DType::f32 && d.c_type == DType::f32;
  }

  static void run(const BrgemmDesc& d, std::int64_t batch, const void* const* a,
                  const void* const* b, void* c) noexcept {
    using namespace avx2_f32;
    if (d.M <= 0 || d.N <= 0) return;
    const auto* pa = reinterpret_cast<const float* const*>(a);
    const auto* pb = reinterpret_cast<const float* const*>(b);
    auto* pc = static_cast<float*>(c);
    if (d.K == 0) batch = 0;
    for (std::int64_t n0 = 0; n0 < d.N; n0 += 16) {
      const std::int64_t nrem = d.N - n0 < 16 ? d.N - n0 : 16;
      const int nv = int((nrem + 7) / 8);
      const int tail = int(nrem - 8 * (nv - 1));
      const int mr_max = kMaxMr[nv];
      const TileFn full = pick(nv, mr_max);
      std::int64_t m0 = 0;
      for (; m0 + mr_max <= d.M; m0 += mr_max) full(d, batch, pa, pb, pc, m0, n0, tail);
      if (m0 < d.M) pick(nv, int(d.M - m0))(d, batch, pa, pb, pc, m0, n0, tail);
    }
  }
};

}  // namespace medkern::kernels::brgemm
MEDKERN_ISA_END()
