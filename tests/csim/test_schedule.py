"""The generated C++ asks for the schedule the estimate assumes -- on every shipped config.

Each shipped config's model (untrained: the structure and the operators do not depend on the weights'
values) is converted as its build converts it; then
* the structure check (l1tag/hls/structure.py) finds rewind on every particle loop, no INLINE callee
  under a DATAFLOW pragma, ap_ctrl_chain and a deep-enough bypass buffer on a DATAFLOW top, BIND pragmas;
* the GIMPLE census (l1tag/hls/census.py) finds no division by a non-power-of-two, and exactly the
  products, by operand width, that the estimator prices (estimate.model_products);
and a mutated copy of the written project (a loop without rewind, a reintroduced division, ...) fails.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from l1tag.config import load_config

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted((REPO / "configs").glob("*.yaml"))


def _convert(config_file: Path, out: Path, **hls):
    from l1tag.hls.convert import convert_model
    from l1tag.models.builders import build_model

    cfg = load_config(config_file)
    if hls:
        cfg = dataclasses.replace(cfg, hls=dataclasses.replace(cfg.hls, **hls))
    f = len(cfg.data.features)  # the normalisation by name: what a pair bias or the four-momentum reads
    model = build_model(cfg.model, cfg.data.constituents, f, cfg.quantization, table_size=cfg.hls.table_size,
                        normalisation=(cfg.data.features, np.zeros(f), np.ones(f)))
    return cfg, convert_model(model, cfg.hls, out / "hls")


# the default runs in the default suite; the other shipped configs (a minute each) in the slow one (suite time)
DEFAULT_SUITE = ("salt_l1",)


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    """Each shipped config converted on first use (its conversion and census take about a minute)."""
    cache = {}

    def get(name: str):
        if name not in cache:
            cache[name] = _convert(REPO / "configs" / f"{name}.yaml", tmp_path_factory.mktemp(name))
        return cache[name]

    return get


@pytest.mark.parametrize("name", [pytest.param(f.stem, marks=() if f.stem in DEFAULT_SUITE else pytest.mark.slow)
                                  for f in SHIPPED])
def test_every_shipped_config_asks_for_the_estimated_schedule(name, shipped):
    from l1tag.hardware.estimate import model_products
    from l1tag.hls.census import census
    from l1tag.hls.structure import check_project

    cfg, converted = shipped(name)
    assert check_project(converted.project_dir, cfg.hls.project_name) == []
    c = census(converted.project_dir)
    assert c.divisions == []
    assert c.by_width() == model_products(converted.hls_model)  # the estimate prices what the C++ computes
    top = (converted.project_dir / "firmware" / f"{cfg.hls.project_name}.cpp").read_text()
    params = (converted.project_dir / "firmware" / "parameters.h").read_text()
    p = cfg.hls.parallelization_factor
    if p is not None and p < cfg.data.constituents:  # a DATAFLOW top of rewound particle loops
        assert "#pragma HLS DATAFLOW" in top and "ap_ctrl_chain" in top
        assert re.findall(r"#pragma HLS PIPELINE II=1 rewind", params)
    elif p is not None:  # P = n: one pipelined top, every layer unrolled into it (nothing left to fuse)
        assert "#pragma HLS PIPELINE" in top and "DATAFLOW" not in top
    if cfg.model.type != "deepsets":
        assert c.product_count() > 0 and "BIND_STORAGE variable=rom type=rom_np" in params


@pytest.fixture(scope="module")
def default_project(shipped):
    return shipped("salt_l1")


def _mutated(project: Path, tmp_path: Path, file: str, old: str, new: str) -> Path:
    copy = tmp_path / "mutated"
    shutil.copytree(project, copy)
    target = copy / "firmware" / file
    text = target.read_text()
    assert old in text, f"{old!r} not in {file}"
    target.write_text(text.replace(old, new, 1))
    return copy


@pytest.mark.parametrize("file, old, new, problem", [
    ("parameters.h", "#pragma HLS PIPELINE II=1 rewind", "#pragma HLS PIPELINE II=1",
     r"loop PARTICLE_LOOP\d+_GROUPS is pipelined without rewind"),
    ("nnet_utils/l1tag_attention.h", "#pragma HLS PIPELINE II=1 rewind", "#pragma HLS PIPELINE II=1",
     "loop ATTENTION_PROJECT_GROUPS is pipelined without rewind"),
    ("myproject.cpp", "#pragma HLS INTERFACE ap_ctrl_chain port=return", "",
     "a DATAFLOW top without ap_ctrl_chain"),
    ("myproject.cpp", "type=pipo depth=3", "type=pipo depth=2", r"layer\d+_out bypasses 1 process"),
    ("nnet_utils/l1tag_attention.h", "    #pragma HLS INLINE off\n    #pragma HLS DATAFLOW\n",
     "    #pragma HLS INLINE\n    #pragma HLS DATAFLOW\n",
     "DATAFLOW calls l1tag::partitioned_attention, which is INLINE"),
    ("nnet_utils/l1tag_common.h", "BIND_OP variable=p op=mul impl=fabric", "", "no BIND_OP impl=fabric"),
    ("parameters.h", "BIND_STORAGE variable=rom type=rom_np impl=bram", "", "a table ROM without BIND_STORAGE"),
])
def test_a_mutated_project_breaks_the_structure_check(file, old, new, problem, default_project, tmp_path):
    from l1tag.hls.structure import check_project

    cfg, converted = default_project
    copy = _mutated(converted.project_dir, tmp_path, file, old, new)
    problems = check_project(copy)
    assert any(re.search(problem, p) for p in problems), problems


@pytest.fixture(scope="module")
def small_project(tmp_path_factory):
    """The default SAL-T at a small width (8 features, 2 heads, 16 particles; m = 4 partitions as the default):
    the same kernels, a quicker compile."""
    import yaml

    raw = yaml.safe_load((REPO / "configs" / "salt_l1.yaml").read_text())
    raw["data"]["constituents"] = 16
    raw["model"].update(d_model=8, heads=2, ffn_dim=8, head_dims=[8])
    raw["hls"]["parallelization_factor"] = 4
    out = tmp_path_factory.mktemp("small")
    (out / "small.yaml").write_text(yaml.safe_dump(raw))
    return _convert(out / "small.yaml", out)


@pytest.mark.slow  # a second conversion and census (over a minute); the shipped configs' census stays default
def test_a_reintroduced_division_breaks_the_census(small_project, tmp_path):
    """The reciprocal table's index as the division it replaces: the census finds the divider."""
    from l1tag.errors import ConversionError
    from l1tag.hls.census import census, check_no_dividers

    cfg, converted = small_project
    assert census(converted.project_dir).divisions == []
    copy = _mutated(converted.project_dir, tmp_path, "nnet_utils/l1tag_attention.h",
                    ">> CONFIG_T::inv_shift;", "/ ((CONFIG_T::m - 1) * CONFIG_T::exp_one) * CONFIG_T::table_size;")
    c = census(copy)
    assert c.divisions and "196608" in c.divisions[0]  # (m - 1) * 2^16 with m = 4
    with pytest.raises(ConversionError, match="divi"):
        check_no_dividers(c)
    # the estimate prices a divider core for each one the census found (heads x P row softmaxes)
    from l1tag.hardware.estimate import DIVIDER_CORE, estimate_model

    n = c.divider_count()
    assert n == 2 * 4
    plain, priced = estimate_model(converted.hls_model), estimate_model(converted.hls_model, dividers=n)
    assert priced["latency_cycles"] == plain["latency_cycles"] + DIVIDER_CORE["latency"]
    assert priced["resources"]["LUT"] == plain["resources"]["LUT"] + n * DIVIDER_CORE["LUT"]


def test_schedule_section_raises_on_a_broken_project(default_project, tmp_path):
    """The build's firmware stage refuses C++ that does not ask for the estimated schedule (a bug in l1tag)."""
    from l1tag.errors import ConversionError
    from l1tag.hardware.schedule import schedule_section

    cfg, converted = default_project
    copy = _mutated(converted.project_dir, tmp_path, "parameters.h", "#pragma HLS PIPELINE II=1 rewind",
                    "#pragma HLS PIPELINE II=1")
    with pytest.raises(ConversionError, match="without rewind"):
        schedule_section(copy, converted.hls_model)
