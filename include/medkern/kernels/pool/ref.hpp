// medkern/kernels/pool/ref.hpp — reference pooling (max, average, adaptive average): the
// oracle of every variant.
//
// Contract. Data is planar (NCHW / NCDHW) f32; a kernel sees one plane (one image, one
// channel) of D x H x W input points (D = 1 for 2-D) and writes its OD x OH x OW outputs.
// A unit of work is a run of output rows [r0, r1), row r = od * OH + oh; the op splits
// planes x rows across threads, and rows never share outputs, so any split gives the same
// bytes.
//
// Window and divisor semantics are torch.nn.functional's, per dimension (x one of d, h, w):
//   start = o * stride - pad, taps start + j * dilation for j < kernel (dilation 1 for avg).
//   max: the largest value over taps inside the input (padding is -inf); NaN propagates.
//   avg: sum over taps inside the input, divided by
//        divisor_override                     when it is > 0, else
//        prod_x (min(start + k, In + pad) - start)   with count_include_pad, else
//        prod_x (number of taps inside the input).
//        A window with no tap inside the input gives 0.
//   adaptive avg: window [floor(o * In / Out), ceil((o + 1) * In / Out)) per dimension,
//        the mean of its points.
// Sums are accumulated in f32 in d, h, w tap order (torch's order for avg pooling).
//
// Blocked variant (run_blocked, max and avg): the plane is one block of 16 channels of a
// channel-blocked tensor (nChw16c / nCdhw16c), D x H x W points of 16 floats each; lane l of
// every output point follows the rules above for channel l. Padding lanes (zero) stay zero.
//
// Kernels are single-threaded, allocate nothing, validate nothing and never throw.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "medkern/core/config.hpp"
#include "medkern/core/error.hpp"
#include "medkern/core/isa.hpp"

namespace medkern::kernels::pool {

enum class Kind : std::uint8_t { max, avg, adaptive_avg };

constexpr const char* kind_name(Kind k) noexcept {
  switch (k) {
    case Kind::max: return "max";
    case Kind::avg: return "avg";
    case Kind::adaptive_avg: return "adaptive_avg";
  }
  return "?";
}

/// One pooling problem; index 0, 1, 2 of the arrays is d, h, w (2-D: D = OD = k[0] = 1,
/// stride[0] = 1, pad[0] = 0, dilation[0] = 1).
struct PoolDesc {
  Kind kind = Kind::max;
  std::int64_t in[3] = {1, 1, 1};
  std::int64_t out[3] = {1, 1, 1};
  std::int64_t k[3] = {1, 1, 1};
  std::int64_t stride[3] = {1, 1, 1};
  std::int64_t pad[3] = {0, 0, 0};
  std::int64_t dilation[3] = {1, 1, 1};
  bool count_include_pad = true;
  std::int64_t divisor_override = 0;  ///< > 0 replaces the computed divisor (avg)

