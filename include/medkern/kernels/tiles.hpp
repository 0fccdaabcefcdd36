// medkern/kernels/tiles.hpp — the AMX tile interface, with a hardware and a software backend.
//
// Kernels are templates over a `Tiles` backend with this static API (tile numbers and the
// operand tiles are compile-time constants, as the instructions encode them):
//   configure(const TileConfig&)     set the palette (no-op when it is already current)
//   release() / invalidate()         tilerelease / forget the cached config
//   zero<T>()                        tilezero tmmT
//   load<T>(ptr, stride_bytes)       tileloadd: rows[T] rows of colsb[T] bytes
//   store<T>(ptr, stride_bytes)      tilestored
//   dpbf16ps<C, A, B>()              C.f32[m][n] += sum_p A.bf16[m][2p+i] * B.bf16[p][2n+i]
//   dpbusd<C, A, B>() / dpbssd<..>   C.s32[m][n] += sum_p sum_{i<4} A.{u8|s8}[m][4p+i] * B.s8[p][4n+i]
// TilesAmx issues the instructions (compiled everywhere inside an amx ISA region; runs only
// where cpu_info().supports(Isa::amx)). TilesEmulated implements the same semantics in
// software, so the blocking, packing, tail and configuration logic of AMX kernels is tested
// on machines without AMX.
//
// The current configuration is per thread (as the tile state is): TilesAmx caches the last
// palette it loaded in a thread_local and executes ldtilecfg only when a kernel asks for a
// different one. Code outside medkern that changes the tile state on the same thread (another
// library's ldtilecfg or tilerelease) must call TilesAmx::invalidate() before the next
// medkern AMX kernel. The config stays loaded after a kernel returns (reloading costs more
// than a small GEMM); call release() when a thread is done with AMX.
//
// Emulation numerics (TilesEmulated::dpbf16ps): as Intel's pseudo-code for TDPBF16PS, each
// pair adds its two products to the f32 accumulator one after the other (each bf16 x bf16
// product is exact in f32; each add rounds to nearest even), walking K in order; denormal
// inputs are read as zero and denormal results flushed to zero, as the hardware does
// regardless of MXCSR. Real hardware may fuse the pair's additions differently, so emulated
// and hardware bf16 results agree to f32 rounding, not bitwise. Integer ops are exact (s32
// wraps on overflow, like the hardware).
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "medkern/core/config.hpp"

namespace medkern::kernels {

inline constexpr int kNumTiles = 8;
inline constexpr int kTileMaxRows = 16;
inline constexpr int kTileMaxColsb = 64;

/// The 64-byte ldtilecfg operand, palette 1: per tile, rows (<= 16) and bytes per row (<= 64).
struct alignas(64) TileConfig {
  std::uint8_t palette_id = 1;
  std::uint8_t start_row = 0;
  std::uint8_t reserved[14] = {};
  std::uint16_t colsb[16] = {};
  std::uint8_t rows[16] = {};

  /// All of tiles [0, n) as rows x colsb.
  static constexpr TileConfig uniform(int n, int rows, int colsb) noexcept {
    TileConfig c;
    for (int t = 0; t < n; ++t) {
      c.rows[t] = std::uint8_t(rows);
      c.colsb[t] = std::uint16_t(colsb);
    }
    return c;
  }
  bool operator==(const TileConfig& o) const noexcept { return std::memcmp(this, &o, 64) == 0; }
};
static_assert(sizeof(TileConfig) == 64);

namespace detail_tiles {
/// The palette this thread last loaded through TilesAmx (the hardware tile state is per thread).
struct CurrentConfig {
  TileConfig cfg;
  bool valid = false;
};
inline thread_local CurrentConfig amx_current;
}  // namespace detail_tiles

// ---- software backend --------------------------------------------------------------------

struct TilesEmulated {
  static constexpr bool kEmulated = true;

