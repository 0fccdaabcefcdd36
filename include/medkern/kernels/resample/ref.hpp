// medkern/kernels/resample/ref.hpp — reference resampling (nearest, linear): the oracle of
// every variant.
//
// Contract. Planar f32 (NCHW / NCDHW); a kernel sees one plane of D x H x W inputs (D = 1 for
// 2-D) and writes a run of output rows [r0, r1) of its OD x OH x OW outputs, row
// r = od * OH + oh. Rows never share outputs, so any split gives the same bytes.
//
// Source coordinates are torch's, computed in f32 exactly as ATen does (UpSample.h), per
// dimension with In inputs, Out outputs and an optional user scale factor (scale > 0 when
// interpolate() was given scale_factor, else 0):
//   nearest ("legacy" nearest): Out == In: i; Out == 2 In: i >> 1; else
//       min(floor(i * s), In - 1), s = scale > 0 ? float(1 / scale) : float(In) / Out.
//   linear (bilinear / trilinear): Out == In: (i, i, 1, 0); else
//       align_corners: x = s * i with s = Out > 1 ? float(In - 1) / (Out - 1) : 0;
//       otherwise x = max(fma(s, i + 0.5, -0.5), 0) with s as for nearest;
//       i0 = min(floor(x), In - 1), i1 = i0 + (i0 < In - 1), l1 = clamp(x - i0, 0, 1),
//       l0 = 1 - l1; the output is sum over corners of prod l * input.
// The op turns these into per-dimension tables (Axis) that every kernel reads.
//
// Kernels are single-threaded, allocate nothing (a kernel that needs a scratch row of W
// floats receives it), validate nothing and never throw.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

#include "medkern/core/config.hpp"
#include "medkern/core/error.hpp"
#include "medkern/core/isa.hpp"

namespace medkern::kernels::resample {

enum class Mode : std::uint8_t { nearest, linear };

/// Where output i of one dimension reads: inputs i0 and i1 with weights l0 and l1
/// (nearest: i1 = i0, l0 = 1, l1 = 0).
struct Source {
  std::int32_t i0 = 0, i1 = 0;
  float l0 = 1.f, l1 = 0.f;
};

inline float user_or_ratio_scale(std::int64_t in, std::int64_t out, double scale) noexcept {
  return scale > 0. ? static_cast<float>(1.0 / scale) : static_cast<float>(in) / float(out);
}

/// torch's legacy nearest index of output i.
inline Source nearest_source(std::int64_t i, std::int64_t in, std::int64_t out,
                             double scale) noexcept {
  Source s;
  if (out == in) s.i0 = std::int32_t(i);
  else if (out == 2 * in) s.i0 = std::int32_t(i >> 1);
  else {
    const float sc = user_or_ratio_scale(in, out, scale);
    const std::int64_t v = static_cast<std::int64_t>(std::floor(float(i) * sc));
    s.i0 = std::int32_t(v < in - 1 ? v : in - 1);
  }
  s.i1 = s.i0;
  return s;
}

/// torch's linear source of output i (compute_source_index_and_lambda).
inline Source linear_source(std::int64_t i, std::int64_t in, std::int64_t out, bool align_corners,
                            double scale) noexcept {
  Source s;
  if (out == in) {
    s.i0 = s.i1 = std::int32_t(i);
    return s;
  }
  float x;
  if (align_corners) {
    const float sc = out > 1 ? static_cast<float>(in - 1) / float(out - 1) : 0.f;
    x = sc * float(i);
  } else {
    const float sc = user_or_ratio_scale(in, out, scale);
    // Fused, as ATen's vectorised CPU build contracts it: x sits at ~in, where one rounding
    // more moves the weights by an ulp of x (4e-6 at x = 64).
    x = std::fma(sc, float(i) + 0.5f, -0.5f);
    if (x < 0.f) x = 0.f;
  }
  std::int64_t i0 = static_cast<std::int64_t>(std::floor(x));
  if (i0 > in - 1) i0 = in - 1;
  float l1 = x - float(i0);
  l1 = l1 < 0.f ? 0.f : (l1 > 1.f ? 1.f : l1);
  s.i0 = std::int32_t(i0);
  s.i1 = std::int32_t(i0 + (i0 < in - 1 ? 1 : 0));
  s.l1 = l1;
  s.l0 = 1.f - l1;
  return s;
}

/// One dimension's sources, struct-of-arrays so kernels can gather 16 at a time.
struct Axis {
  const std::int32_t* i0 = nullptr;
  const std::int32_t* i1 = nullptr;
  const float* l0 = nullptr;
  const float* l1 = nullptr;
};

struct ResampleDesc {
  Mode mode = Mode::nearest;
  std::int64_t in[3] = {1, 1, 1};   ///< D, H, W
  std::int64_t out[3] = {1, 1, 1};  ///< OD, OH, OW
  Axis axis[3];                     ///< out[x] entries each

  constexpr std::int64_t rows() const noexcept { return out[0] * out[1]; }
};

/// Output rows [r0, r1) of one plane; `scratch` holds at least in[2] floats.
using ResampleFn = void (*)(const ResampleDesc& d, const float* src, float* dst,
                            std::int64_t r0, std::int64_t r1, float* scratch) noexcept;

struct ResampleRow {
  const char* name;  ///< "resample_f32__avx512"
  Isa isa;
  bool (*supports)(const ResampleDesc&);
  ResampleFn run;
};

inline std::string describe(const ResampleDesc& d) {
  return medkern::detail::concat(d.mode == Mode::nearest ? "nearest" : "linear", ",in=", d.in[0],
                                 "x", d.in[1], "x", d.in[2], ",out=", d.out[0], "x", d.out[1],
                                 "x", d.out[2]);
}

template <class IsaTag>
struct impl;

template <>
struct impl<isa::ref_t> {
  static constexpr const char* name = "resample_f32__ref";

  static bool supports(const ResampleDesc&) { return true; }

  static void run(const ResampleDesc& d, const float* src, float* dst, std::int64_t r0,
                  std::int64_t r1, float*) noexcept {
    MEDKERN_DCHECK(r0 >= 0 && r0 <= r1 && r1 <= d.rows());
    const std::int64_t H = d.in[1], W = d.in[2];
    const Axis& ad = d.axis[0];
    const Axis& ah = d.axis[1];
    const Axis& aw = d.axis[2];
    for (std::int64_t r = r0; r < r1; ++r) {
      const std::int64_t od = r / d.out[1], oh = r % d.out[1];
      for (std::int64_t ow = 0; ow < d.out[2]; ++ow) {
        float v;
        if (d.mode == Mode::nearest) {
          v = src[(std::int64_t(ad.i0[od]) * H + ah.i0[oh]) * W + aw.i0[ow]];
        } else {
          const std::int32_t id[2] = {ad.i0[od], ad.i1[od]}, ih[2] = {ah.i0[oh], ah.i1[oh]},
                             iw[2] = {aw.i0[ow], aw.i1[ow]};
          const float ld[2] = {ad.l0[od], ad.l1[od]}, lh[2] = {ah.l0[oh], ah.l1[oh]},
                      lw[2] = {aw.l0[ow], aw.l1[ow]};
          v = 0.f;
          for (int a = 0; a < 2; ++a)
            for (int b = 0; b < 2; ++b)
              for (int c = 0; c < 2; ++c)
                v += ld[a] * lh[b] * lw[c] * src[(std::int64_t(id[a]) * H + ih[b]) * W + iw[c]];
        }
        dst[r * d.out[2] + ow] = v;
      }
    }
  }
};

}  // namespace medkern::kernels::resample
