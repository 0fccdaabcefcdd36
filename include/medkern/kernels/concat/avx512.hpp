// medkern/kernels/concat/avx512.hpp — concat moves for AVX-512.
//
// copy: runs of at least 256 KiB go through non-temporal stores (after ordinary stores up
// to dst's first 64-byte boundary): a concat output is written once and read later by another layer, so
// fetching its lines first (the read-for-ownership of ordinary stores) would add a third of
// the traffic to a copy that is bound by memory bandwidth. Shorter runs use memcpy (they
// stay in cache).
// repack: per spatial point, each piece is one 64-byte load and a masked vpermps that moves
// its lanes into place in a register; the assembled 16-lane row is stored once, full width
// (streamed on long runs), so padding lanes come out zero and no output line is read.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "medkern/core/config.hpp"
#include "medkern/kernels/concat/ref.hpp"

MEDKERN_ISA_BEGIN(avx512)
namespace medkern::kernels::concat {

template <>
struct impl<isa::avx512_t> {
  static constexpr const char* name = "concat__avx512";

  static constexpr std::int64_t kStreamBytes = 256 * 1024;

  static void copy(void* dst, const void* src, std::int64_t bytes) noexcept {
    auto* d = static_cast<char*>(dst);
    const auto* s = static_cast<const char*>(src);
    if (bytes < kStreamBytes) {
      std::memcpy(d, s, std::size_t(bytes));
      return;
    }
    // Ordinary stores up to the first 64-byte boundary of dst, then whole streamed lines.
    std::int64_t i = std::int64_t((64 - (reinterpret_cast<std::uintptr_t>(d) & 63)) & 63);
    std::memcpy(d, s, std::size_t(i));
    for (; i + 256 <= bytes; i += 256) {
      const __m512i a = _mm512_loadu_si512(s + i), b = _mm512_loadu_si512(s + i + 64);
      const __m512i c = _mm512_loadu_si512(s + i + 128), e = _mm512_loadu_si512(s + i + 192);
      _mm512_stream_si512(reinterpret_cast<__m512i*>(d + i), a);
      _mm512_stream_si512(reinterpret_cast<__m512i*>(d + i + 64), b);
      _mm512_stream_si512(reinterpret_cast<__m512i*>(d + i + 128), c);
      _mm512_stream_si512(reinterpret_cast<__m512i*>(d + i + 192), e);
    }
    _mm_sfence();  // order the streaming stores before the task reports completion
    if (i < bytes) std::memcpy(d + i, s + i, std::size_t(bytes - i));
  }

  static void repack(const LanePiece* pieces, int n_pieces, float* dst, std::int64_t s0,
                     std::int64_t s1) noexcept {
    // Whole output lines, written once: streamed past the caches when the run is long (no
    // read-for-ownership of lines that are entirely overwritten; 70% -> ~90% of a copy).
    const bool stream = (s1 - s0) * kLanes * std::int64_t(sizeof(float)) >= kStreamBytes &&
                        (reinterpret_cast<std::uintptr_t>(dst + s0 * kLanes) & 63) == 0;
    switch (n_pieces) {  // a block gathers lanes from at most 3 inputs in practice
      case 1: return repack_n<1>(pieces, 1, dst, s0, s1, stream);
      case 2: return repack_n<2>(pieces, 2, dst, s0, s1, stream);
      case 3: return repack_n<3>(pieces, 3, dst, s0, s1, stream);
      default: return repack_n<0>(pieces, n_pieces, dst, s0, s1, stream);
    }
  }

 private:
  /// NP pieces (0: n_pieces at run time).
  template <int NP>
  static void repack_n(const LanePiece* pieces, int n_pieces, float* dst, std::int64_t s0,
                       std::int64_t s1, bool stream) noexcept {
    const int np = NP > 0 ? NP : n_pieces;
    __m512i idx[kLanes];
    __mmask16 mask[kLanes];
    const float* src[kLanes];
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (int p = 0; p < np; ++p) {
      // Output lane j takes input lane j - dst_lane + src_lane.
      idx[p] = _mm512_add_epi32(iota, _mm512_set1_epi32(pieces[p].src_lane - pieces[p].dst_lane));
      idx[p] = _mm512_and_si512(idx[p], _mm512_set1_epi32(15));
      mask[p] = __mmask16(((1u << pieces[p].lanes) - 1u) << pieces[p].dst_lane);
      src[p] = pieces[p].src;
    }
    const auto row_at = [&](std::int64_t s) {
      __m512 row = _mm512_setzero_ps();
#pragma GCC unroll 3
      for (int p = 0; p < np; ++p)
        row = _mm512_mask_permutexvar_ps(row, mask[p], idx[p], _mm512_loadu_ps(src[p] + s * kLanes));
      return row;
    };
    if (stream) {
      for (std::int64_t s = s0; s < s1; ++s) _mm512_stream_ps(dst + s * kLanes, row_at(s));
      _mm_sfence();  // order the streaming stores before the task reports completion
    } else {
      for (std::int64_t s = s0; s < s1; ++s) _mm512_storeu_ps(dst + s * kLanes, row_at(s));
    }
  }
};

}  // namespace medkern::kernels::concat
MEDKERN_ISA_END()
