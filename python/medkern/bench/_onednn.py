"""oneDNN as a benchmark peer, through its C API with ctypes.

The library comes from the ``onednn`` / ``onednn-devel`` PyPI packages (or any libdnnl.so.3 on
the loader path). Those wheels are built with the SYCL runtime, whose CPU device is the
OpenCL CPU runtime shipped beside them: its ICD file carries a build-time path, so we point
the ICD loader at the shipped library with ``OCL_ICD_FILENAMES`` when the user has not.
Memory is allocated by oneDNN (SYCL USM) and filled from numpy, so oneDNN runs on its own
buffers with the same values; copies are outside the timed region.
"""

from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path

import numpy as np

_DNNL_CPU = 1
_DT = {np.dtype(np.float32): 3, np.dtype(np.int32): 4, np.dtype(np.int8): 5,
       np.dtype(np.uint8): 6}
_DT_BF16 = 2
_TAG_AB = 3
_ARG_SRC, _ARG_DST, _ARG_WEIGHTS = 1, 17, 33
_QUERY_IMPL_INFO_STR = 8
_ALLOCATE = ctypes.c_void_p(2**64 - 1)


class _Version(ctypes.Structure):
    _fields_ = [("major", ctypes.c_int), ("minor", ctypes.c_int), ("patch", ctypes.c_int),
                ("hash", ctypes.c_char_p), ("cpu_runtime", ctypes.c_uint),
                ("gpu_runtime", ctypes.c_uint)]


class _ExecArg(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_int), ("memory", ctypes.c_void_p)]


_lib = None


def _candidates():
    for d in (Path(sys.prefix) / "lib", Path(sys.base_prefix) / "lib"):
        yield d / "libdnnl.so.3"
    yield Path("libdnnl.so.3")


def load() -> ctypes.CDLL:
    """Load libdnnl (once); raises OSError when oneDNN is not installed."""
    global _lib
    if _lib is not None:
        return _lib
    err = None
    for cand in _candidates():
        if cand.is_absolute() and not cand.exists():
            continue
        icd = cand.parent / "libintelocl.so"
        if icd.exists() and "OCL_ICD_FILENAMES" not in os.environ:
            os.environ["OCL_ICD_FILENAMES"] = str(icd)
        try:
            # The wheel's libdnnl has no RUNPATH to its siblings (compiler and SYCL runtimes):
            # load those first, from the same folder, so the loader finds them by soname.
            # The SYCL runtime opens its OpenCL adapter by soname: preloading it by path
            # makes that lookup find the loaded copy.
            for dep in ("libintlc.so.5", "libimf.so", "libsvml.so", "libirng.so",
                        "libOpenCL.so.1", "libumf.so.1", "libur_loader.so.0",
                        "libur_adapter_opencl.so.0", "libsycl.so.9"):
                if (cand.parent / dep).exists():
                    ctypes.CDLL(str(cand.parent / dep), mode=ctypes.RTLD_GLOBAL)
            _lib = ctypes.CDLL(str(cand), mode=ctypes.RTLD_GLOBAL)
            break
        except OSError as e:  # pragma: no cover - depends on the machine
            err = e
    if _lib is None:
        raise OSError(f"oneDNN (libdnnl.so.3) not found: {err}")
    _lib.dnnl_version.restype = ctypes.POINTER(_Version)
    return _lib


def onednn_version() -> str:
    v = load().dnnl_version().contents
    runtime = {1: "seq", 2: "omp", 4: "tbb", 8: "threadpool", 512: "sycl"}.get(v.cpu_runtime,
                                                                               str(v.cpu_runtime))
    return f"{v.major}.{v.minor}.{v.patch} (cpu runtime {runtime})"


def _check(status: int, what: str) -> None:
    if status != 0:
        raise RuntimeError(f"oneDNN {what} failed with status {status}")


class _Engine:
    _instance = None

    def __init__(self):
        lib = load()
        self.engine = ctypes.c_void_p()
        _check(lib.dnnl_engine_create(ctypes.byref(self.engine), _DNNL_CPU, ctypes.c_size_t(0)),
               "engine_create")
        self.stream = ctypes.c_void_p()
        _check(lib.dnnl_stream_create(ctypes.byref(self.stream), self.engine, ctypes.c_uint(1)),
               "stream_create")

    @classmethod
    def get(cls) -> "_Engine":
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance


def _md(shape, dt: int):
    lib = load()
    md = ctypes.c_void_p()
    dims = (ctypes.c_int64 * 12)(*shape)
    _check(lib.dnnl_memory_desc_create_with_tag(ctypes.byref(md), len(shape), dims, dt, _TAG_AB),
           "memory_desc_create")
    return md


