"""l1tag search: the space file's checks, a two-trial search on Ray, resuming, and best.yaml reproducing its trial."""

from __future__ import annotations

import json

import pytest
import yaml

from l1tag.cli import main
from l1tag.config import config_from_dict
from l1tag.errors import ConfigError
from l1tag.search.space import load_space, trial_id

BASE = {"name": "sbase", "seed": 5, "data": {"jets": 250, "constituents": 8, "generate_jobs": 1},
        "model": {"type": "salt", "d_model": 8, "heads": 2, "partitions": 2, "ffn_dim": 8, "head_dims": [8]},
        "train": {"epochs": 2, "qat_epochs": 1, "batch_size": 64, "patience": 2},
        "hls": {"strategy": "Latency", "parallelization_factor": 2}, "rtl": {"enabled": False},
        "csim": {"jets": 20, "min_argmax_agreement_float": 0.0, "max_accuracy_drop_float": 100.0}}


def _space(tmp_path, body: dict, name="space.yaml"):
    p = tmp_path / name
    p.write_text(yaml.safe_dump(body, sort_keys=False))
    return p


@pytest.mark.parametrize("body, words", [
    ({"name": "s", "space": {"model.d_modl": [8]}}, "space key 'model.d_modl'"),
    ({"name": "s", "space": {"hls.parallelization_factor": [3]}}, "'hls.parallelization_factor' = 3"),
    ({"name": "s", "space": {"train.learning_rate": {"log_range": [0.01, 0.001]}}}, "log_range needs"),
    ({"name": "s", "space": {"model.heads": {"range": [1, 4], "step": 0}}}, "range needs"),
    ({"name": "s", "sampler": "bayes", "space": {"model.heads": [1]}}, "sampler must be one of grid, random"),
    ({"name": "s", "space": {}}, "'space' must map config keys"),
    ({"space": {"model.heads": [1]}}, "'name'"),
])
def test_a_bad_space_exits_2_naming_the_key(tmp_path, capsys, body, words):
    base = tmp_path / "base.yaml"
    base.write_text(yaml.safe_dump(BASE))
    assert main(["search", "-c", str(base), "--space", str(_space(tmp_path, body)), "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert words in err and len(err.strip().splitlines()) == 1


def test_grid_and_random_trials_are_fixed_by_the_space(tmp_path):
    base = config_from_dict(BASE).to_dict()
    grid = load_space(_space(tmp_path, {"name": "g", "space": {"model.d_model": [8, 16],
                                                                "hls.parallelization_factor": {"range": [2, 4],
                                                                                               "step": 2}}}), base)
    assert grid.trials() == [{"model.d_model": d, "hls.parallelization_factor": p} for d in (8, 16) for p in (2, 4)]
    rnd = load_space(_space(tmp_path, {"name": "r", "sampler": "random", "seed": 3, "space": {
        "train.learning_rate": {"log_range": [0.001, 0.01]}}}, "r.yaml"), base)
    draws = rnd.trials(5)
    assert draws == rnd.trials(5) and all(0.001 <= d["train.learning_rate"] <= 0.01 for d in draws)
    with pytest.raises(ConfigError, match="not found"):
        load_space(tmp_path / "missing.yaml", base)


@pytest.mark.slow  # suite time (90 s: two trials on Ray, a resume and a rebuild); make test-slow
def test_a_two_trial_search_resumes_and_its_best_config_rebuilds_the_trial(tmp_path, capsys):
    base = tmp_path / "base.yaml"
    base.write_text(yaml.safe_dump(BASE))
    space = _space(tmp_path, {"name": "tiny_search", "fixed": {"train.qat_epochs": 1},
                              "space": {"hls.parallelization_factor": [2, 4]}})
    args = ["search", "-c", str(base), "--space", str(space), "-o", str(tmp_path / "out")]
    capsys.readouterr()
    assert main(args) == 0
    printed = capsys.readouterr()
    for foreign in ("Token authentication", "RAY_AUTH_MODE", "Configuration for experiment", "Tuner.restore",
                    "Trial status", "ray.init"):  # Ray's and Tune's own lines and advice
        assert foreign not in printed.out and foreign not in printed.err, foreign
    out = tmp_path / "out" / "tiny_search"
    for name in ("trials.csv", "trials.parquet", "pareto.png", "search.md", "best.yaml", "search.json"):
        assert (out / name).is_file(), name
    rows = {r["hls.parallelization_factor"]: r for r in
            (json.loads(p.read_text()) for p in sorted(out.glob("trials/*/result.json")))}
    assert set(rows) == {2, 4} and all(r["status"] == "done" for r in rows.values())
    assert rows[4]["ii_cycles"] < rows[2]["ii_cycles"] and rows[4]["LUT"] > rows[2]["LUT"]  # P: speed for area
    assert rows[2]["energy_pj"] == rows[4]["energy_pj"] > 0  # the same arithmetic, whatever P
    # the jets were generated once, into the jet cache, and every trial started from them
    from l1tag.data.cache import list_entries

    assert [e["jets"] for e in list_entries() if e["seed"] == BASE["seed"]].count(BASE["data"]["jets"]) == 1
    # resuming: nothing left to run; a trial whose result is gone runs again, alone
    capsys.readouterr()
    assert main(args) == 0
    assert "2 trials (2 done" in capsys.readouterr().out
    (out / "trials" / trial_id({"train.qat_epochs": 1, "hls.parallelization_factor": 4}) / "result.json").unlink()
    assert main(args) == 0
    assert json.loads((out / "trials" / rows[4]["trial"] / "result.json").read_text())["LUT"] == rows[4]["LUT"]
    # best.yaml is the most accurate trial within budget, and builds to its numbers
    summary = json.loads((out / "search.json").read_text())
    best = rows[2] if summary["best"] == rows[2]["trial"] else rows[4]
    assert main(["build", "-c", str(out / "best.yaml"), "-o", str(tmp_path / "rebuilt")]) == 0
    report = json.loads((tmp_path / "rebuilt" / "report.json").read_text())
    assert report["quality"]["quantized"]["accuracy"] == best["accuracy"]
    assert report["hardware"]["resources"]["LUT"] == best["LUT"]
    assert report["hardware"]["latency_ns"] == best["latency_ns"]
