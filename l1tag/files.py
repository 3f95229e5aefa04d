"""Atomic writes: every file or folder l1tag produces appears whole or not at all.

The one pattern behind all of them: write under a hidden temporary name in the same folder (so the
rename stays on one file system), then ``os.replace`` it over the target.  An interrupted or failed
write leaves the previous version (or nothing), never a truncated file.

Also the file digests (``sha256_file``, ``path_digest``) that stage keys and the bundle's manifest use.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any, Iterator

from l1tag.errors import BuildDirError

SKIP_SUFFIXES = (".so", ".o", ".pyc")  # build products, rebuilt by the receiver: not part of a folder's digest

# a write the file system refused for lack of room: no space, quota exceeded, file-size limit
NO_ROOM = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


@contextlib.contextmanager
def atomic_path(target: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to ``target``; on success it replaces ``target``, on error it is removed.

    Works for files and folders (an existing folder at ``target`` is removed just before the rename).
    ``suffix`` keeps an extension that a writer insists on (``np.savez`` appends ``.npz`` otherwise).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_orphans(target)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}{suffix}")
    _remove(tmp)
    try:
        yield tmp
        if tmp.is_dir() and target.is_dir():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except OSError as exc:
        if exc.errno in NO_ROOM:
            raise no_room(target, exc) from None
        raise
    finally:
        _remove(tmp)


def no_room(target: str | Path, exc: OSError | None = None) -> BuildDirError:
    """The one-line error for a write the file system refused for lack of room (exit 2)."""
    why = os.strerror(exc.errno).lower() if exc is not None and exc.errno else "no space left on device"
    return BuildDirError(f"{target}: could not be written ({why}); nothing was left half-written: free space "
                         f"there (or write elsewhere with --out / data.path) and rerun")


def _remove_orphans(target: Path) -> None:
    """Temporary siblings of ``target`` left by an l1tag process that no longer runs (killed, crashed)."""
    pattern = re.compile(rf"^\.{re.escape(target.name)}\.tmp-(\d+)")
    for p in target.parent.glob(f".{glob.escape(target.name)}.tmp-*"):
        m = pattern.match(p.name)
        if m and int(m.group(1)) != os.getpid() and not _alive(int(m.group(1))):
            _remove(p)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    elif p.exists() or p.is_symlink():
        p.unlink()


def write_text(target: str | Path, text: str) -> Path:
    with atomic_path(target) as tmp:
        tmp.write_text(text)
    return Path(target)


def write_bytes(target: str | Path, data: bytes) -> Path:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def write_json(target: str | Path, obj: Any, indent: int | None = 1) -> Path:
    return write_text(target, json.dumps(obj, indent=indent))


# --------------------------------------------------------------------------------------------
# Digests: the stage keys (l1tag/build.py) and the bundle's manifest (l1tag/package/bundle.py)
# --------------------------------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def path_digest(path: Path) -> str:
    """sha256 of a file, or of a folder's files (relative paths and contents, build products left out)."""
    path = Path(path)
    if path.is_file():
        return sha256_file(path)
    h = hashlib.sha256()
    for p in sorted(path.rglob("*")) if path.is_dir() else []:
        if p.is_file() and not p.name.endswith(SKIP_SUFFIXES):
            h.update(str(p.relative_to(path)).encode())
            h.update(sha256_file(p).encode())
    return h.hexdigest() if path.is_dir() else "<missing>"
