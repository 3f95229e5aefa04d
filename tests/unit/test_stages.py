"""Stage records that see the data and are never stale (issue 22): the data stage's key covers the contents of
its input files, a file at data.path is reused for `data.source: generate` only if it was generated with the
config's settings, a stage's record is forgotten before it rewrites its outputs, `l1tag convert` forgets the
firmware stage's, and the bundle stage refuses an HLS project without its test vectors."""

from __future__ import annotations

import json
import shutil
import sys
import types
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml
from test_readers import write_hls4ml

import l1tag.build as build
from l1tag.build import StageContext, run_stage
from l1tag.cli import main
from l1tag.config import load_config
from l1tag.errors import DataError, StageMissingError


def _config(tmp_path: Path, data: dict, name: str = "s") -> Path:
    p = tmp_path / f"{name}.yaml"
    p.write_text(yaml.safe_dump({"name": name, "seed": 3, "data": {"constituents": 16, **data}}))
    return p


def _files(tmp_path: Path) -> tuple[Path, Path]:
    labels = np.arange(50) % 5
    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    write_hls4ml(a, n=50, seed=1, labels=labels)
    write_hls4ml(b, n=50, seed=2, labels=labels)
    return a, b


def test_replacing_the_data_file_reruns_the_data_stage(tmp_path):
    a, b = _files(tmp_path)
    data = tmp_path / "jets.h5"
    shutil.copy(a, data)
    ctx = StageContext(load_config(_config(tmp_path, {"source": "hls4ml", "path": "jets.h5"})), tmp_path / "build")
    assert run_stage(ctx, "data") is True
    first = ctx.data.x["train"].copy()
    record = json.loads((tmp_path / "build" / ".stages" / "data.json").read_text())
    assert record["files"]["inputs"][0]["file"] == str(data.resolve())
    assert {"size", "mtime_ns", "sha256_ends"} <= set(record["files"]["inputs"][0])
    ctx.data = None
    assert run_stage(ctx, "data") is False, "nothing changed: skipped"
    shutil.copy(b, data)  # another file over data.path, same size
    assert data.stat().st_size == a.stat().st_size
    ctx.data = None
    assert run_stage(ctx, "data") is True, "a changed data file must rerun the data stage"
    assert not np.array_equal(ctx.data.x["train"], first), "and the prepared data must be the new file's"


def test_the_prepared_cache_sees_a_copy_within_the_same_second(tmp_path):
    from l1tag.data.preprocess import file_fingerprint

    a, b = _files(tmp_path)
    before = file_fingerprint(str(a))
    mtime = a.stat().st_mtime_ns
    a.write_bytes(b.read_bytes())
    import os

    os.utime(a, ns=(mtime, mtime))  # same size, same mtime: only the contents differ
    assert file_fingerprint(str(a)) != before


def _generated(path: Path, jets: int = 10, seed: int = 42, detector: str = "none", constituents: int = 150):
    with h5py.File(path, "w") as f:
        f["jets"] = np.zeros((jets, 9))
        f.attrs.update({"generator": "l1tag: test", "seed": seed, "detector": detector, "constituents": constituents})


@pytest.mark.parametrize("attrs, words", [
    ({"jets": 300}, "jets 300 (the config asks for 5000)"),
    ({"seed": 42}, "seed 42 (the config asks for 7)"),
    ({"detector": "none"}, "detector 'none' (the config asks for 'simple')"),
    ({"constituents": 16}, "16 constituents per jet (the config needs at least 32)"),
])
def test_a_generated_file_with_other_settings_is_refused(tmp_path, capsys, attrs, words):
    settings = {"jets": 5000, "seed": 7, "detector": "simple", "constituents": 150, **attrs}
    _generated(tmp_path / "gen.h5", **settings)
    cfg = tmp_path / "g.yaml"
    cfg.write_text(yaml.safe_dump({"name": "g", "seed": 7, "data": {"source": "generate", "path": "gen.h5",
                                                                    "jets": 5000, "detector": "simple"}}))
    assert main(["data", "prepare", "-c", str(cfg), "-o", str(tmp_path / "build")]) == 2
    err = capsys.readouterr().err
    assert "data.path was generated with other settings" in err and words in err and err.count("\n") == 1


