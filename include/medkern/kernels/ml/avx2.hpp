// medkern/kernels/ml/avx2.hpp — classical-ML kernels for AVX2 + FMA (Haswell and later).
//
// Register plan (16 ymm): dot / axpy with 4 accumulators; gram_tile as 4-row x 1-panel
// sub-tiles (8 f64 accumulators, 2 B loads, 4 broadcasts per k) or 8-row x 1-panel for f32;
// gemm_nn / gemm_tn_acc as 4 x 8-column tiles (8 accumulators); gemm_ukr (the 8 x 24 packed
// tile of ml/gemm.hpp) as four 4 x 12 sub-tiles (12 accumulators, 3 B loads, 4 broadcasts per k).
// Tails: scalar loops (never read or write past the buffers).
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "medkern/core/config.hpp"
#include "medkern/kernels/ml/ref.hpp"

MEDKERN_ISA_BEGIN(avx2)
namespace medkern::kernels::ml {
namespace avx2_detail {

using i64 = std::int64_t;

MEDKERN_ALWAYS_INLINE double hsum(__m256d v) {
  const __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}
MEDKERN_ALWAYS_INLINE float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps(s, s, 1)));
}

inline double dot_f64(const double* x, const double* y, i64 n) noexcept {
  __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
  i64 i = 0;
  for (; i + 16 <= n; i += 16) {
    a0 = _mm256_fmadd_pd(_mm256_loadu_pd(x + i), _mm256_loadu_pd(y + i), a0);
    a1 = _mm256_fmadd_pd(_mm256_loadu_pd(x + i + 4), _mm256_loadu_pd(y + i + 4), a1);
    a2 = _mm256_fmadd_pd(_mm256_loadu_pd(x + i + 8), _mm256_loadu_pd(y + i + 8), a2);
    a3 = _mm256_fmadd_pd(_mm256_loadu_pd(x + i + 12), _mm256_loadu_pd(y + i + 12), a3);
  }
  for (; i + 4 <= n; i += 4)
    a0 = _mm256_fmadd_pd(_mm256_loadu_pd(x + i), _mm256_loadu_pd(y + i), a0);
  double s = hsum(_mm256_add_pd(_mm256_add_pd(a0, a1), _mm256_add_pd(a2, a3)));
  for (; i < n; ++i) s += x[i] * y[i];
  return s;
}

inline float dot_f32(const float* x, const float* y, i64 n) noexcept {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  i64 i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), a1);
    a2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16), _mm256_loadu_ps(y + i + 16), a2);
    a3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24), _mm256_loadu_ps(y + i + 24), a3);
  }
  for (; i + 8 <= n; i += 8)
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), a0);
  float s = hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  for (; i < n; ++i) s += x[i] * y[i];
  return s;
}

inline void axpy_f64(double a, const double* x, double* y, i64 n) noexcept {
  const __m256d va = _mm256_set1_pd(a);
  i64 i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_pd(y + i, _mm256_fmadd_pd(va, _mm256_loadu_pd(x + i), _mm256_loadu_pd(y + i)));
    _mm256_storeu_pd(y + i + 4,
                     _mm256_fmadd_pd(va, _mm256_loadu_pd(x + i + 4), _mm256_loadu_pd(y + i + 4)));
  }
  for (; i < n; ++i) y[i] += a * x[i];
}

inline void axpy_f32(float a, const float* x, float* y, i64 n) noexcept {
  const __m256 va = _mm256_set1_ps(a);
  i64 i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    _mm256_storeu_ps(y + i + 8,
                     _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8)));
  }
  for (; i < n; ++i) y[i] += a * x[i];
}

