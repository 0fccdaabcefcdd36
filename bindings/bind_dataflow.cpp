// bindings/bind_dataflow.cpp — pooling, resampling, softmax and concat on numpy arrays.
//
// Arguments arrive normalised by python/medkern/ops (_pool.py, _resample.py, _softmax.py,
// _concat.py): tuples of ints per spatial dimension, output sizes computed. These functions
// check arrays (dtype, contiguity) and the op validates everything else; compute runs with
// the GIL released.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "common.hpp"
#include "medkern/core/threading.hpp"
#include "medkern/ops/concat.hpp"
#include "medkern/ops/pool.hpp"
#include "medkern/ops/resample.hpp"
#include "medkern/ops/softmax.hpp"

namespace py = pybind11;
using medkern::DType;
using medkern::TensorView;
using medkern::py::strided_f32;

namespace {

std::vector<py::ssize_t> to_ssize(const std::vector<std::int64_t>& v) {
  return std::vector<py::ssize_t>(v.begin(), v.end());
}

py::array_t<float> new_f32(const std::vector<std::int64_t>& shape) {
  return medkern::py::empty_aligned<float>(to_ssize(shape));
}

/// `out` if given (checked by the op), else a new array of `shape`.
py::array out_or_new(const std::optional<py::array>& out, const py::dtype& dt,
                     const std::vector<std::int64_t>& shape) {
  if (out) return *out;
  return medkern::py::empty_aligned(dt, to_ssize(shape));
}

py::array pool_impl(const py::array& x, const medkern::ops::PoolSpec& spec, const char* op) {
  const TensorView src = medkern::py::view_of(x, DType::f32, op, "input");
  const auto shape = medkern::ops::pool_output_shape(src, spec);
  py::array out = new_f32(shape);
  const TensorView dst = medkern::py::view_of(out, DType::f32, op, "out", true);
  {
    py::gil_scoped_release nogil;
    medkern::ops::pool(src, dst, spec);
  }
  return out;
}

int spatial_of(const py::array& x, const char* op) {
  const int three = std::string(op).back() == 'd' && std::string(op).find("3d") != std::string::npos;
  const int sr = three ? 3 : 2;
  if (x.ndim() != sr + 2)
    medkern::detail::throw_shape(op, ": input must be ", sr + 2, "-D (N, C, ",
                                 sr == 3 ? "D, H, W" : "H, W", "), got ", x.ndim(), "-D");
  return sr;
}

py::array max_pool(const py::array& x, const std::string& op, std::vector<std::int64_t> kernel,
                   std::vector<std::int64_t> stride, std::vector<std::int64_t> padding,
                   std::vector<std::int64_t> dilation, bool ceil_mode) {
  medkern::ops::PoolSpec s;
  s.kind = medkern::kernels::pool::Kind::max;
  s.spatial = spatial_of(x, op.c_str());
  s.kernel = kernel;
  s.stride = stride;
  s.padding = padding;
  s.dilation = dilation;
  s.ceil_mode = ceil_mode;
  return pool_impl(x, s, op.c_str());
}

py::array avg_pool(const py::array& x, const std::string& op, std::vector<std::int64_t> kernel,
                   std::vector<std::int64_t> stride, std::vector<std::int64_t> padding,
                   bool ceil_mode, bool count_include_pad, std::int64_t divisor_override) {
  medkern::ops::PoolSpec s;
  s.kind = medkern::kernels::pool::Kind::avg;
  s.spatial = spatial_of(x, op.c_str());
  s.kernel = kernel;
  s.stride = stride;
  s.padding = padding;
  s.dilation.assign(std::size_t(s.spatial), 1);
  s.ceil_mode = ceil_mode;
  s.count_include_pad = count_include_pad;
  s.divisor_override = divisor_override;
  return pool_impl(x, s, op.c_str());
}

/// Max or average pooling of a channel-blocked array (a block slice of a larger one too).
py::array pool_blocked(const py::array& x, const std::string& op, const std::string& kind,
                       std::vector<std::int64_t> kernel, std::vector<std::int64_t> stride,
                       std::vector<std::int64_t> padding, std::vector<std::int64_t> dilation,
                       bool ceil_mode, bool count_include_pad, std::int64_t divisor_override,
                       std::optional<py::array> out) {
  const TensorView src = strided_f32(x, op.c_str(), "input", false);
  medkern::ops::PoolSpec s;
  if (kind != "max" && kind != "avg")
    medkern::detail::throw_shape(op, ": pooling kind '", kind, "' must be 'max' or 'avg'");
  s.kind = kind == "max" ? medkern::kernels::pool::Kind::max : medkern::kernels::pool::Kind::avg;
  s.spatial = int(kernel.size());
  s.kernel = kernel;
  s.stride = stride;
  s.padding = padding;
  s.dilation = dilation;
  s.ceil_mode = ceil_mode;
  s.count_include_pad = count_include_pad;
  s.divisor_override = divisor_override;
  const auto shape = medkern::ops::pool_blocked_output_shape(src, s);
  py::array o = out ? *out : py::array(new_f32(shape));
  const TensorView dst = strided_f32(o, op.c_str(), "out", true);
  {
    py::gil_scoped_release nogil;
    medkern::ops::pool_blocked(src, dst, s);
  }
  return o;
}

py::array adaptive_avg_pool(const py::array& x, const std::string& op,
                            std::vector<std::int64_t> output_size) {
  medkern::ops::PoolSpec s =
      medkern::ops::PoolSpec::adaptive_avg(spatial_of(x, op.c_str()), output_size);
  return pool_impl(x, s, op.c_str());
}

py::array interpolate(const py::array& x, std::vector<std::int64_t> size,
                      std::vector<double> scales, const std::string& mode, bool align_corners) {
  constexpr const char* op = "interpolate";
  const TensorView src = medkern::py::view_of(x, DType::f32, op, "input");
  if (src.rank != 4 && src.rank != 5)
    medkern::detail::throw_shape(op, ": input must be 4-D or 5-D, got ", src.rank, "-D");
  if (int(size.size()) != src.rank - 2)
    medkern::detail::throw_shape(op, ": size has ", size.size(), " entries for ", src.rank - 2,
                                 " spatial dimensions");
  for (std::int64_t v : size)
    if (v < 1) medkern::detail::throw_shape(op, ": output size ", v, " must be >= 1");
  std::vector<std::int64_t> shape{src.shape[0], src.shape[1]};
  shape.insert(shape.end(), size.begin(), size.end());
  py::array out = new_f32(shape);
  const TensorView dst = medkern::py::view_of(out, DType::f32, op, "out", true);
  const auto m = mode == "nearest" ? medkern::kernels::resample::Mode::nearest
                                   : medkern::kernels::resample::Mode::linear;
  {
    py::gil_scoped_release nogil;
    medkern::ops::resample(src, dst, m, align_corners, scales);
  }
  return out;
}

py::array softmax(const py::array& x, int dim, const std::optional<py::array>& out_arg) {
  constexpr const char* op = "softmax";
  const TensorView src = medkern::py::view_of(x, DType::f32, op, "input");
  std::vector<std::int64_t> shape(src.shape.begin(), src.shape.begin() + src.rank);
  py::array out = out_or_new(out_arg, x.dtype(), shape);
  const TensorView dst = medkern::py::view_of(out, DType::f32, op, "out", true);
  {
    py::gil_scoped_release nogil;
    medkern::ops::softmax(src, dst, dim);
  }
  return out;
}

DType dtype_of_array(const py::array& a, const char* op, std::size_t i) {
  for (DType t : {DType::f32, DType::bf16, DType::s8, DType::u8, DType::s32})
    if (medkern::py::dtype_matches(a, t)) return t;
  throw py::type_error(std::string(op) + ": input " + std::to_string(i) + " dtype " +
                       std::string(py::str(a.dtype())) +
                       " is not supported (float32, uint16, int8, uint8, int32)");
}

std::vector<TensorView> views_of(const std::vector<py::array>& xs, const char* op, bool f32_only) {
  std::vector<TensorView> v;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const DType t = f32_only ? DType::f32 : dtype_of_array(xs[i], op, i);
    const std::string name = "input " + std::to_string(i);
    v.push_back(medkern::py::view_of(xs[i], t, op, name.c_str()));
  }
  return v;
}

