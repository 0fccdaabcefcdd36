// medkern/kernels/ml/avx512.hpp — classical-ML kernels for AVX-512 (Skylake-SP and later).
//
// Register plan:
//   dot / axpy: 4 independent zmm accumulators (32 doubles / 64 floats per step) to cover the
//     4-cycle FMA latency on 2 ports; masked tail, nothing read or written past n.
//   gram_tile: an 8 x (8*nb) tile, nb <= 3 — 8 broadcasts of the A panel row and nb vector loads
//     of B panels per k, 8*nb accumulators (24 of the 32 zmm for f64, ymm for f32 so that both
//     dtypes share the 8-column panel layout).
//   gemm_nn_f64: 4 rows x up to 4 zmm (32 columns), 16 accumulators, B rows streamed.
//   gemm_tn_acc_f64: 4 output rows (columns of A) x up to 4 zmm; per sample row 4 broadcasts
//     of A and nv loads of P.
//   dot_axpy8_f64: per 8 rows one load of x and y, eight column loads, 16 FMAs (eight dot
//     accumulators, the y update as two chains of four); 10 loads per 16 FMAs instead of 32
//     for a dot and an axpy per column.
//   gemm_ukr_f64 (gemm_f64__avx512_m8n24): 8 x 24 tile, 24 zmm accumulators; per k 3 loads of
//     the interleaved B sliver (one 192-byte row) and 8 broadcasts of the A sliver, i.e. 24 FMAs
//     against 11 loads (94 GFLOP/s per core with both slivers in L1, 87% of the FMA peak;
//     three separate 8-column panels measured 86). Tails: masked stores of the m x n corner.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "medkern/core/config.hpp"
#include "medkern/kernels/ml/ref.hpp"

MEDKERN_ISA_BEGIN(avx512)
namespace medkern::kernels::ml {
namespace avx512_detail {

using i64 = std::int64_t;

MEDKERN_ALWAYS_INLINE __mmask8 mask8(i64 n) { return __mmask8((1u << n) - 1u); }
MEDKERN_ALWAYS_INLINE __mmask16 mask16(i64 n) { return __mmask16((1u << n) - 1u); }

inline double dot_f64(const double* x, const double* y, i64 n) noexcept {
  __m512d a0 = _mm512_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
  i64 i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 = _mm512_fmadd_pd(_mm512_loadu_pd(x + i), _mm512_loadu_pd(y + i), a0);
    a1 = _mm512_fmadd_pd(_mm512_loadu_pd(x + i + 8), _mm512_loadu_pd(y + i + 8), a1);
    a2 = _mm512_fmadd_pd(_mm512_loadu_pd(x + i + 16), _mm512_loadu_pd(y + i + 16), a2);
    a3 = _mm512_fmadd_pd(_mm512_loadu_pd(x + i + 24), _mm512_loadu_pd(y + i + 24), a3);
  }
  for (; i + 8 <= n; i += 8)
    a0 = _mm512_fmadd_pd(_mm512_loadu_pd(x + i), _mm512_loadu_pd(y + i), a0);
  if (i < n) {
    const __mmask8 m = mask8(n - i);
    a1 = _mm512_fmadd_pd(_mm512_maskz_loadu_pd(m, x + i), _mm512_maskz_loadu_pd(m, y + i), a1);
  }
  return _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(a0, a1), _mm512_add_pd(a2, a3)));
}

inline float dot_f32(const float* x, const float* y, i64 n) noexcept {
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  i64 i = 0;
  for (; i + 64 <= n; i += 64) {
    a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i), a0);
    a1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(y + i + 16), a1);
    a2 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 32), _mm512_loadu_ps(y + i + 32), a2);
    a3 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 48), _mm512_loadu_ps(y + i + 48), a3);
  }
  for (; i + 16 <= n; i += 16)
    a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i), a0);
  if (i < n) {
    const __mmask16 m = mask16(n - i);
    a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i), a1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

