// medkern/kernels/pool/avx512.hpp — pooling for AVX-512 (F+BW+VL), f32 planar.
//
// Register plan. One zmm holds 16 consecutive outputs of an output row. For every tap of the
// window (valid d and h rows only, then each w tap), the 16 inputs the outputs read are
// loaded as one vector: contiguous for stride 1, two loads and a vpermt2ps (even lanes) for
// stride 2, a masked gather otherwise; max or add folds them into the accumulator, so the
// taps are visited in torch's d, h, w order. Only the "interior" outputs, whose w taps all
// lie inside the row, take this path; the few border outputs per row (padding, ceil_mode)
// use the scalar reference. The tail of the interior uses lane masks on loads and stores,
// so nothing outside the row is read or written.
//
// Max keeps NaN: vmaxps returns its second operand when either is NaN, so the new value is
// the second operand (a NaN tap wins) and lanes that already hold NaN are blended back.
//
// Blocked planes (run_blocked, max / avg): one zmm is the 16 channels of one output point,
// each tap one aligned-size load; per output row the valid d/h taps are found once, per
// output point the valid w taps (so padding and ceil_mode windows need no scalar path).
//
// Adaptive average: each output's window is a box of rows; a w window covering the whole
// row makes consecutive rows one contiguous span (and whole planes one span, so global
// average pooling is a single streamed sum with four accumulators).
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <limits>

#include "medkern/core/config.hpp"
#include "medkern/kernels/pool/ref.hpp"

MEDKERN_ISA_BEGIN(avx512)
namespace medkern::kernels::pool {
namespace avx512_detail {

MEDKERN_ALWAYS_INLINE __mmask16 lanes(std::int64_t n) {
  return n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1u);
}

/// The n <= 16 values p[0], p[s], ..., p[(n-1)*s] in lanes [0, n); other lanes zero.
MEDKERN_ALWAYS_INLINE __m512 load_strided(const float* p, std::int64_t s, std::int64_t n) {
  if (s == 1) return _mm512_maskz_loadu_ps(lanes(n), p);
  if (s == 2) {
    const std::int64_t m = 2 * n - 1;  // elements spanned
    const __m512 lo = _mm512_maskz_loadu_ps(lanes(m), p);
    const __m512 hi = m > 16 ? _mm512_maskz_loadu_ps(lanes(m - 16), p + 16) : _mm512_setzero_ps();
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    return _mm512_permutex2var_ps(lo, even, hi);
  }
  const __m512i idx = _mm512_mullo_epi32(
      _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
      _mm512_set1_epi32(int(s)));
  return _mm512_mask_i32gather_ps(_mm512_setzero_ps(), lanes(n), idx, p, 4);
}

MEDKERN_ALWAYS_INLINE __m512 max_nan(__m512 acc, __m512 v) {
  const __m512 m = _mm512_max_ps(acc, v);
  return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(acc, acc, _CMP_UNORD_Q), m, acc);
}

/// Sum of n contiguous floats, into a vector accumulator.
MEDKERN_ALWAYS_INLINE __m512 span_sum(const float* p, std::int64_t n, __m512 acc) {
  __m512 a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
  std::int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    acc = _mm512_add_ps(acc, _mm512_loadu_ps(p + i));
    a1 = _mm512_add_ps(a1, _mm512_loadu_ps(p + i + 16));
    a2 = _mm512_add_ps(a2, _mm512_loadu_ps(p + i + 32));
    a3 = _mm512_add_ps(a3, _mm512_loadu_ps(p + i + 48));
  }
  for (; i + 16 <= n; i += 16) acc = _mm512_add_ps(acc, _mm512_loadu_ps(p + i));
  if (i < n) acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(lanes(n - i), p + i));
  return _mm512_add_ps(_mm512_add_ps(acc, a1), _mm512_add_ps(a2, a3));
}

