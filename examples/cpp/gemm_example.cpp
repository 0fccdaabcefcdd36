// A C++ consumer: matmul through medkern, checked against a plain loop. Built with -O2 and no
// -march: the AVX-512 / AVX2 kernels are still chosen at run time.
#include <medkern/medkern.hpp>

#include <cmath>
#include <cstdio>
#include <vector>

int main() {
  const std::int64_t M = 96, K = 200, N = 80;
  std::vector<float> a(M * K), b(K * N), c(M * N);
  for (std::int64_t i = 0; i < M * K; ++i) a[i] = std::sin(0.1f * float(i));
  for (std::int64_t i = 0; i < K * N; ++i) b[i] = std::cos(0.2f * float(i));
  using medkern::TensorView;
  medkern::ops::matmul(TensorView::contiguous(a.data(), medkern::DType::f32, {M, K}),
                       TensorView::contiguous(b.data(), medkern::DType::f32, {K, N}),
                       TensorView::contiguous(c.data(), medkern::DType::f32, {M, N}));
  double max_err = 0;
  for (std::int64_t m = 0; m < M; ++m)
    for (std::int64_t n = 0; n < N; ++n) {
      double r = 0;
      for (std::int64_t k = 0; k < K; ++k) r += double(a[m * K + k]) * b[k * N + n];
      max_err = std::fmax(max_err, std::fabs(r - c[m * N + n]));
    }
  std::printf("medkern %s, isa %s, max error %.3g\n", MEDKERN_VERSION_STRING,
              std::string(medkern::isa_name(medkern::active_isa())).c_str(), max_err);
  return max_err < 1e-3 ? 0 : 1;
}
