// bindings/bind_radiomics.cpp — radiomics texture matrices and shape coefficients on numpy
// arrays; GIL released around compute. The feature classes live in
// python/medkern/radiomics/features; these functions are their engine.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "medkern/core/error.hpp"
#include "medkern/radiomics/glcm.hpp"
#include "medkern/radiomics/gldm.hpp"
#include "medkern/radiomics/glrlm.hpp"
#include "medkern/radiomics/glszm.hpp"
#include "medkern/radiomics/ngtdm.hpp"
#include "medkern/radiomics/shape.hpp"

namespace py = pybind11;
namespace mr = medkern::radiomics;
using medkern::detail::throw_shape;

namespace {

mr::LevelsView levels_view(const py::array& a, const char* op) {
  if (!py::isinstance<py::array_t<std::int32_t>>(a))
    throw_shape(op, ": discretized must have dtype int32, got ", std::string(py::str(a.dtype())));
  if (!(a.flags() & py::array::c_style))
    throw_shape(op, ": discretized must be C-contiguous (use numpy.ascontiguousarray)");
  if (a.ndim() != 3) throw_shape(op, ": discretized must be 3-D (z, y, x), got ", a.ndim(), "-D");
  return {static_cast<const std::int32_t*>(a.data()), a.shape(0), a.shape(1), a.shape(2)};
}

py::array_t<double> to_array(std::vector<double>&& v, std::vector<py::ssize_t> shape) {
  auto* heap = new std::vector<double>(std::move(v));
  py::capsule owner(heap, [](void* p) { delete static_cast<std::vector<double>*>(p); });
  return py::array_t<double>(shape, heap->data(), owner);
}

py::array_t<std::int32_t> angles_array(const std::vector<mr::Angle>& angles) {
  py::array_t<std::int32_t> out({py::ssize_t(angles.size()), py::ssize_t(3)});
  auto w = out.mutable_unchecked<2>();
  for (std::size_t a = 0; a < angles.size(); ++a)
    for (int k = 0; k < 3; ++k) w(py::ssize_t(a), k) = angles[a][std::size_t(k)];
  return out;
}

mr::MaskView mask_view(const py::array& a, const char* op) {
  if (!py::isinstance<py::array_t<std::uint8_t>>(a))
    throw_shape(op, ": mask must have dtype uint8, got ", std::string(py::str(a.dtype())));
  if (!(a.flags() & py::array::c_style))
    throw_shape(op, ": mask must be C-contiguous (use numpy.ascontiguousarray)");
  if (a.ndim() != 3) throw_shape(op, ": mask must be 3-D (z, y, x), got ", a.ndim(), "-D");
  return {static_cast<const std::uint8_t*>(a.data()), a.shape(0), a.shape(1), a.shape(2)};
}

}  // namespace

