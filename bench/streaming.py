"""What streaming the training split from disk costs: the data stage's time and peak memory and the seconds per
training epoch, held in memory against streamed from data/train.h5 (``data.in_memory_jets``), on the config's jets.

Usage: python bench/streaming.py [--config configs/salt_l1.yaml] [--data FILE.h5 [FILE2.h5 ...]] [--epochs 3]
                                 [--out NAME]

Each way runs in its own process (so that its peak resident memory is its own): the data stage into
build/bench_streaming/<way> (in memory: ``data.in_memory_jets`` above the training split; streamed: 1), then
``--epochs`` float epochs of the config's tagger (no QAT).  ``--data``: hls4ml-layout files read as one sample
instead of the config's data (``data.source: hls4ml``), e.g. several jet-cache files for a larger sample.  The two preparations must give the same arrays (the
bench stops otherwise).  Prints the table and writes ``bench/results/<out>.json``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import yaml
from stage_points import REPO, derived_config

WAYS = {"in memory": 10_000_000, "streamed": 1}


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def child(config: str, way: str, epochs: int, files: list[str] | None) -> dict:
    """One way, in this process: the data stage, then the epochs; its times and peak memory."""
    from l1tag.data.preprocess import run_data_stage
    from l1tag.train.trainer import train_models

    raw = yaml.safe_load(Path(config).read_text())
    data = {"in_memory_jets": WAYS[way], **({"source": "hls4ml", "path": files} if files else {})}
    cfg = derived_config(raw, way.replace(" ", "_"), raw.get("seed", 42), {"data": data, "train": {"patience": epochs}},
                         epochs, 0)
    build = REPO / "build" / "bench_streaming" / cfg.name
    build.mkdir(parents=True, exist_ok=True)
    (build / "data" / "prepared.json").unlink(missing_ok=True)  # prepare anew: the stage's time is measured
    t0 = time.perf_counter()
    data = run_data_stage(cfg, build, progress=False)
    prep = {"seconds": time.perf_counter() - t0, "peak_mb": peak_mb()}
    _, _, history = train_models(cfg, data)
    return {"way": way, "jets": len(data.y["train"]), "data_stage": prep,
            "seconds_per_epoch": history["float_seconds"] / len(history["float"]["loss"]),
            "val_accuracy": history["float"]["val_accuracy"][-1], "peak_mb": peak_mb(),
            "build": str(build)}


def same_arrays(builds: list[str]) -> bool:
    from l1tag.data.preprocess import load_prepared

    a, b = (load_prepared(Path(d) / "data" / "prepared.npz") for d in builds)
    return all(np.array_equal(np.asarray(a.x[s]), np.asarray(b.x[s])) and np.array_equal(a.y[s], b.y[s])
               for s in ("train", "val", "test"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(REPO / "configs" / "salt_l1.yaml"))
    ap.add_argument("--data", nargs="+", help="hls4ml-layout files read as one sample (default: the config's data)")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--out", default="streaming")
    ap.add_argument("--child", choices=list(WAYS), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.config, args.child, args.epochs, args.data)))
        return
    rows = []
    for way in WAYS:
        run = subprocess.run([sys.executable, __file__, "--config", args.config, "--epochs", str(args.epochs),
                              "--child", way] + (["--data", *args.data] if args.data else []),
                             capture_output=True, text=True, cwd=REPO)
        if run.returncode:
            raise SystemExit(f"bench/streaming.py, {way}: {run.stderr.strip().splitlines()[-1]}")
        rows.append(json.loads(run.stdout.strip().splitlines()[-1]))
    if not same_arrays([r["build"] for r in rows]):
        raise SystemExit("the streamed preparation differs from the in-memory one")
    source = f"{len(args.data)} files' jets" if args.data else f"{Path(args.config).name}'s jets"
    lines = [f"{source}, {rows[0]['jets']:,} training jets, {args.epochs} float epochs "
             f"(`python bench/streaming.py`); the same prepared arrays both ways (checked)", "",
             "| training split | data stage s | data stage peak MB | s per epoch | process peak MB |",
             "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['way']} | {r['data_stage']['seconds']:.1f} | {r['data_stage']['peak_mb']:,.0f} | "
                     f"{r['seconds_per_epoch']:.1f} | {r['peak_mb']:,.0f} |")
    print("\n".join(lines))
    out = REPO / "bench" / "results" / f"{args.out}.json"
    out.write_text(json.dumps({"config": Path(args.config).name, "data": args.data, "epochs": args.epochs,
                               "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
