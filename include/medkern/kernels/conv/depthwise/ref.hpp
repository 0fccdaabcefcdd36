// medkern/kernels/conv/depthwise/ref.hpp — depthwise convolution kernel contract and its
// scalar reference.
//
// Depthwise (groups == in_channels == out_channels) on the channel-blocked, zero-padded input
// of the direct path (ops/conv.hpp): one call computes a row of M output pixels of one block
// of 16 channels,
//   dst[m*16 + l] = post_l( sum_t src[tap_off[t] + m*lda + l] * wei[t*16 + l] ),
// a vertical multiply-add per lane (no reduction across channels, so no broadcasts: each
// tap is one vector load of 16 channels of one pixel and one of 16 weights). Weights are
// packed [tap][16] per block, padded with zeros; per-channel post-op data is block-local
// (index l in 0..15, zero padded). Only the head of a chain runs here (post_ops.hpp).
#pragma once

#include <cstdint>

#include "medkern/core/isa.hpp"
#include "medkern/kernels/conv/desc.hpp"
#include "medkern/kernels/post_ops.hpp"

namespace medkern::kernels::conv::depthwise {

struct DwArgs {
  const float* src = nullptr;  ///< blocked input at the first tap of output pixel 0
  const i64* tap_off = nullptr;  ///< floats from src to each tap
  i64 taps = 1;
  const float* wei = nullptr;  ///< [taps][16], 64-byte aligned
  float* dst = nullptr;        ///< M x 16 floats
  i64 lda = 16;                ///< floats between consecutive output pixels in src
  PostOps post;                ///< head of the chain, per-channel data block-local
};

using DwFn = void (*)(const DwArgs& a, i64 M) noexcept;

struct DwRow {
  const char* name;
  Isa isa;
  bool (*supports)(const ConvDesc&);
  DwFn run;
};

template <class IsaTag>
struct impl;

template <>
struct impl<isa::ref_t> {
  static constexpr const char* name = "conv_f32f32_f32_depthwise__ref";
  static bool supports(const ConvDesc& d) {
    return d.src_type == DType::f32 && d.wei_type == DType::f32 && d.dst_type == DType::f32;
  }
  static void run(const DwArgs& a, i64 M) noexcept {
    for (i64 m = 0; m < M; ++m) {
      float acc[16] = {};
      for (i64 t = 0; t < a.taps; ++t) {
        const float* x = a.src + a.tap_off[t] + m * a.lda;
        const float* w = a.wei + t * 16;
        for (int l = 0; l < 16; ++l) acc[l] += x[l] * w[l];
      }
      for (int l = 0; l < 16; ++l) a.dst[m * 16 + l] = apply_post_ops_ref(a.post, acc[l], l);
    }
  }
};

}  // namespace medkern::kernels::conv::depthwise
