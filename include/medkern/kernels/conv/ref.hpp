// medkern/kernels/conv/ref.hpp — reference convolution: the oracle of every variant.
//
// Contract (ConvDesc in desc.hpp; spatial quantities as D, H, W, 2-D being D = 1):
//   dst[n][oc][od][oh][ow] = post_oc( sum_{ic in group(oc)} sum_{kd,kh,kw}
//       src[n][g*ICg + ic][od*sd - pd + kd*dd][oh*sh - ph + kh*dh][ow*sw - pw + kw*dw]
//       * wei[oc][ic][kd][kh][kw] )
// with src read as zero outside [0, D) x [0, H) x [0, W) (pd, ph, pw = pad_before), g =
// oc / OCg. Layouts: src NCDHW, wei OIDHW (I = ICg), dst NCDHW, all C-contiguous here.
// Accumulation in double, rounded once to f32, then the post-op chain with column index oc
// (bias[oc], scale[oc], prelu, eltwise; a sum reads data[e], e the element's offset in
// dst: a residual contiguous like dst). FLOPs: 2 * N * OC * OD*OH*OW * ICg * KD*KH*KW.
//
// impl<isa::ref_t> is also the scalar direct kernel (DirectArgs) for CPUs or ISA caps without
// a vector one: f32 accumulation in the same order as the vector kernels (b, then k).
#pragma once

#include <cstdint>
#include <cstring>

#include "medkern/core/isa.hpp"
#include "medkern/kernels/conv/desc.hpp"
#include "medkern/kernels/post_ops.hpp"

namespace medkern::kernels::conv {

template <class IsaTag>
struct impl;

/// The reference convolution on contiguous NCDHW / OIDHW / NCDHW buffers (2-D: D = 1).
inline void conv_fwd_ref(const ConvDesc& d, const float* src, const float* wei, float* dst,
                         const PostOps& post = {}) noexcept {
  const i64 D = d.in[0], H = d.in[1], W = d.in[2];
  const i64 OD = d.out(0), OH = d.out(1), OW = d.out(2);
  const i64 KD = d.kernel[0], KH = d.kernel[1], KW = d.kernel[2];
  const i64 icg = d.icg(), ocg = d.ocg();
  for (i64 n = 0; n < d.N; ++n)
    for (i64 oc = 0; oc < d.OC; ++oc) {
      const i64 g = oc / ocg;
      for (i64 od = 0; od < OD; ++od)
        for (i64 oh = 0; oh < OH; ++oh)
          for (i64 ow = 0; ow < OW; ++ow) {
            double acc = 0;
            for (i64 ic = 0; ic < icg; ++ic)
              for (i64 kd = 0; kd < KD; ++kd) {
                const i64 id = od * d.stride[0] - d.pad_before[0] + kd * d.dilation[0];
                if (id < 0 || id >= D) continue;
                for (i64 kh = 0; kh < KH; ++kh) {
                  const i64 ih = oh * d.stride[1] - d.pad_before[1] + kh * d.dilation[1];
                  if (ih < 0 || ih >= H) continue;
                  for (i64 kw = 0; kw < KW; ++kw) {
                    const i64 iw = ow * d.stride[2] - d.pad_before[2] + kw * d.dilation[2];
                    if (iw < 0 || iw >= W) continue;
                    const double x =
                        src[((((n * d.IC + g * icg + ic) * D + id) * H + ih) * W) + iw];
                    const double w = wei[(((oc * icg + ic) * KD + kd) * KH + kh) * KW + kw];
                    acc += x * w;
                  }
                }
              }
            const i64 e = (((n * d.OC + oc) * OD + od) * OH + oh) * OW + ow;
            dst[e] = apply_post_ops_ref(post, float(acc), oc, e);
          }
    }
}

template <>
struct impl<isa::ref_t> {
  static constexpr const char* name = "conv_f32f32_f32_direct__ref";

  static bool supports(const ConvDesc& d) {
    return d.src_type == DType::f32 && d.wei_type == DType::f32 && d.dst_type == DType::f32;
  }

  static void run(const DirectArgs& a, i64 M, i64 b0, i64 b1, bool first, bool last) noexcept {
    const i64 N = 16 * a.nv;
    for (i64 m = 0; m < M; ++m)
      for (i64 n = 0; n < N; ++n) {
        float* c = a.dst + (n / 16) * a.dst_block + m * a.dst_pix + n % 16;
        const float* partial =
            a.acc != nullptr ? a.acc + (n / 16) * a.acc_block + m * a.dst_pix + n % 16 : c;
        float acc = first ? 0.f : *partial;
        for (i64 b = b0; b < b1; ++b) {
          const char* A = reinterpret_cast<const char*>(a.src + a.a_off[b] + m * a.lda);
          const float* B = a.wei + b * 16 * N + n;
          for (i64 k = 0; k < a.kc; ++k) {
            float x;
            std::memcpy(&x, A + k * a.ldk, sizeof(float));
            acc += x * B[k * N];
          }
        }
        *c = last ? apply_post_ops_ref(a.post, acc, n) : acc;
      }
  }

  static void to_blocked(const char* src, i64 cs, i64 ws, int nc, i64 W, float* dst) noexcept {
    for (i64 w = 0; w < W; ++w)
      for (int c = 0; c < 16; ++c) {
        float v = 0.f;
        if (c < nc) std::memcpy(&v, src + c * cs + w * ws, sizeof(float));
        dst[w * 16 + c] = v;
      }
  }

  static void from_blocked(const float* src, int nc, i64 W, char* dst, i64 cs,
                           i64 ws) noexcept {
    for (int c = 0; c < nc; ++c)
      for (i64 w = 0; w < W; ++w) std::memcpy(dst + c * cs + w * ws, src + w * 16 + c, sizeof(float));
  }
};

}  // namespace medkern::kernels::conv
