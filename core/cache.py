"""On-disk feature cache keyed by audio content and feature parameters.

Layout: ``<root>/features/<params key>/<content sha256>.npz``. Each entry is written to a temporary
file and renamed into place, so concurrent writers of the same entry cannot corrupt it (the last
rename wins; both wrote identical content) and readers never see half a file. An entry that fails
to load is treated as missing and recomputed.
"""

from __future__ import annotations

import hashlib
import shutil
import zipfile
from pathlib import Path

import numpy as np

from core.atomic import atomic_path
from core.config import cache_dir
from core.features import FeatureParams


def content_digest(data: bytes) -> str:
    """SHA-256 hex digest of a file's bytes: the cache's identity for audio."""
    return hashlib.sha256(data).hexdigest()


class FeatureCache:
    """A folder of cached feature arrays.

    Parameters
    ----------
    root : str, Path or None
        Cache root (None: :func:`core.config.cache_dir`).
    """

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else cache_dir()

    @property
    def features_dir(self) -> Path:
        return self.root / "features"

    def _entry(self, digest: str, params: FeatureParams | str) -> Path:
        key = params if isinstance(params, str) else params.cache_key()
        return self.features_dir / key / f"{digest}.npz"

    def get(self, digest: str, params: FeatureParams | str) -> tuple[np.ndarray, int] | None:
        """The cached ``(features, n_samples)`` for this audio and parameters, or None.

        ``params`` is a :class:`FeatureParams` or any stable string key (e.g. for embeddings).
        """
        path = self._entry(digest, params)
        try:
            with np.load(path, allow_pickle=False) as data:
                return data["features"], int(data["n_samples"])
        except (FileNotFoundError, OSError, KeyError, ValueError, zipfile.BadZipFile, EOFError):
            return None

    def put(
        self, digest: str, params: FeatureParams | str, features: np.ndarray, n_samples: int
    ) -> None:
        """Store features atomically."""
        with atomic_path(self._entry(digest, params), suffix=".npz") as tmp, open(tmp, "wb") as fh:
            np.savez(fh, features=features, n_samples=np.int64(n_samples))

    def size(self) -> tuple[int, int]:
        """Number of entries and their total size in bytes."""
        files = [p for p in self.features_dir.rglob("*.npz")] if self.features_dir.exists() else []
        return len(files), sum(p.stat().st_size for p in files)

    def clear(self) -> int:
        """Delete every cached feature; returns how many entries were removed."""
        count, _ = self.size()
        shutil.rmtree(self.features_dir, ignore_errors=True)
        return count
