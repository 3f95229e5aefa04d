"""How far is l1tag's hardware ESTIMATE from real Vivado/Vitis HLS syntheses of designs it never saw?

Usage: python bench/estimator_corpus/fetch.py; python bench/estimator_accuracy.py [--reports DIR ...]
       [--no-docs] [--no-band]

For every hls4ml project under the report folders (default: ../shared/hls_reports and the calibration
corpus referenced in bench/estimator_corpus/, fetched into build/estimator_corpus/; SOURCES.md there) that
ships its Keras model and hls4ml_config.yml, the model is rebuilt with hls4ml 1.3 from those files, estimated (``l1tag.hardware.estimate``, with the
ToolRules of the project's tool) and compared with the numbers parsed from its synthesis report
(``l1tag.hardware.vendor``).  Projects that cannot be rebuilt here are listed with the reason.

Three constants of the ToolRules are measured on the reports (LUTs per product per accumulator bit of
an AP_RND/AP_SAT accumulator, the cycles per pixel of a Resource io_stream conv beyond its R, the LUTs of
an io_stream zero padding).  **Leave-one-repository-out**: each design is estimated with those constants
measured on the *other repositories'* designs only (the median of theirs), so no design is scored by a
rule tuned on its own repository.  From those errors, per quantity (and per tool where it has at least 9
designs), the 80 % band of real / estimate (a distribution-free prediction interval,
``l1tag.hardware.error_band.prediction_interval``), the median and 80th-percentile |error| and the band's
**coverage**: the fraction of designs whose real value lies inside the band made without their
repository.  They go to ``l1tag/hardware/error_band.json``, which every estimate carries; the tables to
docs/estimator.md and a summary to docs/hardware.md (between the estimator_accuracy markers).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import re
from pathlib import Path

import numpy as np
from readme_table import write_between_markers

from l1tag.config import VIVADO_HLS
from l1tag.hardware.error_band import MIN_DESIGNS, MIN_TOOL_REPOSITORIES, calibrated_interval, ratio
from l1tag.hardware.estimate import TOOL_RULES, estimate_model, tool_of
from l1tag.hardware.project import load_project
from l1tag.hardware.vendor import parse_project

REPO = Path(__file__).resolve().parents[1]
BAND_FILE = REPO / "l1tag" / "hardware" / "error_band.json"
DOCS = REPO / "docs" / "estimator.md"
# ../shared/hls_reports (read in place) and the referenced designs fetched (bench/estimator_corpus/fetch.py)
ROOTS = (REPO.parent / "shared" / "hls_reports", REPO / "build" / "estimator_corpus")
QUANTITIES = ("latency_cycles", "ii_cycles", "DSP", "LUT", "FF", "BRAM_18K")
TARGETS = {"latency_cycles": 25, "LUT": 25, "FF": 25, "DSP": 10}  # leave-one-repository-out medians
MEASURED = ("sat_lut_per_bit", "resource_pixel_overhead", "zeropad_lut")


def _value(d: dict, q: str):
    return d[q] if q in ("latency_cycles", "ii_cycles") else d["resources"][q]


def _pct(est: float, real: float) -> float | None:
    if real == 0:
        return None if est == 0 else float("inf")
    return 100.0 * (est - real) / real


# ---- the per-instance tables of a csynth.rpt: what the measured constants are read from -------------------
def _table_after(text: str, marker: str) -> list[list[str]]:
    at = text.find(marker)
    rows, started = [], False
    for line in text[at:].splitlines()[1:] if at >= 0 else []:
        s = line.strip()
        if not s or not s.startswith(("|", "+")):
            if started:
                break
            continue
        if s.startswith("+"):
            started = True
            continue
        cells = [c.strip() for c in s.strip("|").split("|")]
        if cells[0] not in ("Total", "", "Instance"):
            rows.append(cells)
    return rows


def instance_rows(prj: Path) -> tuple[dict, dict]:
    """hls4ml layer index -> (latency cells, interval cells) and -> resource cells (BRAM, DSP, FF, LUT), from
    the top csynth.rpt's instance tables (hls4ml names each layer's config 'configN')."""
    reports = [p for p in prj.rglob("*_csynth.rpt") if "axi" not in p.name]
    if not reports:
        return {}, {}
    text = min(reports, key=lambda p: len(p.parts)).read_text(errors="replace")
    lat_at, util_at = text.find("+ Latency:"), text.find("== Utilization Estimates")
    lat, res = {}, {}
    for r in _table_after(text[lat_at:util_at], "* Instance:"):
        if (m := re.search(r"config(\d+)", r[1])):
            lat[int(m.group(1))] = (r[2:4], r[6:8])
    for r in _table_after(text[util_at:], "* Instance:"):
        if (m := re.search(r"config(\d+)", r[1])):
            res[int(m.group(1))] = r[2:6]
    return lat, res


def _estimate(model, real: dict, rules) -> dict:
    with contextlib.redirect_stdout(io.StringIO()):
        return estimate_model(model, part=real.get("part"), rules=rules)


def measure(model, real: dict, prj: Path) -> dict:
    """The constants this one report alone would give (None / [] where it has no such layer)."""
    base = TOOL_RULES[tool_of(model)]
    lut0 = _estimate(model, real, dataclasses.replace(base, sat_lut_per_bit=0.0))["resources"]["LUT"]
    lut1 = _estimate(model, real, dataclasses.replace(base, sat_lut_per_bit=1.0))["resources"]["LUT"]
    sat = (real["resources"]["LUT"] - lut0) / (lut1 - lut0) if lut1 > lut0 else None
    lat, res = instance_rows(prj)
    overhead, zeropad = [], []
    stream = model.config.get_config_value("IOType") == "io_stream"
    for node in model.get_layers():
        cls = type(node).__name__
        if stream and "Conv" in cls and str(node.get_attr("strategy")).lower().startswith("resource") \
                and node.index in lat:
            pixels = int(np.prod(list(node.get_input_variable().shape)[:-1]))
            overhead.append(int(lat[node.index][0][1]) / pixels - int(node.get_attr("reuse_factor")))
        if "ZeroPadding" in cls and node.index in res:
            zeropad.append(int(res[node.index][3]))
    return {"sat_lut_per_bit": sat, "resource_pixel_overhead": overhead, "zeropad_lut": zeropad}


def constants(measured: dict, held_out: set[str]) -> dict:
    """The measured constants as medians over the reports not in ``held_out``.  Where none of them has such a
    layer, nothing measured is used: the saturating accumulator is priced with HLS's operator costs
    (sat_lut_per_bit None), a Resource conv pixel takes its R cycles and nothing more, and the zero padding
    costs what the shipped default says (measured on several families, so never fully held out)."""
    rest = [m for name, m in measured.items() if name not in held_out]
    sat = [m["sat_lut_per_bit"] for m in rest if m["sat_lut_per_bit"] is not None]
    over = [x for m in rest for x in m["resource_pixel_overhead"] if x >= 0]  # < 0: a mismatched report row
    pad = [x for m in rest for x in m["zeropad_lut"]]
    return {"sat_lut_per_bit": float(np.median(sat)) if sat else None,
            "resource_pixel_overhead": int(round(float(np.median(over)))) if over else 0,
            "zeropad_lut": int(round(float(np.median(pad)))) if pad else TOOL_RULES[VIVADO_HLS].zeropad_lut}


def _index_names(roots) -> dict:
    """folder -> 'owner/repo' from each report folder's INDEX.md rows ('| 9 | owner/repo @ commit | ...')."""
    names = {}
    for root in roots:
        index = Path(root) / "INDEX.md"
        if index.is_file():
            for owner, repo in re.findall(r"^\| \d+ \| ([\w.-]+)/([\w.-]+) @", index.read_text(), flags=re.M):
                names[repo] = f"{owner}/{repo}"
    return names


