"""Jet generation speed (Pythia 8 + FastJet): jets/s with 1 worker (in process) and 2 (Ray tasks).

Usage: python bench/generation_speed.py [--jets 1000] [--detector none|simple]
Prints a Markdown table quoted in docs/data.md.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from l1tag.config import load_config
from l1tag.data.generate import generate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--jets", type=int, default=1000, help="jets per worker")
    ap.add_argument("--detector", default="none", choices=["none", "simple"])
    args = ap.parse_args()
    default = load_config(Path(__file__).resolve().parents[1] / "configs" / "salt_l1.yaml")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for jobs in (1, 2):
            n = args.jets * jobs
            t0 = time.perf_counter()
            generate(Path(tmp) / f"j{jobs}.h5", n, seed=1, jobs=jobs, constituents=150, detector=args.detector,
                     progress=False)
            dt = time.perf_counter() - t0
            rows.append((jobs, n, dt, n / dt, n / dt / jobs))
    rate2 = rows[-1][3]
    print(f"machine: {os.cpu_count()} cores; detector: {args.detector}\n")
    print("| workers | jets | seconds | jets/s | jets/s per worker |\n|---|---|---|---|---|")
    for jobs, n, dt, rate, per_core in rows:
        print(f"| {jobs} | {n} | {dt:.1f} | {rate:.1f} | {per_core:.1f} |")
    print(f"\ndefault config ({default.data.jets} jets, {default.data.generate_jobs} jobs): "
          f"about {default.data.jets / rate2 / 60:.1f} min at the 2-job rate")


if __name__ == "__main__":
    main()
