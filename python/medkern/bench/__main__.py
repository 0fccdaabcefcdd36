"""``python -m medkern.bench SUBCOMMAND``: gemm, conv, dataflow, models, ml, gbdt, radiomics.

``gemm [--dtypes f32,bf16,u8s8] [--quick] [--json FILE]``, ``conv [--sets unet2d,...] [--quick]
[--json FILE]``, ``dataflow [--quick]``, ``models [--quick]``, ``ml``, ``gbdt [--quick]``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def _ensure_onednn_loader_path() -> None:
    """Re-run this process with oneDNN's folder on LD_LIBRARY_PATH when the onednn wheel is
    installed: its SYCL runtime opens plug-ins by name, which the dynamic loader can only find
    through that variable, read once at process start."""
    lib = Path(sys.prefix) / "lib"
    if not (lib / "libdnnl.so.3").exists():
        return
    paths = os.environ.get("LD_LIBRARY_PATH", "").split(os.pathsep)
    if str(lib) in paths:
        return
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = os.pathsep.join([str(lib)] + [p for p in paths if p])
    env.setdefault("OCL_ICD_FILENAMES", str(lib / "libintelocl.so"))
    # Re-run the same command line (python -m medkern.bench ... or python -m medkern bench ...).
    argv = getattr(sys, "orig_argv", None) or [sys.executable, "-m", "medkern.bench", *sys.argv[1:]]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *argv[1:]], env)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m medkern.bench")
    sub = parser.add_subparsers(dest="which", required=True)
    g = sub.add_parser("gemm", help="matmul vs oneDNN and numpy")
    g.add_argument("--dtypes", default="f32,bf16,u8s8")
    g.add_argument("--quick", action="store_true", help="fewer shapes and shorter timing")
    g.add_argument("--json", type=Path, help="write results as JSON")
    sub.add_parser("ml", help="LassoCV, Lasso path and PCA vs scikit-learn", add_help=False)
    sub.add_parser("dataflow", help="concat, pooling, resampling, softmax vs torch and memcpy",
                   add_help=False)
    sub.add_parser("models", help="U-Net, V-Net-style, ResNet, M-CNN end to end vs PyTorch, "
                   "TorchScript, OpenVINO", add_help=False)
    sub.add_parser("gbdt", help="gradient boosting vs LightGBM and scikit-learn", add_help=False)
    sub.add_parser("conv", help="convolution layer sets vs oneDNN and torch", add_help=False)
    sub.add_parser("radiomics", help="feature extraction vs pyradiomics (one case, batch)",
                   add_help=False)
    args, rest = parser.parse_known_args(argv)
    if args.which == "conv":
        _ensure_onednn_loader_path()
        from . import conv

        return conv.main(rest)
    if args.which == "ml":
        from . import ml

        return ml.main(rest)
    if args.which == "dataflow":
        from . import dataflow

        return dataflow.main(rest)
    if args.which == "models":
        from . import models

        return models.main(rest)
    if args.which == "gbdt":
        from . import gbdt

        return gbdt.main(rest)
    if args.which == "radiomics":
        from . import radiomics

        return radiomics.main(rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    _ensure_onednn_loader_path()

    import medkern
    from medkern._info import machine_line

    from . import gemm

    info = medkern.info()
    print(f"# machine: {machine_line(info)}")
    peaks = info["peak_gflops"][str(info["num_threads"])]
    print(f"# measured peak at {info['num_threads']} threads: f32 {peaks['f32']:.0f} GFLOP/s, "
          f"bf16 {peaks['bf16']:.0f} GFLOP/s, s8 {peaks['s8']:.0f} GOP/s, "
          f"copy {peaks['copy_gbs']:.1f} GB/s")
    shapes = None
    if args.quick:
        shapes = [(256, 256, 256), (1024, 1024, 1024), (3136, 576, 64), (384, 64, 384)]
    rows = gemm.run(shapes=shapes, dtypes=tuple(args.dtypes.split(",")),
                    min_time=0.15 if args.quick else 0.4, rounds=5 if args.quick else 9)
    print(gemm.format_table(rows))
    for dt in sorted({r.kind for r in rows}):
        for peer in ("onednn", "numpy"):
            ratios = [r.seconds[peer] / r.seconds["medkern"] for r in rows
                      if r.kind == dt and peer in r.seconds]
            if ratios:
                print(f"# {dt}: geometric-mean speed vs {peer}: {gemm.geomean(ratios):.2f}x "
                      f"over {len(ratios)} shapes")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine_line(info), "info": info, "rows": [
            {"dtype": r.kind, "M": r.M, "K": r.K, "N": r.N, "seconds": r.seconds} for r in rows]},
            indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
