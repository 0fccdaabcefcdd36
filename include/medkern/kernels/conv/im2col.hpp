// medkern/kernels/conv/im2col.hpp — im2col / col2im kernels (2-D and 3-D, f32).
//
// Contract (geometry from ConvDesc: in, kernel, stride, pad_before, dilation; 2-D is D = 1):
//   col[r][q] = src[c][id][ih][iw]   (0 when (id, ih, iw) falls in the padding)
//   r = ((c*KD + kd)*KH + kh)*KW + kw,   q = (od*OH + oh)*OW + ow,
//   id = od*sd - pd + kd*dd, ih = oh*sh - ph + kh*dh, iw = ow*sw - pw + kw*dw
// — torch.nn.functional.unfold's row and column order (extended to 3-D). col2im is its
// adjoint, torch's fold: img[c][id][ih][iw] += col[r][q] for every in-range tap (the caller
// zeroes img first). Strides of the image are in bytes, so any numpy view works; col rows are
// ldcol floats apart. A call covers channels [0, nc) of one image (src/img at channel 0 of
// the range) and output rows [q0, q1) (row = od*OH + oh), so ops can parallelise over batch x
// channel and convolutions can work on row chunks that stay in cache.
// Inner loops walk one output row with index increments: the in-range span [lo, hi) of ow for
// a kw is computed once (no per-element bounds test), the padding on either side is a fill,
// and stride-1 spans of a contiguous row are a memcpy.
// Single-threaded, allocation-free, no validation, noexcept. Pure data movement (col2im: f32
// additions in r order).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "medkern/kernels/conv/desc.hpp"

namespace medkern::kernels::conv {

namespace detail_im2col {

/// [lo, hi): the ow whose iw = ow*s - p + off lies in [0, W), clamped to [0, OW).
inline void span(i64 W, i64 OW, i64 s, i64 p_minus_off, i64& lo, i64& hi) noexcept {
  const i64 a = p_minus_off;          // iw >= 0  <=>  ow*s >= a
  const i64 b = W + p_minus_off;      // iw < W   <=>  ow*s < b
  lo = a <= 0 ? 0 : (a + s - 1) / s;
  hi = b <= 0 ? 0 : (b + s - 1) / s;
  lo = std::min(lo, OW);
  hi = std::clamp(hi, lo, OW);
}

}  // namespace detail_im2col

/// Image geometry in bytes: channel, depth, row and column strides.
struct ImageStrides {
  i64 c = 0, d = 0, h = 0, w = 4;
};

inline void im2col_f32(const ConvDesc& g, const char* src, const ImageStrides& st, i64 nc,
                       i64 q0, i64 q1, float* col, i64 ldcol) noexcept {
  const i64 D = g.in[0], H = g.in[1], W = g.in[2];
  const i64 OH = g.out(1), OW = g.out(2);
  const i64 KD = g.kernel[0], KH = g.kernel[1], KW = g.kernel[2];
  for (i64 c = 0; c < nc; ++c)
    for (i64 kd = 0; kd < KD; ++kd)
      for (i64 kh = 0; kh < KH; ++kh)
        for (i64 kw = 0; kw < KW; ++kw) {
          float* out = col + (((c * KD + kd) * KH + kh) * KW + kw) * ldcol;
          i64 lo, hi;
          detail_im2col::span(W, OW, g.stride[2], g.pad_before[2] - kw * g.dilation[2], lo, hi);
          const i64 iw0 = lo * g.stride[2] - g.pad_before[2] + kw * g.dilation[2];
          i64 od = q0 / OH, oh = q0 % OH;
          for (i64 q = q0; q < q1; ++q, out += OW) {
            const i64 id = od * g.stride[0] - g.pad_before[0] + kd * g.dilation[0];
            const i64 ih = oh * g.stride[1] - g.pad_before[1] + kh * g.dilation[1];
            if (++oh == OH) oh = 0, ++od;
            if (id < 0 || id >= D || ih < 0 || ih >= H) {
              std::fill(out, out + OW, 0.f);
              continue;
            }
            std::fill(out, out + lo, 0.f);
            std::fill(out + hi, out + OW, 0.f);
            if (hi == lo) continue;
            const char* in = src + c * st.c + id * st.d + ih * st.h + iw0 * st.w;
            if (g.stride[2] == 1 && st.w == i64(sizeof(float))) {
              std::memcpy(out + lo, in, std::size_t(hi - lo) * sizeof(float));
            } else {
              const i64 step = g.stride[2] * st.w;
              for (i64 ow = lo; ow < hi; ++ow, in += step) std::memcpy(out + ow, in, sizeof(float));
            }
          }
        }
}

inline void col2im_f32(const ConvDesc& g, const float* col, i64 ldcol, i64 nc, i64 q0, i64 q1,
                       char* img, const ImageStrides& st) noexcept {
  const i64 D = g.in[0], H = g.in[1], W = g.in[2];
  const i64 OH = g.out(1), OW = g.out(2);
  const i64 KD = g.kernel[0], KH = g.kernel[1], KW = g.kernel[2];
  for (i64 c = 0; c < nc; ++c)
    for (i64 kd = 0; kd < KD; ++kd)
      for (i64 kh = 0; kh < KH; ++kh)
        for (i64 kw = 0; kw < KW; ++kw) {
          const float* in = col + (((c * KD + kd) * KH + kh) * KW + kw) * ldcol;
          i64 lo, hi;
          detail_im2col::span(W, OW, g.stride[2], g.pad_before[2] - kw * g.dilation[2], lo, hi);
          const i64 iw0 = lo * g.stride[2] - g.pad_before[2] + kw * g.dilation[2];
          i64 od = q0 / OH, oh = q0 % OH;
          for (i64 q = q0; q < q1; ++q, in += OW) {
            const i64 id = od * g.stride[0] - g.pad_before[0] + kd * g.dilation[0];
            const i64 ih = oh * g.stride[1] - g.pad_before[1] + kh * g.dilation[1];
            if (++oh == OH) oh = 0, ++od;
            if (id < 0 || id >= D || ih < 0 || ih >= H || hi == lo) continue;
            char* out = img + c * st.c + id * st.d + ih * st.h + iw0 * st.w;
            const i64 step = g.stride[2] * st.w;
            for (i64 ow = lo; ow < hi; ++ow, out += step) {
              float v;
              std::memcpy(&v, out, sizeof(float));
              v += in[ow];
              std::memcpy(out, &v, sizeof(float));
            }
          }
        }
}

}  // namespace medkern::kernels::conv
