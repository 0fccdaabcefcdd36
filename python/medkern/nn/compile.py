"""medkern.compile: a medkern module or a torch.nn.Module -> an optimized inference graph.

Pipeline: trace (medkern modules with a Proxy tracer, torch modules with torch.fx) -> a graph of
small nodes (conv, affine, eltwise, binary, cat, pool, interpolate, softmax, linear, reshape)
-> passes (fold batch norm into conv; fuse conv + eltwise and conv + sum (+ eltwise); eliminate
concatenation by having producers write into channel slices of the concat buffer; keep the
channel-blocked layout (nC[d]hw16c) between convolutions, concats and residual sums that run on
it, reordering only around other ops and at the graph's inputs and outputs; plan activation
memory by liveness into one arena) -> a callable on numpy arrays.

The graph is specialised to the input shape: a call with another batch size or image size
compiles again for that shape (cached).
"""

from __future__ import annotations

import math
import numbers
import operator
import time
from typing import Any

import numpy as np

from .. import _layout, _memory
from . import _kernels as K
from ._trace import Proxy, Tracer
from .modules import Module, fold_batch_norm, to_numpy

_ALIGN = 64


class CompileError(ValueError):
    """An operation of the model that medkern.compile cannot run."""


def _np(v) -> np.ndarray | None:
    if v is None:
        return None
    if isinstance(v, np.ndarray):
        return v.astype(np.float32, copy=False)
    return to_numpy(v).astype(np.float32, copy=False)


class Node:
    __slots__ = ("name", "kind", "inputs", "attrs", "shape", "where", "op", "alias", "layout")

    def __init__(self, name, kind, inputs, attrs, shape, where=""):
        self.name, self.kind, self.inputs, self.attrs = name, kind, list(inputs), dict(attrs)
        self.shape, self.where = tuple(int(s) for s in shape), where
        self.op = None        # runtime object (packed convolution)
        self.alias = None     # (cat node, channel offset) when writing into a concat buffer
        self.layout = None    # "blocked": stored (N, ceil(C/16), [D,] H, W, 16)

    @property
    def store_shape(self) -> tuple:
        return _blocked_shape(self.shape) if self.layout == "blocked" else self.shape

    @property
    def nbytes(self) -> int:
        return 4 * math.prod(self.store_shape)

    def __repr__(self):
        return f"Node({self.name}, {self.kind}, {self.shape})"


# ---- lowering: events (module calls / functions on tensors) -> nodes ----------------------

_ELTWISE_MODULES = {"ReLU": lambda m: "relu", "ReLU6": lambda m: "relu6",
                    "LeakyReLU": lambda m: ("leaky_relu", float(m.negative_slope)),
                    "ELU": lambda m: ("elu", float(m.alpha)), "Sigmoid": lambda m: "sigmoid",
                    "Tanh": lambda m: "tanh", "Hardswish": lambda m: "hardswish",
                    "GELU": lambda m: ("gelu", "tanh") if m.approximate == "tanh" else "gelu",
                    "PReLU": lambda m: ("prelu", _np(m.weight).copy())}

_ELTWISE_FUNCTIONS = {"relu", "relu6", "leaky_relu", "elu", "sigmoid", "tanh", "gelu",
                      "hardswish", "prelu"}


def _arg(args, kwargs, i, name, default=None):
    if name in kwargs:
        return kwargs[name]
    if len(args) > i:
        return args[i]
    return default


