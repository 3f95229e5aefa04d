"""Atomic writes on a file system that refuses them: one line naming the file, exit 2, nothing left behind."""

from __future__ import annotations

import errno
import os
import resource
import signal
import subprocess
import sys

import pytest

from l1tag.cli import main
from l1tag.errors import BuildDirError
from l1tag.files import atomic_path, write_text


def test_a_full_disk_names_the_target_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "report.md"
    target.write_text("the previous report\n")
    with pytest.raises(BuildDirError, match=rf"^{target}: could not be written \(no space left on device\)"):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]
    assert target.read_text() == "the previous report\n"


def test_other_os_errors_pass_through_unchanged(tmp_path):
    with pytest.raises(PermissionError):
        with atomic_path(tmp_path / "x"):
            raise PermissionError(errno.EACCES, "denied")


def test_temporaries_of_dead_processes_are_swept_and_live_ones_kept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    orphan = tmp_path / f".hls.tmp-{dead.stdout.strip()}"
    (orphan / "firmware").mkdir(parents=True)
    live = tmp_path / f".hls.tmp-{os.getppid()}"  # our parent runs: another l1tag's work in progress
    live.mkdir()
    other = tmp_path / f".report.md.tmp-{dead.stdout.strip()}"  # another target's: not ours to sweep here
    other.write_text("x")
    write_text(tmp_path / "hls", "")
    assert not orphan.exists() and live.exists() and other.exists()


def test_a_library_write_on_a_full_disk_exits_2_naming_the_file(monkeypatch, capsys):
    import l1tag.data.inspect as inspect

    def full(path):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/data/cache/jets.npz")

    monkeypatch.setattr(inspect, "inspect_file", full)
    assert main(["data", "inspect", "jets.h5"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: /data/cache/jets.npz: could not be written (no space left on device)")
    assert len(err.splitlines()) == 1


def _file_size_limit(limit: int):
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write then fails with EFBIG, as on a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def test_data_generate_on_a_full_disk_exits_2_and_keeps_only_finished_tasks(tmp_path):
    """HDF5 itself crashes at exit when its writes fail: the file is built in memory and written by l1tag."""
    out = tmp_path / "jets.h5"
    r = subprocess.run([sys.executable, "-m", "l1tag.cli", "-q", "data", "generate", "--out", str(out), "--jets",
                        "50", "--constituents", "32", "--jobs", "1"], preexec_fn=_file_size_limit(100_000),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2, r.stderr[-2000:]
    assert r.stderr.strip().splitlines() == [f"error: {out}: could not be written (file too large); nothing was "
                                             f"left half-written: free space there (or write elsewhere with --out "
                                             f"/ data.path) and rerun"]
    # nothing half-written: no output file, only the finished generation tasks, kept for the rerun to resume
    assert [p.name for p in tmp_path.iterdir()] == ["jets.h5.partial"]
    assert len(list((tmp_path / "jets.h5.partial").glob("task-*.npz"))) == 5
