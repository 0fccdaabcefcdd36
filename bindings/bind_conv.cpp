// bindings/bind_conv.cpp — convolution (one-shot and prepacked) and im2col / col2im on numpy
// arrays, GIL released around compute.
//
// The Python layer (medkern.ops._conv) normalises arguments (ints/tuples/"same"/"valid",
// post-op names) and checks dtypes, so these functions take the explicit forms: per-dimension
// lists (D, H, W; D entries 1/0 for 2-D) and post-ops as (name, a, b) tuples whose array
// arguments are float32 C-contiguous (OC,) arrays, kept alive by the caller during the call.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "common.hpp"
#include "medkern/ops/conv.hpp"
#include "medkern/ops/conv_transpose.hpp"
#include "medkern/ops/eltwise.hpp"
#include "medkern/ops/im2col.hpp"

namespace py = pybind11;
using medkern::DType;
using medkern::TensorView;
using medkern::kernels::Eltwise;
using medkern::kernels::PostOps;
using medkern::kernels::conv::ConvDesc;
using medkern::ops::ConvAlgorithm;
using medkern::py::view_of;
using Dims = std::array<std::int64_t, 3>;

namespace {

ConvAlgorithm parse_algorithm(const std::string& s, const char* op) {
  for (auto a : {ConvAlgorithm::automatic, ConvAlgorithm::direct, ConvAlgorithm::gemm_1x1,
                 ConvAlgorithm::im2col_gemm, ConvAlgorithm::depthwise, ConvAlgorithm::winograd})
    if (s == medkern::ops::conv_algorithm_name(a)) return a;
  medkern::detail::throw_shape(op, ": algorithm '", s,
                               "' must be 'auto', 'direct', 'gemm_1x1', 'im2col_gemm', "
                               "'depthwise' or 'winograd'");
}

ConvDesc geometry(int spatial, const Dims& kernel, const Dims& stride, const Dims& pb,
                  const Dims& pa, const Dims& dilation, std::int64_t groups) {
  ConvDesc d;
  d.spatial = spatial;
  d.kernel = kernel;
  d.stride = stride;
  d.pad_before = pb;
  d.pad_after = pa;
  d.dilation = dilation;
  d.groups = groups;
  return d;
}

/// Post-ops parsed from (name, a, b) tuples, with the residual views of the sums.
struct ParsedPost {
  PostOps ops;
  std::vector<TensorView> sums;
};

/// Post-ops from (name, a, b) tuples: per-channel arrays must hold `oc` float32 values, sum
/// tensors are float32 arrays (their shape is checked by the primitive against the output).
ParsedPost parse_post(const py::list& items, std::int64_t oc, const char* op) {
  ParsedPost r;
  PostOps& p = r.ops;
  if (py::len(items) > std::size_t(PostOps::kMax))
    medkern::detail::throw_shape(op, ": ", py::len(items), " post-ops exceed the ",
                                 PostOps::kMax, " a convolution fuses");
  auto channel_data = [&](const py::handle& h, const char* what) -> const float* {
    const py::array a = py::reinterpret_borrow<py::array>(h);
    const TensorView v = view_of(a, DType::f32, op, what);
    if (v.rank != 1 || v.shape[0] != oc)
      medkern::detail::throw_shape(op, ": post-op ", what, " must have shape (", oc,
                                   ",) (one value per output channel), got ", v.shape_str());
    return static_cast<const float*>(v.data);
  };
  for (const py::handle& h : items) {
    const py::tuple t = py::reinterpret_borrow<py::tuple>(h);
    const std::string name = py::cast<std::string>(t[0]);
    const bool arr = t.size() > 1 && py::isinstance<py::array>(t[1]);
    const float a = t.size() > 1 && !arr && !t[1].is_none() ? py::cast<float>(t[1]) : 0.f;
    const float b = t.size() > 2 && !t[2].is_none() ? py::cast<float>(t[2]) : 0.f;
    if (name == "bias") p.bias(channel_data(t[1], "bias"));
    else if (name == "scale" && arr) p.scale(channel_data(t[1], "scale"));
    else if (name == "scale") p.scale(a);
    else if (name == "prelu" && arr) p.prelu(channel_data(t[1], "prelu weight"));
    else if (name == "prelu") p.prelu(a);
    else if (name == "sum") {
      r.sums.push_back(view_of(py::reinterpret_borrow<py::array>(t[1]), DType::f32, op, "sum tensor"));
      p.sum(b);
    }
    else if (name == "relu") p.eltwise(Eltwise::relu);
    else if (name == "leaky_relu") p.eltwise(Eltwise::leaky_relu, a);
    else if (name == "clip") p.eltwise(Eltwise::clip, a, b);
    else if (name == "linear") p.eltwise(Eltwise::linear, a, b);
    else if (name == "elu") p.eltwise(Eltwise::elu, a);
    else if (name == "sigmoid") p.eltwise(Eltwise::sigmoid);
    else if (name == "tanh") p.eltwise(Eltwise::tanh);
    else if (name == "gelu_erf") p.eltwise(Eltwise::gelu_erf);
    else if (name == "gelu_tanh") p.eltwise(Eltwise::gelu_tanh);
    else if (name == "hardswish") p.eltwise(Eltwise::hardswish);
    else
      medkern::detail::throw_shape(op, ": unknown post-op '", name, "'");
  }
  return r;
}

std::vector<py::ssize_t> to_ssize(const std::vector<std::int64_t>& v) {
  return {v.begin(), v.end()};
}

/// The `out=` array (checked: float32, C-contiguous, (N, C_total, spatial...) with
/// C_total >= offset + OC) or a new one of `shape`; `dst` receives the view of the channels
/// [offset, offset + OC) the op writes.
py::array_t<float> output(const std::optional<py::array>& out, std::int64_t offset,
                          const std::vector<std::int64_t>& shape, const char* op,
                          TensorView& dst) {
  std::string want;
  for (std::size_t i = 0; i < shape.size(); ++i)
    want += (i ? ", " : "") + (i == 1 ? std::string("C_total") : std::to_string(shape[i]));
  if (offset < 0)
    medkern::detail::throw_shape(op, ": out_channel_offset ", offset, " must be non-negative");
  if (!out) {
    if (offset != 0)
      medkern::detail::throw_shape(op, ": out_channel_offset ", offset, " needs an out= array");
    py::array_t<float> o = medkern::py::empty_aligned<float>(to_ssize(shape));
    dst = view_of(o, DType::f32, op, "out", true);
    return o;
  }
  const py::array& o = *out;
  const TensorView v = view_of(o, DType::f32, op, "out", /*writable=*/true);
  bool ok = o.ndim() == py::ssize_t(shape.size());
  for (std::size_t i = 0; ok && i < shape.size(); ++i)
    ok = i == 1 || o.shape(py::ssize_t(i)) == shape[i];
  if (!ok)
    medkern::detail::throw_shape(op, ": out must have shape (", want, "), got ", v.shape_str());
  if (v.shape[1] < offset + shape[1])
    medkern::detail::throw_shape(op, ": output channels [", offset, ", ", offset + shape[1],
                                 ") do not fit in out's ", v.shape[1], " channels (shape ",
                                 v.shape_str(), ")");
  dst = medkern::ops::channel_slice(v, offset, shape[1]);
  return py::reinterpret_borrow<py::array_t<float>>(o);
}

/// The blocked execute of a convolution or transposed convolution primitive: x (N,
/// ceil(IC/16), [D,] H, W, 16); the result goes into blocks [offset/16, offset/16 +
/// ceil(OC/16)) of `out` (offset a multiple of 16) or a new array.
template <class Conv>
py::array_t<float> execute_blocked(const Conv& conv, const char* op, const py::array& x,
                                   const py::list& post, const std::optional<py::array>& out,
                                   std::int64_t offset) {
  const TensorView src = view_of(x, DType::f32, op, "input");
  const auto shape = conv.blocked_output_shape(src);
  const ParsedPost p = parse_post(post, conv.desc().OC, op);
  if (offset % 16 != 0)
    medkern::detail::throw_shape(op, ": out_channel_offset ", offset,
                                 " of a blocked output must be a multiple of 16");
  TensorView dst;
  auto o = output(out, offset / 16, shape, op, dst);
  {
    py::gil_scoped_release nogil;
    conv.execute_blocked(src, dst, p.ops, p.sums);
  }
  return o;
}

/// The primitive with the Python-side objects it reads at execute time.
class PyConv {
 public:
  PyConv(const py::array& weight, std::optional<py::array> bias, int spatial, const Dims& stride,
         const Dims& pb, const Dims& pa, const Dims& dilation, std::int64_t groups,
         const std::string& algorithm) {
    op_ = spatial == 3 ? "conv3d" : "conv2d";
    const TensorView w = view_of(weight, DType::f32, op_, "weight");
    if (w.rank != 2 + spatial)
      medkern::detail::throw_shape(op_, ": weight must be ", 2 + spatial, "-D (out_channels, ",
                                   "in_channels/groups, ", spatial == 3 ? "kD, " : "",
                                   "kH, kW), got ", w.rank, "-D ", w.shape_str());
    Dims k{1, 1, 1};
    for (int i = 0; i < spatial; ++i) k[std::size_t(3 - spatial + i)] = w.shape[std::size_t(2 + i)];
    ConvDesc d = geometry(spatial, k, stride, pb, pa, dilation, groups);
    d.OC = w.shape[0];
    if (groups < 1)
      medkern::detail::throw_shape(op_, ": groups ", groups, " must be positive");
    d.IC = w.shape[1] * groups;
    const float* bp = nullptr;
    if (bias) {
      const TensorView b = view_of(*bias, DType::f32, op_, "bias");
      if (b.rank != 1 || b.shape[0] != d.OC)
        medkern::detail::throw_shape(op_, ": bias must have shape (", d.OC, ",), got ",
                                     b.shape_str(), " (weight ", w.shape_str(), ")");
      bp = static_cast<const float*>(b.data);
    }
    const ConvAlgorithm a = parse_algorithm(algorithm, op_);
    py::gil_scoped_release nogil;
    conv_.emplace(d, static_cast<const float*>(w.data), bp, a);
  }

