"""Functional operations on numpy float32 arrays with torch.nn.functional's names and semantics.

Inside a module traced by :func:`medkern.compile` these record themselves into the graph.
"""

from __future__ import annotations

import functools

import numpy as np

from . import _kernels as K
from ._trace import Tracer, has_proxy, record_function


def _traceable(name: str):
    def deco(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if Tracer.current is not None and (has_proxy(args) or has_proxy(kwargs)):
                return record_function(name, fn, args, kwargs)
            return fn(*args, **kwargs)
        return wrapper
    return deco


def _post(x, item):
    return K.apply_post_op(np.array(x, dtype=np.float32, copy=True), item)


@_traceable("relu")
def relu(x, inplace=False):
    return _post(x, "relu")


@_traceable("relu6")
def relu6(x, inplace=False):
    return _post(x, "relu6")


@_traceable("leaky_relu")
def leaky_relu(x, negative_slope=0.01, inplace=False):
    return _post(x, ("leaky_relu", negative_slope))


@_traceable("elu")
def elu(x, alpha=1.0, inplace=False):
    return _post(x, ("elu", alpha))


@_traceable("sigmoid")
def sigmoid(x):
    return _post(x, "sigmoid")


@_traceable("tanh")
def tanh(x):
    return _post(x, "tanh")


@_traceable("gelu")
def gelu(x, approximate="none"):
    return _post(x, ("gelu", "tanh") if approximate == "tanh" else "gelu")


@_traceable("hardswish")
def hardswish(x, inplace=False):
    return _post(x, "hardswish")


@_traceable("prelu")
def prelu(x, weight):
    return _post(x, ("prelu", np.asarray(weight, np.float32)))


@_traceable("softmax")
def softmax(x, dim=None):
    if dim is None:
        raise ValueError("softmax: dim must be given")
    return K.softmax(np.asarray(x, np.float32), dim)


@_traceable("cat")
def cat(tensors, dim=0):
    return K.cat([np.asarray(t, np.float32) for t in tensors], dim)


@_traceable("interpolate")
def interpolate(x, size=None, scale_factor=None, mode="nearest", align_corners=None):
    return K.interpolate(np.ascontiguousarray(x, np.float32), size, scale_factor, mode,
                         align_corners)


@_traceable("max_pool2d")
def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    return K.max_pool(x, 2, kernel_size, stride, padding, dilation, ceil_mode)


@_traceable("max_pool3d")
def max_pool3d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    return K.max_pool(x, 3, kernel_size, stride, padding, dilation, ceil_mode)


@_traceable("avg_pool2d")
def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    return K.avg_pool(x, 2, kernel_size, stride, padding, ceil_mode, count_include_pad,
                      divisor_override)


@_traceable("avg_pool3d")
def avg_pool3d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    return K.avg_pool(x, 3, kernel_size, stride, padding, ceil_mode, count_include_pad,
                      divisor_override)


@_traceable("adaptive_avg_pool2d")
def adaptive_avg_pool2d(x, output_size):
    return K.adaptive_avg_pool(x, 2, output_size)


@_traceable("adaptive_avg_pool3d")
def adaptive_avg_pool3d(x, output_size):
    return K.adaptive_avg_pool(x, 3, output_size)


def _flatten(x, start_dim=0, end_dim=-1):
    nd = x.ndim
    s, e = start_dim % nd if nd else 0, end_dim % nd if nd else 0
    shape = x.shape[:s] + (int(np.prod(x.shape[s:e + 1])),) + x.shape[e + 1:]
    return x.reshape(shape)


@_traceable("flatten")
def flatten(x, start_dim=0, end_dim=-1):
    return _flatten(x, start_dim, end_dim)


@_traceable("dropout")
def dropout(x, p=0.5, training=False, inplace=False):
    return x
