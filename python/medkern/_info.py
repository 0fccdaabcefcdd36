"""``medkern.info()``: the machine, the active ISA, versions and the measured peak."""

from __future__ import annotations

import platform
from typing import Any

from . import _core


def _onednn_version() -> str | None:
    """oneDNN's version as installed beside this Python (the benchmark peer), read from its
    headers and package metadata without loading the library."""
    import re
    import sys
    from importlib import metadata
    from pathlib import Path

    header = Path(sys.prefix) / "include" / "oneapi" / "dnnl" / "dnnl_version.h"
    if not header.exists():
        return None
    text = header.read_text()
    parts = [re.search(rf"#define DNNL_VERSION_{k} (\d+)", text) for k in ("MAJOR", "MINOR", "PATCH")]
    if not all(parts):
        return None
    version = ".".join(m.group(1) for m in parts)
    try:
        version += f" (PyPI onednn-devel {metadata.version('onednn-devel')})"
    except metadata.PackageNotFoundError:
        pass
    return version


def info(measure_peak: bool = True) -> dict[str, Any]:
    """Describe this machine and medkern's configuration.

    Parameters
    ----------
    measure_peak : bool, default True
        Run (once per process and thread count, then cached) the register-only probes that
        measure peak GFLOP/s per dtype and the copy bandwidth; takes about a second.

    Returns
    -------
    dict with keys ``cpu``, ``flags``, ``isa``, ``isa_available``, ``max_isa``,
    ``num_threads``, ``logical_cpus``, ``versions``, ``caches`` and ``peak_gflops``
    (``{"1": {...}, "<n>": {...}}`` keyed by thread count, values ``f32``, ``bf16``, ``s8``
    (GOP/s), ``amx_bf16``, ``amx_s8``, ``copy_gbs``).

    Examples
    --------
    >>> import medkern
    >>> medkern.info(measure_peak=False)["isa"] in medkern.available_isas()
    True
    """
    import numpy

    versions = dict(_core.versions())
    versions["numpy"] = numpy.__version__
    versions["python"] = platform.python_version()
    versions["onednn"] = _onednn_version()
    out: dict[str, Any] = {
        "cpu": _core.cpu_model(),
        "flags": list(_core.cpu_flags()),
        "isa": _core.isa(),
        "isa_available": list(_core.isa_available()),
        "max_isa": _core.max_isa(),
        "num_threads": _core.num_threads(),
        "logical_cpus": _core.logical_cpus(),
        "versions": versions,
        "caches": list(_core.caches()),
        "peak_gflops": None,
    }
    if measure_peak:
        n = _core.num_threads()
        peaks = {"1": dict(_core.measure_peak(1))}
        if n > 1:
            peaks[str(n)] = dict(_core.measure_peak(n))
        out["peak_gflops"] = peaks
    return out


def machine_line(d: dict[str, Any] | None = None) -> str:
    """One line describing the machine and build, for benchmark reports."""
    d = d or info(measure_peak=False)
    v = d["versions"]
    caches = ", ".join(
        f"L{c['level']}{c['type'][0] if c['type'] != 'unified' else ''} {c['size_bytes'] // 1024} KiB"
        for c in d["caches"]
    )
    return (
        f"{d['cpu']}; {d['logical_cpus']} logical CPUs; isa {d['isa']} "
        f"(available {', '.join(d['isa_available'])}); caches {caches}; "
        f"{platform.system()} {platform.release()}; {v['compiler']}; medkern {v['medkern']}, "
        f"oneTBB {v['onetbb']}, oneDNN {v['onednn']}, numpy {v['numpy']}, "
        f"Python {v['python']}; threads {d['num_threads']}"
    )
