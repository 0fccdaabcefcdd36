// medkern/ops/reorder.hpp — conversions between plain and channel-blocked activation layouts.
//
// The convolution engine keeps activations in nChw16c / nCdhw16c between layers (16 channels
// per block, the lanes of one zmm of f32) and reorders only at a graph's inputs and outputs.
// Layouts, by logical dimensions (N, C, [D,] H, W):
//
//   nchw      N x C x H x W               ncdhw     N x C x D x H x W
//   nhwc      N x H x W x C               ndhwc     N x D x H x W x C
//   nchw16c   N x Cb x H x W x 16         ncdhw16c  N x Cb x D x H x W x 16,  Cb = ceil(C/16)
//
// Channel c of a blocked tensor lives in block c/16, lane c%16. Padding lanes of the last
// block (c >= C) are written as zero when reordering into a blocked layout and ignored when
// reordering out of one. Blocked to blocked treats every lane as a channel (C = 16*Cb), since
// the shape alone does not tell where the real channels end.
//
// Work is split into (image, channel block, run of spatial points) tasks of ~64 KB each; every
// task writes its own elements, so the result does not depend on the thread count.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "medkern/core/dispatch.hpp"
#include "medkern/core/error.hpp"
#include "medkern/core/tensor.hpp"
#include "medkern/core/threading.hpp"
#include "medkern/core/verbose.hpp"
#include "medkern/kernels/reorder/registry.hpp"

namespace medkern::ops {

namespace kr = medkern::kernels::reorder;

/// Activation layouts (see the table above).
enum class Layout : std::uint8_t { nchw, nhwc, nchw16c, ncdhw, ndhwc, ncdhw16c };

/// Channels per block of nchw16c / ncdhw16c.
inline constexpr std::int64_t kChannelBlock = kr::kBlock;

/// Bytes per parallel task: large against TBB's ~1 us task overhead (64 KB moves in ~5 us at
/// L3 speed), small enough to give 1x64x256x256 f32 256 tasks to balance. Not yet tuned by a
/// sweep: the shared development machine was too noisy to separate 16 KB..1 MB.
inline constexpr std::int64_t kReorderTaskBytes = 64 * 1024;

/// Bytes of channels_last rows a task keeps in L1 while it visits every channel block.
inline constexpr std::int64_t kReorderL1Bytes = 16 * 1024;

constexpr std::string_view layout_name(Layout l) noexcept {
  switch (l) {
    case Layout::nchw: return "nchw";
    case Layout::nhwc: return "nhwc";
    case Layout::nchw16c: return "nchw16c";
    case Layout::ncdhw: return "ncdhw";
    case Layout::ndhwc: return "ndhwc";
    case Layout::ncdhw16c: return "ncdhw16c";
  }
  return "?";
}

/// Parses a layout name as layout_name prints it; nullopt when unknown.
constexpr std::optional<Layout> parse_layout(std::string_view s) noexcept {
  for (Layout l : {Layout::nchw, Layout::nhwc, Layout::nchw16c, Layout::ncdhw, Layout::ndhwc,
                   Layout::ncdhw16c})
    if (layout_name(l) == s) return l;
  return std::nullopt;
}

/// Number of spatial dimensions: 2 (H, W) or 3 (D, H, W).
constexpr int spatial_rank(Layout l) noexcept {
  return l == Layout::ncdhw || l == Layout::ndhwc || l == Layout::ncdhw16c ? 3 : 2;
}

constexpr bool is_blocked(Layout l) noexcept {
  return l == Layout::nchw16c || l == Layout::ncdhw16c;
}

/// Rank of a tensor stored in layout `l` (blocked layouts have the extra lane dimension).
constexpr int layout_rank(Layout l) noexcept {
  return 2 + spatial_rank(l) + (is_blocked(l) ? 1 : 0);
}

/// The kernel-level format of a layout (2-D and 3-D layouts share one).
constexpr kr::Format layout_format(Layout l) noexcept {
  switch (l) {
    case Layout::nchw:
    case Layout::ncdhw: return kr::Format::planar;
    case Layout::nhwc:
    case Layout::ndhwc: return kr::Format::channels_last;
    case Layout::nchw16c:
    case Layout::ncdhw16c: return kr::Format::blocked16;
  }
  return kr::Format::planar;
}

/// The blocked layout with the same spatial rank as `l` (nchw16c or ncdhw16c).
constexpr Layout blocked_layout(Layout l) noexcept {
  return spatial_rank(l) == 3 ? Layout::ncdhw16c : Layout::nchw16c;
}

namespace detail {

inline std::string dims_str(const std::vector<std::int64_t>& v) {
  std::string s;
  // Appended piecewise: GCC 12 -O3 raises a false -Wrestrict on `const char* + std::string`.
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) s += 'x';
    s += std::to_string(v[i]);
  }
  return s;
}

