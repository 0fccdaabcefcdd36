"""Inference modules with torch.nn's names, constructor arguments, semantics and state_dict keys.

Parameters and buffers are numpy arrays. A module runs on numpy float32 arrays (torch tensors
are accepted and converted) and returns numpy arrays.
"""

from __future__ import annotations

import math
import numbers
from collections import OrderedDict
from typing import Iterator

import numpy as np

from . import _kernels as K
from . import functional as F
from ._trace import Tracer, has_proxy, unwrap

_rng = np.random.default_rng(0)


def manual_seed(seed: int) -> None:
    """Seed the generator used to initialise new modules' parameters."""
    global _rng
    _rng = np.random.default_rng(seed)


def to_numpy(v, name: str = "input") -> np.ndarray:
    """numpy arrays pass through; torch tensors are detached and converted (a copy on CPU)."""
    if isinstance(v, np.ndarray):
        return v
    mod = type(v).__module__
    if mod.startswith("torch"):
        return v.detach().cpu().numpy()
    raise TypeError(f"{name} must be a numpy.ndarray or a torch.Tensor, got {type(v).__name__}")


def _uniform(shape, bound) -> np.ndarray:
    return _rng.uniform(-bound, bound, size=shape).astype(np.float32)


def _ntuple(v, n):
    if isinstance(v, numbers.Integral):
        return (int(v),) * n
    return tuple(int(e) for e in v)


class Module:
    """Base class: named children, parameters and buffers, state_dict / load_state_dict."""

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", False)

    # -- attribute registry --
    def __setattr__(self, name, value):
        if "_modules" not in self.__dict__:
            raise AttributeError("Module.__init__() must be called before assigning attributes")
        if isinstance(value, Module):
            self._parameters.pop(name, None)
            self._buffers.pop(name, None)
            self._modules[name] = value
        elif name in self._parameters:
            self._parameters[name] = None if value is None else np.asarray(value, np.float32)
            self._changed()
        elif name in self._buffers:
            self._buffers[name] = value
            self._changed()
        elif name in self._modules and value is None:
            self._modules[name] = None
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        d = self.__dict__
        for reg in ("_parameters", "_buffers", "_modules"):
            if reg in d and name in d[reg]:
                return d[reg][name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name):
        for reg in (self._parameters, self._buffers, self._modules):
            if name in reg:
                del reg[name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, value) -> None:
        self._parameters[name] = None if value is None else np.asarray(value, np.float32)

    def register_buffer(self, name: str, value) -> None:
        self._buffers[name] = value

    def add_module(self, name: str, module: "Module | None") -> None:
        self._modules[name] = module

    def _changed(self) -> None:
        """Parameters changed: drop anything derived from them (packed weights)."""

    # -- traversal --
    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self):
        return (m for _, m in self.named_children())

    def named_modules(self, prefix: str = ""):
        yield prefix, self
        for name, m in self.named_children():
            yield from m.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self):
        return (m for _, m in self.named_modules())

    def named_parameters(self, prefix: str = ""):
        for mp, m in self.named_modules(prefix):
            for name, p in m._parameters.items():
                if p is not None:
                    yield (f"{mp}.{name}" if mp else name), p

    def parameters(self):
        return (p for _, p in self.named_parameters())

    def eval(self):
        return self

    def train(self, mode: bool = True):
        if mode:
            raise NotImplementedError("medkern.nn modules are inference-only; train() is not "
                                      "supported (eval() is a no-op)")
        return self

    # -- state dict --
    def state_dict(self, prefix: str = "") -> "OrderedDict[str, np.ndarray]":
        """Parameters and buffers by torch's key names (copies)."""
        out = OrderedDict()
        for mp, m in self.named_modules():
            base = f"{prefix}{mp}." if mp else prefix
            for name, p in m._parameters.items():
                if p is not None:
                    out[base + name] = np.array(p, copy=True)
            for name, b in m._buffers.items():
                if b is not None:
                    out[base + name] = np.array(b, copy=True)
        return out

    def load_state_dict(self, state_dict, strict: bool = True):
        """Load parameters and buffers (numpy arrays or torch tensors). Missing, unexpected and
        mis-shaped keys are all listed in one ValueError (missing/unexpected only when
        ``strict``); nothing is changed when it is raised."""
        own = {}
        for mp, m in self.named_modules():
            base = f"{mp}." if mp else ""
            for reg in (m._parameters, m._buffers):
                for name, v in reg.items():
                    if v is not None:
                        own[base + name] = (m, reg, name, v)
        given = {}
        for k, v in state_dict.items():
            try:
                given[k] = to_numpy(v, f"load_state_dict: value of {k!r}")
            except TypeError:
                given[k] = np.asarray(v)
        missing = [k for k in own if k not in given]
        unexpected = [k for k in given if k not in own]
        mis = [f"{k}: expected {tuple(np.shape(own[k][3]))}, got {tuple(given[k].shape)}"
               for k in own if k in given and tuple(np.shape(own[k][3])) != given[k].shape]
        problems = []
        if strict and missing:
            problems.append("missing keys: " + ", ".join(missing))
        if strict and unexpected:
            problems.append("unexpected keys: " + ", ".join(unexpected))
        if mis:
            problems.append("shape mismatch: " + "; ".join(mis))
        if problems:
            raise ValueError(f"load_state_dict for {type(self).__name__}: " + " | ".join(problems))
        touched = set()
        for k, (m, reg, name, old) in own.items():
            if k not in given:
                continue
            dtype = old.dtype if isinstance(old, np.ndarray) else np.float32
            reg[name] = np.array(given[k], dtype=dtype, copy=True)
            touched.add(id(m))
        for m in self.modules():
            if id(m) in touched:
                m._changed()
        return self

    # -- calling --
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__}.forward is not defined")

    def _is_leaf(self) -> bool:
        return False

    def __call__(self, *args, **kwargs):
        tracer = Tracer.current
        if tracer is not None and (has_proxy(args) or has_proxy(kwargs)):
            if self._is_leaf():
                value = self.forward(*unwrap(args), **unwrap(kwargs))
                return tracer.record("module", self, args, kwargs, value,
                                     tracer.paths.get(id(self), type(self).__name__))
            return self.forward(*args, **kwargs)
        args = tuple(to_numpy(a) if type(a).__module__.startswith("torch") else a for a in args)
        return self.forward(*args, **kwargs)

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        kids = list(self.named_children())
        if not kids:
            return lines[0] + ")"
        for name, m in kids:
            body = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        return "\n".join(lines) + "\n)"


