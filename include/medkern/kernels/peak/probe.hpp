// medkern/kernels/peak/probe.hpp — register-only throughput loops that measure this machine's
// compute peak per instruction family.
//
// Each loop issues kChains independent accumulations per iteration in inline assembly, so the
// compiler can neither drop nor spill them, with enough chains (24) to hide the latency of
// 2 pipes x 4-5 cycles. Operations counted per instruction:
//   f32 FMA  zmm: 16 lanes x 2           = 32 flop      (avx2 ymm: 8 x 2 = 16)
//   bf16 dot zmm (vdpbf16ps): 16 x 2 x 2 = 64 flop
//   s8 dot   zmm (vpdpbusd):  16 x 4 x 2 = 128 op
//   AMX tdpbf16ps: 16 x 16 x 32 x 2 = 16384 flop; tdpbusd: 16 x 16 x 64 x 2 = 32768 op
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "medkern/core/config.hpp"

namespace medkern::kernels::peak {

inline constexpr int kChains = 24;

#define MEDKERN_PEAK_24(op, reg)                                                              \
  op reg "0\n\t" op reg "1\n\t" op reg "2\n\t" op reg "3\n\t" op reg "4\n\t" op reg "5\n\t"   \
  op reg "6\n\t" op reg "7\n\t" op reg "8\n\t" op reg "9\n\t" op reg "10\n\t" op reg "11\n\t" \
  op reg "12\n\t" op reg "13\n\t" op reg "14\n\t" op reg "15\n\t" op reg "16\n\t"             \
  op reg "17\n\t" op reg "18\n\t" op reg "19\n\t" op reg "20\n\t" op reg "21\n\t"             \
  op reg "22\n\t" op reg "23\n\t"

#define MEDKERN_PEAK_12(op, reg)                                                              \
  op reg "0\n\t" op reg "1\n\t" op reg "2\n\t" op reg "3\n\t" op reg "4\n\t" op reg "5\n\t"   \
  op reg "6\n\t" op reg "7\n\t" op reg "8\n\t" op reg "9\n\t" op reg "10\n\t" op reg "11\n\t"

}  // namespace medkern::kernels::peak

MEDKERN_ISA_BEGIN(avx2)
namespace medkern::kernels::peak {
/// 12 ymm FMA chains (AVX2 has 16 registers); returns flops done.
inline void fma_f32_avx2(std::int64_t iters) noexcept {
  __asm__ volatile("vxorps %%ymm14, %%ymm14, %%ymm14\n\t"
                   "vxorps %%ymm15, %%ymm15, %%ymm15\n\t"
                   "1:\n\t" MEDKERN_PEAK_12("vfmadd231ps %%ymm14, %%ymm15, ", "%%ymm")
                   "dec %0\n\t"
                   "jnz 1b\n\t"
                   : "+r"(iters)::"cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6",
                     "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm14", "xmm15");
}
}  // namespace medkern::kernels::peak
MEDKERN_ISA_END()

MEDKERN_ISA_BEGIN(avx512)
namespace medkern::kernels::peak {
inline void fma_f32_avx512(std::int64_t iters) noexcept {
  __asm__ volatile("vxorps %%zmm30, %%zmm30, %%zmm30\n\t"
                   "vxorps %%zmm31, %%zmm31, %%zmm31\n\t"
                   "1:\n\t" MEDKERN_PEAK_24("vfmadd231ps %%zmm30, %%zmm31, ", "%%zmm")
                   "dec %0\n\t"
                   "jnz 1b\n\t"
                   : "+r"(iters)::"cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6",
                     "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15",
                     "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23",
                     "xmm30", "xmm31");
}
}  // namespace medkern::kernels::peak
MEDKERN_ISA_END()

MEDKERN_ISA_BEGIN(avx512_vnni)
namespace medkern::kernels::peak {
inline void dot_s8_vnni(std::int64_t iters) noexcept {
  __asm__ volatile("vpxord %%zmm30, %%zmm30, %%zmm30\n\t"
                   "vpxord %%zmm31, %%zmm31, %%zmm31\n\t"
                   "1:\n\t" MEDKERN_PEAK_24("vpdpbusd %%zmm30, %%zmm31, ", "%%zmm")
                   "dec %0\n\t"
                   "jnz 1b\n\t"
                   : "+r"(iters)::"cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6",
                     "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15",
                     "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23",
                     "xmm30", "xmm31");
}
}  // namespace medkern::kernels::peak
MEDKERN_ISA_END()

MEDKERN_ISA_BEGIN(avx512_bf16)
namespace medkern::kernels::peak {
inline void dot_bf16_avx512(std::int64_t iters) noexcept {
  __asm__ volatile("vpxord %%zmm30, %%zmm30, %%zmm30\n\t"
                   "vpxord %%zmm31, %%zmm31, %%zmm31\n\t"
                   "1:\n\t" MEDKERN_PEAK_24("vdpbf16ps %%zmm30, %%zmm31, ", "%%zmm")
                   "dec %0\n\t"
                   "jnz 1b\n\t"
                   : "+r"(iters)::"cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6",
                     "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15",
                     "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23",
                     "xmm30", "xmm31");
}
}  // namespace medkern::kernels::peak
MEDKERN_ISA_END()

MEDKERN_ISA_BEGIN(amx)
namespace medkern::kernels::peak {
/// Palette-1 configuration: tiles 0-3 accumulators, 4-5 A, 6-7 B, all 16 rows x 64 bytes.
struct alignas(64) AmxPeakConfig {
  std::uint8_t palette = 1, start_row = 0, reserved[14] = {};
  std::uint16_t colsb[16] = {64, 64, 64, 64, 64, 64, 64, 64};
  std::uint8_t rows[16] = {16, 16, 16, 16, 16, 16, 16, 16};
};
/// 4 independent tile accumulators x `iters`; `bf16` picks tdpbf16ps, else tdpbusd.
inline void dot_amx(std::int64_t iters, bool bf16) noexcept {
  static const AmxPeakConfig cfg{};
  alignas(64) static const std::uint8_t zeros[16 * 64] = {};
  _tile_loadconfig(&cfg);
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  _tile_loadd(4, zeros, 64);
  _tile_loadd(5, zeros, 64);
  _tile_loadd(6, zeros, 64);
  _tile_loadd(7, zeros, 64);
  if (bf16) {
    for (std::int64_t i = 0; i < iters; ++i) {
      _tile_dpbf16ps(0, 4, 6);
      _tile_dpbf16ps(1, 4, 7);
      _tile_dpbf16ps(2, 5, 6);
      _tile_dpbf16ps(3, 5, 7);
    }
  } else {
    for (std::int64_t i = 0; i < iters; ++i) {
      _tile_dpbusd(0, 4, 6);
      _tile_dpbusd(1, 4, 7);
      _tile_dpbusd(2, 5, 6);
      _tile_dpbusd(3, 5, 7);
    }
  }
  _tile_release();
}
}  // namespace medkern::kernels::peak
MEDKERN_ISA_END()