inline void check_logical(const char* op, const std::vector<std::int64_t>& logical,
                          int want_rank) {
  if (want_rank > 0 && int(logical.size()) != want_rank)
    medkern::detail::throw_shape(op, ": logical shape ", dims_str(logical), " has rank ",
                                 logical.size(), ", must be ", want_rank, " (N, C, spatial)");
  if (logical.size() != 4 && logical.size() != 5)
    medkern::detail::throw_shape(op, ": logical shape ", dims_str(logical), " has rank ",
                                 logical.size(), ", must be 4 (N,C,H,W) or 5 (N,C,D,H,W)");
  for (std::int64_t v : logical)
    if (v < 0)
      medkern::detail::throw_shape(op, ": logical shape ", dims_str(logical),
                                   " has a negative dimension");
}

}  // namespace detail

/// Physical shape, in `layout`, of a tensor with logical shape (N, C, [D,] H, W).
/// Example: layout_shape(Layout::nchw16c, {1, 17, 5, 7}) == {1, 2, 5, 7, 16}.
inline std::vector<std::int64_t> layout_shape(Layout layout,
                                              const std::vector<std::int64_t>& logical) {
  detail::check_logical("layout_shape", logical, 2 + spatial_rank(layout));
  const std::int64_t N = logical[0], C = logical[1];
  const std::vector<std::int64_t> sp(logical.begin() + 2, logical.end());
  std::vector<std::int64_t> out{N};
  switch (layout_format(layout)) {
    case kr::Format::planar:
      out.push_back(C);
      out.insert(out.end(), sp.begin(), sp.end());
      break;
    case kr::Format::channels_last:
      out.insert(out.end(), sp.begin(), sp.end());
      out.push_back(C);
      break;
    case kr::Format::blocked16:
      out.push_back((C + kChannelBlock - 1) / kChannelBlock);
      out.insert(out.end(), sp.begin(), sp.end());
      out.push_back(kChannelBlock);
      break;
  }
  return out;
}

/// (N, ceil(C/16), [D,] H, W, 16) for a logical NCHW or NCDHW shape.
inline std::vector<std::int64_t> blocked_shape(const std::vector<std::int64_t>& logical) {
  detail::check_logical("blocked_shape", logical, 0);
  return layout_shape(logical.size() == 5 ? Layout::ncdhw16c : Layout::nchw16c, logical);
}

