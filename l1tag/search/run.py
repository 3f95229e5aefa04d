"""``l1tag search``: every trial of a space is an l1tag build up to the hardware estimate, run by Ray Tune.

Layout of ``build/<search>/``::

    data/, .stages/data.json   the data stage, run once when no trial changes seed or data.*; every
                               trial starts from it (its prepared.npz and train.h5 hard-linked, its record copied)
    trials/<id>/               one build directory per trial (id: digest of its overrides), with
                               result.json when it finished (failed trials too, with their error)
    ray/                       Ray Tune's own experiment folder
    trials.csv, trials.parquet every trial: its keys, accuracy, AUC, LUT, FF, DSP, latency, II, energy per
                               jet, budget verdict, status, error
    pareto.png, search.md      accuracy against LUT and latency, the Pareto front; the table
    best.yaml                  the most accurate config within budget, ready for ``l1tag build``

Resuming: a trial with a result.json is never run again, so a search killed midway and started again
runs only the missing trials.  A failed trial is recorded with its error and never stops the search.
Trials that break the budget are kept and marked.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import yaml

from l1tag.files import write_json, write_text
from l1tag.search.space import apply, trial_id

log = logging.getLogger("l1tag")

COLUMNS = ("accuracy", "auc", "LUT", "FF", "DSP", "BRAM_18K", "latency_ns", "latency_cycles", "ii_cycles",
           "energy_pj", "budget_pass", "status", "error", "seconds")


def _shared_data(base_cfg, search_dir: Path) -> Path:
    """Run the data stage once in the search folder (every trial that keeps seed and data.* reuses it)."""
    from l1tag.build import StageContext, run_stage

    ctx = StageContext(base_cfg, search_dir, verbose=0)
    search_dir.mkdir(parents=True, exist_ok=True)
    run_stage(ctx, "data")
    return search_dir


def run_trial(base: dict, overrides: dict, search_dir: str, csim: bool) -> dict:
    """One trial, in a Ray worker (or here): data (shared when it can be), train, convert, estimate, budget
    (C-simulation with ``csim``); writes trials/<id>/result.json and returns the row."""
    import contextlib
    import io

    from l1tag.build import StageContext, run_stage, stage_key
    from l1tag.config import config_from_dict, load_budget
    from l1tag.hardware.budget import check_budget
    from l1tag.hardware.estimate import estimate_model
    from l1tag.hls.convert import convert_model
    from l1tag.models.builders import load_model

    search_dir = Path(search_dir)
    tid = trial_id(overrides)
    out = search_dir / "trials" / tid
    row = {"trial": tid, **overrides}
    t0 = time.perf_counter()
    try:
        cfg = config_from_dict(apply(base, {**overrides, "name": f"{search_dir.name}-{tid}"}),
                               origin=f"trial {tid}")
        out.mkdir(parents=True, exist_ok=True)
        shared = search_dir / ".stages" / "data.json"
        if shared.exists() and stage_key(cfg, "data", out) == json.loads(shared.read_text())["key"]:
            (out / "data").mkdir(exist_ok=True)
            (out / ".stages").mkdir(exist_ok=True)
            for name in ("prepared.npz", "train.h5"):  # train.h5: a streamed training split
                source, target = search_dir / "data" / name, out / "data" / name
                if source.exists() and not target.exists():
                    try:
                        os.link(source, target)
                    except OSError:  # a file system without hard links: a copy
                        shutil.copy(source, target)
            shutil.copy(shared, out / ".stages" / "data.json")
        ctx = StageContext(cfg, out, verbose=-1)
        for stage in ("data", "train") + (("firmware",) if csim else ()):
            run_stage(ctx, stage)
        metrics = json.loads((out / "model" / "metrics.json").read_text())
        quality = metrics.get("quantized") or metrics["float"]
        converted = ctx.converted
        if converted is None:
            with contextlib.redirect_stdout(io.StringIO()):
                converted = convert_model(load_model(out / "model" / "qat.h5"), cfg.hls, out / "hls")
        hw = estimate_model(converted.hls_model)
        budget = check_budget(hw, load_budget(cfg.budget.file), cfg.budget.require_margin)
        energy = metrics["model"].get("energy_pj_per_jet", {})
        row.update(accuracy=quality["accuracy"], auc=quality["auc_macro"], **{k: hw["resources"][k] for k in
                   ("LUT", "FF", "DSP", "BRAM_18K")}, latency_ns=hw["latency_ns"], latency_cycles=hw["latency_cycles"],
                   ii_cycles=hw["ii_cycles"], energy_pj=energy.get("quantized", energy.get("float32")),
                   budget_pass=budget["pass"], status="done", error=None)
        if csim:
            row["bit_exact_fraction"] = json.loads((out / "csim.json").read_text())["bit_exact_fraction"]
    except Exception as exc:  # a failed trial is a row, never the end of the search
        row.update(status="failed", error=f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}")
    row["seconds"] = round(time.perf_counter() - t0, 1)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "result.json", row)
    return row


def _trainable(config: dict) -> None:
    """Ray Tune's function: one trial (its row is in its result.json, which resuming reads)."""
    run_trial(config["base"], config["overrides"], config["search_dir"], config["csim"])