  py::array_t<float> call(const py::array& x, const py::list& post, std::optional<py::array> out,
                          std::int64_t offset) {
    const TensorView src = view_of(x, DType::f32, op_, "input");
    const auto shape = conv_->output_shape(src);
    const ParsedPost p = parse_post(post, conv_->desc().OC, op_);
    TensorView dst;
    auto o = output(out, offset, shape, op_, dst);
    if (medkern::overlap(src, dst))
      medkern::detail::throw_shape(op_, ": out must not overlap the input");
    {
      py::gil_scoped_release nogil;
      conv_->execute(src, dst, p.ops, p.sums);
    }
    return o;
  }

  /// The blocked execute: x (N, ceil(IC/16), [D,] H, W, 16); the result goes into blocks
  /// [offset/16, offset/16 + ceil(OC/16)) of `out` (offset a multiple of 16) or a new array.
  py::array_t<float> call_blocked(const py::array& x, const py::list& post,
                                  std::optional<py::array> out, std::int64_t offset) {
    return execute_blocked(*conv_, op_, x, post, out, offset);
  }

  /// Output slices [rows[0], rows[1]) of the outermost output dimension, blocked.
  py::array_t<float> call_blocked_rows(const py::array& x, std::pair<std::int64_t, std::int64_t> rows,
                                       const py::list& post, std::optional<py::array> out) {
    const TensorView src = view_of(x, DType::f32, op_, "input");
    auto shape = conv_->blocked_output_shape(src);
    shape[2] = std::max<std::int64_t>(0, rows.second - rows.first);
    const ParsedPost p = parse_post(post, conv_->desc().OC, op_);
    TensorView dst;
    auto o = output(out, 0, shape, op_, dst);
    {
      py::gil_scoped_release nogil;
      conv_->execute_blocked_rows(src, dst, rows.first, rows.second, p.ops, p.sums);
    }
    return o;
  }

