"""Config loading: every shipped config, and each class of validation error with its message."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from l1tag.config import Budget, Config, config_from_dict, load_budget, load_config
from l1tag.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted((REPO / "configs").glob("*.yaml"))
BUDGETS = sorted((REPO / "configs" / "budgets").glob("*.yaml"))


def test_the_expected_configs_ship():
    names = {p.name for p in SHIPPED}
    assert {"salt_l1.yaml", "linformer_l1.yaml", "transformer_ref.yaml", "deepsets_l1.yaml"} <= names
    assert len(BUDGETS) >= 2


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_config_loads(path):
    cfg = load_config(path)
    assert isinstance(cfg, Config)
    assert cfg.name == path.stem
    # relative paths resolve against the config file's folder, and the budget exists
    assert Path(cfg.budget.file).is_absolute()
    budget = load_budget(cfg.budget.file)
    assert isinstance(budget, Budget)


def test_default_config_values():
    cfg = load_config(REPO / "configs" / "salt_l1.yaml")
    assert cfg.model.type == "salt"
    assert (cfg.model.d_model, cfg.model.heads, cfg.model.partitions) == (16, 4, 4)
    assert cfg.data.sort_by == "kt"
    assert cfg.data.features == ("pt", "etarel", "phirel")
    assert cfg.hls.backend == "Vitis"
    assert cfg.quantization.weights.bits == 8


@pytest.mark.parametrize("path", BUDGETS, ids=lambda p: p.name)
def test_every_budget_loads(path):
    b = load_budget(path)
    assert b.clock_ns > 0 and b.limits.latency_ns > 0 and b.limits.ii_cycles >= 1
    for frac in vars(b.limits.utilization).values():
        assert frac is None or 0 < frac <= 1


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "cfg.yaml"
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    "text, message",
    [
        ("name: x\nmodle: {type: salt}\n", "unknown key 'modle'; did you mean 'model'?"),
        ("name: x\nmodel: {partitons: 4}\n", "unknown key 'model.partitons'; did you mean 'partitions'?"),
        ("name: x\nmodel: {partitions: four}\n", "model.partitions: expected a positive integer, got 'four'"),
        ("name: x\nmodel: {partitions: 0}\n", "model.partitions: expected a positive integer, got 0"),
        ("name: x\nmodel: {partitions: true}\n", "model.partitions: expected a positive integer, got True"),
        ("name: x\nmodel: {type: cnn}\n", "model.type: expected one of 'salt', 'linformer', 'transformer', 'deepsets', got 'cnn'"),
        ("name: x\ntrain: {learning_rate: -1}\n", "train.learning_rate: expected a positive number, got -1"),
        ("name: x\ndata: {split: [0.5, 0.5, 0.5]}\n", "data.split: expected three fractions"),
        ("name: x\ndata: {features: [pt, bogus]}\n", "data.features: expected a non-empty list, each item one of"),
        ("name: x\nquantization: {weights: {bits: 8, integer: 9}}\n",
         "quantization.weights.integer (9) must be smaller than quantization.weights.bits (8)"),
        ("name: x\nmodel: {d_model: 10, heads: 4}\n", "model.d_model (10) must be divisible by model.heads (4)"),
        ("name: x\ndata: {source: hls4ml}\n", "data.path is required when data.source is 'hls4ml'"),
        ("name: x\nhls: 5\n", "hls: expected a mapping of keys, got 5"),
        ("seed: 1\n", "missing required key 'name'"),
        ("name: 'bad name!'\n", "name: expected a name of letters, digits"),
        ("- just\n- a list\n", "top level: expected a mapping of keys"),
        ("name: x\nmodel: {type: salt\n", "not valid YAML (line"),
        ("", "the config is empty"),
        ("name: !!python/object/apply:os.system ['true']\n", "not valid YAML"),
    ],
)
def test_validation_errors_name_the_key(tmp_path, text, message):
    with pytest.raises(ConfigError) as err:
        load_config(_write(tmp_path, text))
    assert message in str(err.value)
    assert str(tmp_path / "cfg.yaml") in str(err.value) or "cfg.yaml" in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_file_names_the_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found: .*nothere.yaml"):
        load_config(tmp_path / "nothere.yaml")


def test_relative_paths_resolve_against_the_config_folder(tmp_path):
    sub = tmp_path / "cfgs"
    sub.mkdir()
    p = sub / "c.yaml"
    p.write_text(yaml.safe_dump({"name": "c", "data": {"source": "hls4ml", "path": "../jets/*.h5"},
                                 "budget": {"file": "b.yaml"}}))
    cfg = load_config(p)
    assert cfg.data.path == str((tmp_path / "jets" / "*.h5").resolve())
    assert cfg.budget.file == str((sub / "b.yaml").resolve())


def test_section_hash_changes_only_with_its_section():
    a = config_from_dict({"name": "a"})
    b = config_from_dict({"name": "a", "hls": {"reuse_factor": 2}})
    assert a.section_hash("model", "train") == b.section_hash("model", "train")
    assert a.section_hash("hls") != b.section_hash("hls")


def test_budget_validation(tmp_path):
    p = tmp_path / "b.yaml"
    p.write_text("name: b\npart: xcvu9p\nclock_ns: 5\nlimits: {utilization: {LUT: 1.5}}\n")
    with pytest.raises(ConfigError, match=r"limits.utilization.LUT: expected a number in \[0.0, 1.0\]"):
        load_budget(p)
    p.write_text("name: b\npart: xcvu9p\nclock_ns: 5\nlimits: {latncy_ns: 100}\n")
    with pytest.raises(ConfigError, match="did you mean 'latency_ns'"):
        load_budget(p)
    with pytest.raises(ConfigError, match="budget file not found"):
        load_budget(tmp_path / "none.yaml")


def test_readme_config_reference_matches_the_schema():
    from l1tag.config import config_reference_markdown

    assert config_reference_markdown() in (REPO / "README.md").read_text(), \
        "README.md's config reference is stale: regenerate it with l1tag.config.config_reference_markdown()"
