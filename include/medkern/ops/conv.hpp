// medkern/ops/conv.hpp — FP32 convolution 2-D / 3-D: the ConvF32 primitive (validate, choose
// an algorithm and pack the weights once; execute many times) and conv_forward.
//
// Public layout: src NCHW / NCDHW and dst of the same kind, as byte-strided views (any strides
// that are multiples of 4), so dst may be a channel slice of a larger tensor (channel_slice):
// a following concat then costs nothing. Weights OI[D]HW contiguous, bias OC floats.
//
// Algorithms (ConvAlgorithm), chosen once at construction by this heuristic, in order:
//   1. depthwise when groups == in_channels == out_channels > 1 (the depthwise kernels,
//      kernels/conv/depthwise: vectorised over 16 channels, no reduction to block).
//   2. im2col_gemm when the channel blocks of the direct kernel would straddle groups
//      (groups > 1 with IC/groups or OC/groups not a multiple of 16, channel multipliers > 1
//      of depthwise-like convolutions included).
//   3. im2col_gemm when the best direct kernel is the scalar ref one but a vector BRGEMM is
//      available (an avx2 cap: the AVX2 BRGEMM beats the scalar direct kernel).
//   4. direct with the planar kernel (kernels/conv/planar_avx512.hpp) for first layers: AVX-512,
//      groups 1, ICg <= 8, OCg >= 8, stride 1 along W.
//   5. winograd for 3x3 kernels in (H, W) (2-D, and 3-D of any kernel depth) with stride 1,
//      dilation 1, groups 1, >= 16 input channels filling their blocks to 30% and >= 8
//      outputs (its transforms and 4x fewer multiplies outweigh padded output lanes: DenseNet's
//      170 -> 12 layers 1.2x im2col, 64 -> 17 1.9x), on AVX-512: Winograd F(4x4, 3x3)
//      (below) where winograd_applies(); execute reorders around the blocked run (chains
//      with a sum, small outputs and execute_blocked_to_planar run direct: both packings are
//      kept).
//   6. im2col_gemm when padding channels to blocks of 16 wastes more than 30% of the direct
//      kernel's FLOPs: ceil16(ICg)*ceil16(OCg) > 1.3*ICg*OCg (first layers with 1 or 3 input
//      channels, heads with 1 or 2 outputs, 17 or 33 channels).
//   7. gemm_1x1 for 1x1 kernels with stride 1 and no padding.
//   8. direct otherwise.
// MEDKERN_VERBOSE=1 logs "conv,<algorithm>:<kernel>,<problem>,<ms>" per execute, e.g.
// "conv,depthwise:conv_f32f32_f32_depthwise__avx512,...".
//
// Post-ops: bias, then the caller's chain. Register-tile kernels (direct, gemm_1x1,
// depthwise) fuse its head (everything before the first sum); the tail runs on each stored
// output row while it is in L1 (kernels/post_ops_row.hpp), where residual rows can be
// addressed. im2col_gemm runs the whole chain on its per-channel output rows before the copy.
// The planar kernel fuses the whole chain in registers when it has no sum; chains with a
// sum run on im2col_gemm instead (the same packed weights).
//
// direct: the input is reordered once per execute into a zero-padded channel-blocked copy
//   (nCdhw16c with the padding materialised — so every tap of every output pixel is in
//   bounds and the kernel needs no border cases; for NCHW inputs the reorder is needed anyway
//   and the padding rides along). Each task computes one output row segment (n, group, block
//   of up to 4 output-channel blocks, od, oh, up to kConvSegment pixels) with the direct
//   BRGEMM kernel (kernels/conv): A = output pixels (lda = 16*stride_w) x 16 input channels,
//   B = packed OIdhw16i(16*nv)o weight panels, batch-reduced over (icb, kd, kh, kw), split in
//   passes whose weights (kConvPassBytes) stay in L1 across the row. Post-ops run on the
//   last pass while the tile is in registers; the row, still in L1, is then transposed into
//   the NCHW destination.
// direct, planar kernel (few input channels): per output row (n, od, oh), the ICg*KD*KH input
//   rows it reads are copied zero-padded along W into a per-task buffer (taps in the D/H
//   padding read a shared zero row; unpadded contiguous rows are read in place), and the
//   kernel writes the OC planar output rows directly (vector lanes along W), post-ops fused.
// gemm_1x1: the direct kernel on the image flattened to one row of D*H*W pixels: a GEMM of
//   pixels x input channels by input channels x output channels (falls back to per-row
//   direct when src or dst planes are not contiguous).
// depthwise: the same zero-padded blocked input as direct; per (image, channel block, output
//   row segment) the depthwise kernel computes 16 channels x up to kConvSegment pixels.
// execute_blocked (src and dst nC[d]hw16c, see the method): direct and gemm_1x1 read the
//   caller's blocked input in place when little of it needs padding. Per output row segment,
//   the batch offsets point into the input rows; taps in the D/H padding point at a zero row.
//   The pixels whose W taps straddle the border form edge pieces (at least kConvEdge wide)
//   that read a zero-padded halo of their input window, copied per task ([icb][kd][kh][Wh] x
//   16 floats): the kernel's A rows are fixed-stride pixel runs, so a tap outside the row
//   needs either a per-tap mask in the kernel or these few padded pixels; the row between
//   them reads the input in place. When the halos would copy 4x more than the whole input,
//   or rows are narrower than half a segment, the input is copied once zero-padded instead
//   and narrow rows run in bands of whole rows that share each weight pass. Results are
//   stored into dst (multi-pass reductions keep partial sums in a row buffer, the last pass
//   reads them there and stores into dst; memory-bound convolutions with large outputs
//   store non-temporally); the chain's tail runs on the stored blocked rows
//   (post_ops_row.hpp, blocked variant) and padding lanes are set to zero. im2col_gemm
//   chosen by rule 5 for few output channels runs the direct kernel here when the input
//   channels fill their blocks (it packs the direct weights too: a per-call reorder costs
//   more than the padded lanes). First layers (the planar kernel) with >= 2 output blocks run
//   the direct kernel too, reducing over their icg real channels (DirectArgs::kc); all
//   first layers also accept a planar src, read through a zero-padded planar copy
//   (planar_blocked). The
//   other algorithms reorder to planar temporaries around execute. execute_blocked_rows
//   computes only a band of output slices of the outermost dimension.
// winograd (outputs of at least 4 x 4 in at least 4 tiles or with small weights, see
//   winograd_applies): per task a chunk of T 4x4 output tiles (kWinoTiles; with fewer
//   chunks than threads, a chunk's output-channel block groups split over tasks): each
//   tile's 6x6 input window per channel block goes through B^T d B (kernels/conv/winograd;
//   border tiles from a zero-padded copy of the window) into V[36][icb][T][16]; per block
//   group and position the direct kernel
//   runs V[pos] as a 1x1 convolution of T "pixels" against the transformed weights
//   U[pos] = G g G^T (packed like the direct kernel's 1x1 panels); A^T M A turns the 36
//   products of each tile back into its 16 output pixels, stored into dst. In 3-D each
//   output tile (od, ty, tx) transforms its KD input depth slices (a tap in the D padding
//   gives zeros) and the GEMMs reduce over (kd, input block): Winograd in (H, W), direct
//   along the depth, the same 4x saving as 2-D on a 3x3x3 kernel. The whole chain
//   then runs on the stored rows (blocked post_ops_row) and padding lanes are zeroed. 36
//   multiplies per tile and channel pair instead of 144: 4x fewer than direct, at an f32
//   error of 0.6-3e-5 of the output's largest value against 1-5e-6 for direct (transform
//   entries up to 8; He-initialised 32-1024 channel layers, see BENCHMARKS.md).
// im2col_gemm: per (image, group, chunk of output rows sized to kIm2colBytes), im2col into a
//   per-task buffer (skipped for 1x1/stride-1/unpadded contiguous planes, which already are
//   the column matrix), then the BRGEMM registry's best row: C[OCg][pixels] = W_g[OCg][K] x
//   col[K][pixels], then per-channel post-ops and a strided copy into dst.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "medkern/core/buffer.hpp"
#include "medkern/core/cpu.hpp"
#include "medkern/core/dispatch.hpp"
#include "medkern/core/error.hpp"
#include "medkern/core/tensor.hpp"
#include "medkern/core/threading.hpp"
#include "medkern/core/verbose.hpp"
#include "medkern/kernels/brgemm/registry.hpp"
#include "medkern/kernels/conv/desc.hpp"
#include "medkern/kernels/conv/im2col.hpp"
#include "medkern/kernels/conv/depthwise/registry.hpp"
#include "medkern/kernels/conv/dot/registry.hpp"
#include "medkern/kernels/conv/planar_avx512.hpp"
#include "medkern/kernels/conv/registry.hpp"
#include "medkern/kernels/conv/winograd/registry.hpp"
#include "medkern/kernels/post_ops.hpp"
#include "medkern/kernels/post_ops_row.hpp"
#include "medkern/ops/im2col.hpp"