  /// The blocked execute into a planar result (N, OC, [OD,] OH, OW): a new array, or
  /// channels [offset, offset + OC) of `out` (N, C_total, [OD,] OH, OW).
  py::array_t<float> call_blocked_to_planar(const py::array& x, const py::list& post,
                                            std::optional<py::array> out, std::int64_t offset) {
    const TensorView src = view_of(x, DType::f32, op_, "input");
    const auto bshape = conv_->blocked_output_shape(src);
    std::vector<std::int64_t> shape{bshape[0], conv_->desc().OC};
    shape.insert(shape.end(), bshape.begin() + 2, bshape.end() - 1);
    const ParsedPost p = parse_post(post, conv_->desc().OC, op_);
    TensorView dst;
    auto o = output(out, offset, shape, op_, dst);
    {
      py::gil_scoped_release nogil;
      conv_->execute_blocked_to_planar(src, dst, p.ops);
    }
    return o;
  }

  std::string algorithm() const { return conv_->algorithm(); }
  std::string kernel() const { return conv_->kernel(); }
  std::int64_t packed_bytes() const { return conv_->packed_bytes(); }
  bool blocked_native() const { return conv_->blocked_native(); }
  bool planar_blocked() const { return conv_->planar_blocked(); }

 private:
  const char* op_ = "conv2d";
  std::optional<medkern::ops::ConvF32> conv_;
};

/// The transposed-convolution primitive.
class PyConvTranspose {
 public:
  PyConvTranspose(const py::array& weight, std::optional<py::array> bias, int spatial,
                  const Dims& stride, const Dims& padding, const Dims& output_padding,
                  const Dims& dilation, std::int64_t groups) {
    op_ = spatial == 3 ? "conv_transpose3d" : "conv_transpose2d";
    const TensorView w = view_of(weight, DType::f32, op_, "weight");
    if (w.rank != 2 + spatial)
      medkern::detail::throw_shape(op_, ": weight must be ", 2 + spatial, "-D (in_channels, ",
                                   "out_channels/groups, ", spatial == 3 ? "kD, " : "",
                                   "kH, kW), got ", w.rank, "-D ", w.shape_str());
    if (groups < 1) medkern::detail::throw_shape(op_, ": groups ", groups, " must be positive");
    medkern::ops::ConvTransposeDesc d;
    d.spatial = spatial;
    for (int i = 0; i < spatial; ++i) d.kernel[std::size_t(3 - spatial + i)] = w.shape[std::size_t(2 + i)];
    d.stride = stride;
    d.padding = padding;
    d.output_padding = output_padding;
    d.dilation = dilation;
    d.groups = groups;
    d.IC = w.shape[0];
    d.OC = w.shape[1] * groups;
    const float* bp = nullptr;
    if (bias) {
      const TensorView b = view_of(*bias, DType::f32, op_, "bias");
      if (b.rank != 1 || b.shape[0] != d.OC)
        medkern::detail::throw_shape(op_, ": bias must have shape (", d.OC, ",), got ",
                                     b.shape_str(), " (weight ", w.shape_str(), ")");
      bp = static_cast<const float*>(b.data);
    }
    py::gil_scoped_release nogil;
    conv_.emplace(d, static_cast<const float*>(w.data), bp);
  }

