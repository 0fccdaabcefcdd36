"""Convolution benchmark: medkern against oneDNN and torch, one process, same threads.

Layer sets are the text files ``bench/shapes/conv_*.txt`` (one convolution per line:
``N C H W OC kernel stride pad name`` for 2-D, ``N C D H W OC kernel stride pad name`` for
3-D; cubic/square kernel, stride and padding).

Peers, all without bias or post-ops, weights packed outside the timed region for everyone:
- medkern (NCHW): ``medkern.ops.PackedConv`` called on NC[D]HW numpy arrays into a
  preallocated output, so its time includes the reorders to and from its channel-blocked
  layout; the comparison with torch uses this time;
- medkern blocked: ``PackedConv.execute_blocked`` on nC[D]hw16c arrays (input reordered
  before timing, as for oneDNN; first layers, ``planar_blocked_``, take the planar input
  they read in place, as oneDNN picks the plain layout for so few channels): the
  comparison with oneDNN uses this time;
- oneDNN: forward-inference convolution, algorithm ``auto``, on the layouts it chooses
  (blocked), input/weights reordered before timing;
- torch: ``torch.nn.functional.conv2d`` / ``conv3d`` on NC[D]HW tensors.
oneDNN's thread count is fixed at start-up to all cores, so medkern and torch are set to the
same count. Times are medians of interleaved rounds; ratios are peer_time / medkern_time
(> 1 means medkern is faster): peer_time / blocked_time for oneDNN, peer_time / NCHW_time
for torch; % peak (of the blocked time) is against the f32 FMA peak measured by
``medkern.info()`` at that thread count.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import medkern

from ._timing import measure_interleaved

SETS = ("unet2d", "unet3d_vnet", "resnet50", "mcnn")
_FILES = {"unet2d": "conv_unet2d.txt", "unet3d_vnet": "conv_3d.txt",
          "resnet50": "conv_resnet50.txt", "mcnn": "conv_mcnn.txt"}
# --quick: a few representative layers, at most a couple of seconds each.
_QUICK = {"unet2d": ["u64_1x512_enc1b", "u32_1x512_enc0b", "u32_1x512_enc0a", "u32_1x512_head"],
          "unet3d_vnet": ["unet3d_enc2b", "vnet_enc2"],
          "resnet50": ["l1_3x3", "l3_1x1_in"],
          "mcnn": ["s0_c0"]}
# Layers above this many GFLOP are timed with fewer rounds (their medians are still
# interleaved across peers).
_BIG_GFLOP = 40.0


@dataclass
class Layer:
    set: str
    name: str
    N: int
    C: int
    spatial: tuple
    OC: int
    k: int
    s: int
    p: int
    seconds: dict[str, float] = field(default_factory=dict)
    onednn_impl: str = ""
    medkern_algo: str = ""
    cpu_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def out(self) -> tuple:
        return tuple((x + 2 * self.p - self.k) // self.s + 1 for x in self.spatial)

    @property
    def flops(self) -> float:
        return 2.0 * self.N * self.OC * float(np.prod(self.out)) * self.C * self.k ** len(
            self.spatial)

    def shape_str(self) -> str:
        sp = "x".join(map(str, self.spatial))
        return (f"{self.N}x{self.C}x{sp} -> {self.OC}, k{self.k} s{self.s} p{self.p}")


def shapes_dir() -> Path:
    env = os.environ.get("MEDKERN_BENCH_SHAPES")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in here.parents:
        cand = parent / "bench" / "shapes"
        if (cand / "conv_unet2d.txt").exists():
            return cand
    raise FileNotFoundError("conv bench: bench/shapes/conv_*.txt not found (set "
                            "MEDKERN_BENCH_SHAPES to the folder)")


def load_set(name: str) -> list[Layer]:
    layers = []
    for line in (shapes_dir() / _FILES[name]).read_text().splitlines():
        line = line.split("#", 1)[0].split()
        if not line:
            continue
        nums, lname = [int(x) for x in line[:-1]], line[-1]
        if len(nums) == 8:
            N, C, H, W, OC, k, s, p = nums
            sp = (H, W)
        elif len(nums) == 9:
            N, C, D, H, W, OC, k, s, p = nums
            sp = (D, H, W)
        else:
            raise ValueError(f"conv bench: bad line in {_FILES[name]}: {' '.join(line)}")
        layers.append(Layer(name, lname, N, C, sp, OC, k, s, p))
    return layers


def _onednn():
    try:
        from . import _onednn

        _onednn.load()
        return _onednn
    except Exception as e:  # pragma: no cover - optional peer
        print(f"# oneDNN peer unavailable: {e}")
        return None


def _torch():
    try:
        import torch

        return torch
    except Exception as e:  # pragma: no cover - optional peer
        print(f"# torch peer unavailable: {e}")
        return None


def measure_cpu(fns, rounds: int, pause: float = 0.1) -> dict[str, float]:
    """Median process CPU seconds (all threads) per call, round-robin: on a machine shared
    with other jobs this counts the work each peer does rather than the time it waits for a
    core (threads that spin-wait count too, for every peer alike)."""
    import statistics
    import time

    samples = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            time.sleep(pause)
            c0 = time.process_time()
            fn()
            samples[name].append(time.process_time() - c0)
    return {name: statistics.median(v) for name, v in samples.items()}


def run_layer(layer: Layer, dnnl, torch, *, min_time: float, rounds: int,
              cpu_time: bool = False) -> None:
    rng = np.random.default_rng(0)
    nd = len(layer.spatial)
    x = rng.standard_normal((layer.N, layer.C, *layer.spatial), dtype=np.float32)
    w = (rng.standard_normal((layer.OC, layer.C) + (layer.k,) * nd, dtype=np.float32)
         / np.float32(np.sqrt(layer.C * layer.k ** nd)))
    # Outputs in memory as each library allocates its own: 64-byte aligned (medkern.empty;
    # oneDNN and torch align theirs), not numpy's 16-byte alignment of large arrays.
    out = medkern.empty((layer.N, layer.OC, *layer.out))
    conv = medkern.ops.PackedConv(w, None, stride=layer.s, padding=layer.p)
    layer.medkern_algo = conv.algorithm_
    # The blocked run's input: blocked, or planar for first layers that read it in place
    # (oneDNN's format `any` also picks the plain layout for so few input channels).
    xb = x if conv.planar_blocked_ else medkern.to_blocked(x)
    outb = medkern.empty((layer.N, (layer.OC + 15) // 16, *layer.out, 16))
    fns = {"medkern": lambda: conv(x, out=out),
           "medkern_blocked": lambda: conv.execute_blocked(xb, out=outb)}
    if layer.OC < 16 and conv.blocked_native_:
        # A few-class output (a head) is written planar, as compiled graphs write their heads,
        # not as a 16-lane block with 14 zero lanes; oneDNN writes its own choice too (NHWC:
        # 2 floats per pixel).
        fns["medkern_blocked"] = lambda: conv.execute_blocked_to_planar(xb, out=out)
        np.testing.assert_allclose(conv.execute_blocked_to_planar(xb), conv(x), rtol=1e-4,
                                   atol=1e-5 * np.sqrt(layer.C), err_msg=layer.name)
    mine = conv(x)
    tol = 1e-3 * np.sqrt(layer.C * layer.k ** nd) * float(np.abs(mine).max() + 1)
    np.testing.assert_allclose(medkern.from_blocked(conv.execute_blocked(xb), layer.OC), mine,
                               rtol=1e-4, atol=tol * 1e-2, err_msg=layer.name)
    if torch is not None:
        tf = torch.nn.functional.conv2d if nd == 2 else torch.nn.functional.conv3d
        tx, tw = torch.from_numpy(x), torch.from_numpy(w)
        with torch.no_grad():
            ref = tf(tx, tw, None, layer.s, layer.p).numpy()
        np.testing.assert_allclose(mine, ref, rtol=1e-3, atol=tol, err_msg=layer.name)

        def run_torch():
            with torch.no_grad():
                tf(tx, tw, None, layer.s, layer.p)

        fns["torch"] = run_torch
    if dnnl is not None:
        c = dnnl.Convolution(x.shape, w.shape, out.shape, [layer.s] * nd, [layer.p] * nd,
                             [layer.p] * nd)
        c.set_inputs(x, w)
        c.run()
        np.testing.assert_allclose(mine, c.result(), rtol=1e-3, atol=tol, err_msg=layer.name)
        layer.onednn_impl = c.impl
        fns["onednn"] = c.run
    gf = layer.flops * 1e-9
    if gf > _BIG_GFLOP:
        rounds, min_time = max(3, rounds // 2), 0.0
    layer.seconds = measure_interleaved(fns, min_time=min_time, rounds=rounds,
                                        warmup=1 if gf > _BIG_GFLOP else 2)
    if cpu_time:
        layer.cpu_seconds = measure_cpu(fns, rounds)


def geomean(values) -> float:
    v = [x for x in values if x > 0]
    return float(np.exp(np.mean(np.log(v)))) if v else float("nan")


def _blocked(r: Layer) -> float:
    """medkern's blocked time (runs saved before it existed: the NCHW time)."""
    return r.seconds.get("medkern_blocked", r.seconds["medkern"])


