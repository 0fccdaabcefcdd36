// medkern/ops/pool.hpp — max / average / adaptive average pooling on NCHW and NCDHW f32,
// with torch.nn.functional's semantics (see kernels/pool/ref.hpp for the window rules).
//
//     PoolSpec s = PoolSpec::max(2, {2, 2});          // 2x2, stride = kernel
//     auto out_shape = pool_output_shape(src, s);     // validates
//     pool(src, dst, s);
//
// Output size per spatial dimension (torch's pooling_output_shape):
//   out = floor_or_ceil((in + 2 pad - dilation (k - 1) - 1) / stride) + 1, and with ceil_mode
//   the last window must start inside the input or the left padding:
//   if (out - 1) * stride >= in + pad then out -= 1.
// Rules checked (ShapeError): rank 4 (2-D) or 5 (3-D); kernel, stride, dilation >= 1;
// 0 <= pad <= kernel / 2; spatial input sizes >= 1; every output size >= 1 (else the kernel
// is larger than the padded input); divisor_override >= 1 when given; adaptive output
// sizes >= 1; for 3-D average pooling (as torch) also unpadded input >= kernel. Work runs
// in parallel over (plane, run of output rows) tasks; each output is written by exactly
// one task, so results do not depend on the thread count.
//
// pool_blocked: max and average pooling of channel-blocked tensors (nChw16c / nCdhw16c,
// (N, ceil(C/16), [D,] H, W, 16)), the same rules per channel; src and dst C-contiguous from
// the spatial dimensions on with any strides along N and the block dimension (a block slice
// of a concat buffer reads in place). Padding lanes stay zero.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "medkern/core/dispatch.hpp"
#include "medkern/core/error.hpp"
#include "medkern/core/tensor.hpp"
#include "medkern/core/threading.hpp"
#include "medkern/core/verbose.hpp"
#include "medkern/kernels/pool/registry.hpp"
#include "medkern/ops/dataflow_checks.hpp"

namespace medkern::ops {

namespace kp = medkern::kernels::pool;

/// A pooling request. Arrays hold one entry per spatial dimension (2 or 3), outermost first.
struct PoolSpec {
  kp::Kind kind = kp::Kind::max;
  int spatial = 2;
  std::vector<std::int64_t> kernel, stride, padding, dilation;
  bool ceil_mode = false;
  bool count_include_pad = true;
  std::int64_t divisor_override = 0;  ///< 0: none
  std::vector<std::int64_t> output_size;  ///< adaptive pooling only

