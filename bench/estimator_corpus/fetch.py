"""Bring the referenced calibration designs (``referenced.yaml``: l1tag keeps only their addresses and checksums:
vendor reports stay out of the repository, and most of these repositories have no licence file) into
``build/estimator_corpus/`` for ``bench/estimator_accuracy.py``.

Usage: python bench/estimator_corpus/fetch.py [--mirror DIR] [--out DIR]

Each file comes from ``--mirror`` (``DIR/<owner>+<repo>/repo``, a bare git clone: ``git show <commit>:<path>``)
when given, else from ``https://raw.githubusercontent.com/<owner>/<repo>/<commit>/<path>``, and must match its
SHA-256 in the manifest.  Files already present and correct are kept, so an interrupted run resumes; every file
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


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch_design(design: dict, out: Path, mirror: Path | None) -> Path:
    """The design's project folder under ``out``, every file checked against the manifest."""
    folder = out / design["repository"].replace("/", "__") / design["folder"]
    for rel, sha in design["files"].items():
        target = folder / rel
        if target.is_file() and _sha(target.read_bytes()) == sha:
            continue
        path = f"{design['folder']}/{rel}" if design["folder"] else rel
        data = _source(design, path, mirror)
        if _sha(data) != sha:
            raise SystemExit(f"{design['repository']}@{design['commit'][:12]}:{path}: checksum differs from "
                             f"referenced.yaml; fix: check the commit, or the mirror's copy")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        tmp.write_bytes(data)
        tmp.replace(target)
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
