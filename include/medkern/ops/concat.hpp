// medkern/ops/concat.hpp — concatenation of any number of tensors, in parallel.
//
//   concat(inputs, dim, out)               any C-contiguous tensors of one dtype, along any
//                                          dimension: NCHW along C is dim 1, NHWC along C is
//                                          the last dimension.
//   concat_blocked(inputs, channels, out)  nChw16c / nCdhw16c tensors along C; channels[i]
//                                          is input i's real channel count (its padding lanes
//                                          are ignored); out holds ceil(sum/16) blocks with
//                                          zero padding lanes. Channel counts that are not
//                                          multiples of 16 shift the lanes of every later
//                                          input, which the repack kernel does in registers.
//   concat_channels(inputs, layout, out, channels)   dispatches on the layout.
// `out` is preallocated by the caller (the result of a following layer can live in it). All
// non-concat dimensions must match; out must have the concatenated shape and not overlap any
// input. Work is split into tasks of ~kConcatTaskBytes, each writing its own bytes.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "medkern/core/dispatch.hpp"
#include "medkern/core/error.hpp"
#include "medkern/core/tensor.hpp"
#include "medkern/core/threading.hpp"
#include "medkern/core/verbose.hpp"
#include "medkern/kernels/concat/registry.hpp"
#include "medkern/ops/dataflow_checks.hpp"
#include "medkern/ops/reorder.hpp"

namespace medkern::ops {

namespace kcat = medkern::kernels::concat;

/// Bytes per concat task: large against the ~1 us task overhead, small enough that a U-Net
/// skip concat (tens of MB) gives every thread many tasks to balance, and that the input
/// blocks a lane re-pack reads for two neighbouring output blocks stay in L2 between them
/// (512 KiB: 70-79% of a copy on 24 + 40 channels at 256x256, 256 KiB: 85-86%).
inline constexpr std::int64_t kConcatTaskBytes = 256 * 1024;

namespace concat_detail {

inline const kcat::ConcatRow& pick() {
  const kcat::ConcatRow* row = select(kcat::kRegistry, kcat::ConcatDesc{}, active_isa());
  if (row == nullptr) medkern::detail::throw_unsupported("cat: no concat kernel for this CPU");
  return *row;
}

inline void check_no_overlap(const std::vector<TensorView>& inputs, const TensorView& out) {
  for (std::size_t i = 0; i < inputs.size(); ++i)
    if (medkern::overlap(inputs[i], out))
      medkern::detail::throw_shape("cat: out memory overlaps input ", i);
}

}  // namespace concat_detail

/// Concatenates `inputs` along `dim` (negative counts from the end) into `out`.
inline void concat(const std::vector<TensorView>& inputs, int dim, const TensorView& out) {
  using medkern::detail::throw_shape;
  if (inputs.empty()) throw_shape("cat: needs at least one input tensor");
  const TensorView& a = inputs[0];
  const int rank = a.rank;
  if (rank < 1) throw_shape("cat: input 0 must have at least one dimension");
  if (dim < -rank || dim >= rank)
    throw_shape("cat: dim ", dim, " out of range for ", rank, "-D inputs");
  if (dim < 0) dim += rank;
  std::vector<std::int64_t> want = dataflow_detail::shape_of(a);
  want[std::size_t(dim)] = 0;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const TensorView& t = inputs[i];
    const std::string name = "input " + std::to_string(i);
    dataflow_detail::check_tensor("cat", name.c_str(), t, rank, -1, /*any_dtype=*/true);
    if (t.dtype != a.dtype)
      throw_shape("cat: input ", i, " dtype ", dtype_name(t.dtype), " differs from input 0 dtype ",
                  dtype_name(a.dtype));
    for (int k = 0; k < rank; ++k)
      if (k != dim && t.shape[std::size_t(k)] != a.shape[std::size_t(k)])
        throw_shape("cat: input ", i, " shape ", t.shape_str(), " differs from input 0 shape ",
                    a.shape_str(), " in dimension ", k, " (only dimension ", dim,
                    " may differ)");
    want[std::size_t(dim)] += t.shape[std::size_t(dim)];
  }
  dataflow_detail::check_dst("cat", a, out, want);
  concat_detail::check_no_overlap(inputs, out);
  if (out.numel() == 0) return;

  const std::int64_t es = std::int64_t(dtype_size(a.dtype));
  std::int64_t outer = 1, inner = es;
  for (int k = 0; k < dim; ++k) outer *= a.shape[std::size_t(k)];
  for (int k = dim + 1; k < rank; ++k) inner *= a.shape[std::size_t(k)];
  const std::int64_t out_row = want[std::size_t(dim)] * inner;  // bytes per outer index

