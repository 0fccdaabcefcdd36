"""Transposed convolution, depthwise convolution and fused post-op chains: medkern vs torch.

Each case runs medkern (weights packed once, excluded) and torch.nn.functional on the same
NCHW float32 arrays, same thread count, interleaved repetitions; prints the median time of
each and the ratio torch / medkern (> 1: medkern faster).

    python bench/conv_extras_bench.py [--reps 15] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F

from medkern import ops


def median_times(fns, reps):
    times = [[] for _ in fns]
    for f in fns:  # warm-up
        f()
    for _ in range(reps):
        for i, f in enumerate(fns):
            t0 = time.perf_counter()
            f()
            times[i].append(time.perf_counter() - t0)
    return [statistics.median(t) for t in times]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    r = np.random.default_rng(0)
    rows = []

    def case(name, ours, theirs, flops):
        t_ours, t_theirs = median_times([ours, theirs], a.reps)
        rows.append((name, t_ours * 1e3, t_theirs * 1e3, flops / t_ours / 1e9, t_theirs / t_ours))

    # U-Net up-convolutions (2x2 / 2x2x2, stride 2) and a general transposed convolution.
    for shape, oc, k, s, p, op in [((1, 128, 128, 128), 64, 2, 2, 0, 0),
                                   ((1, 256, 64, 64), 128, 2, 2, 0, 0),
                                   ((1, 64, 16, 32, 32), 32, 2, 2, 0, 0),
                                   ((1, 64, 64, 64), 32, 3, 2, 1, 1)]:
        n = len(shape) - 2
        x = r.standard_normal(shape, dtype=np.float32)
        w = r.standard_normal((shape[1], oc, *(k,) * n), dtype=np.float32)
        b = r.standard_normal(oc, dtype=np.float32)
        up = ops.PackedConvTranspose(w, b, stride=s, padding=p, output_padding=op)
        tx, tw, tb = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b)
        f = F.conv_transpose2d if n == 2 else F.conv_transpose3d
        flops = 2.0 * np.prod(shape) * oc * k ** n
        case(f"conv_transpose{n}d {shape}->{oc} k{k} s{s} ({up.algorithm_})",
             lambda: up(x, post_ops=["relu"]),
             lambda: torch.relu(f(tx, tw, tb, stride=s, padding=p, output_padding=op)).numpy(),
             flops)

    # Depthwise 3x3.
    for shape in [(1, 64, 112, 112), (1, 256, 56, 56), (8, 32, 64, 64)]:
        c = shape[1]
        x = r.standard_normal(shape, dtype=np.float32)
        w = r.standard_normal((c, 1, 3, 3), dtype=np.float32)
        conv = ops.PackedConv(w, padding=1, groups=c)
        tx, tw = torch.from_numpy(x), torch.from_numpy(w)
        case(f"depthwise 3x3 {shape} ({conv.algorithm_})", lambda: conv(x, post_ops=["relu6"]),
             lambda: F.relu6(F.conv2d(tx, tw, padding=1, groups=c)).numpy(),
             2.0 * np.prod(shape) * 9)

    # Residual block tail: conv + bias + sum + relu fused, against torch conv then add + relu.
    for shape, oc in [((1, 64, 128, 128), 64), ((1, 3, 256, 256), 16)]:
        x = r.standard_normal(shape, dtype=np.float32)
        w = r.standard_normal((oc, shape[1], 3, 3), dtype=np.float32)
        b = r.standard_normal(oc, dtype=np.float32)
        res = r.standard_normal((shape[0], oc, *shape[2:]), dtype=np.float32)
        conv = ops.PackedConv(w, b, padding=1)
        tx, tw, tb, tr = (torch.from_numpy(v) for v in (x, w, b, res))
        case(f"conv3x3+sum+gelu {shape}->{oc} ({conv.algorithm_})",
             lambda: conv(x, post_ops=[("sum", res), "gelu"]),
             lambda: F.gelu(F.conv2d(tx, tw, tb, padding=1) + tr).numpy(),
             2.0 * np.prod(shape) * oc * 9)

    print(f"threads={a.threads} reps={a.reps} (median ms; ratio = torch / medkern)")
    print(f"{'case':70s} {'medkern':>9s} {'torch':>9s} {'GFLOP/s':>8s} {'ratio':>6s}")
    for name, t1, t2, gf, ratio in rows:
        print(f"{name:70s} {t1:9.3f} {t2:9.3f} {gf:8.1f} {ratio:6.2f}")


if __name__ == "__main__":
    main()
