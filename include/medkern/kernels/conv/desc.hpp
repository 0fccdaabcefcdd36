// medkern/kernels/conv/desc.hpp — the convolution problem and the direct-kernel call.
//
// ConvDesc describes a forward convolution, 2-D or 3-D, with every spatial quantity stored as
// (D, H, W); a 2-D problem is the D = 1 case (kernel 1, stride 1, no padding, dilation 1 along
// D), so one code path serves both. Output size per dimension i:
//   out[i] = (in[i] + pad_before[i] + pad_after[i] - ((kernel[i] - 1) * dilation[i] + 1))
//            / stride[i] + 1
// Weights are OI[D]HW, O = OC, I = IC / groups; group g maps input channels
// [g*ICg, (g+1)*ICg) to output channels [g*OCg, (g+1)*OCg).
// dtypes are input, weight, output (only f32 f32 f32 is implemented; INT8 u8 s8 -> s32/f32
// and bf16 bf16 -> f32 slot in as more kernels, with the same desc).
//
// The direct kernel (DirectArgs) computes a row of output pixels on the channel-blocked
// layout: C[m][oc] (+)= sum_b sum_{k<kc} A_b[m][k] * B_b[k][oc], a BRGEMM whose A_b rows are
// output pixels of one input-channel block (16 floats at src + a_off[b] + m*lda, or kc
// planar channels ldk bytes apart for a first layer), whose B_b
// is a packed 16 x (16*nv) weight panel, and whose C columns are nv blocks of 16 output
// channels stored dst_block floats apart (nChw16c: the row of each output-channel block).
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "medkern/core/error.hpp"
#include "medkern/core/isa.hpp"
#include "medkern/core/tensor.hpp"
#include "medkern/kernels/post_ops.hpp"

namespace medkern::kernels::conv {

using i64 = std::int64_t;

/// Channels per block of the blocked layouts (one zmm of f32).
inline constexpr i64 kBlock = 16;
/// Most output-channel blocks one direct call computes (4 zmm columns, the 6x4 tile).
inline constexpr int kMaxNv = 4;

/// Forward convolution problem. Spatial arrays are (D, H, W).
struct ConvDesc {
  int spatial = 2;  ///< 2 or 3 spatial dimensions
  i64 N = 1;        ///< batch (0 allowed: nothing to do)
  i64 IC = 0, OC = 0, groups = 1;
  std::array<i64, 3> in{1, 1, 1};  ///< input D, H, W (D = 1 for 2-D)
  std::array<i64, 3> kernel{1, 1, 1};
  std::array<i64, 3> stride{1, 1, 1};
  std::array<i64, 3> pad_before{0, 0, 0};
  std::array<i64, 3> pad_after{0, 0, 0};
  std::array<i64, 3> dilation{1, 1, 1};
  DType src_type = DType::f32, wei_type = DType::f32, dst_type = DType::f32;

