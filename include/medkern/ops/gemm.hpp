// medkern/ops/gemm.hpp — GEMM on top of the BRGEMM kernels: C[M,N] = post(A[M,K] * B[K,N]).
//
// B is packed once into panels of kPanel columns, [panels][K rows of its dtype group][kPanel]
// (the layouts of kernels/brgemm/desc.hpp with ldb = kPanel): a panel's rows are contiguous,
// so a K-chunk of a panel stays in L2 while every row strip of an A block streams past it. Work is split over (row block, panel) tasks; each task owns its C
// tile, so results do not depend on the thread count.
//
// A: row-major with lda; C: row-major with ldc. Dtypes: f32 x f32 -> f32; bf16 x bf16 -> f32;
// u8 x s8 -> s32 (post-ops refused for s32).
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>

#include "medkern/core/buffer.hpp"
#include "medkern/core/cpu.hpp"
#include "medkern/core/dispatch.hpp"
#include "medkern/core/error.hpp"
#include "medkern/core/tensor.hpp"
#include "medkern/core/threading.hpp"
#include "medkern/core/verbose.hpp"
#include "medkern/kernels/brgemm/pack.hpp"
#include "medkern/kernels/brgemm/registry.hpp"

namespace medkern::ops {

namespace kb = medkern::kernels::brgemm;
using kernels::PostOps;

/// Columns per packed panel: 4 zmm of f32 (the widest AVX-512 tile).
inline constexpr std::int64_t kPanel = 64;
/// K rows per chunk. C stays in registers across a whole chunk (the BRGEMM batch-reduce
/// advantage), and a 1024-row f32 panel (256 KiB) plus a 96-row A block (384 KiB) fit L2:
/// on the development machine full-K chunks beat L1-sized ones (128) by ~15% at 1024^3
/// (bench: gemm_f32, Kc sweep 128/256/512/1024).
inline constexpr std::int64_t kKc = 1024;
/// Rows of A per task (bench: gemm_f32 1024^3, Mc sweep 48/96/192); a multiple of the 6-row
/// tile that M = 96 selects.
inline constexpr std::int64_t kMc = 96;

/// B[K,N] packed into panels of the `b_type` layout, ready for repeated GEMMs.
template <class TB>
class PackedB {
 public:
  static constexpr DType kType = dtype_of<TB>::value;

  PackedB() = default;
  /// Packs row-major src[K][ldb] (columns [0, N)). `storage` is reused when it is large
  /// enough (see release()), so repeated packing skips the allocation and its page faults.
  PackedB(const TB* src, std::int64_t ldb, std::int64_t K, std::int64_t N,
          AlignedBuffer<TB> storage = {})
      : K_(K), N_(N), data_(std::move(storage)) {
    if (K < 0 || N < 0) medkern::detail::throw_shape("pack_b: sizes K=", K, ", N=", N, " must be non-negative");
    if (ldb < N) medkern::detail::throw_shape("pack_b: ldb ", ldb, " must be >= N ", N);
    // A narrow B (N < 64) gets panels only as wide as it needs, in whole vectors, so no
    // bandwidth goes to padding columns (bench: gemm_f32 13824x864x32).
    width_ = std::min(kPanel, std::max<std::int64_t>(16, (N + 15) / 16 * 16));
    panels_ = (N + width_ - 1) / width_;
    panel_elems_ = kb::packed_b_elems(kType, K, width_);
    const std::int64_t elems = medkern::detail::checked_mul(panels_, panel_elems_, "pack_b");
    if (data_.size() < elems) data_.allocate(elems);
    parallel_tasks(panels_, [&](std::int64_t p) {
      const std::int64_t n0 = p * width_, n = std::min(width_, N - n0);
      kb::pack_b(src + n0, ldb, K, n, width_, data_.data() + p * panel_elems_);
    });
  }

  std::int64_t K() const noexcept { return K_; }
  std::int64_t N() const noexcept { return N_; }
  std::int64_t panels() const noexcept { return panels_; }
  /// Columns per panel (the packed ldb): kPanel, or less for a narrow B.
  std::int64_t width() const noexcept { return width_; }
  /// Panel p, positioned at K row k (k a multiple of the dtype's K group).
  const TB* panel(std::int64_t p, std::int64_t k) const noexcept {
    return data_.data() + p * panel_elems_ + (k / kb::k_group(kType)) * width_ * kb::k_group(kType);
  }
  std::int64_t bytes() const noexcept { return panels_ * panel_elems_ * std::int64_t(sizeof(TB)); }
  /// Gives the storage back for reuse by a later PackedB.
  AlignedBuffer<TB> release() noexcept { return std::move(data_); }

