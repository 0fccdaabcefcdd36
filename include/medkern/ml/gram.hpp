// medkern/ml/gram.hpp — symmetric Gram matrices G = Xc^T Xc of (optionally centered, optionally
// row-subset) row-major data, on the packed-panel kernels of kernels/ml.
//
// Double precision over all rows: a lower-triangle SYRK on the cache-blocked GEMM of gemm.hpp
// (centering folded into its packing), mirrored. Otherwise (float, or a row subset):
// the rows are processed in blocks of kc; each block is packed into 8-column panels (centering
// folded into the packing), then every upper-triangle tile (8 x 24) accumulates the block's
// panel products. Tiles are owned by one task per block and blocks run in order, so the result
// does not depend on the thread count. Only the upper triangle is computed; it is mirrored.
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "medkern/core/buffer.hpp"
#include "medkern/core/threading.hpp"
#include "medkern/kernels/ml/registry.hpp"
#include "medkern/ml/gemm.hpp"

namespace medkern::ml::detail {

/// Packed-panel rows per block: the panels of one block (p_pad * kc * sizeof(T)) stay within
/// about 1 MiB of L2 (bench: ml lasso_path 10000x500 and pca 10000x1000, kc 64..512).
template <class T>
inline std::int64_t gram_block_rows(std::int64_t p_pad) {
  const std::int64_t budget = (std::int64_t(1) << 20) / std::int64_t(sizeof(T));
  std::int64_t kc = budget / std::max<std::int64_t>(p_pad, 8);
  kc = std::clamp<std::int64_t>(kc / 8 * 8, 32, 512);
  return kc;
}

/// G[p x p] (row-major, ld p) = sum over the selected rows r of (X[r] - mean) (X[r] - mean)^T.
/// rows == nullptr selects rows [0, n); mean == nullptr means no centering.
template <class T>
void gram(const T* x, std::int64_t ldx, std::int64_t n, std::int64_t p,
          const std::int64_t* rows, const T* mean, T* g) {
  const kernels::ml::Ops<T> ops{kernels::ml::active_kernels()};
  constexpr std::int64_t P = kernels::ml::kPanel;
  const std::int64_t np = (p + P - 1) / P, p_pad = np * P;
  if (n == 0 || p == 0) {
    std::fill(g, g + p * p, T(0));
    return;
  }
  if constexpr (std::is_same_v<T, double>) {
    if (rows == nullptr) {  // every entry written: the triangle by the SYRK, the rest mirrored
      gemm_f64(ops.k, p, p, n, 1.0, MatF64{x, 1, ldx, mean}, MatF64{x, ldx, 1, mean}, false, g,
               p, Tri::lower);
      constexpr std::int64_t kB = 32;  // mirror in square blocks (transposed reads stay cached)
      parallel_for_1d((p + kB - 1) / kB, 1, [&](std::int64_t b0, std::int64_t b1) {
        for (std::int64_t bi = b0; bi < b1; ++bi)
          for (std::int64_t bj = bi; bj * kB < p; ++bj)
            for (std::int64_t i = bi * kB; i < std::min(p, (bi + 1) * kB); ++i)
              for (std::int64_t j = std::max(i + 1, bj * kB); j < std::min(p, (bj + 1) * kB); ++j)
                g[i * p + j] = g[j * p + i];
      });
      return;
    }
  }
  std::fill(g, g + p * p, T(0));
  const std::int64_t kc = gram_block_rows<T>(p_pad);
  AlignedBuffer<T> panels;
  panels.allocate(p_pad * kc);
  std::vector<T> acc(static_cast<std::size_t>(p_pad * p_pad), T(0));
  for (std::int64_t k0 = 0; k0 < n; k0 += kc) {
    const std::int64_t kb = std::min(kc, n - k0);
    T* pk = panels.data();
    // Pack: panel j holds rows k0..k0+kb of columns [8j, 8j+8), zero-padded past p and kb.
    parallel_for_1d(np, 4, [&](std::int64_t j0, std::int64_t j1) {
      for (std::int64_t j = j0; j < j1; ++j) {
        T* dst = pk + j * kc * P;
        const std::int64_t c0 = j * P, cn = std::min(P, p - c0);
        for (std::int64_t k = 0; k < kc; ++k) {
          T* d = dst + k * P;
          if (k >= kb) {
            std::fill(d, d + P, T(0));
            continue;
          }
          const std::int64_t r = rows ? rows[k0 + k] : k0 + k;
          const T* src = x + r * ldx + c0;
          std::int64_t c = 0;
          if (mean)
            for (; c < cn; ++c) d[c] = src[c] - mean[c0 + c];
          else
            for (; c < cn; ++c) d[c] = src[c];
          for (; c < P; ++c) d[c] = T(0);
        }
      }
    });
    // Upper-triangle tiles: row panel i against column panels j >= i, three at a time.
    parallel_tasks(np, [&](std::int64_t i) {
      const T* pa = pk + i * kc * P;
      for (std::int64_t j = i; j < np; j += 3) {
        const int nb = int(std::min<std::int64_t>(3, np - j));
        ops.gram_tile(pa, pk + j * kc * P, kc, nb, acc.data() + i * P * p_pad + j * P, p_pad);
      }
    });
  }
  for (std::int64_t i = 0; i < p; ++i)
    for (std::int64_t j = i; j < p; ++j) {
      const T v = acc[std::size_t(i * p_pad + j)];
      g[i * p + j] = v;
      g[j * p + i] = v;
    }
}

}  // namespace medkern::ml::detail
