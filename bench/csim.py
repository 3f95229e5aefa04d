"""C-simulation speed per tagger type: g++ compile time of the generated project and jets/s.

Usage: python bench/csim.py [--jets 2000] [--backend Vitis]

Models have the default config's shape (n = 32, d = 16, H = 4, p = 4, 8-bit QAT; Deep Sets 32-32-32)
with their initial weights: speed does not depend on the weight values.  Inputs are random normal
(standardised-feature-like) jets.  Each run also re-checks bit-exactness against the reference.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from l1tag import kinds
from l1tag.config import load_config
from l1tag.hls.convert import convert_model, run_csim
from l1tag.models.builders import build_model

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jets", type=int, default=2000)
    ap.add_argument("--backend", default="Vitis", choices=["Vitis", "Vivado"])
    args = ap.parse_args()
    base = load_config(REPO / "configs" / "salt_l1.yaml")
    x = np.random.default_rng(0).normal(size=(args.jets, base.data.constituents, 3)).astype(np.float32)
    print(f"{os.cpu_count()} cores, {args.jets} jets, {args.backend} backend, n = {base.data.constituents}\n")
    print("| model | convert s | g++ compile s | C-sim jets/s | bit-exact |\n|---|---|---|---|---|")
    for kind in kinds.NAMES:
        if kinds.get(kind).pair_bias == kinds.PAIR_BIAS_ALWAYS:
            print(f"| {kind} | not run: its pair bias needs P = n, the default build has P = 8 | | | |")
            continue
        cfg = dataclasses.replace(base, model=dataclasses.replace(base.model, type=kind),
                                  hls=dataclasses.replace(base.hls, backend=args.backend))
        model = build_model(cfg.model, cfg.data.constituents, 3, cfg.quantization, table_size=cfg.hls.table_size)
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            converted = convert_model(model, cfg.hls, Path(tmp) / "hls")
            convert_s = time.perf_counter() - t0
            s = run_csim(converted, x, model)
        print(f"| {kind} | {convert_s:.1f} | {s['compile_seconds']:.1f} | {s['jets_per_second']:.0f} | "
              f"{s['bit_exact_fraction']:.4f} |")


if __name__ == "__main__":
    main()
