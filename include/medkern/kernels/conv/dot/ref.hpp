// medkern/kernels/conv/dot/ref.hpp — 1x1 convolution to a few output channels from the
// channel-blocked layout into planar rows (segmentation heads): kernel contract and its
// scalar reference.
//
// One call computes M consecutive pixels of every output channel:
//   dst[o*ldd + m] = sum_{b < nb} sum_{l < 16} src[b*lds + m*16 + l] * wei[(o*nb + b)*16 + l]
// for o < noc (1..kMaxDotOc). Each output is a dot product over the channels of one pixel, so
// the vector lanes run along input channels (vertical FMAs over the blocks) and a horizontal
// reduction per pixel ends it. The direct kernel instead puts output channels in the lanes:
// with 2 classes 14 of its 16 lanes multiply zeros (8x the FMAs) and its blocked result
// stores 16 lanes per pixel. Weights are [noc][nb*16], zero padded past the input channels
// (the input's padding lanes are zero by the blocked layout's contract). No post-ops here:
// the op runs the chain on the planar rows while they are in L1 (post_ops_row.hpp).
#pragma once

#include <array>
#include <cstdint>

#include "medkern/core/isa.hpp"
#include "medkern/kernels/conv/desc.hpp"

namespace medkern::kernels::conv::dot {

/// Most output channels the dot kernels compute (beyond, the direct kernel's lanes are no
/// longer mostly idle).
inline constexpr int kMaxDotOc = 4;

struct DotArgs {
  const float* src = nullptr;  ///< pixel 0 of input block 0 (16 floats per pixel)
  i64 lds = 0;                 ///< floats between input blocks
  int nb = 1;                  ///< input blocks
  const float* wei = nullptr;  ///< [noc][nb*16], 64-byte aligned
  int noc = 1;                 ///< output channels, 1..kMaxDotOc
  float* dst = nullptr;        ///< pixel 0 of output channel 0
  i64 ldd = 0;                 ///< floats between output channel rows
};

using DotFn = void (*)(const DotArgs& a, i64 M) noexcept;

struct DotRow {
  const char* name;  ///< "conv_f32f32_f32_dot__avx512"
  Isa isa;
  bool (*supports)(const ConvDesc&);
  DotFn run;
};

/// 1x1, stride 1, no padding, one group, at most kMaxDotOc outputs, f32.
inline bool dot_supports(const ConvDesc& d) {
  const std::array<i64, 3> one{1, 1, 1}, zero{0, 0, 0};
  return d.src_type == DType::f32 && d.wei_type == DType::f32 && d.dst_type == DType::f32 &&
         d.groups == 1 && d.OC <= kMaxDotOc && d.kernel == one && d.stride == one &&
         d.pad_before == zero && d.pad_after == zero;
}

template <class Isa>
struct impl;

template <>
struct impl<isa::ref_t> {
  static constexpr const char* name = "conv_f32f32_f32_dot__ref";
  static bool supports(const ConvDesc& d) { return dot_supports(d); }
  static void run(const DotArgs& a, i64 M) noexcept {
    for (int o = 0; o < a.noc; ++o)
      for (i64 m = 0; m < M; ++m) {
        float s = 0.f;
        for (int b = 0; b < a.nb; ++b)
          for (int l = 0; l < 16; ++l)
            s += a.src[b * a.lds + m * 16 + l] * a.wei[(o * a.nb + b) * 16 + l];
        a.dst[o * a.ldd + m] = s;
      }
  }
};

}  // namespace medkern::kernels::conv::dot
