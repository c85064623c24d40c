"""Leak-free train/valid/test splits.

Every strategy assigns whole *groups* (the artist where known, else the track: see
``manifest["group"]``) to one side, so segments of one track, or tracks of one artist, never land
on both sides. Splitters return row indices, never data. :func:`check_no_leak` verifies the
property and is run on every split GenreLab makes.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

from core.datasets import Dataset
from core.datasets.gtzan import split_table
from core.errors import DatasetError, ParameterError

SPLIT_STRATEGIES: dict[str, str] = {
    "random": "stratified split by artist/track: 70% train, 10% valid, 20% test",
    "balanced": "artists dealt to train/valid/test genre by genre: 60% / 15% / 25% of each genre",
    "kfold": "stratified group k-fold (--fold picks the test fold)",
    "fault-filtered": "GTZAN fault-filtered split (443/197/290; Sturm / Kereliuk et al.)",
    "artist-3fold": "GTZAN 3-fold artist-filtered split (--fold 0..2)",
    "official": "the dataset's own split (FMA's training/validation/test)",
}


@dataclass(frozen=True)
class Split:
    """Row indices of the three sides of a split.

    Attributes
    ----------
    name : str
        Strategy and fold, e.g. ``"kfold-5/2"``.
    train, valid, test : np.ndarray [dtype=int64]
        Disjoint row indices into the dataset's manifest. ``valid`` may be empty.
    published : bool
        True for a split fixed by its authors (fault-filtered, artist-3fold, official): it is
        used exactly as published, so results compare with the literature.
    """

    name: str
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    published: bool = False

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "valid": len(self.valid), "test": len(self.test)}

    def assignment(self, n_rows: int) -> np.ndarray:
        """Side of each row ("train", "valid", "test" or "" for rows left out)."""
        side = np.full(n_rows, "", dtype=object)
        for name in ("train", "valid", "test"):
            side[getattr(self, name)] = name
        return side


def _idx(mask: np.ndarray) -> np.ndarray:
    return np.flatnonzero(mask).astype(np.int64)


def _stratified_group_folds(
    labels: np.ndarray, groups: np.ndarray, n_splits: int, seed: int, *, exact: bool = False
) -> list[np.ndarray]:
    """Test-fold row indices of a stratified group k-fold.

    Unless ``exact``, ``n_splits`` is lowered to what small data supports (no more folds than
    groups, nor than rows of the largest class), so a fold takes a larger share instead of failing.
    """
    n_groups = len(np.unique(groups))
    if not exact:
        n_splits = max(2, min(n_splits, n_groups, int(np.bincount(labels).max())))
    if n_groups < n_splits:
        raise DatasetError(
            f"cannot make {n_splits} folds from {n_groups} groups (artists/tracks); "
            "add tracks or use fewer folds"
        )
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    try:
        with warnings.catch_warnings():  # small genres miss some folds: expected on small data
            warnings.filterwarnings("ignore", message="The least populated class in y",
                                    category=UserWarning)
            return [test for _, test in splitter.split(np.zeros(len(labels)), labels, groups)]
    except ValueError as exc:
        largest = int(np.bincount(labels).max())
        why = (f"every genre has fewer than {n_splits} tracks (the largest has {largest})"
               if largest < n_splits else str(exc))
        raise DatasetError(f"cannot split {len(labels)} tracks into {n_splits} folds: {why}; "
                           "choose the random split, or add tracks") from None


def _carve_valid(
    rows: np.ndarray, labels: np.ndarray, groups: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split training rows into (train, valid) by group, ``fraction`` of them to valid."""
    if fraction <= 0 or len(np.unique(groups[rows])) < 2:
        return rows, np.empty(0, dtype=np.int64)
    n_splits = max(2, round(1.0 / fraction))
    folds = _stratified_group_folds(labels[rows], groups[rows], n_splits, seed)
    valid = np.sort(rows[folds[0]])
    return np.setdiff1d(rows, valid), valid


def random_split(
    dataset: Dataset, *, test_size: float = 0.2, valid_size: float = 0.1, seed: int = 0
) -> Split:
    """Stratified split of whole groups: about ``test_size`` test, ``valid_size`` valid."""
    if not 0 < test_size < 1:
        raise ParameterError(f"test_size must be in (0, 1), got {test_size!r}")
    if not 0 <= valid_size < 1 - test_size:
        raise ParameterError(f"valid_size must be in [0, 1 - test_size), got {valid_size!r}")
    labels, groups = dataset.labels, dataset.manifest["group"].to_numpy()
    n_splits = max(2, round(1.0 / test_size))
    test = np.sort(_stratified_group_folds(labels, groups, n_splits, seed)[0])
    rest = np.setdiff1d(np.arange(len(labels)), test)
    train, valid = _carve_valid(rest, labels, groups, valid_size / (1 - test_size), seed + 1)
    return Split(f"random-{seed}", train, valid, test)