void bind_radiomics(py::module_& m) {
  auto r = m.def_submodule("radiomics", "radiomics texture matrices and shape coefficients");

  r.def(
      "glcm_matrix",
      [](const py::array& levels, const std::vector<int>& distances, bool force2d, int dim) {
        const auto v = levels_view(levels, "glcm");
        mr::AngleMatrices res;
        {
          py::gil_scoped_release nogil;
          res = mr::glcm_matrix(v, distances, force2d, dim);
        }
        const auto na = py::ssize_t(res.angles.size()), ng = py::ssize_t(res.ng);
        auto ang = angles_array(res.angles);
        return py::make_tuple(to_array(std::move(res.counts), {na, ng, ng}), ang);
      },
      py::arg("discretized"), py::arg("distances"), py::arg("force2d"), py::arg("force2d_dim"),
      "Co-occurrence counts (angles, Ng, Ng) and the angles (dz, dy, dx).");

  r.def(
      "glrlm_matrix",
      [](const py::array& levels, bool force2d, int dim) {
        const auto v = levels_view(levels, "glrlm");
        mr::AngleMatrices res;
        std::int64_t nr = 0;
        {
          py::gil_scoped_release nogil;
          res = mr::glrlm_matrix(v, force2d, dim, &nr);
        }
        const auto na = py::ssize_t(res.angles.size()), ng = py::ssize_t(res.ng);
        auto ang = angles_array(res.angles);
        return py::make_tuple(to_array(std::move(res.counts), {na, ng, py::ssize_t(nr)}), ang);
      },
      py::arg("discretized"), py::arg("force2d"), py::arg("force2d_dim"),
      "Run-length counts (angles, Ng, Nr) and the angles (dz, dy, dx).");

  r.def(
      "glszm_matrix",
      [](const py::array& levels, bool force2d, int dim) {
        const auto v = levels_view(levels, "glszm");
        mr::SizeZones res;
        {
          py::gil_scoped_release nogil;
          res = mr::glszm_matrix(v, force2d, dim);
        }
        const auto ng = py::ssize_t(res.ng), ns = py::ssize_t(res.max_size);
        return to_array(std::move(res.counts), {ng, ns});
      },
      py::arg("discretized"), py::arg("force2d"), py::arg("force2d_dim"),
      "Size-zone counts (Ng, largest zone size).");

  r.def(
      "gldm_matrix",
      [](const py::array& levels, const std::vector<int>& distances, int alpha, bool force2d,
         int dim) {
        const auto v = levels_view(levels, "gldm");
        mr::AngleMatrices res;
        {
          py::gil_scoped_release nogil;
          res = mr::gldm_matrix(v, distances, alpha, force2d, dim);
        }
        const auto na = py::ssize_t(res.angles.size()), ng = py::ssize_t(res.ng);
        return to_array(std::move(res.counts), {ng, na + 1});
      },
      py::arg("discretized"), py::arg("distances"), py::arg("alpha"), py::arg("force2d"),
      py::arg("force2d_dim"), "Dependence counts (Ng, neighbours + 1).");

  r.def(
      "ngtdm_matrix",
      [](const py::array& levels, const std::vector<int>& distances, bool force2d, int dim) {
        const auto v = levels_view(levels, "ngtdm");
        mr::AngleMatrices res;
        {
          py::gil_scoped_release nogil;
          res = mr::ngtdm_matrix(v, distances, force2d, dim);
        }
        const auto ng = py::ssize_t(res.ng);
        return to_array(std::move(res.counts), {ng, py::ssize_t(2)});
      },
      py::arg("discretized"), py::arg("distances"), py::arg("force2d"), py::arg("force2d_dim"),
      "Per gray level: voxel count and summed neighbourhood difference (Ng, 2).");

  r.def(
      "shape3d_coefficients",
      [](const py::array& mask, std::array<double, 3> spacing_zyx) {
        const auto v = mask_view(mask, "shape");
        mr::Shape3D s;
        {
          py::gil_scoped_release nogil;
          s = mr::shape3d_coefficients(v, spacing_zyx);
        }
        py::dict d;
        d["SurfaceArea"] = s.surface_area;
        d["MeshVolume"] = s.volume;
        d["Maximum2DDiameterSlice"] = s.diameter_slice;
        d["Maximum2DDiameterColumn"] = s.diameter_column;
        d["Maximum2DDiameterRow"] = s.diameter_row;
        d["Maximum3DDiameter"] = s.diameter_3d;
        return d;
      },
      py::arg("mask"), py::arg("spacing_zyx"),
      "Marching-cubes surface area and volume, and the maximum mesh diameters.");

  r.def(
      "shape2d_coefficients",
      [](const py::array& mask, std::array<double, 2> spacing_yx) {
        const auto v = mask_view(mask, "shape2D");
        mr::Shape2D s;
        {
          py::gil_scoped_release nogil;
          s = mr::shape2d_coefficients(v, spacing_yx);
        }
        py::dict d;
        d["Perimeter"] = s.perimeter;
        d["MeshSurface"] = s.surface;
        d["MaximumDiameter"] = s.diameter;
        return d;
      },
      py::arg("mask"), py::arg("spacing_yx"),
      "Marching-squares perimeter and area, and the maximum mesh diameter of a (1, y, x) mask.");
}
