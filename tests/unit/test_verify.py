"""`l1tag package --verify` verifies (issue 22): the checksums and the firmware sha256 are recomputed from the
files, the C++ is compiled by l1tag's own g++ command line (a build_lib.sh in the bundle never runs), and a
malformed bundle is exit 2 with one line.  The bundle here is hand-made (a 4-in, 2-out C++ function with
hls4ml's bridge layout), so no model is trained."""

from __future__ import annotations

import gzip
import json
import shutil
import tarfile
from pathlib import Path

import pytest

from l1tag.cli import main
from l1tag.files import sha256_file
from l1tag.package.bundle import tree_digest

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")

TOP = "myproject"
FIRMWARE = f"""#include "{TOP}.h"
void {TOP}(const double x[4], double y[2]) {{ y[0] = x[0] + 2 * x[1]; y[1] = x[2] * x[3] - 0.5; }}
"""
HEADER = f"#pragma once\nvoid {TOP}(const double x[4], double y[2]);\n"
BRIDGE = f"""#include "firmware/{TOP}.h"
extern "C" void {TOP}_double(double x[4], double y[2]) {{ {TOP}(x, y); }}
"""


def _project(root: Path, evil_marker: Path | None = None) -> Path:
    hls = root / "hls"
    (hls / "firmware" / "ap_types").mkdir(parents=True)
    (hls / "tb_data").mkdir()
    (hls / "firmware" / f"{TOP}.cpp").write_text(FIRMWARE)
    (hls / "firmware" / f"{TOP}.h").write_text(HEADER)
    (hls / f"{TOP}_bridge.cpp").write_text(BRIDGE)
    (hls / "tb_data" / "tb_input_features.dat").write_text("1 2 3 4\n0.5 0 -1 2\n")
    (hls / "tb_data" / "tb_output_predictions.dat").write_text("5 11.5\n0.5 -2.5\n")
    marker = evil_marker or root / "never"
    (hls / "build_lib.sh").write_text(f"#!/bin/bash\ntouch {marker}\nexit 1\n")
    return root


def _manifest(root: Path) -> dict:
    files = {str(p.relative_to(root)): sha256_file(p) for p in sorted(root.rglob("*")) if p.is_file()}
    files.pop("manifest.json", None)
    return {"top_function": TOP, "firmware_sha256": tree_digest(root / "hls"), "files": files,
            "interface": {"inputs": [{"name": "x", "shape": [4], "type": "double"}],
                          "outputs": [{"name": "y", "shape": [2], "type": "double"}]}}