  py::array_t<float> call(const py::array& x, const py::list& post, std::optional<py::array> out,
                          std::int64_t offset, std::optional<std::vector<std::int64_t>> size) {
    const TensorView src = view_of(x, DType::f32, op_, "input");
    auto shape = conv_->output_shape(src);
    if (size) {
      if (size->size() + 2 != shape.size())
        medkern::detail::throw_shape(op_, ": output_size must have ", shape.size() - 2,
                                     " entries");
      for (std::size_t i = 0; i < size->size(); ++i) shape[i + 2] = (*size)[i];
    }
    const ParsedPost p = parse_post(post, conv_->desc().OC, op_);
    TensorView dst;
    auto o = output(out, offset, shape, op_, dst);
    if (medkern::overlap(src, dst))
      medkern::detail::throw_shape(op_, ": out must not overlap the input");
    {
      py::gil_scoped_release nogil;
      conv_->execute(src, dst, p.ops, p.sums);
    }
    return o;
  }

  /// The blocked execute: x (N, ceil(IC/16), [D,] H, W, 16); the result goes into blocks
  /// [offset/16, offset/16 + ceil(OC/16)) of `out` (offset a multiple of 16) or a new array.
  py::array_t<float> call_blocked(const py::array& x, const py::list& post,
                                  std::optional<py::array> out, std::int64_t offset) {
    return execute_blocked(*conv_, op_, x, post, out, offset);
  }

  std::string algorithm() const { return conv_->algorithm(); }
  std::string kernel() const { return conv_->kernel(); }
  bool blocked_supported() const { return conv_->blocked_supported(); }
  bool blocked_native() const { return conv_->blocked_native(); }

 private:
  const char* op_ = "conv_transpose2d";
  std::optional<medkern::ops::ConvTransposeF32> conv_;
};

}  // namespace