REPO_NAMES = _index_names(ROOTS)


def repository(name: str) -> str:
    """A design's source repository 'owner/repo': its first folder (``owner__repo`` in the corpus; a
    repository's name in ../shared/hls_reports, whose INDEX.md names the owner)."""
    first = name.split("/")[0]
    return REPO_NAMES.get(first, first.replace("__", "/"))


def _abs_pct(est: float, real: float) -> float:
    """|estimate - real| / real in percent (0 when both are 0, inf when only the real value is)."""
    if real == 0:
        return 0.0 if est == 0 else float("inf")
    return 100.0 * abs(est - real) / real


def score(projects: dict, held_out_for) -> tuple[list[list[str]], dict, dict]:
    """Each project estimated with the constants measured on the reports ``held_out_for(name)`` leaves in:
    table rows, |error| % and real / estimate - 1 per quantity and project."""
    measured = {name: p["measured"] for name, p in projects.items()}
    rows, errors, ratios = [], {q: {} for q in QUANTITIES}, {q: {} for q in QUANTITIES}
    for name, p in projects.items():
        rules = dataclasses.replace(TOOL_RULES[p["tool"]], **constants(measured, held_out_for(name)))
        est = _estimate(p["model"], p["real"], rules)
        cells = []
        for q in QUANTITIES:
            e, r = _value(est, q), _value(p["real"], q)
            errors[q][name], ratios[q][name] = _abs_pct(e, r), ratio(e, r)
            pct = _pct(e, r)
            cells.append(f"{e:,} / {r:,} ({'n/a' if pct is None else f'{pct:+.0f} %'})")
        rows.append([name, p["real"]["source"], *cells])
    return rows, errors, ratios


