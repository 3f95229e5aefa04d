"""report.md: the report.json summary for people, with the build's plots embedded.

Numbers from l1tag's analytic model are labelled as estimates wherever they appear.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from l1tag.config import VITIS_HLS, VIVADO_HLS
from l1tag.devices import RESOURCES
from l1tag.files import write_text
from l1tag.hardware.error_band import band_of, band_range, band_short, band_words
from l1tag.report.attention_study import markdown as attention_markdown
from l1tag.report.embedding_study import markdown as embedding_markdown

SOURCE_WORDS = {
    "estimate": "**Estimate** (l1tag analytic model, not a synthesis result)",
    VITIS_HLS: "Parsed from Vitis HLS synthesis report",
    VIVADO_HLS: "Parsed from Vivado HLS synthesis report",
}
CSIM_ROWS = (
    ("jets", "jets simulated"),
    ("bit_exact_fraction", "bit-exact vs fixed-point reference"),
    ("max_abs_diff_vs_quantized", "max |logit diff| vs quantized model"),
    ("max_abs_diff_vs_float", "max |logit diff| vs float model"),
    ("argmax_agreement_vs_float", "argmax agreement vs float model"),
    ("argmax_agreement_vs_quantized", "argmax agreement vs quantized model"),
    ("accuracy_float", "accuracy of the float model, these jets"),
    ("accuracy_quantized", "accuracy of the quantized model, these jets"),
    ("accuracy_firmware", "accuracy of the firmware, these jets"),
    ("accuracy_drop_float_points", "accuracy drop float -> firmware (points)"),
)


def _num(value: Any) -> str:
    """A number for a table cell: ints with thousands separators, floats to 4 significant digits."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _pct(fraction: float | None) -> str:
    return "n/a (part total unknown)" if fraction is None else f"{100 * fraction:.1f} %"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def hardware_table(hardware: dict) -> str:
    """The hardware section: where the numbers come from, latency/II, and a resource table."""
    source = hardware.get("source")
    est = " (estimate)" if source == "estimate" else ""
    lines = [SOURCE_WORDS.get(source, f"Source: {source}"), ""]
    clock = hardware.get("clock_ns")
    lines.append(f"- Part `{hardware.get('part', '?')}`, clock {_num(clock)} ns"
                 + (f" ({1000 / clock:.0f} MHz)." if clock else "."))
    bands = hardware.get("error_band") if source == "estimate" else None

    def words(q):  # the estimate's measured error, next to the number
        return f" ({band_words(q, bands)})" if bands is not None else ""

    lines.append(f"- Latency: {_num(hardware.get('latency_cycles'))} cycles = {_num(hardware.get('latency_ns'))} ns"
                 f"{words('latency_cycles') or est}; II: {_num(hardware.get('ii_cycles'))} cycles"
                 f"{words('ii_cycles') or est}."
                 + (" They are the estimate of the schedule the generated C++ asks for: see \"What II and latency "
                    "rest on\" below." if source == "estimate" else ""))
    lines.append("")
    resources = hardware.get("resources") or {}
    utilization = hardware.get("utilization") or {}
    rows = [[res, _num(resources.get(res)), _pct(utilization.get(res))] for res in RESOURCES if res in resources]
    header = ["resource", f"used{est}", f"utilization{est}"]
    if bands:
        header += ["real value, 80 % band", "median error on unseen designs"]
        for row, res in zip(rows, [r for r in RESOURCES if r in resources]):
            band, r = band_of(res, bands), band_range(res, resources.get(res), bands)
            row += [(f"{_num(round(r[0]))} – {_num(round(r[1]))} ({band_short(res, bands)})" if r else
                     "no band" if band else "not measured"),
                    f"{band['median_abs_pct']:.0f} %" if band else "—"]
    lines.append(_table(header, rows))
    if bands:
        n = max((b["n"] for b in bands.values() if b), default=0)
        scopes = sorted({b.get("scope", "all tools") for b in bands.values() if b})
        lines += ["", f"Bands measured leave-one-repository-out on {n} real Vivado/Vitis HLS syntheses "
                  f"({', '.join(scopes)}; a design's own repository never calibrates it nor makes its band; "
                  "`bench/estimator_accuracy.py`, docs/estimator.md). \"rough\": the median error on unseen "
                  "designs is above 25 %."]
    return "\n".join(lines)


