// medkern/kernels/brgemm/amx.hpp — BRGEMM on AMX tiles: bf16 x bf16 -> f32 (tdpbf16ps) and
// u8|s8 x s8 -> s32|f32 (tdpbusd / tdpbssd), over a Tiles backend (kernels/tiles.hpp).
//
// Tile plan (one palette for every call, so ldtilecfg runs once per thread): all 8 tiles are
// 16 rows x 64 bytes. C block of up to 2x2 tiles = 32 rows x 32 columns:
//   tmm0..3 = C(i,j) (tile 2i+j, f32 or s32, 16 x 16), tmm4..5 = A_i (16 rows x 64 bytes =
//   32 bf16 / 64 int8 K values), tmm6..7 = B_j (16 pair/quad rows x 16 columns).
// Per K step of one A-tile width: 2 A loads + 2 B loads feed 4 tile dot products.
// B tiles come straight from the shared pair/quad-packed layout: a packed row of 16 columns is
// 64 contiguous bytes and rows are ldb*4 bytes apart, so no AMX-specific packing is needed.
// s8 A uses tdpbssd directly (no +128 trick), so b_compensation is not read.
// Tails: A tiles are loaded in place when the tile is full (16 rows, a whole K step); an M or
// K tail is copied into a zero-padded stack scratch tile, so nothing past a row or past the
// last row is read and the K padding multiplies zeros. B likewise: in place when 16 packed
// rows exist and the 16 columns lie within ldb (columns in [N, ldb) only feed C columns that
// are never stored), else copied into a zero-padded scratch. Edge blocks use 1x2, 2x1 or 1x1
// tiles. C tiles are stored to a 32 x 32 s32/f32 scratch; the AVX-512 epilogue (accumulate,
// post-ops, s32->f32) then writes C with masked stores.
// Real AMX runs only where cpu_info().supports(Isa::amx); tests run amx_brgemm<TilesEmulated>.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "medkern/core/config.hpp"
#include "medkern/kernels/brgemm/avx512_vnni.hpp"
#include "medkern/kernels/brgemm/desc.hpp"
#include "medkern/kernels/brgemm/ref.hpp"
#include "medkern/kernels/post_ops.hpp"
#include "medkern/kernels/tiles.hpp"

