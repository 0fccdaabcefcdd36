// bindings/bind_layout.cpp — channel-blocked layouts on numpy arrays: to_blocked / from_blocked.
//
// Arrays of float32, uint16 (bfloat16 bits), int8, uint8 or int32 keep their dtype (a reorder
// moves bits). Inputs must be C-contiguous; the result is a new C-contiguous array. The
// reorder runs with the GIL released.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <vector>

#include "common.hpp"
#include "medkern/core/tensor.hpp"
#include "medkern/ops/dataflow_checks.hpp"
#include "medkern/ops/reorder.hpp"

namespace py = pybind11;
using medkern::DType;
using medkern::TensorView;
using medkern::ops::Layout;

namespace {

/// The medkern dtype of `a`; a dtype without one is a TypeError listing the accepted ones.
DType dtype_of_array(const py::array& a, const char* op) {
  for (DType t : {DType::f32, DType::bf16, DType::s8, DType::u8, DType::s32})
    if (medkern::py::dtype_matches(a, t)) return t;
  throw py::type_error(std::string(op) + ": x dtype " + std::string(py::str(a.dtype())) +
                       " is not supported; use float32, uint16 (bfloat16 bits), int8, uint8 "
                       "or int32 (convert explicitly, e.g. x.astype(np.float32))");
}

/// The plain layout named `name` for an array with `spatial` spatial dimensions. "nchw" and
/// "nhwc" name the channel order and so also serve 5-D arrays; "ncdhw" / "ndhwc" only 5-D.
Layout plain_layout(const std::string& name, int spatial, const char* op, const char* arg) {
  const bool three = spatial == 3;
  if (name == "nchw" || (three && name == "ncdhw")) return three ? Layout::ncdhw : Layout::nchw;
  if (name == "nhwc" || (three && name == "ndhwc")) return three ? Layout::ndhwc : Layout::nhwc;
  medkern::detail::throw_shape(op, ": ", arg, " '", name, "' must be ",
                               three ? "'nchw', 'nhwc', 'ncdhw' or 'ndhwc' for a 5-D array"
                                     : "'nchw' or 'nhwc' for a 4-D array");
}

std::vector<std::int64_t> shape_of(const py::array& a) {
  std::vector<std::int64_t> s(std::size_t(a.ndim()));
  for (std::size_t i = 0; i < s.size(); ++i) s[i] = a.shape(py::ssize_t(i));
  return s;
}

py::array new_array(const py::array& like, const std::vector<std::int64_t>& shape) {
  return medkern::py::empty_aligned(like.dtype(),
                                   std::vector<py::ssize_t>(shape.begin(), shape.end()));
}

/// `out_arg` when given (checked: x's dtype and `want`), else a new array.
py::array out_or_new(const py::array& x, const std::vector<std::int64_t>& want,
                     const std::optional<py::array>& out_arg, const char* op) {
  if (!out_arg) return new_array(x, want);
  if (!out_arg->dtype().is(x.dtype()) || shape_of(*out_arg) != want)
    medkern::detail::throw_shape(op, ": out must have x's dtype and shape ",
                                 medkern::ops::detail::dims_str(want), ", got ",
                                 medkern::ops::detail::dims_str(shape_of(*out_arg)));
  return *out_arg;
}

py::array to_blocked(const py::array& x, const std::string& layout_from,
                     std::optional<py::array> out_arg) {
  constexpr const char* op = "to_blocked";
  const DType t = dtype_of_array(x, op);
  if (x.ndim() != 4 && x.ndim() != 5)
    medkern::detail::throw_shape(op, ": x must be 4-D (N, C, H, W) or 5-D (N, C, D, H, W), got ",
                                 x.ndim(), "-D");
  const Layout from = plain_layout(layout_from, int(x.ndim()) - 2, op, "layout_from");
  const Layout to = medkern::ops::blocked_layout(from);
  const TensorView src = medkern::py::view_of(x, t, op, "x");
  const auto logical = medkern::ops::logical_shape(from, shape_of(x));
  py::array out = out_or_new(x, medkern::ops::layout_shape(to, logical), out_arg, op);
  const TensorView dst = medkern::py::view_of(out, t, op, "out", /*writable=*/true);
  if (medkern::overlap(src, dst))
    medkern::detail::throw_shape(op, ": out must not overlap x");
  {
    py::gil_scoped_release nogil;
    medkern::ops::reorder(src, from, dst, to);
  }
  return out;
}

py::array from_blocked(const py::array& x, std::int64_t channels, const std::string& layout_to,
                       std::optional<py::array> out_arg) {
  constexpr const char* op = "from_blocked";
  const DType t = dtype_of_array(x, op);
  if (x.ndim() != 5 && x.ndim() != 6)
    medkern::detail::throw_shape(op, ": x must be 5-D (N, Cb, H, W, 16) or 6-D (N, Cb, D, H, W, ",
                                 "16), got ", x.ndim(), "-D");
  const auto shape = shape_of(x);
  if (shape.back() != medkern::ops::kChannelBlock)
    medkern::detail::throw_shape(op, ": x last dimension ", shape.back(), " must be ",
                                 medkern::ops::kChannelBlock, " (x shape ",
                                 medkern::ops::detail::dims_str(shape), ")");
  const std::int64_t blocks =
      (channels + medkern::ops::kChannelBlock - 1) / medkern::ops::kChannelBlock;
  if (channels < 0 || blocks != shape[1])
    medkern::detail::throw_shape(op, ": channels ", channels, " must be in [",
                                 shape[1] > 0 ? 16 * shape[1] - 15 : 0, ", ", 16 * shape[1],
                                 "] for x with ", shape[1], " blocks of 16 (x shape ",
                                 medkern::ops::detail::dims_str(shape), ")");
  const Layout to = plain_layout(layout_to, int(x.ndim()) - 3, op, "layout_to");
  const Layout from = medkern::ops::blocked_layout(to);
  const TensorView src = medkern::py::view_of(x, t, op, "x");
  const auto logical = medkern::ops::logical_shape(from, shape, channels);
  py::array out = out_or_new(x, medkern::ops::layout_shape(to, logical), out_arg, op);
  const TensorView dst = medkern::py::view_of(out, t, op, "out", /*writable=*/true);
  if (medkern::overlap(src, dst))
    medkern::detail::throw_shape(op, ": out must not overlap x");
  {
    py::gil_scoped_release nogil;
    medkern::ops::reorder(src, from, dst, to);
  }
  return out;
}

}  // namespace

