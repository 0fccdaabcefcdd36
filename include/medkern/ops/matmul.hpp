// medkern/ops/matmul.hpp — matmul on tensor views: validation, B packing, GEMM.
//
//   out[M,N] = post(a[M,K] @ b[K,N])
// Dtypes (a, b -> out): f32 f32 -> f32; bf16 bf16 -> f32; u8 s8 -> s32.
// a, b and out are 2-D with unit stride along their last axis; rows may be padded.
#pragma once

#include <cstdint>
#include <cstring>
#include <utility>

#include "medkern/core/error.hpp"
#include "medkern/core/tensor.hpp"
#include "medkern/ops/gemm.hpp"

namespace medkern::ops {

namespace detail {

/// Row stride in elements of a 2-D view whose last axis is contiguous.
inline std::int64_t row_stride(const TensorView& v, const char* what) {
  const std::int64_t es = std::int64_t(dtype_size(v.dtype));
  if (v.numel() == 0) return v.shape[1];  // numpy gives empty arrays arbitrary strides
  if (v.shape[1] > 1 && v.strides[1] != es)
    medkern::detail::throw_shape("matmul: ", what, " must have unit stride along its last axis (stride ",
                                 v.strides[1], " bytes, element size ", es, ")");
  if (v.shape[0] <= 1) return v.shape[1];
  if (v.strides[0] % es != 0 || v.strides[0] < v.shape[1] * es)
    medkern::detail::throw_shape("matmul: ", what, " row stride ", v.strides[0],
                                 " bytes must be a multiple of ", es, " and cover its ",
                                 v.shape[1], " columns");
  return v.strides[0] / es;
}

inline bool overlaps(const TensorView& x, const TensorView& y) {
  if (x.numel() == 0 || y.numel() == 0) return false;
  auto extent = [](const TensorView& v) {
    const char* p = static_cast<const char*>(v.data);
    return std::pair<const char*, const char*>(
        p, p + (v.shape[0] - 1) * v.strides[0] + v.shape[1] * std::int64_t(dtype_size(v.dtype)));
  };
  const auto [x0, x1] = extent(x);
  const auto [y0, y1] = extent(y);
  return x0 < y1 && y0 < x1;
}

}  // namespace detail

namespace detail {

/// Packs b into this thread's reusable packing buffer (kept between calls: re-packing a
/// same-sized B then costs a copy, not an allocation and its page faults), then runs GEMM.
template <class TA, class TB, class TC>
void matmul_packed(const TensorView& a, const TensorView& b, const TensorView& out,
                   std::int64_t lda, std::int64_t ldb, std::int64_t ldc, const PostOps& post) {
  thread_local AlignedBuffer<TB> storage;
  PackedB<TB> pb(b.ptr<const TB>(), ldb, a.shape[1], b.shape[1], std::move(storage));
  struct GiveBack {
    PackedB<TB>& pb;
    ~GiveBack() { storage = pb.release(); }
  } give_back{pb};
  gemm(a.shape[0], a.ptr<const TA>(), lda, pb, out.ptr<TC>(), ldc, post);
}

}  // namespace detail

/// Validates shapes and dtypes of out = a @ b; throws ShapeError naming the rule broken.
inline void check_matmul(const TensorView& a, const TensorView& b, const TensorView& out) {
  using medkern::detail::throw_shape;
  if (a.rank != 2) throw_shape("matmul: a must be 2-D, got rank ", a.rank, " (", a.shape_str(), ")");
  if (b.rank != 2) throw_shape("matmul: b must be 2-D, got rank ", b.rank, " (", b.shape_str(), ")");
  if (out.rank != 2) throw_shape("matmul: out must be 2-D, got rank ", out.rank);
  for (const TensorView* v : {&a, &b, &out})
    for (int i = 0; i < 2; ++i)
      if (v->shape[std::size_t(i)] < 0) throw_shape("matmul: negative size ", v->shape_str());
  if (a.shape[1] != b.shape[0])
    throw_shape("matmul: inner dimensions ", a.shape[1], " and ", b.shape[0], " must match (a ",
                a.shape_str(), ", b ", b.shape_str(), ")");
  if (out.shape[0] != a.shape[0] || out.shape[1] != b.shape[1])
    throw_shape("matmul: out shape ", out.shape_str(), " must be ", a.shape[0], "x", b.shape[1]);
  const bool f32 = a.dtype == DType::f32 && b.dtype == DType::f32 && out.dtype == DType::f32;
  const bool bf = a.dtype == DType::bf16 && b.dtype == DType::bf16 && out.dtype == DType::f32;
  const bool q = a.dtype == DType::u8 && b.dtype == DType::s8 && out.dtype == DType::s32;
  if (!(f32 || bf || q))
    throw_shape("matmul: dtypes ", dtype_name(a.dtype), " x ", dtype_name(b.dtype), " -> ",
                dtype_name(out.dtype), " not supported (f32 x f32 -> f32, bf16 x bf16 -> f32, "
                "u8 x s8 -> s32)");
  if (detail::overlaps(out, a) || detail::overlaps(out, b))
    throw_shape("matmul: out must not overlap a or b");
}

/// out = post(a @ b). Packs b (use PackedB + gemm() directly to pack once for many calls).
inline void matmul(const TensorView& a, const TensorView& b, const TensorView& out,
                   const PostOps& post = {}) {
  check_matmul(a, b, out);
  const std::int64_t M = a.shape[0], N = b.shape[1];
  const std::int64_t lda = detail::row_stride(a, "a"), ldb = detail::row_stride(b, "b"),
                     ldc = detail::row_stride(out, "out");
  if (M == 0 || N == 0) return;
  switch (a.dtype) {
    case DType::f32:
      detail::matmul_packed<float, float, float>(a, b, out, lda, ldb, ldc, post);
      break;
    case DType::bf16:
      detail::matmul_packed<bf16, bf16, float>(a, b, out, lda, ldb, ldc, post);
      break;
    default:
      detail::matmul_packed<std::uint8_t, std::int8_t, std::int32_t>(a, b, out, lda, ldb, ldc,
                                                                      post);
      break;
  }
}

}  // namespace medkern::ops
