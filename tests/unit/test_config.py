"""Config loading: every shipped config, each class of validation error with its message, and the
load-time checks of what a config refers to (budget file by path or name, FPGA part, input files)."""

from __future__ import annotations

import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

import l1tag.config as config_module
from l1tag.cli import main
from l1tag.config import Budget, Config, config_from_dict, load_budget, load_config, shipped_budgets
from l1tag.data.features import PARTICLE_FEATURES
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
    # shipped configs name shipped budgets by name, so a copy of them works from any folder
    raw = yaml.safe_load(path.read_text())
    assert raw["budget"]["file"] in shipped_budgets()


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
        ("name: x\nmodel: {type: cnn}\n",
         "model.type: expected one of 'salt', 'linformer', 'transformer', 'part', 'lgatr_slim', 'deepsets'"),
        ("name: x\ntrain: {learning_rate: -1}\n", "train.learning_rate: expected a positive number, got -1"),
        ("name: x\ndata: {split: [0.5, 0.5, 0.5]}\n", "data.split: expected three fractions"),
        ("name: x\ndata: {features: [pt, bogus]}\n", "data.features: expected a non-empty list, each item one of"),
        ("name: x\nquantization: {weights: {bits: 8, integer: 9}}\n",
         "quantization.weights.integer (9) must be smaller than quantization.weights.bits (8)"),
        ("name: x\nmodel: {d_model: 10, heads: 4}\n", "model.d_model (10) must be divisible by model.heads (4)"),
        ("name: x\ndata: {source: hls4ml}\n", "data.path is required when data.source is 'hls4ml'"),
        ("name: x\nhls: 5\n", "hls: expected a mapping of keys, got 5"),
        ("name: x\nhls: {table_size: 1000}\n", "hls.table_size: expected a power of two in [16, 65536], got 1000"),
        ("name: x\nhls: {table_size: 8}\n", "hls.table_size: expected a power of two in [16, 65536], got 8"),
        ("name: x\nhls: {table_size: 131072}\n", "hls.table_size: expected a power of two"),
        ("name: x\ndata: {path: [a.h5, 3]}\n", "data.path: expected a file path or glob, or a non-empty list of them"),
        ("name: x\ndata: {source: hls4ml, path: []}\n", "data.path: expected a file path or glob, or a non-empty list"),
        ("name: x\ndata: {path: [a.h5, b.h5]}\n", "data.path: with data.source 'generate' it is the one file"),
        ("name: x\ndata: {path: 'jets_*.h5'}\n", "data.path: with data.source 'generate' it is the one file"),
        ("name: x\ntrain: {augment: [spin]}\n", "train.augment: expected a list, each item one of 'rotation'"),
        ("name: x\ntrain: {augment: [rotation]}\ndata: {features: [pt, eta, etarel, phirel]}\n",
         "train.augment ['rotation']: the symmetries are not defined on data.features ['eta']"),
        ("name: x\ntrain: {augment: [rotation]}\ndata: {features: [pt, etarel]}\n",
         "train.augment: rotation mixes etarel and phirel, but data.features has only etarel"),
        ("name: x\ntrain: {augment: [reflect_phi]}\ndata: {features: [pt, deltaR]}\n",
         "train.augment ['reflect_phi'] changes nothing: data.features ['pt', 'deltaR'] has neither"),
        ("name: x\nmodel: {type: linformer, pair_bias: true}\n",
         "model.pair_bias on model.type linformer: only salt, transformer, part take the pair bias"),
        ("name: x\nmodel: {pair_bias: true}\nhls: {parallelization_factor: 8}\n",
         "model.pair_bias computes every pair in one pipelined function: set hls.parallelization_factor: 32"),
        ("name: x\nmodel: {type: deepsets, pair_bias: true}\n", "model.pair_bias on model.type deepsets"),
        ("name: x\nmodel: {type: transformer, pair_bias: true}\ndata: {features: [pt, etarel, deltaR]}\n",
         "model.pair_bias reads the pair features from data.features pt, etarel, phirel; phirel missing"),
        ("name: x\nmodel: {type: transformer, pair_bias: true}\nhls: {parallelization_factor: 8}\n",
         "model.pair_bias computes every pair in one pipelined function: set hls.parallelization_factor: 32"),
        ("name: x\nmodel: {type: transformer, pair_bias: true}\ndata: {constituents: 100}\n"
         "hls: {parallelization_factor: null}\n",
         "model.pair_bias with data.constituents 100: the pair features are built for every pair, at most 64"),
        ("name: x\nmodel: {type: transformer, pair_bits: 2}\n", "model.pair_bits: expected an integer in [4, 16]"),
        ("name: x\nmodel: {type: part}\ndata: {features: [pt, phirel]}\n",
         "model.type part (ParT's pair bias) reads the pair features from data.features pt, etarel, phirel; etarel"),
        ("name: x\nmodel: {type: part}\ndata: {constituents: 80}\n",
         "model.type part (ParT's pair bias) with data.constituents 80: the pair features are built for every pair"),
        ("name: x\nmodel: {type: salt, projection: bins}\n",
         "model.projection bins sets the Linformer's E and F; model.type salt has none"),
        ("name: x\ndata: {sort_by: phi}\n", "data.sort_by: expected one of 'kt', 'pt', 'dr', 'eta', 'none'"),
        ("name: x\nmodel: {type: part}\nhls: {parallelization_factor: 4}\n",
         "model.type part (ParT's pair bias) computes every pair in one pipelined function"),
        ("seed: 1\n", "missing required key 'name'"),
        ("name: 'bad name!'\n", "name: expected a name of at most 64 letters, digits"),
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