  struct State {
    TileConfig cfg;
    bool valid = false;
    alignas(64) std::uint8_t t[kNumTiles][kTileMaxRows][kTileMaxColsb] = {};
  };
  static State& state() noexcept {
    static thread_local State s;
    return s;
  }

  /// As ldtilecfg: loads the palette and zeroes every tile (the hardware does both, but only
  /// when the config changes here, matching TilesAmx's caching).
  static void configure(const TileConfig& cfg) noexcept {
    State& s = state();
    if (s.valid && s.cfg == cfg) return;
    s.cfg = cfg;
    s.valid = true;
    std::memset(s.t, 0, sizeof(s.t));
  }
  static void release() noexcept {
    State& s = state();
    s.valid = false;
    s.cfg = TileConfig{};
    std::memset(s.t, 0, sizeof(s.t));
  }
  static void invalidate() noexcept { state().valid = false; }

  template <int T>
  static void zero() noexcept {
    std::memset(state().t[T], 0, sizeof(state().t[T]));
  }
  /// tileloadd: rows[T] rows of colsb[T] bytes; the rest of the tile becomes zero.
  template <int T>
  static void load(const void* base, std::int64_t stride) noexcept {
    State& s = state();
    MEDKERN_DCHECK(s.valid && s.cfg.rows[T] > 0);
    const int rows = s.cfg.rows[T], colsb = s.cfg.colsb[T];
    std::memset(s.t[T], 0, sizeof(s.t[T]));
    for (int r = 0; r < rows; ++r)
      std::memcpy(s.t[T][r], static_cast<const std::uint8_t*>(base) + r * stride,
                  std::size_t(colsb));
  }
  template <int T>
  static void store(void* base, std::int64_t stride) noexcept {
    const State& s = state();
    MEDKERN_DCHECK(s.valid && s.cfg.rows[T] > 0);
    for (int r = 0; r < s.cfg.rows[T]; ++r)
      std::memcpy(static_cast<std::uint8_t*>(base) + r * stride, s.t[T][r],
                  std::size_t(s.cfg.colsb[T]));
  }

  template <int C, int A, int B>
  static void dpbf16ps() noexcept {
    static_assert(C != A && C != B && A != B, "AMX dot products need three distinct tiles");
    State& s = state();
    const int M = s.cfg.rows[C], N = s.cfg.colsb[C] / 4, K = s.cfg.colsb[A] / 4;
    MEDKERN_DCHECK(s.cfg.rows[A] == M && s.cfg.rows[B] == K && s.cfg.colsb[B] == s.cfg.colsb[C]);
    for (int m = 0; m < M; ++m) {
      float acc[16];
      std::memcpy(acc, s.t[C][m], 64);
      for (int p = 0; p < K; ++p)
        for (int n = 0; n < N; ++n)
          for (int i = 0; i < 2; ++i) {
            const float a = bf16_daz(s.t[A][m] + 4 * p + 2 * i);
            const float b = bf16_daz(s.t[B][p] + 4 * n + 2 * i);
            acc[n] = ftz(acc[n] + a * b);
          }
      std::memcpy(s.t[C][m], acc, std::size_t(N) * 4);
    }
  }
  template <int C, int A, int B>
  static void dpbusd() noexcept {
    dp_int8<C, A, B, false>();
  }
  template <int C, int A, int B>
  static void dpbssd() noexcept {
    dp_int8<C, A, B, true>();
  }

