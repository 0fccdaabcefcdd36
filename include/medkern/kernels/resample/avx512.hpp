// medkern/kernels/resample/avx512.hpp — nearest and linear resampling for AVX-512, f32 planar.
//
// Linear: separable. Per output row, the (up to four for trilinear, two for bilinear) source
// rows are blended with their d x h weights into a scratch row of W floats (contiguous FMAs at
// load speed, the row stays in L1); then 16 outputs at a time gather their two w neighbours
// from the scratch row and blend them: when the 16 outputs' sources lie within 32 floats
// (any upsampling, mild downsampling) two masked loads and two vpermt2ps replace the two
// gathers, else it costs two gathers per 16 outputs instead of eight (trilinear) from memory.
// Nearest: an output row copies its source row through the w index table (a vpermps of 8
// loaded values when the width exactly doubles, the same 32-float window as linear when the
// sources are close, else vgatherdps); an output row whose source row
// equals the previous one's (every second row of a x2 upsampling) is a memcpy of that row.
// Tails use lane masks; nothing outside the plane is read.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "medkern/core/config.hpp"
#include "medkern/kernels/resample/ref.hpp"

MEDKERN_ISA_BEGIN(avx512)
namespace medkern::kernels::resample {
namespace avx512_detail {

MEDKERN_ALWAYS_INLINE __mmask16 lanes(std::int64_t n) {
  return n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1u);
}

/// Lanes of `row` (W floats) at the 16 indices `idx`, all within [base, base + 32): two
/// masked loads and a vpermt2ps instead of a gather (upsampling and mild downsampling).
MEDKERN_ALWAYS_INLINE __m512 window_pick(const float* row, std::int64_t W, std::int64_t base,
                                         __m512i idx) {
  const std::int64_t left = W - base;
  const __m512 lo = _mm512_maskz_loadu_ps(lanes(left), row + base);
  const __m512 hi = left > 16 ? _mm512_maskz_loadu_ps(lanes(left - 16), row + base + 16)
                              : _mm512_setzero_ps();
  return _mm512_permutex2var_ps(lo, _mm512_sub_epi32(idx, _mm512_set1_epi32(int(base))), hi);
}

inline void nearest_rows(const ResampleDesc& d, const float* src, float* dst, std::int64_t r0,
                         std::int64_t r1) noexcept {
  const std::int64_t H = d.in[1], W = d.in[2], OW = d.out[2];
  const Axis& aw = d.axis[2];
  const bool doubled = OW == 2 * W;
  const __m512i dup = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
  std::int64_t prev = -1;
  for (std::int64_t r = r0; r < r1; ++r) {
    const std::int64_t od = r / d.out[1], oh = r % d.out[1];
    const std::int64_t srow = std::int64_t(d.axis[0].i0[od]) * H + d.axis[1].i0[oh];
    float* out = dst + r * OW;
    if (srow == prev) {
      std::memcpy(out, out - OW, std::size_t(OW) * sizeof(float));
      continue;
    }
    prev = srow;
    const float* row = src + srow * W;
    if (doubled) {
      for (std::int64_t ow = 0; ow < OW; ow += 16) {
        const std::int64_t n = OW - ow < 16 ? OW - ow : 16;
        const __m512 v = _mm512_castps256_ps512(
            _mm256_maskz_loadu_ps(__mmask8(lanes((n + 1) / 2)), row + ow / 2));
        _mm512_mask_storeu_ps(out + ow, lanes(n), _mm512_permutexvar_ps(dup, v));
      }
      continue;
    }
    for (std::int64_t ow = 0; ow < OW; ow += 16) {
      const std::int64_t n = OW - ow < 16 ? OW - ow : 16;
      const __mmask16 m = lanes(n);
      const std::int64_t base = aw.i0[ow];
      if (aw.i0[ow + n - 1] - base < 32) {  // indices ascend: one 32-float window
        const __m512i idx = _mm512_mask_loadu_epi32(_mm512_set1_epi32(int(base)), m, aw.i0 + ow);
        _mm512_mask_storeu_ps(out + ow, m, window_pick(row, W, base, idx));
        continue;
      }
      const __m512i idx = _mm512_maskz_loadu_epi32(m, aw.i0 + ow);
      _mm512_mask_storeu_ps(out + ow, m, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, idx, row, 4));
    }
  }
}

