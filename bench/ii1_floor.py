"""What bounds the II-1 firmware when the weights cost nothing: the ESTIMATE of the design at P = n with
every constant weight (Dense layers and the attention's Q, K, V) set to zero, against activation widths.

Usage: python bench/ii1_floor.py [--config configs/salt_l1.yaml] [--widths 8 6 5 4] [--set model.heads=2 ...]
                                 [--out bench/results]

Heterogeneous quantization of the weights (``quantization.mode: heterogeneous``) can at best remove the
constant-weight layers' adders: what is left -- the attention core's variable products and tables, the
DynamicTanh, adds, pooling, registers -- is the floor it cannot go below.  That floor is set by the
activation widths (Q, K, V and the other activations: ``quantization.activations``; scores and softmax
scaled alongside, integer bits kept), so this prints it for each width: LUT / FF / DSP (ESTIMATE, not a
synthesis), per layer class.  ``--set`` changes config keys first (architecture studies: heads,
partitions, the score convolution).  Untrained models: the price of a variable product depends on its operand
types, not on the trained values; the kinds' own weights (score convolution, E and F, DynamicTanh's alpha)
stay at their seeded initial values.  Writes <out>/ii1_floor_<name>.json.  A few minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", type=Path, default=REPO / "configs" / "salt_l1.yaml")
    ap.add_argument("--widths", type=int, nargs="+", default=[8, 6, 5, 4],
                    help="activation widths (Q, K, V and the other activations); scores and softmax follow")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config keys to change (YAML values)")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    args = ap.parse_args()

    import numpy as np
    import tensorflow as tf

    import yaml

    from l1tag.config import config_from_dict, read_yaml
    from l1tag.errors import L1tagError
    from l1tag.hardware.project import estimate_keras
    from l1tag.models.builders import build_model

    raw = read_yaml(args.config, f"config {args.config} not found")
    for item in args.set:
        key, _, value = item.partition("=")
        section = raw
        for part in key.split(".")[:-1]:
            section = section.setdefault(part, {})
        section[key.split(".")[-1]] = yaml.safe_load(value)
    base = config_from_dict(raw, args.config.parent, str(args.config))
    n, f = base.data.constituents, len(base.data.features)
    hls = dataclasses.replace(base.hls, parallelization_factor=n)
    q = base.quantization
    rows = []
    for width in args.widths:
        shrink = q.activations.bits - width  # every activation-like type loses the same fractional bits
        qw = dataclasses.replace(
            q, activations=dataclasses.replace(q.activations, bits=width),
            scores=dataclasses.replace(q.scores, bits=max(q.scores.integer + 1, q.scores.bits - shrink)),
            softmax=dataclasses.replace(q.softmax, bits=max(q.softmax.integer + 1, q.softmax.bits - shrink)))
        tf.keras.utils.set_random_seed(base.seed)  # the kinds' own weights (conv, E, F, alpha) at their seeded start
        model = build_model(base.model, n, f, qw, table_size=base.hls.table_size)
        for layer in model.layers:  # every constant weight of the weight layers to zero: no adders left
            for w in layer.weights:
                short = w.name.split("/")[-1].split(":")[0]
                if short in ("kernel", "wq", "wk", "wv") and "score_conv" not in w.name:
                    w.assign(np.zeros(w.shape, dtype=np.float32))
        try:
            hw = estimate_keras(model, hls)
        except L1tagError as exc:  # e.g. too few fractional bits for a table: that width is not a design
            rows.append({"activation_bits": width, "not_convertible": str(exc)})
            print(f"activations {width} bits: not convertible: {exc}", flush=True)
            continue
        by_class = defaultdict(lambda: defaultdict(int))
        for r in hw["layers"]:
            for k in ("LUT", "FF", "DSP"):
                by_class[r["class"]][k] += r[k]
        row = {"activation_bits": width, "score_bits": qw.scores.bits, "softmax_bits": qw.softmax.bits,
               "ii_cycles": hw["ii_cycles"], "latency_ns": hw["latency_ns"],
               **{f"{k}_estimate": v for k, v in hw["resources"].items()},
               "by_layer_class": {c: dict(v) for c, v in sorted(by_class.items(), key=lambda kv: -kv[1]["LUT"])}}
        rows.append(row)
        classes = ", ".join(f"{c} {v['LUT']:,}" for c, v in row["by_layer_class"].items() if v["LUT"])
        print(f"activations {width} bits (scores {qw.scores.bits}, softmax {qw.softmax.bits}): floor LUT (ESTIMATE) "
              f"{hw['resources']['LUT']:,}, FF {hw['resources']['FF']:,}, DSP {hw['resources']['DSP']:,}, "
              f"latency {hw['latency_ns']:g} ns at II {hw['ii_cycles']} [{classes}]", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"ii1_floor_{base.name}{''.join('_' + s.replace('=', '-') for s in args.set)}.json"
    out.write_text(json.dumps({"config": str(args.config), "set": args.set, "rows": rows}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
