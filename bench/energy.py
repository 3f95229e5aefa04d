"""Energy per jet of the shipped taggers, float32 and quantized (Horowitz ISSCC 2014 per-operation energies).

Usage: python bench/energy.py [--no-readme]

Each shipped config's model is built at its own shapes (weights do not change the count) and priced by
``l1tag.models.cost`` (a MAC = a multiplication and an addition at the accumulator width, other FLOPs one
addition; fp32 energies for the float model, integer energies scaled by width for the quantized one).
Prints the table of docs/search.md (and writes it between the energy markers).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from readme_table import write_between_markers

from l1tag.config import load_config
from l1tag.models.builders import build_model
from l1tag.models.cost import model_cost

REPO = Path(__file__).resolve().parents[1]
CONFIGS = ("salt_l1", "linformer_l1", "transformer_ref", "deepsets_l1")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-readme", action="store_true")
    args = ap.parse_args()
    lines = ["| config | model | n | MACs | BOPs (quantized) | energy/jet float32 | energy/jet quantized | ratio |",
             "|---|---|---|---|---|---|---|---|"]
    for name in CONFIGS:
        cfg = load_config(REPO / "configs" / f"{name}.yaml")
        n, f = cfg.data.constituents, len(cfg.data.features)
        flt = model_cost(build_model(cfg.model, n, f, None))
        qnt = model_cost(build_model(cfg.model, n, f, cfg.quantization, table_size=cfg.hls.table_size))
        macs = sum(r["macs"] for r in qnt["layers"])
        lines.append(f"| {name} | {cfg.model.type} | {n} | {macs:,} | {qnt['bops']:,} | {flt['energy_pj'] / 1000:,.1f} nJ | "
                     f"{qnt['energy_pj'] / 1000:,.2f} nJ | {flt['energy_pj'] / qnt['energy_pj']:.0f}x |")
    text = "\n".join(lines)
    print(text)
    if not args.no_readme:
        write_between_markers("energy", text)


if __name__ == "__main__":
    main()