inline void axpy_f64(double a, const double* x, double* y, i64 n) noexcept {
  const __m512d va = _mm512_set1_pd(a);
  i64 i = 0;
  for (; i + 32 <= n; i += 32) {
    _mm512_storeu_pd(y + i, _mm512_fmadd_pd(va, _mm512_loadu_pd(x + i), _mm512_loadu_pd(y + i)));
    _mm512_storeu_pd(y + i + 8,
                     _mm512_fmadd_pd(va, _mm512_loadu_pd(x + i + 8), _mm512_loadu_pd(y + i + 8)));
    _mm512_storeu_pd(y + i + 16, _mm512_fmadd_pd(va, _mm512_loadu_pd(x + i + 16),
                                                 _mm512_loadu_pd(y + i + 16)));
    _mm512_storeu_pd(y + i + 24, _mm512_fmadd_pd(va, _mm512_loadu_pd(x + i + 24),
                                                 _mm512_loadu_pd(y + i + 24)));
  }
  for (; i + 8 <= n; i += 8)
    _mm512_storeu_pd(y + i, _mm512_fmadd_pd(va, _mm512_loadu_pd(x + i), _mm512_loadu_pd(y + i)));
  if (i < n) {
    const __mmask8 m = mask8(n - i);
    _mm512_mask_storeu_pd(
        y + i, m,
        _mm512_fmadd_pd(va, _mm512_maskz_loadu_pd(m, x + i), _mm512_maskz_loadu_pd(m, y + i)));
  }
}

inline void axpy_f32(float a, const float* x, float* y, i64 n) noexcept {
  const __m512 va = _mm512_set1_ps(a);
  i64 i = 0;
  for (; i + 32 <= n; i += 32) {
    _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
    _mm512_storeu_ps(y + i + 16, _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i + 16),
                                                 _mm512_loadu_ps(y + i + 16)));
  }
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
  if (i < n) {
    const __mmask16 m = mask16(n - i);
    _mm512_mask_storeu_ps(
        y + i, m,
        _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
  }
}

template <int NB>
MEDKERN_ALWAYS_INLINE void gram_tile_f64_nb(const double* pa, const double* pb, i64 kc, double* c,
                                            i64 ldc) noexcept {
  __m512d acc[8][NB];
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < NB; ++j) acc[i][j] = _mm512_setzero_pd();
  for (i64 k = 0; k < kc; ++k) {
    __m512d b[NB];
    for (int j = 0; j < NB; ++j) b[j] = _mm512_loadu_pd(pb + j * kc * 8 + k * 8);
    for (int i = 0; i < 8; ++i) {
      const __m512d a = _mm512_set1_pd(pa[k * 8 + i]);
      for (int j = 0; j < NB; ++j) acc[i][j] = _mm512_fmadd_pd(a, b[j], acc[i][j]);
    }
  }
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < NB; ++j) {
      double* p = c + i * ldc + j * 8;
      _mm512_storeu_pd(p, _mm512_add_pd(_mm512_loadu_pd(p), acc[i][j]));
    }
}

inline void gram_tile_f64(const double* pa, const double* pb, i64 kc, int nb, double* c,
                          i64 ldc) noexcept {
  if (nb == 3)
    gram_tile_f64_nb<3>(pa, pb, kc, c, ldc);
  else if (nb == 2)
    gram_tile_f64_nb<2>(pa, pb, kc, c, ldc);
  else
    gram_tile_f64_nb<1>(pa, pb, kc, c, ldc);
}

template <int NB>
MEDKERN_ALWAYS_INLINE void gram_tile_f32_nb(const float* pa, const float* pb, i64 kc, float* c,
                                            i64 ldc) noexcept {
  __m256 acc[8][NB];
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < NB; ++j) acc[i][j] = _mm256_setzero_ps();
  for (i64 k = 0; k < kc; ++k) {
    __m256 b[NB];
    for (int j = 0; j < NB; ++j) b[j] = _mm256_loadu_ps(pb + j * kc * 8 + k * 8);
    for (int i = 0; i < 8; ++i) {
      const __m256 a = _mm256_set1_ps(pa[k * 8 + i]);
      for (int j = 0; j < NB; ++j) acc[i][j] = _mm256_fmadd_ps(a, b[j], acc[i][j]);
    }
  }
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < NB; ++j) {
      float* p = c + i * ldc + j * 8;
      _mm256_storeu_ps(p, _mm256_add_ps(_mm256_loadu_ps(p), acc[i][j]));
    }
}

