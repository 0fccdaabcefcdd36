// medkern/ops/softmax.hpp — numerically stable softmax of an f32 tensor along any dimension.
//
// The tensor is viewed as (outer, L, inner) around dimension `dim` (negative counts from the
// end). Along the channel dimension of NCHW (inner = H*W) kernels vectorise across pixels.
// dst may be src itself (in place) or a separate array of the same shape; partial overlap is
// an error. Parallel over (outer, run of inner positions); results do not depend on threads.
#pragma once

#include <algorithm>
#include <cstdint>

#include "medkern/core/dispatch.hpp"
#include "medkern/core/error.hpp"
#include "medkern/core/tensor.hpp"
#include "medkern/core/threading.hpp"
#include "medkern/core/verbose.hpp"
#include "medkern/kernels/softmax/registry.hpp"
#include "medkern/ops/dataflow_checks.hpp"

namespace medkern::ops {

namespace ksm = medkern::kernels::softmax;

inline void softmax(const TensorView& src, const TensorView& dst, int dim) {
  using medkern::detail::throw_shape;
  constexpr const char* op = "softmax";
  if (src.rank < 1) throw_shape(op, ": input must have at least one dimension");
  dataflow_detail::check_tensor(op, "input", src, src.rank);
  if (dim < -src.rank || dim >= src.rank)
    throw_shape(op, ": dim ", dim, " out of range for a ", src.rank, "-D input (shape ",
                src.shape_str(), ")");
  if (dim < 0) dim += src.rank;
  dataflow_detail::check_dst(op, src, dst, dataflow_detail::shape_of(src), /*may_alias=*/true);
  ksm::SoftmaxDesc d;
  for (int i = 0; i < dim; ++i) d.outer *= src.shape[std::size_t(i)];
  d.L = src.shape[std::size_t(dim)];
  for (int i = dim + 1; i < src.rank; ++i) d.inner *= src.shape[std::size_t(i)];
  if (src.numel() == 0) return;
  const ksm::SoftmaxRow* row = select(ksm::kRegistry, d, active_isa());
  if (row == nullptr) medkern::detail::throw_unsupported(op, ": no kernel for ", ksm::describe(d));
  VerboseScope vs(op, row->name, [&] {
    return medkern::detail::concat(ksm::describe(d), ",src=", src.shape_str(), ",dim=", dim,
                                   ",threads=", num_threads());
  });
  // Tasks of ~16 K elements: chunks of inner positions (multiples of 64), or whole rows.
  const std::int64_t chunk =
      d.inner == 1 ? 1 : std::max<std::int64_t>(64, (16 * 1024) / d.L / 64 * 64);
  const std::int64_t chunks = (d.inner + chunk - 1) / chunk;
  const std::int64_t grain = std::max<std::int64_t>(1, (16 * 1024) / (d.L * std::min(chunk, d.inner)));
  const float* sp = src.ptr<const float>();
  float* dp = dst.ptr<float>();
  const ksm::SoftmaxFn run = row->run;
  parallel_for_1d(d.outer * chunks, grain, [&](std::int64_t t0, std::int64_t t1) {
    for (std::int64_t t = t0; t < t1; ++t) {
      const std::int64_t o = t / chunks, c = t % chunks;
      run(d, sp, dp, o, c * chunk, std::min(d.inner, (c + 1) * chunk));
    }
  });
}

}  // namespace medkern::ops