inline void linear_rows(const ResampleDesc& d, const float* src, float* dst, std::int64_t r0,
                        std::int64_t r1, float* tmp) noexcept {
  const std::int64_t H = d.in[1], W = d.in[2], OW = d.out[2];
  const Axis& ad = d.axis[0];
  const Axis& ah = d.axis[1];
  const Axis& aw = d.axis[2];
  const bool three = d.in[0] > 1 || d.out[0] > 1;
  for (std::int64_t r = r0; r < r1; ++r) {
    const std::int64_t od = r / d.out[1], oh = r % d.out[1];
    const float* rows[4];
    float wts[4];
    int nrows = 0;
    const int nd = three ? 2 : 1;
    for (int a = 0; a < nd; ++a)
      for (int b = 0; b < 2; ++b) {
        const std::int64_t id = a ? ad.i1[od] : ad.i0[od], ih = b ? ah.i1[oh] : ah.i0[oh];
        rows[nrows] = src + (id * H + ih) * W;
        wts[nrows] = (three ? (a ? ad.l1[od] : ad.l0[od]) : 1.f) * (b ? ah.l1[oh] : ah.l0[oh]);
        ++nrows;
      }
    for (std::int64_t x = 0; x < W; x += 16) {
      const __mmask16 m = lanes(W - x);
      __m512 v = _mm512_mul_ps(_mm512_set1_ps(wts[0]), _mm512_maskz_loadu_ps(m, rows[0] + x));
      for (int k = 1; k < nrows; ++k)
        v = _mm512_fmadd_ps(_mm512_set1_ps(wts[k]), _mm512_maskz_loadu_ps(m, rows[k] + x), v);
      _mm512_mask_storeu_ps(tmp + x, m, v);
    }
    float* out = dst + r * OW;
    for (std::int64_t ow = 0; ow < OW; ow += 16) {
      const std::int64_t n = OW - ow < 16 ? OW - ow : 16;
      const __mmask16 m = lanes(n);
      const std::int64_t base = aw.i0[ow];
      __m512 g0, g1;
      if (aw.i1[ow + n - 1] - base < 32) {  // indices ascend: one 32-float window
        const __m512i vb = _mm512_set1_epi32(int(base));
        g0 = window_pick(tmp, W, base, _mm512_mask_loadu_epi32(vb, m, aw.i0 + ow));
        g1 = window_pick(tmp, W, base, _mm512_mask_loadu_epi32(vb, m, aw.i1 + ow));
      } else {
        const __m512i i0 = _mm512_maskz_loadu_epi32(m, aw.i0 + ow);
        const __m512i i1 = _mm512_maskz_loadu_epi32(m, aw.i1 + ow);
        g0 = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, i0, tmp, 4);
        g1 = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, i1, tmp, 4);
      }
      const __m512 v = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, aw.l1 + ow), g1,
                                       _mm512_mul_ps(_mm512_maskz_loadu_ps(m, aw.l0 + ow), g0));
      _mm512_mask_storeu_ps(out + ow, m, v);
    }
  }
}

}  // namespace avx512_detail

template <>
struct impl<isa::avx512_t> {
  static constexpr const char* name = "resample_f32__avx512";

  static bool supports(const ResampleDesc& d) {
    // Gather indices are 32-bit element offsets within one row.
    return d.in[2] < (std::int64_t(1) << 30);
  }

  static void run(const ResampleDesc& d, const float* src, float* dst, std::int64_t r0,
                  std::int64_t r1, float* scratch) noexcept {
    MEDKERN_DCHECK(r0 >= 0 && r0 <= r1 && r1 <= d.rows());
    if (d.mode == Mode::nearest) avx512_detail::nearest_rows(d, src, dst, r0, r1);
    else avx512_detail::linear_rows(d, src, dst, r0, r1, scratch);
  }
};

}  // namespace medkern::kernels::resample
MEDKERN_ISA_END()
