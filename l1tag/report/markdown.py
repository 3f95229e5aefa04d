"""report.md: the report.json summary for people, with the build's plots embedded.

Numbers from l1tag's analytic model are labelled as estimates wherever they appear.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from l1tag.files import write_text
from l1tag.hardware.parts import RESOURCES

SOURCE_WORDS = {
    "estimate": "**Estimate** (l1tag analytic model, not a synthesis result)",
    "vitis_hls": "Parsed from Vitis HLS synthesis report",
    "vivado_hls": "Parsed from Vivado HLS synthesis report",
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
    lines.append(f"- Latency{est}: {_num(hardware.get('latency_cycles'))} cycles = "
                 f"{_num(hardware.get('latency_ns'))} ns; II{est}: {_num(hardware.get('ii_cycles'))} cycles.")
    lines.append("")
    resources = hardware.get("resources") or {}
    utilization = hardware.get("utilization") or {}
    rows = [[res, _num(resources.get(res)), _pct(utilization.get(res))] for res in RESOURCES if res in resources]
    lines.append(_table(["resource", f"used{est}", f"utilization{est}"], rows))
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
                     "—" if margin is None else f"{100 * margin:+.1f} %",
                     "PASS" if c.get("pass") else "**FAIL**", _num(c.get("note") or "")])
    lines = []
    if estimate:
        lines += ["Values are **estimates** from the l1tag analytic model, not synthesis results.", ""]
    lines.append(_table(["check", "limit", f"value{est}", "margin", "result", "note"], rows))
    name = section.get("name", "?")
    failed = [c["name"] for c in checks if not c.get("pass")]
    if section.get("pass") and not failed:
        verdict = f"**PASS**: the design{est} is within budget `{name}`."
    else:
        verdict = f"**FAIL**: the design{est} breaks budget `{name}` ({', '.join(failed) or 'marked failing'})."
    lines += ["", verdict]
    return "\n".join(lines)


def _model_section(model: dict) -> str:
    rows = [[label, _num(model[key])] for key, label in
            (("type", "type"), ("parameters", "parameters"), ("flops", "FLOPs"), ("bops", "BOPs"))
            if key in model]
    return _table(["quantity", "value"], rows)


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


PLOT_CAPTIONS = {
    "roc": "One-vs-rest ROC curves per class on the test split (float, quantized and, when the C-simulation "
           "covered the whole split, firmware).",
    "partitions": "One jet per class in the (Δη, Δφ) plane: constituents coloured by their SAL-T partition "
                  "(kT order), marker area by pT.",
    "attention_maps": "Attention per head for one jet per class: scores before and after the convolution and the "
                      "softmax weights; sparsity = mean largest weight per row (1 = binary attention).",
    "accuracy_vs_multiplicity": "Test accuracy in bins of the jet's constituent multiplicity.",
    "cost_vs_n": "FLOPs and estimated LUTs (l1tag estimate, not synthesis) versus the number of particles for "
                 "SAL-T, Linformer and full attention.",
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