def schedule_section(section: dict) -> str:
    """The pragmas the estimate's II and latency rest on, what checked them, and what nothing here checks."""
    census = section.get("census") or {}
    match = section.get("products_match")
    lines = ["The generated C++ asks for (each checked in the written project by `l1tag/hls/structure.py`, "
             "no vendor tool):", ""]
    lines += [f"- {p}" for p in section.get("pragmas", [])]
    lines += ["", f"GIMPLE census of the C++ ({census.get('source', 'g++')}): {census.get('dividers', '?')} "
              f"dividers, {census.get('products', '?')} products per loop iteration by operand width "
              f"{census.get('products_by_width', {})}; the estimate prices "
              + ("the same products." if match else "other products (see report.json schedule)."
                 if match is False else "its own list (not compared: a project with hls4ml multipliers)."),
              "", "Not checked by any tool here (the estimate assumes them):", ""]
    lines += [f"- {u}" for u in section.get("unchecked", [])]
    return "\n".join(lines)


def budget_table(section: dict) -> str:
    """The budget section: one row per check (limit, value, margin, PASS/FAIL) and a verdict line."""
    checks = section.get("checks", [])
    estimate = any(c.get("source") == "estimate" for c in checks)
    est = " (estimate)" if estimate else ""
    rows = []
    for c in checks:
        margin = c.get("margin")
        rows.append([f"`{c['name']}`", _num(c.get("limit")), _num(c.get("value")),
                     *([c.get("band", "—")] if estimate else []),
                     "—" if margin is None else f"{100 * margin:+.1f} %",
                     "PASS" if c.get("pass") else "**FAIL**", _num(c.get("note") or "")])
    lines = []
    if estimate:
        lines += ["Values are **estimates** from the l1tag analytic model, not synthesis results; beside each, the "
                  "80 % band of the real value relative to it, leave-one-repository-out on real designs "
                  "(`l1tag/hardware/error_band.json`).", ""]
    lines.append(_table(["check", "limit", f"value{est}", *(["80 % band"] if estimate else []), "margin",
                         "result", "note"], rows))
    name = section.get("name", "?")
    failed = [c["name"] for c in checks if not c.get("pass")]
    if section.get("pass") and not failed:
        verdict = f"**PASS**: the design{est} is within budget `{name}`."
    else:
        verdict = f"**FAIL**: the design{est} breaks budget `{name}` ({', '.join(failed) or 'marked failing'})."
    lines += ["", verdict]
    rate = section.get("throughput")
    if rate:
        lines += ["", f"Throughput: {rate['jets_per_event']} jets per event, an event every {_num(rate['period_ns'])} "
                  f"ns; one instance tags a jet every {_num(rate['jet_interval_ns'])} ns, so **{rate['instances']} "
                  f"instance(s)** are needed (their resources together are checked above) and the last jet of an "
                  f"event leaves {rate['rounds'] - 1} interval(s) after the first (the latency above includes it)."]
    return "\n".join(lines)


def _model_section(model: dict) -> str:
    rows = [[label, _num(model[key])] for key, label in
            (("type", "type"), ("parameters", "parameters"), ("flops", "FLOPs"), ("bops", "BOPs"))
            if key in model]
    for precision, pj in (model.get("energy_pj_per_jet") or {}).items():
        rows.append([f"energy per jet, {precision} (Horowitz 45 nm per-operation energies)", f"{pj / 1000:,.1f} nJ"])
    rows += heterogeneous_rows(model.get("heterogeneous"))
    return _table(["quantity", "value"], rows)


def heterogeneous_rows(h: dict | None) -> list[list[str]]:
    """quantization.mode heterogeneous: the target, and the EBOPs of the epoch kept against it."""
    if not h:
        return []
    kept = h.get("kept") or {}
    ebops = kept.get("ebops")
    reached = f"{_num(None if ebops is None else round(ebops))} (epoch {kept.get('epoch')}, " + \
        ("within 10 % of the target)" if kept.get("within_tolerance") else "NOT within 10 % of the target)")
    rows = [["heterogeneous quantization: EBOPs target (start)", f"{_num(round(h['target_ebops']))} "
                                                                 f"({_num(round(h['start_ebops']))})"],
            ["EBOPs of the weights kept", reached]]
    if "lut" in h.get("target", {}):
        rows.append(["LUT target (ESTIMATE; the result: Hardware below)",
                     f"{_num(h['target']['lut'])}: floor {_num(h['floor_lut'])} with every heterogeneous weight "
                     f"removed, {_num(h['start_lut'])} at the starting widths"])
    return rows


