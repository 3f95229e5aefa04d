"""Search-space files: every value of every dimension is checked at load, and the sampler's seed too
(issue 22: a bad middle value of a list was found only when its trial ran; `seed: abc` was an internal error)."""

from __future__ import annotations

import pytest
import yaml

from l1tag.cli import main
from l1tag.errors import ConfigError
from l1tag.search.space import load_space

BASE = {"name": "sbase", "data": {"constituents": 8}}


def _space(tmp_path, body: dict):
    p = tmp_path / "space.yaml"
    p.write_text(yaml.safe_dump(body, sort_keys=False))
    return p


@pytest.mark.parametrize("body, words", [
    ({"name": "s", "space": {"hls.parallelization_factor": [2, 3, 4]}}, "'hls.parallelization_factor' = 3"),
    ({"name": "s", "space": {"hls.parallelization_factor": {"range": [2, 4]}}}, "'hls.parallelization_factor' = 3"),
    ({"name": "s", "space": {"model.d_model": [8, 10, 16]}}, "'model.d_model' = 10"),
    ({"name": "s", "seed": "abc", "space": {"model.d_model": [8]}}, "seed (the random sampler's) must be an integer"),
    ({"name": "s", "seed": 2**40, "space": {"model.d_model": [8]}}, "seed (the random sampler's) must be an integer"),
    ({"name": "s", "space": {"model.d_model": {"range": [1, 10**9]}}}, "gives more than 1000 values"),
    ({"name": "s", "space": {"train.learning_rate": {"log_range": [0.001, float("inf")]}}}, "log_range needs"),
    ({"name": "s", "space": {"train.learning_rate": {"log_range": [0.001, 0.01], "num": 10**9}}}, "log_range needs"),
])
def test_every_value_and_the_seed_are_checked_at_load(tmp_path, body, words):
    with pytest.raises(ConfigError) as err:
        load_space(_space(tmp_path, body), BASE)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_a_bad_seed_exits_2_through_the_cli(tmp_path, capsys):
    base = tmp_path / "base.yaml"
    base.write_text(yaml.safe_dump(BASE))
    space = _space(tmp_path, {"name": "s", "seed": "abc", "space": {"model.d_model": [8]}})
    assert main(["search", "-c", str(base), "--space", str(space), "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "seed (the random sampler's)" in err and len(err.strip().splitlines()) == 1


def test_a_valid_space_loads_with_every_value(tmp_path):
    space = load_space(_space(tmp_path, {"name": "s", "sampler": "random", "seed": 7, "space": {
        "hls.parallelization_factor": [1, 2, 4, 8], "train.learning_rate": {"log_range": [0.001, 0.01], "num": 3}}}),
        BASE)
    assert space.seed == 7 and len(space.trials(5)) == 5


@pytest.mark.parametrize("name", ["small", "hetero"])
def test_every_shipped_space_loads_against_the_default_config(name):
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    base = yaml.safe_load((repo / "configs" / "salt_l1.yaml").read_text())
    space = load_space(repo / "configs" / "search" / f"{name}.yaml", base)
    assert len(space.trials(100)) == {"small": 8, "hetero": 6}[name]
    if name == "hetero":
        assert space.fixed["quantization.mode"] == "heterogeneous"
        assert {d.key for d in space.dimensions} == {"quantization.target.ebops", "hls.parallelization_factor"}
