"""medkern: optimized CPU kernels for medical imaging and medical machine learning.

numpy arrays in, numpy arrays out. The native kernels live in ``medkern._core``; this package
adds argument conversion, documentation and composition.

Example
-------
>>> import numpy as np, medkern
>>> a = np.random.rand(256, 512).astype(np.float32)
>>> b = np.random.rand(512, 128).astype(np.float32)
>>> c = medkern.matmul(a, b)
>>> bool(np.allclose(c, a @ b, rtol=1e-4, atol=1e-4))
True
"""

from __future__ import annotations

from ._tbb import preload_newest as _preload_newest_tbb

_preload_newest_tbb()
from . import _core  # noqa: E402  (after the oneTBB choice above)
from . import ops
from . import nn
from . import models
from .nn.compile import compile
from ._info import info
from ._memory import empty
from ._matmul import matmul, matmul_bf16, matmul_u8s8, to_bf16, from_bf16
from ._runtime import (
    available_isas,
    get_isa,
    get_num_threads,
    set_max_isa,
    set_num_threads,
)

__version__ = _core.versions()["medkern"]

__all__ = [
    "info",
    "empty",
    "compile",
    "nn",
    "models",
    "ops",
    "matmul",
    "matmul_bf16",
    "matmul_u8s8",
    "to_bf16",
    "from_bf16",
    "available_isas",
    "get_isa",
    "get_num_threads",
    "set_max_isa",
    "set_num_threads",
    "__version__",
]

# Layout reorders are added by the layout bindings when present.
if hasattr(_core, "to_blocked"):
    from ._layout import to_blocked, from_blocked  # noqa: F401

    __all__ += ["to_blocked", "from_blocked"]