def _quality_section(quality: dict) -> str:
    labels = (("float", "float (Keras)"), ("quantized", "quantized (QKeras)"), ("firmware", "firmware (C-sim)"))
    rows = []
    for key, label in labels:
        q = quality.get(key)
        if not isinstance(q, dict):
            continue
        rej = q.get("rejection_at_tpr_0p5") or {}
        rows.append([label, _num(q.get("accuracy")), _num(q.get("auc_macro")),
                     ", ".join(f"{cls}: {_num(v)}" for cls, v in rej.items()) or "—"])
    return _table(["model", "accuracy", "AUC (macro)", "rejection at TPR 0.5"], rows)


def _csim_section(csim: dict) -> str:
    return _table(["quantity", "value"], [[label, _num(csim[key])] for key, label in CSIM_ROWS if key in csim])


def fidelity_table(section: dict) -> str:
    """The csim.* fidelity checks: one row each (threshold, value, PASS/FAIL) and a verdict line."""
    rows = [[f"`{c['threshold']}`", _num(c["limit"]), c.get("shown") or _num(c["value"]),
             "PASS" if c["pass"] else "**FAIL**"] for c in section.get("checks", [])]
    failed = [c["threshold"] for c in section.get("checks", []) if not c["pass"]]
    verdict = ("**PASS**: the C-simulated firmware meets every fidelity threshold." if not failed else
               f"**FAIL**: the firmware misses {', '.join(failed)} (the build exits 4).")
    return _table(["check", "limit", "value", "result"], rows) + "\n\n" + verdict


SOURCE_LABELS = {"estimate": "ESTIMATE", VITIS_HLS: "Vitis HLS", VIVADO_HLS: "Vivado HLS"}
ROLE_WORDS = {"per_particle": "per particle", "scores": "scores of a row", "mix": "conv + softmax + A V' of a row",
              "projection": "K', V' of a jet", "pooling": "max over particles", "head": "head"}


def _err(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:+.0f} %"


def open_synthesis_section(section: dict, layer_rows: list[dict], hardware: dict | None) -> str:
    """Yosys counts per block and in total, beside l1tag's own numbers (estimate or vendor), with caveats."""
    if "skipped" in section:
        return f"Not run: {section['skipped']}."
    from l1tag.rtl.compare import compare

    t, secs, mem = section["total"], section["seconds"], section["memory_peak_mb"]
    lines = [f"**Yosys** ({section['yosys_version'].split(' (')[0]}, `synth_xilinx -family xcup`) cell counts of "
             f"da4ml {section['tools']['da4ml']} Verilog of each block: the same fixed-point arithmetic as the "
             f"firmware, a synthesis result of that RTL, not of the HLS project. Verilator "
             f"{section['tools']['verilator']}: bit-exact fraction **{section['bit_exact_fraction']:.4f}** against "
             f"the fixed-point reference on the block inputs of {section['jets']:,} test jets. Time {secs['wall']:.0f} s "
             f"(trace {secs['trace']:.0f} s, Verilator {secs['verilator']:.0f} s, Yosys {secs['yosys']:.0f} s over "
             f"{len(section['blocks'])} blocks); memory peak {mem['yosys']} MB (Yosys), {mem['l1tag_process']} MB (the l1tag process).",
             ""]
    rows = [[b["name"], ROLE_WORDS.get(b["role"], b["role"]), _num(b["instances"]), _num(round(b["da4ml_cost"])),
             _num(b["stages"]), _num(b["LUT"]), _num(b["FF"]), _num(b["SRL"]), _num(b["DSP"]), _num(b["CARRY"]),
             _num(b["vectors"]), f"{b['bit_exact_fraction']:.4f}"] for b in section["blocks"]]
    rows.append(["**total** (counts × copies)", "", "", "", "", *(f"**{t[k]:,}**" for k in
                 ("LUT", "FF", "SRL", "DSP", "CARRY")), "", ""])
    lines.append(_table(["block", "what", "copies", "da4ml cost", "stages", "LUT", "FF", "SRL", "DSP", "CARRY4",
                         "vectors", "bit-exact"], rows))
    hardware = hardware or {}
    vendor = hardware if hardware.get("source") not in (None, "estimate") else None
    estimate = (hardware.get("estimate") or {}).get("resources") if vendor else hardware.get("resources")
    columns = [("ESTIMATE", estimate or {})] + ([(SOURCE_LABELS.get(vendor["source"], vendor["source"]),
                                                  vendor.get("resources", {}))] if vendor else [])
    yosys = {"LUT": t["LUT"], "FF": t["FF"] + t["SRL"], "DSP": t["DSP"], "BRAM_18K": 0}
    side = [[q, *(_num(res.get(q)) for _, res in columns[:1]), _num(yosys[q]),
             *(_num(res.get(q)) for _, res in columns[1:])] for q in ("LUT", "FF", "DSP", "BRAM_18K")]
    side.append(["CARRY4", "—", _num(t["CARRY"]), *(["—"] if vendor else [])])
    lines += ["", "Totals side by side (Yosys FF includes SRLs; Yosys builds the tables as LUTs, so it has no BRAM):",
              "", _table(["resource", "ESTIMATE", "Yosys", *([columns[1][0]] if vendor else [])], side)]
    label = "ESTIMATE"
    cmp = compare(section, layer_rows)
    rows = [[r["group"] if r["group"] != "total" else "**total**", _num(r["l1tag_LUT"]), _num(r["yosys_LUT"]),
             _err(r["error_LUT"]), _num(r["CARRY"]), _num(r["l1tag_FF"]), _num(r["yosys_FF"]), _err(r["error_FF"]),
             _num(r["l1tag_DSP"]), _num(r["yosys_DSP"])] for r in cmp]
    lines += ["", f"{label} beside Yosys, layer group by layer group (error = {label} relative to Yosys; Yosys FF "
              f"includes SRLs):", "",
              _table(["layers", f"LUT ({label})", "LUT (Yosys)", "error", "CARRY4 (Yosys)", f"FF ({label})",
                      "FF (Yosys)", "error", f"DSP ({label})", "DSP (Yosys)"], rows),
              "", "What the Yosys counts are not:", ""]
    lines += [f"- {c}" for c in section.get("caveats", [])]
    lines += ["", "### The whole design as RTL", "", top_section(section.get("top"), t, hardware)]
    return "\n".join(lines)