class _Memory:
    def __init__(self, md, engine, nbytes: int):
        lib = load()
        self.mem = ctypes.c_void_p()
        _check(lib.dnnl_memory_create(ctypes.byref(self.mem), md, engine, _ALLOCATE),
               "memory_create")
        ptr = ctypes.c_void_p()
        _check(lib.dnnl_memory_get_data_handle(self.mem, ctypes.byref(ptr)), "get_data_handle")
        self.ptr, self.nbytes = ptr.value, nbytes

    def write(self, arr: np.ndarray) -> None:
        arr = np.ascontiguousarray(arr)
        ctypes.memmove(self.ptr, arr.ctypes.data, arr.nbytes)

    def read(self, shape, dtype) -> np.ndarray:
        out = np.empty(shape, dtype)
        ctypes.memmove(out.ctypes.data, self.ptr, out.nbytes)
        return out


class Matmul:
    """oneDNN matmul primitive ``dst = src @ weights`` on plain row-major (``ab``) matrices.

    ``dtypes`` is (src, weights, dst), e.g. ("f32", "f32", "f32"), ("bf16", "bf16", "f32"),
    ("u8", "s8", "s32"). bf16 operands are given as uint16 bit patterns.
    """

    _names = {"f32": 3, "bf16": _DT_BF16, "s32": 4, "s8": 5, "u8": 6}
    _sizes = {"f32": 4, "bf16": 2, "s32": 4, "s8": 1, "u8": 1}

    def __init__(self, M: int, K: int, N: int, dtypes=("f32", "f32", "f32")):
        lib = load()
        eng = _Engine.get()
        self._eng = eng
        s, w, d = dtypes
        self.shape = (M, K, N)
        mds = [_md((M, K), self._names[s]), _md((K, N), self._names[w]), _md((M, N), self._names[d])]
        self._pd = ctypes.c_void_p()
        _check(lib.dnnl_matmul_primitive_desc_create(ctypes.byref(self._pd), eng.engine, mds[0],
                                                     mds[1], None, mds[2], None),
               "matmul_primitive_desc_create")
        impl = ctypes.c_char_p()
        lib.dnnl_primitive_desc_query(self._pd, _QUERY_IMPL_INFO_STR, 0, ctypes.byref(impl))
        self.impl = (impl.value or b"?").decode()
        self._prim = ctypes.c_void_p()
        _check(lib.dnnl_primitive_create(ctypes.byref(self._prim), self._pd), "primitive_create")
        self.src = _Memory(mds[0], eng.engine, M * K * self._sizes[s])
        self.wei = _Memory(mds[1], eng.engine, K * N * self._sizes[w])
        self.dst = _Memory(mds[2], eng.engine, M * N * self._sizes[d])
        self._args = (_ExecArg * 3)(_ExecArg(_ARG_SRC, self.src.mem),
                                    _ExecArg(_ARG_WEIGHTS, self.wei.mem),
                                    _ExecArg(_ARG_DST, self.dst.mem))
        self._dst_dtype = {"f32": np.float32, "s32": np.int32}[d]

    def set_inputs(self, a: np.ndarray, b: np.ndarray) -> None:
        self.src.write(a)
        self.wei.write(b)

    def run(self) -> None:
        lib = load()
        _check(lib.dnnl_primitive_execute(self._prim, self._eng.stream, 3, self._args), "execute")
        _check(lib.dnnl_stream_wait(self._eng.stream), "stream_wait")

    def result(self) -> np.ndarray:
        M, _, N = self.shape
        return self.dst.read((M, N), self._dst_dtype)


_PROP_FORWARD_INFERENCE = 96
_CONV_AUTO = 3
_TAG_ANY = 1
_TAG_PLAIN = {4: 5, 5: 6}  # abcd (nchw / oihw), abcde (ncdhw / oidhw)
_QUERY_SRC_MD, _QUERY_WEIGHTS_MD, _QUERY_DST_MD = 129, 131, 133


def _md_tag(shape, tag: int):
    lib = load()
    md = ctypes.c_void_p()
    dims = (ctypes.c_int64 * 12)(*shape)
    _check(lib.dnnl_memory_desc_create_with_tag(ctypes.byref(md), len(shape), dims, 3, tag),
           "memory_desc_create")
    return md


