"""Slow: every tagger type at the default config's shapes (n = 32, d = 16, H = 4, p = 4) is bit-exact, and
its QKeras model gives the firmware's logits exactly.  A kind whose pair bias needs P = n (part) is checked at
its own shipped config's shapes (configs/part_l1.yaml: n = 16, P = 16).

Run with `make test-slow`.  The CI tests use tiny shapes; this one covers the table sizes, the chunk
padding (32 / 4) and the accumulator widths of the shipped configs.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from l1tag import kinds
from l1tag.config import load_config
from l1tag.hls.convert import convert_model, run_csim
from l1tag.models.builders import build_model
from tests.unit.taggers import kind_inputs

REPO = Path(__file__).resolve().parents[2]


def _shipped(kind: str, backend: str = "Vitis"):
    """configs/salt_l1.yaml with ``model.type`` = kind, or the kind's own config where its pair bias fixes
    P = n or it reads the four-momentum (lgatr_slim)."""
    if kinds.get(kind).pair_bias == kinds.PAIR_BIAS_ALWAYS or kinds.get(kind).momentum:
        cfg = load_config(REPO / "configs" / f"{kind}_l1.yaml")
        return dataclasses.replace(cfg, hls=dataclasses.replace(cfg.hls, backend=backend))
    base = load_config(REPO / "configs" / "salt_l1.yaml")
    return dataclasses.replace(base, model=dataclasses.replace(base.model, type=kind),
                               hls=dataclasses.replace(base.hls, backend=backend))


@pytest.mark.slow
@pytest.mark.parametrize("kind", kinds.NAMES)
@pytest.mark.parametrize("backend", ["Vitis", "Vivado"])
def test_default_shapes_are_bit_exact(kind, backend, tmp_path):
    cfg = _shipped(kind, backend)
    features, norm = kind_inputs(kind)
    model = build_model(cfg.model, cfg.data.constituents, features, cfg.quantization, table_size=cfg.hls.table_size,
                        normalisation=norm)
    x = np.random.default_rng(1).normal(size=(300, cfg.data.constituents, features)).astype(np.float32) * 2
    s = run_csim(convert_model(model, cfg.hls, tmp_path / "hls"), x, model)
    assert s["bit_exact_fraction"] == 1.0, s.get("first_mismatch")
    assert np.std(s["_outputs"]) > 0
    # the QKeras model computes the firmware's numbers (tables, casts; no float32 sum too wide)
    assert s["max_abs_diff_vs_quantized"] == 0.0 and s["float32_inexact_sums"] == []


@pytest.mark.slow
@pytest.mark.parametrize("kind", kinds.NAMES)
def test_default_shapes_rtl_blocks_are_verilator_bit_exact(kind, tmp_path):
    """The open-synth stage at the default shapes (n = 32, P = 8): every block's Verilog, simulated by
    Verilator on the block inputs of 1,000 jets, equals the reference; Yosys counts every block."""
    from l1tag.hls.lower import lower
    from l1tag.rtl.open_synth import missing_tools, open_synth

    if missing_tools():
        pytest.skip(missing_tools())
    cfg = _shipped(kind)
    h, n = cfg.hls, cfg.data.constituents
    features, norm = kind_inputs(kind)
    model = build_model(cfg.model, n, features, cfg.quantization, table_size=h.table_size, normalisation=norm)
    lowered = lower(model, h.reuse_factor, h.strategy, h.table_size, h.parallelization_factor)
    x = np.random.default_rng(2).normal(size=(1000, n, features)) * 2
    section = open_synth(lowered, x, n, h.parallelization_factor, cfg.rtl, tmp_path / "rtl", progress=False)
    assert section["bit_exact_fraction"] == 1.0, [b["first_mismatch"] for b in section["blocks"]]
    assert all(b["vectors"] >= 1000 and b["LUT"] > 0 for b in section["blocks"])
    roles = [b["role"] for b in section["blocks"]]
    assert roles.count("per_particle") >= 1 and "pooling" in roles and "head" in roles
    assert ("scores" in roles) == kinds.get(kind).attention


@pytest.mark.slow
def test_salt_paper_input_width_is_bit_exact(tmp_path):
    """configs/salt_paper.yaml reads more features per particle than the default's three (its embedding is
    wider): its tagger at its own shapes is bit-exact too."""
    cfg = load_config(REPO / "configs" / "salt_paper.yaml")
    n, features = cfg.data.constituents, len(cfg.data.features)
    assert features > 3
    model = build_model(cfg.model, n, features, cfg.quantization, table_size=cfg.hls.table_size)
    x = np.random.default_rng(3).normal(size=(300, n, features)).astype(np.float32) * 2
    s = run_csim(convert_model(model, cfg.hls, tmp_path / "hls"), x, model)
    assert s["bit_exact_fraction"] == 1.0, s.get("first_mismatch")
    assert np.std(s["_outputs"]) > 0
    assert s["max_abs_diff_vs_quantized"] == 0.0 and s["float32_inexact_sums"] == []