/// Logical (N, C, [D,] H, W) of a tensor of `physical` shape in `layout`; a blocked layout
/// needs the real channel count `channels` (ceil(channels/16) must match the block count).
inline std::vector<std::int64_t> logical_shape(Layout layout,
                                               const std::vector<std::int64_t>& physical,
                                               std::int64_t channels = -1) {
  const int r = layout_rank(layout), sr = spatial_rank(layout);
  if (int(physical.size()) != r)
    medkern::detail::throw_shape("logical_shape: shape ", detail::dims_str(physical),
                                 " has rank ", physical.size(), ", must be ", r, " for layout ",
                                 layout_name(layout));
  std::vector<std::int64_t> out{physical[0], 0};
  switch (layout_format(layout)) {
    case kr::Format::planar:
      out[1] = physical[1];
      out.insert(out.end(), physical.begin() + 2, physical.end());
      break;
    case kr::Format::channels_last:
      out[1] = physical[std::size_t(r - 1)];
      out.insert(out.end(), physical.begin() + 1, physical.begin() + 1 + sr);
      break;
    case kr::Format::blocked16: {
      if (physical[std::size_t(r - 1)] != kChannelBlock)
        medkern::detail::throw_shape("logical_shape: last dimension ", physical[std::size_t(r - 1)],
                                     " must be ", kChannelBlock, " for layout ",
                                     layout_name(layout), " (shape ",
                                     detail::dims_str(physical), ")");
      const std::int64_t cb = physical[1];
      const std::int64_t c = channels < 0 ? cb * kChannelBlock : channels;
      if ((c + kChannelBlock - 1) / kChannelBlock != cb)
        medkern::detail::throw_shape("logical_shape: ", c, " channels need ",
                                     (c + kChannelBlock - 1) / kChannelBlock,
                                     " blocks of 16, shape ", detail::dims_str(physical),
                                     " has ", cb, " (layout ", layout_name(layout), ")");
      out[1] = c;
      out.insert(out.end(), physical.begin() + 2, physical.begin() + 2 + sr);
      break;
    }
  }
  return out;
}

namespace detail {

inline std::vector<std::int64_t> shape_vec(const TensorView& t) {
  return {t.shape.begin(), t.shape.begin() + t.rank};
}

inline std::string strides_str(const TensorView& t) {
  std::string s;
  for (int i = 0; i < t.rank; ++i) {
    if (i) s += ',';
    s += std::to_string(t.strides[std::size_t(i)]);
  }
  return s;
}

/// Checks one side of a reorder: rank, non-negative sizes, blocked lane dimension,
/// contiguity. `which` is "src" or "dst".
inline void check_side(const TensorView& t, Layout l, const char* which) {
  if (t.rank != layout_rank(l))
    medkern::detail::throw_shape("reorder: ", which, " rank ", t.rank, " must be ",
                                 layout_rank(l), " for layout ", layout_name(l), " (", which,
                                 " ", t.shape_str(), ")");
  for (int i = 0; i < t.rank; ++i)
    if (t.shape[std::size_t(i)] < 0)
      medkern::detail::throw_shape("reorder: ", which, " dimension ", i, " is ",
                                   t.shape[std::size_t(i)], ", must be non-negative (", which,
                                   " ", t.shape_str(), ")");
  if (is_blocked(l) && t.shape[std::size_t(t.rank - 1)] != kChannelBlock)
    medkern::detail::throw_shape("reorder: ", which, " last dimension ",
                                 t.shape[std::size_t(t.rank - 1)], " must be ", kChannelBlock,
                                 " for blocked layout ", layout_name(l), " (", which, " ",
                                 t.shape_str(), ")");
  // An empty tensor holds no bytes, so any strides describe it (numpy calls it contiguous;
  // TensorView::is_contiguous would not, as set_contiguous_strides skips zero sizes).
  if (t.numel() != 0 && !t.is_contiguous())
    medkern::detail::throw_shape("reorder: ", which, " strides (", strides_str(t),
                                 " bytes) are not C-contiguous; reorder requires contiguous "
                                 "tensors, make a contiguous copy first (",
                                 which, " ", t.shape_str(), ", layout ", layout_name(l), ")");
}

}  // namespace detail