def _reorder(src: _Memory, src_md, dst: _Memory, dst_md) -> None:
    lib = load()
    eng = _Engine.get()
    pd, prim = ctypes.c_void_p(), ctypes.c_void_p()
    _check(lib.dnnl_reorder_primitive_desc_create(ctypes.byref(pd), src_md, eng.engine, dst_md,
                                                  eng.engine, None), "reorder_primitive_desc")
    _check(lib.dnnl_primitive_create(ctypes.byref(prim), pd), "reorder primitive_create")
    args = (_ExecArg * 2)(_ExecArg(_ARG_SRC, src.mem), _ExecArg(_ARG_DST, dst.mem))
    _check(lib.dnnl_primitive_execute(prim, eng.stream, 2, args), "reorder execute")
    _check(lib.dnnl_stream_wait(eng.stream), "stream_wait")
    lib.dnnl_primitive_destroy(prim)
    lib.dnnl_primitive_desc_destroy(pd)


class Convolution:
    """oneDNN f32 forward-inference convolution, algorithm ``auto``, no bias, on the layouts
    oneDNN chooses (format tag ``any``: nChw16c-style blocked on AVX-512).

    ``set_inputs`` reorders plain NC[D]HW input and OI[D]HW weights into those layouts once
    (outside ``run``, as weight packing is for medkern); ``run`` executes the convolution
    only; ``result`` reorders the output back to plain NC[D]HW.
    """

    def __init__(self, src_shape, wei_shape, dst_shape, stride, pad_before, pad_after,
                 dilation=None):
        lib = load()
        lib.dnnl_primitive_desc_query_md.restype = ctypes.c_void_p
        lib.dnnl_memory_desc_get_size.restype = ctypes.c_size_t
        eng = _Engine.get()
        self._eng = eng
        nd = len(src_shape)
        ns = nd - 2
        self.dst_shape = tuple(dst_shape)
        any_mds = [_md_tag(s, _TAG_ANY) for s in (src_shape, wei_shape, dst_shape)]
        self.user_mds = [_md_tag(s, _TAG_PLAIN[nd]) for s in (src_shape, wei_shape, dst_shape)]
        dims = lambda v: (ctypes.c_int64 * 12)(*v)  # noqa: E731
        dil = [d - 1 for d in (dilation or [1] * ns)]  # oneDNN counts dilation from 0
        self._pd = ctypes.c_void_p()
        _check(lib.dnnl_convolution_forward_primitive_desc_create(
            ctypes.byref(self._pd), eng.engine, _PROP_FORWARD_INFERENCE, _CONV_AUTO,
            any_mds[0], any_mds[1], None, any_mds[2], dims(stride), dims(dil),
            dims(pad_before), dims(pad_after), None), "convolution_primitive_desc_create")
        impl = ctypes.c_char_p()
        lib.dnnl_primitive_desc_query(self._pd, _QUERY_IMPL_INFO_STR, 0, ctypes.byref(impl))
        self.impl = (impl.value or b"?").decode()
        self._prim = ctypes.c_void_p()
        _check(lib.dnnl_primitive_create(ctypes.byref(self._prim), self._pd), "primitive_create")
        self.mds = [ctypes.c_void_p(lib.dnnl_primitive_desc_query_md(self._pd, q, 0))
                    for q in (_QUERY_SRC_MD, _QUERY_WEIGHTS_MD, _QUERY_DST_MD)]
        self.mem = [_Memory(md, eng.engine, lib.dnnl_memory_desc_get_size(md)) for md in self.mds]
        self.user = [_Memory(md, eng.engine, lib.dnnl_memory_desc_get_size(md))
                     for md in self.user_mds]
        self._args = (_ExecArg * 3)(_ExecArg(_ARG_SRC, self.mem[0].mem),
                                    _ExecArg(_ARG_WEIGHTS, self.mem[1].mem),
                                    _ExecArg(_ARG_DST, self.mem[2].mem))

    def set_inputs(self, x: np.ndarray, w: np.ndarray) -> None:
        for i, arr in ((0, x), (1, w)):
            self.user[i].write(np.ascontiguousarray(arr, np.float32))
            _reorder(self.user[i], self.user_mds[i], self.mem[i], self.mds[i])

    def run(self) -> None:
        lib = load()
        _check(lib.dnnl_primitive_execute(self._prim, self._eng.stream, 3, self._args), "execute")
        _check(lib.dnnl_stream_wait(self._eng.stream), "stream_wait")

    def result(self) -> np.ndarray:
        _reorder(self.mem[2], self.mds[2], self.user[2], self.user_mds[2])
        return self.user[2].read(self.dst_shape, np.float32)
