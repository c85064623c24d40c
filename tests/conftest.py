from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@pytest.fixture
def shared_dir() -> Path:
    """``../shared`` beside the checkout; tests that need it skip cleanly without it."""
    if not (SHARED / "data" / "gtzan").is_dir():
        pytest.skip("../shared is not present (real-data tests skipped)")
    return SHARED


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own feature cache; the user's cache is never touched."""
    monkeypatch.setenv("GENRELAB_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
