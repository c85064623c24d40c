"""The manifest contract every dataset loader returns."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.errors import DatasetError

#: Columns of every manifest. ``path`` is the audio file ("" where only features exist);
#: ``group`` is the unit that must never straddle a split: the artist where known, else the track.
MANIFEST_COLUMNS: tuple[str, ...] = ("path", "label", "track_id", "artist", "group", "subset")


@dataclass
class Dataset:
    """A labelled collection of tracks.

    Attributes
    ----------
    name : str
        Human-readable name ("GTZAN", "FMA small", a folder name...).
    layout : str
        The layout it was read with (``gtzan``, ``fma``, ``folders``, ``features-csv``).
    manifest : pd.DataFrame
        One row per track (or per segment row of a feature table), :data:`MANIFEST_COLUMNS`.
    genres : list of str
        Sorted label names; class index ``i`` is ``genres[i]``.
    features : np.ndarray or None
        Precomputed summary features, one row per manifest row (feature tables only).
    warnings : list of str
        What the loader skipped and why.
    """

    name: str
    layout: str
    manifest: pd.DataFrame
    genres: list[str]
    features: np.ndarray | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def labels(self) -> np.ndarray:
        """Integer class of each row, indexing :attr:`genres`."""
        mapping = {g: i for i, g in enumerate(self.genres)}
        return np.array([mapping[g] for g in self.manifest["label"]], dtype=np.int64)

    def subset(self, rows: np.ndarray) -> Dataset:
        """A dataset of the given row indices (genres unchanged)."""
        return Dataset(
            name=self.name,
            layout=self.layout,
            manifest=self.manifest.iloc[rows].reset_index(drop=True),
            genres=list(self.genres),
            features=None if self.features is None else self.features[rows],
            warnings=list(self.warnings),
        )

    def summary(self) -> pd.DataFrame:
        """Tracks and groups per genre."""
        m = self.manifest
        return (
            m.groupby("label")
            .agg(tracks=("track_id", "nunique"), rows=("track_id", "size"), groups=("group", "nunique"))
            .reindex(self.genres)
        )


def make_manifest(rows: list[dict[str, object]]) -> pd.DataFrame:
    """Build a manifest from row dicts, filling ``artist``/``group``/``subset`` defaults."""
    frame = pd.DataFrame(rows, columns=list(MANIFEST_COLUMNS))
    frame["artist"] = frame["artist"].fillna("").astype(str)
    frame["subset"] = frame["subset"].fillna("").astype(str)
    frame["group"] = np.where(frame["artist"] != "", "artist:" + frame["artist"],
                              "track:" + frame["track_id"].astype(str))
    return frame


def keep_copies_together(manifest: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Give byte-identical audio files one group, so no split GenreLab computes puts a copy of
    a song on the other side from the song (a collection's "best of" folder, a file saved
    twice; a published split is used as published).

    Files are compared by size, then by their first and last 64 KB, and only files alike in
    both are read whole (sha256): clips of one fixed length (GTZAN's) cost two short reads
    each, a collection of songs of different sizes one ``stat`` per file. Groups that a copy
    joins are merged whole: an artist's group absorbs the group of a copy filed under another
    artist.

    Returns
    -------
    manifest : pd.DataFrame
        The manifest with merged ``group`` values (the input when nothing is merged).
    copies : int
        Files that are copies of an earlier file.
    """
    from core.atomic import file_sha256

    paths = manifest["path"].astype(str)
    alike: dict[object, list[int]] = {}
    for row, path in enumerate(paths):
        if path:
            try:
                alike.setdefault(os.stat(path).st_size, []).append(row)
            except OSError:
                continue  # unreadable: the features step reports it
    for digest in (_ends_digest, file_sha256):  # narrow down, then compare whole files
        narrowed: dict[object, list[int]] = {}
        for key, rows in alike.items():
            if len(rows) < 2:
                continue
            for row in rows:
                try:
                    narrowed.setdefault((key, digest(paths.iloc[row])), []).append(row)
                except OSError:
                    continue
        alike = narrowed
    parent = {g: g for g in manifest["group"]}

    def root(group: str) -> str:
        while parent[group] != group:
            group = parent[group]
        return group

    copies = 0
    for rows in (r for r in alike.values() if len(r) > 1):
        first = root(manifest["group"].iloc[rows[0]])
        for row in rows[1:]:
            copies += 1
            other = root(manifest["group"].iloc[row])
            if other != first:
                parent[other] = first
    if not copies:
        return manifest, 0
    merged = manifest.copy()
    merged["group"] = [root(g) for g in manifest["group"]]
    return merged, copies


def _ends_digest(path: str, size: int = 65536) -> str:
    """sha256 of a file's first and last ``size`` bytes: equal for copies, and almost always
    different for two different files of one length."""
    with open(path, "rb") as fh:
        head = fh.read(size)
        fh.seek(max(0, os.fstat(fh.fileno()).st_size - size))
        return hashlib.sha256(head + fh.read(size)).hexdigest()


def validate_dataset(dataset: Dataset, *, source: str) -> Dataset:
    """Check the manifest contract; raise :class:`DatasetError` naming ``source`` if broken."""
    m = dataset.manifest
    missing = [c for c in MANIFEST_COLUMNS if c not in m.columns]
    if missing:
        raise DatasetError(f"{source}: manifest lacks columns {missing}")
    if m.empty:
        raise DatasetError(f"{source}: no tracks found")
    if len(dataset.genres) < 2:
        found = dataset.genres[0] if dataset.genres else "none"
        raise DatasetError(
            f"{source}: a genre classifier needs at least two genres with audio; found only "
            f"{found!r}"
        )
    if dataset.features is not None and len(dataset.features) != len(m):
        raise DatasetError(f"{source}: {len(dataset.features)} feature rows for {len(m)} tracks")
    # One track belongs to one group: otherwise group-aware splits could not keep it whole.
    per_track = m.groupby("track_id")["group"].nunique()
    if (per_track > 1).any():
        raise DatasetError(f"{source}: track {per_track.idxmax()!r} belongs to several groups")
    return dataset


def concat_datasets(datasets: list[Dataset], *, name: str) -> Dataset:
    """One dataset of several audio collections of the same layout (e.g. GTZAN excerpts + clips).

    Files of the same ``track_id`` (an excerpt and the full clip of one GTZAN track) keep one
    group, so every split keeps them on one side.

    Raises
    ------
    DatasetError
        Fewer than one dataset, different layouts, or feature tables (audio collections only).
    """
    if not datasets:
        raise DatasetError("nothing to combine")
    if len({d.layout for d in datasets}) > 1 or any(d.features is not None for d in datasets):
        raise DatasetError("only audio datasets of one layout can be combined")
    manifest = pd.concat([d.manifest for d in datasets], ignore_index=True)
    genres = sorted(set().union(*(d.genres for d in datasets)))
    combined = Dataset(name=name, layout=datasets[0].layout, manifest=manifest, genres=genres,
                       warnings=[w for d in datasets for w in d.warnings])
    return validate_dataset(combined, source=name)