inline void adaptive_rows(const PoolDesc& d, const float* src, float* dst, std::int64_t r0,
                          std::int64_t r1) noexcept {
  const std::int64_t H = d.in[1], W = d.in[2];
  for (std::int64_t r = r0; r < r1; ++r) {
    const std::int64_t od = r / d.out[1], oh = r % d.out[1];
    const std::int64_t db = adaptive_begin(od, d.in[0], d.out[0]), de = adaptive_end(od, d.in[0], d.out[0]);
    const std::int64_t hb = adaptive_begin(oh, H, d.out[1]), he = adaptive_end(oh, H, d.out[1]);
    for (std::int64_t ow = 0; ow < d.out[2]; ++ow) {
      const std::int64_t wb = adaptive_begin(ow, W, d.out[2]), we = adaptive_end(ow, W, d.out[2]);
      __m512 acc = _mm512_setzero_ps();
      if (wb == 0 && we == W && hb == 0 && he == H) {  // whole planes: one span
        acc = span_sum(src + db * H * W, (de - db) * H * W, acc);
      } else if (wb == 0 && we == W) {  // whole rows: one span per plane
        for (std::int64_t i = db; i < de; ++i) acc = span_sum(src + (i * H + hb) * W, (he - hb) * W, acc);
      } else {
        for (std::int64_t i = db; i < de; ++i)
          for (std::int64_t j = hb; j < he; ++j) acc = span_sum(src + (i * H + j) * W + wb, we - wb, acc);
      }
      dst[r * d.out[2] + ow] =
          _mm512_reduce_add_ps(acc) / float((de - db) * (he - hb) * (we - wb));
    }
  }
}

}  // namespace avx512_detail

template <>
struct impl<isa::avx512_t> {
  static constexpr const char* name = "pool_f32__avx512";

  static bool supports(const PoolDesc&) { return true; }

  static void run(const PoolDesc& d, const float* src, float* dst, std::int64_t r0,
                  std::int64_t r1) noexcept {
    using namespace avx512_detail;
    MEDKERN_DCHECK(r0 >= 0 && r0 <= r1 && r1 <= d.rows());
    if (d.kind == Kind::adaptive_avg) return adaptive_rows(d, src, dst, r0, r1);
    const std::int64_t H = d.in[1], W = d.in[2], OW = d.out[2];
    const std::int64_t sw = d.stride[2], pw = d.pad[2], dw = d.dilation[2], kw = d.k[2];
    // Interior outputs: every w tap inside [0, W).
    std::int64_t lo = (pw + sw - 1) / sw;
    const std::int64_t last = W - 1 + pw - (kw - 1) * dw;  // ow * sw <= last
    std::int64_t hi = last < 0 ? 0 : last / sw + 1;
    if (hi > OW) hi = OW;
    if (lo > hi) lo = hi;
    const bool is_max = d.kind == Kind::max;
    for (std::int64_t r = r0; r < r1; ++r) {
      const std::int64_t od = r / d.out[1], oh = r % d.out[1];
      float* out = dst + r * OW;
      for (std::int64_t ow = 0; ow < lo; ++ow) out[ow] = detail_ref::pool_point(d, src, od, oh, ow);
      for (std::int64_t ow = hi; ow < OW; ++ow) out[ow] = detail_ref::pool_point(d, src, od, oh, ow);
      if (lo == hi) continue;
      const std::int64_t sd = od * d.stride[0] - d.pad[0], sh = oh * d.stride[1] - d.pad[1];
      float div = 1.f;
      if (!is_max) {
        const std::int64_t valid = valid_extent(d, 0, sd) * valid_extent(d, 1, sh) * kw;
        const std::int64_t padded = padded_extent(d, 0, sd) * padded_extent(d, 1, sh) * kw;
        if (valid == 0) {  // whole rows of padding: torch writes 0
          for (std::int64_t ow = lo; ow < hi; ++ow) out[ow] = 0.f;
          continue;
        }
        div = float(d.divisor_override > 0 ? d.divisor_override
                                           : (d.count_include_pad ? padded : valid));
      }
      const __m512 vdiv = _mm512_set1_ps(div);
      for (std::int64_t ow0 = lo; ow0 < hi; ow0 += 16) {
        const std::int64_t n = hi - ow0 < 16 ? hi - ow0 : 16;
        __m512 acc = is_max ? _mm512_set1_ps(-std::numeric_limits<float>::infinity())
                            : _mm512_setzero_ps();
        const std::int64_t x0 = ow0 * sw - pw;
        for (std::int64_t a = 0; a < d.k[0]; ++a) {
          const std::int64_t i = sd + a * d.dilation[0];
          if (i < 0 || i >= d.in[0]) continue;
          for (std::int64_t b = 0; b < d.k[1]; ++b) {
            const std::int64_t j = sh + b * d.dilation[1];
            if (j < 0 || j >= H) continue;
            const float* row = src + (i * H + j) * W + x0;
            for (std::int64_t c = 0; c < kw; ++c) {
              const __m512 v = load_strided(row + c * dw, sw, n);
              acc = is_max ? max_nan(acc, v) : _mm512_add_ps(acc, v);
            }
          }
        }
        if (!is_max) acc = _mm512_div_ps(acc, vdiv);
        _mm512_mask_storeu_ps(out + ow0, lanes(n), acc);
      }
    }
  }

