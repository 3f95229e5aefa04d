"""The whole tagger as one RTL design at P = n (l1tag/rtl/top.py): every kind on a micro tagger, one top
module, Verilator bit-exact on every jet with the valid signal at the stated latency, and mutations of the
emitted design caught (exit 4)."""

from __future__ import annotations

import re
import shutil
import types

import numpy as np
import pytest
from taggers import kind_inputs, perturbed_tagger

from l1tag import kinds, ops
from l1tag.config import config_from_dict
from l1tag.errors import FidelityError
from l1tag.numerics.fixed_point import quantize

pytest.importorskip("da4ml")
from l1tag.rtl.open_synth import missing_tools  # noqa: E402

if missing_tools():
    pytest.skip(f"RTL tools missing: {missing_tools()}", allow_module_level=True)

JETS = 120
RTL = types.SimpleNamespace(latency_cutoff=5, top_synth_max_cost=0, workers=1)


def _micro(kind: str):
    """A 4-particle, 4-wide tagger of ``kind`` with perturbed weights, lowered, and jets with their logits."""
    _, lowered, rng = perturbed_tagger(kind, n=4, width=4)
    jets = quantize(rng.normal(0, 2, (JETS, 4, kind_inputs(kind)[0])), lowered.input_t)
    return lowered, jets, ops.run_reference(lowered.ops, jets)


_BUILT: dict = {}


def _top(kind: str, tmp_path_factory):
    from l1tag.rtl.top import build_top

    if kind not in _BUILT:
        lowered, jets, logits = _micro(kind)
        out = tmp_path_factory.mktemp(f"top_{kind}") / "top"
        section = build_top(lowered, jets, logits, 4, jets.shape[-1], RTL, out, 5.0, "xcvu13p-flga2577-2-e")
        _BUILT[kind] = (section, out, logits)
    return _BUILT[kind]


# part and lgatr_slim, the two heaviest (80-90 s each on 2 cores), run with `make test-slow`; the default suite keeps
# their ops' traces (test_ops' shared op base) and the pair-bias taggers' RTL (test_pair_bias)
HEAVY_TOPS = ("part", "lgatr_slim")


@pytest.mark.parametrize("kind", [pytest.param(k, marks=pytest.mark.slow) if k in HEAVY_TOPS else k
                                  for k in kinds.NAMES])
def test_the_whole_tagger_is_one_top_module_bit_exact_at_its_latency(kind, tmp_path_factory):
    section, out, logits = _top(kind, tmp_path_factory)
    modules = re.findall(r"^module (\w+)", (out / "l1tag_top.v").read_text(), re.M)
    assert modules == ["l1tag_top"]
    assert (out / "verilog" / "src" / "l1tag_core.v").is_file() and (out / "vhdl" / "src" / "l1tag_core.vhd").is_file()
    # every jet through the top, every logit compared, the valid signal at stages + 1 edges
    assert section["jets"] == JETS and section["mismatched_jets"] == 0 and section["bit_exact_fraction"] == 1.0
    stages = int(re.search(r'"latency": (\d+)', (out / "verilog" / "metadata.json").read_text()).group(1))
    assert section["latency_cycles"] == stages + 1 > 1
    assert section["latency_ns"] == section["latency_cycles"] * 5.0
    assert f"localparam LATENCY = {stages + 1};" in (out / "l1tag_top.v").read_text()
    ports = section["ports"]
    features = kind_inputs(kind)[0]
    assert ports["particles"]["fields"] == 4 * features and ports["logits"]["fields"] == logits.shape[1] == 5
    assert ports["particles"]["width"] == 4 * features * ports["particles"]["field_bits"]
    assert not (out / "obj_dir").exists(), "the simulator binary is rebuilt from the Verilog, not shipped"


def test_the_packed_vectors_are_the_reference(tmp_path_factory):
    """tb/outputs.mem holds the fixed-point reference's logits in the port format (hex fields)."""
    section, out, logits = _top("deepsets", tmp_path_factory)
    fmt = section["ports"]["logits"]
    words = (out / "tb" / "outputs.mem").read_text().split()
    assert len(words) == JETS
    first = int(words[0], 16)
    fields = [(first >> (fmt["field_bits"] * k)) & ((1 << fmt["field_bits"]) - 1) for k in range(fmt["fields"])]
    signed = [f - (1 << fmt["field_bits"]) if fmt["signed"] and f >> (fmt["field_bits"] - 1) else f for f in fields]
    np.testing.assert_array_equal(np.array(signed) / 2.0 ** fmt["frac_bits"], logits[0])