  static PoolSpec max(int spatial, std::vector<std::int64_t> kernel) {
    PoolSpec s;
    s.kind = kp::Kind::max;
    s.spatial = spatial;
    s.kernel = kernel;
    s.stride = kernel;
    s.padding.assign(std::size_t(spatial), 0);
    s.dilation.assign(std::size_t(spatial), 1);
    return s;
  }
  static PoolSpec avg(int spatial, std::vector<std::int64_t> kernel) {
    PoolSpec s = max(spatial, std::move(kernel));
    s.kind = kp::Kind::avg;
    return s;
  }
  static PoolSpec adaptive_avg(int spatial, std::vector<std::int64_t> output_size) {
    PoolSpec s;
    s.kind = kp::Kind::adaptive_avg;
    s.spatial = spatial;
    s.output_size = std::move(output_size);
    return s;
  }
};

namespace pool_detail {

inline const char* op_name(const PoolSpec& s) {
  const bool three = s.spatial == 3;
  switch (s.kind) {
    case kp::Kind::max: return three ? "max_pool3d" : "max_pool2d";
    case kp::Kind::avg: return three ? "avg_pool3d" : "avg_pool2d";
    case kp::Kind::adaptive_avg: return three ? "adaptive_avg_pool3d" : "adaptive_avg_pool2d";
  }
  return "pool";
}

inline std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/// Validates `spec` against input shape `in` and fills the kernel descriptor.
inline kp::PoolDesc make_desc(const TensorView& src, const PoolSpec& s) {
  using medkern::detail::throw_shape;
  const char* op = op_name(s);
  if (s.spatial != 2 && s.spatial != 3) throw_shape("pool: spatial rank ", s.spatial, " must be 2 or 3");
  dataflow_detail::check_tensor(op, "input", src, 2 + s.spatial);
  const std::size_t n = std::size_t(s.spatial);
  kp::PoolDesc d;
  d.kind = s.kind;
  const int off = 3 - s.spatial;  // 2-D fills h, w
  for (std::size_t x = 0; x < n; ++x) {
    const std::int64_t in = src.shape[2 + x];
    if (in < 1)
      throw_shape(op, ": input spatial dimension ", x, " is ", in, ", must be >= 1 (input ",
                  src.shape_str(), ")");
    d.in[off + x] = in;
  }
  if (s.kind == kp::Kind::adaptive_avg) {
    if (s.output_size.size() != n)
      throw_shape(op, ": output_size has ", s.output_size.size(), " entries, must have ", n);
    for (std::size_t x = 0; x < n; ++x) {
      if (s.output_size[x] < 1)
        throw_shape(op, ": output_size[", x, "] is ", s.output_size[x], ", must be >= 1");
      d.out[off + x] = s.output_size[x];
    }
    return d;
  }
  const auto need = [&](const std::vector<std::int64_t>& v, const char* what) {
    if (v.size() != n) throw_shape(op, ": ", what, " has ", v.size(), " entries, must have ", n);
  };
  need(s.kernel, "kernel_size");
  need(s.stride, "stride");
  need(s.padding, "padding");
  need(s.dilation, "dilation");
  for (std::size_t x = 0; x < n; ++x) {
    const std::int64_t k = s.kernel[x], st = s.stride[x], p = s.padding[x], dl = s.dilation[x];
    if (k < 1) throw_shape(op, ": kernel_size[", x, "] is ", k, ", must be >= 1");
    if (st < 1) throw_shape(op, ": stride[", x, "] is ", st, ", must be >= 1");
    if (dl < 1) throw_shape(op, ": dilation[", x, "] is ", dl, ", must be >= 1");
    if (s.kind == kp::Kind::avg && dl != 1)
      throw_shape(op, ": dilation[", x, "] is ", dl, ", average pooling has no dilation");
    if (p < 0) throw_shape(op, ": padding[", x, "] is ", p, ", must be >= 0");
    if (p > k / 2)
      throw_shape(op, ": padding[", x, "] = ", p, " must be at most half of kernel_size[", x,
                  "] = ", k);
    const std::int64_t in = d.in[off + x];
    if (s.kind == kp::Kind::avg && s.spatial == 3 && in < k)  // torch's avg_pool3d rule
      throw_shape(op, ": input size ", in, " of spatial dimension ", x, " is smaller than ",
                  "kernel_size[", x, "] = ", k, " (input ", src.shape_str(),
                  "); 3-D average pooling needs the unpadded input to hold the kernel");
    std::int64_t o =
        floor_div(in + 2 * p - dl * (k - 1) - 1 + (s.ceil_mode ? st - 1 : 0), st) + 1;
    if (s.ceil_mode && (o - 1) * st >= in + p) --o;
    if (o < 1)
      throw_shape(op, ": kernel_size[", x, "] = ", k, " (dilation ", dl, ") is larger than the ",
                  "padded input (size ", in, " + 2 x padding ", p, "); output size would be ",
                  o, " (input ", src.shape_str(), ")");
    d.k[off + x] = k;
    d.stride[off + x] = st;
    d.pad[off + x] = p;
    d.dilation[off + x] = dl;
    d.out[off + x] = o;
  }
  if (s.divisor_override < 0)
    throw_shape(op, ": divisor_override is ", s.divisor_override, ", must be >= 1");
  d.count_include_pad = s.count_include_pad;
  d.divisor_override = s.divisor_override;
  return d;
}

}  // namespace pool_detail

/// Output shape of pooling `src` with `spec` (validates both).
inline std::vector<std::int64_t> pool_output_shape(const TensorView& src, const PoolSpec& spec) {
  const kp::PoolDesc d = pool_detail::make_desc(src, spec);
  std::vector<std::int64_t> out{src.shape[0], src.shape[1]};
  for (int x = 3 - spec.spatial; x < 3; ++x) out.push_back(d.out[x]);
  return out;
}

/// Pools `src` (N, C, [D,] H, W) into `dst`, whose shape must be pool_output_shape().
inline void pool(const TensorView& src, const TensorView& dst, const PoolSpec& spec) {
  const char* op = pool_detail::op_name(spec);
  const kp::PoolDesc d = pool_detail::make_desc(src, spec);
  dataflow_detail::check_dst(op, src, dst, pool_output_shape(src, spec));
  const std::int64_t planes = src.shape[0] * src.shape[1];
  if (planes == 0) return;
  const kp::PoolRow* row = select(kp::kRegistry, d, active_isa());
  if (row == nullptr)
    medkern::detail::throw_unsupported(op, ": no kernel for ", kp::describe(d));
  VerboseScope vs(op, row->name, [&] {
    return medkern::detail::concat(kp::describe(d), ",src=", src.shape_str(),
                                   ",threads=", num_threads());
  });
  const std::int64_t rows = d.rows(), ow = d.out[2];
  // ~32 K input reads per task: the window taps of a row times its outputs.
  const std::int64_t taps = spec.kind == kp::Kind::adaptive_avg
                                ? (d.in_plane() + d.out_plane() - 1) / d.out_plane()
                                : d.k[0] * d.k[1] * d.k[2];
  const std::int64_t row_work = std::max<std::int64_t>(1, ow * taps);
  const std::int64_t grain = std::max<std::int64_t>(1, (32 * 1024) / row_work);
  const float* sp = src.ptr<const float>();
  float* dp = dst.ptr<float>();
  const kp::PoolFn run = row->run;
  const std::int64_t in_plane = d.in_plane(), out_plane = d.out_plane();
  parallel_for_1d(planes * rows, grain, [&](std::int64_t t0, std::int64_t t1) {
    while (t0 < t1) {
      const std::int64_t p = t0 / rows, r0 = t0 % rows;
      const std::int64_t r1 = std::min(rows, r0 + (t1 - t0));
      run(d, sp + p * in_plane, dp + p * out_plane, r0, r1);
      t0 += r1 - r0;
    }
  });
}

namespace pool_detail {

/// Checks a blocked tensor (rank spatial + 3, f32, last dimension 16, contiguous from the
/// spatial dimensions on, strides multiples of 4 bytes).
inline void check_blocked(const char* op, const char* name, const TensorView& t, int spatial) {
  using medkern::detail::throw_shape;
  bool ok = t.rank == spatial + 3 && t.dtype == DType::f32 &&
            t.shape[std::size_t(t.rank - 1)] == 16;
  std::int64_t s = 4;
  for (int i = t.rank - 1; ok && i >= 2; --i) {
    ok = t.shape[std::size_t(i)] == 1 || t.strides[std::size_t(i)] == s;
    s *= t.shape[std::size_t(i)];
  }
  for (int i = 0; ok && i < 2; ++i) ok = t.strides[std::size_t(i)] % 4 == 0;
  if (!ok)
    throw_shape(op, ": blocked ", name, " must be f32 (N, ceil(C/16), ", spatial == 3 ? "D, " : "",
                "H, W, 16) contiguous from the spatial dimensions on, got ",
                dtype_name(t.dtype), " ", t.shape_str());
  for (int i = 0; i < t.rank; ++i)
    if (t.shape[std::size_t(i)] < 0)
      throw_shape(op, ": blocked ", name, " dimension ", i, " is negative (", t.shape_str(), ")");
  if (t.numel() != 0 && t.data == nullptr)
    throw_shape(op, ": blocked ", name, " data is null for a ", t.shape_str(), " tensor");
}

/// The descriptor of pooling blocked `src` (validated as its planar equivalent).
inline kp::PoolDesc make_blocked_desc(const TensorView& src, const PoolSpec& s) {
  const char* op = op_name(s);
  if (s.kind == kp::Kind::adaptive_avg)
    medkern::detail::throw_unsupported(op, ": the blocked layout has max and average pooling "
                                       "only");
  if (s.spatial != 2 && s.spatial != 3)
    medkern::detail::throw_shape("pool: spatial rank ", s.spatial, " must be 2 or 3");
  check_blocked(op, "input", src, s.spatial);
  TensorView p = src;  // the logical planar tensor, contiguous: what make_desc validates
  p.rank = src.rank - 1;
  p.shape[1] = src.shape[1] * 16;
  p.set_contiguous_strides();
  if (p.data == nullptr) p.data = reinterpret_cast<void*>(std::uintptr_t(64));  // empty input
  return make_desc(p, s);
}

}  // namespace pool_detail

/// Output shape (N, Cb, [OD,] OH, OW, 16) of pooling blocked `src` (N, Cb, [D,] H, W, 16).
inline std::vector<std::int64_t> pool_blocked_output_shape(const TensorView& src,
                                                           const PoolSpec& spec) {
  const kp::PoolDesc d = pool_detail::make_blocked_desc(src, spec);
  std::vector<std::int64_t> out{src.shape[0], src.shape[1]};
  for (int x = 3 - spec.spatial; x < 3; ++x) out.push_back(d.out[x]);
  out.push_back(16);
  return out;
}

/// Pools blocked `src` into blocked `dst` (shape pool_blocked_output_shape(); see the file
/// comment for the layout rules). Max and average pooling.
inline void pool_blocked(const TensorView& src, const TensorView& dst, const PoolSpec& spec) {
  using medkern::detail::throw_shape;
  const char* op = pool_detail::op_name(spec);
  const kp::PoolDesc d = pool_detail::make_blocked_desc(src, spec);
  const std::vector<std::int64_t> want = pool_blocked_output_shape(src, spec);
  pool_detail::check_blocked(op, "output", dst, spec.spatial);
  if (dataflow_detail::shape_of(dst) != want)
    throw_shape(op, ": blocked output shape ", dst.shape_str(), " must be ",
                dataflow_detail::dims(want));
  if (medkern::overlap(src, dst)) throw_shape(op, ": out memory overlaps the input");
  const std::int64_t N = src.shape[0], CB = src.shape[1];
  if (N * CB == 0) return;
  const kp::PoolRow* row = select(kp::kRegistry, d, active_isa());
  if (row == nullptr) medkern::detail::throw_unsupported(op, ": no kernel for ", kp::describe(d));
  VerboseScope vs(op, row->name, [&] {
    return medkern::detail::concat(kp::describe(d), ",blocked,src=", src.shape_str(),
                                   ",threads=", num_threads());
  });
  const std::int64_t rows = d.rows();
  const std::int64_t row_work = std::max<std::int64_t>(1, d.out[2] * d.k[0] * d.k[1] * d.k[2]);
  const std::int64_t grain = std::max<std::int64_t>(1, (4 * 1024) / row_work);
  const char* sp = static_cast<const char*>(src.data);
  char* dp = static_cast<char*>(dst.data);
  const kp::PoolFn run = row->run_blocked;
  parallel_for_1d(N * CB * rows, grain, [&](std::int64_t t0, std::int64_t t1) {
    while (t0 < t1) {
      const std::int64_t p = t0 / rows, r0 = t0 % rows;
      const std::int64_t r1 = std::min(rows, r0 + (t1 - t0));
      const std::int64_t n = p / CB, cb = p % CB;
      run(d, reinterpret_cast<const float*>(sp + n * src.strides[0] + cb * src.strides[1]),
          reinterpret_cast<float*>(dp + n * dst.strides[0] + cb * dst.strides[1]), r0, r1);
      t0 += r1 - r0;
    }
  });
}

}  // namespace medkern::ops