class _Leaf(Module):
    def _is_leaf(self) -> bool:
        return True


def _input(x, nd: int, op: str, channels: int | None = None) -> np.ndarray:
    if not isinstance(x, np.ndarray):
        x = to_numpy(x)
    if x.dtype != np.float32:
        raise TypeError(f"{op}: input must have dtype float32, got {x.dtype.name}")
    if x.ndim != nd + 2:
        raise ValueError(f"{op}: input must be {nd + 2}-D (N, C, {'D, ' if nd == 3 else ''}H, "
                         f"W), got {x.ndim}-D with shape {x.shape}")
    if channels is not None and x.shape[1] != channels:
        raise ValueError(f"{op}: expected {channels} input channels, got {x.shape[1]} "
                         f"(input shape {x.shape})")
    return x


# ---- convolution ---------------------------------------------------------------------------

class _ConvNd(_Leaf):
    _nd = 2
    _transpose = False

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", output_padding=0):
        super().__init__()
        nd = self._nd
        if padding_mode != "zeros":
            raise ValueError(f"{type(self).__name__}: padding_mode {padding_mode!r} is not "
                             "supported (only 'zeros')")
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{type(self).__name__}: in_channels {in_channels} and "
                             f"out_channels {out_channels} must be divisible by groups {groups}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _ntuple(kernel_size, nd)
        self.stride = _ntuple(stride, nd)
        self.padding = padding if isinstance(padding, str) else _ntuple(padding, nd)
        self.dilation = _ntuple(dilation, nd)
        self.output_padding = _ntuple(output_padding, nd)
        self.groups = groups
        if self._transpose:
            shape = (in_channels, out_channels // groups) + self.kernel_size
            fan_in = shape[1] * math.prod(self.kernel_size)
        else:
            shape = (out_channels, in_channels // groups) + self.kernel_size
            fan_in = shape[1] * math.prod(self.kernel_size)
        bound = 1 / math.sqrt(fan_in) if fan_in else 0
        self.register_parameter("weight", _uniform(shape, bound))
        self.register_parameter("bias", _uniform((out_channels,), bound) if bias else None)
        self._op = None

    def _changed(self):
        self._op = None

    def _kernel(self) -> K.Conv:
        if self._op is None:
            self._op = K.Conv(self.weight, self.bias, nd=self._nd, stride=self.stride,
                              padding=self.padding, dilation=self.dilation, groups=self.groups,
                              transpose=self._transpose, output_padding=self.output_padding)
        return self._op

    def forward(self, x):
        x = _input(x, self._nd, type(self).__name__, self.in_channels)
        return self._kernel()(x)

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}")


class Conv2d(_ConvNd):
    _nd = 2

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros"):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode)


class Conv3d(Conv2d):
    _nd = 3


class ConvTranspose2d(_ConvNd):
    _nd = 2
    _transpose = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros"):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, output_padding)


class ConvTranspose3d(ConvTranspose2d):
    _nd = 3


# ---- normalisation -------------------------------------------------------------------------

class _BatchNorm(_Leaf):
    _nd = 2

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.register_parameter("weight", np.ones(num_features, np.float32) if affine else None)
        self.register_parameter("bias", np.zeros(num_features, np.float32) if affine else None)
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, np.float32))
            self.register_buffer("running_var", np.ones(num_features, np.float32))
            self.register_buffer("num_batches_tracked", np.array(0, np.int64))

    def folded(self) -> tuple[np.ndarray, np.ndarray]:
        """(scale, shift) with y = x * scale + shift in inference mode."""
        if not self.track_running_stats:
            raise ValueError(f"{type(self).__name__}: inference needs running statistics "
                             "(track_running_stats=True)")
        return fold_batch_norm(self.running_mean, self.running_var, self.weight, self.bias,
                               self.eps)

    def forward(self, x):
        x = _input(x, self._nd, type(self).__name__, self.num_features)
        scale, shift = self.folded()
        return K.batch_norm(x, scale, shift)

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}"


