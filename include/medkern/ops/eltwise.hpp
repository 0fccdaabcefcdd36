// medkern/ops/eltwise.hpp — a post-op chain (folded batch norm, bias, scale, eltwise, prelu)
// applied on its own to a planar (N, C, spatial...) f32 tensor: the batch norm + activation
// that no convolution absorbed (DenseNet's BN-ReLU on a concat, pre-activation blocks).
//
// Per (image, channel) plane, in chunks of kEltwiseChunk floats in parallel: the chunk is
// copied into dst (unless in place) and the chain's row kernel (kernels/post_ops_row.hpp)
// runs on it while it is in L1, so each value is read and written once whatever the chain's
// length. Per-channel data is indexed by channel; sums are not taken here (the residual's
// geometry belongs to a convolution's output).
#pragma once

#include <cstdint>
#include <cstring>

#include "medkern/core/dispatch.hpp"
#include "medkern/core/error.hpp"
#include "medkern/core/tensor.hpp"
#include "medkern/core/threading.hpp"
#include "medkern/kernels/post_ops_row.hpp"

namespace medkern::ops {

/// Floats per task: an L1-sized piece of a plane.
inline constexpr std::int64_t kEltwiseChunk = 4096;

/// dst = chain(src), channel c of both taking the chain's per-channel data at c. src and dst:
/// f32, the same shape (N, C, spatial...) with rank >= 2, the dimensions after C
/// C-contiguous, any strides along N and C; dst is src or does not overlap it.
inline void apply_post_ops(const TensorView& src, const TensorView& dst,
                           const kernels::PostOps& chain) {
  using i64 = std::int64_t;
  const char* op = "post_ops";
  if (src.dtype != DType::f32 || dst.dtype != DType::f32)
    detail::throw_shape(op, ": tensors must be float32, got ", dtype_name(src.dtype), " -> ",
                        dtype_name(dst.dtype));
  if (src.rank < 2 || src.rank != dst.rank)
    detail::throw_shape(op, ": input ", src.shape_str(), " and output ", dst.shape_str(),
                        " must have the same rank >= 2 (N, C, spatial...)");
  i64 S = 1;
  for (int i = 0; i < src.rank; ++i) {
    if (src.shape[std::size_t(i)] != dst.shape[std::size_t(i)])
      detail::throw_shape(op, ": output shape ", dst.shape_str(), " must equal the input's ",
                          src.shape_str());
    if (i >= 2) S *= src.shape[std::size_t(i)];
  }
  for (const TensorView* t : {&src, &dst}) {
    i64 want = 4;
    for (int i = t->rank - 1; i >= 2; --i) {
      if (t->shape[std::size_t(i)] > 1 && t->strides[std::size_t(i)] != want)
        detail::throw_shape(op, ": the dimensions after C must be C-contiguous (shape ",
                            t->shape_str(), ")");
      want *= t->shape[std::size_t(i)];
    }
  }
  // dst is src or apart from it: chunks are copied as they run
  if (src.data != dst.data && overlap(src, dst))
    detail::throw_shape(op, ": the output must be the input itself or not overlap it");
  for (const kernels::PostOp& p : chain)
    if (p.kind == kernels::PostOpKind::sum)
      detail::throw_unsupported(op, ": a sum post-op needs a convolution's output geometry");
  const i64 N = src.shape[0], C = src.shape[1];
  if (N * C * S == 0) return;
  const auto* row = select(kernels::kPostRowRegistry, kernels::PostOps{}, active_isa());
  const i64 per_plane = (S + kEltwiseChunk - 1) / kEltwiseChunk;
  parallel_for_1d(N * C * per_plane, 4, [&](i64 t0, i64 t1) {
    for (i64 t = t0; t < t1; ++t) {
      const i64 k = t % per_plane, c = (t / per_plane) % C, n = t / (per_plane * C);
      const i64 i0 = k * kEltwiseChunk, len = std::min(kEltwiseChunk, S - i0);
      const float* s = reinterpret_cast<const float*>(static_cast<const char*>(src.data) +
                                                      n * src.strides[0] + c * src.strides[1]) +
                       i0;
      float* d = reinterpret_cast<float*>(static_cast<char*>(dst.data) + n * dst.strides[0] +
                                          c * dst.strides[1]) +
                 i0;
      if (d != s) std::memcpy(d, s, std::size_t(len) * sizeof(float));
      if (chain.count > 0) row->run(chain, c, d, len);
    }
  });
}

}  // namespace medkern::ops