def balanced_group_split(dataset: Dataset, *, test_size: float = 0.25, valid_size: float = 0.15,
                         seed: int = 0) -> Split:
    """Whole groups dealt to the sides genre by genre, so each genre gets its share everywhere.

    Where a few artists hold most of a genre's tracks (as in GTZAN), a stratified group k-fold
    can leave a genre with no validation or test track at all. Here, within each genre (a group
    belongs to the genre most of its rows have), groups are shuffled with ``seed``, then dealt
    largest first, each to the side furthest below its target share of that genre's rows.

    Parameters
    ----------
    dataset : Dataset
    test_size, valid_size : float
        Target shares of every genre's rows.
    seed : int
    """
    if not 0 < test_size < 1 or not 0 <= valid_size < 1 - test_size:
        raise ParameterError(f"need 0 < test_size < 1 and 0 <= valid_size < 1 - test_size, got "
                             f"{test_size!r}, {valid_size!r}")
    labels, groups = dataset.labels, dataset.manifest["group"].to_numpy()
    frame = pd.DataFrame({"label": labels, "group": groups})
    genre_of = frame.groupby("group")["label"].agg(lambda s: s.value_counts().idxmax())
    size_of = frame.groupby("group").size()
    targets = {"train": 1 - test_size - valid_size, "valid": valid_size, "test": test_size}
    side_of: dict[str, str] = {}
    rng = np.random.default_rng(seed)
    for genre in np.unique(genre_of.to_numpy()):
        members = genre_of.index[genre_of.to_numpy() == genre].to_numpy()
        members = members[rng.permutation(len(members))]
        members = sorted(members, key=lambda g: -size_of[g])  # stable: ties keep the shuffle
        total = size_of[members].sum()
        dealt = dict.fromkeys(targets, 0)
        for group in members:
            side = max(targets, key=lambda k: targets[k] * total - dealt[k])
            side_of[group] = side
            dealt[side] += size_of[group]
    side = np.array([side_of[g] for g in groups])
    return Split(f"balanced-{seed}", _idx(side == "train"), _idx(side == "valid"),
                 _idx(side == "test"))


def group_kfold(
    dataset: Dataset, *, n_splits: int = 5, valid_size: float = 0.1, seed: int = 0
) -> list[Split]:
    """Stratified group k-fold; each fold's validation rows are carved from its training groups."""
    if n_splits < 2:
        raise ParameterError(f"n_splits must be >= 2, got {n_splits!r}")
    labels, groups = dataset.labels, dataset.manifest["group"].to_numpy()
    splits = []
    folds = _stratified_group_folds(labels, groups, n_splits, seed, exact=True)
    for k, test in enumerate(folds):
        rest = np.setdiff1d(np.arange(len(labels)), test)
        train, valid = _carve_valid(rest, labels, groups, valid_size, seed + 1 + k)
        splits.append(Split(f"kfold-{n_splits}/{k}", train, valid, np.sort(test)))
    return splits


def _require_gtzan(dataset: Dataset, strategy: str) -> pd.Series:
    track_ids = dataset.manifest["track_id"]
    if not track_ids.str.fullmatch(r"[a-z]+\.\d{5}").all():
        raise DatasetError(
            f"the {strategy} split is defined for GTZAN tracks (ids like blues.00000); "
            f"this dataset ({dataset.name}) is not GTZAN: use --split random, balanced or kfold"
        )
    return track_ids


def gtzan_fault_filtered(dataset: Dataset) -> Split:
    """The standard fault-filtered GTZAN split; tracks outside it (faults, repeats) are left out."""
    track_ids = _require_gtzan(dataset, "fault-filtered")
    table = split_table("fault_filtered")
    side = track_ids.map(dict(zip(table["track_id"], table["split"], strict=True))).to_numpy()
    split = Split("fault-filtered", _idx(side == "train"), _idx(side == "valid"),
                  _idx(side == "test"), published=True)
    if len(split.train) == 0 or len(split.test) == 0:
        raise DatasetError(f"{dataset.name}: no tracks of the fault-filtered split were found")
    return split


def gtzan_artist_3fold(dataset: Dataset, *, valid_size: float = 0.1, seed: int = 0) -> list[Split]:
    """The 3-fold artist-filtered GTZAN split; validation groups are carved from training."""
    track_ids = _require_gtzan(dataset, "artist-3fold")
    table = split_table("artist_3fold")
    fold = track_ids.map(dict(zip(table["track_id"], table["test_fold"].astype(int),
                                  strict=True))).to_numpy()
    labels, groups = dataset.labels, dataset.manifest["group"].to_numpy()
    splits = []
    for k in (1, 2, 3):
        test = _idx(fold == k)
        rest = _idx(pd.notna(fold) & (fold != k))
        train, valid = _carve_valid(rest, labels, groups, valid_size, seed + k)
        splits.append(Split(f"artist-3fold/{k - 1}", train, valid, test, published=True))
    return splits


