"""``medkern.bench models``: end-to-end model inference against PyTorch eager, TorchScript
(frozen) and OpenVINO, same process, same thread count.

Models (issue 4): UNet2d 1x1x512x512 (base 32, depth 4), UNet3d 1x1x64x128x128 (base 16,
depth 3), DenseUNet 1x1x256x256 (growth 12, blocks 3-3-3-3), ResNet-50 1x3x224x224, MCNN
1x3x1024x1280 (7 scales). For each: batch-1 latency and batch-8 throughput (images/s), and
peak activation memory.

Every peer runs the same torch model with the same random weights and non-trivial batch-norm
statistics: medkern through ``medkern.compile(torch_model)`` (torch.fx import), PyTorch eager
under ``inference_mode``, TorchScript ``torch.jit.freeze(torch.jit.trace(...))``, OpenVINO
``openvino.convert_model`` compiled for CPU in FP32 with ``INFERENCE_NUM_THREADS`` set. The
torch definitions are the reference models of the test suite (tests/python/nn_reference.py).

Peak activation memory: medkern's is the planned arena plus the output; PyTorch eager's is
measured by replaying the model's torch.fx graph and tracking every tensor storage the run
creates until its last use (parameters and the input excluded; in-place ops and views add
nothing), which is what eager execution holds alive.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

FULL = {
    "unet2d": ("UNet", dict(nd=2, in_channels=1, num_classes=2, depth=4, base_filters=32),
               (1, 1, 512, 512)),
    "unet3d": ("UNet", dict(nd=3, in_channels=1, num_classes=2, depth=3, base_filters=16),
               (1, 1, 64, 128, 128)),
    "denseunet": ("DenseUNet", dict(nd=2, in_channels=1, num_classes=2, growth_rate=12,
                                    block_sizes=(3, 3, 3, 3), init_filters=24),
                  (1, 1, 256, 256)),
    "resnet50": ("resnet", dict(depth=50), (1, 3, 224, 224)),
    "mcnn": ("MCNN", dict(in_channels=3, num_classes=10, scales=7, channels=(16, 32, 64)),
             (1, 3, 1024, 1280)),
}
QUICK = {   # small inputs: every peer's conversion plus two rounds stays under two minutes
    "unet2d": ("UNet", dict(nd=2, in_channels=1, num_classes=2, depth=3, base_filters=16),
               (1, 1, 96, 96)),
    "unet3d": ("UNet", dict(nd=3, in_channels=1, num_classes=2, depth=2, base_filters=8),
               (1, 1, 16, 32, 32)),
    "denseunet": ("DenseUNet", dict(nd=2, in_channels=1, num_classes=2, growth_rate=8,
                                    block_sizes=(2, 2, 2), init_filters=16), (1, 1, 64, 64)),
    "resnet50": ("resnet", dict(depth=50), (1, 3, 64, 64)),
    "mcnn": ("MCNN", dict(in_channels=3, num_classes=10, scales=5, channels=(8, 16, 32)),
             (1, 3, 128, 160)),
}
PEERS = ("medkern", "torch", "torchscript", "openvino")


def _reference_module():
    path = Path(__file__).resolve().parents[3] / "tests" / "python" / "nn_reference.py"
    if not path.exists():
        raise SystemExit(f"medkern.bench models: needs the source tree's {path.name} "
                         "(the torch reference models)")
    spec = importlib.util.spec_from_file_location("nn_reference", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def build(name, cfg):
    ref = _reference_module()
    import torch
    torch.manual_seed(0)
    cls, kw, shape = cfg[name]
    model = getattr(ref, cls)(**kw) if cls != "resnet" else ref.resnet(kw["depth"])
    return ref.randomize_bn(model), shape


def torch_peak_activation_bytes(model, x) -> int:
    """Bytes of tensor storages alive at once when eager torch runs ``model(x)``."""
    import torch
    import torch.fx
    gm = torch.fx.symbolic_trace(model)
    last_use = {}
    order = list(gm.graph.nodes)
    for i, n in enumerate(order):
        for a in n.all_input_nodes:
            last_use[a.name] = i
    held: dict[int, int] = {}        # storage pointer -> bytes
    owners: dict[int, set] = {}      # storage pointer -> live node names referencing it
    known = {p.untyped_storage().data_ptr() for p in model.parameters()}
    known |= {b.untyped_storage().data_ptr() for b in model.buffers()}
    peak = 0
    node_ptr: dict[str, int] = {}

    class Tracker(torch.fx.Interpreter):
        def run_node(self, n):
            nonlocal peak
            r = super().run_node(n)
            i = order.index(n)
            if isinstance(r, torch.Tensor) and n.op != "placeholder":
                p = r.untyped_storage().data_ptr()
                if p not in known:
                    if p not in held:
                        held[p] = r.untyped_storage().nbytes()
                    owners.setdefault(p, set()).add(n.name)
                    node_ptr[n.name] = p
            peak = max(peak, sum(held.values()))
            for a in n.all_input_nodes:   # free what this node used for the last time
                if last_use.get(a.name) == i and a.name in node_ptr:
                    p = node_ptr.pop(a.name)
                    owners[p].discard(a.name)
                    if not owners[p]:
                        held.pop(p, None)
            return r
    with torch.inference_mode():
        Tracker(gm).run(torch.from_numpy(x))
    return peak


def _peers(model, x, threads, which):
    import torch
    xt = torch.from_numpy(x)
    fns, outs = {}, {}
    if "medkern" in which:
        import medkern
        compiled = medkern.compile(model, x)
        fns["medkern"] = lambda: compiled(x)
        outs["medkern"] = compiled(x)
        mem = compiled.memory()["peak_bytes"]
    else:
        compiled, mem = None, None

    def eager():
        with torch.inference_mode():
            return model(xt)
    fns["torch"] = eager
    outs["torch"] = eager().numpy()
    if "torchscript" in which:
        with torch.no_grad():
            ts = torch.jit.freeze(torch.jit.trace(model, xt).eval())

        def script():
            with torch.no_grad():
                return ts(xt)
        script()
        fns["torchscript"] = script
        outs["torchscript"] = script().numpy()
    if "openvino" in which:
        try:
            import openvino as ov
            ovm = ov.convert_model(model, example_input=xt)
            core = ov.Core()
            cm = core.compile_model(ovm, "CPU", {"INFERENCE_NUM_THREADS": threads,
                                                 "INFERENCE_PRECISION_HINT": "f32",
                                                 "PERFORMANCE_HINT": "LATENCY"})
            req = cm.create_infer_request()

            def ov_run():
                return req.infer({0: x})[cm.output(0)]
            fns["openvino"] = ov_run
            outs["openvino"] = np.array(ov_run())
        except ImportError:
            pass
    return fns, outs, mem


def _measure(fns, rounds, warmup, pause=0.2):
    """Median seconds per call over interleaved rounds (one call per peer per round, after an
    untimed pause so spinning thread pools of the previous peer have gone idle)."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    samples = {k: [] for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            time.sleep(pause)
            t0 = time.perf_counter()
            fn()
            samples[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in samples.items()}