py::array cat(const std::vector<py::array>& xs, int dim, const std::optional<py::array>& out_arg) {
  constexpr const char* op = "cat";
  if (xs.empty()) medkern::detail::throw_shape(op, ": needs at least one input array");
  const std::vector<TensorView> in = views_of(xs, op, false);
  const int rank = in[0].rank;
  if (rank < 1) medkern::detail::throw_shape(op, ": input 0 must have at least one dimension");
  if (dim < -rank || dim >= rank)
    medkern::detail::throw_shape(op, ": dim ", dim, " out of range for ", rank, "-D inputs");
  const int d = dim < 0 ? dim + rank : dim;
  std::vector<std::int64_t> shape(in[0].shape.begin(), in[0].shape.begin() + rank);
  shape[std::size_t(d)] = 0;
  for (const TensorView& t : in) shape[std::size_t(d)] += t.rank == rank ? t.shape[std::size_t(d)] : 0;
  py::array out = out_or_new(out_arg, xs[0].dtype(), shape);
  if (!medkern::py::dtype_matches(out, in[0].dtype))
    throw py::type_error(std::string(op) + ": out dtype " + std::string(py::str(out.dtype())) +
                         " must equal the inputs' dtype " + std::string(py::str(xs[0].dtype())));
  const TensorView dst = medkern::py::view_of(out, in[0].dtype, op, "out", true);
  {
    py::gil_scoped_release nogil;
    medkern::ops::concat(in, d, dst);
  }
  return out;
}