def run_search(base_cfg, space, trials: int | None = None, address: str | None = None, csim: bool = False,
               out_root: Path = Path("build")) -> dict:
    """Every trial of ``space`` not yet finished, through Ray Tune; then the tables, plot and best.yaml."""
    base = base_cfg.to_dict()
    search_dir = Path(out_root).resolve() / space.name
    search_dir.mkdir(parents=True, exist_ok=True)
    all_overrides = [{**space.fixed, **o} for o in space.trials(trials)]
    seen, todo = set(), []
    for o in all_overrides:
        tid = trial_id(o)
        if tid in seen:
            continue
        seen.add(tid)
        if not (search_dir / "trials" / tid / "result.json").exists():
            todo.append(o)
    log.info("search %s: %d trials, %d finished before, %d to run", space.name, len(seen), len(seen) - len(todo),
             len(todo))
    t0 = time.perf_counter()
    if todo:
        from l1tag.config import config_from_dict

        varied = [d.key for d in space.dimensions]
        if not any(k == "seed" or k.startswith("data.") for k in varied):  # the jets once, for every trial
            _shared_data(config_from_dict(apply(base, {**space.fixed, "name": space.name})), search_dir)
        _run_with_ray(base, todo, search_dir, csim, address)
    rows = [json.loads((search_dir / "trials" / trial_id(o) / "result.json").read_text()) for o in all_overrides
            if (search_dir / "trials" / trial_id(o) / "result.json").exists()]
    return write_outputs(base, space, rows, search_dir, time.perf_counter() - t0)


def _run_with_ray(base: dict, todo: list[dict], search_dir: Path, csim: bool, address: str | None) -> None:
    """The trials on Ray Tune.  Ctrl-C and SIGTERM end the search with KeyboardInterrupt (exit 130: rerunning
    `l1tag search` resumes it), not with Tune's own handler, which returns as if the search had finished and
    advises Tuner.restore; a Ray that this call started is shut down however it ends (no agents left)."""
    os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
    from ray import tune

    from l1tag.parallel import local_ray

    main_thread = threading.current_thread() is threading.main_thread()  # signal handlers live there only
    previous = signal.signal(signal.SIGTERM, _interrupt) if main_thread else None
    try:
        with local_ray(address=address):
            space = {"base": base, "search_dir": str(search_dir), "csim": csim, "overrides": tune.grid_search(todo)}
            tuner = tune.Tuner(
                tune.with_resources(_trainable, {"cpu": 1}), param_space=space,
                tune_config=tune.TuneConfig(reuse_actors=False),
                run_config=tune.RunConfig(storage_path=str(search_dir / "ray"), name="tune", verbose=0,
                                          failure_config=tune.FailureConfig(max_failures=0)))
            # Tune prints its own tables (the experiment's configuration, trial status) on stdout whatever its
            # verbosity: they go to the search's log file, l1tag's own lines stay on the terminal
            with open(search_dir / "ray.log", "a") as tune_log, contextlib.redirect_stdout(tune_log):
                tuner.fit()
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def pareto_front(rows: list[dict], cost: str) -> list[dict]:
    """The finished rows no other finished row beats in both accuracy (higher) and ``cost`` (lower)."""
    done = [r for r in rows if r.get("status") == "done"]
    return [r for r in done if not any(o["accuracy"] >= r["accuracy"] and o[cost] <= r[cost] and
                                       (o["accuracy"] > r["accuracy"] or o[cost] < r[cost]) for o in done)]


