"""Shared fixtures: a fixed seed, paths to the repo and to the shared reference material."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

# Keep TensorFlow quiet and single-threaded-ish in tests (2-core CI machines).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.fixture(scope="session", autouse=True)
def jet_cache(tmp_path_factory) -> Path:
    """The tests' own jet cache (l1tag/data/cache.py), never the user's: shared by the session's builds."""
    folder = tmp_path_factory.mktemp("jet_cache")
    previous = os.environ.get("L1TAG_CACHE_DIR")
    os.environ["L1TAG_CACHE_DIR"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("L1TAG_CACHE_DIR", None)
    else:
        os.environ["L1TAG_CACHE_DIR"] = previous


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared is not next to the checkout")
    return SHARED
