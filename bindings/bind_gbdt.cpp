// bindings/bind_gbdt.cpp — histogram gradient boosting on float64 numpy arrays (C-contiguous,
// NaN = missing); GIL released during fit and predict. The estimators live in
// python/medkern/ml/ensemble.py; these functions and the GbdtModel class are their engine.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <vector>

#include "medkern/core/error.hpp"
#include "medkern/ml/gbdt/boosting.hpp"
#include "medkern/ml/gbdt/model.hpp"

namespace py = pybind11;
using medkern::detail::throw_shape;
namespace gb = medkern::ml::gbdt;

namespace {

void require_f64(const py::array& a, int ndim, const char* op, const char* name) {
  if (a.ndim() != ndim) throw_shape(op, ": ", name, " must be ", ndim, "-D, got ", a.ndim(), "-D");
  if (!py::isinstance<py::array_t<double>>(a))
    throw_shape(op, ": ", name, " must have dtype float64, got ", std::string(py::str(a.dtype())));
  if (!(a.flags() & py::array::c_style))
    throw_shape(op, ": ", name, " must be C-contiguous (use numpy.ascontiguousarray)");
}

gb::Loss parse_loss(const std::string& s) {
  if (s == "squared_error") return gb::Loss::squared_error;
  if (s == "binary_log_loss") return gb::Loss::log_loss_binary;
  if (s == "multiclass_log_loss") return gb::Loss::log_loss_multiclass;
  throw_shape("gbdt: loss '", s,
              "' must be one of 'squared_error', 'binary_log_loss', 'multiclass_log_loss'");
}

template <class T>
py::array_t<T> to_numpy(const std::vector<T>& v) {
  return py::array_t<T>(py::ssize_t(v.size()), v.data());
}

template <class T>
std::vector<T> from_numpy(const py::handle& h, const char* name) {
  auto a = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(h);
  if (!a || a.ndim() != 1) throw_shape("GbdtModel.from_dict: tree field '", name, "' must be 1-D");
  return std::vector<T>(a.data(), a.data() + a.shape(0));
}

py::dict model_to_dict(const gb::Model& m) {
  py::dict d;
  d["loss"] = std::string(gb::loss_name(m.loss));
  d["n_features"] = m.n_features;
  d["n_outputs"] = m.n_outputs;
  d["baseline"] = to_numpy(m.baseline);
  py::list trees;
  for (const gb::Tree& t : m.trees) {
    py::dict td;
    td["feature"] = to_numpy(t.feature);
    td["threshold"] = to_numpy(t.threshold);
    td["missing_left"] = to_numpy(t.missing_left);
    td["left"] = to_numpy(t.left);
    td["value"] = to_numpy(t.value);
    td["gain"] = to_numpy(t.gain);
    td["count"] = to_numpy(t.count);
    trees.append(td);
  }
  d["trees"] = trees;
  return d;
}

gb::Model model_from_dict(const py::dict& d) {
  const char* op = "GbdtModel.from_dict";
  for (const char* key : {"loss", "n_features", "n_outputs", "baseline", "trees"})
    if (!d.contains(key)) throw_shape(op, ": missing key '", key, "'");
  gb::Model m;
  m.loss = parse_loss(py::cast<std::string>(d["loss"]));
  m.n_features = py::cast<std::int64_t>(d["n_features"]);
  m.n_outputs = py::cast<std::int64_t>(d["n_outputs"]);
  m.baseline = from_numpy<double>(d["baseline"], "baseline");
  for (const py::handle& h : py::cast<py::list>(d["trees"])) {
    const py::dict td = py::cast<py::dict>(h);
    for (const char* key : {"feature", "threshold", "missing_left", "left", "value"})
      if (!td.contains(key)) throw_shape(op, ": tree missing key '", key, "'");
    gb::Tree t;
    t.feature = from_numpy<std::int32_t>(td["feature"], "feature");
    t.threshold = from_numpy<double>(td["threshold"], "threshold");
    t.missing_left = from_numpy<std::uint8_t>(td["missing_left"], "missing_left");
    t.left = from_numpy<std::int32_t>(td["left"], "left");
    t.value = from_numpy<double>(td["value"], "value");
    const std::size_t n = t.feature.size();
    t.gain = td.contains("gain") ? from_numpy<double>(td["gain"], "gain") : std::vector<double>(n, 0.0);
    t.count = td.contains("count") ? from_numpy<std::int64_t>(td["count"], "count")
                                   : std::vector<std::int64_t>(n, 0);
    t.bin.assign(n, 0);
    m.trees.push_back(std::move(t));
  }
  m.validate(op);
  for (gb::Tree& t : m.trees) {
    if (t.gain.size() != t.feature.size() || t.count.size() != t.feature.size())
      throw_shape(op, ": tree gain/count arrays must have one entry per node");
    t.finalize();
  }
  return m;
}

py::array_t<double> predict_raw(const gb::Model& m, const py::array& X) {
  require_f64(X, 2, "GbdtModel.predict_raw", "X");
  if (X.shape(1) != m.n_features)
    throw_shape("GbdtModel.predict_raw: X has ", X.shape(1), " features, the model expects ",
                m.n_features);
  const std::int64_t n = X.shape(0);
  py::array_t<double> out({py::ssize_t(n), py::ssize_t(m.n_outputs)});
  const double* x = static_cast<const double*>(X.data());
  double* o = out.mutable_data();
  {
    py::gil_scoped_release nogil;
    gb::predict_raw(m, x, n, o);
  }
  return out;
}

}  // namespace