def _tool_median(errors: dict, projects: dict, tool: str) -> float:
    return float(np.median([e for n, e in errors.items() if projects[n]["tool"] == tool]))


def _enough(names) -> bool:
    return len(names) >= MIN_DESIGNS and len({repository(n) for n in names}) >= MIN_TOOL_REPOSITORIES


def _scope(projects: dict, tool: str, names) -> list[str]:
    """The designs of ``names`` a band for ``tool`` is made of: the tool's own where there are enough
    (``MIN_DESIGNS`` from ``MIN_TOOL_REPOSITORIES``), else all."""
    own = [n for n in names if projects[n]["tool"] == tool]
    return own if _enough(own) else list(names)


def _band(ratios: dict, names: list[str]):
    return calibrated_interval({n: ratios[n] for n in names}, {n: repository(n) for n in names})


def band_entry(errors: dict, ratios: dict, names: list[str], coverage: float | None, scope: str) -> dict:
    band = _band(ratios, names)
    errs = [errors[n] for n in names]
    return {"low_pct": None if band is None else round(100 * band[0], 1),
            "high_pct": None if band is None else round(100 * band[1], 1),
            "widening": None if band is None else band[2],
            "median_abs_pct": round(float(np.median(errs)), 1),
            "p80_abs_pct": round(float(np.percentile(errs, 80)), 1),
            "n": len(names), "repositories": len({repository(n) for n in names}),
            "coverage": None if coverage is None else round(coverage, 3), "scope": scope}


def coverage(projects: dict, ratios: dict, q: str, names: list[str], tool_scoped: bool) -> tuple[float, list]:
    """The fraction of ``names`` whose real value lies inside the 80 % band made without their repository
    (of their tool's designs where the printed band is the tool's), and the designs outside."""
    inside, outside = 0, []
    for n in names:
        others = [m for m in projects if repository(m) != repository(n)]
        pool = _scope(projects, projects[n]["tool"], others) if tool_scoped else others
        band = _band(ratios[q], pool)
        if band is not None and band[0] <= ratios[q][n] <= band[1]:
            inside += 1
        else:
            outside.append(n)
    return inside / len(names), outside


def medians(errors: dict, targets: bool, names=None) -> list[str]:
    out = []
    for q in QUANTITIES:
        errs = [e for n, e in errors[q].items() if names is None or n in names]
        if errs:
            med, target = float(np.median(errs)), TARGETS.get(q) if targets else None
            verdict = "" if target is None else f" (target <= {target} %: {'met' if med <= target else '**missed**'})"
            out.append(f"- {q}: median |error| {med:.0f} %, 80th percentile {np.percentile(errs, 80):.0f} % over "
                       f"{len(errs)} designs{verdict}")
    return out


def load(roots: list[Path]) -> tuple[dict, list]:
    projects, skipped = {}, []
    for root in roots:
        for cfg_file in sorted(root.rglob("hls4ml_config.yml")):
            prj = cfg_file.parent
            name = str(prj.relative_to(root)) if prj != root else root.name
            try:
                real = parse_project(prj)
            except Exception as exc:
                skipped.append((name, f"no synthesis report parsed: {exc}"))
                continue
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    model = load_project(prj)
                projects[name] = {"model": model, "real": real, "tool": tool_of(model),
                                  "measured": measure(model, real, prj)}
            except Exception as exc:
                skipped.append((name, f"{type(exc).__name__}: {str(exc)[:120]}"))
    return projects, skipped