class Builder:
    def __init__(self):
        self.nodes: list[Node] = []
        self.names: set[str] = set()

    def add(self, name, kind, inputs, attrs, shape, where=""):
        base, i = name, 1
        while name in self.names:
            name = f"{base}_{i}"
            i += 1
        self.names.add(name)
        n = Node(name, kind, inputs, attrs, shape, where)
        self.nodes.append(n)
        return n

    def fail(self, what, name, where):
        place = f"node {name!r}" + (f" (module {where!r})" if where and where != name else "")
        raise CompileError(f"medkern.compile: unsupported operation {what} at {place}")

    # module calls
    def module(self, m, args, kwargs, shape, name, where):
        cls = type(m).__name__
        x = args[0] if args else None
        if not isinstance(x, Node):
            self.fail(f"{cls} on a non-tensor argument", name, where)
        if cls in ("Conv1d", "ConvTranspose1d"):
            self.fail(cls, name, where)
        if cls in ("Conv2d", "Conv3d", "ConvTranspose2d", "ConvTranspose3d"):
            if getattr(m, "padding_mode", "zeros") != "zeros":
                self.fail(f"{cls} with padding_mode={m.padding_mode!r}", name, where)
            transpose = cls.startswith("ConvTranspose")
            if transpose and len(args) + len(kwargs) > 1:
                self.fail(f"{cls} with output_size", name, where)
            nd = int(cls[-2])
            return self.add(name, "conv", [x], dict(
                weight=_np(m.weight).copy(), bias=None if m.bias is None else _np(m.bias).copy(),
                nd=nd, stride=tuple(m.stride), padding=m.padding if isinstance(m.padding, str)
                else tuple(m.padding), dilation=tuple(m.dilation), groups=int(m.groups),
                transpose=transpose, output_padding=tuple(getattr(m, "output_padding", (0,) * nd)),
                post_ops=[]), shape, where)
        if cls in ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d"):
            if getattr(m, "running_mean", None) is None:
                self.fail(f"{cls} without running statistics", name, where)
            scale, shift = fold_batch_norm(_np(m.running_mean), _np(m.running_var),
                                           _np(m.weight), _np(m.bias), m.eps)
            return self.add(name, "affine", [x], dict(scale=scale, shift=shift), shape, where)
        if cls in _ELTWISE_MODULES:
            return self.add(name, "eltwise", [x], dict(item=_ELTWISE_MODULES[cls](m)), shape,
                            where)
        if cls == "Softmax":
            if m.dim is None:
                self.fail("Softmax with dim=None", name, where)
            return self.add(name, "softmax", [x], dict(dim=m.dim), shape, where)
        if cls in ("MaxPool2d", "MaxPool3d"):
            if m.return_indices:
                self.fail(f"{cls} with return_indices", name, where)
            return self.add(name, "max_pool", [x], dict(
                nd=int(cls[-2]), kernel_size=m.kernel_size, stride=m.stride, padding=m.padding,
                dilation=m.dilation, ceil_mode=m.ceil_mode), shape, where)
        if cls in ("AvgPool2d", "AvgPool3d"):
            return self.add(name, "avg_pool", [x], dict(
                nd=int(cls[-2]), kernel_size=m.kernel_size, stride=m.stride, padding=m.padding,
                ceil_mode=m.ceil_mode, count_include_pad=m.count_include_pad,
                divisor_override=m.divisor_override), shape, where)
        if cls in ("AdaptiveAvgPool2d", "AdaptiveAvgPool3d"):
            return self.add(name, "adaptive_avg_pool", [x], dict(
                nd=int(cls[-2]), output_size=tuple(shape[2:])), shape, where)
        if cls == "Upsample":
            return self.interp(x, shape, m.mode, m.align_corners, name, where,
                               None if m.size is not None else m.scale_factor)
        if cls in ("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "Identity"):
            return x
        if cls == "Linear":
            return self.add(name, "linear", [x], dict(
                weight_t=np.ascontiguousarray(_np(m.weight).T),
                bias=None if m.bias is None else _np(m.bias).copy()), shape, where)
        if cls == "Flatten":
            return self.reshape(x, shape, name, where)
        self.fail(f"module {cls}", name, where)

    def interp(self, x, shape, mode, align_corners, name, where, scale_factor=None):
        if mode not in ("nearest", "bilinear", "trilinear", "linear"):
            self.fail(f"interpolate(mode={mode!r})", name, where)
        # torch maps coordinates with 1/scale_factor when a factor is given and with
        # in/out when a size is: keep the form the model used.
        size = None if scale_factor is not None else tuple(shape[2:])
        return self.add(name, "interpolate", [x], dict(
            size=size, scale_factor=scale_factor, mode=mode, align_corners=align_corners),
            shape, where)

    def reshape(self, x, shape, name, where):
        if tuple(shape) == x.shape:
            return x
        return self.add(name, "reshape", [x], dict(shape=tuple(shape)), shape, where)

    def const(self, value, name, where):
        v = _np(value)
        return self.add(name, "const", [], dict(value=v), v.shape, where)

    # function calls on tensors
    def function(self, fn, args, kwargs, shape, name, where):
        def tensor(v):
            if isinstance(v, Node):
                return v
            if isinstance(v, np.ndarray) or type(v).__module__.startswith("torch"):
                return self.const(v, f"{name}_const", where)
            return v
        if fn in ("add", "sub", "mul", "div"):
            if "alpha" in kwargs and kwargs["alpha"] != 1:
                self.fail(f"{fn} with alpha", name, where)
            a, b = tensor(args[0]), tensor(args[1])
            if isinstance(a, Node) and isinstance(b, Node):
                return self.add(name, "binary", [a, b], dict(fn=fn), shape, where)
            if isinstance(a, Node) and isinstance(b, numbers.Real):
                b = float(b)
                item = {"add": ("linear", 1.0, b), "sub": ("linear", 1.0, -b),
                        "mul": ("linear", b, 0.0), "div": ("linear", 1.0 / b, 0.0)}[fn]
                return self.add(name, "eltwise", [a], dict(item=item), shape, where)
            if isinstance(b, Node) and isinstance(a, numbers.Real) and fn != "div":
                a = float(a)
                item = {"add": ("linear", 1.0, a), "sub": ("linear", -1.0, a),
                        "mul": ("linear", a, 0.0)}[fn]
                return self.add(name, "eltwise", [b], dict(item=item), shape, where)
            self.fail(f"{fn} of {type(args[0]).__name__} and {type(args[1]).__name__}",
                      name, where)
        x = args[0] if args else kwargs.get("input")
        if fn == "cat":
            ts = _arg(args, kwargs, 0, "tensors")
            dim = _arg(args, kwargs, 1, "dim", 0)
            ts = [tensor(t) for t in ts]
            if not all(isinstance(t, Node) for t in ts):
                self.fail("cat of non-tensors", name, where)
            return self.add(name, "cat", ts, dict(dim=dim % len(shape)), shape, where)
        if not isinstance(x, Node):
            self.fail(f"{fn} on {type(x).__name__}", name, where)
        if fn in _ELTWISE_FUNCTIONS:
            if fn == "leaky_relu":
                item = ("leaky_relu", float(_arg(args, kwargs, 1, "negative_slope", 0.01)))
            elif fn == "elu":
                item = ("elu", float(_arg(args, kwargs, 1, "alpha", 1.0)))
            elif fn == "gelu":
                item = ("gelu", "tanh") if kwargs.get("approximate", "none") == "tanh" else "gelu"
            elif fn == "prelu":
                w = _arg(args, kwargs, 1, "weight")
                if isinstance(w, Node):
                    if w.kind != "const":
                        self.fail("prelu with a computed weight", name, where)
                    w = w.attrs["value"]
                item = ("prelu", _np(w).reshape(-1).copy())
            else:
                item = fn
            return self.add(name, "eltwise", [x], dict(item=item), shape, where)
        if fn == "softmax":
            dim = _arg(args, kwargs, 1, "dim")
            if dim is None:
                self.fail("softmax with dim=None", name, where)
            return self.add(name, "softmax", [x], dict(dim=int(dim)), shape, where)
        if fn == "interpolate":
            if kwargs.get("antialias") or kwargs.get("recompute_scale_factor"):
                self.fail("interpolate with antialias / recompute_scale_factor", name, where)
            size = _arg(args, kwargs, 1, "size")
            return self.interp(x, shape, _arg(args, kwargs, 3, "mode", "nearest"),
                               _arg(args, kwargs, 4, "align_corners"), name, where,
                               None if size is not None else _arg(args, kwargs, 2,
                                                                  "scale_factor"))
        if fn in ("max_pool2d", "max_pool3d"):
            if _arg(args, kwargs, 6, "return_indices", False):
                self.fail(f"{fn} with return_indices", name, where)
            ks = _arg(args, kwargs, 1, "kernel_size")
            return self.add(name, "max_pool", [x], dict(
                nd=int(fn[-2]), kernel_size=ks, stride=_arg(args, kwargs, 2, "stride"),
                padding=_arg(args, kwargs, 3, "padding", 0),
                dilation=_arg(args, kwargs, 4, "dilation", 1),
                ceil_mode=_arg(args, kwargs, 5, "ceil_mode", False)), shape, where)
        if fn in ("avg_pool2d", "avg_pool3d"):
            return self.add(name, "avg_pool", [x], dict(
                nd=int(fn[-2]), kernel_size=_arg(args, kwargs, 1, "kernel_size"),
                stride=_arg(args, kwargs, 2, "stride"),
                padding=_arg(args, kwargs, 3, "padding", 0),
                ceil_mode=_arg(args, kwargs, 4, "ceil_mode", False),
                count_include_pad=_arg(args, kwargs, 5, "count_include_pad", True),
                divisor_override=_arg(args, kwargs, 6, "divisor_override")), shape, where)
        if fn in ("adaptive_avg_pool2d", "adaptive_avg_pool3d"):
            return self.add(name, "adaptive_avg_pool", [x], dict(
                nd=int(fn[-2]), output_size=tuple(shape[2:])), shape, where)
        if fn in ("reshape", "flatten"):
            return self.reshape(x, shape, name, where)
        if fn in ("dropout", "identity"):
            return x
        self.fail(fn, name, where)


# ---- tracing front ends ------------------------------------------------------------------


def _from_medkern(model: Module, x: np.ndarray):
    b = Builder()
    tracer = Tracer(model)
    prev, Tracer.current = Tracer.current, tracer
    try:
        inp = tracer.record("function", "input", (), {}, x)
        out = model(inp)
    finally:
        Tracer.current = prev
    env: dict[int, Any] = {}

    def sub(v):
        if isinstance(v, Proxy):
            return env[id(v.event)]
        if isinstance(v, (list, tuple)):
            return type(v)(sub(e) for e in v)
        if isinstance(v, dict):
            return {k: sub(e) for k, e in v.items()}
        return v
    for ev in tracer.events:
        shape = np.shape(ev.value)
        if ev.target == "input" and ev.kind == "function" and not ev.args:
            env[id(ev)] = b.add("input", "input", [], {}, shape)
        elif ev.kind == "module":
            env[id(ev)] = b.module(ev.target, sub(ev.args), sub(ev.kwargs), shape, ev.name,
                                   ev.path)
        else:
            env[id(ev)] = b.function(ev.target, sub(ev.args), sub(ev.kwargs), shape, ev.name,
                                     ev.name)
    outputs = sub(out)
    return b, outputs


def _fx_function_table():
    import torch
    import torch.nn.functional as F
    table = {}

    def put(name, *fns):
        for f in fns:
            if f is not None:
                table[f] = name
    g = lambda mod, n: getattr(mod, n, None)  # noqa: E731
    put("add", operator.add, operator.iadd, torch.add)
    put("sub", operator.sub, operator.isub, torch.sub)
    put("mul", operator.mul, operator.imul, torch.mul)
    put("div", operator.truediv, operator.itruediv, torch.div)
    put("cat", torch.cat, g(torch, "concat"), g(torch, "concatenate"))
    put("relu", torch.relu, F.relu, g(torch, "relu_"), g(F, "relu_"))
    put("relu6", F.relu6)
    put("leaky_relu", F.leaky_relu)
    put("elu", F.elu)
    put("sigmoid", torch.sigmoid, F.sigmoid)
    put("tanh", torch.tanh, F.tanh)
    put("gelu", F.gelu)
    put("hardswish", F.hardswish)
    put("prelu", F.prelu, torch.prelu)
    put("softmax", F.softmax, torch.softmax)
    put("interpolate", F.interpolate, g(F, "upsample"))
    put("max_pool2d", F.max_pool2d, torch.max_pool2d)
    put("max_pool3d", F.max_pool3d, torch.max_pool3d)
    put("avg_pool2d", F.avg_pool2d)
    put("avg_pool3d", F.avg_pool3d)
    put("adaptive_avg_pool2d", F.adaptive_avg_pool2d)
    put("adaptive_avg_pool3d", F.adaptive_avg_pool3d)
    put("flatten", torch.flatten)
    put("reshape", torch.reshape)
    put("dropout", F.dropout, F.dropout2d, F.dropout3d)
    return table


_FX_NAMES = {"_max_pool2d": "max_pool2d", "_max_pool3d": "max_pool3d",
             "max_pool2d_with_indices": None, "max_pool3d_with_indices": None}

_FX_METHODS = {"view": "reshape", "reshape": "reshape", "flatten": "flatten",
               "relu": "relu", "relu_": "relu", "sigmoid": "sigmoid", "tanh": "tanh",
               "softmax": "softmax", "add": "add", "add_": "add", "mul": "mul", "mul_": "mul",
               "sub": "sub", "div": "div", "contiguous": "identity", "clone": "identity",
               "detach": "identity"}


def _from_torch(model, x: np.ndarray):
    import torch
    import torch.fx

    try:
        gm = torch.fx.symbolic_trace(model)
    except Exception as e:  # tracing errors come in many types
        raise CompileError(f"medkern.compile: torch.fx could not trace "
                           f"{type(model).__name__}: {type(e).__name__}: {e}") from e
    values: dict[str, Any] = {}

    class Recorder(torch.fx.Interpreter):
        def run_node(self, n):
            r = super().run_node(n)
            values[n.name] = r
            return r
    modes = {m: m.training for m in gm.modules()}
    try:
        for m in modes:
            m.training = False
        with torch.inference_mode():
            Recorder(gm).run(torch.from_numpy(np.array(x)))
    finally:
        for m, t in modes.items():
            m.training = t
    table = _fx_function_table()
    modules = dict(gm.named_modules())
    b = Builder()
    env: dict[str, Any] = {}
    outputs = None

    def sub(v):
        if isinstance(v, torch.fx.Node):
            return env[v.name]
        if isinstance(v, (list, tuple)):
            return type(v)(sub(e) for e in v)
        if isinstance(v, dict):
            return {k: sub(e) for k, e in v.items()}
        return v
    n_inputs = 0
    for n in gm.graph.nodes:
        val = values.get(n.name)
        stack = n.meta.get("nn_module_stack") or {}
        where = next(reversed(stack.values()))[0] if stack else ""
        if isinstance(where, tuple):
            where = where[0]
        if n.op == "output":
            outputs = sub(n.args[0])
            break
        if n.op == "placeholder":
            n_inputs += 1
            if n_inputs > 1:
                raise CompileError(f"medkern.compile: models with more than one input are not "
                                   f"supported (second input {n.name!r})")
            env[n.name] = b.add("input", "input", [], {}, val.shape)
            continue
        if not isinstance(val, torch.Tensor):
            env[n.name] = val   # sizes and other Python values: constants for this shape
            continue
        if val.dtype != torch.float32:
            b.fail(f"{n.op} {n.target} producing {val.dtype}", n.name, where)
        shape = tuple(val.shape)
        args, kwargs = sub(n.args), sub(n.kwargs)
        if n.op == "get_attr":
            env[n.name] = b.const(val, n.name, n.target)
        elif n.op == "call_module":
            env[n.name] = b.module(modules[n.target], args, kwargs, shape, n.name, n.target)
        elif n.op == "call_function":
            fn = table.get(n.target)
            if fn is None:
                fn = _FX_NAMES.get(getattr(n.target, "__name__", ""))
            if fn is None:
                what = getattr(n.target, "__qualname__", None) or str(n.target)
                mod = getattr(n.target, "__module__", "") or ""
                b.fail(f"{mod + '.' if mod else ''}{what}", n.name, where)
            env[n.name] = b.function(fn, args, kwargs, shape, n.name, where)
        elif n.op == "call_method":
            fn = _FX_METHODS.get(n.target)
            if fn is None:
                b.fail(f"Tensor.{n.target}", n.name, where)
            if fn == "softmax" and len(args) > 1:
                kwargs = {"dim": args[1], **kwargs}
                args = args[:1]
            env[n.name] = b.function(fn, args, kwargs, shape, n.name, where)
        else:
            b.fail(f"{n.op} {n.target}", n.name, where)
    return b, outputs


# ---- passes --------------------------------------------------------------------------------


def _consumers(nodes, outputs):
    cons: dict[int, list[Node]] = {id(n): [] for n in nodes}
    for n in nodes:
        for i in n.inputs:
            cons[id(i)].append(n)
    outs = {id(o) for o in outputs}
    return cons, outs


def _replace(nodes, old: Node, new: Node, outputs: list):
    for n in nodes:
        n.inputs = [new if i is old else i for i in n.inputs]
    for k, o in enumerate(outputs):
        if o is old:
            outputs[k] = new


def _single_use(p, cons, outs):
    return len(cons[id(p)]) == 1 and id(p) not in outs


def pass_fold_batch_norm(nodes, outputs):
    cons, outs = _consumers(nodes, outputs)
    keep = []
    for n in nodes:
        p = n.inputs[0] if n.kind == "affine" else None
        if p is not None and p.kind == "conv" and not p.attrs["post_ops"] and \
                _single_use(p, cons, outs):
            a = p.attrs
            scale, shift = n.attrs["scale"], n.attrs["shift"]
            w = a["weight"]
            if a["transpose"]:
                g = a["groups"]
                ocg = w.shape[1]
                ws = w.reshape((g, w.shape[0] // g, ocg) + w.shape[2:])
                ws = ws * scale.reshape((g, 1, ocg) + (1,) * (w.ndim - 2))
                a["weight"] = ws.reshape(w.shape).astype(np.float32)
            else:
                a["weight"] = (w * scale.reshape((-1,) + (1,) * (w.ndim - 1))).astype(np.float32)
            b = np.zeros_like(scale) if a["bias"] is None else a["bias"]
            a["bias"] = (b * scale + shift).astype(np.float32)
            _replace(nodes, n, p, outputs)
            cons[id(p)] = cons.pop(id(n), [])
            continue
        keep.append(n)
    return keep


def pass_fuse_eltwise(nodes, outputs):
    cons, outs = _consumers(nodes, outputs)
    keep = []
    for n in nodes:
        p = n.inputs[0] if n.kind in ("eltwise", "affine") else None
        if p is not None and p.kind == "conv" and _single_use(p, cons, outs):
            item = n.attrs["item"] if n.kind == "eltwise" else \
                ("batch_norm", n.attrs["scale"], n.attrs["shift"])
            p.attrs["post_ops"].append(item)
            p.name = f"{p.name}+{n.name}"
            _replace(nodes, n, p, outputs)
            cons[id(p)] = cons.pop(id(n), [])
            if id(n) in outs:
                outs.add(id(p))
            continue
        if n.kind == "eltwise" and p is not None and \
                p.kind in ("affine", "eltwise", "binary") and _single_use(p, cons, outs) and \
                p.shape == n.shape:
            # Element-wise chains (pre-activation batch norm -> ReLU) run in one buffer.
            p.attrs.setdefault("post", []).append(n.attrs["item"])
            p.name = f"{p.name}+{n.name}"
            _replace(nodes, n, p, outputs)
            cons[id(p)] = cons.pop(id(n), [])
            if id(n) in outs:
                outs.add(id(p))
            continue
        keep.append(n)
    return keep


def pass_fuse_sum(nodes, outputs):
    cons, outs = _consumers(nodes, outputs)
    index = {id(n): i for i, n in enumerate(nodes)}
    keep = []
    for n in nodes:
        if n.kind == "binary" and n.attrs["fn"] == "add" and \
                n.inputs[0].shape == n.inputs[1].shape == n.shape:
            a, b = n.inputs
            # Fuse into the conv that runs later, so the other operand already exists.
            cands = sorted([(a, b), (b, a)], key=lambda pq: -index[id(pq[0])])
            done = False
            for p, q in cands:
                if p.kind == "conv" and p is not q and _single_use(p, cons, outs) and \
                        index[id(q)] < index[id(p)]:
                    p.inputs.append(q)
                    p.attrs["post_ops"].append(("sum", len(p.inputs) - 1))
                    p.attrs["post_ops"].extend(n.attrs.get("post", ()))
                    p.name = f"{p.name}+{n.name}"
                    _replace(nodes, n, p, outputs)
                    cons[id(p)] = cons.pop(id(n), [])
                    cons[id(q)] = [c for c in cons[id(q)] if c is not n] + [p]
                    done = True
                    break
            if done:
                continue
        keep.append(n)
    return keep


_MATERIALIZING = {"conv", "affine", "eltwise", "binary", "cat", "max_pool", "avg_pool",
                  "adaptive_avg_pool", "interpolate", "softmax"}


def pass_eliminate_concat(nodes, outputs):
    cons, outs = _consumers(nodes, outputs)
    for n in nodes:
        if n.kind != "cat" or n.attrs["dim"] != 1 or len(n.shape) < 3:
            continue
        off = 0
        for i, p in enumerate(n.inputs):
            if p.kind in _MATERIALIZING and p.alias is None and id(p) not in outs and \
                    n.inputs.count(p) == 1 and \
                    sum(1 for c in cons[id(p)] if c.kind == "cat") == 1:
                p.alias = (n, off)
            off += p.shape[1]
    return nodes


def _blockable_conv(n: Node) -> bool:
    return n.kind == "conv" and n.op is not None and n.op.blocked_native and len(n.shape) in (4, 5)


_POOLS = ("max_pool", "avg_pool")


def _blockable_pool(n: Node) -> bool:
    return n.kind in _POOLS and len(n.shape) in (4, 5) and n.attrs["nd"] == len(n.shape) - 2


def pass_blocked_layout(nodes, outputs):
    """Store in the channel-blocked layout the outputs of convolutions (and transposed
    convolutions) that run on it natively, of max / average pools whose input is blocked, and
    of channel concats of such outputs, when every consumer reads that layout: a convolution
    (as its input, or as the residual of a sum post-op when that convolution's output is
    blocked too), a pool (which pools the blocked tensor and reorders its smaller result when
    it stays planar) or a blocked concat. Graph outputs stay planar. A blocked concat needs
    every input but the last to have a multiple of 16 channels (its producers write whole
    blocks). Concat aliases between layouts are dropped (the concat copies those inputs)."""
    cons, outs = _consumers(nodes, outputs)
    blocked = set()
    for n in nodes:
        if _blockable_conv(n) or _blockable_pool(n):
            blocked.add(id(n))
        elif n.kind == "cat" and n.attrs["dim"] == 1 and len(n.shape) in (4, 5) and \
                all(i.shape[1] % 16 == 0 for i in n.inputs[:-1]):
            blocked.add(id(n))

    def reads_blocked(c, n):
        """Whether consumer c can read node n in the blocked layout."""
        if _blockable_conv(c):
            return not (any(i is n for i in c.inputs[1:]) and id(c) not in blocked)
        if _blockable_pool(c):
            return True
        return c.kind == "cat" and id(c) in blocked

    changed = True
    while changed:
        changed = False
        for n in nodes:
            if id(n) not in blocked:
                continue
            ok = id(n) not in outs
            if ok and n.kind == "cat":
                ok = all(id(i) in blocked for i in n.inputs)
            if ok and n.kind in _POOLS:
                ok = id(n.inputs[0]) in blocked
            ok = ok and all(reads_blocked(c, n) for c in cons[id(n)])
            if not ok:
                blocked.discard(id(n))
                changed = True
    # A blocked conv between planar neighbours (planar input, every consumer writing planar)
    # only moves its reorders out of the kernel's cache-resident rows: keep it planar. A pool
    # with a planar input stays planar.
    changed = True
    while changed:
        changed = False
        for n in nodes:
            if id(n) in blocked and n.kind == "conv" and id(n.inputs[0]) not in blocked and \
                    not any(id(c) in blocked for c in cons[id(n)]):
                blocked.discard(id(n))
                changed = True
            elif id(n) in blocked and n.kind in _POOLS and id(n.inputs[0]) not in blocked:
                blocked.discard(id(n))
                changed = True
    for n in nodes:
        n.layout = "blocked" if id(n) in blocked else None
    for n in nodes:
        if n.alias is not None and n.layout != n.alias[0].layout:
            n.alias = None
    return nodes


def _root(n: Node):
    off = 0
    while n.alias is not None:
        n, o = n.alias
        off += o
    return n, off


def _view_root(n: Node) -> Node:
    while n.kind == "reshape":
        n = n.inputs[0]
    return _root(n)[0]


_BAND_BYTES = 4 << 20       # conv output computed per band when a pool consumes it
_FUSE_POOL_MIN_BYTES = 8 << 20


def _pool_window(p: Node):
    """A pool's kernel when its windows tile the input (stride == kernel, no padding or
    dilation, floor mode), else None."""
    a, nd = p.attrs, p.attrs["nd"]
    k = K._ntuple(a["kernel_size"], nd)
    st = k if a["stride"] is None or (not isinstance(a["stride"], int) and len(a["stride"]) == 0) \
        else K._ntuple(a["stride"], nd)
    if st != k or any(K._ntuple(a["padding"], nd)) or a["ceil_mode"] or \
            any(d != 1 for d in K._ntuple(a.get("dilation", 1), nd)):
        return None
    return k


def pass_fuse_conv_pool(nodes, outputs):
    """A large blocked convolution output read only by a pool whose windows tile it (MCNN's
    full-resolution branch: 64 x 1024 x 1280 -> max-pool 64) is computed band by band of
    whole pooling windows into a scratch band and pooled from there: the full output (335 MB
    there) is never held. The pool node takes the convolution's input; the convolution node
    leaves the graph."""
    cons, outs = _consumers(nodes, outputs)
    gone = set()
    for p in nodes:
        if p.kind not in _POOLS or len(p.inputs) != 1:
            continue
        c = p.inputs[0]
        if c.kind != "conv" or c.op is None or c.attrs["transpose"] or \
                len(c.inputs) != 1 or c.alias is not None or id(c) in outs or \
                len(cons[id(c)]) != 1 or c.nbytes < _FUSE_POOL_MIN_BYTES or \
                not c.op.blocked_native:
            continue
        k = _pool_window(p)
        if k is None or p.attrs["nd"] != len(c.shape) - 2:
            continue
        blocked = _blocked_shape(c.shape)
        row_bytes = 4 * math.prod(blocked) // c.shape[2]   # a slice of the outermost dim
        # whole pooling windows, and whole 4-row tiles for a 2-D Winograd convolution (3-D
        # bands are depth slices)
        wino = getattr(c.op._packed, "algorithm_", "") == "winograd" and len(c.shape) == 4
        unit = k[0] * 4 // math.gcd(k[0], 4) if wino else k[0]
        band = unit * max(1, _BAND_BYTES // (row_bytes * unit))
        band = min(band, p.shape[2] * k[0])
        p.attrs["band_conv"], p.attrs["band_rows"] = c, band
        p.attrs["scratch_shape"] = blocked[:2] + (band,) + blocked[3:]
        p.inputs = [c.inputs[0]]
        gone.add(id(c))
    return [n for n in nodes if id(n) not in gone]


def pass_in_place(nodes, outputs):
    """Let an unfused element-wise node (a batch norm or activation that no convolution
    absorbed, e.g. the BN-ReLU after a DenseNet concat) overwrite its input when that input's
    buffer is read for the last time there: the two share one buffer. A planar
    (N, 182, 256, 256) concat and its batch norm were DenseUNet's peak, 2 x 47.7 MB."""
    index = {id(n): i for i, n in enumerate(nodes)}
    out_roots = {id(_view_root(o)) for o in outputs}
    last = {}   # root buffer -> index of its last reader
    for n in nodes:
        for inp in n.inputs:
            r = _view_root(inp)
            last[id(r)] = max(last.get(id(r), -1), index[id(n)])
    for n in nodes:
        if n.kind not in ("affine", "eltwise") or len(n.inputs) != 1 or n.alias is not None:
            continue
        inp = n.inputs[0]
        if inp.kind in ("input", "const", "reshape") or inp.layout is not None or \
                n.layout is not None or tuple(inp.shape) != tuple(n.shape):
            continue
        r = _root(inp)[0]
        if id(r) in out_roots or last.get(id(r)) != index[id(n)]:
            continue
        n.alias = (inp, 0)
        # n's buffer is r's now: readers of n extend r's life
        last[id(r)] = max(last[id(r)], last.get(id(n), -1))
    return nodes


def plan_memory(nodes, outputs):
    """Liveness intervals of every buffer (a concat buffer covers its producers) -> byte offsets
    in one arena, greedy by size (largest first, lowest non-conflicting offset)."""
    index = {id(n): i for i, n in enumerate(nodes)}
    start, end, size = {}, {}, {}
    out_roots = {id(_view_root(o)) for o in outputs}
    for i, n in enumerate(nodes):
        if n.kind in ("input", "const", "reshape"):
            continue
        r, _ = _root(n)
        start[id(r)] = min(start.get(id(r), i), i)
        end[id(r)] = max(end.get(id(r), i), i)
        size[id(r)] = r.nbytes
    for n in nodes:
        for inp in n.inputs:
            r = _view_root(inp)
            if id(r) in end:
                end[id(r)] = max(end[id(r)], index[id(n)])
    by_id = {id(n): n for n in nodes}
    for i, n in enumerate(nodes):   # per-node scratch, live during that node only
        if "scratch_shape" in n.attrs:
            k = ("scratch", id(n))
            start[k], end[k], size[k] = i, i, 4 * math.prod(n.attrs["scratch_shape"])
    roots = sorted((k for k in size if k not in out_roots), key=lambda k: -size[k])
    placed: list[tuple[int, int, int, int]] = []   # (offset, size, start, end)
    offsets = {}
    for k in roots:
        sz = (size[k] + _ALIGN - 1) // _ALIGN * _ALIGN
        busy = sorted((o, s) for o, s, a, b in placed if a <= end[k] and start[k] <= b)
        off = 0
        for o, s in busy:
            if off + sz <= o:
                break
            off = max(off, o + s)
        placed.append((off, sz, start[k], end[k]))
        offsets[k] = off
    arena = max((o + s for o, s, _, _ in placed), default=0)
    for k in offsets:
        if isinstance(k, tuple):
            by_id[k[1]].attrs["scratch_offset"] = offsets[k]
    return {by_id[k]: offsets[k] for k in offsets if not isinstance(k, tuple)}, arena, {
        "arena_bytes": arena,
        "output_bytes": sum(size[k] for k in size if k in out_roots),
        "unplanned_bytes": sum(size.values())}


# ---- runtime -------------------------------------------------------------------------------


def _flops(n: Node, ins) -> float:
    if "band_conv" in n.attrs:
        n = n.attrs["band_conv"]
    if n.kind == "conv":
        a = n.attrs
        w = a["weight"]
        kvol = math.prod(w.shape[2:])
        if a["transpose"]:
            return 2.0 * math.prod(ins[0].shape) * w.shape[1] * kvol
        return 2.0 * math.prod(n.shape) * w.shape[1] * kvol
    if n.kind == "linear":
        return 2.0 * math.prod(n.shape) * n.attrs["weight_t"].shape[0]
    return 0.0


class _Plan:
    """The graph for one input shape, after the passes, with packed weights and an arena."""

    def __init__(self, nodes, outputs, structure, options):
        self.nodes, self.outputs, self.structure = nodes, outputs, structure
        self.options = options
        for n in nodes:
            if n.kind == "conv":
                a = n.attrs
                post = [it if not (isinstance(it, tuple) and it[0] == "sum") else ("sum", None)
                        for it in a["post_ops"]]
                n.op = K.Conv(a["weight"], a["bias"], nd=a["nd"], stride=a["stride"],
                              padding=a["padding"], dilation=a["dilation"], groups=a["groups"],
                              transpose=a["transpose"], output_padding=a["output_padding"],
                              post_ops=post)
        if options["blocked_layout"]:
            pass_blocked_layout(nodes, outputs)
            if options["fuse_pool"]:
                nodes = self.nodes = pass_fuse_conv_pool(nodes, outputs)
        if options["plan_memory"]:
            if options["in_place"]:
                pass_in_place(nodes, outputs)
            self.offsets, arena, self.memory = plan_memory(nodes, outputs)
            self.arena = _memory.empty(arena, np.uint8)  # buffers at 64-byte offsets in it
        else:
            self.offsets, self.arena = {}, None
            self.memory = {"arena_bytes": 0, "output_bytes": 0, "unplanned_bytes": sum(
                n.nbytes for n in nodes if n.kind in _MATERIALIZING)}

    def _buffer(self, root: Node, bufs: dict):
        b = bufs.get(id(root))
        if b is None:
            off = self.offsets.get(root)
            if off is None:
                b = _memory.empty(root.store_shape)
            else:
                b = np.ndarray(root.store_shape, np.float32, buffer=self.arena, offset=off)
            bufs[id(root)] = b
        return b

    def run(self, x: np.ndarray, timings: list | None = None):
        vals: dict[int, np.ndarray] = {}
        bufs: dict[int, np.ndarray] = {}
        for n in self.nodes:
            t0 = time.perf_counter() if timings is not None else 0.0
            ins = [vals[id(i)] for i in n.inputs]
            if n.kind == "input":
                v = x
            elif n.kind == "const":
                v = n.attrs["value"]
            elif n.kind == "reshape":
                v = ins[0].reshape(n.attrs["shape"])
            else:
                root, off = _root(n)
                full = None
                if root is not n or root in self.offsets or n.kind in ("cat", "conv"):
                    full = self._buffer(root, bufs)
                v = self._exec(n, ins, full, off)
            vals[id(n)] = v
            if timings is not None:
                timings.append((n, ins, v, time.perf_counter() - t0))
        return [vals[id(o)] for o in self.outputs]

    def _exec(self, n: Node, ins, full, off):
        if n.kind in ("eltwise", "affine"):
            v = _elementwise_fast(n, ins, full, off)
            if v is not None:
                return v
        v = self._exec1(n, ins, full, off)
        for item in n.attrs.get("post", ()):
            K.apply_post_op(v, item)
        return v

    def _conv_blocked(self, n: Node, ins, full, off):
        return _conv_blocked_exec(n, ins, full, off)

    def _scratch(self, n: Node) -> np.ndarray:
        shape = n.attrs["scratch_shape"]
        off = n.attrs.get("scratch_offset")
        if self.arena is None or off is None:
            return _kept(n, "scratch", shape)
        return np.ndarray(shape, np.float32, buffer=self.arena, offset=off)

    def _exec1(self, n: Node, ins, full, off):
        kind, a = n.kind, n.attrs
        c = n.shape[1] if len(n.shape) > 1 else 0
        if "band_conv" in a:
            return _conv_pool_exec(n, ins, full, off, self._scratch(n))
        if kind == "conv" and (n.layout == "blocked" or n.inputs[0].layout == "blocked"):
            return self._conv_blocked(n, ins, full, off)
        if kind == "cat" and n.layout == "blocked":
            dst = _block_slice(full, off, c)
            o = 0
            for inp, v in zip(n.inputs, ins):
                if inp.alias is None or inp.alias[0] is not n:
                    dst[:, o // 16:o // 16 + v.shape[1]] = v
                o += inp.shape[1]
            return dst
        if kind == "conv":
            if len(ins) > 1:
                n.op.post_ops = [("sum", ins[it[1]]) if isinstance(it, tuple) and it[0] == "sum"
                                 else it for it in a["post_ops"]]
            if full is not None:
                n.op(ins[0], full, off)
                return full[:, off:off + c] if full.shape[1] != c else full
            return n.op(ins[0])
        if kind == "cat":
            dst = full[:, off:off + c] if full.shape[1] != c else full
            if a["dim"] == 1 and len(n.shape) >= 3:
                o = 0
                for inp, v in zip(n.inputs, ins):
                    w = inp.shape[1]
                    if inp.alias is None or inp.alias[0] is not n:
                        dst[:, o:o + w] = v
                    o += w
            else:
                np.concatenate(ins, axis=a["dim"], out=dst)
            return dst
        if kind == "eltwise" or kind == "affine":
            item = _elementwise_item(n)
            if full is not None:
                dst = full[:, off:off + c] if full.shape[1] != c else full
                np.copyto(dst, ins[0])
                return K.apply_post_op(dst, item)
            y = K.apply_post_op(np.array(ins[0], dtype=np.float32, copy=True), item)
        elif kind == "binary":
            fn = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide}[a["fn"]]
            if full is not None:
                dst = full[:, off:off + c] if full.shape[1] != c else full
                with np.errstate(all="ignore"):
                    fn(ins[0], ins[1], out=dst)
                return dst
            with np.errstate(all="ignore"):
                y = fn(ins[0], ins[1]).astype(np.float32, copy=False)
        elif kind in _POOLS and n.inputs[0].layout == "blocked":
            return _pool_blocked_exec(n, ins, full, off)
        elif kind == "max_pool":
            y = K.max_pool(ins[0], a["nd"], a["kernel_size"], a["stride"], a["padding"],
                           a["dilation"], a["ceil_mode"])
        elif kind == "avg_pool":
            y = K.avg_pool(ins[0], a["nd"], a["kernel_size"], a["stride"], a["padding"],
                           a["ceil_mode"], a["count_include_pad"], a["divisor_override"])
        elif kind == "adaptive_avg_pool":
            y = K.adaptive_avg_pool(ins[0], a["nd"], a["output_size"])
        elif kind == "interpolate":
            y = K.interpolate(np.ascontiguousarray(ins[0]), size=a["size"],
                              scale_factor=a["scale_factor"], mode=a["mode"],
                              align_corners=a["align_corners"])
        elif kind == "softmax":
            y = K.softmax(ins[0], a["dim"])
        elif kind == "linear":
            y = K.linear(ins[0], a["weight_t"], a["bias"])
        else:
            raise AssertionError(kind)
        if full is None:
            return y
        dst = full[:, off:off + c] if full.shape[1] != c else full
        dst[...] = y
        return dst


def _blocked_shape(shape) -> tuple:
    """(N, C, [D,] H, W) stored channel-blocked: (N, ceil(C/16), [D,] H, W, 16)."""
    return (shape[0], -(-shape[1] // 16)) + tuple(shape[2:]) + (16,)


def _block_slice(full: np.ndarray, off: int, c: int) -> np.ndarray:
    """The blocks of a blocked buffer that hold channels [off, off + c) (off a multiple of 16)."""
    cb = -(-c // 16)
    return full[:, off // 16:off // 16 + cb] if full.shape[1] != cb else full


def _kept(owner: Node, key: str, shape) -> np.ndarray:
    """A float32 buffer of `shape` that node `owner` keeps between calls: a fresh multi-MB
    array per call costs a page fault and a page clear per page."""
    bufs = owner.attrs.setdefault("_kept", {})
    b = bufs.get(key)
    if b is None or b.shape != tuple(shape):
        b = bufs[key] = _memory.empty(shape)
    return b


def _blocked_value(node: Node, v: np.ndarray, owner: Node, key: str) -> np.ndarray:
    """v in the blocked layout (reordered into a buffer `owner` keeps when node stores it
    planar)."""
    if node.layout == "blocked":
        return v
    return _layout.to_blocked(np.ascontiguousarray(v), "ncdhw" if v.ndim == 5 else "nchw",
                              out=_kept(owner, key, _blocked_shape(v.shape)))


def _conv_blocked_exec(n: Node, ins, full, off):
    a, c = n.attrs, n.shape[1]
    n.op.post_ops = [("sum", _blocked_value(n.inputs[it[1]], ins[it[1]], n, f"sum{it[1]}"))
                     if isinstance(it, tuple) and it[0] == "sum" else it for it in a["post_ops"]]
    x = ins[0] if n.inputs[0].layout != "blocked" and n.op.planar_blocked else \
        _blocked_value(n.inputs[0], ins[0], n, "input")
    if n.layout == "blocked":
        n.op.blocked(x, full, off)
        return _block_slice(full, off, c)
    # blocked input, planar output (a consumer without a blocked kernel): rows straight to
    # planar when the convolution can, else the blocked result goes to a buffer the node
    # keeps between calls and is reordered
    if x.ndim == len(n.shape) + 1 and full.flags.c_contiguous:
        y = n.op.blocked_to_planar(x, full, off)
        if y is not None:
            return full if full.shape[1] == c else full[:, off:off + c]
    tmp = _kept(n, "output", _blocked_shape(n.shape))
    n.op.blocked(x, tmp, 0)
    lay = "ncdhw" if len(n.shape) == 5 else "nchw"
    if full.shape[1] == c:   # straight into the node's buffer
        return _layout.from_blocked(tmp, c, lay, out=full)
    dst = full[:, off:off + c]
    dst[...] = _layout.from_blocked(tmp, c, lay)
    return dst


def _elementwise_item(n: Node):
    """The post-op item of an eltwise or affine node."""
    a = n.attrs
    return a["item"] if n.kind == "eltwise" else ("batch_norm", a["scale"], a["shift"])


def _elementwise_fast(n: Node, ins, full, off):
    """An affine or eltwise node with its post items as one parallel C++ pass over a planar
    tensor (a DenseNet's BN-ReLU on a 170-channel 256x256 concat: 31.6 ms in numpy's passes,
    about 3 in one pass), or None where numpy's path stays (other layouts and items)."""
    c = n.shape[1]
    dst = None if full is None else full[:, off:off + c] if full.shape[1] != c else full
    return K.post_ops_planar(ins[0], [_elementwise_item(n)] + list(n.attrs.get("post", ())),
                             dst)


def _conv_pool_exec(n: Node, ins, full, off, scratch):
    """A pool fused with the convolution it reads (pass_fuse_conv_pool): per band of
    `band_rows` output slices, the convolution into the scratch band, then the pool of the
    band into its slices of the pooled output."""
    a, c = n.attrs, n.shape[1]
    conv, band = a["band_conv"], a["band_rows"]
    k = _pool_window(n)
    x = _blocked_value(conv.inputs[0], ins[0], conv, "input")
    yb = _block_slice(full, off, c) if n.layout == "blocked" and full is not None else \
        _kept(n, "output", _blocked_shape(n.shape))
    rows = n.shape[2] * k[0]
    for r0 in range(0, rows, band):
        r1 = min(rows, r0 + band)
        t = scratch if r1 - r0 == band else np.ndarray(
            scratch.shape[:2] + (r1 - r0,) + scratch.shape[3:], np.float32, buffer=scratch)
        conv.op.blocked_rows(x, (r0, r1), t)
        dst = yb[:, :, r0 // k[0]:r1 // k[0]]
        if n.kind == "max_pool":
            K.max_pool_blocked(t, k, k, 0, 1, False, dst)
        else:
            K.avg_pool_blocked(t, k, k, 0, False, True, a["divisor_override"], dst)
    if n.layout == "blocked":
        return yb
    lay = "ncdhw" if len(n.shape) == 5 else "nchw"
    if full is None or full.shape[1] == c:
        return _layout.from_blocked(yb, c, lay, out=full)
    dst = full[:, off:off + c]
    dst[...] = _layout.from_blocked(yb, c, lay)
    return dst


def _pool_blocked_exec(n: Node, ins, full, off):
    """A pool of a blocked input: into its blocked buffer, or reordered to planar."""
    a, c = n.attrs, n.shape[1]
    if n.kind == "max_pool":
        run = lambda out: K.max_pool_blocked(ins[0], a["kernel_size"], a["stride"],  # noqa: E731
                                             a["padding"], a["dilation"], a["ceil_mode"], out)
    else:
        run = lambda out: K.avg_pool_blocked(ins[0], a["kernel_size"], a["stride"],  # noqa: E731
                                             a["padding"], a["ceil_mode"],
                                             a["count_include_pad"], a["divisor_override"], out)
    if n.layout == "blocked":
        return run(None if full is None else _block_slice(full, off, c))
    lay = "ncdhw" if len(n.shape) == 5 else "nchw"
    yb = run(_kept(n, "output", _blocked_shape(n.shape)))
    if full is None or full.shape[1] == c:
        return _layout.from_blocked(yb, c, lay, out=full)
    dst = full[:, off:off + c]
    dst[...] = _layout.from_blocked(yb, c, lay)
    return dst


class CompiledModel:
    """The result of :func:`medkern.compile`: call it on numpy float32 arrays."""

    def __init__(self, model, example, options):
        self._model = model
        self._options = options
        self._is_torch = not isinstance(model, Module)
        x = self._check(example, first=True)
        self._rank, self._channels = x.ndim, (x.shape[1] if x.ndim > 1 else None)
        self._plans: dict[tuple, _Plan] = {}
        self._plan(x)

    def _check(self, x, first=False) -> np.ndarray:
        if not isinstance(x, np.ndarray):
            if type(x).__module__.startswith("torch"):
                x = to_numpy(x)
            else:
                raise TypeError(f"compiled model: input must be a numpy.ndarray or a "
                                f"torch.Tensor, got {type(x).__name__}")
        if x.dtype != np.float32:
            raise TypeError(f"compiled model: input must have dtype float32, got "
                            f"{x.dtype.name} (convert explicitly, e.g. x.astype(np.float32))")
        if not first:
            if x.ndim != self._rank:
                raise ValueError(f"compiled model: input must be {self._rank}-D like the "
                                 f"example, got {x.ndim}-D with shape {x.shape}")
            if self._channels is not None and x.shape[1] != self._channels:
                raise ValueError(f"compiled model: input must have {self._channels} channels "
                                 f"(dimension 1) like the example, got {x.shape[1]} "
                                 f"(shape {x.shape})")
        return np.ascontiguousarray(x)

    def _plan(self, x) -> _Plan:
        key = x.shape
        plan = self._plans.get(key)
        if plan is not None:
            return plan
        if self._is_torch:
            b, out = _from_torch(self._model, x)
        else:
            b, out = _from_medkern(self._model, x)
        structure = out
        flat = out if isinstance(out, (list, tuple)) else [out]
        outputs = list(flat)
        for o in outputs:
            if not isinstance(o, Node):
                raise CompileError(f"medkern.compile: the model returns {type(o).__name__}; "
                                   "only tensors (or a tuple/list of tensors) are supported")
        nodes = b.nodes
        opt = self._options
        if opt["fold_batch_norm"]:
            nodes = pass_fold_batch_norm(nodes, outputs)
        if opt["fuse_eltwise"]:
            nodes = pass_fuse_eltwise(nodes, outputs)
        if opt["fuse_sum"]:
            nodes = pass_fuse_sum(nodes, outputs)
            if opt["fuse_eltwise"]:
                nodes = pass_fuse_eltwise(nodes, outputs)
        if opt["eliminate_concat"]:
            nodes = pass_eliminate_concat(nodes, outputs)
        plan = _Plan(nodes, outputs, structure, opt)
        if len(self._plans) >= 4:
            self._plans.pop(next(iter(self._plans)))
        self._plans[key] = plan
        return plan

    def _finish(self, plan, vals):
        # Graph outputs own fresh buffers; outputs that alias the input or a constant are
        # copied so the caller never receives (or later mutates) internal storage.
        res = []
        for o, v in zip(plan.outputs, vals):
            if _view_root(o).kind in ("input", "const"):
                v = np.array(v, copy=True)
            res.append(v)
        if isinstance(plan.structure, (list, tuple)):
            return type(plan.structure)(res)
        return res[0]

    def __call__(self, x) -> np.ndarray:
        x = self._check(x)
        plan = self._plan(x)
        return self._finish(plan, plan.run(x))

    @property
    def graph(self) -> list[Node]:
        """The optimized nodes of the most recently planned shape."""
        return next(reversed(self._plans.values())).nodes

    def memory(self, x=None) -> dict:
        """Activation memory of the plan for ``x``'s shape (default: the last one): arena bytes
        (the peak of planned activations), output bytes and the sum of all activations."""
        plan = next(reversed(self._plans.values())) if x is None else self._plan(self._check(x))
        m = dict(plan.memory)
        m["peak_bytes"] = m["arena_bytes"] + m["output_bytes"] if plan.arena is not None \
            else m["unplanned_bytes"]
        return m

    def profile(self, x, *, print_table: bool = True) -> list[dict]:
        """Run once with a timer around every node; returns (and prints) one row per node:
        name, kind, input/output shapes, milliseconds, GFLOP/s and share of the total."""
        x = self._check(x)
        plan = self._plan(x)
        plan.run(x)   # warm (first calls resolve fused post-op chains)
        timings: list = []
        plan.run(x, timings)
        total = sum(t for *_, t in timings) or 1e-12
        rows = []
        for n, ins, v, t in timings:
            if n.kind in ("input", "const"):
                continue
            kind = n.kind
            if n.kind == "conv":
                a = n.attrs
                kind = ("conv_transpose" if a["transpose"] else "conv") + f"{a['nd']}d"
                ops = [it if isinstance(it, str) else it[0] for it in a["post_ops"]]
                if ops:
                    kind += "+" + "+".join(ops)
                if n.layout == "blocked" or n.inputs[0].layout == "blocked":
                    kind += " [" + ("b" if n.inputs[0].layout == "blocked" else "p") + "->" + \
                        ("b" if n.layout == "blocked" else "p") + "]"
            elif n.kind == "eltwise":
                it = n.attrs["item"]
                kind = "eltwise:" + (it if isinstance(it, str) else it[0])
            elif "band_conv" in n.attrs:
                kind = f"conv{n.attrs['nd']}d+{n.kind} (bands of {n.attrs['band_rows']})"
            elif n.kind in _POOLS and n.inputs[0].layout == "blocked":
                kind += " [b->" + ("b" if n.layout == "blocked" else "p") + "]"
            elif n.kind == "cat" and n.alias is None:
                written = sum(1 for i in n.inputs if i.alias is not None and i.alias[0] is n)
                kind = f"cat({written}/{len(n.inputs)} in place)" + \
                    (" [b]" if n.layout == "blocked" else "")
            fl = _flops(n, ins)
            rows.append({"name": n.name, "kind": kind,
                         "inputs": [tuple(i.shape) for i in ins], "output": tuple(n.shape),
                         "ms": t * 1e3, "gflops": fl / t / 1e9 if fl and t > 0 else None,
                         "share": t / total})
        if print_table:
            print(format_profile(rows))
        return rows


def format_profile(rows) -> str:
    lines = [f"{'#':>3} {'node':<28} {'kind':<34} {'input -> output':<44} {'ms':>8} "
             f"{'GFLOP/s':>8} {'share':>6}"]
    for i, r in enumerate(rows):
        io = ",".join("x".join(map(str, s)) for s in r["inputs"]) + " -> " + \
            "x".join(map(str, r["output"]))
        gf = f"{r['gflops']:.1f}" if r["gflops"] else "-"
        lines.append(f"{i:>3} {r['name'][:28]:<28} {r['kind'][:34]:<34} {io[:44]:<44} "
                     f"{r['ms']:8.3f} {gf:>8} {100 * r['share']:5.1f}%")
    total = sum(r["ms"] for r in rows)
    by_kind: dict[str, float] = {}
    for r in rows:
        k = r["kind"].split("+")[0].split("(")[0].split(":")[0]
        by_kind[k] = by_kind.get(k, 0.0) + r["ms"]
    lines.append(f"total {total:.3f} ms; by kind: " + ", ".join(
        f"{k} {v / total * 100 if total else 0:.0f}%"
        for k, v in sorted(by_kind.items(), key=lambda kv: -kv[1])))
    return "\n".join(lines)


def compile(model, example_input, *, fold_batch_norm: bool = True, fuse_eltwise: bool = True,
            fuse_sum: bool = True, eliminate_concat: bool = True, blocked_layout: bool = True,
            plan_memory: bool = True, in_place: bool = True,
            fuse_pool: bool = True) -> CompiledModel:
    """Compile a medkern module or a ``torch.nn.Module`` for inference on CPU.

    Parameters
    ----------
    model : medkern.nn.Module or torch.nn.Module
        torch models are traced with ``torch.fx`` (torch is imported only then); batch norm
        uses running statistics, dropout is the identity (inference semantics), and the
        model's training flags are restored afterwards.
    example_input : ndarray or torch.Tensor, float32
        Fixes the rank and channel count; other batch / spatial sizes compile again on first
        use.
    fold_batch_norm, fuse_eltwise, fuse_sum, eliminate_concat, blocked_layout, plan_memory : bool
        Switch the individual passes (all on by default).
    in_place : bool
        With ``plan_memory``: an element-wise node that no convolution absorbed overwrites
        its input when nothing reads that input afterwards.
    fuse_pool : bool
        With ``blocked_layout``: a large convolution output read only by a pool whose windows
        tile it is computed and pooled band by band, never held whole.

    Returns
    -------
    CompiledModel
        ``compiled(x)`` returns numpy arrays; ``compiled.profile(x)`` a per-node table;
        ``compiled.memory()`` the planned activation memory.

    Examples
    --------
    >>> import numpy as np, medkern
    >>> net = medkern.models.UNet2d(depth=2, base_filters=4)
    >>> x = np.zeros((1, 1, 32, 32), np.float32)
    >>> fast = medkern.compile(net, x)
    >>> bool(np.allclose(fast(x), net(x), atol=1e-5))
    True
    """
    if not isinstance(model, Module):
        mod = type(model).__module__
        try:
            import torch
        except ImportError:
            torch = None
        if torch is None or not isinstance(model, torch.nn.Module):
            raise TypeError(f"medkern.compile: model must be a medkern.nn.Module or a "
                            f"torch.nn.Module, got {type(model).__name__} (from {mod})")
    options = dict(fold_batch_norm=fold_batch_norm, fuse_eltwise=fuse_eltwise,
                   fuse_sum=fuse_sum, eliminate_concat=eliminate_concat,
                   blocked_layout=blocked_layout, plan_memory=plan_memory, in_place=in_place,
                   fuse_pool=fuse_pool)
    return CompiledModel(model, example_input, options)
