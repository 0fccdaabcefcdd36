"""``medkern.bench dataflow``: concat, pooling, resampling and softmax against torch and a
plain memory copy, same process, same thread count.

Concat cases are U-Net skip connections (two equal halves), a 3-D U-Net skip and a Dense
U-Net block (8 growth-16 inputs), in NCHW and in the 16-channel blocked layout, plus a
blocked case whose channel counts are not multiples of 16 (lanes re-packed). Each is timed
against ``memcpy``: the same number of bytes copied between two preallocated buffers,
split into one contiguous share per thread (``_core.parallel_memcpy``), so "% of copy" is
memcpy_time / concat_time. torch.cat writes into a preallocated ``out`` like medkern.
Pooling / interpolate / softmax allocate their output on every call in both libraries.
torch runs with ``torch.set_num_threads`` equal to medkern's thread count. Times are
medians of interleaved rounds; speed ratios are torch_time / medkern_time (> 1: medkern
faster).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

import medkern
from medkern import _core, ops

from ._timing import measure_interleaved

CONCAT_CASES = [
    # name, list of NCHW/NCDHW input shapes
    ("unet2d 64+64 @512^2", [(1, 64, 512, 512)] * 2),
    ("unet3d 32+32 @64x128^2", [(1, 32, 64, 128, 128)] * 2),
    ("dense 8x16 @128^2", [(1, 16, 128, 128)] * 8),
    ("unet2d 32+32 @256^2", [(1, 32, 256, 256)] * 2),
]
REPACK_CASES = [("blocked 24+40 @256^2", [(1, 24, 256, 256), (1, 40, 256, 256)])]

OP_CASES = [
    ("max_pool2d 2x2 s2", (1, 64, 512, 512), lambda m, x: m.max_pool2d(x, 2, 2)),
    ("avg_pool2d 2x2 s2", (1, 64, 512, 512), lambda m, x: m.avg_pool2d(x, 2, 2)),
    ("max_pool3d 2x2x2 s2", (1, 32, 64, 128, 128), lambda m, x: m.max_pool3d(x, 2, 2)),
    ("max_pool2d 3x3 s2 p1", (1, 64, 256, 256), lambda m, x: m.max_pool2d(x, 3, 2, 1)),
    ("global avg pool", (1, 256, 64, 64), lambda m, x: m.adaptive_avg_pool2d(x, 1)),
    ("bilinear x2", (1, 64, 256, 256),
     lambda m, x: m.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)),
    ("bilinear x2 align_corners", (1, 64, 256, 256),
     lambda m, x: m.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)),
    ("nearest x2", (1, 64, 256, 256), lambda m, x: m.interpolate(x, scale_factor=2)),
    ("trilinear x2", (1, 32, 32, 64, 64),
     lambda m, x: m.interpolate(x, scale_factor=2, mode="trilinear", align_corners=False)),
    ("softmax dim=1", (1, 8, 512, 512), lambda m, x: m.softmax(x, 1)),
]


def _gbs(nbytes, seconds):
    return nbytes / seconds * 1e-9


def run_concat(min_time, rounds):
    import torch

    rng = np.random.default_rng(0)
    rows = []
    for name, shapes in CONCAT_CASES + REPACK_CASES:
        xs = [rng.standard_normal(s, dtype=np.float32) for s in shapes]
        chans = [s[1] for s in shapes]
        # destinations 64-byte aligned (medkern.empty), as torch and medkern allocate theirs
        out = medkern.empty((shapes[0][0], sum(chans), *shapes[0][2:]))
        tx = [torch.from_numpy(x) for x in xs]
        tout = torch.from_numpy(np.empty_like(out))
        bx = [medkern.to_blocked(x) for x in xs]
        bout = medkern.to_blocked(out)
        repack_only = (name, shapes) in REPACK_CASES
        fns = {}
        if not repack_only:
            nbytes = out.nbytes
            src = np.ones(nbytes // 4, np.float32)
            dst = medkern.empty(src.shape)
            fns["medkern nchw"] = lambda: ops.cat(xs, 1, out=out)
            fns["memcpy"] = lambda: _core.parallel_memcpy(dst, src)
            fns["torch.cat"] = lambda: torch.cat(tx, 1, out=tout)
        fns["medkern blocked"] = lambda: ops.cat_blocked(bx, chans, out=bout)
        bsrc = np.ones(bout.nbytes // 4, np.float32)
        bdst = medkern.empty(bsrc.shape)
        fns["memcpy blocked"] = lambda: _core.parallel_memcpy(bdst, bsrc)
        t = measure_interleaved(fns, min_time=min_time, rounds=rounds)
        rows.append((name, out.nbytes, bout.nbytes, t))
        del xs, tx, bx, out, tout, bout
    return rows


def run_ops(min_time, rounds):
    import torch
    import torch.nn.functional as F

    rng = np.random.default_rng(1)
    rows = []
    for name, shape, fn in OP_CASES:
        x = rng.standard_normal(shape, dtype=np.float32)
        tx = torch.from_numpy(x)
        ref = fn(F, tx).numpy()
        got = fn(ops, x)
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)  # same work in both
        t = measure_interleaved({"medkern": lambda: fn(ops, x), "torch": lambda: fn(F, tx)},
                                min_time=min_time, rounds=rounds)
        rows.append((name, shape, x.nbytes + ref.nbytes, t))
    return rows


def format_concat(rows):
    lines = ["| concat | MB out | nchw GB/s | % of copy | vs torch.cat | blocked GB/s | "
             "% of copy (blocked) |", "|---|---|---|---|---|---|---|"]
    for name, nb, bnb, t in rows:
        cells = [name, f"{nb / 2**20:.0f}"]
        if "medkern nchw" in t:
            cells += [f"{_gbs(2 * nb, t['medkern nchw']):.1f}",
                      f"{100 * t['memcpy'] / t['medkern nchw']:.0f}%",
                      f"{t['torch.cat'] / t['medkern nchw']:.2f}x"]
        else:
            cells += ["-", "-", "-"]
        cells += [f"{_gbs(2 * bnb, t['medkern blocked']):.1f}",
                  f"{100 * t['memcpy blocked'] / t['medkern blocked']:.0f}%"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def format_ops(rows):
    lines = ["| op | input | medkern ms | torch ms | speed vs torch | medkern GB/s |",
             "|---|---|---|---|---|---|"]
    for name, shape, nb, t in rows:
        lines.append(f"| {name} | {'x'.join(map(str, shape))} | {1e3 * t['medkern']:.2f} | "
                     f"{1e3 * t['torch']:.2f} | {t['torch'] / t['medkern']:.2f}x | "
                     f"{_gbs(nb, t['medkern']):.1f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m medkern.bench dataflow")
    p.add_argument("--quick", action="store_true", help="shorter timing")
    p.add_argument("--only", choices=["concat", "ops"], help="run one part")
    args = p.parse_args(argv)
    import torch

    from medkern._info import machine_line

    threads = medkern.get_num_threads()
    torch.set_num_threads(threads)
    info = medkern.info()
    print(f"# machine: {machine_line(info)}")
    print(f"# threads: {threads} (medkern and torch {torch.__version__})")
    min_time, rounds = (0.2, 5) if args.quick else (0.5, 9)
    if args.only in (None, "concat"):
        print(format_concat(run_concat(min_time, rounds)))
        print()
    if args.only in (None, "ops"):
        print(format_ops(run_ops(min_time, rounds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
