// bindings/bind_ml.cpp — classical ML (ElasticNet/Lasso paths and CV, PCA) on numpy arrays,
// float64 or float32, C-contiguous; GIL released around compute. The estimators live in
// python/medkern/ml; these functions are their engine.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <vector>

#include "medkern/core/error.hpp"
#include "medkern/ml/cross_validation.hpp"
#include "medkern/ml/linear_model.hpp"
#include "medkern/ml/pca.hpp"

namespace py = pybind11;
using medkern::detail::throw_shape;

namespace {

// Equivalence, not identity: arrays such as read-only memmaps carry their own dtype objects.
bool is_f64(const py::array& a) { return py::isinstance<py::array_t<double>>(a); }
bool is_f32(const py::array& a) { return py::isinstance<py::array_t<float>>(a); }

void require(const py::array& a, int ndim, const char* op, const char* name, bool f64) {
  if (a.ndim() != ndim) throw_shape(op, ": ", name, " must be ", ndim, "-D, got ", a.ndim(), "-D");
  if (f64 ? !is_f64(a) : !is_f32(a))
    throw_shape(op, ": ", name, " must have dtype ", f64 ? "float64" : "float32", ", got ",
                std::string(py::str(a.dtype())));
  if (!(a.flags() & py::array::c_style))
    throw_shape(op, ": ", name, " must be C-contiguous (use numpy.ascontiguousarray)");
}

medkern::ml::EnetOptions enet_options(double l1_ratio, bool fit_intercept, int precompute,
                                      std::int64_t max_iter, double tol, bool positive,
                                      bool random, std::uint32_t seed) {
  medkern::ml::EnetOptions o;
  o.l1_ratio = l1_ratio;
  o.fit_intercept = fit_intercept;
  o.precompute = precompute < 0   ? medkern::ml::Precompute::automatic
                 : precompute > 0 ? medkern::ml::Precompute::yes
                                  : medkern::ml::Precompute::no;
  o.max_iter = max_iter;
  o.tol = tol;
  o.positive = positive;
  o.selection = random ? medkern::ml::Selection::random : medkern::ml::Selection::cyclic;
  o.seed = seed;
  return o;
}

template <class T>
py::dict path_dict(const medkern::ml::EnetPath<T>& r) {
  const auto na = py::ssize_t(r.alphas.size()), p = py::ssize_t(r.n_features);
  py::array_t<T> coefs({na, p});
  std::copy(r.coefs.begin(), r.coefs.end(), coefs.mutable_data());
  py::dict d;
  d["alphas"] = py::array_t<double>(na, r.alphas.data());
  d["coefs"] = coefs;
  d["intercepts"] = py::array_t<double>(na, r.intercepts.data());
  d["dual_gaps"] = py::array_t<double>(na, r.dual_gaps.data());
  d["n_iters"] = py::array_t<std::int64_t>(na, r.n_iters.data());
  std::vector<bool> conv = r.converged;
  py::list cl;
  for (bool c : conv) cl.append(c);
  d["converged"] = cl;
  d["used_gram"] = r.used_gram;
  return d;
}

template <class T>
py::dict enet_path_impl(const py::array& X, const py::array& y, std::vector<double> alphas,
                        std::int64_t n_alphas, double eps, const medkern::ml::EnetOptions& o,
                        const std::optional<py::array>& coef_init) {
  const std::int64_t n = X.shape(0), p = X.shape(1);
  const T* ci = nullptr;
  if (coef_init) {
    require(*coef_init, 1, "enet_path", "coef_init", sizeof(T) == 8);
    if (coef_init->shape(0) != p)
      throw_shape("enet_path: coef_init has ", coef_init->shape(0), " entries, X has ", p,
                  " features");
    ci = static_cast<const T*>(coef_init->data());
  }
  medkern::ml::EnetPath<T> r;
  {
    py::gil_scoped_release nogil;
    r = medkern::ml::enet_path<T>(static_cast<const T*>(X.data()), static_cast<const T*>(y.data()),
                                  n, p, std::move(alphas), o, n_alphas, eps, ci);
  }
  return path_dict(r);
}

template <class T>
py::dict enet_cv_impl(const py::array& X, const py::array& y,
                      const std::vector<medkern::ml::Fold>& folds,
                      const medkern::ml::EnetCvOptions& o) {
  const std::int64_t n = X.shape(0), p = X.shape(1);
  medkern::ml::EnetCvResult<T> r;
  {
    py::gil_scoped_release nogil;
    r = medkern::ml::enet_cv<T>(static_cast<const T*>(X.data()), static_cast<const T*>(y.data()),
                                n, p, folds, o);
  }
  const auto nl = py::ssize_t(r.alphas.size()), na = py::ssize_t(r.n_alphas),
             nf = py::ssize_t(r.n_folds);
  py::array_t<double> alphas({nl, na});
  for (py::ssize_t l = 0; l < nl; ++l)
    std::copy(r.alphas[std::size_t(l)].begin(), r.alphas[std::size_t(l)].end(),
              alphas.mutable_data() + l * na);
  py::array_t<double> mse({nl, nf, na});
  std::copy(r.mse_path.begin(), r.mse_path.end(), mse.mutable_data());
  py::dict d;
  d["alphas"] = alphas;
  d["mse_path"] = mse;
  d["alpha"] = r.alpha;
  d["l1_ratio"] = r.l1_ratio;
  d["best_l1_index"] = r.best_l1_index;
  d["best_alpha_index"] = r.best_alpha_index;
  d["model"] = path_dict(r.model);
  return d;
}

std::vector<medkern::ml::Fold> folds_of(const py::list& folds) {
  std::vector<medkern::ml::Fold> out;
  for (const auto& item : folds) {
    auto t = item.cast<py::tuple>();
    if (t.size() != 2) throw_shape("enet_cv: each fold must be a (train, test) pair");
    medkern::ml::Fold f;
    f.train = t[0].cast<std::vector<std::int64_t>>();
    f.test = t[1].cast<std::vector<std::int64_t>>();
    out.push_back(std::move(f));
  }
  return out;
}

medkern::ml::PcaSolver solver_of(const std::string& s) {
  using medkern::ml::PcaSolver;
  if (s == "auto") return PcaSolver::automatic;
  if (s == "covariance_eigh") return PcaSolver::covariance_eigh;
  if (s == "gram_eigh") return PcaSolver::gram_eigh;
  if (s == "svd" || s == "full") return PcaSolver::svd;
  if (s == "randomized") return PcaSolver::randomized;
  throw_shape("pca: solver '", s,
              "' is unknown (valid: auto, covariance_eigh, gram_eigh, svd, randomized)");
}

template <class T>
py::dict pca_impl(const py::array& X, const medkern::ml::PcaOptions& o) {
  const std::int64_t n = X.shape(0), p = X.shape(1);
  medkern::ml::PcaResult r;
  {
    py::gil_scoped_release nogil;
    r = medkern::ml::pca_fit<T>(static_cast<const T*>(X.data()), n, p, o);
  }
  const auto k = py::ssize_t(r.n_components);
  // The components (k x p doubles, 8 MB at 1000 features) are handed over, not copied.
  auto* owned = new std::vector<double>(std::move(r.components));
  py::capsule owner(owned, [](void* v) { delete static_cast<std::vector<double>*>(v); });
  py::array_t<double> comp({k, py::ssize_t(p)}, owned->data(), owner);
  py::dict d;
  d["mean"] = py::array_t<double>(py::ssize_t(p), r.mean.data());
  d["components"] = comp;
  d["explained_variance"] = py::array_t<double>(k, r.explained_variance.data());
  d["singular_values"] = py::array_t<double>(k, r.singular_values.data());
  d["total_var"] = r.total_var;
  d["solver"] = std::string(medkern::ml::pca_solver_name(r.solver));
  return d;
}

void check_xy(const py::array& X, const py::array& y, const char* op) {
  const bool f64 = is_f64(X);
  require(X, 2, op, "X", f64);
  require(y, 1, op, "y", f64);
  if (y.shape(0) != X.shape(0))
    throw_shape(op, ": y has ", y.shape(0), " samples, X has ", X.shape(0));
}

}  // namespace