def ratio_of(r: Layer, peer: str) -> float:
    """peer time / medkern time: blocked for oneDNN (both on blocked layouts), NCHW
    (reorders included) for torch."""
    return r.seconds[peer] / (_blocked(r) if peer == "onednn" else r.seconds["medkern"])


def format_table(layers: list[Layer], peak: float) -> str:
    head = ["set", "layer", "shape", "algo", "medkern blocked GFLOP/s", "% peak",
            "medkern NCHW GFLOP/s", "oneDNN GFLOP/s", "torch GFLOP/s", "vs oneDNN (blocked)",
            "vs torch (NCHW)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in layers:
        g = {p: r.flops / s * 1e-9 for p, s in r.seconds.items()}
        gb = r.flops / _blocked(r) * 1e-9
        ratio = lambda p: f"{ratio_of(r, p):.2f}x" if p in r.seconds else "-"  # noqa: E731
        cells = [r.set, r.name, r.shape_str(), r.medkern_algo, f"{gb:.1f}",
                 f"{100 * gb / peak:.0f}%", f"{g['medkern']:.1f}",
                 f"{g['onednn']:.1f}" if "onednn" in g else "-",
                 f"{g['torch']:.1f}" if "torch" in g else "-", ratio("onednn"), ratio("torch")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summary(layers: list[Layer], peak: float) -> list[str]:
    out = []
    for s in dict.fromkeys(r.set for r in layers):
        rs = [r for r in layers if r.set == s]
        parts = []
        parts.append(f"medkern blocked {geomean([r.flops / _blocked(r) * 1e-9 / peak * 100 for r in rs]):.0f}% of peak")
        for p in ("onednn", "torch"):
            v = [ratio_of(r, p) for r in rs if p in r.seconds]
            if v:
                parts.append(f"{geomean(v):.2f}x vs {p}")
        out.append(f"# geomean {s} ({len(rs)} layers): " + ", ".join(parts))
    big3 = [r for r in layers if r.k == 3 and r.s == 1 and r.C >= 64 and r.OC >= 64
            and min(r.spatial[-2:]) >= 64]
    if big3:
        pk = [r.flops / _blocked(r) * 1e-9 / peak * 100 for r in big3]
        out.append(f"# 3x3 stride-1 layers with >= 64 in/out channels and spatial >= 64: "
                   f"{min(pk):.0f}-{max(pk):.0f}% of peak (geomean {geomean(pk):.0f}%, "
                   f"{len(pk)} layers)")
    return out


def measured_peak(threads: int, probes: int = 3) -> float:
    """The f32 FMA peak at `threads` threads: the best of this process's probe and `probes`
    fresh-process probes (``medkern.info`` measures once per process; on a shared machine a
    single probe can land in a busy moment and understate the peak)."""
    import subprocess
    import sys

    best = medkern.info()["peak_gflops"][str(threads)]["f32"]
    code = (f"import medkern; medkern.set_num_threads({threads}); "
            f"print(medkern.info()['peak_gflops'][str({threads})]['f32'])")
    for _ in range(probes):
        try:
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                 timeout=60, check=True).stdout
            best = max(best, float(out.strip().splitlines()[-1]))
        except Exception:  # pragma: no cover - a probe that fails leaves the in-process one
            pass
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m medkern.bench conv")
    ap.add_argument("--sets", default=",".join(SETS), help=f"comma list of {', '.join(SETS)}")
    ap.add_argument("--layers", default="", help="comma list of layer names (default: all)")
    ap.add_argument("--quick", action="store_true", help="a few layers, short timing (< 1 min)")
    ap.add_argument("--rounds", type=int, default=0)
    ap.add_argument("--json", type=Path, help="write results as JSON")
    ap.add_argument("--peak", type=float, default=0.0,
                    help="f32 GFLOP/s for %% peak, e.g. measured on a quiet machine "
                         "(default: probe now, best of 4)")
    ap.add_argument("--cpu-time", action="store_true",
                    help="also report GFLOP per CPU-second of each peer (%% of the per-core "
                         "peak): robust to other jobs sharing the cores")
    ap.add_argument("--report", type=Path,
                    help="print the table of a saved --json run (with --peak) and exit")
    args = ap.parse_args(argv)
    if args.report:
        saved = json.loads(args.report.read_text())
        peak = args.peak or saved["peak_f32"]
        layers = []
        for r in saved["layers"]:
            layer = Layer(r["set"], r["name"], r["N"], r["C"], tuple(r["spatial"]), r["OC"],
                          r["k"], r["s"], r["p"], r["seconds"], r["onednn_impl"], r["algo"])
            layers.append(layer)
        print(f"# {saved['machine']}; threads {saved['threads']}; f32 peak {peak:.0f} GFLOP/s")
        print(format_table(layers, peak))
        for line in summary(layers, peak):
            print(line)
        return 0
    from medkern._info import machine_line

    dnnl, torch = _onednn(), _torch()
    threads = os.cpu_count() or 1
    medkern.set_num_threads(threads)
    if torch is not None:
        torch.set_num_threads(threads)
    info = medkern.info()
    peak = args.peak or measured_peak(threads, probes=1 if args.quick else 3)
    print(f"# machine: {machine_line(info)}")
    how = "given" if args.peak else f"best of {2 if args.quick else 4} probes"
    print(f"# threads {threads} (all peers); f32 peak {peak:.0f} GFLOP/s ({how})"
          + (f"; oneDNN {dnnl.onednn_version()}" if dnnl else "")
          + (f"; torch {torch.__version__}" if torch else ""))
    sets = [s for s in args.sets.split(",") if s]
    for s in sets:
        if s not in _FILES:
            ap.error(f"unknown set {s!r} (choose from {', '.join(SETS)})")
    wanted = set(filter(None, args.layers.split(",")))
    layers: list[Layer] = []
    for s in sets:
        for layer in load_set(s):
            if args.quick and layer.name not in _QUICK[s]:
                continue
            if wanted and layer.name not in wanted:
                continue
            layers.append(layer)
    rounds = args.rounds or (3 if args.quick else 7)
    min_time = 0.1 if args.quick else 0.3
    for layer in layers:
        run_layer(layer, dnnl, torch, min_time=min_time, rounds=rounds, cpu_time=args.cpu_time)
        g = layer.flops / _blocked(layer) * 1e-9
        rat = "  ".join(f"{p} {ratio_of(layer, p):.2f}x"
                        for p in ("onednn", "torch") if p in layer.seconds)
        rat += f"  (NCHW/blocked time {layer.seconds['medkern'] / _blocked(layer):.2f})"
        print(f"# {layer.set:12s} {layer.name:20s} {g:7.1f} GFLOP/s {100 * g / peak:4.0f}%  {rat}"
              f"  [{layer.medkern_algo}; {layer.onednn_impl}]", flush=True)
        if layer.cpu_seconds:
            core = peak / threads
            print("#   per CPU-second: " + "  ".join(
                f"{p} {layer.flops / c * 1e-9:.1f} GFLOP/s ({100 * layer.flops / c * 1e-9 / core:.0f}%"
                f" of one core)" for p, c in layer.cpu_seconds.items()), flush=True)
    print(format_table(layers, peak))
    for line in summary(layers, peak):
        print(line)
    if args.json:
        args.json.write_text(json.dumps({"machine": machine_line(info), "threads": threads,
                                         "peak_f32": peak, "layers": [
            {"set": r.set, "name": r.name, "N": r.N, "C": r.C, "spatial": r.spatial, "OC": r.OC,
             "k": r.k, "s": r.s, "p": r.p, "algo": r.medkern_algo, "onednn_impl": r.onednn_impl,
             "seconds": r.seconds, "cpu_seconds": r.cpu_seconds} for r in layers]}, indent=2))
    return 0
