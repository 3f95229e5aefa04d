"""Energy per jet of the shipped taggers, float32 and quantized (Horowitz ISSCC 2014 per-operation energies).

Usage: python bench/energy.py [--no-readme]

Each shipped config's model is built at its own shapes (weights do not change the count) and priced by
``l1tag.models.cost`` (a MAC = a multiplication and an addition at the accumulator width, other FLOPs one
addition; fp32 energies for the float model, integer energies scaled by width for the quantized one).
Prints the table of docs/search.md (and writes it between the energy markers).

Then the check against "Economical Jet Taggers" (arXiv:2512.17011): their 10-block x 128 Transformer at 50
constituents (MLP ratio 4, 8 heads) built as an l1tag float Transformer and counted by l1tag, term by term
beside the paper's own cost model (heidelberg-hepml/tagger-quantization@d4361f0, cost_estimate/estimate.py
``transformer_cost`` and ``estimate_energy``, whose energy_50.json gives 178.9 uJ fp32 and 14.9 uJ with fp8
activations and ternary weights), written between the energy_check markers.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from readme_table import write_between_markers

from l1tag.config import load_config
from l1tag.models.builders import build_model
from l1tag.config import config_from_dict
from l1tag.models.cost import ENERGY_7NM_PJ, layer_costs, model_cost

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
    check = paper_check()
    print(f"\n{check}")
    if not args.no_readme:
        write_between_markers("energy", text)
        write_between_markers("energy_check", check)


# The paper's Transformer and its energies per jet (uJ), cost_estimate/energy_50.json (Horowitz scaled to 7 nm)
PAPER = {"n": 50, "width": 128, "blocks": 10, "mlp_ratio": 4, "heads": 8, "fp32_uj": 178.9, "fp8_ternary_uj": 14.9}
TERMS = ("Q, K, V projections", "output projection", "MLP", "biases", "attention (Q K^T, A V)", "softmax",
         "normalisation and residuals", "embedding, pooling, classifier")


def paper_terms(n: int, c: int, blocks: int, mlp: int) -> dict[str, int]:
    """Operations per jet of the paper's cost model (transformer_cost, estimate.py L16-58): 4 n (C^2 + C) for
    Q, K, V and the output projection, 2 n (mlp C^2 + mlp C) for the MLP, 2 C n^2 for Q K^T and A V, 6 n C for
    the two LayerNorms; softmax, GELU, residual adds, embedding and head are not counted."""
    return {"Q, K, V projections": blocks * 3 * n * c * c, "output projection": blocks * n * c * c,
            "MLP": blocks * 2 * n * mlp * c * c, "biases": blocks * (4 * n * c + 2 * n * mlp * c),
            "attention (Q K^T, A V)": blocks * 2 * c * n * n, "normalisation and residuals": blocks * 6 * n * c}


def paper_prices() -> tuple[dict[str, float], dict[str, float]]:
    """pJ per counted operation of each term, fp32 and fp8 activations + ternary weights (estimate_energy,
    L400-447): every operation an fp32 MAC; quantized, a weight MAC one fp8 addition (the ternary product is
    free), a bias an fp8 MAC, attention an fp16 MAC, LayerNorm an fp32 MAC."""
    t = ENERGY_7NM_PJ
    fp32, fp16, fp8 = (t[f"{w}_mult"] + t[f"{w}_add"] for w in ("fp32", "fp16", "fp8"))
    quantized = {"Q, K, V projections": t["fp8_add"], "output projection": t["fp8_add"], "MLP": t["fp8_add"],
                 "embedding, pooling, classifier": t["fp8_add"], "biases": fp8, "attention (Q K^T, A V)": fp16,
                 "softmax": fp16, "normalisation and residuals": fp32}
    return {k: fp32 for k in TERMS}, quantized


def l1tag_terms(model) -> dict[str, tuple[int, int]]:
    """l1tag's count of a float model by the same terms: (MACs, other FLOPs) of each."""
    macs, other = dict.fromkeys(TERMS, 0), dict.fromkeys(TERMS, 0)
    for layer, row in zip(model.layers, layer_costs(model)):
        rest = row["flops"] - 2 * row["macs"]
        if hasattr(layer, "attention_shape"):
            m = layer.attention_shape().macs()
            macs["Q, K, V projections"] += m["qkv"]
            macs["attention (Q K^T, A V)"] += m["scores"] + m["mix"]
            other["softmax"] += rest
        elif row["layer"].startswith("ffn") and row["class"] in ("Dense", "QDense"):
            macs["MLP"] += row["macs"]
            other["biases"] += rest
        elif row["class"] in ("QDynamicTanh", "Add"):
            other["normalisation and residuals"] += rest
        else:
            macs["embedding, pooling, classifier"] += row["macs"]
            other["embedding, pooling, classifier"] += rest
    return {k: (macs[k], other[k]) for k in TERMS}


def paper_check() -> str:
    p = PAPER
    cfg = config_from_dict({"name": "paper", "data": {"constituents": p["n"]},
                            "model": {"type": "transformer", "d_model": p["width"], "heads": p["heads"],
                                      "ffn_dim": p["mlp_ratio"] * p["width"], "blocks": p["blocks"], "head_dims": []}})
    model = build_model(cfg.model, p["n"], 3, None)
    ours, theirs = l1tag_terms(model), paper_terms(p["n"], p["width"], p["blocks"], p["mlp_ratio"])
    fp32, quantized = paper_prices()
    add_7nm = ENERGY_7NM_PJ["fp32_add"]
    mac_7nm = ENERGY_7NM_PJ["fp32_mult"] + add_7nm
    l1tag_7nm = {k: ours[k][0] * mac_7nm + ours[k][1] * add_7nm for k in TERMS}  # l1tag's rule: a MAC, an add
    rows = ["| term | paper: operations | l1tag: operations | paper fp32 uJ | l1tag fp32 uJ (same 7 nm table) | "
            "paper fp8 + ternary uJ | l1tag counts at the paper's fp8 + ternary prices uJ |",
            "|---|---|---|---|---|---|---|"]
    total = dict.fromkeys(("p32", "l32", "pq", "lq"), 0.0)
    for k in TERMS:
        a, b = theirs.get(k, 0), sum(ours[k])
        vals = {"p32": a * fp32[k] / 1e6, "l32": l1tag_7nm[k] / 1e6, "pq": a * quantized[k] / 1e6,
                "lq": b * quantized[k] / 1e6}
        for key, v in vals.items():
            total[key] += v
        rows.append(f"| {k} | {a:,} | {b:,} | {vals['p32']:.2f} | {vals['l32']:.2f} | {vals['pq']:.2f} | "
                    f"{vals['lq']:.2f} |")
    rows.append(f"| **total** | {sum(theirs.values()):,} | {sum(map(sum, ours.values())):,} | **{total['p32']:.1f}** | "
                f"**{total['l32']:.1f}** | **{total['pq']:.1f}** | **{total['lq']:.1f}** |")
    return ("\n".join(rows) + f"\n\nThe paper's energy_50.json: {p['fp32_uj']} uJ fp32, {p['fp8_ternary_uj']} uJ "
            f"fp8 + ternary. l1tag's own float price of this model (Horowitz 45 nm): "
            f"{model_cost(model)['energy_pj'] / 1e6:.1f} uJ.")


if __name__ == "__main__":
    main()
