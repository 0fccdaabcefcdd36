// medkern/core/cpu.hpp — what this CPU can run: CPUID/XGETBV feature bits, OS state support,
// AMX permission (Linux arch_prctl), cache sizes and the model string.
//
// Detection reads CPUID only; the OS must also save the wider register state (XCR0), or a
// feature is reported absent. AMX additionally needs the kernel to grant the tile data state
// to this process, which request_amx_permission() asks for once.
#pragma once

#include <cpuid.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "medkern/core/isa.hpp"

#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace medkern {

struct CacheInfo {
  int level = 0;
  std::string type;          ///< "data", "instruction" or "unified"
  std::int64_t size_bytes = 0;
  int line_bytes = 0;
  int shared_by_threads = 0;
};

struct CpuFeatures {
  bool sse42 = false, avx = false, avx2 = false, fma = false, f16c = false, bmi2 = false;
  bool avx512f = false, avx512cd = false, avx512bw = false, avx512dq = false, avx512vl = false;
  bool avx512_vnni = false, avx512_bf16 = false, avx512_fp16 = false, avx_vnni = false;
  bool amx_tile = false, amx_int8 = false, amx_bf16 = false;
  bool os_avx = false, os_avx512 = false, os_amx = false;  ///< XCR0 state enabled by the OS
  bool amx_permitted = false;                              ///< Linux granted XTILEDATA
};

struct CpuInfo {
  std::string model;  ///< brand string, e.g. "Intel(R) Xeon(R) Platinum 8480+"
  std::string vendor;
  CpuFeatures f;
  std::vector<CacheInfo> caches;
  int logical_cpus = 0;

  /// Feature names present, in a fixed order (for medkern.info()["flags"]).
  std::vector<std::string> flags() const {
    std::vector<std::string> out;
    auto add = [&](bool on, const char* name) {
      if (on) out.emplace_back(name);
    };
    add(f.sse42, "sse4_2");
    add(f.avx, "avx");
    add(f.avx2, "avx2");
    add(f.fma, "fma");
    add(f.f16c, "f16c");
    add(f.bmi2, "bmi2");
    add(f.avx512f, "avx512f");
    add(f.avx512cd, "avx512cd");
    add(f.avx512bw, "avx512bw");
    add(f.avx512dq, "avx512dq");
    add(f.avx512vl, "avx512vl");
    add(f.avx512_vnni, "avx512_vnni");
    add(f.avx512_bf16, "avx512_bf16");
    add(f.avx512_fp16, "avx512_fp16");
    add(f.avx_vnni, "avx_vnni");
    add(f.amx_tile, "amx_tile");
    add(f.amx_int8, "amx_int8");
    add(f.amx_bf16, "amx_bf16");
    return out;
  }

  /// True when every feature that level `isa` needs is present and enabled by the OS.
  bool supports(Isa isa) const noexcept {
    const bool avx2 = f.os_avx && f.avx && f.avx2 && f.fma && f.f16c && f.bmi2;
    const bool avx512 =
        avx2 && f.os_avx512 && f.avx512f && f.avx512cd && f.avx512bw && f.avx512dq && f.avx512vl;
    switch (isa) {
      case Isa::ref: return true;
      case Isa::avx2: return avx2;
      case Isa::avx512: return avx512;
      case Isa::avx512_vnni: return avx512 && f.avx512_vnni;
      case Isa::avx512_bf16: return avx512 && f.avx512_vnni && f.avx512_bf16;
      case Isa::amx:
        return avx512 && f.avx512_vnni && f.avx512_bf16 && f.amx_tile && f.amx_int8 &&
               f.amx_bf16 && f.os_amx && f.amx_permitted;
    }
    return false;
  }

  /// Highest lattice level this CPU supports.
  Isa best_isa() const noexcept {
    Isa best = Isa::ref;
    for (Isa i : kAllIsas)
      if (supports(i)) best = i;
    return best;
  }
};

namespace detail {

struct CpuidRegs {
  unsigned a = 0, b = 0, c = 0, d = 0;
};

inline CpuidRegs cpuid(unsigned leaf, unsigned subleaf = 0) noexcept {
  CpuidRegs r;
  __cpuid_count(leaf, subleaf, r.a, r.b, r.c, r.d);
  return r;
}

inline std::uint64_t xgetbv0() noexcept {
  unsigned lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (std::uint64_t(hi) << 32) | lo;
}

inline bool bit(unsigned v, int i) noexcept { return (v >> i) & 1u; }

/// Asks Linux for permission to use the AMX tile data state (needed before the first tile
/// instruction, or the process gets SIGILL). Idempotent; false off Linux or when refused.
inline bool request_amx_permission() noexcept {
#if defined(__linux__)
  constexpr long kArchGetXcompPerm = 0x1022, kArchReqXcompPerm = 0x1023;
  constexpr int kXfeatureXtiledata = 18;
  unsigned long bitmask = 0;
  if (syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) != 0) return false;
  if (syscall(SYS_arch_prctl, kArchGetXcompPerm, &bitmask) != 0) return false;
  return (bitmask >> kXfeatureXtiledata) & 1u;
#else
  return false;
#endif
}