void bind_layout(py::module_& m) {
  m.def(
      "empty",
      [](const std::vector<py::ssize_t>& shape, const py::dtype& dtype) {
        return medkern::py::empty_aligned(dtype, shape);
      },
      py::arg("shape"), py::arg("dtype"),
      "An uninitialised C-contiguous array whose data starts on a 64-byte boundary.");
  m.def("to_blocked", &to_blocked, py::arg("x"), py::arg("layout_from") = "nchw",
        py::arg("out") = py::none(),
        R"doc(Reorder a plain activation tensor into the channel-blocked layout.

Parameters
----------
x : ndarray, 4-D (N, C, H, W) / (N, H, W, C) or 5-D (N, C, D, H, W) / (N, D, H, W, C),
    float32, uint16 (bfloat16 bits), int8, uint8 or int32, C-contiguous
layout_from : {"nchw", "nhwc"} ("ncdhw" / "ndhwc" accepted for 5-D)
out : ndarray of the result's dtype and shape, C-contiguous, optional (written and returned)

Returns
-------
ndarray of x's dtype, shape (N, ceil(C/16), H, W, 16) or (N, ceil(C/16), D, H, W, 16);
channel c is at [:, c // 16, ..., c % 16]; lanes past C are zero.)doc");
  m.def("from_blocked", &from_blocked, py::arg("x"), py::arg("channels"),
        py::arg("layout_to") = "nchw", py::arg("out") = py::none(),
        R"doc(Reorder a channel-blocked tensor back to a plain layout, dropping padding lanes.

Parameters
----------
x : ndarray, (N, Cb, H, W, 16) or (N, Cb, D, H, W, 16), C-contiguous
channels : int, the real channel count C, with ceil(C/16) == Cb
layout_to : {"nchw", "nhwc"} ("ncdhw" / "ndhwc" accepted for 6-D)
out : ndarray of the result's dtype and shape, C-contiguous, optional (written and returned)

Returns
-------
ndarray of x's dtype, (N, C, H, W) / (N, H, W, C) or the 3-D equivalents.)doc");
}
