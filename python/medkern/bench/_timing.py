"""Timing helpers: warm-up, interleaved repetitions, medians."""

from __future__ import annotations

import statistics
import time
from typing import Callable


def measure_interleaved(fns: dict[str, Callable[[], object]], *, min_time: float = 0.2,
                        rounds: int = 7, warmup: int = 2, pause: float = 0.1) -> dict[str, float]:
    """Median seconds per call of each function, measured round-robin.

    Every round times each function once (a batch of calls sized so that one batch lasts about
    ``min_time / rounds``), so slow drifts of a shared machine hit all peers alike. Returns the
    median over rounds of the per-call time. ``pause`` seconds of sleep precede every batch:
    thread pools that spin after their work (OpenBLAS, OpenMP) would otherwise steal cores
    from whichever peer runs next.
    """
    calls: dict[str, int] = {}
    for name, fn in fns.items():
        for _ in range(warmup):
            fn()
        t0 = time.perf_counter()
        fn()
        one = max(time.perf_counter() - t0, 1e-7)
        calls[name] = max(1, int(min_time / rounds / one))
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            n = calls[name]
            time.sleep(pause)
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            samples[name].append((time.perf_counter() - t0) / n)
    return {name: statistics.median(v) for name, v in samples.items()}
