"""ISA cap and thread count."""

from __future__ import annotations

from . import _core


def set_max_isa(name: str) -> None:
    """Cap the instruction set medkern uses, to emulate an older CPU generation.

    Parameters
    ----------
    name : str
        One of ``"ref"``, ``"avx2"``, ``"avx512"``, ``"avx512_vnni"``, ``"avx512_bf16"``,
        ``"amx"``. ``avx2`` ~ Haswell/Broadwell, ``avx512`` ~ Skylake-SP, ``avx512_vnni`` ~
        Cascade Lake / Ice Lake, ``avx512_bf16`` ~ Cooper Lake / Zen 4, ``amx`` ~ Sapphire Rapids.

    Raises
    ------
    ValueError
        Unknown name.
    RuntimeError
        The cap changes after the first kernel call (set it at start-up, or set the
        ``MEDKERN_MAX_ISA`` environment variable before starting Python).
    """
    if not isinstance(name, str):
        raise TypeError(f"set_max_isa: name must be a str, got {type(name).__name__}")
    _core.set_max_isa(name)


def get_isa() -> str:
    """The ISA kernels use: the CPU's best level, capped by the user."""
    return _core.isa()


def available_isas() -> list[str]:
    """ISA levels this CPU supports, lowest first."""
    return list(_core.isa_available())


def set_num_threads(n: int) -> None:
    """Set the number of threads medkern's parallel ops use (a oneTBB task arena).

    Results are bitwise reproducible for a fixed thread count.
    """
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"set_num_threads: n must be an int, got {type(n).__name__}")
    _core.set_num_threads(n)


def get_num_threads() -> int:
    """Number of threads medkern's parallel ops use."""
    return _core.num_threads()