def run(names, cfg, *, rounds, warmup, batches=(1, 8), peers=PEERS, log=print, threads=None):
    import torch

    import medkern
    if threads:
        medkern.set_num_threads(threads)
    threads = medkern.get_num_threads()
    torch.set_num_threads(threads)
    rows = []
    for name in names:
        model, shape = build(name, cfg)
        row = {"model": name, "shape": list(shape), "threads": threads}
        for b in batches:
            x = np.random.default_rng(0).standard_normal((b,) + tuple(shape[1:])).astype(
                np.float32)
            fns, outs, mem = _peers(model, x, threads, peers)
            ref = outs["torch"]
            scale = float(np.abs(ref).max()) or 1.0
            row[f"b{b}_maxrel"] = {k: float(np.abs(v - ref).max()) / scale
                                   for k, v in outs.items() if k != "torch"}
            t = _measure(fns, rounds, warmup)
            row[f"b{b}_seconds"] = t
            if b == 1:
                row["mem_medkern"] = mem
                row["mem_torch"] = torch_peak_activation_bytes(model, x)
            log(f"# {name} batch {b}: " + ", ".join(f"{k} {v * 1e3:.1f} ms" for k, v in t.items()))
            del fns, outs
        rows.append(row)
    return rows


def format_table(rows) -> str:
    head = ("| model | input | medkern b1 ms | vs eager | vs TorchScript | vs OpenVINO | "
            "medkern b8 img/s | vs eager | vs TorchScript | vs OpenVINO | act. memory "
            "medkern / eager MB |")
    lines = [head, "|" + "---|" * 11]
    for r in rows:
        cells = [r["model"], "x".join(map(str, r["shape"]))]
        for b in (1, 8):
            t = r.get(f"b{b}_seconds")
            if not t:
                cells += ["-"] * 4
                continue
            mk = t["medkern"]
            cells.append(f"{mk * 1e3:.1f}" if b == 1 else f"{b / mk:.2f}")
            for peer in ("torch", "torchscript", "openvino"):
                cells.append(f"{t[peer] / mk:.2f}x" if peer in t else "-")
        if "mem_medkern" in r:  # measured with batch 1 only
            cells.append(f"{r['mem_medkern'] / 2**20:.1f} / {r['mem_torch'] / 2**20:.1f}")
        else:
            cells.append("-")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m medkern.bench models")
    ap.add_argument("--quick", action="store_true", help="small inputs, under two minutes")
    ap.add_argument("--models", default=",".join(FULL))
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--threads", type=int, help="threads for every peer (default: medkern's)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    cfg = QUICK if args.quick else FULL
    names = [m for m in args.models.split(",") if m]
    for m in names:
        if m not in cfg:
            ap.error(f"unknown model {m!r} (choose from {', '.join(cfg)})")
    import medkern
    from medkern._info import machine_line
    if args.threads:
        medkern.set_num_threads(args.threads)
    print(f"# machine: {machine_line(medkern.info())}")
    print(f"# threads: {medkern.get_num_threads()} for every peer; "
          f"{'quick' if args.quick else 'full'} sizes")
    rounds = args.rounds or (2 if args.quick else 5)
    rows = run(names, cfg, rounds=rounds, warmup=1, threads=args.threads,
               batches=tuple(int(b) for b in args.batches.split(",")))
    print(format_table(rows))
    for r in rows:
        print(f"# {r['model']}: max relative difference to eager: " + "; ".join(
            f"b{b} " + ", ".join(f"{k} {v:.1e}" for k, v in r.get(f"b{b}_maxrel", {}).items())
            for b in (1, 8) if f"b{b}_maxrel" in r))
    if args.json:
        args.json.write_text(json.dumps({"machine": machine_line(medkern.info()), "rows": rows},
                                        indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
