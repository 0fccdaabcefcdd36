"""Symbolic tracing of medkern modules: a Proxy flows through ``forward`` and every operation on
it is recorded as an event, while the concrete value is computed alongside (so shapes, and
shape-driven code such as ``x.shape[2:]``, resolve to numbers for the traced input)."""

from __future__ import annotations

import numpy as np


class Event:
    """One recorded operation: ``kind`` "module" (target a module, ``path`` its qualified name)
    or "function" (target a canonical op name); args / kwargs may hold Proxies."""

    __slots__ = ("kind", "target", "args", "kwargs", "value", "name", "path")

    def __init__(self, kind, target, args, kwargs, value, name, path=""):
        self.kind, self.target, self.args, self.kwargs = kind, target, args, kwargs
        self.value, self.name, self.path = value, name, path


class Tracer:
    current: "Tracer | None" = None

    def __init__(self, root):
        self.events: list[Event] = []
        self.paths = {id(m): name for name, m in root.named_modules()}
        self.counts: dict[str, int] = {}

    def name(self, base: str) -> str:
        base = base.replace(".", "_") or "op"
        n = self.counts.get(base, 0)
        self.counts[base] = n + 1
        return base if n == 0 else f"{base}_{n}"

    def record(self, kind, target, args, kwargs, value, path=""):
        label = path if kind == "module" else target
        ev = Event(kind, target, args, kwargs, value, self.name(label), path)
        self.events.append(ev)
        return Proxy(ev)


def unwrap(v):
    if isinstance(v, Proxy):
        return v.event.value
    if isinstance(v, (list, tuple)):
        return type(v)(unwrap(e) for e in v)
    if isinstance(v, dict):
        return {k: unwrap(e) for k, e in v.items()}
    return v


def has_proxy(v) -> bool:
    if isinstance(v, Proxy):
        return True
    if isinstance(v, (list, tuple)):
        return any(has_proxy(e) for e in v)
    if isinstance(v, dict):
        return any(has_proxy(e) for e in v.values())
    return False


def record_function(name: str, fn, args, kwargs):
    value = fn(*unwrap(args), **unwrap(kwargs))
    return Tracer.current.record("function", name, args, kwargs, value)


class Proxy:
    """Stands for a tensor during tracing; supports the operators modules use."""

    __slots__ = ("event",)

    def __init__(self, event: Event):
        self.event = event

    @property
    def shape(self):
        return self.event.value.shape

    @property
    def ndim(self):
        return self.event.value.ndim

    @property
    def dtype(self):
        return self.event.value.dtype

    def size(self, dim=None):
        s = self.event.value.shape
        return s if dim is None else s[dim]

    def dim(self):
        return self.event.value.ndim

    def _binary(self, name, other, fn, reverse=False):
        args = (other, self) if reverse else (self, other)
        return record_function(name, fn, args, {})

    def __add__(self, o):
        return self._binary("add", o, np.add)

    def __radd__(self, o):
        return self._binary("add", o, np.add, True)

    def __sub__(self, o):
        return self._binary("sub", o, np.subtract)

    def __rsub__(self, o):
        return self._binary("sub", o, np.subtract, True)

    def __mul__(self, o):
        return self._binary("mul", o, np.multiply)

    def __rmul__(self, o):
        return self._binary("mul", o, np.multiply, True)

    def __truediv__(self, o):
        return self._binary("div", o, np.divide)

    def __neg__(self):
        return record_function("mul", np.multiply, (self, -1.0), {})

    def reshape(self, *shape):
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return record_function("reshape", np.reshape, (self, tuple(shape)), {})

    view = reshape

    def flatten(self, start_dim=0, end_dim=-1):
        from .functional import _flatten
        return record_function("flatten", _flatten, (self, start_dim, end_dim), {})

    def __bool__(self):
        raise TypeError("medkern.compile: control flow on a tensor value cannot be traced")

    def __array__(self, *a, **k):
        raise TypeError("medkern.compile: a traced tensor was converted to a numpy array; "
                        "use medkern.nn.functional operations inside forward()")
