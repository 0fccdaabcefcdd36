// medkern/kernels/ml/ref.hpp — reference kernels of the classical-ML solvers (coordinate descent,
// Gram matrices, tall-skinny products of randomized PCA): the oracle of every ISA variant.
//
// Contract (T = float or double; all pointers non-overlapping unless stated):
//   dot(x, y, n)            = sum_i x[i] * y[i]                      2n FLOP
//   axpy(a, x, y, n)        : y[i] += a * x[i]                       2n FLOP
//   gram_tile(pa, pb, kc, nb, c, ldc):
//       C[i, j] += sum_k pa[k*8 + i] * pb[(j/8)*kc*8 + k*8 + j%8],   i < 8, j < 8*nb, nb in 1..3
//     pa / pb are "panels": kc rows of 8 consecutive columns of a row-major matrix, so that
//     the Gram matrix X^T X of a row-major X is a sum of panel outer products.  2*8*8nb*kc FLOP
//   gemm_nn_f64(m, k, a, lda, b, ldb, n, c, ldc): C[m x n] = A[m x k] B[k x n]   (n % 8 == 0)
//   gemm_tn_acc_f64(m, k, a, lda, p, ldp, n, w, ldw): W[k x n] += A[m x k]^T P[m x n] (n % 8 == 0)
//   dot_axpy8_f64(n, a, lda, x, s, y, t): eight columns a_q = a + q*lda of length n, one pass:
//       t[q] = sum_r a_q[r] x[r]   and   y[r] += sum_q s[q] a_q[r]         32n FLOP
//     (the symmetric matrix-vector product of the tridiagonalization: a column's dot below the
//     diagonal and its mirror image in the upper triangle as an axpy; x, y not overlapping a)
//   gemm_ukr_f64(kc, pa, lda, pb, alpha, acc, c, ldc, m, n): the micro-kernel of the
//     cache-blocked GEMM (ml/gemm.hpp) on packed slivers: pa holds 8 rows of A per k step
//     (pa[k*lda + i]; lda = 8 for an A sliver of its own, 24 when it is a third of a B sliver,
//     so a SYRK packs once), pb one B sliver of 24 interleaved columns (pb[k*24 + j]):
//       C[i, j] = (acc ? C[i, j] : 0) + alpha * sum_{k < kc} pa[k*lda + i] pb[k*24 + j]
//     for i < m <= kGemmMr, j < n <= kGemmNr; nothing outside that m x n corner is written
//     (the packed slivers are zero-padded to the full tile). A k sub-range is a pointer offset
//     (pa + k0*lda, pb + k0*24), which lets triangular operands skip their zero rows.
//                                                                        2*m*n*kc FLOP
// Accumulation: the reference sums in double (long double is not needed at these sizes); the
// vector variants sum in T with several partial sums, like BLAS.
#pragma once

#include <cstdint>

#include "medkern/core/isa.hpp"

namespace medkern::kernels::ml {

/// Panel width of the packed Gram layout (all ISAs, both dtypes).
inline constexpr std::int64_t kPanel = 8;

/// Register tile of the f64 GEMM micro-kernel (all ISAs share the packed layout): 8 rows x 24
/// columns, three zmm per row on AVX-512 (bench: ml pca_full; 12 x 16 was no faster).
inline constexpr int kGemmMr = 8;
inline constexpr int kGemmNr = 24;

/// One registry row: the kernel set of one ISA.
struct MlRow {
  const char* name;
  Isa isa;
  double (*dot_f64)(const double*, const double*, std::int64_t) noexcept;
  float (*dot_f32)(const float*, const float*, std::int64_t) noexcept;
  void (*axpy_f64)(double, const double*, double*, std::int64_t) noexcept;
  void (*axpy_f32)(float, const float*, float*, std::int64_t) noexcept;
  void (*gram_tile_f64)(const double*, const double*, std::int64_t, int, double*,
                        std::int64_t) noexcept;
  void (*gram_tile_f32)(const float*, const float*, std::int64_t, int, float*,
                        std::int64_t) noexcept;
  void (*gemm_nn_f64)(std::int64_t, std::int64_t, const double*, std::int64_t, const double*,
                      std::int64_t, std::int64_t, double*, std::int64_t) noexcept;
  void (*gemm_tn_acc_f64)(std::int64_t, std::int64_t, const double*, std::int64_t,
                          const double*, std::int64_t, std::int64_t, double*,
                          std::int64_t) noexcept;
  void (*gemm_ukr_f64)(std::int64_t, const double*, std::int64_t, const double*, double, bool,
                       double*, std::int64_t, int, int) noexcept;
  void (*dot_axpy8_f64)(std::int64_t, const double*, std::int64_t, const double*, const double*,
                        double*, double*) noexcept;
};

template <class IsaTag>
struct impl;

template <>
struct impl<isa::ref_t> {
  static constexpr const char* name = "ml__ref";