@pytest.mark.parametrize("mutation", [pytest.param("table_entry", marks=pytest.mark.slow), "wiring_constant"])
def test_a_mutated_design_fails_verification_with_exit_4(mutation, tmp_path_factory, tmp_path):
    """One table entry per table (SAL-T's exp table: entry 0, exp(0), is read in every softmax row) or one constant of the
    Verilog changed: the re-simulation names the first jet and logit that differ (FidelityError, exit 4)."""
    from l1tag.package.bundle import resimulate_top

    _, out, _ = _top("salt" if mutation == "table_entry" else "deepsets", tmp_path_factory)
    copy = tmp_path / "top"
    shutil.copytree(out, copy)
    assert resimulate_top(copy) == {"jets": JETS}
    if mutation == "table_entry":
        for mem in (copy / "verilog" / "src" / "memfiles").glob("*.mem"):
            lines = mem.read_text().split("\n")
            lines[0] = format(0 if int(lines[0], 16) else 1, f"0{len(lines[0])}X")  # e.g. exp(0) = 1 -> 0
            mem.write_text("\n".join(lines))
    else:  # the last adder of the last stage (a sum of many terms) made a subtractor: its IS_SUB parameter
        last = max((copy / "verilog" / "src").glob("l1tag_core_stage*.v"),
                   key=lambda f: int(re.search(r"stage(\d+)", f.name).group(1)))
        text = last.read_text()
        match = list(re.finditer(r"shift_adder #\((?:-?\d+, ){6}([01])\)", text))[-1]  # its last: a partial sum
        last.write_text(text[:match.start(1)] + str(1 - int(match.group(1))) + text[match.end(1):])
    with pytest.raises(FidelityError, match=r"rtl/top: .* differs from tb/outputs.mem on \d+ of 120 jets, first at "
                                            r"jet \d+ logit \d+"):
        resimulate_top(copy)


def test_the_build_check_exits_4_naming_the_jet_and_logit():
    from l1tag.build import check_fidelity

    cfg = config_from_dict({"name": "t"})
    top = {"bit_exact_fraction": 0.99, "first_mismatch": {"jet": 7, "logit": 2, "rtl": "1f", "expected": "1e"}}
    with pytest.raises(FidelityError, match=r"rtl_top_bit_exact_fraction = 0.9900, below csim.min_bit_exact_fraction .*"
                                            r"first at jet 7 logit 2 \(rtl 1f, expected 1e"):
        check_fidelity(cfg, {"bit_exact_fraction": 1.0}, {"bit_exact_fraction": 1.0, "blocks": [], "top": top})


def test_a_small_whole_design_is_synthesized_by_yosys(tmp_path):
    """Up to rtl.top_synth_max_cost the whole top is counted by Yosys, its valid pipeline's registers included."""
    from l1tag.rtl.top import build_top

    lowered, jets, logits = _micro("deepsets")
    rtl = types.SimpleNamespace(latency_cutoff=5, top_synth_max_cost=10**6, workers=1)
    section = build_top(lowered, jets[:20], logits[:20], 4, 3, rtl, tmp_path / "top", 5.0, "xcvu13p-flga2577-2-e")
    yosys = section["yosys"]
    assert section["bit_exact_fraction"] == 1.0 and yosys["LUT"] > 100 and yosys["FF"] > section["latency_cycles"]
    assert section["seconds"]["yosys"] > 0 and (tmp_path / "top" / "yosys" / "stat.json").is_file()
    # the same design in pieces (how bench/rtl_top.py counts designs too large for one Yosys process): every
    # stage's logic alone, the registers from the top with da4ml's primitives as black boxes
    from l1tag.rtl.synth import synthesize_by_stage

    pieces = synthesize_by_stage(tmp_path / "top" / "verilog", "l1tag_core", tmp_path / "pieces", workers=2)
    stages = section["stages"]
    assert set(pieces["modules"]) == {"l1tag_core"} | {f"l1tag_core_stage{i}" for i in range(stages)}
    assert pieces["modules"]["l1tag_core"]["FF"] > 0 and all(
        pieces["modules"][f"l1tag_core_stage{i}"]["FF"] == 0 for i in range(stages)), "stages are combinational"
    assert pieces["LUT"] == sum(pieces["modules"][f"l1tag_core_stage{i}"]["LUT"] for i in range(stages))
    # measured on this design: LUT +2.6 %, FF +1.2 % (it has no delay chain: the flattened run packs no SRL),
    # CARRY and DSP equal; the pieces extract no SRL, every register bit is a flip-flop
    assert pieces["SRL"] == 0 and yosys["SRL"] == 0
    assert pieces["LUT"] == pytest.approx(yosys["LUT"], rel=0.05)
    assert pieces["FF"] == pytest.approx(yosys["FF"] - section["latency_cycles"], rel=0.05)
    assert (pieces["CARRY"], pieces["DSP"]) == (yosys["CARRY"], yosys["DSP"])