def fold_batch_norm(mean, var, weight, bias, eps):
    mean = np.asarray(mean, np.float64)
    inv = 1.0 / np.sqrt(np.asarray(var, np.float64) + eps)
    w = np.ones_like(mean) if weight is None else np.asarray(weight, np.float64)
    b = np.zeros_like(mean) if bias is None else np.asarray(bias, np.float64)
    scale = w * inv
    return scale.astype(np.float32), (b - mean * scale).astype(np.float32)


class BatchNorm2d(_BatchNorm):
    _nd = 2


class BatchNorm3d(_BatchNorm):
    _nd = 3


# ---- activations ---------------------------------------------------------------------------

class ReLU(_Leaf):
    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x):
        return F.relu(x)


class ReLU6(ReLU):
    def forward(self, x):
        return F.relu6(x)


class LeakyReLU(_Leaf):
    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope)


class ELU(_Leaf):
    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha = alpha

    def forward(self, x):
        return F.elu(x, self.alpha)


class PReLU(_Leaf):
    def __init__(self, num_parameters=1, init=0.25):
        super().__init__()
        self.num_parameters = num_parameters
        self.register_parameter("weight", np.full(num_parameters, init, np.float32))

    def forward(self, x):
        if self.num_parameters > 1 and (np.ndim(x) < 2 or x.shape[1] != self.num_parameters):
            raise ValueError(f"PReLU: {self.num_parameters} parameters need an input with "
                             f"{self.num_parameters} channels, got shape {np.shape(x)}")
        return F.prelu(x, self.weight)


class Sigmoid(_Leaf):
    def forward(self, x):
        return F.sigmoid(x)


class Tanh(_Leaf):
    def forward(self, x):
        return F.tanh(x)