  template <class T>
  static T dot(const T* x, const T* y, std::int64_t n) noexcept {
    double s = 0;
    for (std::int64_t i = 0; i < n; ++i) s += double(x[i]) * double(y[i]);
    return T(s);
  }
  template <class T>
  static void axpy(T a, const T* x, T* y, std::int64_t n) noexcept {
    for (std::int64_t i = 0; i < n; ++i) y[i] += a * x[i];
  }
  template <class T>
  static void gram_tile(const T* pa, const T* pb, std::int64_t kc, int nb, T* c,
                        std::int64_t ldc) noexcept {
    for (int i = 0; i < 8; ++i)
      for (int j = 0; j < 8 * nb; ++j) {
        const T* b = pb + (j / 8) * kc * 8 + j % 8;
        double s = 0;
        for (std::int64_t k = 0; k < kc; ++k) s += double(pa[k * 8 + i]) * double(b[k * 8]);
        c[i * ldc + j] += T(s);
      }
  }
  static void gemm_nn_f64(std::int64_t m, std::int64_t k, const double* a, std::int64_t lda,
                          const double* b, std::int64_t ldb, std::int64_t n, double* c,
                          std::int64_t ldc) noexcept {
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (std::int64_t l = 0; l < k; ++l) s += a[i * lda + l] * b[l * ldb + j];
        c[i * ldc + j] = s;
      }
  }
  static void gemm_tn_acc_f64(std::int64_t m, std::int64_t k, const double* a, std::int64_t lda,
                              const double* p, std::int64_t ldp, std::int64_t n, double* w,
                              std::int64_t ldw) noexcept {
    for (std::int64_t l = 0; l < k; ++l)
      for (std::int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (std::int64_t i = 0; i < m; ++i) s += a[i * lda + l] * p[i * ldp + j];
        w[l * ldw + j] += s;
      }
  }
  static void dot_axpy8_f64(std::int64_t n, const double* a, std::int64_t lda, const double* x,
                            const double* s, double* y, double* t) noexcept {
    for (int q = 0; q < 8; ++q) {
      double d = 0;
      for (std::int64_t r = 0; r < n; ++r) d += a[q * lda + r] * x[r];
      t[q] = d;
    }
    for (std::int64_t r = 0; r < n; ++r) {
      double u = 0;
      for (int q = 0; q < 8; ++q) u += s[q] * a[q * lda + r];
      y[r] += u;
    }
  }
  static void gemm_ukr_f64(std::int64_t kc, const double* pa, std::int64_t lda, const double* pb,
                           double alpha, bool acc, double* c, std::int64_t ldc, int m,
                           int n) noexcept {
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) {
        double s = 0;
        for (std::int64_t k = 0; k < kc; ++k) s += pa[k * lda + i] * pb[k * kGemmNr + j];
        c[i * ldc + j] = (acc ? c[i * ldc + j] : 0.0) + alpha * s;
      }
  }
};

template <class Impl>
constexpr MlRow ml_row(Isa isa) {
  return MlRow{Impl::name,
               isa,
               &Impl::template dot<double>,
               &Impl::template dot<float>,
               &Impl::template axpy<double>,
               &Impl::template axpy<float>,
               &Impl::template gram_tile<double>,
               &Impl::template gram_tile<float>,
               &Impl::gemm_nn_f64,
               &Impl::gemm_tn_acc_f64,
               &Impl::gemm_ukr_f64,
               &Impl::dot_axpy8_f64};
}

}  // namespace medkern::kernels::ml