  // Tasks: (input, run of outer rows, byte range of one row). A long row is cut into
  // kConcatTaskBytes pieces; short rows are grouped so a task still moves ~that much.
  struct Task {
    int input;
    std::int64_t o0, o1, b0, b1, dst_off;
  };
  std::vector<Task> tasks;
  std::int64_t off = 0;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const std::int64_t seg = inputs[i].shape[std::size_t(dim)] * inner;
    if (seg > 0) {
      if (seg >= kConcatTaskBytes) {
        for (std::int64_t o = 0; o < outer; ++o)
          for (std::int64_t b = 0; b < seg; b += kConcatTaskBytes)
            tasks.push_back({int(i), o, o + 1, b, std::min(seg, b + kConcatTaskBytes), off});
      } else {
        const std::int64_t per = std::max<std::int64_t>(1, kConcatTaskBytes / seg);
        for (std::int64_t o = 0; o < outer; o += per)
          tasks.push_back({int(i), o, std::min(outer, o + per), 0, seg, off});
      }
    }
    off += seg;
  }
  const kcat::ConcatRow& row = concat_detail::pick();
  VerboseScope vs("cat", row.name, [&] {
    std::string s = medkern::detail::concat("dim=", dim, ",inputs=", inputs.size(), ",out=",
                                            out.shape_str(), ",tasks=", tasks.size());
    return medkern::detail::concat(s, ",threads=", num_threads());
  });
  auto* dp = static_cast<char*>(out.data);
  const kcat::CopyFn copy = row.copy;
  // A concat smaller than two tasks' worth runs on the calling thread (no task spawn).
  const std::int64_t n_tasks = std::int64_t(tasks.size());
  const std::int64_t grain = dataflow_detail::bytes_of(out) < 2 * kConcatTaskBytes ? n_tasks : 1;
  parallel_for_1d(n_tasks, grain, [&](std::int64_t t0, std::int64_t t1) {
    for (std::int64_t t = t0; t < t1; ++t) {
      const Task& k = tasks[std::size_t(t)];
      const auto* sp = static_cast<const char*>(inputs[std::size_t(k.input)].data);
      const std::int64_t seg = inputs[std::size_t(k.input)].shape[std::size_t(dim)] * inner;
      if (k.b0 == 0 && k.b1 == seg && seg == out_row) {  // whole rows, contiguous both sides
        copy(dp + k.o0 * out_row, sp + k.o0 * seg, (k.o1 - k.o0) * seg);
        continue;
      }
      for (std::int64_t o = k.o0; o < k.o1; ++o)
        copy(dp + o * out_row + k.dst_off + k.b0, sp + o * seg + k.b0, k.b1 - k.b0);
    }
  });
}