 private:
  static float bf16_daz(const std::uint8_t* p) noexcept {
    std::uint16_t h;
    std::memcpy(&h, p, 2);
    if ((h & 0x7f80u) == 0) h &= 0x8000u;  // denormal (or zero) -> signed zero
    const std::uint32_t u = std::uint32_t(h) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
  static float ftz(float f) noexcept {
    std::uint32_t u;
    std::memcpy(&u, &f, 4);
    if ((u & 0x7f800000u) == 0) u &= 0x80000000u;
    std::memcpy(&f, &u, 4);
    return f;
  }
  template <int C, int A, int B, bool kSignedA>
  static void dp_int8() noexcept {
    static_assert(C != A && C != B && A != B, "AMX dot products need three distinct tiles");
    State& s = state();
    const int M = s.cfg.rows[C], N = s.cfg.colsb[C] / 4, K = s.cfg.colsb[A] / 4;
    MEDKERN_DCHECK(s.cfg.rows[A] == M && s.cfg.rows[B] == K && s.cfg.colsb[B] == s.cfg.colsb[C]);
    for (int m = 0; m < M; ++m) {
      std::int32_t acc[16];
      std::memcpy(acc, s.t[C][m], 64);
      for (int p = 0; p < K; ++p)
        for (int n = 0; n < N; ++n) {
          std::int32_t dot = 0;  // |4 products| <= 4 * 255 * 128: no overflow
          for (int i = 0; i < 4; ++i) {
            const std::uint8_t ra = s.t[A][m][4 * p + i];
            const int a = kSignedA ? int(std::int8_t(ra)) : int(ra);
            dot += a * int(std::int8_t(s.t[B][p][4 * n + i]));
          }
          acc[n] = std::int32_t(std::uint32_t(acc[n]) + std::uint32_t(dot));  // wraps
        }
      std::memcpy(s.t[C][m], acc, std::size_t(N) * 4);
    }
  }
};

}  // namespace medkern::kernels

// ---- hardware backend --------------------------------------------------------------------

MEDKERN_ISA_BEGIN(amx)
namespace medkern::kernels {

/// The AMX instructions. Own inline asm rather than GCC's _tile_* macros: those stringify the
/// tile number (so it cannot be a template parameter) and do not tell the compiler that
/// tileloadd reads memory (so a store to a scratch tile source could be moved after it).
struct TilesAmx {
  static constexpr bool kEmulated = false;

  static void configure(const TileConfig& cfg) noexcept {
    detail_tiles::CurrentConfig& cur = detail_tiles::amx_current;
    if (cur.valid && cur.cfg == cfg) return;
    __asm__ volatile("ldtilecfg %0" ::"m"(cfg) : "memory");
    cur.cfg = cfg;
    cur.valid = true;
  }
  static void release() noexcept {
    __asm__ volatile("tilerelease" ::: "memory");
    detail_tiles::amx_current.valid = false;
  }
  static void invalidate() noexcept { detail_tiles::amx_current.valid = false; }

  template <int T>
  static void zero() noexcept {
    __asm__ volatile("tilezero %%tmm%c0" ::"i"(T));
  }
  template <int T>
  static void load(const void* base, std::int64_t stride) noexcept {
    __asm__ volatile("tileloadd (%0,%1,1), %%tmm%c2" ::"r"(base), "r"(stride), "i"(T) : "memory");
  }
  template <int T>
  static void store(void* base, std::int64_t stride) noexcept {
    __asm__ volatile("tilestored %%tmm%c2, (%0,%1,1)" ::"r"(base), "r"(stride), "i"(T)
                     : "memory");
  }
  template <int C, int A, int B>
  static void dpbf16ps() noexcept {
    static_assert(C != A && C != B && A != B, "AMX dot products need three distinct tiles");
    __asm__ volatile("tdpbf16ps %%tmm%c2, %%tmm%c1, %%tmm%c0" ::"i"(C), "i"(A), "i"(B));
  }
  template <int C, int A, int B>
  static void dpbusd() noexcept {
    static_assert(C != A && C != B && A != B, "AMX dot products need three distinct tiles");
    __asm__ volatile("tdpbusd %%tmm%c2, %%tmm%c1, %%tmm%c0" ::"i"(C), "i"(A), "i"(B));
  }
  template <int C, int A, int B>
  static void dpbssd() noexcept {
    static_assert(C != A && C != B && A != B, "AMX dot products need three distinct tiles");
    __asm__ volatile("tdpbssd %%tmm%c2, %%tmm%c1, %%tmm%c0" ::"i"(C), "i"(A), "i"(B));
  }
};

}  // namespace medkern::kernels
MEDKERN_ISA_END()