def write_outputs(base: dict, space, rows: list[dict], search_dir: Path, seconds: float) -> dict:
    """trials.csv / .parquet, pareto.png, search.md and best.yaml from the trials' rows."""
    import pandas as pd

    keys = [d.key for d in space.dimensions] + [k for k in space.fixed if k not in [d.key for d in space.dimensions]]
    frame = pd.DataFrame([{**{k: r.get(k) for k in ["trial"] + keys}, **{c: r.get(c) for c in COLUMNS}}
                          for r in rows])
    frame.to_csv(search_dir / "trials.csv", index=False)
    frame.to_parquet(search_dir / "trials.parquet", index=False)
    done = [r for r in rows if r.get("status") == "done"]
    fitting = [r for r in done if r.get("budget_pass")]
    best = max(fitting, key=lambda r: (r["accuracy"], -r["LUT"])) if fitting else None
    if best is not None:
        cfg = apply(base, {**{k: best[k] for k in keys}, "name": f"{space.name}-best"})
        write_text(search_dir / "best.yaml", f"# l1tag search {space.name}: trial {best['trial']}, the most accurate "
                   f"within budget (accuracy {best['accuracy']:.4f}, LUT {best['LUT']:,} ESTIMATE)\n"
                   + yaml.safe_dump(cfg, sort_keys=False))
    _plot(rows, search_dir / "pareto.png", base)
    summary = {"name": space.name, "trials": len(rows), "done": len(done),
               "failed": sum(r.get("status") == "failed" for r in rows), "within_budget": len(fitting),
               "best": best["trial"] if best else None, "seconds_this_run": round(seconds, 1),
               "trial_seconds": round(sum(r.get("seconds") or 0 for r in rows), 1)}
    write_text(search_dir / "search.md", _markdown(space, rows, keys, summary, best))
    write_json(search_dir / "search.json", summary)
    return summary


def _markdown(space, rows, keys, summary, best) -> str:
    front = {r["trial"] for r in pareto_front(rows, "LUT")}
    head = "| trial | " + " | ".join(keys) + " | accuracy | LUT (ESTIMATE) | latency ns (ESTIMATE) | II | energy/jet nJ " \
           "| budget | status |"
    lines = [f"# l1tag search {space.name}", "",
             f"{summary['trials']} trials ({summary['done']} done, {summary['failed']} failed), "
             f"{summary['within_budget']} within budget; best: {summary['best'] or 'none within budget'}. "
             "Hardware numbers are ESTIMATES (l1tag's model, not synthesis); * = on the accuracy-LUT Pareto front.",
             "", head, "|" + "---|" * (len(keys) + 8)]
    for r in sorted(rows, key=lambda r: -(r.get("accuracy") or -1)):
        if r.get("status") != "done":
            lines.append(f"| {r['trial']} | " + " | ".join(str(r.get(k)) for k in keys)
                         + f" | — | — | — | — | — | — | failed: {r.get('error')} |")
            continue
        mark = "*" if r["trial"] in front else ""
        lines.append(f"| {r['trial']}{mark} | " + " | ".join(str(r.get(k)) for k in keys)
                     + f" | {r['accuracy']:.4f} | {r['LUT']:,} | {r['latency_ns']:.0f} | {r['ii_cycles']} | "
                     f"{(r.get('energy_pj') or 0) / 1000:.1f} | {'PASS' if r['budget_pass'] else 'FAIL'} | done |")
    return "\n".join(lines) + "\n"


def _plot(rows: list[dict], path: Path, base: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    from l1tag.config import load_budget
    from l1tag.devices import part_totals

    done = [r for r in rows if r.get("status") == "done"]
    budget = load_budget(base["budget"]["file"])
    totals = part_totals(base["hls"]["part"]) or {}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, cost, label, limit in (
            (axes[0], "LUT", "LUT (ESTIMATE)", (budget.limits.utilization.LUT or 0) * totals.get("LUT", 0) or None),
            (axes[1], "latency_ns", "latency ns (ESTIMATE)", budget.limits.latency_ns)):
        for ok, colour in ((True, "tab:blue"), (False, "tab:red")):
            pts = [r for r in done if bool(r["budget_pass"]) == ok]
            ax.scatter([r[cost] for r in pts], [r["accuracy"] for r in pts], c=colour, s=25,
                       label="within budget" if ok else "breaks budget")
        front = sorted(pareto_front(rows, cost), key=lambda r: r[cost])
        ax.plot([r[cost] for r in front], [r["accuracy"] for r in front], "k--", lw=1, label="Pareto front")
        if limit:
            ax.axvline(limit, color="tab:red", lw=1, ls=":", label=f"budget {budget.name}")
        if cost == "LUT":  # thousands: the raw counts overlap
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v / 1000:.0f}k"))
        ax.set_xlabel(label)
        ax.set_ylabel("test accuracy (QKeras)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