def official_split(dataset: Dataset) -> Split:
    """The split a dataset ships with (``manifest["subset"]``: training/validation/test)."""
    subset = dataset.manifest["subset"].str.lower().to_numpy()
    split = Split("official", _idx(np.isin(subset, ["train", "training"])),
                  _idx(np.isin(subset, ["valid", "validation"])), _idx(subset == "test"),
                  published=True)
    if len(split.train) == 0 or len(split.test) == 0:
        raise DatasetError(f"{dataset.name} has no official split; use --split random, balanced or kfold")
    return split


def make_split(dataset: Dataset, strategy: str, *, seed: int = 0, fold: int = 0,
               n_splits: int = 5) -> Split:
    """The split named ``strategy`` (see :data:`SPLIT_STRATEGIES`), checked for leaks."""
    if strategy == "random":
        split = random_split(dataset, seed=seed)
    elif strategy == "balanced":
        split = balanced_group_split(dataset, seed=seed)
    elif strategy in ("kfold", "artist-3fold"):
        folds = (group_kfold(dataset, n_splits=n_splits, seed=seed) if strategy == "kfold"
                 else gtzan_artist_3fold(dataset, seed=seed))
        if not 0 <= fold < len(folds):
            raise ParameterError(f"fold must be in 0..{len(folds) - 1}, got {fold!r}")
        split = folds[fold]
    elif strategy == "fault-filtered":
        split = gtzan_fault_filtered(dataset)
    elif strategy == "official":
        split = official_split(dataset)
    else:
        raise ParameterError(
            f"split must be one of {', '.join(SPLIT_STRATEGIES)}, got {strategy!r}"
        )
    check_no_leak(dataset, split)
    return split


def find_leaks(dataset: Dataset, split: Split, column: str) -> dict[str, set[str]]:
    """Values of ``column`` (``track_id`` or ``group``) found on two sides, by pair of sides."""
    m = dataset.manifest
    seen = {name: set(m[column].iloc[getattr(split, name)]) for name in ("train", "valid", "test")}
    pairs = (("train", "valid"), ("train", "test"), ("valid", "test"))
    return {f"{a}/{b}": seen[a] & seen[b] for a, b in pairs if seen[a] & seen[b]}


def split_notes(dataset: Dataset, split: Split) -> list[str]:
    """What a user must know about a split, genre by genre: a genre with no training or
    validation track (its test tracks can only be answered wrongly), or with no test track (its
    accuracy is not measured). Small genres of small collections end up so.

    Returns
    -------
    list of str
        One sentence per such genre; empty when every genre is on both sides.
    """
    m = dataset.manifest
    learnt = np.concatenate([split.train, split.valid])
    notes = []
    for genre in dataset.genres:
        tracks = {side: m["track_id"].iloc[rows][m["label"].iloc[rows] == genre].nunique()
                  for side, rows in (("learnt", learnt), ("test", split.test))}
        if not tracks["learnt"] and tracks["test"]:
            notes.append(f"genre {genre!r} has no training track in split {split.name}: its "
                         f"{tracks['test']} test track(s) can only be answered wrongly; give it "
                         "more tracks or leave it out")
        elif tracks["learnt"] and not tracks["test"]:
            notes.append(f"genre {genre!r} has no test track in split {split.name}: its "
                         "accuracy is not measured (its tracks all train); give it more tracks "
                         "or another split")
    return notes


def check_no_leak(dataset: Dataset, split: Split) -> None:
    """Refuse a split that puts one track, or one artist, on two sides.

    A track on two sides is always an error. An artist on two sides is an error for every split
    GenreLab computes; a published split is kept as published (so its numbers compare with the
    literature) and the overlap is reported as a warning. (GTZAN's fault-filtered split has one:
    artist 138 of the artist-filtered annotation, disco.00049/00073 in train, disco.00069 in test.)

    Raises
    ------
    DatasetError
        Naming how many values leak, an example, and between which sides.
    """
    for column in ("track_id", "group"):
        for sides, shared in find_leaks(dataset, split, column).items():
            example = sorted(shared)[0]
            message = (f"split {split.name} leaks: {len(shared)} {column} value(s) such as "
                       f"{example!r} are in both {sides.replace('/', ' and ')}")
            if column == "group" and split.published:
                warnings.warn(message + " (kept: published split)", stacklevel=2)
            else:
                raise DatasetError(message)
