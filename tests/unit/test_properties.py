"""Property-based tests (hypothesis) of every file a user hands l1tag (issue 22): any mutation of a shipped config,
a budget, a search space or a bundle manifest is accepted or refused with one line (ConfigError / DataError: exit
2), never an internal error, and fast.  Bounded: 100 examples each, 1 s per example."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from l1tag.cli import main
from l1tag.config import config_from_dict, load_budget, load_config
from l1tag.errors import ConfigError
from l1tag.package.bundle import _manifest_problem
from l1tag.search.space import load_space

REPO = Path(__file__).resolve().parents[2]
BASE = yaml.safe_load((REPO / "configs" / "salt_l1.yaml").read_text())
BUDGET = yaml.safe_load((REPO / "configs" / "budgets" / "l1t_200mhz_tm18.yaml").read_text())
# no deadline: a grid of a few hundred configs validates in about a second on 2 loaded cores; speed is not what
# these tests guard (benches measure speed)
BOUNDED = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# values a careless edit produces: wrong types, the edges of numbers, huge and non-finite ones, odd strings
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-2**70, 2**70), st.sampled_from([0, 1, -1, 2**31, 2**32, 2**63, 10**30]),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([math.nan, math.inf, -math.inf, 0.5, 1e-300]),
    st.text(max_size=12), st.sampled_from(["", "int", "class", "mean", "Resource", "../x", "x" * 300, "1e30"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                      max_leaves=6)


def _paths(tree, prefix=()):
    """Every key path of a nested mapping (a section or a value)."""
    for k, v in tree.items():
        yield prefix + (k,)
        if isinstance(v, dict):
            yield from _paths(v, prefix + (k,))


CONFIG_PATHS = sorted(_paths(BASE))
BUDGET_PATHS = sorted(_paths(BUDGET))


@st.composite
def mutated(draw, base: dict, paths: list):
    """The base mapping with a few keys set to odd values, deleted, or added next to them."""
    out = json.loads(json.dumps(base))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(paths))
        node = out
        for k in path[:-1]:
            node = node.get(k) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            continue
        how = draw(st.sampled_from(["set", "delete", "add"]))
        if how == "set":
            node[path[-1]] = draw(values)
        elif how == "delete":
            node.pop(path[-1], None)
        else:
            node[draw(st.text(min_size=1, max_size=8))] = draw(values)
    return out


def _dump(tmp_path: Path, name: str, tree) -> Path:
    p = tmp_path / name
    p.write_text(yaml.safe_dump(tree, allow_unicode=True))
    return p


@BOUNDED
@given(cfg=mutated(BASE, CONFIG_PATHS))
def test_a_mutated_config_loads_or_is_one_config_error(tmp_path, cfg):
    try:
        loaded = config_from_dict(cfg, REPO / "configs", "c.yaml")
    except ConfigError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("c.yaml")
    else:
        json.dumps(loaded.to_dict(), allow_nan=False)  # report.json must stay JSON: no NaN, no inf


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cfg=mutated(BASE, CONFIG_PATHS))
def test_a_mutated_config_through_the_cli_exits_0_or_2(tmp_path, capsys, cfg):
    """The CLI entry point on a cheap path that only loads the config: `l1tag search` with a space whose only
    key is refused stops at load (exit 2 either way: the config's line, or the space's)."""
    c = _dump(tmp_path, "c.yaml", cfg)
    s = _dump(tmp_path, "s.yaml", {"name": "s", "space": {"model.no_such_key": [1]}})
    code = main(["search", "-c", str(c), "--space", str(s), "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and "internal error" not in err and "Traceback" not in err


@BOUNDED
@given(budget=mutated(BUDGET, BUDGET_PATHS))
def test_a_mutated_budget_loads_or_is_one_config_error(tmp_path, budget):
    p = _dump(tmp_path, "b.yaml", budget)
    try:
        load_budget(p)
    except ConfigError as exc:
        assert "\n" not in str(exc)


SPACE = {"name": "s", "sampler": "grid", "seed": 1, "fixed": {"train.epochs": 2},
         "space": {"model.d_model": [8, 16], "hls.parallelization_factor": {"range": [4, 8], "step": 4},
                   "train.learning_rate": {"log_range": [0.001, 0.01], "num": 3}}}


@BOUNDED
@given(space=mutated(SPACE, sorted(_paths(SPACE))))
def test_a_mutated_search_space_loads_or_is_one_config_error(tmp_path, space):
    p = _dump(tmp_path, "s.yaml", space)
    try:
        load_space(p, BASE)
    except ConfigError as exc:
        assert "\n" not in str(exc)


MANIFEST = {"top_function": "myproject", "firmware_sha256": "0" * 64, "files": {"hls/a.cpp": "1" * 64},
            "interface": {"inputs": [{"name": "x", "shape": [32, 3], "type": "ap_fixed<14,6>"}],
                          "outputs": [{"name": "y", "shape": [5], "type": "ap_fixed<16,8>"}]}}


@BOUNDED
@given(manifest=mutated(MANIFEST, sorted(_paths(MANIFEST))))
def test_a_mutated_manifest_is_accepted_or_named(manifest):
    problem = _manifest_problem(manifest)
    if problem is None:  # what verification then reads is there and of the right kind
        assert manifest["top_function"].isidentifier()
        assert all(isinstance(n, int) for side in ("inputs", "outputs") for n in manifest["interface"][side][0]["shape"])
    else:
        assert "\n" not in problem


@pytest.mark.parametrize("text", ["name: x\nname: y\n", "name: x\nmodel: {}\nmodel: {}\n"])
def test_duplicate_keys_through_load_config(tmp_path, text):
    p = tmp_path / "d.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError, match="duplicate key"):
        load_config(p)