inline void gram_tile_f32(const float* pa, const float* pb, i64 kc, int nb, float* c,
                          i64 ldc) noexcept {
  if (nb == 3)
    gram_tile_f32_nb<3>(pa, pb, kc, c, ldc);
  else if (nb == 2)
    gram_tile_f32_nb<2>(pa, pb, kc, c, ldc);
  else
    gram_tile_f32_nb<1>(pa, pb, kc, c, ldc);
}

template <int MR, int NV>
MEDKERN_ALWAYS_INLINE void gemm_nn_tile(i64 k, const double* a, i64 lda, const double* b, i64 ldb,
                                        double* c, i64 ldc) noexcept {
  __m512d acc[MR][NV];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NV; ++j) acc[i][j] = _mm512_setzero_pd();
  for (i64 l = 0; l < k; ++l) {
    __m512d bv[NV];
    for (int j = 0; j < NV; ++j) bv[j] = _mm512_loadu_pd(b + l * ldb + j * 8);
    for (int i = 0; i < MR; ++i) {
      const __m512d av = _mm512_set1_pd(a[i * lda + l]);
      for (int j = 0; j < NV; ++j) acc[i][j] = _mm512_fmadd_pd(av, bv[j], acc[i][j]);
    }
  }
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NV; ++j) _mm512_storeu_pd(c + i * ldc + j * 8, acc[i][j]);
}

template <int NV>
MEDKERN_ALWAYS_INLINE void gemm_nn_cols(i64 m, i64 k, const double* a, i64 lda, const double* b,
                                        i64 ldb, double* c, i64 ldc) noexcept {
  i64 i = 0;
  for (; i + 4 <= m; i += 4) gemm_nn_tile<4, NV>(k, a + i * lda, lda, b, ldb, c + i * ldc, ldc);
  for (; i < m; ++i) gemm_nn_tile<1, NV>(k, a + i * lda, lda, b, ldb, c + i * ldc, ldc);
}

inline void gemm_nn_f64(i64 m, i64 k, const double* a, i64 lda, const double* b, i64 ldb, i64 n,
                        double* c, i64 ldc) noexcept {
  for (i64 j = 0; j < n; j += 32) {
    const i64 nv = (n - j) >= 32 ? 4 : (n - j) / 8;
    switch (nv) {
      case 4: gemm_nn_cols<4>(m, k, a, lda, b + j, ldb, c + j, ldc); break;
      case 3: gemm_nn_cols<3>(m, k, a, lda, b + j, ldb, c + j, ldc); break;
      case 2: gemm_nn_cols<2>(m, k, a, lda, b + j, ldb, c + j, ldc); break;
      default: gemm_nn_cols<1>(m, k, a, lda, b + j, ldb, c + j, ldc); break;
    }
  }
}

template <int LR, int NV>
MEDKERN_ALWAYS_INLINE void gemm_tn_tile(i64 m, const double* a, i64 lda, const double* p, i64 ldp,
                                        double* w, i64 ldw) noexcept {
  __m512d acc[LR][NV];
  for (int l = 0; l < LR; ++l)
    for (int j = 0; j < NV; ++j) acc[l][j] = _mm512_loadu_pd(w + l * ldw + j * 8);
  for (i64 i = 0; i < m; ++i) {
    __m512d pv[NV];
    for (int j = 0; j < NV; ++j) pv[j] = _mm512_loadu_pd(p + i * ldp + j * 8);
    for (int l = 0; l < LR; ++l) {
      const __m512d av = _mm512_set1_pd(a[i * lda + l]);
      for (int j = 0; j < NV; ++j) acc[l][j] = _mm512_fmadd_pd(av, pv[j], acc[l][j]);
    }
  }
  for (int l = 0; l < LR; ++l)
    for (int j = 0; j < NV; ++j) _mm512_storeu_pd(w + l * ldw + j * 8, acc[l][j]);
}

