"""Pick one oneTBB runtime for the whole process.

The extension links ``libtbb.so.12``. Python environments often carry a newer build of the same
library (PyPI ``tbb``, a dependency of scikit-learn-intelex / oneDAL) next to an older system
one. Whichever loads first serves every later user of the soname, so importing medkern before
oneDAL would bind the old runtime and oneDAL then fails on a missing symbol. Loading the newest
``libtbb.so.12.*`` found first (the .12 ABI is backward compatible) lets both share it.
"""
from __future__ import annotations

import ctypes
import glob
import os
import re
import sys
import sysconfig


def _minor(path: str) -> int:
    m = re.search(r"libtbb\.so\.12\.(\d+)$", path)
    return int(m.group(1)) if m else -1


def preload_newest() -> str | None:
    """Load the environment's libtbb.so.12.N globally when it is newer than the system's."""
    if os.environ.get("MEDKERN_NO_TBB_PRELOAD"):
        return None
    env_libs = glob.glob(os.path.join(sys.prefix, "lib", "libtbb.so.12.*"))
    if not env_libs:
        return None
    best = max(env_libs, key=_minor)
    multiarch = sysconfig.get_config_var("MULTIARCH") or ""
    dirs = [os.path.join(r, multiarch) for r in ("/usr/lib", "/usr/local/lib") if multiarch]
    dirs += ["/usr/lib64", "/usr/lib", "/usr/local/lib"]
    system = [p for d in dirs for p in glob.glob(os.path.join(d, "libtbb.so.12.*"))]
    if system and max(map(_minor, system)) >= _minor(best):
        return None
    try:
        ctypes.CDLL(best, mode=ctypes.RTLD_GLOBAL)
    except OSError:
        return None
    return best
