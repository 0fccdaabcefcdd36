// medkern/ops/im2col.hpp — im2col / col2im on NCHW / NCDHW tensors (torch unfold / fold), and
// the geometry validation shared with the convolution ops.
//
//   im2col: src (N, C, [D,] H, W)  ->  col (N, C*KD*KH*KW, OD*OH*OW)
//   col2im: col (N, C*KD*KH*KW, OD*OH*OW)  ->  dst (N, C, [D,] H, W), overlapping taps summed
// Row/column order and semantics in kernels/conv/im2col.hpp. src/dst may have any byte
// strides (multiples of 4); col must be C-contiguous. Work is one task per (image, channel):
// tasks write disjoint rows of col (im2col) or disjoint planes of dst (col2im), so results do
// not depend on the thread count.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "medkern/core/error.hpp"
#include "medkern/core/tensor.hpp"
#include "medkern/core/threading.hpp"
#include "medkern/core/verbose.hpp"
#include "medkern/kernels/conv/desc.hpp"
#include "medkern/kernels/conv/im2col.hpp"

namespace medkern::ops {

using kernels::conv::ConvDesc;

namespace conv_detail {

using i64 = std::int64_t;

/// "3x3" or "3x3x3" of the spatial entries of v.
inline std::string sp_str(const ConvDesc& d, const std::array<i64, 3>& v) {
  std::string s;
  for (int i = d.spatial == 3 ? 0 : 1; i < 3; ++i) {
    if (!s.empty()) s += 'x';
    s += std::to_string(v[std::size_t(i)]);
  }
  return s;
}

inline std::string pads_str(const ConvDesc& d) {
  std::string s;
  for (int i = d.spatial == 3 ? 0 : 1; i < 3; ++i) {
    if (!s.empty()) s += ',';
    s += detail::concat(d.pad_before[std::size_t(i)], "/", d.pad_after[std::size_t(i)]);
  }
  return s;
}

/// Kernel, stride, dilation, padding rules, and the 2-D normalisation of the D entries.
inline void check_params(const char* op, const ConvDesc& d, const std::string& ctx) {
  using medkern::detail::throw_shape;
  if (d.spatial != 2 && d.spatial != 3)
    throw_shape(op, ": spatial rank ", d.spatial, " must be 2 or 3 (", ctx, ")");
  for (int i = d.spatial == 3 ? 0 : 1; i < 3; ++i) {
    const auto k = std::size_t(i);
    if (d.kernel[k] < 1) throw_shape(op, ": kernel ", sp_str(d, d.kernel), " must be positive (", ctx, ")");
    if (d.stride[k] < 1) throw_shape(op, ": stride ", sp_str(d, d.stride), " must be positive (", ctx, ")");
    if (d.dilation[k] < 1)
      throw_shape(op, ": dilation ", sp_str(d, d.dilation), " must be positive (", ctx, ")");
    if (d.pad_before[k] < 0 || d.pad_after[k] < 0)
      throw_shape(op, ": padding ", pads_str(d), " (before/after) must be non-negative (", ctx, ")");
  }
  if (d.spatial == 2 && (d.kernel[0] != 1 || d.stride[0] != 1 || d.dilation[0] != 1 ||
                         d.pad_before[0] != 0 || d.pad_after[0] != 0))
    throw_shape(op, ": a 2-D problem must have kernel, stride, dilation 1 and no padding along D (",
                ctx, ")");
}

/// The padded input must hold the dilated kernel along every spatial dimension.
inline void check_fits(const char* op, const ConvDesc& d, const std::string& ctx) {
  for (int i = d.spatial == 3 ? 0 : 1; i < 3; ++i)
    if (d.padded(i) < d.extent(i))
      medkern::detail::throw_shape(
          op, ": dilated kernel ", sp_str(d, d.kernel), " (extent ", d.extent(i), " along ",
          "DHW"[i], ") is larger than the padded input ", d.padded(i), " (", ctx, ", padding ",
          pads_str(d), ", dilation ", sp_str(d, d.dilation), ")");
}

/// Image byte strides of a planar view (rank 4: D stride unused).
inline kernels::conv::ImageStrides image_strides(const TensorView& t) {
  kernels::conv::ImageStrides s;
  const int r = t.rank;
  s.c = t.strides[1];
  s.d = r == 5 ? t.strides[2] : 0;
  s.h = t.strides[std::size_t(r - 2)];
  s.w = t.strides[std::size_t(r - 1)];
  return s;
}

/// Fills N, C and in of `d` from a planar view of rank 2 + d.spatial.
inline void take_input(const char* op, const TensorView& src, ConvDesc& d, const char* name) {
  using medkern::detail::throw_shape;
  if (src.rank != 2 + d.spatial)
    throw_shape(op, ": ", name, " must be ", 2 + d.spatial, "-D (N, C, ",
                d.spatial == 3 ? "D, " : "", "H, W), got ", src.rank, "-D ", src.shape_str());
  if (src.dtype != DType::f32)
    throw_shape(op, ": ", name, " dtype ", dtype_name(src.dtype), " must be f32");
  for (int i = 0; i < src.rank; ++i) {
    if (src.shape[std::size_t(i)] < 0)
      throw_shape(op, ": ", name, " shape ", src.shape_str(), " has a negative dimension");
    if (src.strides[std::size_t(i)] % 4 != 0)
      throw_shape(op, ": ", name, " strides must be multiples of 4 bytes (", name, " ",
                  src.shape_str(), ")");
  }
  d.N = src.shape[0];
  d.IC = src.shape[1];
  d.in = {d.spatial == 3 ? src.shape[2] : 1, src.shape[std::size_t(src.rank - 2)],
          src.shape[std::size_t(src.rank - 1)]};
}

}  // namespace conv_detail

/// Output shape of im2col for a planar input shape and the geometry in `g`.
inline std::vector<std::int64_t> im2col_shape(const TensorView& src, ConvDesc g) {
  conv_detail::take_input("im2col", src, g, "input");
  conv_detail::check_params("im2col", g, "input " + src.shape_str());
  conv_detail::check_fits("im2col", g, "input " + src.shape_str());
  return {g.N, g.IC * g.kernel_volume(), g.out(0) * g.out(1) * g.out(2)};
}

/// col = im2col(src) with kernel, stride, padding and dilation from `g` (its spatial rank
/// decides 2-D or 3-D; N, C and sizes come from src). col: C-contiguous im2col_shape(src, g).
inline void im2col(const TensorView& src, ConvDesc g, const TensorView& col) {
  const auto shape = im2col_shape(src, g);
  conv_detail::take_input("im2col", src, g, "input");
  if (col.dtype != DType::f32 || col.rank != 3 || col.shape[0] != shape[0] ||
      col.shape[1] != shape[1] || col.shape[2] != shape[2] || !col.is_contiguous())
    medkern::detail::throw_shape("im2col: col must be a C-contiguous f32 ", shape[0], "x",
                                 shape[1], "x", shape[2], " tensor, got ", col.shape_str(),
                                 " (input ", src.shape_str(), ")");
  const std::int64_t N = g.N, C = g.IC, K = g.kernel_volume(), L = shape[2];
  if (N * C * L == 0) return;
  const auto st = conv_detail::image_strides(src);
  const std::int64_t rows = g.out(0) * g.out(1);
  VerboseScope vs("im2col", "im2col_f32__ref", [&] {
    return kernels::conv::describe(g) + ",threads=" + std::to_string(num_threads());
  });
  parallel_tasks(N * C, [&](std::int64_t t) {
    const std::int64_t n = t / C, c = t % C;
    const char* s = static_cast<const char*>(src.data) + n * src.strides[0] + c * st.c;
    float* out = col.ptr<float>() + (n * C + c) * K * L;
    kernels::conv::im2col_f32(g, s, st, 1, 0, rows, out, L);
  });
}

/// dst = col2im(col): the adjoint of im2col (overlapping taps summed), torch's fold. dst's
/// shape gives N, C and the output (image) size; col must be C-contiguous
/// (N, C*KD*KH*KW, OD*OH*OW).
inline void col2im(const TensorView& col, ConvDesc g, const TensorView& dst) {
  conv_detail::take_input("col2im", dst, g, "output");
  const std::string ctx = "output " + dst.shape_str() + ", col " + col.shape_str();
  conv_detail::check_params("col2im", g, ctx);
  conv_detail::check_fits("col2im", g, ctx);
  const std::int64_t N = g.N, C = g.IC, K = g.kernel_volume();
  const std::int64_t L = g.out(0) * g.out(1) * g.out(2);
  if (col.dtype != DType::f32 || col.rank != 3 || col.shape[0] != N || col.shape[1] != C * K ||
      col.shape[2] != L || !col.is_contiguous())
    medkern::detail::throw_shape("col2im: col must be a C-contiguous f32 ", N, "x", C * K, "x",
                                 L, " tensor (C x kernel ", conv_detail::sp_str(g, g.kernel), ", blocks) for ", ctx);
  if (N * C == 0) return;
  const auto st = conv_detail::image_strides(dst);
  const std::int64_t rows = g.out(0) * g.out(1);
  VerboseScope vs("col2im", "col2im_f32__ref", [&] {
    return kernels::conv::describe(g) + ",threads=" + std::to_string(num_threads());
  });
  parallel_tasks(N * C, [&](std::int64_t t) {
    const std::int64_t n = t / C, c = t % C;
    char* img = static_cast<char*>(dst.data) + n * dst.strides[0] + c * st.c;
    for (std::int64_t d = 0; d < g.in[0]; ++d)
      for (std::int64_t h = 0; h < g.in[1]; ++h)
        for (std::int64_t w = 0; w < g.in[2]; ++w) {
          const float z = 0.f;
          std::memcpy(img + d * st.d + h * st.h + w * st.w, &z, sizeof(float));
        }
    if (L == 0) return;
    kernels::conv::col2im_f32(g, col.ptr<const float>() + (n * C + c) * K * L, L, 1, 0, rows,
                              img, st);
  });
}

}  // namespace medkern::ops