MEDKERN_ISA_BEGIN(amx)
namespace medkern::kernels::brgemm {
namespace detail_amx {

using detail_lowp::i64;

enum class Op { bf16, u8, s8 };  // tdpbf16ps, tdpbusd, tdpbssd

/// Every tile 16 x 64 bytes; tails go through scratch instead of smaller tiles, so the
/// palette never changes between calls.
inline constexpr TileConfig kConfig = TileConfig::uniform(kNumTiles, 16, 64);

struct Scratch {
  alignas(64) std::uint8_t a[2][16][64];
  alignas(64) std::uint8_t b[2][16][64];
  alignas(64) std::int32_t c[32][32];
};

template <class Tiles, Op kOp, int C, int A, int B>
MEDKERN_ALWAYS_INLINE void dot() noexcept {
  if constexpr (kOp == Op::bf16)
    Tiles::template dpbf16ps<C, A, B>();
  else if constexpr (kOp == Op::u8)
    Tiles::template dpbusd<C, A, B>();
  else
    Tiles::template dpbssd<C, A, B>();
}

/// A tile I (rows m0+16I..): `rows` valid rows, K values [k0, k0+klen). A = row m0, bytes.
template <class Tiles, int I, i64 kEsz>
MEDKERN_ALWAYS_INLINE void load_a(const std::uint8_t* A, i64 lda, i64 rows, i64 k0, i64 klen,
                                  Scratch& s) noexcept {
  constexpr i64 kc = 64 / kEsz;
  const std::uint8_t* p = A + (16 * I * lda + k0) * kEsz;
  if (rows == 16 && klen == kc) {
    Tiles::template load<4 + I>(p, lda * kEsz);
    return;
  }
  std::memset(s.a[I], 0, sizeof(s.a[I]));
  for (i64 r = 0; r < rows; ++r) std::memcpy(s.a[I][r], p + r * lda * kEsz, std::size_t(klen * kEsz));
  Tiles::template load<4 + I>(s.a[I], 64);
}

/// B tile J (columns n0+16J..): `cols` valid columns, `kg` packed rows from packed row r0.
template <class Tiles, int J>
MEDKERN_ALWAYS_INLINE void load_b(const std::uint8_t* B, i64 ldb, i64 r0, i64 kg, i64 n,
                                  i64 cols, Scratch& s) noexcept {
  const std::uint8_t* p = B + (r0 * ldb + n) * 4;
  if (kg == 16 && n + 16 <= ldb) {
    Tiles::template load<6 + J>(p, ldb * 4);
    return;
  }
  std::memset(s.b[J], 0, sizeof(s.b[J]));
  for (i64 r = 0; r < kg; ++r) std::memcpy(s.b[J][r], p + r * ldb * 4, std::size_t(cols * 4));
  Tiles::template load<6 + J>(s.b[J], 64);
}

/// C[m0 : m0+min(M-m0, 16MT), n0 : n0+min(N-n0, 16NT)) over the whole batch.
template <class Tiles, Op kOp, int MT, int NT>
void amx_block(const BrgemmDesc& d, i64 batch, const void* const* a, const void* const* b,
               i64 m0, i64 n0, void* c, Scratch& s) noexcept {
  constexpr i64 kEsz = kOp == Op::bf16 ? 2 : 1;  // A element bytes
  constexpr i64 kG = kOp == Op::bf16 ? 2 : 4;    // K values per dword
  constexpr i64 kKc = 64 / kEsz;                 // K values per A tile row
  const i64 mrows = d.M - m0 < 16 * MT ? d.M - m0 : 16 * MT;
  const i64 ncols = d.N - n0 < 16 * NT ? d.N - n0 : 16 * NT;

  Tiles::template zero<0>();
  if constexpr (NT > 1) Tiles::template zero<1>();
  if constexpr (MT > 1) Tiles::template zero<2>();
  if constexpr (MT > 1 && NT > 1) Tiles::template zero<3>();

  for (i64 ib = 0; ib < batch; ++ib) {
    const auto* A = static_cast<const std::uint8_t*>(a[ib]) + m0 * d.lda * kEsz;
    const auto* B = static_cast<const std::uint8_t*>(b[ib]);
    for (i64 k0 = 0; k0 < d.K; k0 += kKc) {
      const i64 klen = d.K - k0 < kKc ? d.K - k0 : kKc;
      const i64 kg = (klen + kG - 1) / kG;
      load_a<Tiles, 0, kEsz>(A, d.lda, mrows < 16 ? mrows : 16, k0, klen, s);
      if constexpr (MT > 1) load_a<Tiles, 1, kEsz>(A, d.lda, mrows - 16, k0, klen, s);
      load_b<Tiles, 0>(B, d.ldb, k0 / kG, kg, n0, ncols < 16 ? ncols : 16, s);
      if constexpr (NT > 1) load_b<Tiles, 1>(B, d.ldb, k0 / kG, kg, n0 + 16, ncols - 16, s);
      dot<Tiles, kOp, 0, 4, 6>();
      if constexpr (NT > 1) dot<Tiles, kOp, 1, 4, 7>();
      if constexpr (MT > 1) dot<Tiles, kOp, 2, 5, 6>();
      if constexpr (MT > 1 && NT > 1) dot<Tiles, kOp, 3, 5, 7>();
    }
  }

  constexpr i64 kLdc = 32 * 4;  // scratch row stride, bytes
  Tiles::template store<0>(&s.c[0][0], kLdc);
  if constexpr (NT > 1) Tiles::template store<1>(&s.c[0][16], kLdc);
  if constexpr (MT > 1) Tiles::template store<2>(&s.c[16][0], kLdc);
  if constexpr (MT > 1 && NT > 1) Tiles::template store<3>(&s.c[16][16], kLdc);

  const __mmask16 last = detail_lowp::tail_mask16(ncols - 16 * (NT - 1));
  for (i64 r = 0; r < mrows; ++r) {
    if constexpr (kOp == Op::bf16) {
      __m512 acc[1][NT];
      for (int j = 0; j < NT; ++j) acc[0][j] = _mm512_load_ps(&s.c[r][16 * j]);
      detail_lowp::store_f32<1, NT>(d, acc, static_cast<float*>(c) + (m0 + r) * d.ldc + n0, n0,
                                    last);
    } else {
      __m512i acc[1][NT];
      for (int j = 0; j < NT; ++j) acc[0][j] = _mm512_load_si512(&s.c[r][16 * j]);
      detail_lowp::store_s32<1, NT>(d, acc, static_cast<std::int32_t*>(c) + (m0 + r) * d.ldc + n0,
                                    n0, last, nullptr);
    }
  }
}

template <class Tiles, Op kOp>
void amx_run(const BrgemmDesc& d, i64 batch, const void* const* a, const void* const* b,
             void* c) noexcept {
  using Fn = void (*)(const BrgemmDesc&, i64, const void* const*, const void* const*, i64, i64,
                      void*, Scratch&) noexcept;
  static constexpr Fn table[2][2] = {
      {&amx_block<Tiles, kOp, 1, 1>, &amx_block<Tiles, kOp, 1, 2>},
      {&amx_block<Tiles, kOp, 2, 1>, &amx_block<Tiles, kOp, 2, 2>}};
  Tiles::configure(kConfig);
  Scratch s;
  // N outer, M inner: the B panel (K x 32 columns) is reused across the M blocks.
  for (i64 n0 = 0; n0 < d.N; n0 += 32) {
    const int nt = d.N - n0 > 16 ? 2 : 1;
    for (i64 m0 = 0; m0 < d.M; m0 += 32) {
      const int mt = d.M - m0 > 16 ? 2 : 1;
      table[mt - 1][nt - 1](d, batch, a, b, m0, n0, c, s);
    }
  }
}

}  // namespace detail_amx

/// BRGEMM on AMX tiles over a Tiles backend (TilesAmx or TilesEmulated).
template <class Tiles>
struct amx_brgemm {
  static constexpr const char* name = Tiles::kEmulated
                                          ? "brgemm_bf16bf16_f32__amx_emulated_m32n32"
                                          : "brgemm_bf16bf16_f32__amx_m32n32";
  /// x8 = u8 or s8 A; s32 or f32 C.
  static constexpr const char* name_int8 = Tiles::kEmulated
                                               ? "brgemm_x8s8_s32f32__amx_emulated_m32n32"
                                               : "brgemm_x8s8_s32f32__amx_m32n32";

