// medkern/kernels/conv/winograd/ref.hpp — Winograd F(4x4, 3x3) transforms on channel-blocked
// tiles: kernel contract and scalar reference.
//
// A 3x3 stride-1 convolution computes each 4x4 output tile from a 6x6 input tile as
//   Y = A^T [ (G g G^T) (.) (B^T d B) ] A        (Lavin and Gray, 2016)
// so the 36 products per tile and channel pair replace 144: the op transforms the weights
// once (G g G^T, at pack time), transforms each input tile (input_tile: V = B^T d B), runs
// 36 independent GEMMs M[pos] = V[pos] U[pos] over the tiles (the direct kernel as a 1x1
// convolution) and transforms each output tile back (output_tile: Y = A^T M A).
// Interpolation points 0, +-1, +-2, inf: the transforms' entries stay within 8 (input, output)
// and 1/24 (weights); the f32 error is 0.6-3e-5 of the output's largest value, about 7x the
// direct kernel's (tests bound it relative to the output's scale, not per element).
//
// Every value is a block of 16 channel lanes (the blocked layout's pixel): the transforms are
// the same adds and scalings per lane.
#pragma once

#include <array>
#include <cstdint>

#include "medkern/core/isa.hpp"
#include "medkern/kernels/conv/desc.hpp"

namespace medkern::kernels::conv::winograd {

using i64 = std::int64_t;

/// Output tile edge (m), kernel edge (r) and input tile edge (m + r - 1).
inline constexpr int kTile = 4, kKernel = 3, kAlpha = 6, kPositions = kAlpha * kAlpha;

/// V[pos] = (B^T d B)[pos] for one input tile of one channel block: d(r, c) at
/// src[r * rs + c * 16] (6 x 6 pixels, 16 lanes each, all readable: the op passes a zero-padded
/// copy for tiles that cross the image border); V[pos] written at v[pos * vpos], pos = row*6 + col.
using InputTileFn = void (*)(const float* src, i64 rs, float* v, i64 vpos) noexcept;
/// Y = A^T M A for one output tile of one channel block: M[pos] at m[pos * mpos]; output
/// pixel (i, j) at y[i * ys + j * 16], written for i < rows, j < cols only (tiles at the
/// bottom / right edge of an output whose size is not a multiple of 4).
using OutputTileFn = void (*)(const float* m, i64 mpos, float* y, i64 ys, int rows,
                              int cols) noexcept;

struct WinoRow {
  const char* name;  ///< "conv_f32_winograd_f4x3__avx512"
  Isa isa;
  bool (*supports)(const ConvDesc&);
  InputTileFn input_tile;
  OutputTileFn output_tile;
};

/// 3x3 in (H, W), stride 1, dilation 1, one group, f32, any padding; 2-D, or 3-D with any
/// kernel depth (its depth taps are reduced directly, in the GEMMs: "2.5-D" Winograd).
inline bool wino_supports(const ConvDesc& d) {
  return d.src_type == DType::f32 && d.wei_type == DType::f32 && d.dst_type == DType::f32 &&
         (d.spatial == 3 || d.kernel[0] == 1) && d.groups == 1 && d.kernel[1] == 3 &&
         d.kernel[2] == 3 && d.stride == std::array<i64, 3>{1, 1, 1} &&
         d.dilation == std::array<i64, 3>{1, 1, 1};
}

/// G (6 x 3): U = G g G^T, computed in double at pack time.
inline constexpr double kG[6][3] = {{1.0 / 4, 0, 0},
                                    {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                    {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                    {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                    {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                    {0, 0, 1}};

/// U (6 x 6) = G g G^T of one 3x3 filter g (row-major).
inline void weight_tile(const float* g, double* u) noexcept {
  double t[6][3];
  for (int a = 0; a < 6; ++a)
    for (int l = 0; l < 3; ++l) {
      double s = 0;
      for (int k = 0; k < 3; ++k) s += kG[a][k] * double(g[k * 3 + l]);
      t[a][l] = s;
    }
  for (int a = 0; a < 6; ++a)
    for (int b = 0; b < 6; ++b) {
      double s = 0;
      for (int l = 0; l < 3; ++l) s += t[a][l] * kG[b][l];
      u[a * 6 + b] = s;
    }
}

template <class Isa>
struct impl;

namespace ref_detail {

/// t = B^T x for a column x of 6 values (x[i * sx]); the grouping is the vector kernel's.
inline void bt6(const float* x, i64 sx, float* t, i64 st) noexcept {
  const float x0 = x[0], x1 = x[sx], x2 = x[2 * sx], x3 = x[3 * sx], x4 = x[4 * sx],
              x5 = x[5 * sx];
  t[0] = 4.f * x0 - 5.f * x2 + x4;
  t[st] = (x3 + x4) - 4.f * (x1 + x2);
  t[2 * st] = (x4 - x3) + 4.f * (x1 - x2);
  t[3 * st] = (x4 - x2) + 2.f * (x3 - x1);
  t[4 * st] = (x4 - x2) - 2.f * (x3 - x1);
  t[5 * st] = 4.f * x1 - 5.f * x3 + x5;
}

/// s = A^T x (4 values) for a column x of 6.
inline void at6(const float* x, i64 sx, float* s, i64 ss) noexcept {
  const float x0 = x[0], x1 = x[sx], x2 = x[2 * sx], x3 = x[3 * sx], x4 = x[4 * sx],
              x5 = x[5 * sx];
  const float p12 = x1 + x2, m12 = x1 - x2, p34 = x3 + x4, m34 = x3 - x4;
  s[0] = x0 + p12 + p34;
  s[ss] = m12 + 2.f * m34;
  s[2 * ss] = p12 + 4.f * p34;
  s[3 * ss] = m12 + 8.f * m34 + x5;
}

}  // namespace ref_detail

template <>
struct impl<isa::ref_t> {
  static constexpr const char* name = "conv_f32_winograd_f4x3__ref";
  static bool supports(const ConvDesc& d) { return wino_supports(d); }

  static void input_tile(const float* src, i64 rs, float* v, i64 vpos) noexcept {
    for (int l = 0; l < 16; ++l) {
      float t[6][6], o[6][6];
      for (int c = 0; c < 6; ++c) ref_detail::bt6(src + c * 16 + l, rs, &t[0][c], 6);
      for (int r = 0; r < 6; ++r) ref_detail::bt6(&t[r][0], 1, &o[r][0], 1);
      for (int p = 0; p < kPositions; ++p) v[p * vpos + l] = o[p / 6][p % 6];
    }
  }

  static void output_tile(const float* m, i64 mpos, float* y, i64 ys, int rows,
                          int cols) noexcept {
    for (int l = 0; l < 16; ++l) {
      float t[4][6], o[4][4];
      for (int c = 0; c < 6; ++c) ref_detail::at6(m + c * mpos + l, 6 * mpos, &t[0][c], 6);
      for (int i = 0; i < 4; ++i) ref_detail::at6(&t[i][0], 1, &o[i][0], 1);
      for (int i = 0; i < rows; ++i)
        for (int j = 0; j < cols; ++j) y[i * ys + j * 16 + l] = o[i][j];
    }
  }
};

}  // namespace medkern::kernels::conv::winograd