void bind_conv(py::module_& m) {
  py::class_<PyConv>(m, "ConvF32")
      .def(py::init<const py::array&, std::optional<py::array>, int, const Dims&, const Dims&,
                    const Dims&, const Dims&, std::int64_t, const std::string&>(),
           py::arg("weight"), py::arg("bias"), py::arg("spatial"), py::arg("stride"),
           py::arg("pad_before"), py::arg("pad_after"), py::arg("dilation"), py::arg("groups"),
           py::arg("algorithm") = "auto")
      .def("__call__", &PyConv::call, py::arg("x"), py::arg("post_ops") = py::list(),
           py::arg("out") = py::none(), py::arg("out_channel_offset") = 0)
      .def("execute_blocked", &PyConv::call_blocked, py::arg("x"),
           py::arg("post_ops") = py::list(), py::arg("out") = py::none(),
           py::arg("out_channel_offset") = 0)
      .def("execute_blocked_rows", &PyConv::call_blocked_rows, py::arg("x"), py::arg("rows"),
           py::arg("post_ops") = py::list(), py::arg("out") = py::none(),
           "Output slices [rows[0], rows[1]) of the outermost output dimension (H for 2-D, "
           "D for 3-D) of the blocked execute, into an array holding only those slices.")
      .def("execute_blocked_to_planar", &PyConv::call_blocked_to_planar, py::arg("x"),
           py::arg("post_ops") = py::list(), py::arg("out") = py::none(),
           py::arg("out_channel_offset") = 0,
           "The blocked execute with a planar result (N, OC, [OD,] OH, OW).")
      .def_property_readonly("algorithm", &PyConv::algorithm)
      .def_property_readonly("kernel", &PyConv::kernel)
      .def_property_readonly("packed_bytes", &PyConv::packed_bytes)
      .def_property_readonly("blocked_native", &PyConv::blocked_native)
      .def_property_readonly("planar_blocked", &PyConv::planar_blocked);

  py::class_<PyConvTranspose>(m, "ConvTransposeF32")
      .def(py::init<const py::array&, std::optional<py::array>, int, const Dims&, const Dims&,
                    const Dims&, const Dims&, std::int64_t>(),
           py::arg("weight"), py::arg("bias"), py::arg("spatial"), py::arg("stride"),
           py::arg("padding"), py::arg("output_padding"), py::arg("dilation"), py::arg("groups"))
      .def("__call__", &PyConvTranspose::call, py::arg("x"), py::arg("post_ops") = py::list(),
           py::arg("out") = py::none(), py::arg("out_channel_offset") = 0,
           py::arg("output_size") = py::none())
      .def("execute_blocked", &PyConvTranspose::call_blocked, py::arg("x"),
           py::arg("post_ops") = py::list(), py::arg("out") = py::none(),
           py::arg("out_channel_offset") = 0)
      .def_property_readonly("algorithm", &PyConvTranspose::algorithm)
      .def_property_readonly("kernel", &PyConvTranspose::kernel)
      .def_property_readonly("blocked_supported", &PyConvTranspose::blocked_supported)
      .def_property_readonly("blocked_native", &PyConvTranspose::blocked_native);

  m.def(
      "post_ops_planar",
      [](const py::array& x, const py::array& out, const py::list& post_ops) {
        const TensorView src = medkern::py::strided_f32(x, "post_ops", "input", false);
        const TensorView dst = medkern::py::strided_f32(out, "post_ops", "out", true);
        if (src.rank < 2)
          medkern::detail::throw_shape("post_ops: input must be (N, C, spatial...), got ",
                                       src.shape_str());
        const ParsedPost p = parse_post(post_ops, src.shape[1], "post_ops");
        {
          py::gil_scoped_release nogil;
          medkern::ops::apply_post_ops(src, dst, p.ops);
        }
        return out;
      },
      py::arg("x"), py::arg("out"), py::arg("post_ops"));

  m.def(
      "im2col",
      [](const py::array& x, int spatial, const Dims& kernel, const Dims& stride, const Dims& pb,
         const Dims& pa, const Dims& dilation) {
        const TensorView src = view_of(x, DType::f32, "im2col", "input");
        const ConvDesc g = geometry(spatial, kernel, stride, pb, pa, dilation, 1);
        const auto shape = medkern::ops::im2col_shape(src, g);
        py::array_t<float> col = medkern::py::empty_aligned<float>(to_ssize(shape));
        const TensorView cv = view_of(col, DType::f32, "im2col", "col", true);
        {
          py::gil_scoped_release nogil;
          medkern::ops::im2col(src, g, cv);
        }
        return col;
      },
      py::arg("x"), py::arg("spatial"), py::arg("kernel"), py::arg("stride"),
      py::arg("pad_before"), py::arg("pad_after"), py::arg("dilation"));

  m.def(
      "col2im",
      [](const py::array& col, const std::vector<std::int64_t>& out_shape, int spatial,
         const Dims& kernel, const Dims& stride, const Dims& pb, const Dims& pa,
         const Dims& dilation) {
        const TensorView cv = view_of(col, DType::f32, "col2im", "input");
        const ConvDesc g = geometry(spatial, kernel, stride, pb, pa, dilation, 1);
        for (auto v : out_shape)
          if (v < 0) medkern::detail::throw_shape("col2im: output_size must be non-negative");
        py::array_t<float> img = medkern::py::empty_aligned<float>(to_ssize(out_shape));
        const TensorView iv = view_of(img, DType::f32, "col2im", "out", true);
        {
          py::gil_scoped_release nogil;
          medkern::ops::col2im(cv, g, iv);
        }
        return img;
      },
      py::arg("col"), py::arg("out_shape"), py::arg("spatial"), py::arg("kernel"),
      py::arg("stride"), py::arg("pad_before"), py::arg("pad_after"), py::arg("dilation"));
}