  constexpr std::int64_t in_plane() const noexcept { return in[0] * in[1] * in[2]; }
  constexpr std::int64_t out_plane() const noexcept { return out[0] * out[1] * out[2]; }
  constexpr std::int64_t rows() const noexcept { return out[0] * out[1]; }
};

/// Output rows [r0, r1) of one plane: src points to the plane's D*H*W inputs, dst to its
/// OD*OH*OW outputs (blocked: D*H*W*16 and OD*OH*OW*16 floats).
using PoolFn = void (*)(const PoolDesc& d, const float* src, float* dst, std::int64_t r0,
                        std::int64_t r1) noexcept;

struct PoolRow {
  const char* name;  ///< "pool_f32__avx512"
  Isa isa;
  bool (*supports)(const PoolDesc&);
  PoolFn run;
  PoolFn run_blocked;  ///< channel-blocked planes (max and avg only)
};

inline std::string describe(const PoolDesc& d) {
  return medkern::detail::concat(kind_name(d.kind), ",in=", d.in[0], "x", d.in[1], "x", d.in[2],
                                 ",out=", d.out[0], "x", d.out[1], "x", d.out[2], ",k=", d.k[0],
                                 "x", d.k[1], "x", d.k[2], ",s=", d.stride[0], "x", d.stride[1],
                                 "x", d.stride[2], ",p=", d.pad[0], "x", d.pad[1], "x", d.pad[2],
                                 ",dil=", d.dilation[0], "x", d.dilation[1], "x", d.dilation[2],
                                 d.count_include_pad ? ",include_pad" : ",exclude_pad",
                                 ",divisor=", d.divisor_override);
}

/// Adaptive window [begin, end) of output o along a dimension of In inputs and Out outputs.
constexpr std::int64_t adaptive_begin(std::int64_t o, std::int64_t in, std::int64_t out) noexcept {
  return (o * in) / out;
}
constexpr std::int64_t adaptive_end(std::int64_t o, std::int64_t in, std::int64_t out) noexcept {
  return ((o + 1) * in + out - 1) / out;
}

/// Divisor of an average window starting at `start` (may be negative) along dimension x,
/// for the count_include_pad rule: the window clipped to the padded input.
constexpr std::int64_t padded_extent(const PoolDesc& d, int x, std::int64_t start) noexcept {
  const std::int64_t end = start + d.k[x] < d.in[x] + d.pad[x] ? start + d.k[x] : d.in[x] + d.pad[x];
  return end - start;
}

/// Number of taps of the window starting at `start` inside [0, In) along dimension x.
constexpr std::int64_t valid_extent(const PoolDesc& d, int x, std::int64_t start) noexcept {
  std::int64_t n = 0;
  for (std::int64_t j = 0; j < d.k[x]; ++j) {
    const std::int64_t i = start + j * d.dilation[x];
    n += (i >= 0 && i < d.in[x]) ? 1 : 0;
  }
  return n;
}

template <class IsaTag>
struct impl;

namespace detail_ref {

/// The output at (od, oh, ow) of a plane whose point (i, j, l) is src[((i*H + j)*W + l)*ps]
/// (ps = 1 planar, 16 for one lane of a blocked plane).
inline float pool_point(const PoolDesc& d, const float* src, std::int64_t od, std::int64_t oh,
                        std::int64_t ow, std::int64_t ps = 1) noexcept {
  const std::int64_t o[3] = {od, oh, ow};
  if (d.kind == Kind::adaptive_avg) {
    std::int64_t b[3], e[3];
    for (int x = 0; x < 3; ++x) {
      b[x] = adaptive_begin(o[x], d.in[x], d.out[x]);
      e[x] = adaptive_end(o[x], d.in[x], d.out[x]);
    }
    float sum = 0.f;
    for (std::int64_t i = b[0]; i < e[0]; ++i)
      for (std::int64_t j = b[1]; j < e[1]; ++j)
        for (std::int64_t l = b[2]; l < e[2]; ++l)
          sum += src[((i * d.in[1] + j) * d.in[2] + l) * ps];
    return sum / float((e[0] - b[0]) * (e[1] - b[1]) * (e[2] - b[2]));
  }
  std::int64_t start[3];
  for (int x = 0; x < 3; ++x) start[x] = o[x] * d.stride[x] - d.pad[x];
  if (d.kind == Kind::max) {
    float m = -std::numeric_limits<float>::infinity();
    for (std::int64_t a = 0; a < d.k[0]; ++a) {
      const std::int64_t i = start[0] + a * d.dilation[0];
      if (i < 0 || i >= d.in[0]) continue;
      for (std::int64_t b = 0; b < d.k[1]; ++b) {
        const std::int64_t j = start[1] + b * d.dilation[1];
        if (j < 0 || j >= d.in[1]) continue;
        for (std::int64_t c = 0; c < d.k[2]; ++c) {
          const std::int64_t l = start[2] + c * d.dilation[2];
          if (l < 0 || l >= d.in[2]) continue;
          const float v = src[((i * d.in[1] + j) * d.in[2] + l) * ps];
          if (v > m || std::isnan(v)) m = v;
        }
      }
    }
    return m;
  }
  float sum = 0.f;
  std::int64_t valid = 1, padded = 1;
  for (int x = 0; x < 3; ++x) {
    valid *= valid_extent(d, x, start[x]);
    padded *= padded_extent(d, x, start[x]);
  }
  if (valid == 0) return 0.f;
  for (std::int64_t a = 0; a < d.k[0]; ++a) {
    const std::int64_t i = start[0] + a;
    if (i < 0 || i >= d.in[0]) continue;
    for (std::int64_t b = 0; b < d.k[1]; ++b) {
      const std::int64_t j = start[1] + b;
      if (j < 0 || j >= d.in[1]) continue;
      for (std::int64_t c = 0; c < d.k[2]; ++c) {
        const std::int64_t l = start[2] + c;
        if (l < 0 || l >= d.in[2]) continue;
        sum += src[((i * d.in[1] + j) * d.in[2] + l) * ps];
      }
    }
  }
  const std::int64_t div =
      d.divisor_override > 0 ? d.divisor_override : (d.count_include_pad ? padded : valid);
  return sum / float(div);
}

}  // namespace detail_ref

template <>
struct impl<isa::ref_t> {
  static constexpr const char* name = "pool_f32__ref";

  static bool supports(const PoolDesc&) { return true; }

  static void run(const PoolDesc& d, const float* src, float* dst, std::int64_t r0,
                  std::int64_t r1) noexcept {
    MEDKERN_DCHECK(r0 >= 0 && r0 <= r1 && r1 <= d.rows());
    for (std::int64_t r = r0; r < r1; ++r) {
      const std::int64_t od = r / d.out[1], oh = r % d.out[1];
      for (std::int64_t ow = 0; ow < d.out[2]; ++ow)
        dst[r * d.out[2] + ow] = detail_ref::pool_point(d, src, od, oh, ow);
    }
  }

  static void run_blocked(const PoolDesc& d, const float* src, float* dst, std::int64_t r0,
                          std::int64_t r1) noexcept {
    MEDKERN_DCHECK(r0 >= 0 && r0 <= r1 && r1 <= d.rows());
    for (std::int64_t r = r0; r < r1; ++r) {
      const std::int64_t od = r / d.out[1], oh = r % d.out[1];
      for (std::int64_t ow = 0; ow < d.out[2]; ++ow)
        for (std::int64_t l = 0; l < 16; ++l)
          dst[(r * d.out[2] + ow) * 16 + l] = detail_ref::pool_point(d, src + l, od, oh, ow, 16);
    }
  }
};

}  // namespace medkern::kernels::pool