  static bool supports(const BrgemmDesc& d) {
    const bool bf = d.a_type == DType::bf16 && d.b_type == DType::bf16 && d.c_type == DType::f32;
    const bool q = (d.a_type == DType::u8 || d.a_type == DType::s8) && d.b_type == DType::s8 &&
                   (d.c_type == DType::s32 || d.c_type == DType::f32);
    return (bf || q) && !(d.c_type == DType::s32 && !d.post.empty());
  }

  static void run(const BrgemmDesc& d, std::int64_t batch, const void* const* a,
                  const void* const* b, void* c) noexcept {
    MEDKERN_DCHECK(d.M >= 0 && d.N >= 0 && d.K >= 0 && batch >= 0);
    MEDKERN_DCHECK(d.M <= 1 || d.lda >= d.K);
    MEDKERN_DCHECK(d.ldb >= d.N && (d.M <= 1 || d.ldc >= d.N));
    if (d.M == 0 || d.N == 0) return;
    switch (d.a_type) {
      case DType::bf16: detail_amx::amx_run<Tiles, detail_amx::Op::bf16>(d, batch, a, b, c); break;
      case DType::u8: detail_amx::amx_run<Tiles, detail_amx::Op::u8>(d, batch, a, b, c); break;
      case DType::s8: detail_amx::amx_run<Tiles, detail_amx::Op::s8>(d, batch, a, b, c); break;
      default: break;
    }
  }
};

template <>
struct impl<isa::amx_t> : amx_brgemm<TilesAmx> {};

}  // namespace medkern::kernels::brgemm
MEDKERN_ISA_END()
