"""Benchmarks: medkern against its peers, side by side in one process.

Run ``python -m medkern.bench --help``. Peers are optional: a peer that is not installed is
reported as absent, never silently replaced.
"""
