// medkern/kernels/concat/ref.hpp — reference concat kernels: the oracle of every variant.
//
// Contract. Two moves serve every layout:
//   copy:   bytes [0, n) of src to dst (plain layouts: NCHW along C, NHWC along C, any dim of
//           any C-contiguous tensor are runs of whole rows; the op cuts them into tasks).
//   repack: channel-blocked (nChw16c / nCdhw16c) concat, one output block of 16 lanes over a
//           run of spatial points [s0, s1). The block's lanes come from up to 16 pieces; piece
//           p copies input lanes [src_lane, src_lane + lanes) of an input block to output
//           lanes [dst_lane, dst_lane + lanes). Lanes no piece covers (padding past the total
//           channel count) are written as zero. Row s of a block is at s * 16 floats.
// When every input's channel count is a multiple of 16, blocks map one to one and the op
// uses copy instead. Kernels are single-threaded, allocate nothing, validate nothing and
// never throw; inputs and output must not overlap.
#pragma once

#include <cstdint>
#include <cstring>

#include "medkern/core/config.hpp"
#include "medkern/core/isa.hpp"

namespace medkern::kernels::concat {

inline constexpr int kLanes = 16;

struct LanePiece {
  const float* src = nullptr;  ///< the input block (row 0, lane 0) for this image
  std::int32_t src_lane = 0, dst_lane = 0, lanes = 0;
};

using CopyFn = void (*)(void* dst, const void* src, std::int64_t bytes) noexcept;
using RepackFn = void (*)(const LanePiece* pieces, int n_pieces, float* dst, std::int64_t s0,
                          std::int64_t s1) noexcept;

/// What select() matches rows against: every row serves every concat.
struct ConcatDesc {
  std::int64_t bytes = 0;
};

struct ConcatRow {
  const char* name;  ///< "concat__avx512"
  Isa isa;
  bool (*supports)(const ConcatDesc&);
  CopyFn copy;
  RepackFn repack;
};

template <class IsaTag>
struct impl;

template <>
struct impl<isa::ref_t> {
  static constexpr const char* name = "concat__ref";

  static void copy(void* dst, const void* src, std::int64_t bytes) noexcept {
    std::memcpy(dst, src, std::size_t(bytes));
  }

  static void repack(const LanePiece* pieces, int n_pieces, float* dst, std::int64_t s0,
                     std::int64_t s1) noexcept {
    for (std::int64_t s = s0; s < s1; ++s) {
      float row[kLanes] = {};
      for (int p = 0; p < n_pieces; ++p) {
        const LanePiece& q = pieces[p];
        for (int l = 0; l < q.lanes; ++l) row[q.dst_lane + l] = q.src[s * kLanes + q.src_lane + l];
      }
      std::memcpy(dst + s * kLanes, row, sizeof(row));
    }
  }
};

}  // namespace medkern::kernels::concat