def _pack(root: Path, out: Path, manifest: dict | bytes | None = None) -> Path:
    manifest = _manifest(root) if manifest is None else manifest
    data = manifest if isinstance(manifest, bytes) else json.dumps(manifest).encode()
    (root / "manifest.json").write_bytes(data)
    with open(out, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz, \
            tarfile.open(fileobj=gz, mode="w") as tar:
        for p in sorted(root.rglob("*")):
            if p.is_file():
                tar.add(p, arcname=f"b-firmware/{p.relative_to(root)}")
    return out


def _verify(bundle: Path, capsys) -> tuple[int, str, str]:
    code = main(["package", "--verify", str(bundle), "--no-rtl"])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_a_good_bundle_verifies_without_running_its_build_script(tmp_path, capsys):
    marker = tmp_path / "outside" / "ran"
    marker.parent.mkdir()
    root = _project(tmp_path / "b", evil_marker=marker)
    bundle = _pack(root, tmp_path / "b.tar.gz")
    code, out, err = _verify(bundle, capsys)
    assert code == 0, err
    assert "2 test vectors replayed bit-exactly" in out
    assert f"firmware sha256 {tree_digest(root / 'hls')}, recomputed" in out
    assert not marker.exists(), "verification ran the bundle's build_lib.sh"


def test_changed_firmware_with_an_updated_manifest_entry_is_rejected(tmp_path, capsys):
    """The file's checksum entry is updated to match, but the firmware sha256 is recomputed from the files."""
    root = _project(tmp_path / "b")
    manifest = _manifest(root)
    src = root / "hls" / "firmware" / f"{TOP}.cpp"
    src.write_text(FIRMWARE.replace("- 0.5", "- 0.25"))  # a different design
    manifest["files"][f"hls/firmware/{TOP}.cpp"] = sha256_file(src)
    code, out, err = _verify(_pack(root, tmp_path / "t.tar.gz", manifest), capsys)
    assert code == 2 and err.count("\n") == 1
    assert "the firmware (hls/firmware, hls/tb_data) has sha256" in err and "changed after packing" in err


def test_consistent_tampering_shows_a_different_firmware_sha256(tmp_path, capsys):
    """Firmware, vectors and every manifest entry changed together verify, but the printed sha256 (recomputed)
    is not the published one: the receiver compares it."""
    original = tree_digest(_project(tmp_path / "a") / "hls")
    root = _project(tmp_path / "b")
    (root / "hls" / "firmware" / f"{TOP}.cpp").write_text(FIRMWARE.replace("- 0.5", "- 0.25"))
    (root / "hls" / "tb_data" / "tb_output_predictions.dat").write_text("5 11.75\n0.5 -2.25\n")
    code, out, err = _verify(_pack(root, tmp_path / "t.tar.gz"), capsys)
    assert code == 0, err
    assert original not in out and tree_digest(root / "hls") in out


@pytest.mark.parametrize("manifest, words", [
    (b"{not json", "manifest.json is not readable JSON"),
    (b"\xff\xfe\x00", "manifest.json is not readable JSON"),
    ([1, 2], "manifest.json: not a JSON object"),
    ({"files": "x"}, "'files' must map each file to its sha256"),
    ("no_files_key", "'files' must map each file"),
    ("bad_top", "'top_function' must be a C identifier, not '../evil'"),
    ("bad_shape", "'interface.inputs[0].shape' must be a list of positive integers"),
    ("bad_sha", "'firmware_sha256' must be a sha256"),
])
def test_a_malformed_manifest_exits_2_with_one_line(tmp_path, capsys, manifest, words):
    root = _project(tmp_path / "b")
    good = _manifest(root)
    edits = {"no_files_key": lambda m: m.pop("files"), "bad_top": lambda m: m.update(top_function="../evil"),
             "bad_shape": lambda m: m["interface"]["inputs"][0].update(shape=["4"]),
             "bad_sha": lambda m: m.update(firmware_sha256=None)}
    if isinstance(manifest, str):
        edits[manifest](good)
        manifest = good
    code, out, err = _verify(_pack(root, tmp_path / "m.tar.gz", manifest if isinstance(manifest, (bytes, dict)) else
                                   json.dumps(manifest).encode()), capsys)
    assert code == 2, err
    assert words in err and err.count("\n") == 1 and "internal error" not in err


def test_wrong_top_function_non_numeric_vectors_and_a_truncated_archive_exit_2(tmp_path, capsys):
    root = _project(tmp_path / "b")
    manifest = _manifest(root)
    manifest["top_function"] = "other"
    code, _, err = _verify(_pack(root, tmp_path / "top.tar.gz", manifest), capsys)
    assert code == 2 and "other.cpp missing" in err and err.count("\n") == 1
    (root / "hls" / "tb_data" / "tb_input_features.dat").write_text("1 2 x 4\n")
    code, _, err = _verify(_pack(root, tmp_path / "vec.tar.gz"), capsys)
    assert code == 2 and "tb_data/tb_input_features.dat: not a table of numbers" in err and err.count("\n") == 1
    whole = (tmp_path / "vec.tar.gz").read_bytes()
    (tmp_path / "cut.tar.gz").write_bytes(whole[: len(whole) // 2])
    code, _, err = _verify(tmp_path / "cut.tar.gz", capsys)
    assert code == 2 and "not a readable .tar.gz bundle" in err and err.count("\n") == 1 and "aborted" not in err


def test_a_broken_rtl_json_exits_2(tmp_path, capsys):
    from l1tag.errors import DataError
    from l1tag.package.bundle import _rtl_pieces

    (tmp_path / "rtl").mkdir()
    (tmp_path / "rtl" / "rtl.json").write_text("{\"blocks\": [{\"pieces\": [{\"name\": \"../x\"}]}], \"latency_cutoff\": 5}")
    with pytest.raises(DataError, match="block '../x' has no folder under rtl/"):
        _rtl_pieces(tmp_path / "rtl" / "rtl.json")
    (tmp_path / "rtl" / "rtl.json").write_text("[1]")
    with pytest.raises(DataError, match="rtl/rtl.json: not the open-synth stage's record"):
        _rtl_pieces(tmp_path / "rtl" / "rtl.json")
