// medkern/core/config.hpp — version, compiler portability, ISA regions, debug checks.
//
// SIMD code is compiled inside ISA regions rather than with per-file -m flags, so a consumer
// building with plain -O2 (no -march) still gets every kernel; the right one is chosen at run
// time (core/dispatch.hpp). A region applies a target to every function defined in it,
// including lambdas and template instantiations, which a per-function attribute does not reach
// on GCC 12.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#define MEDKERN_VERSION_MAJOR 0
#define MEDKERN_VERSION_MINOR 1
#define MEDKERN_VERSION_PATCH 0
#define MEDKERN_VERSION_STRING "0.1.0"

#if !defined(__x86_64__) && !defined(_M_X64)
#error "medkern targets x86-64 CPUs"
#endif

#define MEDKERN_STRINGIFY_(x) #x
#define MEDKERN_STRINGIFY(x) MEDKERN_STRINGIFY_(x)
#define MEDKERN_PRAGMA(x) _Pragma(#x)

// Target strings of the ISA lattice; each includes the one below it.
#define MEDKERN_TARGET_avx2 "avx2,fma,f16c,bmi,bmi2,lzcnt,popcnt"
#define MEDKERN_TARGET_avx512 MEDKERN_TARGET_avx2 ",avx512f,avx512cd,avx512bw,avx512dq,avx512vl"
#define MEDKERN_TARGET_avx512_vnni MEDKERN_TARGET_avx512 ",avx512vnni"
#define MEDKERN_TARGET_avx512_bf16 MEDKERN_TARGET_avx512_vnni ",avx512bf16"
#define MEDKERN_TARGET_amx MEDKERN_TARGET_avx512_bf16 ",amx-tile,amx-int8,amx-bf16"

#if defined(__clang__)
#define MEDKERN_TARGET_PUSH_(s)                                                              \
  MEDKERN_PRAGMA(clang attribute push(__attribute__((target(s))), apply_to = function))
#define MEDKERN_TARGET_POP_() MEDKERN_PRAGMA(clang attribute pop)
#define MEDKERN_DIAG_PUSH_() MEDKERN_PRAGMA(clang diagnostic push)
#define MEDKERN_DIAG_POP_() MEDKERN_PRAGMA(clang diagnostic pop)
#elif defined(__GNUC__)
#define MEDKERN_TARGET_PUSH_(s) MEDKERN_PRAGMA(GCC push_options) MEDKERN_PRAGMA(GCC target(s))
#define MEDKERN_TARGET_POP_() MEDKERN_PRAGMA(GCC pop_options)
// GCC 12's intrinsic headers trigger false -Wmaybe-uninitialized on _mm512_undefined_*;
// silence them inside regions so users' -Werror builds stay clean.
#define MEDKERN_DIAG_PUSH_()                                                                 \
  MEDKERN_PRAGMA(GCC diagnostic push)                                                        \
  MEDKERN_PRAGMA(GCC diagnostic ignored "-Wmaybe-uninitialized")                             \
  MEDKERN_PRAGMA(GCC diagnostic ignored "-Wuninitialized")
#define MEDKERN_DIAG_POP_() MEDKERN_PRAGMA(GCC diagnostic pop)
#else
#error "medkern needs GCC or Clang (ISA regions use their target pragmas)"
#endif

/// Opens a region whose functions are compiled for `isa` (ref names no region).
#define MEDKERN_ISA_BEGIN(isa) MEDKERN_DIAG_PUSH_() MEDKERN_TARGET_PUSH_(MEDKERN_TARGET_##isa)
/// Closes the region opened by MEDKERN_ISA_BEGIN.
#define MEDKERN_ISA_END() MEDKERN_TARGET_POP_() MEDKERN_DIAG_POP_()

#define MEDKERN_ALWAYS_INLINE inline __attribute__((always_inline))
#define MEDKERN_RESTRICT __restrict__
#define MEDKERN_LIKELY(x) __builtin_expect(!!(x), 1)
#define MEDKERN_UNLIKELY(x) __builtin_expect(!!(x), 0)

// Kernel preconditions: checked in debug and sanitizer builds, free in release builds.
#if !defined(NDEBUG) || defined(MEDKERN_ENABLE_DCHECK)
#define MEDKERN_DCHECK(cond)                                                                 \
  do {                                                                                       \
    if (MEDKERN_UNLIKELY(!(cond))) {                                                         \
      std::fprintf(stderr, "medkern: DCHECK failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                          \
    }                                                                                        \
  } while (0)
#else
#define MEDKERN_DCHECK(cond) ((void)0)
#endif