py::array cat_blocked(const std::vector<py::array>& xs, const std::vector<std::int64_t>& channels,
                      const std::optional<py::array>& out_arg) {
  constexpr const char* op = "cat_blocked";
  if (xs.empty()) medkern::detail::throw_shape(op, ": needs at least one input array");
  const std::vector<TensorView> in = views_of(xs, op, true);
  std::int64_t total = 0;
  for (std::int64_t c : channels) total += c;
  std::vector<std::int64_t> shape(in[0].shape.begin(), in[0].shape.begin() + in[0].rank);
  if (shape.size() >= 2) shape[1] = (total + 15) / 16;
  py::array out = out_or_new(out_arg, xs[0].dtype(), shape);
  const TensorView dst = medkern::py::view_of(out, DType::f32, op, "out", true);
  {
    py::gil_scoped_release nogil;
    medkern::ops::concat_blocked(in, channels, dst);
  }
  return out;
}

/// The copy-bandwidth baseline of the concat benchmark: memcpy of src into dst, split into
/// one contiguous share per thread of medkern's pool.
void parallel_memcpy(py::array dst, const py::array& src) {
  if (!(dst.flags() & py::array::c_style) || !(src.flags() & py::array::c_style))
    medkern::detail::throw_shape("parallel_memcpy: arrays must be C-contiguous");
  if (dst.nbytes() != src.nbytes() || !dst.writeable())
    medkern::detail::throw_shape("parallel_memcpy: dst must be writable with src's byte size");
  auto* d = static_cast<char*>(dst.mutable_data());
  const auto* s = static_cast<const char*>(src.data());
  const std::int64_t n = std::int64_t(src.nbytes());
  py::gil_scoped_release nogil;
  const std::int64_t chunks = medkern::num_threads();
  medkern::parallel_tasks(chunks, [&](std::int64_t c) {
    const std::int64_t b = n * c / chunks, e = n * (c + 1) / chunks;
    std::memcpy(d + b, s + b, std::size_t(e - b));
  });
}

}  // namespace

void bind_dataflow(py::module_& m) {
  m.def("max_pool", &max_pool, py::arg("x"), py::arg("op"), py::arg("kernel"), py::arg("stride"),
        py::arg("padding"), py::arg("dilation"), py::arg("ceil_mode"),
        "Max pooling of a float32 NCHW / NCDHW array (use medkern.ops.max_pool2d/3d).");
  m.def("avg_pool", &avg_pool, py::arg("x"), py::arg("op"), py::arg("kernel"), py::arg("stride"),
        py::arg("padding"), py::arg("ceil_mode"), py::arg("count_include_pad"),
        py::arg("divisor_override"),
        "Average pooling of a float32 NCHW / NCDHW array (use medkern.ops.avg_pool2d/3d).");
  m.def("adaptive_avg_pool", &adaptive_avg_pool, py::arg("x"), py::arg("op"),
        py::arg("output_size"), "Adaptive average pooling (use medkern.ops.adaptive_avg_pool2d/3d).");
  m.def("pool_blocked", &pool_blocked, py::arg("x"), py::arg("op"), py::arg("kind"),
        py::arg("kernel"), py::arg("stride"), py::arg("padding"), py::arg("dilation"),
        py::arg("ceil_mode"), py::arg("count_include_pad"), py::arg("divisor_override"),
        py::arg("out") = py::none(),
        "Max / average pooling of a channel-blocked float32 array (use "
        "medkern.ops.max_pool_blocked / avg_pool_blocked).");
  m.def("interpolate", &interpolate, py::arg("x"), py::arg("size"), py::arg("scales"),
        py::arg("mode"), py::arg("align_corners"),
        "Nearest / bilinear / trilinear resampling (use medkern.ops.interpolate).");
  m.def("softmax", &softmax, py::arg("x"), py::arg("dim"), py::arg("out") = py::none(),
        "Stable softmax along dim (use medkern.ops.softmax).");
  m.def("cat", &cat, py::arg("tensors"), py::arg("dim"), py::arg("out") = py::none(),
        "Parallel concatenation along dim (use medkern.ops.cat).");
  m.def("cat_blocked", &cat_blocked, py::arg("tensors"), py::arg("channels"),
        py::arg("out") = py::none(),
        "Channel concatenation of nChw16c / nCdhw16c float32 arrays (use medkern.ops.cat_blocked).");
  m.def("parallel_memcpy", &parallel_memcpy, py::arg("dst"), py::arg("src"),
        "memcpy of src into dst split across medkern's threads (the concat benchmark baseline).");
}