  i64 icg() const noexcept { return IC / groups; }
  i64 ocg() const noexcept { return OC / groups; }
  /// Extent of the dilated kernel along dimension i.
  i64 extent(int i) const noexcept { return (kernel[std::size_t(i)] - 1) * dilation[std::size_t(i)] + 1; }
  /// Padded input size along dimension i.
  i64 padded(int i) const noexcept {
    return in[std::size_t(i)] + pad_before[std::size_t(i)] + pad_after[std::size_t(i)];
  }
  /// Output size along dimension i (meaningful once padded(i) >= extent(i)).
  i64 out(int i) const noexcept { return (padded(i) - extent(i)) / stride[std::size_t(i)] + 1; }
  i64 kernel_volume() const noexcept { return kernel[0] * kernel[1] * kernel[2]; }
  /// Multiply-adds of the whole problem times 2.
  double flops() const noexcept {
    return 2.0 * double(N) * double(OC) * double(out(0)) * double(out(1)) * double(out(2)) *
           double(icg()) * double(kernel_volume());
  }
};

/// "2d,f32f32f32,mb1_g1_ic64oc64_ih128iw128_oh128ow128_kh3kw3_sh1sw1_ph1_1pw1_1_dh1dw1".
inline std::string describe(const ConvDesc& d) {
  const bool three = d.spatial == 3;
  const char* dn[3] = {"d", "h", "w"};
  std::string s = detail::concat(three ? "3d," : "2d,", dtype_name(d.src_type),
                                 dtype_name(d.wei_type), dtype_name(d.dst_type), ",mb", d.N,
                                 "_g", d.groups, "_ic", d.IC, "oc", d.OC);
  auto dims = [&](const char* p, const std::array<i64, 3>& v) {
    std::string r = "_";
    for (int i = three ? 0 : 1; i < 3; ++i) r += detail::concat(p, dn[i], v[std::size_t(i)]);
    return r;
  };
  std::array<i64, 3> o{d.out(0), d.out(1), d.out(2)};
  s += dims("i", d.in) + dims("o", o) + dims("k", d.kernel) + dims("s", d.stride);
  s += "_p";
  for (int i = three ? 0 : 1; i < 3; ++i)
    s += detail::concat(dn[i], d.pad_before[std::size_t(i)], "_", d.pad_after[std::size_t(i)]);
  s += dims("d", d.dilation);
  return s;
}

/// One call of a direct kernel: a row of M output pixels x nv blocks of 16 output channels,
/// reduced over batch elements [b0, b1) (see the header comment).
struct DirectArgs {
  const float* src = nullptr;  ///< blocked, zero-padded input at the first tap of pixel 0
  const i64* a_off = nullptr;  ///< per batch element: floats from src to its A_b
  const float* wei = nullptr;  ///< packed [batch][16][16*nv], 64-byte aligned
  float* dst = nullptr;        ///< output pixel 0, lane 0 of the first block
  i64 lda = 16;                ///< floats between consecutive output pixels in src (16*stride)
  i64 dst_pix = 16;            ///< floats between output pixels in dst
  i64 dst_block = 0;           ///< floats between the nv output-channel blocks in dst
  /// Partial sums read when not `first`: nullptr reads them from dst; otherwise from acc
  /// (pixels dst_pix floats apart, blocks acc_block apart), so the last pass of a split
  /// reduction reads a scratch row and stores the result straight into dst.
  const float* acc = nullptr;
  i64 acc_block = 0;
  int nv = 1;                  ///< output-channel blocks, 1..kMaxNv
  /// Input channels per batch element that carry data, 1..16: a block of fewer real
  /// channels (a first layer) runs only those rows of its weight panel.
  int kc = 16;
  /// Bytes between consecutive input channels of a pixel in src: 4 on blocked layouts, a
  /// plane for a planar source (first layers read their few planar channels in place).
  i64 ldk = 4;
  /// Non-temporal stores of the final result (when `last`): outputs much larger than the
  /// caches that a memory-bound convolution would otherwise read before writing.
  bool stream = false;
  PostOps post;                ///< per-channel data indexed 0..16*nv-1 (padded with zeros)
};

/// Computes pixels [0, M) over batch elements [b0, b1): starts from zero when `first`, from
/// the partial sums in dst (or acc) otherwise; applies the post-ops and stores the final value when
/// `last` (partial sums otherwise).
using DirectFn = void (*)(const DirectArgs& a, i64 M, i64 b0, i64 b1, bool first,
                          bool last) noexcept;
/// Planar row -> blocked row: dst[w*16 + c] = c < nc ? src[c*cs + w*ws] : 0 (strides in
/// bytes), w in [0, W).
using ToBlockedFn = void (*)(const char* src, i64 cs, i64 ws, int nc, i64 W,
                             float* dst) noexcept;
/// Blocked row -> planar row: dst[c*cs + w*ws] = src[w*16 + c] for c < nc, w in [0, W).
using FromBlockedFn = void (*)(const float* src, int nc, i64 W, char* dst, i64 cs,
                               i64 ws) noexcept;

struct DirectRow {
  const char* name;  ///< "conv_f32f32_f32_direct__avx512"
  Isa isa;
  bool (*supports)(const ConvDesc&);
  DirectFn run;
  ToBlockedFn to_blocked;
  FromBlockedFn from_blocked;
};

}  // namespace medkern::kernels::conv