inline CpuInfo detect_cpu() {
  CpuInfo info;
  const CpuidRegs r0 = cpuid(0);
  const unsigned max_leaf = r0.a;
  char vendor[13] = {};
  std::memcpy(vendor + 0, &r0.b, 4);
  std::memcpy(vendor + 4, &r0.d, 4);
  std::memcpy(vendor + 8, &r0.c, 4);
  info.vendor = vendor;

  CpuFeatures& f = info.f;
  if (max_leaf >= 1) {
    const CpuidRegs r1 = cpuid(1);
    f.sse42 = bit(r1.c, 20);
    f.fma = bit(r1.c, 12);
    f.f16c = bit(r1.c, 29);
    f.avx = bit(r1.c, 28);
    const bool osxsave = bit(r1.c, 27);
    if (osxsave) {
      const std::uint64_t xcr0 = xgetbv0();
      f.os_avx = (xcr0 & 0x6) == 0x6;            // XMM | YMM
      f.os_avx512 = (xcr0 & 0xe6) == 0xe6;       // + opmask, ZMM_Hi256, Hi16_ZMM
      f.os_amx = (xcr0 & 0x60000) == 0x60000;    // XTILECFG | XTILEDATA
    }
  }
  if (max_leaf >= 7) {
    const CpuidRegs r7 = cpuid(7, 0);
    f.avx2 = bit(r7.b, 5);
    f.bmi2 = bit(r7.b, 8);
    f.avx512f = bit(r7.b, 16);
    f.avx512dq = bit(r7.b, 17);
    f.avx512cd = bit(r7.b, 28);
    f.avx512bw = bit(r7.b, 30);
    f.avx512vl = bit(r7.b, 31);
    f.avx512_vnni = bit(r7.c, 11);
    f.avx512_fp16 = bit(r7.d, 23);
    f.amx_bf16 = bit(r7.d, 22);
    f.amx_tile = bit(r7.d, 24);
    f.amx_int8 = bit(r7.d, 25);
    if (r7.a >= 1) {
      const CpuidRegs r71 = cpuid(7, 1);
      f.avx_vnni = bit(r71.a, 4);
      f.avx512_bf16 = bit(r71.a, 5);
    }
  }
  if (f.amx_tile && f.os_amx) f.amx_permitted = request_amx_permission();

  const unsigned max_ext = cpuid(0x80000000u).a;
  if (max_ext >= 0x80000004u) {
    char brand[49] = {};
    for (unsigned i = 0; i < 3; ++i) {
      const CpuidRegs r = cpuid(0x80000002u + i);
      std::memcpy(brand + 16 * i + 0, &r.a, 4);
      std::memcpy(brand + 16 * i + 4, &r.b, 4);
      std::memcpy(brand + 16 * i + 8, &r.c, 4);
      std::memcpy(brand + 16 * i + 12, &r.d, 4);
    }
    std::string s = brand;
    const auto b = s.find_first_not_of(' ');
    const auto e = s.find_last_not_of(' ');
    info.model = b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
  }

  // Deterministic cache parameters (Intel leaf 4, AMD leaf 0x8000001D use the same encoding).
  const bool amd = info.vendor == "AuthenticAMD";
  const unsigned cache_leaf = amd ? 0x8000001Du : 4u;
  if ((amd && max_ext >= cache_leaf) || (!amd && max_leaf >= 4)) {
    for (unsigned i = 0; i < 16; ++i) {
      const CpuidRegs r = cpuid(cache_leaf, i);
      const unsigned type = r.a & 0x1f;
      if (type == 0) break;
      CacheInfo c;
      c.level = int((r.a >> 5) & 0x7);
      c.type = type == 1 ? "data" : type == 2 ? "instruction" : "unified";
      const std::int64_t ways = ((r.b >> 22) & 0x3ff) + 1;
      const std::int64_t parts = ((r.b >> 12) & 0x3ff) + 1;
      const std::int64_t line = (r.b & 0xfff) + 1;
      const std::int64_t sets = std::int64_t(r.c) + 1;
      c.size_bytes = ways * parts * line * sets;
      c.line_bytes = int(line);
      c.shared_by_threads = int(((r.a >> 14) & 0xfff) + 1);
      info.caches.push_back(c);
    }
  }
#if defined(__linux__)
  info.logical_cpus = int(sysconf(_SC_NPROCESSORS_ONLN));
#endif
  return info;
}

}  // namespace detail

/// This machine's CPU, detected once (thread-safe static initialisation).
inline const CpuInfo& cpu_info() {
  static const CpuInfo info = detail::detect_cpu();
  return info;
}

/// Size in bytes of the level-`level` data (or unified) cache, or `fallback` when unknown.
inline std::int64_t cache_bytes(int level, std::int64_t fallback) {
  for (const CacheInfo& c : cpu_info().caches)
    if (c.level == level && c.type != "instruction") return c.size_bytes;
  return fallback;
}

}  // namespace medkern