def test_a_file_l1tag_did_not_generate_is_refused_for_the_generate_source(tmp_path):
    from l1tag.data.generate import check_generated

    a, _ = _files(tmp_path)
    with pytest.raises(DataError, match="l1tag did not generate it .*set data.source: hls4ml"):
        check_generated(a, 50, seed=3, constituents=16, detector="none")
    _generated(tmp_path / "ok.h5", jets=5000, seed=7, detector="simple")
    check_generated(tmp_path / "ok.h5", 5003, seed=7, constituents=32, detector="simple")  # 5003 -> 1000 per class


def test_an_interrupted_stage_leaves_no_record(tmp_path, monkeypatch):
    a, _ = _files(tmp_path)
    ctx = StageContext(load_config(_config(tmp_path, {"source": "hls4ml", "path": str(a)})), tmp_path / "build")
    assert run_stage(ctx, "data")
    record = tmp_path / "build" / ".stages" / "data.json"
    assert record.exists()

    def interrupted(_ctx):
        raise KeyboardInterrupt

    monkeypatch.setitem(build.STAGE_FUNCTIONS, "data", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_stage(ctx, "data", force=True)
    assert not record.exists(), "a stage cut while rewriting its outputs must not keep its old record"
    monkeypatch.undo()
    assert run_stage(ctx, "data") is True, "so the next build reruns it"


def _fake_build_dir(tmp_path: Path) -> Path:
    b = tmp_path / "build"
    (b / ".stages").mkdir(parents=True)
    (b / ".stages" / "firmware.json").write_text(json.dumps({"key": "k"}))
    (b / "model").mkdir()
    (b / "model" / "qat.h5").write_bytes(b"")
    (b / "hls" / "firmware").mkdir(parents=True)
    (b / "hls" / "firmware" / "myproject.cpp").write_text("// converted, not C-simulated\n")
    (b / "interface.json").write_text("{}")
    return b


def test_convert_forgets_the_firmware_record_before_rewriting_hls(tmp_path, monkeypatch, capsys):
    b = _fake_build_dir(tmp_path)

    def convert_model(*args, **kwargs):  # cut in the middle of the rewrite
        raise KeyboardInterrupt

    monkeypatch.setitem(sys.modules, "l1tag.hls.convert", types.SimpleNamespace(convert_model=convert_model))
    monkeypatch.setitem(sys.modules, "l1tag.models.builders", types.SimpleNamespace(load_model=lambda f: None))
    cfg = _config(tmp_path, {})
    assert main(["convert", "-c", str(cfg), "-o", str(b)]) == 130
    assert capsys.readouterr().err.strip() == "interrupted; rerun to resume"  # (after click's newline closing ^C)
    assert not (b / ".stages" / "firmware.json").exists()


def test_the_bundle_stage_refuses_a_project_without_test_vectors(tmp_path):
    b = _fake_build_dir(tmp_path)
    ctx = StageContext(load_config(_config(tmp_path, {})), b)
    with pytest.raises(StageMissingError, match=r"incomplete \(hls/tb_data/tb_input_features.dat, "
                                                r"hls/tb_data/tb_output_predictions.dat missing\); refusing to pack"):
        build.bundle_stage(ctx)
    assert not (b / ".stages" / "firmware.json").exists(), "the firmware stage reruns on the next build"
    assert not list(b.glob("*.tar.gz"))


# ------------------------------------------------------------------ build folders are l1tag's own

def test_out_must_not_be_an_empty_path(tmp_path, capsys):
    cfg = _config(tmp_path, {})
    assert main(["build", "-c", str(cfg), "--out", ""]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "an empty path would be the current directory" in err


def test_a_foreign_non_empty_folder_is_refused_and_left_alone(tmp_path, capsys):
    cfg = _config(tmp_path, {})
    out = tmp_path / "mine"
    (out / "rtl").mkdir(parents=True)
    (out / "rtl" / "top.v").write_text("module top; endmodule\n")
    (out / "report.md").write_text("my notes\n")
    for cmd in (["build"], ["data", "prepare"], ["report"], ["csim"]):
        assert main([*cmd, "-c", str(cfg), "-o", str(out)]) == 2, cmd
        err = capsys.readouterr().err
        assert "is not empty and not an l1tag build folder (no .l1tag-build)" in err and err.count("\n") == 1
    assert (out / "rtl" / "top.v").read_text() == "module top; endmodule\n"
    assert (out / "report.md").read_text() == "my notes\n" and not (out / ".l1tag-build").exists()


def test_l1tag_marks_its_folders_and_accepts_its_own_and_empty_ones(tmp_path):
    for folder in (tmp_path / "new" / "b", tmp_path / "empty"):
        (tmp_path / "empty").mkdir(exist_ok=True)
        with build.build_folder(folder):
            assert (folder / build.LOCK).read_text() == str(__import__("os").getpid())
        assert (folder / build.MARKER).is_file() and not (folder / build.LOCK).exists()
        (folder / "report.md").write_text("x")
        with build.build_folder(folder):  # marked: accepted although not empty
            pass
    legacy = tmp_path / "legacy"
    (legacy / ".stages").mkdir(parents=True)  # a build from before the marker
    with build.build_folder(legacy):
        pass
    assert (legacy / build.MARKER).is_file()


def test_a_second_l1tag_in_the_same_folder_is_refused_naming_the_pid(tmp_path):
    import subprocess

    from l1tag.errors import BuildDirError

    folder = tmp_path / "b"
    with build.build_folder(folder):
        pass
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (folder / build.LOCK).write_text(str(other.pid))
        with pytest.raises(BuildDirError, match=f"in use by l1tag process {other.pid}"):
            with build.build_folder(folder):
                pass
    finally:
        other.kill()
        other.wait()
    with build.build_folder(folder):  # the owner is gone: its stale lock is taken over
        assert (folder / build.LOCK).read_text() == str(__import__("os").getpid())


def test_an_unwritable_out_exits_2_naming_it(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    out = tmp_path / "file" / "b"  # a folder under a file cannot be made, even by root
    assert main(["build", "-c", str(_config(tmp_path, {})), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"build folder {out}: cannot write to it" in err and err.count("\n") == 1


def test_another_l1tag_code_reruns_the_stages_that_run_it(tmp_path, monkeypatch):
    """A stage's key covers l1tag's code it runs: a changed C++ kernel changes the firmware key (and so, through
    the firmware files, what follows), not the training's; compiled files are not code."""
    cfg = load_config(_config(tmp_path, {}))
    keys = {s: build.stage_key(cfg, s, tmp_path) for s in ("train", "firmware")}
    kernels = tmp_path / "pkg" / "firmware_templates"
    kernels.mkdir(parents=True)
    (tmp_path / "pkg" / "l1tag").mkdir()
    (kernels / "kernel.h").write_text("int a;")
    monkeypatch.setattr(build, "PACKAGE", tmp_path / "pkg" / "l1tag")
    monkeypatch.setitem(build.CODE, "firmware", ("../firmware_templates",))
    build.code_digest.cache_clear()
    first = build.stage_key(cfg, "firmware", tmp_path)
    assert first != keys["firmware"]
    (kernels / "kernel.pyc").write_bytes(b"compiled")
    build.code_digest.cache_clear()
    assert build.stage_key(cfg, "firmware", tmp_path) == first  # a compiled file is no change
    (kernels / "kernel.h").write_text("int b;")
    build.code_digest.cache_clear()
    assert build.stage_key(cfg, "firmware", tmp_path) != first
    monkeypatch.undo()
    build.code_digest.cache_clear()
    assert build.stage_key(cfg, "train", tmp_path) == keys["train"]