void bind_ml(py::module_& m) {
  m.def(
      "ml_enet_path",
      [](const py::array& X, const py::array& y, std::vector<double> alphas, std::int64_t n_alphas,
         double eps, double l1_ratio, bool fit_intercept, int precompute, std::int64_t max_iter,
         double tol, bool positive, bool random, std::uint32_t seed,
         std::optional<py::array> coef_init) {
        check_xy(X, y, "enet_path");
        const auto o = enet_options(l1_ratio, fit_intercept, precompute, max_iter, tol, positive,
                                    random, seed);
        return is_f64(X) ? enet_path_impl<double>(X, y, std::move(alphas), n_alphas, eps, o, coef_init)
                         : enet_path_impl<float>(X, y, std::move(alphas), n_alphas, eps, o, coef_init);
      },
      py::arg("X"), py::arg("y"), py::arg("alphas"), py::arg("n_alphas") = 100,
      py::arg("eps") = 1e-3, py::arg("l1_ratio") = 1.0, py::arg("fit_intercept") = true,
      py::arg("precompute") = -1, py::arg("max_iter") = 1000, py::arg("tol") = 1e-4,
      py::arg("positive") = false, py::arg("random") = false, py::arg("seed") = 0,
      py::arg("coef_init") = py::none(),
      "ElasticNet path by coordinate descent (alphas empty: sklearn's grid).");

  m.def(
      "ml_enet_cv",
      [](const py::array& X, const py::array& y, const py::list& folds,
         std::vector<double> l1_ratios, std::vector<double> alphas, std::int64_t n_alphas,
         double eps, bool fit_intercept, int precompute, std::int64_t max_iter, double tol,
         bool positive, bool random, std::uint32_t seed) {
        check_xy(X, y, "enet_cv");
        medkern::ml::EnetCvOptions o;
        o.enet = enet_options(1.0, fit_intercept, precompute, max_iter, tol, positive, random, seed);
        o.l1_ratios = std::move(l1_ratios);
        o.alphas = std::move(alphas);
        o.n_alphas = n_alphas;
        o.eps = eps;
        const auto f = folds_of(folds);
        return is_f64(X) ? enet_cv_impl<double>(X, y, f, o) : enet_cv_impl<float>(X, y, f, o);
      },
      py::arg("X"), py::arg("y"), py::arg("folds"), py::arg("l1_ratios"), py::arg("alphas"),
      py::arg("n_alphas") = 100, py::arg("eps") = 1e-3, py::arg("fit_intercept") = true,
      py::arg("precompute") = -1, py::arg("max_iter") = 1000, py::arg("tol") = 1e-4,
      py::arg("positive") = false, py::arg("random") = false, py::arg("seed") = 0,
      "Cross-validated ElasticNet path over (train, test) folds, folds in parallel.");

  m.def(
      "ml_pca_fit",
      [](const py::array& X, const std::string& solver, std::int64_t n_components,
         std::int64_t n_oversamples, std::int64_t n_iter, std::optional<py::array> omega,
         std::uint64_t seed) {
        const bool f64 = is_f64(X);
        require(X, 2, "pca", "X", f64);
        medkern::ml::PcaOptions o;
        o.solver = solver_of(solver);
        o.n_components = n_components;
        o.n_oversamples = n_oversamples;
        o.n_iter = n_iter;
        o.seed = seed;
        if (omega) {
          require(*omega, 2, "pca", "omega", true);
          o.omega = static_cast<const double*>(omega->data());
          const std::int64_t rows = X.shape(0) < X.shape(1) ? X.shape(0) : X.shape(1);
          if (omega->shape(0) != rows || omega->shape(1) != n_components + n_oversamples)
            throw_shape("pca: omega must have shape (", rows, ", ", n_components + n_oversamples,
                        ")");
        }
        return f64 ? pca_impl<double>(X, o) : pca_impl<float>(X, o);
      },
      py::arg("X"), py::arg("solver") = "auto", py::arg("n_components") = -1,
      py::arg("n_oversamples") = 10, py::arg("n_iter") = -1, py::arg("omega") = py::none(),
      py::arg("seed") = 0, "PCA fit: mean, components (rows), explained variance, singular values.");
}
