// medkern/kernels/reorder/ref.hpp — reference layout reorders: the oracle of every variant.
//
// Contract. A tensor of N images, C channels and S = H*W (or D*H*W) spatial points is stored
// in one of three formats; every 2-D layout and its 3-D twin share a format, because the
// spatial dimensions are always contiguous and in the same order, so a kernel sees only S:
//
//   planar         NCHW  / NCDHW      (n, c, s) at (n*C + c)*S + s
//   channels_last  NHWC  / NDHWC      (n, c, s) at (n*S + s)*C + c
//   blocked16      nChw16c / nCdhw16c (n, c, s) at ((n*Cb + c/16)*S + s)*16 + c%16,
//                                     Cb = ceil(C/16)
//
// In blocked16 the lanes of the last block past C (c in [C, 16*Cb)) exist in memory; a
// reorder into blocked16 writes them as zero (so a convolution can run whole 16-lane vectors
// over them without masking), a reorder out of blocked16 never reads them into the result.
// Blocked to blocked copies lanes [0, C) and zero-fills the rest.
//
// A reorder is data movement: dst(n, c, s) = src(n, c, s), bit for bit, for every dtype of
// the same element size (f32/s32: 4 bytes, bf16: 2, s8/u8: 1). Kernels therefore dispatch on
// elem_size only. No arithmetic, no rounding, NaN payloads preserved. Bytes moved: 2*N*C*S*es
// (plus padding lanes written).
//
// Unit of work: one call converts channel block cb (channels [16*cb, min(C, 16*cb + 16)))
// of image n over spatial points [s0, s1). The op splits N x Cb x S into such ranges and runs
// them in parallel; ranges never write the same element, so any split gives the same bytes.
// Kernels are single-threaded, allocate nothing, validate nothing and never throw; src and
// dst must not overlap.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

#include "medkern/core/config.hpp"
#include "medkern/core/error.hpp"
#include "medkern/core/isa.hpp"

namespace medkern::kernels::reorder {

/// Channel lanes per block of the blocked formats (one zmm of f32).
inline constexpr std::int64_t kBlock = 16;

/// Memory format as a kernel sees it (see the contract above).
enum class Format : std::uint8_t { planar, channels_last, blocked16 };

constexpr const char* format_name(Format f) noexcept {
  switch (f) {
    case Format::planar: return "planar";
    case Format::channels_last: return "channels_last";
    case Format::blocked16: return "blocked16";
  }
  return "?";
}

struct ReorderDesc {
  Format src = Format::planar;
  Format dst = Format::blocked16;
  int elem_size = 4;  ///< bytes per element: 4, 2 or 1
  std::int64_t N = 0, C = 0, S = 0;

  constexpr std::int64_t blocks() const noexcept { return (C + kBlock - 1) / kBlock; }
};

/// Converts channel block `cb` of image `n` over spatial points [s0, s1).
using ReorderFn = void (*)(const ReorderDesc& d, const void* src, void* dst, std::int64_t n,
                           std::int64_t cb, std::int64_t s0, std::int64_t s1) noexcept;

struct ReorderRow {
  const char* name;  ///< "reorder_x32__avx512"
  Isa isa;
  bool (*supports)(const ReorderDesc&);
  ReorderFn run;
};

/// Element offset of (n, c, s) in format `f` (the formulas of the contract).
constexpr std::int64_t offset(Format f, const ReorderDesc& d, std::int64_t n, std::int64_t c,
                              std::int64_t s) noexcept {
  switch (f) {
    case Format::planar: return (n * d.C + c) * d.S + s;
    case Format::channels_last: return (n * d.S + s) * d.C + c;
    case Format::blocked16:
      return ((n * d.blocks() + c / kBlock) * d.S + s) * kBlock + c % kBlock;
  }
  return 0;
}

inline std::string describe(const ReorderDesc& d) {
  return medkern::detail::concat(format_name(d.src), "->", format_name(d.dst),
                                 ",es=", d.elem_size, ",N=", d.N, ",C=", d.C, ",S=", d.S);
}

template <class IsaTag>
struct impl;

namespace detail_ref {

// Elements are moved as unsigned integers of their size, so every bit pattern (NaN payloads,
// negative zero, bf16 bits) survives unchanged.
template <class T>
void run_typed(const ReorderDesc& d, const T* src, T* dst, std::int64_t n, std::int64_t cb,
               std::int64_t s0, std::int64_t s1) noexcept {
  const std::int64_t c0 = cb * kBlock;
  const std::int64_t c_end = c0 + kBlock < d.C ? c0 + kBlock : d.C;
  for (std::int64_t c = c0; c < c_end; ++c)
    for (std::int64_t s = s0; s < s1; ++s)
      dst[offset(d.dst, d, n, c, s)] = src[offset(d.src, d, n, c, s)];
  if (d.dst == Format::blocked16)  // padding lanes of the last block
    for (std::int64_t c = c_end; c < c0 + kBlock; ++c)
      for (std::int64_t s = s0; s < s1; ++s) dst[offset(d.dst, d, n, c, s)] = T(0);
}

}  // namespace detail_ref

template <>
struct impl<isa::ref_t> {
  static constexpr const char* name = "reorder_any__ref";

  static bool supports(const ReorderDesc& d) {
    return d.elem_size == 4 || d.elem_size == 2 || d.elem_size == 1;
  }

  static void run(const ReorderDesc& d, const void* src, void* dst, std::int64_t n,
                  std::int64_t cb, std::int64_t s0, std::int64_t s1) noexcept {
    MEDKERN_DCHECK(n >= 0 && n < d.N && cb >= 0 && cb < d.blocks());
    MEDKERN_DCHECK(s0 >= 0 && s0 <= s1 && s1 <= d.S);
    switch (d.elem_size) {
      case 4:
        detail_ref::run_typed(d, static_cast<const std::uint32_t*>(src),
                              static_cast<std::uint32_t*>(dst), n, cb, s0, s1);
        break;
      case 2:
        detail_ref::run_typed(d, static_cast<const std::uint16_t*>(src),
                              static_cast<std::uint16_t*>(dst), n, cb, s0, s1);
        break;
      case 1:
        detail_ref::run_typed(d, static_cast<const std::uint8_t*>(src),
                              static_cast<std::uint8_t*>(dst), n, cb, s0, s1);
        break;
      default: MEDKERN_DCHECK(false && "reorder: element size must be 4, 2 or 1");
    }
  }
};

}  // namespace medkern::kernels::reorder
