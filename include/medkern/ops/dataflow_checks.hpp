// medkern/ops/dataflow_checks.hpp — argument checks shared by the data-movement ops (pooling,
// resampling, softmax, concat): rank, dtype, contiguity, output shape, overlap.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "medkern/core/error.hpp"
#include "medkern/core/tensor.hpp"

namespace medkern::ops::dataflow_detail {

inline std::vector<std::int64_t> shape_of(const TensorView& t) {
  return std::vector<std::int64_t>(t.shape.begin(), t.shape.begin() + t.rank);
}

inline std::string dims(const std::vector<std::int64_t>& v) {
  std::string s;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) s += 'x';
    s += std::to_string(v[i]);
  }
  return s;
}

/// `t` is f32 (unless any_dtype), C-contiguous, of one of the given ranks, non-negative dims.
inline void check_tensor(const char* op, const char* name, const TensorView& t, int rank_a,
                         int rank_b = -1, bool any_dtype = false) {
  using medkern::detail::throw_shape;
  if (t.rank != rank_a && t.rank != rank_b) {
    if (rank_b < 0)
      throw_shape(op, ": ", name, " has rank ", t.rank, " (shape ", t.shape_str(), "), must be ",
                  rank_a);
    throw_shape(op, ": ", name, " has rank ", t.rank, " (shape ", t.shape_str(), "), must be ",
                rank_a, " or ", rank_b);
  }
  if (!any_dtype && t.dtype != DType::f32)
    throw_shape(op, ": ", name, " dtype ", dtype_name(t.dtype), " must be f32");
  for (int i = 0; i < t.rank; ++i)
    if (t.shape[std::size_t(i)] < 0)
      throw_shape(op, ": ", name, " dimension ", i, " is ", t.shape[std::size_t(i)],
                  ", must be non-negative");
  if (!t.is_contiguous())
    throw_shape(op, ": ", name, " (shape ", t.shape_str(), ") must be C-contiguous");
  if (t.numel() != 0 && t.data == nullptr)
    throw_shape(op, ": ", name, " data is null for a ", t.shape_str(), " tensor");
}

inline std::int64_t bytes_of(const TensorView& t) {
  return t.numel() * std::int64_t(dtype_size(t.dtype));
}

/// dst must have exactly shape `want` (and src's dtype) and not overlap src.
inline void check_dst(const char* op, const TensorView& src, const TensorView& dst,
                      const std::vector<std::int64_t>& want, bool may_alias = false) {
  using medkern::detail::throw_shape;
  if (dst.dtype != src.dtype)
    throw_shape(op, ": out dtype ", dtype_name(dst.dtype), " must equal input dtype ",
                dtype_name(src.dtype));
  if (shape_of(dst) != want)
    throw_shape(op, ": out shape ", dst.shape_str(), " must be ", dims(want));
  if (!dst.is_contiguous()) throw_shape(op, ": out (shape ", dst.shape_str(), ") must be C-contiguous");
  if (dst.numel() != 0 && dst.data == nullptr)
    throw_shape(op, ": out data is null for a ", dst.shape_str(), " tensor");
  if (overlap(src, dst) && !(may_alias && src.data == dst.data))
    throw_shape(op, ": out memory overlaps the input");
}

}  // namespace medkern::ops::dataflow_detail
