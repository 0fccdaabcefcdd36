"""``python -m medkern info``: print medkern.info(); ``python -m medkern bench ...``: benchmarks."""

from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m medkern")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_info = sub.add_parser("info", help="print the machine, ISA, versions and measured peak")
    p_info.add_argument("--no-peak", action="store_true", help="skip the peak measurement")
    p_info.add_argument("--json", action="store_true", help="print JSON")
    sub.add_parser("bench", help="run benchmarks (see python -m medkern.bench --help)",
                   add_help=False)
    args, rest = parser.parse_known_args(argv)
    if args.cmd == "info":
        from . import info

        d = info(measure_peak=not args.no_peak)
        if args.json:
            print(json.dumps(d, indent=2))
        else:
            for k, v in d.items():
                if isinstance(v, dict):
                    print(f"{k}:")
                    for kk, vv in v.items():
                        print(f"  {kk}: {vv}")
                elif k == "caches":
                    print(f"{k}: " + ", ".join(
                        f"L{c['level']} {c['type']} {c['size_bytes'] // 1024} KiB" for c in v))
                else:
                    print(f"{k}: {v}")
        return 0
    from .bench.__main__ import main as bench_main

    return bench_main(rest)


if __name__ == "__main__":
    sys.exit(main())
