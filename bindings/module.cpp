// bindings/module.cpp — the extension module medkern._core: exception mapping and the areas.
#include <pybind11/pybind11.h>

#include "medkern/core/error.hpp"

namespace py = pybind11;
void bind_core(py::module_& m);
void bind_gemm(py::module_& m);
void bind_layout(py::module_& m);
void bind_conv(py::module_& m);
void bind_ml(py::module_& m);
void bind_dataflow(py::module_& m);
void bind_radiomics(py::module_& m);
void bind_gbdt(py::module_& m);

PYBIND11_MODULE(_core, m) {
  m.doc() = "medkern native kernels (use the medkern package, not this module directly)";
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const medkern::ShapeError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const medkern::UnsupportedError& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    }
  });
  bind_core(m);
  bind_gemm(m);
  bind_layout(m);
  bind_conv(m);
  bind_ml(m);
  bind_dataflow(m);
  bind_radiomics(m);
  bind_gbdt(m);
}
