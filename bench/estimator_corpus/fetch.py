"""Bring the referenced calibration designs (``referenced.yaml``: public repositories without a licence file,
so l1tag keeps only their addresses and checksums) into ``build/estimator_corpus/`` for
``bench/estimator_accuracy.py``.

Usage: python bench/estimator_corpus/fetch.py [--mirror DIR] [--out DIR]

Each file comes from ``--mirror`` (``DIR/<owner>+<repo>/repo``, a bare git clone: ``git show <commit>:<path>``)
when given, else from ``https://raw.githubusercontent.com/<owner>/<repo>/<commit>/<path>``, and must match its
SHA-256 in the manifest; then a design's ``config_fix`` (text replacements in its hls4ml_config.yml, each with
its reason) is applied.  Files already present and correct are kept, so an interrupted run resumes; every file
is written to a temporary name and renamed, so none is ever half-written.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import urllib.request
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
MANIFEST = HERE / "referenced.yaml"
OUT = REPO / "build" / "estimator_corpus"


def _source(design: dict, path: str, mirror: Path | None) -> bytes:
    repo, commit = design["repository"], design["commit"]
    if mirror is not None:
        git = mirror / repo.replace("/", "+") / "repo"
        return subprocess.run(["git", f"--git-dir={git}", "show", f"{commit}:{path}"], check=True,
                              capture_output=True).stdout
    url = f"https://raw.githubusercontent.com/{repo}/{commit}/{path}"
    with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 (a fixed https host)
        return response.read()


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    tmp.replace(path)


def fetch_design(design: dict, out: Path, mirror: Path | None) -> Path:
    """The design's project folder under ``out``, every file checked; its config fixed as the manifest says."""
    folder = out / design["repository"].replace("/", "__") / design["folder"]
    fix = design.get("config_fix")
    for rel, sha in design["files"].items():
        target = folder / rel
        original = folder / (rel + ".orig") if fix and rel == "hls4ml_config.yml" else target
        if not (original.is_file() and hashlib.sha256(original.read_bytes()).hexdigest() == sha):
            path = f"{design['folder']}/{rel}" if design["folder"] else rel
            data = _source(design, path, mirror)
            if hashlib.sha256(data).hexdigest() != sha:
                raise SystemExit(f"{design['repository']}@{design['commit'][:12]}:{path}: checksum differs from "
                                 f"referenced.yaml; fix: check the commit, or the mirror's copy")
            _write(original, data)
        if original is not target:
            text = original.read_text()
            for old, new in fix["replace"]:
                if old not in text:
                    raise SystemExit(f"{design['repository']}:{design['folder']}: config_fix text {old!r} not found")
                text = text.replace(old, new)
            _write(target, text.encode())
    return folder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mirror", type=Path, default=None, help="folder of bare git mirrors <owner>+<repo>/repo")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    designs = yaml.safe_load(MANIFEST.read_text())["designs"]
    for i, design in enumerate(designs, 1):
        folder = fetch_design(design, args.out, args.mirror)
        print(f"[{i}/{len(designs)}] {folder.relative_to(args.out)}", file=sys.stderr)


if __name__ == "__main__":
    main()