/// Concatenates channel-blocked f32 tensors (N, Cb_i, [D,] H, W, 16) along channels;
/// channels[i] is input i's real channel count, ceil(channels[i] / 16) == Cb_i. out must be
/// (N, ceil(sum / 16), [D,] H, W, 16).
inline void concat_blocked(const std::vector<TensorView>& inputs,
                           const std::vector<std::int64_t>& channels, const TensorView& out) {
  using medkern::detail::throw_shape;
  if (inputs.empty()) throw_shape("cat_blocked: needs at least one input tensor");
  if (channels.size() != inputs.size())
    throw_shape("cat_blocked: ", channels.size(), " channel counts for ", inputs.size(),
                " inputs");
  const TensorView& a = inputs[0];
  const int rank = a.rank;
  std::int64_t total = 0;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const TensorView& t = inputs[i];
    const std::string name = "input " + std::to_string(i);
    dataflow_detail::check_tensor("cat_blocked", name.c_str(), t, 5, 6);
    if (t.rank != rank)
      throw_shape("cat_blocked: input ", i, " rank ", t.rank, " differs from input 0 rank ", rank);
    if (t.shape[std::size_t(rank - 1)] != kcat::kLanes)
      throw_shape("cat_blocked: input ", i, " last dimension ", t.shape[std::size_t(rank - 1)],
                  " must be 16 (blocked layout, shape ", t.shape_str(), ")");
    if (channels[i] < 0 || (channels[i] + 15) / 16 != t.shape[1])
      throw_shape("cat_blocked: channels[", i, "] = ", channels[i], " does not fit input ", i,
                  " with ", t.shape[1], " blocks of 16 (shape ", t.shape_str(), ")");
    for (int k = 0; k < rank; ++k)
      if (k != 1 && t.shape[std::size_t(k)] != a.shape[std::size_t(k)])
        throw_shape("cat_blocked: input ", i, " shape ", t.shape_str(),
                    " differs from input 0 shape ", a.shape_str(), " in dimension ", k,
                    " (only the channel blocks may differ)");
    total += channels[i];
  }
  std::vector<std::int64_t> want = dataflow_detail::shape_of(a);
  want[1] = (total + 15) / 16;
  dataflow_detail::check_dst("cat_blocked", a, out, want);
  concat_detail::check_no_overlap(inputs, out);
  if (out.numel() == 0) return;

  const std::int64_t N = a.shape[0];
  std::int64_t S = 1;
  for (int k = 2; k < rank - 1; ++k) S *= a.shape[std::size_t(k)];
  const std::int64_t out_blocks = want[1];
  // Pieces of every output block: (input, input block, src lane, dst lane, lanes).
  struct PieceRef {
    int input;
    std::int64_t block;
    int src_lane, dst_lane, lanes;
  };
  std::vector<std::vector<PieceRef>> pieces(static_cast<std::size_t>(out_blocks));
  std::int64_t c0 = 0;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    for (std::int64_t c = 0; c < channels[i];) {
      const std::int64_t oc = c0 + c;
      const int src_lane = int(c % 16), dst_lane = int(oc % 16);
      const int n = int(std::min<std::int64_t>({16 - src_lane, 16 - dst_lane, channels[i] - c}));
      pieces[std::size_t(oc / 16)].push_back({int(i), c / 16, src_lane, dst_lane, n});
      c += n;
    }
    c0 += channels[i];
  }
  const kcat::ConcatRow& row = concat_detail::pick();
  VerboseScope vs("cat_blocked", row.name, [&] {
    return medkern::detail::concat("inputs=", inputs.size(), ",channels=", total, ",out=",
                                   out.shape_str(), ",threads=", num_threads());
  });
  const std::int64_t block_floats = S * kcat::kLanes;
  const std::int64_t s_chunk =
      std::max<std::int64_t>(16, kConcatTaskBytes / std::int64_t(sizeof(float) * kcat::kLanes));
  const std::int64_t chunks = (S + s_chunk - 1) / s_chunk;
  float* dp = out.ptr<float>();
  const kcat::CopyFn copy = row.copy;
  const kcat::RepackFn repack = row.repack;
  const std::int64_t n_tasks = N * out_blocks * chunks;
  const std::int64_t grain = dataflow_detail::bytes_of(out) < 2 * kConcatTaskBytes ? n_tasks : 1;
  parallel_for_1d(n_tasks, grain, [&](std::int64_t t0, std::int64_t t1) {
    for (std::int64_t t = t0; t < t1; ++t) {
      // Output blocks innermost: blocks whose lanes come from the same input block (channel
      // counts off the 16 grid) read it in consecutive tasks, the second time from cache.
      const std::int64_t ob = t % out_blocks, k = (t / out_blocks) % chunks;
      const std::int64_t n = t / (out_blocks * chunks);
      const std::int64_t s0 = k * s_chunk, s1 = std::min(S, s0 + s_chunk);
      const auto& ps = pieces[std::size_t(ob)];
      float* dst = dp + (n * out_blocks + ob) * block_floats;
      std::array<kcat::LanePiece, kcat::kLanes> lp;
      for (std::size_t p = 0; p < ps.size(); ++p) {
        const TensorView& in = inputs[std::size_t(ps[p].input)];
        lp[p].src = in.ptr<const float>() + (n * in.shape[1] + ps[p].block) * block_floats;
        lp[p].src_lane = ps[p].src_lane;
        lp[p].dst_lane = ps[p].dst_lane;
        lp[p].lanes = ps[p].lanes;
      }
      const bool whole = ps.size() == 1 && ps[0].lanes == 16;  // a block moves as it is
      if (whole)
        copy(dst + s0 * kcat::kLanes, lp[0].src + s0 * kcat::kLanes,
             (s1 - s0) * kcat::kLanes * std::int64_t(sizeof(float)));
      else
        repack(lp.data(), int(ps.size()), dst, s0, s1);
    }
  });
}

/// Concatenates along channels in `layout`; `channels` (real channel counts) is needed only
/// for the blocked layouts.
inline void concat_channels(const std::vector<TensorView>& inputs, Layout layout,
                            const TensorView& out, const std::vector<std::int64_t>& channels = {}) {
  switch (layout_format(layout)) {
    case kr::Format::planar: return concat(inputs, 1, out);
    case kr::Format::channels_last: return concat(inputs, -1, out);
    case kr::Format::blocked16: return concat_blocked(inputs, channels, out);
  }
}

}  // namespace medkern::ops
