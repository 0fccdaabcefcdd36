// bindings/bind_core.cpp — CPU, ISA, threads, versions and the measured peak.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <Eigen/Core>

#include "medkern/core/cpu.hpp"
#include "medkern/core/dispatch.hpp"
#include "medkern/core/threading.hpp"
#include "medkern/ops/peak.hpp"

namespace py = pybind11;

#ifndef MEDKERN_PYBIND11_VERSION
#define MEDKERN_PYBIND11_VERSION "unknown"
#endif

namespace {

std::string compiler_string() {
#if defined(__clang__)
  return std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  return std::string("gcc ") + __VERSION__;
#else
  return "unknown";
#endif
}

py::list isa_list(const std::vector<medkern::Isa>& v) {
  py::list out;
  for (medkern::Isa i : v) out.append(std::string(medkern::isa_name(i)));
  return out;
}

}  // namespace

void bind_core(py::module_& m) {
  using namespace medkern;
  m.def("cpu_model", [] { return cpu_info().model; });
  m.def("cpu_flags", [] { return cpu_info().flags(); });
  m.def("logical_cpus", [] { return cpu_info().logical_cpus; });
  m.def("caches", [] {
    py::list out;
    for (const CacheInfo& c : cpu_info().caches) {
      py::dict d;
      d["level"] = c.level;
      d["type"] = c.type;
      d["size_bytes"] = c.size_bytes;
      d["line_bytes"] = c.line_bytes;
      d["shared_by_threads"] = c.shared_by_threads;
      out.append(d);
    }
    return out;
  });
  m.def("isa", [] { return std::string(isa_name(effective_isa())); },
        "The ISA kernels use (the CPU's best, capped by MEDKERN_MAX_ISA / set_max_isa).");
  m.def("max_isa", [] { return std::string(isa_name(max_isa())); });
  m.def("isa_available", [] { return isa_list(available_isas()); });
  m.def("isa_names", [] {
    std::vector<std::string> v;
    for (Isa i : kAllIsas) v.emplace_back(isa_name(i));
    return v;
  });
  m.def("set_max_isa", [](const std::string& name) { set_max_isa(name); }, py::arg("name"));
  m.def("num_threads", [] { return num_threads(); });
  m.def("set_num_threads", [](int n) { set_num_threads(n); }, py::arg("n"));
  m.def("versions", [] {
    py::dict d;
    d["medkern"] = MEDKERN_VERSION_STRING;
    d["compiler"] = compiler_string();
    d["onetbb"] = tbb_version_string();
    d["eigen"] = std::to_string(EIGEN_WORLD_VERSION) + "." + std::to_string(EIGEN_MAJOR_VERSION) +
                 "." + std::to_string(EIGEN_MINOR_VERSION);
    d["pybind11"] = MEDKERN_PYBIND11_VERSION;
    return d;
  });
  m.def(
      "measure_peak",
      [](int threads) {
        ops::PeakNumbers p;
        {
          py::gil_scoped_release nogil;
          p = ops::measure_peak(threads);
        }
        py::dict d;
        d["threads"] = p.threads;
        d["f32"] = p.f32_gflops;
        d["bf16"] = p.bf16_gflops;
        d["s8"] = p.s8_gops;
        d["amx_bf16"] = p.amx_bf16_gflops;
        d["amx_s8"] = p.amx_s8_gops;
        d["copy_gbs"] = p.copy_gbs;
        return d;
      },
      py::arg("threads") = 0,
      "Measured peak GFLOP/s (f32 FMA, bf16 dot, s8 VNNI GOP/s, AMX) and copy GB/s; cached.");
}