def unfetched() -> list[str]:
    """The referenced designs (bench/estimator_corpus/referenced.yaml) not fetched into build/estimator_corpus."""
    import yaml

    designs = yaml.safe_load((REPO / "bench" / "estimator_corpus" / "referenced.yaml").read_text())["designs"]
    return [f"{d['repository']}:{d['folder']}" for d in designs
            if not (ROOTS[1] / d["repository"].replace("/", "__") / d["folder"] / "hls4ml_config.yml").is_file()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reports", nargs="+", default=[str(p) for p in ROOTS],
                    help="folders searched for hls4ml_config.yml (default: ROOTS)")
    ap.add_argument("--no-docs", action="store_true", help="do not rewrite docs/estimator.md and docs/hardware.md's summary")
    ap.add_argument("--no-band", action="store_true", help="do not rewrite l1tag/hardware/error_band.json")
    args = ap.parse_args()
    projects, skipped = load([Path(r) for r in args.reports if Path(r).is_dir()])
    missing = unfetched()
    if missing:  # the shipped band is measured on the whole corpus: a partial run only prints
        print(f"{len(missing)} referenced designs are not in build/estimator_corpus (run python "
              "bench/estimator_corpus/fetch.py): the tables below leave them out, and error_band.json and the docs "
              "are not rewritten")
        args.no_band = args.no_docs = True
    names = sorted(projects)
    repos = sorted({repository(n) for n in names})
    tools = sorted({p["tool"] for p in projects.values()})
    header = ("| design | tool | " + " | ".join(f"{q} est / real" for q in QUANTITIES) + " |\n|---|---|"
              + "---|" * len(QUANTITIES))
    loro_rows, loro, ratios = score(projects, lambda name: {n for n in projects if repository(n) == repository(name)})
    _, inside, _ = score(projects, lambda name: set())

    band = {"method": "leave-one-repository-out over real hls4ml syntheses (bench/estimator_accuracy.py)",
            "designs": [{"name": n, "repository": repository(n), "tool": projects[n]["tool"]} for n in names],
            "quantities": {}, "tools": {}}
    cover_lines, outside_lines = [], []
    for q in QUANTITIES:
        cov_all, out_all = coverage(projects, ratios, q, names, tool_scoped=False)
        band["quantities"][q] = band_entry(loro[q], ratios[q], names, cov_all, "all tools")
        cov_tool, out_tool = coverage(projects, ratios, q, names, tool_scoped=True)
        for tool in tools:
            own = [n for n in names if projects[n]["tool"] == tool]
            if _enough(own):
                cov = sum(n not in out_tool for n in own) / len(own)
                band["tools"].setdefault(tool, {})[q] = band_entry(loro[q], ratios[q], own, cov, tool)
        entry = band["quantities"][q]
        rng = ("no band" if entry["low_pct"] is None else f"{entry['low_pct']:+.0f} % … {entry['high_pct']:+.0f} %")
        cover_lines.append(f"| {q} | {entry['median_abs_pct']:.0f} % | {entry['p80_abs_pct']:.0f} % | {rng} | "
                           f"{100 * cov_all:.0f} % | {100 * cov_tool:.0f} % | "
                           + "; ".join(f"{t}: {_tool_median(loro[q], projects, t):.0f} %" for t in tools) + " |")
        outside_lines.append(f"- {q}: " + (", ".join(out_tool) or "none"))
    summary = "\n".join([
        f"{len(names)} real designs from {len(repos)} repositories ({', '.join(tools)}). Leave-one-repository-out: "
        "each design estimated with constants measured on the other repositories only, and its band made of the "
        "other repositories' errors only.", "",
        "| quantity | median \\|error\\| | 80th percentile | 80 % band of real / estimate (all designs) | coverage "
        "(pooled band) | coverage (printed band: a tool's own from >= 9 designs of >= 10 repositories) | "
        "median \\|error\\| per tool |",
        "|---|---|---|---|---|---|---|", *cover_lines])
    text = "\n".join([
        summary, "",
        "Per design, leave-one-repository-out:", "", header, *("| " + " | ".join(r) + " |" for r in loro_rows), "",
        "Medians against the targets, leave-one-repository-out:", *medians(loro, True), "",
        "The same, in sample (constants measured on every design; for comparison only):", *medians(inside, False), "",
        "Designs outside the printed band made without their repository:", *outside_lines,
    ])
    if skipped:
        text += "\n\nNot compared:\n" + "\n".join(f"- {n}: {why}" for n, why in skipped)
    print(text)
    if not args.no_band:
        BAND_FILE.write_text(json.dumps(band, indent=1) + "\n")
    if not args.no_docs:
        write_between_markers("estimator_accuracy", text, DOCS)
        write_between_markers("estimator_accuracy", summary, REPO / "docs" / "hardware.md")


if __name__ == "__main__":
    main()