template <int NV>
MEDKERN_ALWAYS_INLINE void gemm_tn_cols(i64 m, i64 k, const double* a, i64 lda, const double* p,
                                        i64 ldp, double* w, i64 ldw) noexcept {
  i64 l = 0;
  for (; l + 4 <= k; l += 4) gemm_tn_tile<4, NV>(m, a + l, lda, p, ldp, w + l * ldw, ldw);
  for (; l < k; ++l) gemm_tn_tile<1, NV>(m, a + l, lda, p, ldp, w + l * ldw, ldw);
}

inline void gemm_tn_acc_f64(i64 m, i64 k, const double* a, i64 lda, const double* p, i64 ldp,
                            i64 n, double* w, i64 ldw) noexcept {
  for (i64 j = 0; j < n; j += 32) {
    const i64 nv = (n - j) >= 32 ? 4 : (n - j) / 8;
    switch (nv) {
      case 4: gemm_tn_cols<4>(m, k, a, lda, p + j, ldp, w + j, ldw); break;
      case 3: gemm_tn_cols<3>(m, k, a, lda, p + j, ldp, w + j, ldw); break;
      case 2: gemm_tn_cols<2>(m, k, a, lda, p + j, ldp, w + j, ldw); break;
      default: gemm_tn_cols<1>(m, k, a, lda, p + j, ldp, w + j, ldw); break;
    }
  }
}

inline void dot_axpy8_f64(i64 n, const double* a, i64 lda, const double* x, const double* s,
                          double* y, double* t) noexcept {
  __m512d acc[8], sv[8];
  #pragma GCC unroll 8
  for (int q = 0; q < 8; ++q) {
    acc[q] = _mm512_setzero_pd();
    sv[q] = _mm512_set1_pd(s[q]);
  }
  auto step = [&](i64 r, __mmask8 mk) __attribute__((always_inline)) {
    const __m512d xv = _mm512_maskz_loadu_pd(mk, x + r);
    __m512d col[8];
    #pragma GCC unroll 8
    for (int q = 0; q < 8; ++q) {
      col[q] = _mm512_maskz_loadu_pd(mk, a + q * lda + r);
      acc[q] = _mm512_fmadd_pd(col[q], xv, acc[q]);
    }
    // two chains of four (the rows' y updates are independent across iterations)
    __m512d u0 = _mm512_fmadd_pd(sv[0], col[0], _mm512_maskz_loadu_pd(mk, y + r));
    __m512d u1 = _mm512_mul_pd(sv[1], col[1]);
    #pragma GCC unroll 8
    for (int q = 2; q < 8; q += 2) {
      u0 = _mm512_fmadd_pd(sv[q], col[q], u0);
      u1 = _mm512_fmadd_pd(sv[q + 1], col[q + 1], u1);
    }
    _mm512_mask_storeu_pd(y + r, mk, _mm512_add_pd(u0, u1));
  };
  i64 r = 0;
  for (; r + 8 <= n; r += 8) step(r, __mmask8(0xff));
  if (r < n) step(r, mask8(n - r));
  #pragma GCC unroll 8
  for (int q = 0; q < 8; ++q) t[q] = _mm512_reduce_add_pd(acc[q]);
}

