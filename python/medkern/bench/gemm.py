"""GEMM benchmark: medkern.matmul against oneDNN matmul and numpy (its BLAS), one process.

All peers get the same inputs and the same thread count (medkern's arena, oneDNN's runtime
and the BLAS thread pool are all sized to the machine's cores unless told otherwise).
medkern.matmul packs B on every call and so does this benchmark: oneDNN and numpy also take
plain row-major B per call. Times are medians of interleaved rounds; ratios are
peer_time / medkern_time (> 1 means medkern is faster).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

import medkern

from ._timing import measure_interleaved

SQUARE = [256, 512, 1024, 2048]
# (M, K, N): convolution-like (pixels x Cin*k*k x Cout) and attention-like (seq x head_dim x seq).
SHAPES = [
    (3136, 576, 64),    # 3x3 conv, 56x56 image, 64 -> 64 channels, as GEMM
    (784, 1152, 128),   # 3x3 conv, 28x28, 128 -> 128
    (4096, 288, 32),    # 3x3 conv, 64x64, 32 -> 32 (U-Net level 1)
    (384, 64, 384),     # attention scores, 384 tokens, head dim 64
    (384, 384, 64),     # attention values
]


@dataclass
class Row:
    kind: str
    M: int
    K: int
    N: int
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def flops(self) -> float:
        return 2.0 * self.M * self.K * self.N


def _onednn():
    try:
        from . import _onednn

        _onednn.load()
        return _onednn
    except Exception as e:  # pragma: no cover - optional peer
        print(f"# oneDNN peer unavailable: {e}")
        return None


def run(shapes=None, dtypes=("f32",), min_time: float = 0.3, rounds: int = 7) -> list[Row]:
    """Run the GEMM benchmark; returns one Row per (dtype, shape) with median seconds per peer."""
    dnnl = _onednn()
    shapes = shapes or [(n, n, n) for n in SQUARE] + SHAPES
    rng = np.random.default_rng(0)
    rows: list[Row] = []
    for dt in dtypes:
        for M, K, N in shapes:
            row = Row(dt, M, K, N)
            fns = {}
            if dt == "f32":
                a = rng.standard_normal((M, K), dtype=np.float32)
                b = rng.standard_normal((K, N), dtype=np.float32)
                out = np.empty((M, N), np.float32)
                fns["medkern"] = lambda a=a, b=b, out=out: medkern.matmul(a, b, out=out)
                fns["numpy"] = lambda a=a, b=b, out=out: np.matmul(a, b, out=out)
                ref = a.astype(np.float64) @ b
                np.testing.assert_allclose(medkern.matmul(a, b), ref, rtol=1e-3, atol=1e-3 * np.sqrt(K))
                dn_types = ("f32", "f32", "f32")
                dn_in = (a, b)
            elif dt == "bf16":
                a = medkern.to_bf16(rng.standard_normal((M, K), dtype=np.float32))
                b = medkern.to_bf16(rng.standard_normal((K, N), dtype=np.float32))
                out = np.empty((M, N), np.float32)
                fns["medkern"] = lambda a=a, b=b, out=out: medkern.matmul_bf16(a, b, out=out)
                dn_types = ("bf16", "bf16", "f32")
                dn_in = (a, b)
            elif dt == "u8s8":
                a = rng.integers(0, 256, (M, K), dtype=np.uint8)
                b = rng.integers(-128, 128, (K, N), dtype=np.int8)
                out = np.empty((M, N), np.int32)
                fns["medkern"] = lambda a=a, b=b, out=out: medkern.matmul_u8s8(a, b, out=out)
                dn_types = ("u8", "s8", "s32")
                dn_in = (a, b)
            else:
                raise ValueError(f"gemm bench: unknown dtype {dt!r} (f32, bf16, u8s8)")
            if dnnl is not None:
                mm = dnnl.Matmul(M, K, N, dn_types)
                mm.set_inputs(*dn_in)
                mm.run()
                mine = fns["medkern"]()
                theirs = mm.result()
                if dt == "u8s8":
                    assert np.array_equal(mine, theirs), "u8s8 results differ from oneDNN"
                else:
                    np.testing.assert_allclose(mine, theirs, rtol=1e-2, atol=1e-2 * np.sqrt(K))
                fns["onednn"] = mm.run
            row.seconds = measure_interleaved(fns, min_time=min_time, rounds=rounds)
            rows.append(row)
    return rows


def format_table(rows: list[Row]) -> str:
    peers = [p for p in ("onednn", "numpy") if any(p in r.seconds for r in rows)]
    head = ["dtype", "M", "K", "N", "medkern GFLOP/s"] + [f"{p} GFLOP/s" for p in peers] + \
           [f"vs {p}" for p in peers]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        g = {p: r.flops / s * 1e-9 for p, s in r.seconds.items()}
        cells = [r.kind, str(r.M), str(r.K), str(r.N), f"{g['medkern']:.1f}"]
        cells += [f"{g[p]:.1f}" if p in g else "-" for p in peers]
        cells += [f"{r.seconds[p] / r.seconds['medkern']:.2f}x" if p in r.seconds else "-"
                  for p in peers]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def geomean(values) -> float:
    v = [x for x in values if x > 0]
    return float(np.exp(np.mean(np.log(v)))) if v else float("nan")
