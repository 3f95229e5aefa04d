"""l1tag's hardware numbers (estimate or vendor report) beside the Yosys counts, layer group by layer group.

A block holds the arithmetic of one or more layers (a fused particle chain, or one of the attention's
three blocks), and the estimator reports per layer: the comparison groups the layers that share blocks
(an attention layer with its projection, scores and mix blocks) so that both sides count the same work.
LUT is compared with LUT (Yosys' CARRY4 are beside it, not in it), FF with FF + SRL (a shift register
stands in for a chain of flip-flops), DSP with DSP.
"""

from __future__ import annotations

QUANTITIES = (("LUT", ("LUT",), "LUT"), ("FF", ("FF", "SRL"), "FF"), ("DSP", ("DSP",), "DSP"))


def layer_groups(section: dict) -> list[dict]:
    """Blocks joined where they share a layer: [{'layers': [...], 'blocks': [...]}] in block order."""
    groups: list[dict] = []
    for block in section["blocks"]:
        hit = [g for g in groups if set(g["layers"]) & set(block["layers"])]
        if hit:
            g = hit[0]
            g["layers"] += [name for name in block["layers"] if name not in g["layers"]]
            g["blocks"].append(block)
        else:
            groups.append({"layers": list(block["layers"]), "blocks": [block]})
    return groups


def _yosys(blocks: list[dict], keys: tuple) -> int:
    return int(sum(b[k] * b["instances"] for b in blocks for k in keys))


def compare(section: dict, layer_rows: list[dict]) -> list[dict]:
    """One row per layer group, then 'total': l1tag's number (from ``layer_rows``, hardware_layers.json)
    and Yosys' (counts x instances), with the signed error of l1tag's number relative to Yosys'."""
    by_layer = {r["layer"]: r for r in layer_rows}
    rows = []
    for g in layer_groups(section):
        row = {"group": g["layers"][0] if len(g["layers"]) == 1 else f"{g['layers'][0]} .. {g['layers'][-1]}",
               "layers": g["layers"], "blocks": [b["name"] for b in g["blocks"]],
               "CARRY": _yosys(g["blocks"], ("CARRY",))}
        for name, ykeys, ekey in QUANTITIES:
            known = [by_layer[layer][ekey] for layer in g["layers"] if layer in by_layer]
            row[f"l1tag_{name}"] = int(sum(known)) if known else None
            row[f"yosys_{name}"] = _yosys(g["blocks"], ykeys)
        rows.append(row)
    total = {"group": "total", "layers": [], "blocks": [], "CARRY": sum(r["CARRY"] for r in rows)}
    for name, _, _ in QUANTITIES:
        mine = [r[f"l1tag_{name}"] for r in rows if r[f"l1tag_{name}"] is not None]
        total[f"l1tag_{name}"] = int(sum(mine)) if mine else None
        total[f"yosys_{name}"] = sum(r[f"yosys_{name}"] for r in rows)
    rows.append(total)
    for row in rows:
        for name, _, _ in QUANTITIES:
            mine, theirs = row[f"l1tag_{name}"], row[f"yosys_{name}"]
            row[f"error_{name}"] = None if mine is None or not theirs else (mine - theirs) / theirs
    return rows