/// Copies `src` (stored in `src_layout`) into `dst` (stored in `dst_layout`), element for
/// element and bit for bit.
///
/// Both views must be C-contiguous, have the same dtype and describe the same logical tensor:
/// equal N and spatial sizes, equal C between plain layouts, ceil(C/16) blocks against a
/// plain C, equal block counts between blocked layouts; 2-D layouts pair with 2-D, 3-D with
/// 3-D. src and dst must not overlap. Throws ShapeError otherwise (before touching dst).
///
///     std::vector<float> x(1 * 17 * 5 * 7), y(1 * 2 * 5 * 7 * 16);
///     reorder(TensorView::contiguous(x.data(), DType::f32, {1, 17, 5, 7}), Layout::nchw,
///             TensorView::contiguous(y.data(), DType::f32, {1, 2, 5, 7, 16}), Layout::nchw16c);
inline void reorder(const TensorView& src, Layout src_layout, const TensorView& dst,
                    Layout dst_layout) {
  using medkern::detail::throw_shape;
  if (spatial_rank(src_layout) != spatial_rank(dst_layout))
    throw_shape("reorder: layouts ", layout_name(src_layout), " (", spatial_rank(src_layout),
                "-D) and ", layout_name(dst_layout), " (", spatial_rank(dst_layout),
                "-D) must have the same spatial rank");
  if (src.dtype != dst.dtype)
    throw_shape("reorder: dst dtype ", dtype_name(dst.dtype), " must equal src dtype ",
                dtype_name(src.dtype), " (reorders move data, they do not convert)");
  detail::check_side(src, src_layout, "src");
  detail::check_side(dst, dst_layout, "dst");

  const auto src_shape = detail::shape_vec(src), dst_shape = detail::shape_vec(dst);
  const bool sb = is_blocked(src_layout), db = is_blocked(dst_layout);
  // Channels come from a plain side when there is one; blocked-to-blocked moves all lanes.
  std::int64_t C = -1;
  if (!sb) C = logical_shape(src_layout, src_shape)[1];
  else if (!db) C = logical_shape(dst_layout, dst_shape)[1];
  const auto ls = logical_shape(src_layout, src_shape, sb ? -1 : C);
  const auto ld = logical_shape(dst_layout, dst_shape, db ? -1 : C);
  const auto blocks = [](std::int64_t c) { return (c + kChannelBlock - 1) / kChannelBlock; };
  bool same = ls[0] == ld[0];
  for (std::size_t i = 2; i < ls.size(); ++i) same = same && ls[i] == ld[i];
  if (sb && db) same = same && ls[1] == ld[1];
  else if (sb) same = same && blocks(ld[1]) == src_shape[1];
  else if (db) same = same && blocks(ls[1]) == dst_shape[1];
  else same = same && ls[1] == ld[1];
  if (!same) {
    // The dst shape the src implies; from a blocked src only C's range is known.
    std::vector<std::int64_t> want_logical = ls;
    std::string note = "";
    if (sb && !db) {
      want_logical[1] = ld[1];
      const std::int64_t cb = src_shape[1];
      note = medkern::detail::concat(", with C in [", cb > 0 ? 16 * cb - 15 : 0, ", ", 16 * cb,
                                     "] for ", cb, " blocks");
    }
    throw_shape("reorder: dst shape ", dst.shape_str(), " does not match src ", src.shape_str(),
                " (", layout_name(src_layout), " -> ", layout_name(dst_layout), "; expected ",
                detail::dims_str(layout_shape(dst_layout, want_logical)), note,
                "; blocked layouts hold ceil(C/16) blocks of 16 lanes)");
  }
  if (sb && !db) C = ld[1];
  if (sb && db) C = ls[1];

  const std::int64_t es = std::int64_t(dtype_size(src.dtype));
  std::int64_t src_elems = 1, dst_elems = 1;
  for (std::int64_t v : src_shape)
    src_elems = medkern::detail::checked_mul(src_elems, v, "reorder");
  for (std::int64_t v : dst_shape)
    dst_elems = medkern::detail::checked_mul(dst_elems, v, "reorder");
  const std::int64_t src_bytes = medkern::detail::checked_mul(src_elems, es, "reorder");
  const std::int64_t dst_bytes = medkern::detail::checked_mul(dst_elems, es, "reorder");
  if (src_elems == 0 || dst_elems == 0) return;
  if (src.data == nullptr || dst.data == nullptr)
    throw_shape("reorder: ", src.data == nullptr ? "src" : "dst", " data is null for a ",
                src.data == nullptr ? src.shape_str() : dst.shape_str(), " tensor");
  const auto s0 = reinterpret_cast<std::uintptr_t>(src.data);
  const auto d0 = reinterpret_cast<std::uintptr_t>(dst.data);
  if (s0 < d0 + std::uintptr_t(dst_bytes) && d0 < s0 + std::uintptr_t(src_bytes))
    throw_shape("reorder: src and dst memory overlap (src ", src.shape_str(), ", dst ",
                dst.shape_str(), "); reorder cannot run in place");

  kr::ReorderDesc d;
  d.src = layout_format(src_layout);
  d.dst = layout_format(dst_layout);
  d.elem_size = int(es);
  d.N = ls[0];
  d.C = C;
  d.S = 1;
  for (std::size_t i = 2; i < ls.size(); ++i)
    d.S = medkern::detail::checked_mul(d.S, ls[i], "reorder");
  if (d.N == 0 || d.C == 0 || d.S == 0) return;

  const kr::ReorderRow* row = select(kr::kRegistry, d, active_isa());
  if (row == nullptr)
    medkern::detail::throw_unsupported("reorder: no kernel for element size ", es, " (",
                                       kr::describe(d), ")");

  // Tasks. Planar and blocked16 store each channel block as its own contiguous run of points,
  // so a task is (n, cb, chunk of s_chunk points), ordered so consecutive tasks touch
  // neighbouring memory. A channels_last side interleaves all blocks in every point's row;
  // walking it once per block would stride over it Cb times, so there a task is (n, chunk)
  // and it runs every block over short sub-runs of s_sub points whose channels_last rows stay
  // in L1 (f32 1x64x256x256 nhwc->nchw16c, 1 thread: 5.8x the time of a memcpy of the same
  // bytes walking per block, 1.2x with this order). s_chunk and s_sub are multiples of 16, so
  // only a run's last tile has a spatial tail.
  const std::int64_t cb_count = d.blocks();
  const bool interleaved =
      d.src == kr::Format::channels_last || d.dst == kr::Format::channels_last;
  const std::int64_t point_bytes = (interleaved ? cb_count : 1) * kChannelBlock * es;
  const std::int64_t s_chunk =
      std::max<std::int64_t>(16, kReorderTaskBytes / point_bytes / 16 * 16);
  const std::int64_t s_sub = std::max<std::int64_t>(16, kReorderL1Bytes / point_bytes / 16 * 16);
  const std::int64_t chunks = (d.S + s_chunk - 1) / s_chunk;
  const std::int64_t tasks = d.N * (interleaved ? 1 : cb_count) * chunks;
  // Batch small tasks (short spatial runs) so each parallel chunk moves ~kReorderTaskBytes.
  const std::int64_t task_bytes = std::min(d.S, s_chunk) * point_bytes;
  const std::int64_t grain = std::max<std::int64_t>(1, kReorderTaskBytes / task_bytes);

  VerboseScope vs("reorder", row->name, [&] {
    return medkern::detail::concat(layout_name(src_layout), "->", layout_name(dst_layout), ",",
                                   dtype_name(src.dtype), ",src=", src.shape_str(),
                                   ",dst=", dst.shape_str(), ",threads=", num_threads());
  });
  const kr::ReorderFn run = row->run;
  const void* sp = src.data;
  void* dp = dst.data;
  parallel_for_1d(tasks, grain, [&](std::int64_t t0, std::int64_t t1) {
    for (std::int64_t t = t0; t < t1; ++t) {
      const std::int64_t k = t % chunks, rest = t / chunks;
      const std::int64_t b = k * s_chunk, e = std::min(d.S, b + s_chunk);
      if (interleaved) {
        for (std::int64_t s = b; s < e; s += s_sub)
          for (std::int64_t cb = 0; cb < cb_count; ++cb)
            run(d, sp, dp, rest, cb, s, std::min(e, s + s_sub));
      } else {
        run(d, sp, dp, rest / cb_count, rest % cb_count, b, e);
      }
    }
  });
}

}  // namespace medkern::ops