def top_section(top: dict | None, block_total: dict, hardware: dict) -> str:
    """rtl/top: its latency (da4ml's register placement), Verilator on whole jets, its Yosys count beside the
    block total and the estimate."""
    if not top:
        return "Not run."
    if "skipped" in top:
        return f"Not built: {top['skipped']}."
    ports = top["ports"]
    lines = [f"`{top['module']}` (rtl/top/: Verilog and VHDL of da4ml, ports in HANDOFF.md): **latency "
             f"{top['latency_cycles']} cycles = {top['latency_ns']:g} ns** at {top['clock_ns']:g} ns, II 1 -- "
             f"{top['latency_is']}. The budget checks the HLS latency above (the ESTIMATE's, or a vendor report's), "
             f"not this one. "
             f"Verilator: bit-exact fraction **{top['bit_exact_fraction']:.4f}** on {top['jets']:,} jets (every logit "
             f"compared), {top['jets_per_second'] or 0:,.0f} jets/s in simulation. Input {ports['particles']['width']} "
             f"bits, output {ports['logits']['width']} bits; da4ml cost {top['da4ml_cost']:,.0f}."]
    yosys = top.get("yosys", {})
    if "LUT" in yosys:
        hw = hardware or {}
        est = hw.get("resources", {})
        label = "ESTIMATE (HLS)" if hw.get("source") in (None, "estimate") else SOURCE_LABELS.get(hw["source"], hw["source"])
        lines += ["", _table(["resource", "whole design (Yosys)", "blocks × copies (Yosys)", label],
                             [[q, _num(yosys[q]), _num(block_total[q]), _num(est.get(q))] for q in ("LUT", "FF", "DSP")]
                             + [["SRL", _num(yosys["SRL"]), _num(block_total["SRL"]), "—"],
                                ["CARRY4", _num(yosys["CARRY"]), _num(block_total["CARRY"]), "—"]]),
                  "", f"Yosys on the whole top: {top['seconds'].get('yosys', 0):.0f} s, memory peak "
                      f"{top.get('memory_peak_mb', {}).get('yosys')} MB."]
    elif yosys:
        lines += ["", f"Whole-design Yosys count: {yosys['skipped']}."]
    return "\n".join(lines)