inline void gram_tile_f64(const double* pa, const double* pb, i64 kc, int nb, double* c,
                          i64 ldc) noexcept {
  for (int j = 0; j < nb; ++j)
    for (int h = 0; h < 2; ++h) {
      __m256d acc[4][2];
      for (int i = 0; i < 4; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_pd();
      const double* b = pb + j * kc * 8;
      for (i64 k = 0; k < kc; ++k) {
        const __m256d b0 = _mm256_loadu_pd(b + k * 8), b1 = _mm256_loadu_pd(b + k * 8 + 4);
        for (int i = 0; i < 4; ++i) {
          const __m256d a = _mm256_broadcast_sd(pa + k * 8 + 4 * h + i);
          acc[i][0] = _mm256_fmadd_pd(a, b0, acc[i][0]);
          acc[i][1] = _mm256_fmadd_pd(a, b1, acc[i][1]);
        }
      }
      for (int i = 0; i < 4; ++i) {
        double* p = c + (4 * h + i) * ldc + j * 8;
        _mm256_storeu_pd(p, _mm256_add_pd(_mm256_loadu_pd(p), acc[i][0]));
        _mm256_storeu_pd(p + 4, _mm256_add_pd(_mm256_loadu_pd(p + 4), acc[i][1]));
      }
    }
}

inline void gram_tile_f32(const float* pa, const float* pb, i64 kc, int nb, float* c,
                          i64 ldc) noexcept {
  for (int j = 0; j < nb; ++j) {
    __m256 acc[8];
    for (int i = 0; i < 8; ++i) acc[i] = _mm256_setzero_ps();
    const float* b = pb + j * kc * 8;
    for (i64 k = 0; k < kc; ++k) {
      const __m256 bv = _mm256_loadu_ps(b + k * 8);
      for (int i = 0; i < 8; ++i)
        acc[i] = _mm256_fmadd_ps(_mm256_broadcast_ss(pa + k * 8 + i), bv, acc[i]);
    }
    for (int i = 0; i < 8; ++i) {
      float* p = c + i * ldc + j * 8;
      _mm256_storeu_ps(p, _mm256_add_ps(_mm256_loadu_ps(p), acc[i]));
    }
  }
}

template <int MR>
MEDKERN_ALWAYS_INLINE void gemm_nn_tile(i64 k, const double* a, i64 lda, const double* b, i64 ldb,
                                        double* c, i64 ldc) noexcept {
  __m256d acc[MR][2];
  for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_pd();
  for (i64 l = 0; l < k; ++l) {
    const __m256d b0 = _mm256_loadu_pd(b + l * ldb), b1 = _mm256_loadu_pd(b + l * ldb + 4);
    for (int i = 0; i < MR; ++i) {
      const __m256d av = _mm256_broadcast_sd(a + i * lda + l);
      acc[i][0] = _mm256_fmadd_pd(av, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_pd(av, b1, acc[i][1]);
    }
  }
  for (int i = 0; i < MR; ++i) {
    _mm256_storeu_pd(c + i * ldc, acc[i][0]);
    _mm256_storeu_pd(c + i * ldc + 4, acc[i][1]);
  }
}

inline void gemm_nn_f64(i64 m, i64 k, const double* a, i64 lda, const double* b, i64 ldb, i64 n,
                        double* c, i64 ldc) noexcept {
  for (i64 j = 0; j + 8 <= n; j += 8) {
    i64 i = 0;
    for (; i + 4 <= m; i += 4) gemm_nn_tile<4>(k, a + i * lda, lda, b + j, ldb, c + i * ldc + j, ldc);
    for (; i < m; ++i) gemm_nn_tile<1>(k, a + i * lda, lda, b + j, ldb, c + i * ldc + j, ldc);
  }
}

template <int LR>
MEDKERN_ALWAYS_INLINE void gemm_tn_tile(i64 m, const double* a, i64 lda, const double* p, i64 ldp,
                                        double* w, i64 ldw) noexcept {
  __m256d acc[LR][2];
  for (int l = 0; l < LR; ++l) {
    acc[l][0] = _mm256_loadu_pd(w + l * ldw);
    acc[l][1] = _mm256_loadu_pd(w + l * ldw + 4);
  }
  for (i64 i = 0; i < m; ++i) {
    const __m256d p0 = _mm256_loadu_pd(p + i * ldp), p1 = _mm256_loadu_pd(p + i * ldp + 4);
    for (int l = 0; l < LR; ++l) {
      const __m256d av = _mm256_broadcast_sd(a + i * lda + l);
      acc[l][0] = _mm256_fmadd_pd(av, p0, acc[l][0]);
      acc[l][1] = _mm256_fmadd_pd(av, p1, acc[l][1]);
    }
  }
  for (int l = 0; l < LR; ++l) {
    _mm256_storeu_pd(w + l * ldw, acc[l][0]);
    _mm256_storeu_pd(w + l * ldw + 4, acc[l][1]);
  }
}

inline void gemm_tn_acc_f64(i64 m, i64 k, const double* a, i64 lda, const double* p, i64 ldp,
                            i64 n, double* w, i64 ldw) noexcept {
  for (i64 j = 0; j + 8 <= n; j += 8) {
    i64 l = 0;
    for (; l + 4 <= k; l += 4) gemm_tn_tile<4>(m, a + l, lda, p + j, ldp, w + l * ldw + j, ldw);
    for (; l < k; ++l) gemm_tn_tile<1>(m, a + l, lda, p + j, ldp, w + l * ldw + j, ldw);
  }
}

inline void gemm_ukr_f64(i64 kc, const double* pa, i64 lda, const double* pb, double alpha,
                         bool acc, double* c, i64 ldc, int m, int n) noexcept {
  for (int ih = 0; ih < 2 && ih * 4 < m; ++ih)
    for (int jh = 0; jh < 2 && jh * 12 < n; ++jh) {
      __m256d r[4][3];
      #pragma GCC unroll 8
      for (int i = 0; i < 4; ++i)
        #pragma GCC unroll 8
        for (int j = 0; j < 3; ++j) r[i][j] = _mm256_setzero_pd();
      const double* a = pa + ih * 4;
      const double* q = pb + jh * 12;  // columns jh*12 + [0, 12) of the interleaved sliver
      for (i64 k = 0; k < kc; ++k) {
        const __m256d b0 = _mm256_loadu_pd(q), b1 = _mm256_loadu_pd(q + 4),
                      b2 = _mm256_loadu_pd(q + 8);
        #pragma GCC unroll 8
        for (int i = 0; i < 4; ++i) {
          const __m256d av = _mm256_broadcast_sd(a + i);
          r[i][0] = _mm256_fmadd_pd(av, b0, r[i][0]);
          r[i][1] = _mm256_fmadd_pd(av, b1, r[i][1]);
          r[i][2] = _mm256_fmadd_pd(av, b2, r[i][2]);
        }
        a += lda;
        q += 24;
      }
      alignas(32) double t[4][12];
      #pragma GCC unroll 8
      for (int i = 0; i < 4; ++i)
        #pragma GCC unroll 8
        for (int j = 0; j < 3; ++j) _mm256_store_pd(&t[i][4 * j], r[i][j]);
      const int mi = m - ih * 4 < 4 ? m - ih * 4 : 4, nj = n - jh * 12 < 12 ? n - jh * 12 : 12;
      for (int i = 0; i < mi; ++i) {
        double* p = c + (ih * 4 + i) * ldc + jh * 12;
        for (int j = 0; j < nj; ++j) p[j] = (acc ? p[j] : 0.0) + alpha * t[i][j];
      }
    }
}

inline void dot_axpy8_f64(i64 n, const double* a, i64 lda, const double* x, const double* s,
                          double* y, double* t) noexcept {
  __m256d acc[8];
  #pragma GCC unroll 8
  for (int q = 0; q < 8; ++q) acc[q] = _mm256_setzero_pd();
  i64 r = 0;
  for (; r + 4 <= n; r += 4) {
    const __m256d xv = _mm256_loadu_pd(x + r);
    __m256d u0 = _mm256_loadu_pd(y + r), u1 = _mm256_setzero_pd();
    #pragma GCC unroll 8
    for (int q = 0; q < 8; q += 2) {
      const __m256d c0 = _mm256_loadu_pd(a + q * lda + r);
      const __m256d c1 = _mm256_loadu_pd(a + (q + 1) * lda + r);
      acc[q] = _mm256_fmadd_pd(c0, xv, acc[q]);
      acc[q + 1] = _mm256_fmadd_pd(c1, xv, acc[q + 1]);
      u0 = _mm256_fmadd_pd(_mm256_broadcast_sd(s + q), c0, u0);
      u1 = _mm256_fmadd_pd(_mm256_broadcast_sd(s + q + 1), c1, u1);
    }
    _mm256_storeu_pd(y + r, _mm256_add_pd(u0, u1));
  }
  #pragma GCC unroll 8
  for (int q = 0; q < 8; ++q) {
    alignas(32) double v[4];
    _mm256_store_pd(v, acc[q]);
    t[q] = (v[0] + v[1]) + (v[2] + v[3]);
  }
  for (; r < n; ++r) {
    double u = 0;
    for (int q = 0; q < 8; ++q) {
      t[q] += a[q * lda + r] * x[r];
      u += s[q] * a[q * lda + r];
    }
    y[r] += u;
  }
}

}  // namespace avx2_detail

template <>
struct impl<isa::avx2_t> {
  static constexpr const char* name = "ml__avx2";
  template <class T>
  static T dot(const T* x, const T* y, std::int64_t n) noexcept {
    if constexpr (sizeof(T) == 8)
      return avx2_detail::dot_f64(x, y, n);
    else
      return avx2_detail::dot_f32(x, y, n);
  }
  template <class T>
  static void axpy(T a, const T* x, T* y, std::int64_t n) noexcept {
    if constexpr (sizeof(T) == 8)
      avx2_detail::axpy_f64(a, x, y, n);
    else
      avx2_detail::axpy_f32(a, x, y, n);
  }
  template <class T>
  static void gram_tile(const T* pa, const T* pb, std::int64_t kc, int nb, T* c,
                        std::int64_t ldc) noexcept {
    if constexpr (sizeof(T) == 8)
      avx2_detail::gram_tile_f64(pa, pb, kc, nb, c, ldc);
    else
      avx2_detail::gram_tile_f32(pa, pb, kc, nb, c, ldc);
  }
  static void gemm_nn_f64(std::int64_t m, std::int64_t k, const double* a, std::int64_t lda,
                          const double* b, std::int64_t ldb, std::int64_t n, double* c,
                          std::int64_t ldc) noexcept {
    avx2_detail::gemm_nn_f64(m, k, a, lda, b, ldb, n, c, ldc);
  }
  static void gemm_tn_acc_f64(std::int64_t m, std::int64_t k, const double* a, std::int64_t lda,
                              const double* p, std::int64_t ldp, std::int64_t n, double* w,
                              std::int64_t ldw) noexcept {
    avx2_detail::gemm_tn_acc_f64(m, k, a, lda, p, ldp, n, w, ldw);
  }
  static void gemm_ukr_f64(std::int64_t kc, const double* pa, std::int64_t lda, const double* pb,
                           double alpha, bool acc, double* c, std::int64_t ldc, int m,
                           int n) noexcept {
    avx2_detail::gemm_ukr_f64(kc, pa, lda, pb, alpha, acc, c, ldc, m, n);
  }
  static void dot_axpy8_f64(std::int64_t n, const double* a, std::int64_t lda, const double* x,
                            const double* s, double* y, double* t) noexcept {
    avx2_detail::dot_axpy8_f64(n, a, lda, x, s, y, t);
  }
};

}  // namespace medkern::kernels::ml
MEDKERN_ISA_END()