def _budget_file(path: Path, part: str = "xcvu13p-flga2577-2-e", **extra) -> Path:
    path.write_text(yaml.safe_dump({"name": "b", "part": part, "clock_ns": 5.0, **extra}))
    return path


def _jets(path: Path) -> Path:
    """A file that only has to exist: config loading checks existence, not contents."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        f["jets"] = np.zeros((1, 6))
    return path


def test_relative_paths_resolve_against_the_config_folder(tmp_path):
    sub = tmp_path / "cfgs"
    sub.mkdir()
    _budget_file(sub / "b.yaml")
    _jets(tmp_path / "jets" / "a.h5")
    p = sub / "c.yaml"
    p.write_text(yaml.safe_dump({"name": "c", "data": {"source": "hls4ml", "path": "../jets/*.h5"},
                                 "budget": {"file": "b.yaml"}}))
    cfg = load_config(p)
    assert cfg.data.path == str((tmp_path / "jets" / "*.h5").resolve())
    assert cfg.budget.file == str((sub / "b.yaml").resolve())


def test_data_path_list_resolves_each_item(tmp_path):
    _jets(tmp_path / "jets" / "a.h5")
    _jets(tmp_path / "jets" / "b_0.h5")
    data = {"source": "hls4ml", "path": ["jets/a.h5", str(tmp_path / "jets" / "b_*.h5")]}
    p = _write(tmp_path, yaml.safe_dump({"name": "c", "data": data}))
    cfg = load_config(p)
    assert cfg.data.path == (str(tmp_path / "jets" / "a.h5"), str(tmp_path / "jets" / "b_*.h5"))
    assert cfg.to_dict()["data"]["path"] == list(cfg.data.path)
    assert cfg.data.test_path is None


@pytest.mark.parametrize("key, value, problem", [
    ("path", "nothere.h5", "nothere.h5: no such file"),
    ("path", ["jets/a.h5", "jets/nothere.h5"], "nothere.h5: no such file"),
    ("path", "jets/none_*.h5", "none_*.h5: glob pattern matches no files"),
    ("path", "jets", "jets: is a directory, not a file"),
    ("test_path", "test/*.h5", "test/*.h5: glob pattern matches no files"),
    ("test_path", ["jets/a.h5"], "a.h5 is also in data.path; the fixed test set must not share files"),
])
def test_input_files_are_checked_at_load(tmp_path, key, value, problem):
    _jets(tmp_path / "jets" / "a.h5")
    data = {"source": "hls4ml", "path": "jets/*.h5", key: value}
    with pytest.raises(ConfigError) as err:
        load_config(_write(tmp_path, yaml.safe_dump({"name": "c", "data": data})))
    msg = str(err.value)
    assert f"data.{key}: " in msg and problem in msg and "cfg.yaml" in msg and "\n" not in msg
    assert "relative paths resolve against" in msg or "remove it from one" in msg


def test_generate_source_does_not_need_its_output_file(tmp_path):
    cfg = load_config(_write(tmp_path, "name: c\ndata: {path: out/jets.h5}\n"))
    assert cfg.data.path == str(tmp_path / "out" / "jets.h5")


def test_test_path_resolves_and_may_be_a_list(tmp_path):
    _jets(tmp_path / "train.h5")
    _jets(tmp_path / "t1.h5")
    _jets(tmp_path / "t2.h5")
    cfg = load_config(_write(tmp_path, yaml.safe_dump(
        {"name": "c", "data": {"source": "hls4ml", "path": "train.h5", "test_path": ["t1.h5", "t2.h5"]}})))
    assert cfg.data.test_path == (str(tmp_path / "t1.h5"), str(tmp_path / "t2.h5"))


# ------------------------------------------------------------------ budget.file: a path or a shipped name

@pytest.mark.parametrize("value, shipped", [
    (None, "l1t_200mhz_tm18"),
    ("l1t_360mhz_ii1", "l1t_360mhz_ii1"),
    ("l1t_360mhz_ii1.yaml", "l1t_360mhz_ii1"),
])
def test_budget_by_name_from_a_config_outside_configs(tmp_path, value, shipped):
    target = "" if not value else "hls: {part: xcvu9p-flga2104-2L-e, clock_period_ns: 2.78}\n"  # the budget's
    text = "name: c\n" + target + (f"budget: {{file: {value}}}\n" if value else "")
    cfg = load_config(_write(tmp_path, text))
    assert cfg.budget.file == str(config_module.SHIPPED_BUDGETS / f"{shipped}.yaml")
    assert load_budget(cfg.budget.file).name == shipped


def test_budget_next_to_the_config_wins_over_a_shipped_one(tmp_path):
    _budget_file(tmp_path / "l1t_360mhz_ii1.yaml")
    cfg = load_config(_write(tmp_path, "name: c\nbudget: {file: l1t_360mhz_ii1.yaml}\n"))
    assert cfg.budget.file == str(tmp_path / "l1t_360mhz_ii1.yaml")


@pytest.mark.parametrize("value, named", [("nope", "'nope'"), ("budgets/nope.yaml", "'budgets/nope.yaml'")])
def test_missing_budget_names_the_file_and_the_shipped_budgets(tmp_path, value, named):
    with pytest.raises(ConfigError) as err:
        load_config(_write(tmp_path, f"name: c\nbudget: {{file: {value}}}\n"))
    msg = str(err.value)
    assert msg.startswith(f"{tmp_path / 'cfg.yaml'}: budget.file: budget file not found: {named}")
    assert str(tmp_path / value) in msg and "l1t_200mhz_tm18, l1t_360mhz_ii1" in msg


def test_invalid_budget_file_fails_at_load(tmp_path):
    (tmp_path / "b.yaml").write_text("name: b\npart: xcvu9p\nclock_ns: 5\nlimits: {latncy_ns: 100}\n")
    with pytest.raises(ConfigError, match=r"b.yaml: unknown key 'limits.latncy_ns'; did you mean 'latency_ns'"):
        load_config(_write(tmp_path, "name: c\nbudget: {file: b.yaml}\n"))


def _cli(args: list[str], capsys) -> tuple[int, str, float]:
    t0 = time.perf_counter()
    code = main(args)
    return code, capsys.readouterr().err, time.perf_counter() - t0


def test_build_with_a_missing_budget_exits_2_at_once(tmp_path, capsys):
    cfg = _write(tmp_path, "name: c\nbudget: {file: budgets/l1t_200mhz_tm18.yaml}\n")
    code, err, seconds = _cli(["build", "-c", str(cfg), "-o", str(tmp_path / "build")], capsys)
    assert code == 2 and seconds < 10
    assert "budget.file: budget file not found" in err and "l1t_200mhz_tm18" in err and err.count("\n") == 1
    assert not (tmp_path / "build").exists(), "nothing is built before the config is valid"


# ------------------------------------------------------------------ hls.part against the parts table

def test_unknown_part_exits_2_at_once_with_the_closest_parts(tmp_path, capsys):
    cfg = _write(tmp_path, "name: c\nhls: {part: xc_nonexistent}\n")
    code, err, seconds = _cli(["build", "-c", str(cfg), "-o", str(tmp_path / "build")], capsys)
    assert code == 2 and seconds < 10, err
    assert err.startswith(f"error: {cfg}: hls.part: unknown FPGA part 'xc_nonexistent'; closest known parts: ")
    assert "or give the part's totals in the budget file" in err and err.count("\n") == 1
    assert not (tmp_path / "build").exists()


def test_closest_parts_are_named_for_a_typo(tmp_path):
    with pytest.raises(ConfigError, match=r"closest known parts: xcvu9p-flga2104-2L-e, "):
        load_config(_write(tmp_path, "name: c\nhls: {part: xcvu99p-flga2104-2L-e}\n"))


@pytest.mark.parametrize("part", ["xcvu9p-flgb2104-1-i", "XCVU13P", "xc7z020clg400-1", "ku15p"])
def test_known_parts_in_any_spelling_load(tmp_path, part):
    _budget_file(tmp_path / "b.yaml", part=part)
    cfg = load_config(_write(tmp_path, f"name: c\nhls: {{part: {part}}}\nbudget: {{file: b.yaml}}\n"))
    assert cfg.hls.part == part


def test_unknown_part_is_allowed_when_the_budget_gives_totals(tmp_path):
    totals = {"LUT": 1_303_680, "FF": 2_607_360, "DSP": 9_024, "BRAM_18K": 4_032, "URAM": 960}
    _budget_file(tmp_path / "b.yaml", part="xcvu11p-flgc2104-2-e", totals=totals)
    cfg = load_config(_write(tmp_path, "name: c\nhls: {part: xcvu11p-flgc2104-2-e}\nbudget: {file: b.yaml}\n"))
    budget = load_budget(cfg.budget.file)
    assert budget.totals.as_dict() == totals
    assert load_budget(config_module.SHIPPED_BUDGETS / "l1t_360mhz_ii1.yaml").totals is None


def test_budget_totals_validation(tmp_path):
    p = _budget_file(tmp_path / "b.yaml", totals={"LUT": 100, "FF": 200, "DSP": 0, "BRAM_18K": 4})
    assert load_budget(p).totals.URAM == 0  # URAM may be left out: many parts have none
    _budget_file(p, totals={"LUT": 100, "FF": 200, "DSP": 3})
    with pytest.raises(ConfigError, match=r"missing required key 'totals.BRAM_18K'"):
        load_budget(p)
    _budget_file(p, totals={"LUT": 100, "FF": 200, "DSP": 3, "BRAM_18K": 4, "LUTS": 1})
    with pytest.raises(ConfigError, match=r"unknown key 'totals.LUTS'; did you mean 'LUT'"):
        load_budget(p)
    _budget_file(p, totals={"LUT": -1, "FF": 200, "DSP": 3, "BRAM_18K": 4})
    with pytest.raises(ConfigError, match=r"totals.LUT: expected a positive integer, got -1"):
        load_budget(p)
    _budget_file(p, totals=None)
    assert load_budget(p).totals is None


def test_one_particle_feature_list_and_no_dead_code():
    assert not hasattr(config_module, "HLS4ML_PARTICLE_FEATURES")
    assert not hasattr(Config, "section_hash")
    assert config_from_dict({"name": "a", "data": {"features": list(PARTICLE_FEATURES)}}).data.features == \
        PARTICLE_FEATURES


def test_budget_validation(tmp_path):
    p = tmp_path / "b.yaml"
    p.write_text("name: b\npart: xcvu9p\nclock_ns: 5\nlimits: {utilization: {LUT: 1.5}}\n")
    with pytest.raises(ConfigError, match=r"limits.utilization.LUT: expected a number in \[0.0, 1.0\]"):
        load_budget(p)
    p.write_text("name: b\npart: xcvu9p\nclock_ns: 5\nlimits: {latncy_ns: 100}\n")
    with pytest.raises(ConfigError, match="did you mean 'latency_ns'"):
        load_budget(p)
    with pytest.raises(ConfigError, match="budget file not found: .*none.yaml .*l1t_200mhz_tm18, l1t_360mhz_ii1"):
        load_budget(tmp_path / "none.yaml")


def test_readme_config_reference_matches_the_schema():
    from l1tag.config import config_reference_markdown

    assert config_reference_markdown() in (REPO / "docs" / "config.md").read_text(), \
        "docs/config.md's config reference is stale: regenerate it with l1tag.config.config_reference_markdown()"


def test_parallelization_factor_must_divide_the_particles():
    cfg = config_from_dict({"name": "p", "data": {"constituents": 32}, "hls": {"parallelization_factor": 8}})
    assert cfg.hls.parallelization_factor == 8
    assert config_from_dict({"name": "p"}).hls.parallelization_factor is None  # fully parallel
    with pytest.raises(ConfigError, match=r"hls.parallelization_factor \(6\) must divide data.constituents \(32\): "
                                          r"one of 1, 2, 4, 8, 16, 32"):
        config_from_dict({"name": "p", "data": {"constituents": 32}, "hls": {"parallelization_factor": 6}})


@pytest.mark.parametrize("strategy, why", [("Latency", "ALLOCATION limit is routinely not honoured"),
                                           ("distributed_arithmetic", "needs reuse factor 1"),
                                           ("Resource", "nnet_conv1d_resource.h")])
@pytest.mark.parametrize("reuse", [2, 4])
def test_reuse_factor_above_1_is_refused_at_load_for_every_strategy(strategy, why, reuse):
    """Resource + R > 1 aborted the Python process (R = 2: a C assert in hls4ml) or did not compile (R = 4),
    although the message for the other strategies recommended it: refused until it works."""
    with pytest.raises(ConfigError, match=f"hls.reuse_factor {reuse} with hls.strategy {strategy}: .*{why}.*"
                                          f"hls.reuse_factor: 1 .*hls.parallelization_factor") as err:
        config_from_dict({"name": "r", "hls": {"strategy": strategy, "reuse_factor": reuse}})
    assert "use hls.strategy: Resource" not in str(err.value)
    assert config_from_dict({"name": "r", "hls": {"strategy": "Resource", "reuse_factor": 1}}).hls.reuse_factor == 1


# ------------------------------------------------------------------ what the schema refuses at load (issue 22)

@pytest.mark.parametrize("text, message", [
    # NaN and inf pass every comparison-based check unless refused: a NaN learning rate was a TensorFlow dump
    ("name: x\ntrain: {learning_rate: .nan}\n", "train.learning_rate: expected a positive number, got nan"),
    ("name: x\ntrain: {learning_rate: .inf}\n", "train.learning_rate: expected a positive number, got inf"),
    ("name: x\ncsim: {max_accuracy_drop_float: .inf}\n", "csim.max_accuracy_drop_float: expected a number in"),
    ("name: x\ncsim: {min_argmax_agreement_float: .nan}\n", "csim.min_argmax_agreement_float: expected a number"),
    ("name: x\ndata: {pt_min: -.inf}\n", "data.pt_min: expected a number in [0.0, inf], got -inf"),
    ("name: x\nhls: {clock_period_ns: .nan}\n", "hls.clock_period_ns: expected a positive number, got nan"),
    ("name: x\ndata: {split: [.nan, 0.5, 0.5]}\n", "data.split: expected three fractions"),
    (f"name: x\ntrain: {{learning_rate: {10**400}}}\n", "train.learning_rate: expected a positive number, got 1000"),
    # upper bounds: each of these was accepted and then hung, crashed or failed minutes later
    ("name: x\ndata: {jets: 1000000000000000000000000000000}\n", "data.jets: expected an integer in [1, 10000000]"),
    (f"name: x\nmodel: {{head_dims: [{2**63}]}}\n", "model.head_dims: expected a list of at most 8, each item an "
                                                   "integer in [1, 1024], got [9223372036854775808]"),
    (f"name: x\nmodel: {{conv_kernel: [3, {10**12}]}}\n", "model.conv_kernel: expected a list of 2 items, each an "
                                                         "integer in [1, 31]"),
    (f"name: {'n' * 240}\n", "name: expected a name of at most 64 letters"),
    (f"name: {'n' * 300}\n", "name: expected a name of at most 64 letters"),
    (f"name: x\nseed: {2**40}\n", "seed: expected an integer in [0, 4294967295], got 1099511627776"),
    ("name: x\nseed: -1\n", "seed: expected an integer in [0, 4294967295], got -1"),
    # combinations the converter or the firmware refuses later
    ("name: x\nmodel: {pooling: mean}\n", "model.pooling: expected 'max' (mean pooling has no bit-exact firmware"),
    # QKeras' quantized_bits fails in training with negative integer bits (2 ** -8 on an integer tensor)
    ("name: x\nquantization: {weights: {bits: 2, integer: -8}}\n",
     "quantization.weights.integer: expected an integer in [0, 31], got -8"),
    ("name: x\nmodel: {classes: 3}\n", "model.classes: expected 5 (the generator and every reader give g, q, W, Z"),
    ("name: x\nquantization: {enabled: false}\n", "quantization.enabled: expected true (the firmware is converted "
                                                  "from the quantization-aware model; there is no float-firmware"),
    ("name: x\nhls: {project_name: int}\n", "hls.project_name: expected a C identifier of at most 64 characters"),
    ("name: x\nhls: {project_name: class}\n", "that is not a C++ keyword"),
    ("name: x\nhls: {project_name: main}\n", "that is not a C++ keyword or 'main', got 'main'"),
    ("name: x\nhls: {strategy: Resource, reuse_factor: 2}\n", "hls.reuse_factor 2 with hls.strategy Resource"),
    # the budget's part and clock (the budget check failed them with exit 3 after the whole build)
    ("name: x\nhls: {part: xcvu9p-flga2104-2L-e}\n", "hls.part 'xcvu9p-flga2104-2L-e' is not the budget's part "
                                                     "'xcvu13p-flga2577-2-e'"),
    ("name: x\nhls: {clock_period_ns: 6.25}\n", "hls.clock_period_ns 6.25 is longer than the budget's clock_ns 5.0"),
    # a split that leaves a split without one jet of each class (was a raw scikit-learn message)
    ("name: x\ndata: {jets: 300, split: [0.98, 0.01, 0.01]}\n", "data.split [0.98, 0.01, 0.01] of data.jets 300 "
                                                                "leaves 3 jets in the validation split"),
    # a key given twice: the last one silently won
    ("name: x\nmodel: {type: salt}\nseed: 3\nmodel: {type: deepsets}\n",
     "not valid YAML (line 4, column 1): duplicate key 'model' (first on line 2); give each key once"),
    ("name: x\ndata: {jets: 10, jets: 20}\n", "duplicate key 'jets'"),
])
def test_the_schema_refuses_what_cannot_work(tmp_path, text, message):
    with pytest.raises(ConfigError) as err:
        load_config(_write(tmp_path, text))
    assert message in str(err.value)
    assert "cfg.yaml" in str(err.value) and "\n" not in str(err.value)


def test_a_faster_clock_than_the_budget_and_the_bounds_themselves_load(tmp_path):
    cfg = load_config(_write(tmp_path, f"name: {'n' * 64}\nseed: {2**32 - 1}\nhls: {{clock_period_ns: 4.0}}\n"
                                       "data: {jets: 10000000}\nmodel: {head_dims: [1024], conv_kernel: [31, 31]}\n"))
    assert cfg.seed == 2**32 - 1 and cfg.hls.clock_period_ns == 4.0 and cfg.data.jets == 10**7


def test_duplicate_keys_are_refused_in_budgets_and_search_spaces(tmp_path):
    from l1tag.search.space import load_space

    b = tmp_path / "b.yaml"
    b.write_text("name: b\npart: xcvu13p\nclock_ns: 5\nclock_ns: 4\n")
    with pytest.raises(ConfigError, match=r"b.yaml: not valid YAML \(line 4.*duplicate key 'clock_ns'"):
        load_budget(b)
    s = tmp_path / "s.yaml"
    s.write_text("name: s\nspace:\n  model.d_model: [8]\n  model.d_model: [16]\n")
    with pytest.raises(ConfigError, match=r"s.yaml: not valid YAML \(line 4.*duplicate key 'model.d_model'"):
        load_space(s, {"name": "c"})


@pytest.mark.parametrize("limits, key", [("{latency_ns: .nan}", "limits.latency_ns"),
                                         ("{utilization: {LUT: .nan}}", "limits.utilization.LUT"),
                                         ("{latency_ns: .inf}", "limits.latency_ns")])
def test_budget_limits_must_be_finite(tmp_path, limits, key):
    b = tmp_path / "b.yaml"
    b.write_text(f"name: b\npart: xcvu13p\nclock_ns: 5\nlimits: {limits}\n")
    with pytest.raises(ConfigError, match=f"{key}: expected a"):
        load_budget(b)