namespace medkern::ops {

using kernels::PostOps;
using kernels::conv::ConvDesc;
namespace kb = medkern::kernels::brgemm;

enum class ConvAlgorithm : std::uint8_t {
  automatic,
  direct,
  gemm_1x1,
  im2col_gemm,
  depthwise,
  winograd
};

constexpr const char* conv_algorithm_name(ConvAlgorithm a) noexcept {
  switch (a) {
    case ConvAlgorithm::automatic: return "auto";
    case ConvAlgorithm::direct: return "direct";
    case ConvAlgorithm::gemm_1x1: return "gemm_1x1";
    case ConvAlgorithm::im2col_gemm: return "im2col_gemm";
    case ConvAlgorithm::depthwise: return "depthwise";
    case ConvAlgorithm::winograd: return "winograd";
  }
  return "?";
}

/// Output pixels per direct call: a multiple of every MR (6, 8, 14, 28), and a 4-block row
/// of 43 KiB that stays in L1/L2 between the passes.
inline constexpr std::int64_t kConvSegment = 168;
/// Least width of a row's edge pieces (the pixels whose taps reach into the W padding).
inline constexpr std::int64_t kConvEdge = 8;

/// Output tiles per Winograd task: the 36 GEMMs of a task read every transformed weight once,
/// so T tiles reuse each weight T times (bench, 2 threads: 512 -> 512 at 64x64 ran 1.29x peak
/// at T = 8, 1.44x at 16, 1.58x at 32, 2.17x at 128; 32 -> 32 at 512x512 1.30x at 128, 1.03x
/// at 256, where V[36][icb][T][16] outgrows the L2).
inline constexpr std::int64_t kWinoTiles = 128;
/// Most bytes of transformed input (V) per Winograd task.
inline constexpr std::int64_t kWinoMaxV = std::int64_t(32) << 20;

/// Packed weight bytes per reduction pass of the direct kernel: read from L1 by every strip
/// of a row segment (8 batch elements of a 64-channel block group; 32 KiB beat 16 KiB on
/// 64->64 3x3 at 128x128).
#ifndef MEDKERN_CONV_PASS_BYTES
#define MEDKERN_CONV_PASS_BYTES (32 * 1024)
#endif
inline constexpr std::int64_t kConvPassBytes = MEDKERN_CONV_PASS_BYTES;
/// Output bytes above which memory-bound convolutions store with non-temporal stores: a
/// quarter of the last-level cache (at least 8 MiB). An output well inside it is read back
/// from there by the next layer, and plain stores cost no trip to memory; a larger one
/// goes to memory anyway and streaming saves reading each line before writing it. With a
/// 480 MiB L3 shared with other tenants, 2 threads: 1 -> 32 3x3 at 512x512 (32 MiB out)
/// 1.15 -> 0.92 ms stored plainly, 1 -> 64 (64 MiB) 1.9 -> 1.65 ms; 8 x 1 -> 64 at 256x256
/// (128 MiB) 4.0 ms streamed against 4.4 plainly, 1 -> 32 3x3x3 at 64x128x128 (134 MiB)
/// 10.9 against 11.9.
/// set_stream_bytes(n) replaces it (n > 0; 0 restores it): a tuning knob for other cache
/// hierarchies, and how tests reach the streaming path with small outputs.
inline std::atomic<std::int64_t>& stream_bytes_setting() {
  static std::atomic<std::int64_t> bytes{0};
  return bytes;
}
inline std::int64_t stream_bytes() {
  static const std::int64_t automatic =
      std::max<std::int64_t>(std::int64_t(8) << 20, cache_bytes(3, 0) / 4);
  const std::int64_t set = stream_bytes_setting().load(std::memory_order_relaxed);
  return set > 0 ? set : automatic;
}
inline void set_stream_bytes(std::int64_t bytes) {
  if (bytes < 0) detail::throw_shape("set_stream_bytes: bytes ", bytes, " must be >= 0");
  stream_bytes_setting().store(bytes, std::memory_order_relaxed);
}
/// Pixels per task of the few-output (dot) 1x1 path: its output rows stay in L1 for the
/// post-op chain.
inline constexpr std::int64_t kDotChunk = 2048;
/// Bytes of the per-task im2col buffer (a quarter of a 2 MiB L2).
inline constexpr std::int64_t kIm2colBytes = 512 * 1024;

/// A view of channels [c0, c0 + c) of a planar (N, C, ...) view: same strides, offset data.
inline TensorView channel_slice(const TensorView& t, std::int64_t c0, std::int64_t c) {
  if (t.rank < 2 || c0 < 0 || c < 0 || c0 + c > t.shape[1])
    medkern::detail::throw_shape("channel_slice: channels [", c0, ", ", c0 + c,
                                 ") must lie within the ", t.rank >= 2 ? t.shape[1] : 0,
                                 " channels of ", t.shape_str());
  TensorView r = t;
  r.data = static_cast<char*>(t.data) + c0 * t.strides[1];
  r.shape[1] = c;
  return r;
}

namespace conv_detail {

namespace kc = medkern::kernels::conv;
namespace kb = medkern::kernels::brgemm;

/// Byte strides of a planar view, 2-D views with a unit D.
struct Planar {
  char* base = nullptr;
  i64 n = 0, c = 0, d = 0, h = 0, w = 4;
};

inline Planar planar_of(const TensorView& t) {
  Planar p;
  p.base = static_cast<char*>(t.data);
  p.n = t.strides[0];
  p.c = t.strides[1];
  p.d = t.rank == 5 ? t.strides[2] : 0;
  p.h = t.strides[std::size_t(t.rank - 2)];
  p.w = t.strides[std::size_t(t.rank - 1)];
  return p;
}

/// Whether the D*H*W points of each channel are one contiguous run of floats.
inline bool plane_contiguous(const TensorView& t) {
  const int r = t.rank;
  i64 s = 4;
  for (int i = r - 1; i >= 2; --i) {
    if (t.shape[std::size_t(i)] != 1 && t.strides[std::size_t(i)] != s) return false;
    s *= t.shape[std::size_t(i)];
  }
  return true;
}

/// Whether dimensions [from, rank) of `t` are C-contiguous (size-1 dimensions ignored).
inline bool inner_contiguous(const TensorView& t, int from) {
  i64 s = i64(dtype_size(t.dtype));
  for (int i = t.rank - 1; i >= from; --i) {
    if (t.shape[std::size_t(i)] != 1 && t.strides[std::size_t(i)] != s) return false;
    s *= t.shape[std::size_t(i)];
  }
  return true;
}

/// Largest scratch (floats) a thread keeps between executes (1 GiB).
inline constexpr std::int64_t kKeptScratch = std::int64_t(1) << 28;

/// The calling thread's scratch of at least `n` floats, kept between executes: a fresh
/// multi-MiB buffer per call costs a page fault and a kernel page clear per page (15% of a
/// 64-channel 256x256 3x3 convolution in a profile). Beyond kKeptScratch, `local` is used.
/// `Tag` names independent buffers (0: the padded input copy, 1: per-task halo windows,
/// 2 and 3: planar temporaries of execute_blocked's reorder path).
template <int Tag = 0>
inline float* thread_scratch(std::int64_t n, AlignedBuffer<float>& local) {
  if (n > kKeptScratch) {
    local.allocate(n);
    return local.data();
  }
  thread_local AlignedBuffer<float> kept;
  if (kept.size() < n) kept.allocate(n);
  return kept.data();
}


/// Checks the residual views of the sum post-ops of `chain` against dst (op: the op's name).
inline void check_sums(const char* op, const PostOps& chain, std::span<const TensorView> sums,
                       const TensorView& dst) {
  using medkern::detail::throw_shape;
  if (i64(sums.size()) != chain.sums())
    throw_shape(op, ": ", chain.sums(), " sum post-ops need as many residual tensors, got ",
                sums.size());
  for (const TensorView& r : sums) {
    bool ok = r.dtype == DType::f32 && r.rank == dst.rank;
    for (int i = 0; ok && i < r.rank; ++i)
      ok = r.shape[std::size_t(i)] == dst.shape[std::size_t(i)] && r.strides[std::size_t(i)] % 4 == 0;
    ok = ok && (r.shape[std::size_t(r.rank - 1)] <= 1 || r.strides[std::size_t(r.rank - 1)] == 4);
    if (!ok)
      throw_shape(op, ": a sum post-op tensor must be f32 with the output's shape ",
                  dst.shape_str(), " and unit stride along W, got ", dtype_name(r.dtype), " ",
                  r.shape_str());
    if (dst.shape[0] > 0 && r.data == nullptr) throw_shape(op, ": sum post-op tensor data is null");
    if (overlap(r, dst))
      throw_shape(op, ": a sum post-op tensor must not overlap the output (it is read after "
                      "the output rows are written)");
  }
}

/// `tail` with the data of its k-th sum op set to `at(k)` (the rows the tail runs on).
template <class At>
inline PostOps bind_sums(const PostOps& tail, At&& at) noexcept {
  PostOps r = tail;
  std::size_t k = 0;
  for (int i = 0; i < r.count; ++i) {
    kernels::PostOp& op = r.ops[std::size_t(i)];
    if (op.kind == kernels::PostOpKind::sum) op.data = at(k++);
  }
  return r;
}

/// `tail` with its k-th sum pointed at row (n, c, d, h) from column w0 of sums[k].
inline PostOps bind_row(const PostOps& tail, const std::vector<Planar>& sums, i64 n, i64 c, i64 d,
                        i64 h, i64 w0) noexcept {
  return bind_sums(tail, [&](std::size_t k) {
    const Planar& p = sums[k];
    return reinterpret_cast<const float*>(p.base + n * p.n + c * p.c + d * p.d + h * p.h +
                                          w0 * p.w);
  });
}

/// `p` with its per-channel data padded to whole blocks of 16 per group, index
/// (g*ocb + block)*16 + lane: the kernels read 16 lanes per block. `keep` owns the copies.
inline PostOps pad_to_blocks(PostOps p, std::int64_t groups, std::int64_t ocg, std::int64_t ocb,
                             std::vector<std::vector<float>>& keep) {
  for (int i = 0; i < p.count; ++i) {
    auto& op = p.ops[std::size_t(i)];
    if (op.data == nullptr || op.kind == kernels::PostOpKind::sum) continue;
    std::vector<float> v(std::size_t(groups * ocb * 16), 0.f);
    for (std::int64_t g = 0; g < groups; ++g)
      std::copy(op.data + g * ocg, op.data + (g + 1) * ocg, v.begin() + g * ocb * 16);
    keep.push_back(std::move(v));
    op.data = keep.back().data();
  }
  return p;
}

inline std::string dims_str(const std::vector<std::int64_t>& v) {
  std::string s;
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? "x" : "") + std::to_string(v[i]);
  return s;
}

/// The logical planar view (N, C, [D,] H, W) of a blocked input (N, ceil(C/16), [D,] H, W,
/// 16) of `spatial` + 3 dimensions, validated: f32, block count, contiguous from the spatial
/// dimensions on, strides multiples of 4 bytes.
inline TensorView blocked_as_planar(const char* op, const TensorView& src, int spatial,
                                    std::int64_t C) {
  using medkern::detail::throw_shape;
  const int r = spatial + 3;
  const char* sp = spatial == 3 ? "D, " : "";
  if (src.rank != r || src.dtype != DType::f32 || src.shape[std::size_t(r - 1)] != 16)
    throw_shape(op, ": a blocked input must be f32 (N, ceil(C/16), ", sp, "H, W, 16), got ",
                dtype_name(src.dtype), " ", src.shape_str());
  if (src.shape[1] != (C + 15) / 16)
    throw_shape(op, ": a blocked input of the weight's ", C, " input channels has ",
                (C + 15) / 16, " blocks of 16, got ", src.shape[1], " (", src.shape_str(), ")");
  if (!inner_contiguous(src, 2) || src.strides[0] % 4 != 0 || src.strides[1] % 4 != 0)
    throw_shape(op, ": a blocked input must be contiguous from the spatial dimensions on, "
                    "got strides ", src.strides[2], "... for ", src.shape_str());
  TensorView p = src;
  p.rank = r - 1;
  p.shape[1] = C;
  return p;
}

/// A blocked output or sum tensor of shape `want`: f32, contiguous from the spatial
/// dimensions on, strides multiples of 4 bytes, data present.
inline void check_blocked(const char* op, const TensorView& t, const std::vector<std::int64_t>& want,
                          const char* what) {
  bool ok = t.rank == int(want.size()) && t.dtype == DType::f32;
  for (int i = 0; ok && i < t.rank; ++i)
    ok = t.shape[std::size_t(i)] == want[std::size_t(i)] && t.strides[std::size_t(i)] % 4 == 0;
  if (!ok || !inner_contiguous(t, 2))
    medkern::detail::throw_shape(op, ": blocked ", what, " must be f32 ", dims_str(want),
                                 " contiguous from the spatial dimensions on, got ",
                                 dtype_name(t.dtype), " ", t.shape_str());
  if (want[0] > 0 && t.data == nullptr)
    medkern::detail::throw_shape(op, ": blocked ", what, " data is null");
}

/// execute_blocked's checks of dst and the sum tensors against the blocked output shape
/// `want` and the chain's sum count, and of overlaps between src, dst and the sums.
inline void check_blocked_outputs(const char* op, const TensorView& src, const TensorView& dst,
                                  const std::vector<std::int64_t>& want, const PostOps& chain,
                                  std::span<const TensorView> sums) {
  check_blocked(op, dst, want, "output");
  if (std::int64_t(sums.size()) != chain.sums())
    medkern::detail::throw_shape(op, ": ", chain.sums(), " sum post-ops need as many residual ",
                                 "tensors, got ", sums.size());
  for (const TensorView& r : sums) {
    check_blocked(op, r, want, "sum post-op tensor");
    if (overlap(r, dst))
      medkern::detail::throw_shape(op, ": a sum post-op tensor must not overlap the output");
  }
  if (overlap(src, dst))
    medkern::detail::throw_shape(op, ": the output must not overlap the input");
}

/// Whether the chain maps 0 to 0 on a padding lane (per-channel data and residuals are
/// zero there): then the kernel's stores leave padding lanes zero by themselves.
inline bool preserves_zero(const PostOps& chain) {
  using kernels::Eltwise;
  for (const kernels::PostOp& op : chain) {
    if (op.kind != kernels::PostOpKind::eltwise) continue;
    switch (op.alg) {
      case Eltwise::relu: case Eltwise::leaky_relu: case Eltwise::elu: case Eltwise::tanh:
      case Eltwise::gelu_erf: case Eltwise::gelu_tanh: case Eltwise::hardswish:
        break;
      case Eltwise::clip:
        if (op.alpha > 0.f || op.beta < 0.f) return false;
        break;
      case Eltwise::linear:
        if (op.beta != 0.f) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

}  // namespace conv_detail

/// FP32 forward convolution with weights packed once for the chosen algorithm.
///
///     ConvDesc d; d.spatial = 2; d.IC = 64; d.OC = 64; d.kernel = {1, 3, 3};
///     d.pad_before = d.pad_after = {0, 1, 1};
///     ops::ConvF32 conv(d, weights, bias);          // validates, chooses, packs
///     conv.execute(src_nchw, dst_nchw);             // any number of times, any N, H, W
///     conv.execute(src_nchw, dst, PostOps().eltwise(kernels::Eltwise::relu));
///
/// `desc` gives the channels, groups, kernel geometry and dtypes (N and the input sizes are
/// taken from each src). Throws ShapeError for invalid geometry, UnsupportedError for dtypes
/// without a kernel.
class ConvF32 {
 public:
  using i64 = std::int64_t;

  /// `row` forces a direct-kernel registry row (tests and benchmarks iterate the registry);
  /// nullptr selects the best one for the active ISA.
  ConvF32(const ConvDesc& desc, const float* weights, const float* bias = nullptr,
          ConvAlgorithm algorithm = ConvAlgorithm::automatic,
          const kernels::conv::DirectRow* row = nullptr)
      : d_(desc) {
    op_ = d_.spatial == 3 ? "conv3d" : "conv2d";
    validate();
    choose(algorithm, row);
    if (bias != nullptr) bias_.assign(bias, bias + d_.OC);
    pack(weights);
  }

  /// "direct", "gemm_1x1" or "im2col_gemm".
  const char* algorithm() const noexcept { return conv_algorithm_name(algo_); }
  /// The kernel registry row that runs (a direct row or a BRGEMM row).
  const char* kernel() const noexcept { return kernel_; }
  const ConvDesc& desc() const noexcept { return d_; }
  /// Packed weight bytes.
  i64 packed_bytes() const noexcept { return wei_.size() * i64(sizeof(float)); }

  /// (N, OC, [OD,] OH, OW) for an input of shape (N, IC, [D,] H, W); validates it.
  std::vector<i64> output_shape(const TensorView& src) const {
    return output_shape_of(problem(src));
  }

  /// dst = post(conv(src) + bias). src, dst: planar f32 views (see the file comment); `post`
  /// runs after the bias (bias + post must fit PostOps::kMax). dst must not overlap src.
  /// `sums` holds one residual view per sum post-op, in order: dst's shape, unit stride along
  /// W, not overlapping dst (its rows are read after the output rows are stored).
  void execute(const TensorView& src, const TensorView& dst, const PostOps& post = {},
               std::span<const TensorView> sums = {}) const {
    const ConvDesc d = problem(src);
    check_dst(d, src, dst);
    const PostOps chain = full_chain(post);
    conv_detail::check_sums(op_, chain, sums, dst);
    if (d.N == 0) return;
    VerboseScope vs("conv", impl_name_.c_str(), [&] {
      return kernels::conv::describe(d) + ",post=" + kernels::post_ops_str(chain) +
             ",threads=" + std::to_string(num_threads());
    });
    std::vector<conv_detail::Planar> res;
    for (const TensorView& r : sums) res.push_back(conv_detail::planar_of(r));
    if (algo_ == ConvAlgorithm::im2col_gemm)
      run_im2col(d, src, dst, chain, res);
    else if (planar_ && chain.sums() > 0)  // residual rows are not addressable in its tiles
      run_im2col(d, src, dst, chain, res);
    else if (algo_ == ConvAlgorithm::depthwise)
      run_depthwise(d, src, dst, chain, res);
    else if (planar_)
      run_planar(d, src, dst, chain);
    else if (chain.sums() == 0 && winograd_applies(d))
      run_winograd_planar(d, src, dst, chain);
    else
      run_direct(d, src, dst, chain, res);
  }

  /// (N, ceil(OC/16), [OD,] OH, OW, 16) for a blocked input (N, ceil(IC/16), [D,] H, W, 16).
  std::vector<i64> blocked_output_shape(const TensorView& src) const {
    if (src.rank == 2 + d_.spatial && planar_blocked()) return blocked_shape_of(problem(src));
    return blocked_shape_of(blocked_problem(src));
  }

  /// Whether execute_blocked also takes a planar src (N, IC, [D,] H, W) and runs on it
  /// without reorders: first layers (the planar algorithm), whose few
  /// planar channels the direct kernel reads in place (a 1-channel input blocked is 16x
  /// its size).
  bool planar_blocked() const noexcept { return planar_; }

  /// Whether execute_blocked runs without reorders (direct, gemm_1x1, and im2col_gemm for few
  /// outputs of whole input blocks; the planar, other im2col_gemm and depthwise cases reorder
  /// to planar temporaries around execute).
  bool blocked_native() const noexcept {
    return blocked_direct_ ||
           (!planar_ && (algo_ == ConvAlgorithm::direct || algo_ == ConvAlgorithm::gemm_1x1 ||
                         algo_ == ConvAlgorithm::winograd));
  }

  /// dst = post(conv(src) + bias) on channel-blocked tensors (nChw16c / nCdhw16c):
  /// src (N, ceil(IC/16), [D,] H, W, 16), dst (N, ceil(OC/16), [OD,] OH, OW, 16), f32, each
  /// C-contiguous from the spatial dimensions on, with any strides (multiples of 4 bytes)
  /// along N and the block dimension: dst may be a block slice (channel_slice on dimension
  /// 1) of a larger blocked tensor, so a following concat costs nothing. Channel c is block
  /// c/16, lane c%16; the padding lanes of dst's last block are written as zero, those of src
  /// are multiplied by zero weights (keep them zero: a NaN there would propagate). `sums`:
  /// one blocked view per sum post-op with dst's shape, the same layout rules, not
  /// overlapping dst. See the file comment for how each algorithm runs.
  void execute_blocked(const TensorView& src, const TensorView& dst, const PostOps& post = {},
                       std::span<const TensorView> sums = {}) const {
    const bool planar_src = src.rank == 2 + d_.spatial;  // first layers, see planar_blocked
    if (planar_src && !planar_blocked())
      medkern::detail::throw_unsupported(
          op_, ": a planar input ", src.shape_str(), " to execute_blocked needs a first ",
          "layer (at most 8 input channels per group, groups 1, 8 or more outputs, the ",
          "planar algorithm): reorder it to the blocked layout first");
    const ConvDesc d = planar_src ? problem(src) : blocked_problem(src);
    const PostOps chain = full_chain(post);
    conv_detail::check_blocked_outputs(op_, src, dst, blocked_shape_of(d), chain, sums);
    if (d.N == 0) return;
    if (!planar_src && !blocked_native()) {
      run_blocked_by_reorder(d, src, dst, post, sums);
      return;
    }
    if (!planar_src && winograd_applies(d))
      run_winograd_logged(d, src, dst, chain, sums, 0, -1);
    else
      run_direct_blocked_logged(d, src, dst, chain, sums, 0, -1, planar_src);
  }

  /// execute_blocked into a planar dst (N, OC, [OD,] OH, OW): f32, the spatial dimensions
  /// C-contiguous, any strides along N and C (a channel slice of a planar tensor). The rows
  /// leave the kernel through the task's row buffer and a row transform, so a blocked graph's
  /// planar output (a segmentation head) never stores a blocked result: for 2 classes that
  /// is 16 lanes per pixel written and read back for 2 planar floats. src as for
  /// execute_blocked; needs the blocked path (blocked_native(), or planar_blocked() for a
  /// planar src) and no sum post-ops.
  void execute_blocked_to_planar(const TensorView& src, const TensorView& dst,
                                 const PostOps& post = {}) const {
    const bool planar_src = src.rank == 2 + d_.spatial;
    if (planar_src ? !planar_blocked() : !blocked_native())
      medkern::detail::throw_unsupported(op_, ": a planar output of the blocked execute needs ",
                                         "an algorithm that runs natively blocked (",
                                         algorithm(), " does not)");
    const ConvDesc d = planar_src ? problem(src) : blocked_problem(src);
    const PostOps chain = full_chain(post);
    if (chain.sums() > 0)
      medkern::detail::throw_unsupported(op_, ": a planar output of the blocked execute takes ",
                                         "no sum post-ops (", chain.sums(), " given)");
    check_dst(d, src, dst);
    const int r = dst.rank;
    const i64 OH = d.out(1), OW = d.out(2);
    if (dst.strides[std::size_t(r - 1)] != 4 || dst.strides[std::size_t(r - 2)] != OW * 4 ||
        (d.spatial == 3 && dst.strides[2] != OH * OW * 4))
      medkern::detail::throw_shape(op_, ": a planar output of the blocked execute needs ",
                                   "C-contiguous spatial dimensions (output ", dst.shape_str(),
                                   ", last stride ", dst.strides[std::size_t(r - 1)], " bytes)");
    if (medkern::overlap(src, dst))
      medkern::detail::throw_shape(op_, ": the output must not overlap the input");
    if (d.N == 0) return;
    if (dot_row_ != nullptr && !planar_src && spatially_contiguous(src)) {
      VerboseScope vs("conv", dot_row_->name, [&] {
        return kernels::conv::describe(d) + ",planar_dst,post=" + kernels::post_ops_str(chain) +
               ",threads=" + std::to_string(num_threads());
      });
      return run_dot(d, src, dst, chain);
    }
    VerboseScope vs("conv", impl_blocked_name_.c_str(), [&] {
      return kernels::conv::describe(d) + (planar_src ? ",planar_src" : "") + ",planar_dst" +
             ",post=" + kernels::post_ops_str(chain) +
             ",threads=" + std::to_string(num_threads());
    });
    run_direct_blocked(d, src, dst, chain, {}, 0, -1, planar_src, true);
  }

  /// execute_blocked for output slices [o0, o1) of the outermost output dimension only (OH
  /// for 2-D, OD for 3-D): dst and the sums hold just those slices, (N, ceil(OC/16),
  /// o1 - o0, OW, 16) or (N, ceil(OC/16), o1 - o0, OH, OW, 16). A consumer that reduces
  /// the output band by band (a pool) then never holds the whole output. Needs
  /// blocked_native().
  void execute_blocked_rows(const TensorView& src, const TensorView& dst, i64 o0, i64 o1,
                            const PostOps& post = {},
                            std::span<const TensorView> sums = {}) const {
    const ConvDesc d = blocked_problem(src);
    std::vector<i64> want = blocked_shape_of(d);
    const i64 outer = d.spatial == 3 ? d.out(0) : d.out(1);
    if (o0 < 0 || o1 <= o0 || o1 > outer)
      medkern::detail::throw_shape(op_, ": output rows [", o0, ", ", o1, ") must be a ",
                                   "non-empty range within the ", outer, " output ",
                                   d.spatial == 3 ? "depth slices" : "rows");
    if (!blocked_native())
      medkern::detail::throw_unsupported(op_, ": output rows need an algorithm that runs ",
                                         "natively blocked (", algorithm(), " does not)");
    want[2] = o1 - o0;
    const PostOps chain = full_chain(post);
    conv_detail::check_blocked_outputs(op_, src, dst, want, chain, sums);
    if (d.N == 0) return;
    if (winograd_applies(d))
      run_winograd_logged(d, src, dst, chain, sums, o0, o1);
    else
      run_direct_blocked_logged(d, src, dst, chain, sums, o0, o1, false);
  }

 private:
  /// The bias followed by `post`, validated.
  PostOps full_chain(const PostOps& post) const {
    PostOps chain;
    if (!bias_.empty()) chain.bias(bias_.data());
    if (chain.count + post.count > PostOps::kMax)
      medkern::detail::throw_shape(op_, ": ", post.count, " post-ops plus the bias exceed the ",
                                   PostOps::kMax, " a convolution fuses (",
                                   kernels::post_ops_str(post), ")");
    for (const auto& op : post) chain.push(op);
    for (const auto& op : chain)
      if ((op.kind == kernels::PostOpKind::bias) && op.data == nullptr)
        medkern::detail::throw_shape(op_, ": a bias post-op needs data (", OC_str(), ")");
    return chain;
  }

  static std::vector<i64> blocked_shape_of(const ConvDesc& d) {
    std::vector<i64> s = output_shape_of(d);
    s[1] = (s[1] + 15) / 16;
    s.push_back(16);
    return s;
  }

  static std::vector<i64> output_shape_of(const ConvDesc& d) {
    std::vector<i64> s{d.N, d.OC};
    for (int i = d.spatial == 3 ? 0 : 1; i < 3; ++i) s.push_back(d.out(i));
    return s;
  }

  /// The problem of a blocked input, validated (shape, block count, contiguity).
  ConvDesc blocked_problem(const TensorView& src) const {
    return problem(conv_detail::blocked_as_planar(op_, src, d_.spatial, d_.IC));
  }


  std::string OC_str() const { return detail_str("out_channels ", d_.OC); }
  template <class... A>
  static std::string detail_str(A&&... a) {
    return medkern::detail::concat(std::forward<A>(a)...);
  }

  std::string weight_str() const {
    std::string s = detail_str(d_.OC, "x", d_.icg());
    for (int i = d_.spatial == 3 ? 0 : 1; i < 3; ++i) s += detail_str("x", d_.kernel[std::size_t(i)]);
    return s;
  }

  void validate() {
    using medkern::detail::throw_shape;
    const std::string ctx = "weight " + weight_str() + ", groups " + std::to_string(d_.groups);
    if (d_.spatial != 2 && d_.spatial != 3)
      throw_shape("conv: spatial rank ", d_.spatial, " must be 2 or 3");
    if (d_.src_type != DType::f32 || d_.wei_type != DType::f32 || d_.dst_type != DType::f32)
      medkern::detail::throw_unsupported(op_, ": dtypes ", dtype_name(d_.src_type), " x ",
                                         dtype_name(d_.wei_type), " -> ", dtype_name(d_.dst_type),
                                         " are not implemented (f32 x f32 -> f32 only)");
    if (d_.groups < 1) throw_shape(op_, ": groups ", d_.groups, " must be positive (", ctx, ")");
    if (d_.IC < 1 || d_.OC < 1)
      throw_shape(op_, ": channels in ", d_.IC, ", out ", d_.OC, " must be positive (", ctx, ")");
    if (d_.IC % d_.groups != 0 || d_.OC % d_.groups != 0)
      throw_shape(op_, ": in_channels ", d_.IC, " and out_channels ", d_.OC,
                  " must be divisible by groups ", d_.groups, " (", ctx, ")");
    conv_detail::check_params(op_, d_, ctx);
    const i64 k = medkern::detail::checked_mul(d_.icg(), d_.kernel_volume(), op_);
    medkern::detail::checked_mul(k, d_.OC, op_);
  }

  void choose(ConvAlgorithm forced, const kernels::conv::DirectRow* forced_row) {
    const Isa isa = active_isa();
    const auto* row =
        forced_row != nullptr ? forced_row : select(kernels::conv::kDirectRegistry, d_, isa);
    kb::BrgemmDesc bd;
    gemm_row_ = select(kb::kRegistry, bd, isa);
    if (row == nullptr || gemm_row_ == nullptr)
      medkern::detail::throw_unsupported(op_, ": no kernel for ", kernels::conv::describe(d_));
    direct_row_ = row;
    post_row_ = select(kernels::kPostRowRegistry, PostOps{}, isa);
    dw_row_ = select(kernels::conv::depthwise::kDwRegistry, d_, isa);
    const i64 icg = d_.icg(), ocg = d_.ocg();
    const bool depthwise = d_.groups > 1 && icg == 1 && ocg == 1 && dw_row_ != nullptr;
    const auto* wino = select(kernels::conv::winograd::kWinoRegistry, d_, isa);
    const bool blockable = d_.groups == 1 || (icg % 16 == 0 && ocg % 16 == 0);
    const bool one_by_one = d_.kernel_volume() == 1 && d_.stride == std::array<i64, 3>{1, 1, 1} &&
                            d_.pad_before == std::array<i64, 3>{0, 0, 0} &&
                            d_.pad_after == std::array<i64, 3>{0, 0, 0};
    const auto up = [](i64 c) { return (c + 15) / 16 * 16; };
    ConvAlgorithm a = forced;
    if (a == ConvAlgorithm::automatic) {
      if (depthwise)
        a = ConvAlgorithm::depthwise;
      else if (!blockable)
        a = ConvAlgorithm::im2col_gemm;
      else if (row->isa == Isa::ref && gemm_row_->isa != Isa::ref)
        a = ConvAlgorithm::im2col_gemm;
      else if (row->isa == Isa::avx512 && d_.groups == 1 && icg <= 8 && ocg >= 8 &&
               d_.stride[2] == 1)
        a = ConvAlgorithm::direct, planar_ = true;
      else if (wino != nullptr && row->isa == Isa::avx512 && icg >= 16 && ocg >= 8 &&
               double(up(icg)) <= 1.3 * double(icg))
        a = ConvAlgorithm::winograd;
      else if (double(up(icg)) * double(up(ocg)) > 1.3 * double(icg) * double(ocg))
        a = ConvAlgorithm::im2col_gemm;
      else if (one_by_one)
        a = ConvAlgorithm::gemm_1x1;
      else
        a = ConvAlgorithm::direct;
    } else if (a == ConvAlgorithm::winograd) {
      if (wino == nullptr)
        medkern::detail::throw_unsupported(op_, ": algorithm winograd needs a 3x3 kernel in ",
                                           "(H, W) (2-D, or 3-D of any depth), stride 1, ",
                                           "dilation 1 and groups 1 (",
                                           kernels::conv::describe(d_), ")");
    } else if (a == ConvAlgorithm::depthwise) {
      if (!depthwise)
        medkern::detail::throw_unsupported(op_, ": algorithm depthwise needs groups == ",
                                           "in_channels == out_channels > 1, got groups ",
                                           d_.groups, ", channels ", d_.IC, " -> ", d_.OC);
    } else if (a != ConvAlgorithm::im2col_gemm && !blockable) {
      medkern::detail::throw_unsupported(
          op_, ": algorithm ", conv_algorithm_name(a), " needs in/out channels per group ", icg,
          "/", ocg, " to be multiples of 16 when groups ", d_.groups, " > 1");
    } else if (a == ConvAlgorithm::gemm_1x1 && !one_by_one) {
      medkern::detail::throw_unsupported(op_, ": algorithm gemm_1x1 needs a 1x1 kernel, stride 1 "
                                         "and no padding (", kernels::conv::describe(d_), ")");
    }
    // On blocked tensors the im2col path pays a reorder to planar and back per call, which
    // costs more than the lanes the direct kernel wastes on channels padded to 16 when the
    // input channels fill their blocks (a 32 -> 2 1x1 head: 1.9x faster direct). Narrow
    // input channels (first layers) keep the reorders: the waste would be up to 16x.
    blocked_direct_ = a == ConvAlgorithm::im2col_gemm && forced == ConvAlgorithm::automatic &&
                      d_.groups == 1 && row->isa != Isa::ref &&
                      double(up(icg)) <= 1.3 * double(icg);
    // First layers (the planar kernel): on blocked tensors the direct kernel reduces over
    // only the icg real channels of the one input block (DirectArgs::kc), so nothing is
    // wasted on the zero lanes; through reorders the 32-channel output alone was copied
    // twice (a 1 -> 32 3x3 at 512x512: 0.29x oneDNN).
    // On a blocked src with one output block the tile is 28 pixels x 1 block whose 28
    // broadcasts come from 28 cache lines: the planar kernel and reorders win there (1 -> 16
    // 5x5x5: 152 against 109 GFLOP/s); a planar src (planar_blocked) packs its 28 pixels
    // in two lines and wins (168).
    if (planar_ && ocg > 16) blocked_direct_ = true;
    // A few-class head (1x1 to <= 4 outputs) writing planar rows from a blocked input
    // reduces across each pixel's channels (kernels/conv/dot) instead of filling a 16-lane
    // output block with 2 real lanes: execute_blocked_to_planar only (32 -> 2 at 512x512,
    // 2 threads: 0.84x oneDNN on the direct kernel; see BENCHMARKS.md).
    dot_row_ = nullptr;
    if (forced == ConvAlgorithm::automatic && forced_row == nullptr && blocked_direct_) {
      const auto* dr = select(kernels::conv::dot::kDotRegistry, d_, isa);
      if (dr != nullptr && dr->isa != Isa::ref) dot_row_ = dr;
    }
    kc_ = planar_ ? int(icg) : 16;
    wino_row_ = a == ConvAlgorithm::winograd ? wino : nullptr;
    algo_ = a;
    kernel_ = a == ConvAlgorithm::im2col_gemm ? gemm_row_->name
              : a == ConvAlgorithm::depthwise ? dw_row_->name
              : planar_                       ? kernels::conv::kPlanarAvx512Name
                                              : row->name;
    impl_name_ = std::string(conv_algorithm_name(a)) + ":" + kernel_;
    if (wino_row_ != nullptr)
      impl_wino_name_ = std::string("winograd:") + wino_row_->name + "+" + row->name + ",blocked";
    impl_blocked_name_ =
        blocked_direct_ ? std::string(conv_algorithm_name(one_by_one ? ConvAlgorithm::gemm_1x1
                                                                     : ConvAlgorithm::direct)) +
                              ":" + row->name + ",blocked"
                        : impl_name_ + ",blocked";
  }

  void pack(const float* w) {
    const i64 icg = d_.icg(), kv = d_.kernel_volume(), G = d_.groups;
    if (dot_row_ != nullptr) {  // [oc][input blocks * 16], zero padded
      const i64 nb = (icg + 15) / 16;
      wei_dot_.allocate(d_.OC * nb * 16);
      for (i64 o = 0; o < d_.OC; ++o)
        for (i64 c = 0; c < nb * 16; ++c)
          wei_dot_.data()[o * nb * 16 + c] = c < icg ? w[o * icg + c] : 0.f;
    }
    if (algo_ == ConvAlgorithm::depthwise) {  // [block][tap][16 channels]
      const i64 cb = (G + 15) / 16;
      wei_.allocate(cb * kv * 16);
      for (i64 b = 0; b < cb; ++b)
        for (i64 t = 0; t < kv; ++t)
          for (i64 l = 0; l < 16; ++l) {
            const i64 c = b * 16 + l;
            wei_.data()[(b * kv + t) * 16 + l] = c < G ? w[c * kv + t] : 0.f;
          }
      return;
    }
    if (algo_ == ConvAlgorithm::im2col_gemm || planar_) {
      wei_.allocate(d_.OC * icg * kv);  // planar order (planar kernel, im2col GEMM)
      std::memcpy(wei_.data(), w, std::size_t(wei_.size()) * sizeof(float));
      if (blocked_direct_ || planar_) pack_direct(w, wei_blk_);
      return;
    }
    pack_direct(w, wei_);
    if (wino_row_ != nullptr) pack_winograd(w);
  }

  /// U = G g G^T per (oc, ic, kd), per position packed like the direct kernel's 1x1 panels:
  /// [pos][block group: [kd][icb][16 ic][16*nv oc]] (groups at block0 * 16 * KD*icb_ * 16).
  void pack_winograd(const float* w) {
    namespace kw = kernels::conv::winograd;
    const i64 icg = d_.icg(), ocg = d_.ocg(), KD = d_.kernel[0], nb = KD * icb_;
    const i64 per_pos = ocb_ * 16 * nb * 16;  // batch element b = kd * icb_ + input block
    wei_wino_.allocate(medkern::detail::checked_mul(per_pos, i64(kw::kPositions), op_));
    std::fill_n(wei_wino_.data(), wei_wino_.size(), 0.f);
    parallel_tasks(i64(grp_.size()), [&](i64 j) {
      const Group& gr = grp_[std::size_t(j)];
      const i64 ncol = 16 * gr.nv;
      double u[kw::kPositions];
      for (i64 n = 0; n < ncol; ++n) {
        const i64 oc = gr.block0 * 16 + n;
        if (oc >= ocg) break;
        for (i64 ic = 0; ic < icg; ++ic)
          for (i64 kd = 0; kd < KD; ++kd) {
            kw::weight_tile(w + ((oc * icg + ic) * KD + kd) * 9, u);
            const i64 row = (kd * icb_ + ic / 16) * 16 + ic % 16;
            for (i64 p = 0; p < kw::kPositions; ++p)
              wei_wino_.data()[p * per_pos + gr.block0 * 16 * nb * 16 + row * ncol + n] =
                  float(u[p]);
          }
      }
    });
  }

  /// The direct kernel's packing: per group, per block group, [batch][16][16*nv] panels.
  void pack_direct(const float* w, AlignedBuffer<float>& wei) {
    const i64 icg = d_.icg(), ocg = d_.ocg(), kv = d_.kernel_volume(), G = d_.groups;
    icb_ = (icg + 15) / 16;
    ocb_ = (ocg + 15) / 16;
    const i64 ngrp = (ocb_ + kernels::conv::kMaxNv - 1) / kernels::conv::kMaxNv;
    batch_ = icb_ * kv;
    grp_.clear();
    for (i64 j = 0, b0 = 0; j < ngrp; ++j) {
      const int nv = int(ocb_ / ngrp + (j < ocb_ % ngrp ? 1 : 0));
      grp_.push_back({b0, nv, 0});
      b0 += nv;
    }
    const i64 per_group = ocb_ * 16 * batch_ * 16;
    wei.allocate(medkern::detail::checked_mul(G, per_group, op_));
    for (auto& gr : grp_) gr.offset = gr.block0 * 16 * batch_ * 16;
    parallel_tasks(G * ngrp, [&](i64 t) {
      const i64 g = t / ngrp;
      const Group& gr = grp_[std::size_t(t % ngrp)];
      const i64 ncol = 16 * gr.nv;
      float* out = wei.data() + g * per_group + gr.offset;
      for (i64 b = 0; b < batch_; ++b) {
        const i64 icb = b / kv, k = b % kv;
        for (i64 l = 0; l < 16; ++l) {
          const i64 ic = icb * 16 + l;
          for (i64 n = 0; n < ncol; ++n) {
            const i64 oc = gr.block0 * 16 + n;
            out[(b * 16 + l) * ncol + n] =
                ic < icg && oc < ocg ? w[((g * ocg + oc) * icg + ic) * kv + k] : 0.f;
          }
        }
      }
    });
  }

  /// The full problem for `src`, validated against the primitive.
  ConvDesc problem(const TensorView& src) const {
    ConvDesc d = d_;
    conv_detail::take_input(op_, src, d, "input");
    const std::string ctx = "input " + src.shape_str() + ", weight " + weight_str() +
                            ", groups " + std::to_string(d_.groups);
    if (d.IC != d_.IC)
      medkern::detail::throw_shape(op_, ": input channels ", d.IC, " must equal weight in_channels ",
                                   d_.icg(), " x groups ", d_.groups, " = ", d_.IC, " (", ctx, ")");
    conv_detail::check_fits(op_, d, ctx);
    if (d.N > 0 && src.data == nullptr)
      medkern::detail::throw_shape(op_, ": input data is null (", ctx, ")");
    return d;
  }

  void check_dst(const ConvDesc& d, const TensorView& src, const TensorView& dst) const {
    std::vector<i64> want{d.N, d.OC};
    for (int i = d.spatial == 3 ? 0 : 1; i < 3; ++i) want.push_back(d.out(i));
    bool ok = dst.rank == int(want.size()) && dst.dtype == DType::f32;
    for (int i = 0; ok && i < dst.rank; ++i)
      ok = dst.shape[std::size_t(i)] == want[std::size_t(i)] && dst.strides[std::size_t(i)] % 4 == 0;
    if (!ok)
      medkern::detail::throw_shape(op_, ": output must be f32 ", conv_detail::dims_str(want),
                                   " with strides that are multiples of 4 bytes, got ",
                                   dtype_name(dst.dtype), " ", dst.shape_str(), " (input ",
                                   src.shape_str(), ")");
    if (d.N > 0 && dst.data == nullptr)
      medkern::detail::throw_shape(op_, ": output data is null");
  }

  /// A zero-padded channel-blocked input (N, ICB, Dp, Hp, Wp, 16), padding materialised, in
  /// the calling thread's kept scratch (conv_detail::thread_scratch), or in `local` when it
  /// is larger than that. Rows in the D/H padding are zero; `fill(n, cb, id, ih, dst)` writes
  /// input row (n, block cb, id, ih) as W blocked pixels at dst, between zero W padding.
  template <class Fill>
  float* padded_input(const ConvDesc& d, i64 ICB, AlignedBuffer<float>& local,
                      const Fill& fill) const {
    const i64 Dp = d.padded(0), Hp = d.padded(1), Wp = d.padded(2), W = d.in[2];
    const i64 row_f = Wp * 16, plane_f = Dp * Hp * row_f;
    float* const xb = conv_detail::thread_scratch(
        medkern::detail::checked_mul(medkern::detail::checked_mul(d.N, ICB, op_), plane_f, op_),
        local);
    const i64 rows = d.N * ICB * Dp * Hp;
    const i64 grain = std::max<i64>(1, 16384 / (row_f * 4));
    const i64 pd = d.pad_before[0], ph = d.pad_before[1], pw = d.pad_before[2];
    parallel_for_1d(rows, grain, [&](i64 r0, i64 r1) {
      for (i64 r = r0; r < r1; ++r) {
        float* out = xb + r * row_f;
        const i64 hp = r % Hp, dp = (r / Hp) % Dp, cb = (r / (Hp * Dp)) % ICB,
                  n = r / (Hp * Dp * ICB);
        const i64 id = dp - pd, ih = hp - ph;
        if (id < 0 || id >= d.in[0] || ih < 0 || ih >= d.in[1]) {
          std::memset(out, 0, std::size_t(row_f) * sizeof(float));
          continue;
        }
        std::memset(out, 0, std::size_t(pw * 16) * sizeof(float));
        fill(n, cb, id, ih, out + pw * 16);
        std::memset(out + (pw + W) * 16, 0, std::size_t((Wp - pw - W) * 16) * sizeof(float));
      }
    });
    return xb;
  }

  /// A zero-padded planar copy (N, IC, Dp, Hp, Wp) of a planar input, in the calling
  /// thread's kept scratch (or `local` beyond it): first layers read it in place.
  float* padded_planar_input(const ConvDesc& d, const TensorView& src,
                             AlignedBuffer<float>& local) const {
    const conv_detail::Planar s = conv_detail::planar_of(src);
    const i64 Dp = d.padded(0), Hp = d.padded(1), Wp = d.padded(2), W = d.in[2];
    const i64 pd = d.pad_before[0], ph = d.pad_before[1], pw = d.pad_before[2];
    const i64 rows = medkern::detail::checked_mul(d.N * d.IC, Dp * Hp, op_);
    float* const xq = conv_detail::thread_scratch<4>(
        medkern::detail::checked_mul(rows, Wp, op_), local);
    parallel_for_1d(rows, std::max<i64>(1, 16384 / (Wp * 4)), [&](i64 r0, i64 r1) {
      for (i64 r = r0; r < r1; ++r) {
        float* out = xq + r * Wp;
        const i64 hp = r % Hp, dp = (r / Hp) % Dp, c = (r / (Hp * Dp)) % d.IC,
                  n = r / (Hp * Dp * d.IC);
        const i64 id = dp - pd, ih = hp - ph;
        std::fill(out, out + Wp, 0.f);
        if (id < 0 || id >= d.in[0] || ih < 0 || ih >= d.in[1]) continue;
        const char* in = s.base + n * s.n + c * s.c + id * s.d + ih * s.h;
        if (s.w == i64(sizeof(float)))
          std::memcpy(out + pw, in, std::size_t(W) * sizeof(float));
        else
          for (i64 w = 0; w < W; ++w) std::memcpy(out + pw + w, in + w * s.w, sizeof(float));
      }
    });
    return xq;
  }

  /// padded_input from a planar source: G groups of `icbg` blocks covering `icg` channels.
  float* blocked_input(const ConvDesc& d, const conv_detail::Planar& s, i64 G, i64 icbg, i64 icg,
                       AlignedBuffer<float>& local) const {
    const kernels::conv::DirectRow& row = *direct_row_;
    return padded_input(d, G * icbg, local, [&](i64 n, i64 cb, i64 id, i64 ih, float* out) {
      // Channel block cb of the whole tensor: group cb / icbg, block cb % icbg.
      const i64 c0 = (cb / icbg) * icg + (cb % icbg) * 16;
      const int nc = int(std::min<i64>(16, icg - (cb % icbg) * 16));
      row.to_blocked(s.base + n * s.n + c0 * s.c + id * s.d + ih * s.h, s.c, s.w, nc, d.in[2],
                     out);
    });
  }

  /// Stores blocked row `tmp` (M pixels x nc channels from oc0) into dst at (n, od, oh, ow0)
  /// and runs the chain's tail on the stored rows while they are in L1.
  void store_rows(const float* tmp, int nc, i64 M, const conv_detail::Planar& o, i64 n, i64 oc0,
                  i64 od, i64 oh, i64 ow0, const PostOps& tail,
                  const std::vector<conv_detail::Planar>& res) const {
    char* out0 = o.base + n * o.n + oc0 * o.c + od * o.d + oh * o.h + ow0 * o.w;
    direct_row_->from_blocked(tmp, nc, M, out0, o.c, o.w);
    for (int c = 0; c < nc && tail.count > 0; ++c) {
      const PostOps rp = conv_detail::bind_row(tail, res, n, oc0 + c, od, oh, ow0);
      char* out = out0 + c * o.c;
      if (o.w == 4) {
        post_row_->run(rp, oc0 + c, reinterpret_cast<float*>(out), M);
      } else {
        alignas(64) float buf[kConvSegment];
        for (i64 w = 0; w < M; ++w) std::memcpy(buf + w, out + w * o.w, sizeof(float));
        post_row_->run(rp, oc0 + c, buf, M);
        for (i64 w = 0; w < M; ++w) std::memcpy(out + w * o.w, buf + w, sizeof(float));
      }
    }
  }

  void run_depthwise(const ConvDesc& d, const TensorView& src, const TensorView& dst,
                     const PostOps& chain, const std::vector<conv_detail::Planar>& res) const {
    namespace kd = kernels::conv::depthwise;
    const conv_detail::Planar s = conv_detail::planar_of(src), o = conv_detail::planar_of(dst);
    const i64 C = d.groups, CB = (C + 15) / 16, kv = d.kernel_volume();
    const i64 Dp = d.padded(0), Hp = d.padded(1), Wp = d.padded(2);
    const i64 OD = d.out(0), OH = d.out(1), OW = d.out(2);
    const i64 row_f = Wp * 16, plane_f = Dp * Hp * row_f;
    AlignedBuffer<float> xb_local;
    float* const xb = blocked_input(d, s, 1, CB, C, xb_local);
    std::vector<i64> taps(static_cast<std::size_t>(kv));
    for (i64 k = 0; k < kv; ++k) {
      const i64 a = k / (d.kernel[1] * d.kernel[2]), b = (k / d.kernel[2]) % d.kernel[1],
                c = k % d.kernel[2];
      taps[std::size_t(k)] = a * d.dilation[0] * Hp * row_f + b * d.dilation[1] * row_f +
                             c * d.dilation[2] * 16;
    }
    std::vector<std::vector<float>> pdata;
    const PostOps head = conv_detail::pad_to_blocks(chain.head(), 1, C, CB, pdata);
    const PostOps tail = chain.tail();
    const i64 S = kConvSegment, nseg = (OW + S - 1) / S;
    const i64 items = d.N * CB * OD * OH * nseg;
    const i64 sd = d.stride[0], sh = d.stride[1], sw = d.stride[2];
    parallel_for_1d(items, 1, [&](i64 t0, i64 t1) {
      alignas(64) float tmp[kConvSegment * 16];
      kd::DwArgs a;
      a.tap_off = taps.data();
      a.taps = kv;
      a.lda = 16 * sw;
      a.dst = tmp;
      for (i64 t = t0; t < t1; ++t) {
        i64 r = t;
        const i64 seg = r % nseg; r /= nseg;
        const i64 oh = r % OH; r /= OH;
        const i64 od = r % OD; r /= OD;
        const i64 cb = r % CB;
        const i64 n = r / CB;
        const i64 ow0 = seg * S, M = std::min(S, OW - ow0);
        a.src = xb + (n * CB + cb) * plane_f + (od * sd * Hp + oh * sh) * row_f +
                ow0 * sw * 16;
        a.wei = wei_.data() + cb * kv * 16;
        a.post = head.shifted(cb * 16);
        dw_row_->run(a, M);
        store_rows(tmp, int(std::min<i64>(16, C - cb * 16)), M, o, n, cb * 16, od, oh, ow0,
                   tail, res);
      }
    });
  }

  void run_direct(ConvDesc d, const TensorView& src, const TensorView& dst, const PostOps& chain,
                  std::vector<conv_detail::Planar> res) const {
    namespace kc = kernels::conv;
    conv_detail::Planar s = conv_detail::planar_of(src), o = conv_detail::planar_of(dst);
    bool flat = algo_ == ConvAlgorithm::gemm_1x1 && conv_detail::plane_contiguous(src) &&
                conv_detail::plane_contiguous(dst);
    for (const conv_detail::Planar& r : res) {
      TensorView rv = dst;  // the residual's geometry: dst's shape with its strides
      rv.strides = {r.n, r.c, r.d, r.h, r.w};
      if (d.spatial == 2) rv.strides = {r.n, r.c, r.h, r.w};
      flat = flat && conv_detail::plane_contiguous(rv);
    }
    if (flat) {
      d.in = {1, 1, d.in[0] * d.in[1] * d.in[2]};  // one row of every pixel: a GEMM
      s.d = s.h = o.d = o.h = 0;
      s.w = o.w = 4;
      for (conv_detail::Planar& r : res) r.d = r.h = 0, r.w = 4;
    }
    const PostOps tail = chain.tail();
    const i64 G = d.groups, icg = d.icg(), ocg = d.ocg(), kv = d.kernel_volume();
    const i64 Dp = d.padded(0), Hp = d.padded(1), Wp = d.padded(2);
    const i64 OD = d.out(0), OH = d.out(1), OW = d.out(2);
    const i64 ICB = G * icb_;
    const i64 row_f = Wp * 16, plane_f = Dp * Hp * row_f;
    // 1. Zero-padded blocked copy of the input.
    const kc::DirectRow& row = *direct_row_;
    AlignedBuffer<float> xb_local;
    float* const xb = blocked_input(d, s, G, icb_, icg, xb_local);
    // 2. Offsets of the batch elements (icb, kd, kh, kw) from a pixel's first tap.
    std::vector<i64> a_off(static_cast<std::size_t>(batch_));
    for (i64 b = 0; b < batch_; ++b) {
      const i64 icb = b / kv, k = b % kv;
      const i64 kd = k / (d.kernel[1] * d.kernel[2]), kh = (k / d.kernel[2]) % d.kernel[1],
                kw = k % d.kernel[2];
      a_off[std::size_t(b)] = icb * plane_f + kd * d.dilation[0] * Hp * row_f +
                              kh * d.dilation[1] * row_f + kw * d.dilation[2] * 16;
    }
    // 3. Post-op data padded to whole blocks: index (g*ocb_ + block)*16 + lane.
    std::vector<std::vector<float>> pdata;
    const PostOps post = conv_detail::pad_to_blocks(chain.head(), G, ocg, ocb_, pdata);
    // 4. Row segments in parallel.
    const i64 S = kConvSegment, nseg = (OW + S - 1) / S;
    const i64 ngrp = i64(grp_.size());
    const i64 items = d.N * G * ngrp * OD * OH * nseg;
    const i64 per_group = ocb_ * 16 * batch_ * 16;
    const i64 sd = d.stride[0], sh = d.stride[1], sw = d.stride[2];
    parallel_for_1d(items, 1, [&](i64 t0, i64 t1) {
      alignas(64) float tmp[kc::kMaxNv * kConvSegment * 16];
      kc::DirectArgs a;
      a.a_off = a_off.data();
      a.lda = 16 * sw;
      a.dst = tmp;
      a.dst_pix = 16;
      for (i64 t = t0; t < t1; ++t) {
        i64 r = t;
        const i64 seg = r % nseg; r /= nseg;
        const i64 oh = r % OH; r /= OH;
        const i64 od = r % OD; r /= OD;
        const i64 j = r % ngrp; r /= ngrp;
        const i64 g = r % G;
        const i64 n = r / G;
        const Group& gr = grp_[std::size_t(j)];
        const i64 ow0 = seg * S, M = std::min(S, OW - ow0);
        a.src = xb + (n * ICB + g * icb_) * plane_f + (od * sd * Hp + oh * sh) * row_f +
                ow0 * sw * 16;
        a.wei = wei_.data() + g * per_group + gr.offset;
        a.nv = gr.nv;
        a.dst_block = M * 16;
        a.post = post.shifted((g * ocb_ + gr.block0) * 16);
        const i64 per = std::max<i64>(1, kConvPassBytes / (1024 * gr.nv));
        const i64 passes = (batch_ + per - 1) / per, step = (batch_ + passes - 1) / passes;
        for (i64 b0 = 0; b0 < batch_; b0 += step) {
          const i64 b1 = std::min(batch_, b0 + step);
          row.run(a, M, b0, b1, b0 == 0, b1 == batch_);
        }
        for (int v = 0; v < gr.nv; ++v) {
          const i64 blk = gr.block0 + v;
          const int nc = int(std::min<i64>(16, ocg - blk * 16));
          if (nc <= 0) break;
          const i64 oc0 = g * ocg + blk * 16;
          store_rows(tmp + v * M * 16, nc, M, o, n, oc0, od, oh, ow0, tail, res);
        }
      }
    });
  }

  /// Blocked src (N, ICB, [D,] H, W, 16) whose pixels follow each other in every block.
  static bool spatially_contiguous(const TensorView& src) {
    const int r = src.rank;
    i64 want = 16 * i64(sizeof(float));
    for (int i = r - 2; i >= 2; --i) {
      if (src.strides[std::size_t(i)] != want) return false;
      want *= src.shape[std::size_t(i)];
    }
    return true;
  }

  /// execute_blocked_to_planar of a few-class 1x1 head: the dot kernel over chunks of
  /// kDotChunk pixels per task, then the chain on each output row of the chunk (in L1).
  void run_dot(const ConvDesc& d, const TensorView& src, const TensorView& dst,
               const PostOps& chain) const {
    const i64 P = d.out(0) * d.out(1) * d.out(2), nb = (d.IC + 15) / 16;
    const i64 per_image = (P + kDotChunk - 1) / kDotChunk;
    const char* const xs = static_cast<const char*>(src.data);
    char* const ys = static_cast<char*>(dst.data);
    const i64 xsN = src.strides[0], xsC = src.strides[1] / 4;
    const i64 ysN = dst.strides[0], ysC = dst.strides[1] / 4;
    parallel_for_1d(d.N * per_image, 1, [&](i64 t0, i64 t1) {
      for (i64 t = t0; t < t1; ++t) {
        const i64 n = t / per_image, m0 = t % per_image * kDotChunk;
        const i64 M = std::min(kDotChunk, P - m0);
        kernels::conv::dot::DotArgs a;
        a.src = reinterpret_cast<const float*>(xs + n * xsN) + m0 * 16;
        a.lds = xsC;
        a.nb = int(nb);
        a.wei = wei_dot_.data();
        a.noc = int(d.OC);
        a.dst = reinterpret_cast<float*>(ys + n * ysN) + m0;
        a.ldd = ysC;
        dot_row_->run(a, M);
        if (!chain.empty())
          for (i64 o = 0; o < d.OC; ++o) post_row_->run(chain, o, a.dst + o * ysC, M);
      }
    });
  }

  /// execute_blocked for the direct and gemm_1x1 algorithms. Output rows are split into
  /// equal segments of up to kConvSegment pixels; a task is (image, group, block group,
  /// unit), a unit being one row segment or, on the padded path, a band of whole rows.
  /// Two ways to reach the input:
  ///   in place: the kernel reads the caller's blocked input. Taps of rows above/below the
  ///     input (D/H padding) point at a zero row. A segment with a border pixel reads a
  ///     per-task halo: its input window [icb][kd][kh][Wh][16], copied zero-padded (a border
  ///     pixel's taps straddle the edge; without a halo the kernel would need per-tap masks).
  ///   padded copy: the input is copied once into a zero-padded blocked tensor (as execute's
  ///     direct path does), so every tap of every pixel is in bounds and every unit runs in
  ///     place. Chosen when the halos would copy over 4x more than that tensor (each halo is
  ///     re-copied per block group and per row: KD*KH input rows per output row), or when
  ///     rows are narrower than half a segment.
  /// With every tap in bounds (the padded copy, or no padding at all) narrow rows run in
  /// bands of whole rows whose weight passes stay in L1 across all of the band's rows (a
  /// 3-D row of 8 pixels alone re-streams every pass from L2/L3 for 8 pixels: 5x5x5
  /// 256 -> 256 at 4x8x8 ran at 0.5x oneDNN).
  /// Single-pass reductions store straight into dst, multi-pass ones through the task's row
  /// buffer; the chain's tail runs on the stored rows (one contiguous run of pixels per
  /// task).
  /// run_direct_blocked inside the verbose log's scope.
  void run_direct_blocked_logged(const ConvDesc& d, const TensorView& src, const TensorView& dst,
                                 const PostOps& chain, std::span<const TensorView> sums,
                                 i64 o0, i64 o1, bool planar_src) const {
    VerboseScope vs("conv", impl_blocked_name_.c_str(), [&] {
      return kernels::conv::describe(d) + (planar_src ? ",planar_src" : "") +
             (o1 >= 0 ? ",rows=" + std::to_string(o0) + ":" + std::to_string(o1) : "") +
             ",post=" + kernels::post_ops_str(chain) +
             ",threads=" + std::to_string(num_threads());
    });
    run_direct_blocked(d, src, dst, chain, sums, o0, o1, planar_src);
  }

  /// [o0, o1): the slices of the outermost output dimension to compute (o1 < 0: all); dst
  /// and sums then hold only those.
  /// `planar_src`: src is planar (N, IC, [D,] H, W) with IC <= 8 (a first layer): a
  /// zero-padded planar copy is read in place, kc = IC channels a plane apart.
  void run_direct_blocked(const ConvDesc& d, const TensorView& src, const TensorView& dst,
                          const PostOps& chain, std::span<const TensorView> sums, i64 o0,
                          i64 o1, bool planar_src = false, bool planar_dst = false) const {
    namespace kc = kernels::conv;
    const i64 G = d.groups, ocg = d.ocg(), kv = d.kernel_volume();
    const i64 D = d.in[0], H = d.in[1], W = d.in[2];
    const i64 OH = d.out(1), OW = d.out(2);
    const i64 KD = d.kernel[0], KH = d.kernel[1], KW = d.kernel[2];
    const i64 sd = d.stride[0], sh = d.stride[1], sw = d.stride[2];
    const i64 dd = d.dilation[0], dh = d.dilation[1], dw = d.dilation[2];
    const i64 pd = d.pad_before[0], ph = d.pad_before[1], pw = d.pad_before[2];
    const i64 Hp = d.padded(1), Wp = d.padded(2);
    const char* const xs = static_cast<const char*>(src.data);
    char* const ys = static_cast<char*>(dst.data);
    const i64 xsN = src.strides[0], xsC = src.strides[1] / 4;
    const i64 ysN = dst.strides[0], ysC = dst.strides[1] / 4;
    const i64 S = kConvSegment;
    const i64 ngrp = i64(grp_.size());
    // 1x1, stride 1, no padding: each image is one row of D*H*W pixels (a GEMM).
    const i64 outer = d.spatial == 3 ? d.out(0) : OH;
    if (o1 < 0) o0 = 0, o1 = outer;
    const bool banded = o0 > 0 || o1 < outer;
    const bool flat = !banded && !planar_src && kv == 1 &&
                      d.stride == std::array<i64, 3>{1, 1, 1} &&
                      d.pad_before == std::array<i64, 3>{0, 0, 0} &&
                      d.pad_after == std::array<i64, 3>{0, 0, 0};
    // Output rows [R0, R1) (a row: one (od, oh)) of the band.
    const i64 per_outer = d.spatial == 3 ? OH : 1;
    const i64 R0 = flat ? 0 : o0 * per_outer, R1 = flat ? 1 : o1 * per_outer;
    const i64 rows = R1 - R0, RW = flat ? D * H * W : OW;
    // Row segments of equal size (up to kConvSegment pixels); in place, a segment reads
    // the input directly when the W taps of all its pixels lie inside it, a halo otherwise.
    struct Piece {
      i64 p0, p1;
      bool halo;
    };
    std::vector<Piece> pieces;
    const i64 lo = flat ? 0 : std::min(OW, (pw + sw - 1) / sw);
    const i64 last = W - 1 - (KW - 1) * dw + pw;
    const i64 hi = flat ? RW : last < 0 ? 0 : std::min(OW, last / sw + 1);
    // Pixels whose taps cross the W padding form edge pieces of their own, at least
    // kConvEdge wide (a tile of a few pixels runs as fast as a full one, one of 1-2 does
    // not): their halos are a few pixels wide, and the interior between them reads the
    // input in place. (Halos of whole segments copied 3x the input per 64-channel 256x256
    // 3x3 convolution: 13% of its time.)
    const i64 el = lo == 0 ? 0 : std::min(RW, std::max(lo, kConvEdge));
    const i64 er = hi == RW ? RW : std::max(el, std::min(hi, RW - kConvEdge));
    i64 halo_pieces = 0;
    const auto add_pieces = [&](i64 a0, i64 a1) {  // [a0, a1) in equal segments
      const i64 n = (a1 - a0 + S - 1) / S;
      for (i64 k = 0; k < n; ++k) {
        const i64 p0 = a0 + (a1 - a0) * k / n, p1 = a0 + (a1 - a0) * (k + 1) / n;
        pieces.push_back({p0, p1, p0 < lo || p1 > hi});
        halo_pieces += pieces.back().halo ? 1 : 0;
      }
    };
    add_pieces(0, el);
    add_pieces(el, er);
    add_pieces(er, RW);
    i64 Wh = 0;  // halo row width (pixels of input)
    for (const Piece& p : pieces)
      if (p.halo) Wh = std::max(Wh, (p.p1 - p.p0 - 1) * sw + d.extent(2));
    const i64 halo_f = icb_ * KD * KH * Wh * 16;
    const i64 ICB = G * icb_;
    const i64 px = planar_src ? 1 : 16;  // floats per pixel of a channel block
    const i64 plane_p = d.padded(0) * Hp * Wp * px;  // floats per block of the padded copy
    const double padded_f = double(d.N) * double(ICB) * double(plane_p);
    const double halo_traffic = double(d.N * G * ngrp * rows * halo_pieces) * double(halo_f);
    const bool narrow = !flat && 2 * OW <= S;
    // The halos copy from cache and the padded copy streams the whole input through memory
    // once more: a halo float is taken to cost a quarter of a padded one.
    const bool padded = planar_src ||
                        (!flat && halo_pieces > 0 && (narrow || 4 * padded_f < halo_traffic) &&
                         padded_f <= double(conv_detail::kKeptScratch));
    // Uniform addressing: every tap of every pixel in bounds (the padded copy, or an input
    // without padding), so rows differ only by their first tap: a unit may span rows, and
    // the batch offsets are shared. Source dims (Hs, Ws) and floats per channel block.
    const bool no_pad = d.pad_before == std::array<i64, 3>{0, 0, 0} &&
                        d.pad_after == std::array<i64, 3>{0, 0, 0};
    const bool uniform = padded || (!flat && no_pad);
    const i64 Hs = padded ? Hp : H, Ws = padded ? Wp : W, blk_s = padded ? plane_p : xsC;
    // Units: a row segment each, or with uniform addressing and narrow rows bands of whole
    // rows (as many as keep every thread busy, each at most a segment of pixels).
    struct Unit {
      i64 r0, r1, p0, p1;
      bool halo;
    };
    std::vector<Unit> units;
    if (uniform && narrow) {
      const i64 tasks_per_band = d.N * G * ngrp;
      const i64 want = (4 * i64(num_threads()) + tasks_per_band - 1) / tasks_per_band;
      const i64 nb = std::min(rows, std::max((rows + S / OW - 1) / (S / OW), want));
      for (i64 k = 0; k < nb; ++k)
        units.push_back({R0 + rows * k / nb, R0 + rows * (k + 1) / nb, 0, OW, false});
    } else {
      for (i64 r = R0; r < R1; ++r)
        for (const Piece& p : pieces) units.push_back({r, r + 1, p.p0, p.p1, p.halo && !padded});
    }
    // Batch element offsets: into a halo window, or (uniform) from a pixel's first tap.
    std::vector<i64> off_h(static_cast<std::size_t>(batch_)), off_u(off_h.size());
    for (i64 b = 0; b < batch_; ++b) {
      const i64 icb = b / kv, k = b % kv;
      const i64 kd = k / (KH * KW), kh = (k / KW) % KH, kw = k % KW;
      off_h[std::size_t(b)] = ((icb * KD + kd) * KH + kh) * Wh * 16 + kw * dw * 16;
      off_u[std::size_t(b)] = icb * blk_s + (kd * dd * Hs + kh * dh) * Ws * px + kw * dw * px;
    }
    AlignedBuffer<float> xp_local;
    // The padded copy of the blocked input (rows copied as they are).
    const float* const xp =
        planar_src ? padded_planar_input(d, src, xp_local)
        : !padded  ? nullptr
                   : padded_input(d, ICB, xp_local, [&](i64 n, i64 cb, i64 id, i64 ih, float* out) {
                    std::memcpy(out, reinterpret_cast<const float*>(xs + n * xsN) + cb * xsC +
                                         (id * H + ih) * W * 16,
                                std::size_t(W * 16) * sizeof(float));
                  });
    // Zero row for D/H padding taps of in-place segments: M pixels lda = 16*sw apart.
    AlignedBuffer<float> zero(S * 16 * sw + 16);
    std::fill_n(zero.data(), zero.size(), 0.f);
    // Per-channel data padded to whole blocks: index (g*ocb_ + block)*16 + lane.
    std::vector<std::vector<float>> pdata;
    const PostOps head = conv_detail::pad_to_blocks(chain.head(), G, ocg, ocb_, pdata);
    const PostOps tail = conv_detail::pad_to_blocks(chain.tail(), G, ocg, ocb_, pdata);
    const i64 nu = i64(units.size());
    const i64 items = d.N * G * ngrp * nu;
    const i64 per_group = ocb_ * 16 * batch_ * 16;
    // Memory-bound convolutions (a short reduction: first layers, few-channel 1x1) with an
    // output far larger than the caches store it non-temporally: no read of each output
    // line before it is written. Not when the chain's tail re-reads the stored rows or
    // padding lanes need clearing afterwards.
    const bool zero_lanes = ocg % 16 == 0 || conv_detail::preserves_zero(chain);
    const bool stream =
        !planar_dst && tail.count == 0 && zero_lanes && batch_ * kc_ <= 64 &&
        double(d.N) * double(G * ocb_) * double(rows * RW) * 64.0 > double(stream_bytes()) &&
        reinterpret_cast<std::uintptr_t>(ys) % 64 == 0 && ysN % 64 == 0 && ysC % 16 == 0;
    const kc::DirectRow& krow = *direct_row_;
    const float* const wei = blocked_direct_ || planar_ ? wei_blk_.data() : wei_.data();
    parallel_for_1d(items, 1, [&](i64 t0, i64 t1) {
      AlignedBuffer<float> halo_local;
      float* const halo = halo_f > 0 && !padded
                              ? conv_detail::thread_scratch<1>(halo_f, halo_local)
                              : nullptr;
      std::vector<i64> off(static_cast<std::size_t>(batch_));
      alignas(64) float tmp[kc::kMaxNv * kConvSegment * 16];
      kc::DirectArgs a;
      a.lda = px * sw;
      a.dst_pix = 16;
      a.kc = kc_;
      a.ldk = planar_src ? plane_p * i64(sizeof(float)) : i64(sizeof(float));
      for (i64 t = t0; t < t1; ++t) {
        i64 r = t;
        const Unit& u = units[std::size_t(r % nu)]; r /= nu;
        const i64 j = r % ngrp; r /= ngrp;
        const i64 g = r % G;
        const i64 n = r / G;
        const i64 M = u.p1 - u.p0, pix0 = (u.r0 - R0) * RW + u.p0, Mt = (u.r1 - u.r0) * M;
        const float* img = reinterpret_cast<const float*>(xs + n * xsN) + g * icb_ * xsC;
        // The first tap of the unit's row `row`, pixel p0 (uniform units; in-place segments
        // keep the row in their offsets).
        const auto row_src = [&](i64 row) -> const float* {
          const i64 od = row / OH, oh = row % OH;
          if (uniform)
            return (padded ? xp + (n * (planar_src ? d.IC : ICB) + g * icb_) * plane_p : img) +
                   ((od * sd * Hs + oh * sh) * Ws + u.p0 * sw) * px;
          return img + (u.p0 * sw - pw) * 16;
        };
        if (uniform) {
          a.a_off = off_u.data();
        } else if (flat) {
          for (i64 b = 0; b < batch_; ++b) off[std::size_t(b)] = b * xsC;
          a.a_off = off.data();
        } else if (u.halo) {
          const i64 od = u.r0 / OH, oh = u.r0 % OH;
          const i64 iw0 = u.p0 * sw - pw, wn = (M - 1) * sw + d.extent(2);
          const i64 x0 = std::clamp<i64>(-iw0, 0, wn), x1 = std::clamp<i64>(W - iw0, x0, wn);
          for (i64 icb = 0; icb < icb_; ++icb)
            for (i64 kd = 0; kd < KD; ++kd)
              for (i64 kh = 0; kh < KH; ++kh) {
                float* h = halo + ((icb * KD + kd) * KH + kh) * Wh * 16;
                const i64 id = od * sd - pd + kd * dd, ih = oh * sh - ph + kh * dh;
                if (id < 0 || id >= D || ih < 0 || ih >= H || x0 == x1) {
                  std::memset(h, 0, std::size_t(wn * 16) * sizeof(float));
                  continue;
                }
                const float* in = img + icb * xsC + ((id * H + ih) * W + iw0) * 16;
                std::memset(h, 0, std::size_t(x0 * 16) * sizeof(float));
                std::memcpy(h + x0 * 16, in + x0 * 16, std::size_t((x1 - x0) * 16) * sizeof(float));
                std::memset(h + x1 * 16, 0, std::size_t((wn - x1) * 16) * sizeof(float));
              }
          a.a_off = off_h.data();
        } else {
          const i64 od = u.r0 / OH, oh = u.r0 % OH;
          const float* base = row_src(u.r0);
          const i64 to_zero = (reinterpret_cast<std::intptr_t>(zero.data()) -
                               reinterpret_cast<std::intptr_t>(base)) / i64(sizeof(float));
          for (i64 b = 0; b < batch_; ++b) {
            const i64 icb = b / kv, k = b % kv;
            const i64 id = od * sd - pd + (k / (KH * KW)) * dd, ih = oh * sh - ph + ((k / KW) % KH) * dh;
            off[std::size_t(b)] = id < 0 || id >= D || ih < 0 || ih >= H
                                      ? to_zero
                                      : icb * xsC + (id * H + ih) * W * 16 + (k % KW) * dw * 16;
          }
          a.a_off = off.data();
        }
        const float* const src0 =
            uniform || (!flat && !u.halo) ? row_src(u.r0) : flat ? img + u.p0 * 16 : halo;
        const Group& gr = grp_[std::size_t(j)];
        const i64 blk0 = g * ocb_ + gr.block0;
        float* const out = reinterpret_cast<float*>(ys + n * ysN) + blk0 * ysC + pix0 * 16;
        a.wei = wei + g * per_group + gr.offset;
        a.nv = gr.nv;
        a.post = head.shifted(blk0 * 16);
        // A reduction up to a quarter above the pass size stays one pass: 32 -> 32 channel 3x3
        // (36 KiB of weights) split in two ran 9% slower at 512x512.
        const i64 per = batch_ * 1024 * gr.nv <= kConvPassBytes * 5 / 4
                            ? batch_
                            : std::max<i64>(1, kConvPassBytes / (1024 * gr.nv));
        const i64 passes = (batch_ + per - 1) / per, step = (batch_ + passes - 1) / passes;
        // Several passes accumulate in the task's row buffer: dst's blocks lie a plane apart,
        // often a multiple of 4 KiB, and re-loading partial sums stored there stalls on 4K
        // aliasing (3-D 256-channel 4x8x8 5x5x5: 2x slower than through a buffer).
        // The last pass reads the partial sums there and stores into dst.
        for (i64 b0 = 0; b0 < batch_; b0 += step) {
          const i64 b1 = std::min(batch_, b0 + step);
          const bool to_dst = b1 == batch_;
          const bool into_dst = to_dst && !planar_dst;  // planar: through the row buffer
          a.dst_block = into_dst ? ysC : Mt * 16;
          a.acc_block = Mt * 16;
          for (i64 row = u.r0; row < u.r1; ++row) {  // one row but on banded units
            a.src = row == u.r0 ? src0 : row_src(row);
            a.dst = (into_dst ? out : tmp) + (row - u.r0) * M * 16;
            a.acc = into_dst && b0 > 0 ? tmp + (row - u.r0) * M * 16 : nullptr;
            a.stream = stream && into_dst;
            krow.run(a, M, b0, b1, b0 == 0, to_dst);
          }
        }
        if (planar_dst) {  // the unit's Mt pixels are consecutive in the planar output
          for (int v = 0; v < gr.nv; ++v) {
            const i64 blk = gr.block0 + v, nc = std::min<i64>(16, ocg - blk * 16);
            if (nc <= 0) break;
            char* const o = ys + n * ysN + (g * ocg + blk * 16) * ysC * 4 + pix0 * 4;
            krow.from_blocked(tmp + v * Mt * 16, int(nc), Mt, o, ysC * 4, 4);
          }
          continue;
        }
        for (int v = 0; v < gr.nv; ++v) {
          const i64 blk = gr.block0 + v;
          float* o = out + v * ysC;
          if (tail.count > 0) {
            const PostOps rp = conv_detail::bind_sums(tail, [&](std::size_t k) {
              const TensorView& sv = sums[k];
              return reinterpret_cast<const float*>(static_cast<const char*>(sv.data) +
                                                    n * sv.strides[0]) +
                     (g * ocb_ + blk) * (sv.strides[1] / 4) + pix0 * 16;
            });
            post_row_->blocked(rp, (g * ocb_ + blk) * 16, o, Mt);
          }
          const i64 nc = std::min<i64>(16, ocg - blk * 16);
          // padding lanes stay zero whatever the chain maps zero to (the kernel's zeros
          // stand when the chain keeps zero and no tail ran on the stored rows)
          if (nc < 16 && !(zero_lanes && tail.count == 0))
            for (i64 m = 0; m < Mt; ++m) std::fill(o + m * 16 + nc, o + m * 16 + 16, 0.f);
        }
      }
    });
  }

  /// run_winograd inside the verbose log's scope.
  void run_winograd_logged(const ConvDesc& d, const TensorView& src, const TensorView& dst,
                           const PostOps& chain, std::span<const TensorView> sums, i64 o0,
                           i64 o1) const {
    VerboseScope vs("conv", impl_wino_name_.c_str(), [&] {
      return kernels::conv::describe(d) +
             (o1 >= 0 ? ",rows=" + std::to_string(o0) + ":" + std::to_string(o1) : "") +
             ",post=" + kernels::post_ops_str(chain) +
             ",threads=" + std::to_string(num_threads());
    });
    run_winograd(d, src, dst, chain, sums, o0, o1);
  }

  /// Winograd F(4x4, 3x3) on blocked tensors (see the file comment): per task a chunk of T
  /// output tiles (n, ty, tx in row-major order), input transform, 36 GEMMs per block group
  /// on the direct kernel, output transform into dst, then the chain on the stored rows.
  /// [o0, o1): the output rows to compute (o1 < 0: all); dst and the sums then hold only
  /// those (the tiles that straddle o0 go through a tile buffer). A tile's result does not
  /// depend on the chunking, so bands equal the whole output's rows exactly.
  void run_winograd(const ConvDesc& d, const TensorView& src, const TensorView& dst,
                    const PostOps& chain, std::span<const TensorView> sums, i64 o0 = 0,
                    i64 o1 = -1) const {
    namespace kc = kernels::conv;
    namespace kw = kernels::conv::winograd;
    constexpr i64 P = kw::kPositions, E = kw::kAlpha, m = kw::kTile, NV = kc::kMaxNv;
    const i64 D = d.in[0], H = d.in[1], W = d.in[2], OH = d.out(1), OW = d.out(2);
    const i64 KD = d.kernel[0], pd = d.pad_before[0], ph = d.pad_before[1], pw = d.pad_before[2];
    // Output depth slices [d0, d1) and rows [o0, o1) of each: bands are rows in 2-D, depth
    // slices in 3-D (the outermost output dimension).
    const bool three = d.spatial == 3;
    const i64 outer = three ? d.out(0) : OH;
    if (o1 < 0) o0 = 0, o1 = outer;
    const i64 d0 = three ? o0 : 0, d1 = three ? o1 : 1;
    if (three) o0 = 0, o1 = OH;
    const i64 ty0 = o0 / m, TH = (o1 + m - 1) / m - ty0, TW = (OW + m - 1) / m;
    const i64 per_plane = TH * TW, planes = d1 - d0, per_img = planes * per_plane;
    const i64 total = d.N * per_img, out_plane = (o1 - o0) * OW;  // pixels per dst slice
    const i64 nb = KD * icb_;  // GEMM batch: (kd, input block)
    const char* const xs = static_cast<const char*>(src.data);
    char* const ys = static_cast<char*>(dst.data);
    const i64 xsN = src.strides[0], xsC = src.strides[1] / 4;
    const i64 ysN = dst.strides[0], ysC = dst.strides[1] / 4;
    // Tiles per task: up to kWinoTiles, and V (36 x nb x T pixels of 16 floats, kept per
    // thread) at most kWinoMaxV bytes (3-D layers of 1024 channels would take 57 MB at 128
    // tiles), in a task count that splits evenly over the threads when there are enough.
    const i64 th = num_threads();
    const i64 tcap = std::clamp<i64>(kWinoMaxV / (P * nb * 64), 8, kWinoTiles);
    i64 chunks = (total + tcap - 1) / tcap;
    if (chunks >= th) chunks = (chunks + th - 1) / th * th;
    const i64 T = (total + chunks - 1) / chunks;
    chunks = (total + T - 1) / T;
    // Fewer chunks than threads (small images: ResNet's 28x28 is 49 tiles) split each
    // chunk's block groups over tasks, so every thread streams a share of the transformed
    // weights rather than one thread all of them (each task transforms its chunk's input).
    const i64 ngrp = i64(grp_.size());
    const i64 gsplit = chunks >= th ? 1 : std::min(ngrp, (th + chunks - 1) / chunks);
    const i64 tasks = chunks * gsplit;
    std::vector<std::vector<float>> pdata;
    const PostOps full = conv_detail::pad_to_blocks(chain, 1, d.OC, ocb_, pdata);
    const kc::DirectRow& krow = *direct_row_;
    const kw::WinoRow& wr = *wino_row_;
    const i64 per_pos = ocb_ * 16 * nb * 16, vpos = nb * T * 16, mpos = NV * T * 16;
    std::vector<i64> boff(static_cast<std::size_t>(nb));  // V[pos] as a 1x1 input row
    for (i64 b = 0; b < nb; ++b) boff[std::size_t(b)] = b * T * 16;
    parallel_for_1d(tasks, 1, [&](i64 c0, i64 c1) {
      AlignedBuffer<float> vloc, mloc;
      float* const V = conv_detail::thread_scratch<5>(P * vpos, vloc);
      float* const Mb = conv_detail::thread_scratch<6>(P * mpos, mloc);
      alignas(64) float patch[kw::kPositions * 16];
      alignas(64) float top[kw::kTile * kw::kTile * 16];  // a tile that starts above o0
      kc::DirectArgs a;
      a.lda = 16;
      a.dst_pix = 16;
      a.dst_block = T * 16;
      a.a_off = boff.data();
      for (i64 task = c0; task < c1; ++task) {
        const i64 c = task / gsplit, part = task % gsplit;
        const i64 g0 = ngrp * part / gsplit, g1 = ngrp * (part + 1) / gsplit;
        const i64 q0 = c * T, nt = std::min(T, total - q0);
        for (i64 t = 0; t < nt; ++t) {  // input transform
          const i64 q = q0 + t, n = q / per_img, od = d0 + (q / per_plane) % planes;
          const i64 ty = ty0 + (q / TW) % TH, tx = q % TW;
          const i64 ih0 = ty * m - ph, iw0 = tx * m - pw;
          const bool inside = ih0 >= 0 && iw0 >= 0 && ih0 + E <= H && iw0 + E <= W;
          const float* img = reinterpret_cast<const float*>(xs + n * xsN);
          for (i64 b = 0; b < nb; ++b) {
            const i64 id = od - pd + b / icb_;  // input depth slice of tap kd = b / icb_
            float* v = V + (b * T + t) * 16;
            if (id < 0 || id >= D) {  // a depth tap in the padding: its products are zero
              for (i64 p = 0; p < P; ++p) std::memset(v + p * vpos, 0, 16 * sizeof(float));
              continue;
            }
            const float* blk = img + (b % icb_) * xsC + id * H * W * 16;
            if (inside) {
              wr.input_tile(blk + (ih0 * W + iw0) * 16, W * 16, v, vpos);
              continue;
            }
            for (i64 r = 0; r < E; ++r)
              for (i64 s = 0; s < E; ++s) {
                const i64 ih = ih0 + r, iw = iw0 + s;
                float* o = patch + (r * E + s) * 16;
                if (ih >= 0 && ih < H && iw >= 0 && iw < W)
                  std::memcpy(o, blk + (ih * W + iw) * 16, 16 * sizeof(float));
                else
                  std::memset(o, 0, 16 * sizeof(float));
              }
            wr.input_tile(patch, E * 16, v, vpos);
          }
        }
        for (i64 j = g0; j < g1; ++j) {
          const Group& gr = grp_[std::size_t(j)];
          a.nv = gr.nv;
          for (i64 p = 0; p < P; ++p) {  // M[pos] = V[pos] U[pos]
            a.src = V + p * vpos;
            a.wei = wei_wino_.data() + p * per_pos + gr.block0 * 16 * nb * 16;
            a.dst = Mb + p * mpos;
            krow.run(a, nt, 0, nb, true, true);
          }
          for (int v = 0; v < gr.nv; ++v) {  // output transform, then the chain per row run
            const i64 blk = gr.block0 + v, nc = std::min<i64>(16, d.OC - blk * 16);
            for (i64 t = 0; t < nt; ++t) {
              const i64 q = q0 + t, n = q / per_img, pl = (q / per_plane) % planes;
              const i64 ty = ty0 + (q / TW) % TH, tx = q % TW;
              const i64 r0 = std::max(o0, ty * m), r1 = std::min(o1, ty * m + m);
              const int cols = int(std::min(m, OW - tx * m));
              float* y = reinterpret_cast<float*>(ys + n * ysN) + blk * ysC +
                         (pl * out_plane + (r0 - o0) * OW + tx * m) * 16;
              if (r0 == ty * m) {
                wr.output_tile(Mb + (v * T + t) * 16, mpos, y, OW * 16, int(r1 - r0), cols);
                continue;
              }
              wr.output_tile(Mb + (v * T + t) * 16, mpos, top, m * 16, int(m), cols);
              for (i64 r = r0; r < r1; ++r)
                std::memcpy(y + (r - r0) * OW * 16, top + (r - ty * m) * m * 16,
                            std::size_t(cols * 16) * sizeof(float));
            }
            if (full.count == 0) continue;  // padding lanes: zero weights give exact zeros
            for (i64 t = 0; t < nt;) {  // runs of tiles within one tile row
              const i64 q = q0 + t, n = q / per_img, pl = (q / per_plane) % planes;
              const i64 ty = ty0 + (q / TW) % TH, tx = q % TW;
              const i64 run = std::min(nt - t, TW - tx);
              const i64 w0 = tx * m, len = std::min(OW, (tx + run) * m) - w0;
              for (i64 oh = std::max(o0, ty * m); oh < std::min(o1, ty * m + m); ++oh) {
                const i64 pix0 = pl * out_plane + (oh - o0) * OW + w0;
                float* o = reinterpret_cast<float*>(ys + n * ysN) + blk * ysC + pix0 * 16;
                const PostOps rp = conv_detail::bind_sums(full, [&](std::size_t k) {
                  const TensorView& sv = sums[k];
                  return reinterpret_cast<const float*>(static_cast<const char*>(sv.data) +
                                                        n * sv.strides[0]) +
                         blk * (sv.strides[1] / 4) + pix0 * 16;
                });
                post_row_->blocked(rp, blk * 16, o, len);
                if (nc < 16)
                  for (i64 i = 0; i < len; ++i) std::fill(o + i * 16 + nc, o + i * 16 + 16, 0.f);
              }
              t += run;
            }
          }
        }
      }
    });
  }

  /// Whether the winograd algorithm runs Winograd on problem d: outputs of at least 4 x 4
  /// (a smaller one fills a tile partly), and at least 4 tiles unless the transformed
  /// weights fit a quarter of the L2: one 4x4 output of a 512 -> 512 layer streams 9.4 MB
  /// of transformed weights for 16 pixels, 0.52x direct (bench, 2 threads); 4 tiles of a
  /// 7x7 output ran 1.32x direct, 9 tiles (12x12) 1.9x.
  bool winograd_applies(const ConvDesc& d) const {
    if (wino_row_ == nullptr || d.out(1) < 4 || d.out(2) < 4) return false;
    const i64 tiles = d.N * d.out(0) * ((d.out(1) + 3) / 4) * ((d.out(2) + 3) / 4);
    return tiles >= 4 || wei_wino_.size() * i64(sizeof(float)) <= (i64(512) << 10);
  }

  /// execute's Winograd path: the planar input reordered to blocked (padding lanes zero), the
  /// blocked run, the blocked result reordered into dst (any strides, a channel slice).
  /// Chains with a sum take run_direct (its residual rows are planar).
  void run_winograd_planar(const ConvDesc& d, const TensorView& src, const TensorView& dst,
                           const PostOps& chain) const {
    const conv_detail::Planar s = conv_detail::planar_of(src), o = conv_detail::planar_of(dst);
    const i64 D = d.in[0], H = d.in[1], W = d.in[2];
    const i64 OD = d.out(0), OH = d.out(1), OW = d.out(2);
    AlignedBuffer<float> xl, yl;
    float* const xb = conv_detail::thread_scratch<2>(
        medkern::detail::checked_mul(d.N * icb_, D * H * W * 16, op_), xl);
    float* const yb = conv_detail::thread_scratch<3>(
        medkern::detail::checked_mul(d.N * ocb_, OD * OH * OW * 16, op_), yl);
    const kernels::conv::DirectRow& row = *direct_row_;
    parallel_for_1d(d.N * icb_ * D * H, std::max<i64>(1, 4096 / W), [&](i64 r0, i64 r1) {
      for (i64 r = r0; r < r1; ++r) {  // rows (n, cb, d, h)
        const i64 h = r % H, dd = (r / H) % D, cb = (r / (H * D)) % icb_,
                  n = r / (H * D * icb_);
        row.to_blocked(s.base + n * s.n + cb * 16 * s.c + dd * s.d + h * s.h, s.c, s.w,
                       int(std::min<i64>(16, d.IC - cb * 16)), W, xb + r * W * 16);
      }
    });
    const auto view = [&](float* p, i64 cb, i64 dd, i64 hh, i64 ww) {
      return d.spatial == 3 ? TensorView::contiguous(p, DType::f32, {d.N, cb, dd, hh, ww, 16})
                            : TensorView::contiguous(p, DType::f32, {d.N, cb, hh, ww, 16});
    };
    run_winograd(d, view(xb, icb_, D, H, W), view(yb, ocb_, OD, OH, OW), chain, {});
    parallel_for_1d(d.N * ocb_ * OD * OH, std::max<i64>(1, 4096 / OW), [&](i64 r0, i64 r1) {
      for (i64 r = r0; r < r1; ++r) {
        const i64 h = r % OH, dd = (r / OH) % OD, cb = (r / (OH * OD)) % ocb_,
                  n = r / (OH * OD * ocb_);
        row.from_blocked(yb + r * OW * 16, int(std::min<i64>(16, d.OC - cb * 16)), OW,
                         o.base + n * o.n + cb * 16 * o.c + dd * o.d + h * o.h, o.c, o.w);
      }
    });
  }

  /// execute_blocked for the algorithms without a blocked path: planar temporaries around
  /// execute (reorders with the direct row's transforms, parallel over (image, block)).
  void run_blocked_by_reorder(const ConvDesc& d, const TensorView& src, const TensorView& dst,
                              const PostOps& post, std::span<const TensorView> sums) const {
    const i64 N = d.N, S_in = d.in[0] * d.in[1] * d.in[2];
    const i64 S_out = d.out(0) * d.out(1) * d.out(2);
    const auto planar = [&](float* p, i64 C, bool out) {
      TensorView v = d.spatial == 3
          ? TensorView::contiguous(p, DType::f32, {N, C, out ? d.out(0) : d.in[0], out ? d.out(1) : d.in[1], out ? d.out(2) : d.in[2]})
          : TensorView::contiguous(p, DType::f32, {N, C, out ? d.out(1) : d.in[1], out ? d.out(2) : d.in[2]});
      return v;
    };
    const kernels::conv::DirectRow& row = *direct_row_;
    // blocked (N, Cb, S, 16) with strides <-> planar (N, C, S), in runs of kRun points whose
    // blocked rows stay in L1 while the row transforms visit their 16 channels.
    constexpr i64 kRun = 256;
    const auto runs = [](i64 S) { return (S + kRun - 1) / kRun; };
    const auto unblock = [&](const TensorView& b, i64 C, i64 S, float* p) {
      const i64 CB = (C + 15) / 16, R = runs(S);
      parallel_for_1d(N * CB * R, 16, [&](i64 t0, i64 t1) {
        for (i64 t = t0; t < t1; ++t) {
          const i64 r = t % R, cb = (t / R) % CB, n = t / (R * CB);
          const i64 s0 = r * kRun, len = std::min(kRun, S - s0);
          const float* in = reinterpret_cast<const float*>(static_cast<const char*>(b.data) +
                                                           n * b.strides[0] + cb * b.strides[1]);
          row.from_blocked(in + s0 * 16, int(std::min<i64>(16, C - cb * 16)), len,
                           reinterpret_cast<char*>(p + (n * C + cb * 16) * S + s0), S * 4, 4);
        }
      });
    };
    // Kept scratch (tags 2, 3; execute's own padded copy uses tag 0): fresh buffers of this
    // size cost a page fault per 4 KiB on every call (the 1x32x64x128x128 head: 5x slower).
    AlignedBuffer<float> xp_local, yp_local;
    float* const xp = conv_detail::thread_scratch<2>(N * d.IC * S_in, xp_local);
    float* const yp = conv_detail::thread_scratch<3>(N * d.OC * S_out, yp_local);
    unblock(src, d.IC, S_in, xp);
    std::vector<AlignedBuffer<float>> sp(sums.size());
    std::vector<TensorView> sv;
    for (std::size_t k = 0; k < sums.size(); ++k) {
      sp[k].allocate(N * d.OC * S_out);
      unblock(sums[k], d.OC, S_out, sp[k].data());
      sv.push_back(planar(sp[k].data(), d.OC, true));
    }
    execute(planar(xp, d.IC, false), planar(yp, d.OC, true), post, sv);
    const i64 CB = (d.OC + 15) / 16, R = runs(S_out);
    parallel_for_1d(N * CB * R, 16, [&](i64 t0, i64 t1) {
      for (i64 t = t0; t < t1; ++t) {
        const i64 r = t % R, cb = (t / R) % CB, n = t / (R * CB);
        const i64 s0 = r * kRun, len = std::min(kRun, S_out - s0);
        float* out = reinterpret_cast<float*>(static_cast<char*>(dst.data) + n * dst.strides[0] +
                                              cb * dst.strides[1]);
        row.to_blocked(reinterpret_cast<const char*>(yp + (n * d.OC + cb * 16) * S_out + s0),
                       S_out * 4, 4, int(std::min<i64>(16, d.OC - cb * 16)), len, out + s0 * 16);
      }
    });
  }

  /// The planar kernel: one task per output row (n, od, oh); see the file comment.
  /// The planar kernel's post-op chain: per-channel data as 16 equal lanes per channel
  /// (held in `pdata`).
  PostOps planar_post(const PostOps& chain, std::vector<std::vector<float>>& pdata) const {
    PostOps post = chain;
    for (int i = 0; i < post.count; ++i) {
      auto& op = post.ops[std::size_t(i)];
      if (op.data == nullptr) continue;
      std::vector<float> v(std::size_t(d_.OC * 16));
      for (i64 c = 0; c < d_.OC; ++c) std::fill_n(v.begin() + c * 16, 16, op.data[c]);
      pdata.push_back(std::move(v));
      op.data = pdata.back().data();
    }
    return post;
  }

  void run_planar(const ConvDesc& d, const TensorView& src, const TensorView& dst,
                  const PostOps& chain) const {
    const conv_detail::Planar s = conv_detail::planar_of(src), o = conv_detail::planar_of(dst);
    const i64 IC = d.IC, KD = d.kernel[0], KH = d.kernel[1], KW = d.kernel[2];
    const i64 OD = d.out(0), OH = d.out(1), OW = d.out(2), OC = d.OC;
    const i64 W = d.in[2], pw = d.pad_before[2], Wp = d.padded(2);
    const i64 R = IC * KD * KH;
    // Rows read in place need W contiguous floats and no W padding; others are copied.
    const bool in_place = s.w == 4 && pw == 0 && d.pad_after[2] == 0;
    const bool direct_out = o.w == 4;
    std::vector<float> zero(std::size_t(Wp), 0.f);
    std::vector<std::vector<float>> pdata;
    const PostOps post = planar_post(chain, pdata);
    const i64 items = d.N * OD * OH;
    const i64 grain = std::max<i64>(1, 65536 / std::max<i64>(1, OC * OW * 4));
    parallel_for_1d(items, grain, [&](i64 t0, i64 t1) {
      std::vector<const float*> rows(static_cast<std::size_t>(R));
      AlignedBuffer<float> buf((in_place ? 0 : R * Wp) + (direct_out ? 0 : OC * OW));
      float* rowbuf = buf.data();
      float* tmp = buf.data() + (in_place ? 0 : R * Wp);
      kernels::conv::PlanarArgs a;
      a.rows = rows.data();
      a.R = R;
      a.KW = int(KW);
      a.dil_w = d.dilation[2];
      a.wei = wei_.data();
      a.OC = OC;
      a.OW = OW;
      a.post = post;
      // Outputs beyond the L2 size bypass the caches (the next layer reads them from memory
      // anyway); smaller ones stay cached for it.
      a.stream = direct_out && d.N * OC * OD * OH * OW * 4 > stream_bytes();
      for (i64 t = t0; t < t1; ++t) {
        const i64 oh = t % OH, od = (t / OH) % OD, n = t / (OH * OD);
        for (i64 ic = 0, r = 0; ic < IC; ++ic)
          for (i64 kd = 0; kd < KD; ++kd)
            for (i64 kh = 0; kh < KH; ++kh, ++r) {
              const i64 id = od * d.stride[0] - d.pad_before[0] + kd * d.dilation[0];
              const i64 ih = oh * d.stride[1] - d.pad_before[1] + kh * d.dilation[1];
              if (id < 0 || id >= d.in[0] || ih < 0 || ih >= d.in[1]) {
                rows[std::size_t(r)] = zero.data();
                continue;
              }
              const char* in = s.base + n * s.n + ic * s.c + id * s.d + ih * s.h;
              if (in_place) {
                rows[std::size_t(r)] = reinterpret_cast<const float*>(in);
                continue;
              }
              float* out = rowbuf + r * Wp;
              std::fill_n(out, pw, 0.f);
              if (s.w == 4)
                std::memcpy(out + pw, in, std::size_t(W) * sizeof(float));
              else
                for (i64 w = 0; w < W; ++w) std::memcpy(out + pw + w, in + w * s.w, sizeof(float));
              std::fill_n(out + pw + W, Wp - pw - W, 0.f);
              rows[std::size_t(r)] = out;
            }
        char* out = o.base + n * o.n + od * o.d + oh * o.h;
        if (direct_out) {
          a.dst = reinterpret_cast<float*>(out);
          a.dst_oc = o.c / 4;
        } else {
          a.dst = tmp;
          a.dst_oc = OW;
        }
        kernels::conv::planar_row_avx512(a);
        if (!direct_out)
          for (i64 c = 0; c < OC; ++c)
            for (i64 w = 0; w < OW; ++w)
              std::memcpy(out + c * o.c + w * o.w, tmp + c * OW + w, sizeof(float));
      }
      if (a.stream) kernels::conv::planar_fence_avx512();
    });
  }

  void run_im2col(const ConvDesc& d, const TensorView& src, const TensorView& dst,
                  const PostOps& chain, const std::vector<conv_detail::Planar>& res) const {
    const conv_detail::Planar s = conv_detail::planar_of(src), o = conv_detail::planar_of(dst);
    const auto st = conv_detail::image_strides(src);
    const i64 G = d.groups, icg = d.icg(), ocg = d.ocg(), kv = d.kernel_volume();
    const i64 K = icg * kv, OH = d.out(1), OW = d.out(2), Q = d.out(0) * OH;
    // 1x1, stride 1, no padding, contiguous planes: the input already is the column matrix.
    const bool direct_b = kv == 1 && d.stride == std::array<i64, 3>{1, 1, 1} &&
                          d.pad_before == std::array<i64, 3>{0, 0, 0} &&
                          d.pad_after == std::array<i64, 3>{0, 0, 0} &&
                          conv_detail::plane_contiguous(src);
    const i64 qc = std::clamp<i64>(kIm2colBytes / std::max<i64>(1, 4 * K * OW), 1, Q);
    const i64 chunks = (Q + qc - 1) / qc;
    const i64 items = d.N * G * chunks;
    const i64 T = std::min<i64>(items, num_threads());
    const i64 P = qc * OW;
    const i64 col_f = direct_b ? 0 : K * P, tmp_f = ocg * P;
    AlignedBuffer<float> scratch(medkern::detail::checked_mul(T, col_f + tmp_f, op_));
    const kb::BrgemmRow& gemm = *gemm_row_;
    parallel_tasks(T, [&](i64 t) {
      float* col = scratch.data() + t * (col_f + tmp_f);
      float* tmp = col + col_f;
      for (i64 it = items * t / T; it < items * (t + 1) / T; ++it) {
        const i64 ch = it % chunks, g = (it / chunks) % G, n = it / (chunks * G);
        const i64 q0 = ch * qc, q1 = std::min(Q, q0 + qc), np = (q1 - q0) * OW;
        const char* img = s.base + n * s.n + g * icg * s.c;
        kb::BrgemmDesc bd;
        bd.M = ocg;
        bd.N = np;
        bd.K = K;
        bd.lda = K;
        bd.ldc = np;
        const void* pa = wei_.data() + g * ocg * K;
        const void* pb;
        if (direct_b) {
          pb = reinterpret_cast<const float*>(img) + q0 * OW;
          bd.ldb = s.c / 4;
        } else {
          kernels::conv::im2col_f32(d, img, st, icg, q0, q1, col, np);
          pb = col;
          bd.ldb = np;
        }
        gemm.run(bd, 1, &pa, &pb, tmp);
        for (i64 m = 0; m < ocg; ++m) {
          const i64 oc = g * ocg + m;
          float* v = tmp + m * np;
          i64 od = q0 / OH, oh = q0 % OH;
          for (i64 q = q0; q < q1; ++q, v += OW) {
            if (chain.count > 0)
              post_row_->run(conv_detail::bind_row(chain, res, n, oc, od, oh, 0), oc, v, OW);
            char* out = o.base + n * o.n + oc * o.c + od * o.d + oh * o.h;
            if (o.w == 4)
              std::memcpy(out, v, std::size_t(OW) * sizeof(float));
            else
              for (i64 w = 0; w < OW; ++w) std::memcpy(out + w * o.w, v + w, sizeof(float));
            if (++oh == OH) oh = 0, ++od;
          }
        }
      }
    });
  }

  struct Group {
    i64 block0;  ///< first output-channel block (within a conv group)
    int nv;      ///< blocks, 1..kMaxNv
    i64 offset;  ///< floats from the conv group's packed weights
  };

  ConvDesc d_;
  const char* op_ = "conv2d";
  ConvAlgorithm algo_ = ConvAlgorithm::direct;
  const kernels::conv::DirectRow* direct_row_ = nullptr;
  const kernels::brgemm::BrgemmRow* gemm_row_ = nullptr;
  const kernels::PostRowRow* post_row_ = nullptr;
  const kernels::conv::depthwise::DwRow* dw_row_ = nullptr;
  const kernels::conv::dot::DotRow* dot_row_ = nullptr;  ///< few-class heads, planar out
  /// Winograd transforms (algorithm winograd, where winograd_applies); U panels in wei_wino_.
  const kernels::conv::winograd::WinoRow* wino_row_ = nullptr;
  AlignedBuffer<float> wei_wino_;
  std::string impl_wino_name_;
  AlignedBuffer<float> wei_dot_;                          ///< [OC][ICB*16] for dot_row_
  const char* kernel_ = "";
  bool planar_ = false;  ///< direct with the planar few-input-channel kernel
  std::string impl_name_, impl_blocked_name_;
  std::vector<float> bias_;
  AlignedBuffer<float> wei_;
  /// execute_blocked runs the direct kernel although execute does not (see choose()); its
  /// packed weights are wei_blk_.
  bool blocked_direct_ = false;
  /// Input channels per block the direct kernel reduces over (icg for first layers).
  int kc_ = 16;
  AlignedBuffer<float> wei_blk_;
  i64 icb_ = 0, ocb_ = 0, batch_ = 0;
  std::vector<Group> grp_;
};

/// One-shot convolution: packs `weights` (OI[D]HW, contiguous) and runs once. For repeated
/// calls with the same weights construct a ConvF32 instead.
inline void conv_forward(const ConvDesc& geometry, const TensorView& src, const float* weights,
                         const float* bias, const TensorView& dst, const PostOps& post = {},
                         ConvAlgorithm algorithm = ConvAlgorithm::automatic) {
  ConvF32(geometry, weights, bias, algorithm).execute(src, dst, post);
}

}  // namespace medkern::ops