  static void run_blocked(const PoolDesc& d, const float* src, float* dst, std::int64_t r0,
                          std::int64_t r1) noexcept {
    using namespace avx512_detail;
    MEDKERN_DCHECK(r0 >= 0 && r0 <= r1 && r1 <= d.rows());
    MEDKERN_DCHECK(d.kind != Kind::adaptive_avg);
    const std::int64_t H = d.in[1], W = d.in[2], OW = d.out[2];
    const std::int64_t sw = d.stride[2], pw = d.pad[2], dw = d.dilation[2], kw = d.k[2];
    const bool is_max = d.kind == Kind::max;
    const __m512 init = is_max ? _mm512_set1_ps(-std::numeric_limits<float>::infinity())
                               : _mm512_setzero_ps();
    for (std::int64_t r = r0; r < r1; ++r) {
      const std::int64_t od = r / d.out[1], oh = r % d.out[1];
      const std::int64_t sd = od * d.stride[0] - d.pad[0], sh = oh * d.stride[1] - d.pad[1];
      // The valid (d, h) input rows of this output row.
      const float* rows[64];
      std::int64_t nr = 0;
      for (std::int64_t a = 0; a < d.k[0]; ++a) {
        const std::int64_t i = sd + a * d.dilation[0];
        if (i < 0 || i >= d.in[0]) continue;
        for (std::int64_t b = 0; b < d.k[1]; ++b) {
          const std::int64_t j = sh + b * d.dilation[1];
          if (j < 0 || j >= H) continue;
          if (nr == 64) break;
          rows[nr++] = src + (i * H + j) * W * 16;
        }
      }
      const std::int64_t dh_valid = valid_extent(d, 0, sd) * valid_extent(d, 1, sh);
      const std::int64_t dh_padded = padded_extent(d, 0, sd) * padded_extent(d, 1, sh);
      float* out = dst + r * OW * 16;
      if (nr < dh_valid) {  // more than 64 rows in a window: the reference
        for (std::int64_t ow = 0; ow < OW; ++ow)
          for (std::int64_t l = 0; l < 16; ++l)
            out[ow * 16 + l] = detail_ref::pool_point(d, src + l, od, oh, ow, 16);
        continue;
      }
      for (std::int64_t ow = 0; ow < OW; ++ow) {
        const std::int64_t x0 = ow * sw - pw;
        std::int64_t c0 = 0, c1 = kw;  // valid w taps [c0, c1)
        while (c0 < kw && x0 + c0 * dw < 0) ++c0;
        while (c1 > c0 && x0 + (c1 - 1) * dw >= W) --c1;
        __m512 acc = init;
        for (std::int64_t q = 0; q < nr; ++q) {
          const float* p = rows[q] + x0 * 16;
          for (std::int64_t c = c0; c < c1; ++c) {
            const __m512 v = _mm512_loadu_ps(p + c * dw * 16);
            acc = is_max ? max_nan(acc, v) : _mm512_add_ps(acc, v);
          }
        }
        if (!is_max) {
          const std::int64_t valid = dh_valid * (c1 - c0);
          if (valid == 0) {
            acc = _mm512_setzero_ps();
          } else {
            const std::int64_t div = d.divisor_override > 0 ? d.divisor_override
                                     : d.count_include_pad ? dh_padded * padded_extent(d, 2, x0)
                                                           : valid;
            acc = _mm512_div_ps(acc, _mm512_set1_ps(float(div)));
          }
        }
        _mm512_storeu_ps(out + ow * 16, acc);
      }
    }
  }
};

}  // namespace medkern::kernels::pool
MEDKERN_ISA_END()
