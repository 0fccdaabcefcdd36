// medkern/ops/resample.hpp — nearest / bilinear / trilinear resampling of NCHW and NCDHW f32
// with torch.nn.functional.interpolate's conventions (kernels/resample/ref.hpp).
//
// The output size is dst's shape; `scales` carries the user's scale_factor per spatial
// dimension (0: none), which torch uses for the source coordinates instead of in/out when
// align_corners is false (or for nearest). Linear mode on a 4-D tensor is bilinear, on a 5-D
// tensor trilinear. Rules checked (ShapeError): rank 4 or 5, f32, C-contiguous, spatial
// input and output sizes >= 1, N and C equal, scales >= 0.
// Parallel over (plane, run of output rows); each output is written by one task.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "medkern/core/dispatch.hpp"
#include "medkern/core/error.hpp"
#include "medkern/core/tensor.hpp"
#include "medkern/core/threading.hpp"
#include "medkern/core/verbose.hpp"
#include "medkern/kernels/resample/registry.hpp"
#include "medkern/ops/dataflow_checks.hpp"

namespace medkern::ops {

namespace krs = medkern::kernels::resample;

/// Resamples `src` (N, C, [D,] H, W) into `dst` (N, C, [OD,] OH, OW).
inline void resample(const TensorView& src, const TensorView& dst, krs::Mode mode,
                     bool align_corners = false, std::vector<double> scales = {}) {
  using medkern::detail::throw_shape;
  const bool three = src.rank == 5;
  const char* op = "interpolate";
  dataflow_detail::check_tensor(op, "input", src, 4, 5);
  const int sr = src.rank - 2, off = 3 - sr;
  if (scales.empty()) scales.assign(std::size_t(sr), 0.0);
  if (int(scales.size()) != sr)
    throw_shape(op, ": ", scales.size(), " scale factors for ", sr, " spatial dimensions");
  std::vector<std::int64_t> want = dataflow_detail::shape_of(src);
  if (dst.rank != src.rank)
    throw_shape(op, ": out rank ", dst.rank, " must equal input rank ", src.rank);
  krs::ResampleDesc d;
  d.mode = mode;
  for (int x = 0; x < sr; ++x) {
    const std::int64_t in = src.shape[std::size_t(2 + x)], out = dst.shape[std::size_t(2 + x)];
    if (in < 1)
      throw_shape(op, ": input spatial dimension ", x, " is ", in, ", must be >= 1 (input ",
                  src.shape_str(), ")");
    if (out < 1)
      throw_shape(op, ": output size ", out, " of spatial dimension ", x, " must be >= 1");
    if (!(scales[std::size_t(x)] >= 0.0))
      throw_shape(op, ": scale factor ", scales[std::size_t(x)], " must be positive");
    if (in >= (std::int64_t(1) << 31) || out >= (std::int64_t(1) << 31))
      throw_shape(op, ": spatial size ", std::max(in, out), " exceeds 2^31 - 1");
    d.in[off + x] = in;
    d.out[off + x] = out;
    want[std::size_t(2 + x)] = out;
  }
  dataflow_detail::check_dst(op, src, dst, want);
  const std::int64_t planes = src.shape[0] * src.shape[1];
  if (planes == 0) return;

  // Per-dimension source tables (struct of arrays), shared read-only by every task.
  std::vector<std::int32_t> i0[3], i1[3];
  std::vector<float> l0[3], l1[3];
  for (int x = 0; x < 3; ++x) {
    const std::int64_t n = d.out[x];
    i0[x].resize(std::size_t(n));
    i1[x].resize(std::size_t(n));
    l0[x].resize(std::size_t(n));
    l1[x].resize(std::size_t(n));
    const double sc = x >= off ? scales[std::size_t(x - off)] : 0.0;
    for (std::int64_t i = 0; i < n; ++i) {
      const krs::Source s = mode == krs::Mode::nearest
                                ? krs::nearest_source(i, d.in[x], n, sc)
                                : krs::linear_source(i, d.in[x], n, align_corners, sc);
      i0[x][std::size_t(i)] = s.i0;
      i1[x][std::size_t(i)] = s.i1;
      l0[x][std::size_t(i)] = s.l0;
      l1[x][std::size_t(i)] = s.l1;
    }
    d.axis[x] = krs::Axis{i0[x].data(), i1[x].data(), l0[x].data(), l1[x].data()};
  }
  const krs::ResampleRow* row = select(krs::kRegistry, d, active_isa());
  if (row == nullptr) medkern::detail::throw_unsupported(op, ": no kernel for ", krs::describe(d));
  VerboseScope vs(op, row->name, [&] {
    return medkern::detail::concat(mode == krs::Mode::nearest ? "nearest" : (three ? "trilinear" : "bilinear"),
                                   align_corners ? ",align_corners" : "", ",src=", src.shape_str(),
                                   ",dst=", dst.shape_str(), ",threads=", num_threads());
  });
  const std::int64_t rows = d.rows(), OW = d.out[2], W = d.in[2];
  const std::int64_t grain = std::max<std::int64_t>(1, (16 * 1024) / std::max<std::int64_t>(OW, W));
  const std::int64_t in_plane = d.in[0] * d.in[1] * W, out_plane = rows * OW;
  const float* sp = src.ptr<const float>();
  float* dp = dst.ptr<float>();
  const krs::ResampleFn run = row->run;
  parallel_for_1d(planes * rows, grain, [&](std::int64_t t0, std::int64_t t1) {
    std::vector<float> scratch(static_cast<std::size_t>(W));  // one row of vertically blended inputs
    while (t0 < t1) {
      const std::int64_t p = t0 / rows, r0 = t0 % rows;
      const std::int64_t r1 = std::min(rows, r0 + (t1 - t0));
      run(d, sp + p * in_plane, dp + p * out_plane, r0, r1, scratch.data());
      t0 += r1 - r0;
    }
  });
}

}  // namespace medkern::ops