 private:
  std::int64_t K_ = 0, N_ = 0, width_ = kPanel, panels_ = 0, panel_elems_ = 0;
  AlignedBuffer<TB> data_;
};

namespace detail {

template <class TA, class TB, class TC>
kb::BrgemmDesc gemm_desc(std::int64_t lda, std::int64_t ldb, std::int64_t ldc) {
  kb::BrgemmDesc d;
  d.a_type = dtype_of<TA>::value;
  d.b_type = dtype_of<TB>::value;
  d.c_type = dtype_of<TC>::value;
  d.lda = lda;
  d.ldb = ldb;
  d.ldc = ldc;
  return d;
}

}  // namespace detail

/// C = post(A * B) with B prepacked. A: M x K (lda), C: M x N (ldc). Validates, then runs.
template <class TA, class TB, class TC>
void gemm(std::int64_t M, const TA* a, std::int64_t lda, const PackedB<TB>& b, TC* c,
          std::int64_t ldc, const PostOps& post = {}) {
  const std::int64_t K = b.K(), N = b.N();
  if (M < 0) medkern::detail::throw_shape("gemm: M ", M, " must be non-negative");
  if (lda < K) medkern::detail::throw_shape("gemm: lda ", lda, " must be >= K ", K);
  if (ldc < N) medkern::detail::throw_shape("gemm: ldc ", ldc, " must be >= N ", N);
  if (post.sums() > 0)
    medkern::detail::throw_unsupported("gemm: sum post-ops (", kernels::post_ops_str(post),
                                       ") are not fused into a GEMM; add the residual after it");
  kb::BrgemmDesc proto = detail::gemm_desc<TA, TB, TC>(lda, b.width(), ldc);
  proto.post = post;
  const kb::BrgemmRow* row = select(kb::kRegistry, proto, active_isa());
  if (row == nullptr)
    medkern::detail::throw_unsupported("gemm: no kernel for ", dtype_name(proto.a_type),
                                       " x ", dtype_name(proto.b_type), " -> ",
                                       dtype_name(proto.c_type), " with post-ops ",
                                       kernels::post_ops_str(post));
  if (M == 0 || N == 0) return;
  VerboseScope vs("gemm", row->name, [&] {
    return medkern::detail::concat("M=", M, ",N=", N, ",K=", K, ",threads=", num_threads());
  });
  // Chunks along K bound the L2 footprint of a panel; a multiple of 4 so bf16 pairs and s8
  // quads never straddle a chunk.
  const std::int64_t kc = K == 0 ? 1 : std::min(K, kKc);
  const std::int64_t k_chunks = K == 0 ? 1 : (K + kc - 1) / kc;
  const std::int64_t m_blocks = (M + kMc - 1) / kMc;
  // Panels are visited in groups that fit half of L2 together: a thread runs every A block
  // of its range against one group before moving on, so B is read from memory once per
  // group range and A once per group instead of once per panel.
  const std::int64_t panel_bytes =
      std::max<std::int64_t>(1, std::min(K, kc) * b.width() * std::int64_t(sizeof(TB)));
  const std::int64_t group =
      std::clamp<std::int64_t>(cache_bytes(2, 1 << 20) / 2 / panel_bytes, 1, b.panels());
  const std::int64_t groups = (b.panels() + group - 1) / group;
  parallel_for_2d(m_blocks, groups, [&](std::int64_t i0, std::int64_t i1, std::int64_t g0,
                                        std::int64_t g1) {
    kb::BrgemmDesc d = proto;
    for (std::int64_t g = g0; g < g1; ++g)
      for (std::int64_t mb = i0; mb < i1; ++mb)
        for (std::int64_t p = g * group; p < std::min(b.panels(), (g + 1) * group); ++p) {
          const std::int64_t m0 = mb * kMc, n0 = p * b.width();
          d.M = std::min(kMc, M - m0);
          d.N = std::min(b.width(), N - n0);
          for (std::int64_t kk = 0; kk < k_chunks; ++kk) {
            const std::int64_t k0 = kk * kc;
            d.K = std::min(kc, K - k0);
            d.accumulate = kk > 0;
            d.post = kk + 1 == k_chunks ? post.shifted(n0) : PostOps{};
            const void* pa = a + m0 * lda + k0;
            const void* pb = b.panel(p, k0);
            row->run(d, 1, &pa, &pb, c + m0 * ldc + n0);
          }
        }
  });
}

}  // namespace medkern::ops