void bind_gbdt(py::module_& m) {
  py::class_<gb::Model>(m, "GbdtModel", "A trained gradient-boosted tree ensemble.")
      .def_property_readonly("loss", [](const gb::Model& s) { return std::string(gb::loss_name(s.loss)); })
      .def_property_readonly("n_features", [](const gb::Model& s) { return s.n_features; })
      .def_property_readonly("n_outputs", [](const gb::Model& s) { return s.n_outputs; })
      .def_property_readonly("n_iter", &gb::Model::n_iter)
      .def_property_readonly("n_trees", [](const gb::Model& s) { return s.trees.size(); })
      .def("predict_raw", &predict_raw, py::arg("X"),
           "Raw scores (n x n_outputs) of float64 C-contiguous X; NaN = missing.")
      .def("to_dict", &model_to_dict, "Plain arrays and numbers describing the model.")
      .def_static("from_dict", &model_from_dict, py::arg("d"),
                  "The model described by a to_dict() result (validated).")
      .def(py::pickle([](const gb::Model& s) { return model_to_dict(s); },
                      [](const py::dict& d) { return model_from_dict(d); }));

  m.def(
      "gbdt_fit",
      [](const py::array& X, const py::array& y, const std::optional<py::array>& X_val,
         const std::optional<py::array>& y_val, const std::string& loss, std::int64_t n_classes,
         double learning_rate, std::int64_t max_iter, int max_leaf_nodes, int max_depth,
         std::int64_t min_samples_leaf, double min_hessian, double l2, double min_gain,
         int max_bins, double subsample, double colsample_bytree, std::int64_t n_iter_no_change,
         double tol, std::uint64_t seed) {
        const char* op = "gbdt_fit";
        require_f64(X, 2, op, "X");
        require_f64(y, 1, op, "y");
        const std::int64_t n = X.shape(0), p = X.shape(1);
        if (y.shape(0) != n) throw_shape(op, ": X has ", n, " rows but y has ", y.shape(0));
        const double* xv = nullptr;
        const double* yv = nullptr;
        std::int64_t nv = 0;
        if (X_val.has_value() != y_val.has_value())
          throw_shape(op, ": X_val and y_val must be given together");
        if (X_val) {
          require_f64(*X_val, 2, op, "X_val");
          require_f64(*y_val, 1, op, "y_val");
          if (X_val->shape(1) != p)
            throw_shape(op, ": X_val has ", X_val->shape(1), " features, X has ", p);
          nv = X_val->shape(0);
          if (y_val->shape(0) != nv)
            throw_shape(op, ": X_val has ", nv, " rows but y_val has ", y_val->shape(0));
          xv = static_cast<const double*>(X_val->data());
          yv = static_cast<const double*>(y_val->data());
        }
        gb::Params prm;
        prm.loss = parse_loss(loss);
        prm.n_classes = n_classes;
        prm.learning_rate = learning_rate;
        prm.max_iter = max_iter;
        prm.max_leaf_nodes = max_leaf_nodes;
        prm.max_depth = max_depth;
        prm.min_samples_leaf = min_samples_leaf;
        prm.min_hessian = min_hessian;
        prm.l2 = l2;
        prm.min_gain = min_gain;
        prm.max_bins = max_bins;
        prm.subsample = subsample;
        prm.colsample_bytree = colsample_bytree;
        prm.n_iter_no_change = n_iter_no_change;
        prm.tol = tol;
        prm.seed = seed;
        const double* x = static_cast<const double*>(X.data());
        const double* yy = static_cast<const double*>(y.data());
        gb::FitResult r;
        {
          py::gil_scoped_release nogil;
          r = gb::fit(x, yy, n, p, xv, yv, nv, prm);
        }
        py::dict d;
        d["n_iter"] = r.model.n_iter();
        d["model"] = py::cast(std::move(r.model));
        d["train_score"] = to_numpy(r.train_score);
        d["validation_score"] = to_numpy(r.validation_score);
        d["importance_gain"] = to_numpy(r.importance_gain);
        d["importance_split"] = to_numpy(r.importance_split);
        return d;
      },
      py::arg("X"), py::arg("y"), py::arg("X_val"), py::arg("y_val"), py::arg("loss"),
      py::arg("n_classes"), py::arg("learning_rate"), py::arg("max_iter"),
      py::arg("max_leaf_nodes"), py::arg("max_depth"), py::arg("min_samples_leaf"),
      py::arg("min_hessian"), py::arg("l2"), py::arg("min_gain"), py::arg("max_bins"),
      py::arg("subsample"), py::arg("colsample_bytree"), py::arg("n_iter_no_change"),
      py::arg("tol"), py::arg("seed"),
      "Fits a histogram gradient-boosted ensemble; returns a dict with the GbdtModel, scores "
      "and feature importances.");
}