class GELU(_Leaf):
    def __init__(self, approximate="none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, self.approximate)


class Hardswish(_Leaf):
    def __init__(self, inplace=False):
        super().__init__()

    def forward(self, x):
        return F.hardswish(x)


class Softmax(_Leaf):
    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return F.softmax(x, self.dim)


# ---- pooling / resampling ------------------------------------------------------------------

class _MaxPool(_Leaf):
    _nd = 2

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__()
        if return_indices:
            raise ValueError(f"{type(self).__name__}: return_indices=True is not supported")
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.dilation, self.ceil_mode = dilation, ceil_mode
        self.return_indices = False

    def forward(self, x):
        x = _input(x, self._nd, type(self).__name__)
        return K.max_pool(x, self._nd, self.kernel_size, self.stride, self.padding,
                          self.dilation, self.ceil_mode)


class MaxPool2d(_MaxPool):
    _nd = 2


class MaxPool3d(_MaxPool):
    _nd = 3


class _AvgPool(_Leaf):
    _nd = 2

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad
        self.divisor_override = divisor_override

    def forward(self, x):
        x = _input(x, self._nd, type(self).__name__)
        return K.avg_pool(x, self._nd, self.kernel_size, self.stride, self.padding,
                          self.ceil_mode, self.count_include_pad, self.divisor_override)


class AvgPool2d(_AvgPool):
    _nd = 2


class AvgPool3d(_AvgPool):
    _nd = 3


class _AdaptiveAvgPool(_Leaf):
    _nd = 2

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        x = _input(x, self._nd, type(self).__name__)
        return K.adaptive_avg_pool(x, self._nd, self.output_size)


class AdaptiveAvgPool2d(_AdaptiveAvgPool):
    _nd = 2


class AdaptiveAvgPool3d(_AdaptiveAvgPool):
    _nd = 3


class Upsample(_Leaf):
    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None):
        super().__init__()
        self.size, self.scale_factor = size, scale_factor
        self.mode, self.align_corners = mode, align_corners

    def forward(self, x):
        return F.interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners)


# ---- structure -----------------------------------------------------------------------------

class Dropout(_Leaf):
    """Identity at inference, as torch's Dropout in eval mode."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        self.p = p

    def forward(self, x):
        return x


Dropout2d = Dropout
Dropout3d = Dropout


class Identity(_Leaf):
    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x


class Linear(_Leaf):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        bound = 1 / math.sqrt(in_features) if in_features else 0
        self.register_parameter("weight", _uniform((out_features, in_features), bound))
        self.register_parameter("bias", _uniform((out_features,), bound) if bias else None)
        self._wt = None

    def _changed(self):
        self._wt = None

    def forward(self, x):
        if not isinstance(x, np.ndarray):
            x = to_numpy(x)
        if x.dtype != np.float32:
            raise TypeError(f"Linear: input must have dtype float32, got {x.dtype.name}")
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise ValueError(f"Linear: input's last dimension must be {self.in_features}, got "
                             f"shape {x.shape}")
        if self._wt is None:
            self._wt = np.ascontiguousarray(self.weight.T)
        return K.linear(x, self._wt, self.bias)


class Flatten(_Leaf):
    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return F.flatten(x, self.start_dim, self.end_dim)


class Sequential(Module):
    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for name, m in args[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(args):
                self.add_module(str(i), m)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, i):
        if isinstance(i, slice):
            return Sequential(OrderedDict(list(self._modules.items())[i]))
        return list(self._modules.values())[i]

    def append(self, m):
        self.add_module(str(len(self._modules)), m)
        return self

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x


class ModuleList(Module):
    def __init__(self, modules=None):
        super().__init__()
        for m in modules or ():
            self.append(m)

    def append(self, m):
        self.add_module(str(len(self._modules)), m)
        return self

    def extend(self, ms):
        for m in ms:
            self.append(m)
        return self

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, i):
        vals = list(self._modules.values())
        return ModuleList(vals[i]) if isinstance(i, slice) else vals[i]


class ModuleDict(Module):
    def __init__(self, modules=None):
        super().__init__()
        for k, m in (modules or {}).items():
            self.add_module(k, m)

    def __getitem__(self, k):
        return self._modules[k]

    def __setitem__(self, k, m):
        self.add_module(k, m)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, k):
        return k in self._modules

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()
