// bindings/bind_gemm.cpp — matmul on numpy arrays (f32, bf16, u8 x s8), GIL released.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>

#include "common.hpp"
#include "medkern/ops/convert.hpp"
#include "medkern/ops/matmul.hpp"

namespace py = pybind11;
using medkern::DType;
using medkern::TensorView;
using medkern::py::view_of;

namespace {

/// The `out=` array, or a new one of shape (M, N); checked for shape and dtype.
template <class T>
py::array_t<T> output(const std::optional<py::array>& out, std::int64_t M, std::int64_t N,
                      const char* op) {
  if (!out) return py::array_t<T>({M, N});
  const py::array& o = *out;
  view_of(o, medkern::dtype_of<T>::value, op, "out", /*writable=*/true);
  if (o.ndim() != 2 || o.shape(0) != M || o.shape(1) != N)
    medkern::detail::throw_shape(op, ": out must have shape (", M, ", ", N, ")");
  return py::reinterpret_borrow<py::array_t<T>>(o);
}

void check_2d(const py::array& x, const char* op, const char* name) {
  if (x.ndim() != 2)
    medkern::detail::throw_shape(op, ": ", name, " must be 2-D, got ", x.ndim(), "-D");
}

}  // namespace

void bind_gemm(py::module_& m) {
  m.def(
      "matmul",
      [](const py::array& a, const py::array& b, std::optional<py::array> out) {
        check_2d(a, "matmul", "a");
        check_2d(b, "matmul", "b");
        const TensorView va = view_of(a, DType::f32, "matmul", "a");
        const TensorView vb = view_of(b, DType::f32, "matmul", "b");
        auto o = output<float>(out, a.shape(0), b.shape(1), "matmul");
        const TensorView vo = view_of(o, DType::f32, "matmul", "out", true);
        {
          py::gil_scoped_release nogil;
          medkern::ops::matmul(va, vb, vo);
        }
        return o;
      },
      py::arg("a"), py::arg("b"), py::arg("out") = py::none());

  m.def(
      "matmul_bf16",
      [](const py::array& a, const py::array& b, std::optional<py::array> out) {
        // Inputs are bf16 bit patterns (uint16); the Python layer rounds float32 to them.
        check_2d(a, "matmul_bf16", "a");
        check_2d(b, "matmul_bf16", "b");
        const TensorView va = view_of(a, DType::bf16, "matmul_bf16", "a");
        const TensorView vb = view_of(b, DType::bf16, "matmul_bf16", "b");
        auto o = output<float>(out, a.shape(0), b.shape(1), "matmul_bf16");
        const TensorView vo = view_of(o, DType::f32, "matmul_bf16", "out", true);
        {
          py::gil_scoped_release nogil;
          medkern::ops::matmul(va, vb, vo);
        }
        return o;
      },
      py::arg("a"), py::arg("b"), py::arg("out") = py::none());

  m.def(
      "matmul_u8s8",
      [](const py::array& a, const py::array& b, std::optional<py::array> out) {
        check_2d(a, "matmul_u8s8", "a");
        check_2d(b, "matmul_u8s8", "b");
        const TensorView va = view_of(a, DType::u8, "matmul_u8s8", "a");
        const TensorView vb = view_of(b, DType::s8, "matmul_u8s8", "b");
        auto o = output<std::int32_t>(out, a.shape(0), b.shape(1), "matmul_u8s8");
        const TensorView vo = view_of(o, DType::s32, "matmul_u8s8", "out", true);
        {
          py::gil_scoped_release nogil;
          medkern::ops::matmul(va, vb, vo);
        }
        return o;
      },
      py::arg("a"), py::arg("b"), py::arg("out") = py::none());

  m.def(
      "f32_to_bf16",
      [](const py::array& x) {
        const TensorView v = view_of(x, DType::f32, "f32_to_bf16", "x");
        py::array_t<std::uint16_t> out = medkern::py::empty_aligned<std::uint16_t>(
            std::vector<py::ssize_t>(x.shape(), x.shape() + x.ndim()));
        {
          py::gil_scoped_release nogil;
          medkern::ops::convert_f32_to_bf16(v.ptr<const float>(),
                                            reinterpret_cast<medkern::bf16*>(out.mutable_data()),
                                            v.numel());
        }
        return out;
      },
      py::arg("x"), "Rounds float32 to bfloat16 (nearest even); returns the bits as uint16.");
  m.def(
      "bf16_to_f32",
      [](const py::array& x) {
        const TensorView v = view_of(x, DType::bf16, "bf16_to_f32", "x");
        py::array_t<float> out = medkern::py::empty_aligned<float>(
            std::vector<py::ssize_t>(x.shape(), x.shape() + x.ndim()));
        {
          py::gil_scoped_release nogil;
          medkern::ops::convert_bf16_to_f32(v.ptr<const medkern::bf16>(), out.mutable_data(),
                                            v.numel());
        }
        return out;
      },
      py::arg("x"), "Widens bfloat16 bits (uint16) to float32 exactly.");
}