PLOT_CAPTIONS = {
    "roc": "One-vs-rest ROC curves per class on the test split (float, quantized and, when the C-simulation "
           "covered the whole split, firmware).",
    "partitions": "One jet per class in the (Δη, Δφ) plane: constituents coloured by their SAL-T partition "
                  "(kT order), marker area by pT.",
    "attention_maps": "Attention per head for one jet per class: scores before and after the convolution and the "
                      "softmax weights; sparsity = mean largest weight per row (1 = binary attention).",
    "accuracy_vs_multiplicity": "Test accuracy in bins of the jet's constituent multiplicity.",
    "attention_partners": "Per class, each particle's attention-weighted ΔR to its partners (first attention "
                          "layer, all heads; SAL-T and Linformer weights carried to the particles through their "
                          "projections).",
    "attention_partner_maps": "One jet per class in the (Δη, Δφ) plane, marker area by pT: an arrow from each "
                              "of its leading particles to the particle it weighs most (first attention layer, "
                              "heads summed).",
    "embedding_pca": "The pooled jet embedding of the test jets on its first two principal components, by class.",
}


def _plots_section(build_dir: Path) -> str:
    plots = sorted((build_dir / "plots").glob("*.png"))
    if not plots:
        return "No plots yet."
    return "\n\n".join(f"![{p.stem}](plots/{p.name})\n\n*{PLOT_CAPTIONS.get(p.stem, p.stem)}*" for p in plots)


def render_report_md(build_dir: Path, report: dict) -> str:
    """The text of report.md; sections missing from ``report`` are left out."""
    build_dir = Path(build_dir)
    name = (report.get("config") or {}).get("name") or build_dir.name
    parts = [f"# l1tag report: {name}"]
    if report.get("l1tag_version"):
        parts.append(f"l1tag {report['l1tag_version']}")
    sections = (("model", "Model", _model_section), ("quality", "Quality", _quality_section),
                ("csim", "C-simulation", _csim_section), ("fidelity", "Fidelity checks", fidelity_table),
                ("hardware", "Hardware", hardware_table),
                ("budget", "Budget", budget_table))
    for key, title, render in sections:
        if isinstance(report.get(key), dict):
            parts.append(f"## {title}\n\n{render(report[key])}")
        if key == "hardware" and isinstance(report.get("schedule"), dict):
            parts.append("### What II and latency rest on\n\n" + schedule_section(report["schedule"]))
        if key == "hardware" and isinstance(report.get("open_synthesis"), dict):
            layers = build_dir / "hardware_layers.json"
            rows = json.loads(layers.read_text()) if layers.exists() else []
            parts.append("## Open synthesis (Yosys)\n\n"
                         + open_synthesis_section(report["open_synthesis"], rows, report.get("hardware")))
    study = build_dir / "plots" / "attention_study.json"
    if study.exists():
        parts.append("## Attention: sparsity and ablation\n\n" + attention_markdown(json.loads(study.read_text())))
    embedding = build_dir / "plots" / "embedding_study.json"
    if embedding.exists():
        parts.append("## Jet embedding\n\n" + embedding_markdown(json.loads(embedding.read_text())))
    parts.append(f"## Plots\n\n{_plots_section(build_dir)}")
    return "\n\n".join(parts) + "\n"


def write_report_md(build_dir: Path | str, report: dict) -> Path:
    """Write build_dir/report.md atomically (temporary file, then rename) and return its path."""
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    return write_text(build_dir / "report.md", render_report_md(build_dir, report))


HTML_STYLE = """body{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.4}
table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:.2em .6em}th{background:#eee}
img{max-width:100%}code{background:#f4f4f4}"""


def write_report_html(build_dir: Path | str, report: dict) -> Path:
    """report.html: the report.md content as one self-contained page (plots inlined as base64 PNG)."""
    import base64
    import re

    import markdown

    build_dir = Path(build_dir)
    body = markdown.markdown(render_report_md(build_dir, report), extensions=["tables"])

    def inline(match: re.Match) -> str:
        png = build_dir / match.group(1)
        data = base64.b64encode(png.read_bytes()).decode() if png.is_file() else ""
        return f'src="data:image/png;base64,{data}"'

    body = re.sub(r'src="(plots/[^"]+\.png)"', inline, body)
    title = report.get("config", {}).get("name", "l1tag")
    page = (f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>l1tag report: {title}</title>"
            f"<style>{HTML_STYLE}</style></head><body>\n{body}\n</body></html>\n")
    return write_text(build_dir / "report.html", page)