inline void gemm_ukr_f64(i64 kc, const double* pa, i64 lda, const double* pb, double alpha,
                         bool acc, double* c, i64 ldc, int m, int n) noexcept {
  __m512d r[8][3];
  #pragma GCC unroll 8
  for (int i = 0; i < 8; ++i)
    #pragma GCC unroll 8
    for (int j = 0; j < 3; ++j) r[i][j] = _mm512_setzero_pd();
  for (i64 k = 0; k < kc; ++k) {
    const __m512d b0 = _mm512_loadu_pd(pb), b1 = _mm512_loadu_pd(pb + 8),
                  b2 = _mm512_loadu_pd(pb + 16);
    #pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) {
      const __m512d a = _mm512_set1_pd(pa[i]);
      r[i][0] = _mm512_fmadd_pd(a, b0, r[i][0]);
      r[i][1] = _mm512_fmadd_pd(a, b1, r[i][1]);
      r[i][2] = _mm512_fmadd_pd(a, b2, r[i][2]);
    }
    pa += lda;
    pb += 24;
  }
  const __m512d va = _mm512_set1_pd(alpha);
  if (m == 8 && n == 24) {
    #pragma GCC unroll 8
    for (int i = 0; i < 8; ++i)
      #pragma GCC unroll 8
      for (int j = 0; j < 3; ++j) {
        double* p = c + i * ldc + j * 8;
        _mm512_storeu_pd(p, acc ? _mm512_fmadd_pd(va, r[i][j], _mm512_loadu_pd(p))
                                : _mm512_mul_pd(va, r[i][j]));
      }
    return;
  }
  __mmask8 mk[3];
  #pragma GCC unroll 8
  for (int j = 0; j < 3; ++j) mk[j] = mask8(std::max(0, std::min(8, n - 8 * j)));
  for (int i = 0; i < m; ++i)
    #pragma GCC unroll 8
    for (int j = 0; j < 3; ++j) {
      double* p = c + i * ldc + j * 8;
      _mm512_mask_storeu_pd(p, mk[j],
                            acc ? _mm512_fmadd_pd(va, r[i][j], _mm512_maskz_loadu_pd(mk[j], p))
                                : _mm512_mul_pd(va, r[i][j]));
    }
}

}  // namespace avx512_detail

template <>
struct impl<isa::avx512_t> {
  static constexpr const char* name = "ml__avx512";
  template <class T>
  static T dot(const T* x, const T* y, std::int64_t n) noexcept {
    if constexpr (sizeof(T) == 8)
      return avx512_detail::dot_f64(x, y, n);
    else
      return avx512_detail::dot_f32(x, y, n);
  }
  template <class T>
  static void axpy(T a, const T* x, T* y, std::int64_t n) noexcept {
    if constexpr (sizeof(T) == 8)
      avx512_detail::axpy_f64(a, x, y, n);
    else
      avx512_detail::axpy_f32(a, x, y, n);
  }
  template <class T>
  static void gram_tile(const T* pa, const T* pb, std::int64_t kc, int nb, T* c,
                        std::int64_t ldc) noexcept {
    if constexpr (sizeof(T) == 8)
      avx512_detail::gram_tile_f64(pa, pb, kc, nb, c, ldc);
    else
      avx512_detail::gram_tile_f32(pa, pb, kc, nb, c, ldc);
  }
  static void gemm_nn_f64(std::int64_t m, std::int64_t k, const double* a, std::int64_t lda,
                          const double* b, std::int64_t ldb, std::int64_t n, double* c,
                          std::int64_t ldc) noexcept {
    avx512_detail::gemm_nn_f64(m, k, a, lda, b, ldb, n, c, ldc);
  }
  static void gemm_tn_acc_f64(std::int64_t m, std::int64_t k, const double* a, std::int64_t lda,
                              const double* p, std::int64_t ldp, std::int64_t n, double* w,
                              std::int64_t ldw) noexcept {
    avx512_detail::gemm_tn_acc_f64(m, k, a, lda, p, ldp, n, w, ldw);
  }
  static void gemm_ukr_f64(std::int64_t kc, const double* pa, std::int64_t lda, const double* pb,
                           double alpha, bool acc, double* c, std::int64_t ldc, int m,
                           int n) noexcept {
    avx512_detail::gemm_ukr_f64(kc, pa, lda, pb, alpha, acc, c, ldc, m, n);
  }
  static void dot_axpy8_f64(std::int64_t n, const double* a, std::int64_t lda, const double* x,
                            const double* s, double* y, double* t) noexcept {
    avx512_detail::dot_axpy8_f64(n, a, lda, x, s, y, t);
  }
};

}  // namespace medkern::kernels::ml
MEDKERN_ISA_END()
