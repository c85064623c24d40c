"""Which tracks a saved model trained on, so that an evaluation never counts them as unseen.

A model folder may carry ``trained_tracks.json`` (written beside the model by the Train page
and ``python -m core train``): the tracks of its split's train and validation sides. Without
it, a model's saved test table (``metrics.json``: ``test_tracks``) is the only record: when an
evaluation dataset shares tracks with that table it is the model's own dataset, and only the
tracks in the table are known to be held out. A dataset that shares nothing with either record
cannot be told apart: all of it is evaluated, flagged ``unknown`` so the caller warns loudly.

Tracks are matched by genre and their path below the genre's folder without the extension
(:func:`track_key`: ``("blues", "blues.00012")``, ``("rock", "album 1/01")``), so the same GTZAN
clip read with the ``gtzan``, ``folders`` or ``features-csv`` layout is recognised, and numbered
files of several albums stay apart. Another collection's song of the same genre and the same
path is taken for the trained one (names cannot tell them apart).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd

from core.atomic import write_text_atomic
from core.config import AUDIO_EXTENSIONS

TRAINED_TRACKS = "trained_tracks.json"
TrackKey = tuple[str, str]

__all__ = ["TRAINED_TRACKS", "HeldOut", "held_out_notice", "held_out_rows",
           "record_training_tracks", "test_keys", "track_key", "trained_keys"]


def track_key(label: str, track_id: str = "", path: str = "") -> TrackKey:
    """``(genre, name)`` of a track: how tracks are matched across layouts and collections.

    The name is the track's path below its genre folder, without the extension
    (``album 1/01`` for ``rock/album 1/01.wav``), where the genre's folder is in the track id
    or path; else its file name (GTZAN's ``blues.00001``, which its audio folders, its layout
    and its feature table all give). Numbered files of several albums in one genre therefore
    stay apart.
    """
    name = str(track_id or "") or str(path or "")
    parts = PurePosixPath(name.replace("\\", "/")).parts
    genre = str(label).lower()
    folders = [i for i, part in enumerate(parts[:-1]) if part.lower() == genre]
    below = "/".join(parts[folders[-1] + 1:] if folders else parts[-1:])
    for suffix in AUDIO_EXTENSIONS:
        if below.lower().endswith(suffix):
            below = below[: -len(suffix)]
            break
    return genre, below.lower()


def _keys(rows: Iterable[Mapping[str, Any]], label: str = "label") -> set[TrackKey]:
    return {track_key(r.get(label, r.get("true", "")), r.get("track_id", ""), r.get("path", ""))
            for r in rows}


def record_training_tracks(model_dir: str | os.PathLike[str], dataset: Any, split: Any) -> Path:
    """Write ``<model_dir>/trained_tracks.json``: the tracks of ``split``'s train and valid sides.

    Parameters
    ----------
    model_dir : path
        A saved model's folder (written after the model is saved; a retrain replaces the folder
        and so drops a stale record).
    dataset : core.datasets.Dataset
    split : core.splits.Split
    """
    m = dataset.manifest
    rows = np.unique(np.concatenate([np.asarray(split.train), np.asarray(split.valid)]))
    tracks = [{"track_id": str(m["track_id"].iloc[r]), "path": str(m["path"].iloc[r]),
               "label": str(m["label"].iloc[r])} for r in rows]
    path = Path(model_dir) / TRAINED_TRACKS
    write_text_atomic(path, json.dumps({"dataset": dataset.name, "split": split.name,
                                        "tracks": tracks}))
    return path


def trained_keys(model_dir: str | os.PathLike[str]) -> set[TrackKey] | None:
    """Keys of the tracks a model trained on, or None when its folder does not record them."""
    try:
        data = json.loads((Path(model_dir) / TRAINED_TRACKS).read_text())
        return _keys(data["tracks"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def test_keys(metrics: Mapping[str, Any]) -> set[TrackKey]:
    """Keys of the tracks in a model's saved test table (empty when it saved none)."""
    return _keys(metrics.get("test_tracks") or [])


@dataclass(frozen=True)
class HeldOut:
    """The manifest rows of a dataset a model never trained on.

    Attributes
    ----------
    rows : np.ndarray
        Manifest row indices to evaluate on.
    known : str
        ``"recorded"`` (its training tracks are recorded), ``"own test tracks"`` (the dataset is
        the model's own: only its saved test tracks are held out) or ``"unknown"`` (nothing
        tells: every given row is kept, and the caller must warn).
    excluded : int
        Rows left out because the model trained on them (or may have).
    """

    rows: np.ndarray
    known: str
    excluded: int


def held_out_rows(manifest: pd.DataFrame, *, model_dir: str | os.PathLike[str] | None,
                  metrics: Mapping[str, Any], rows: np.ndarray | None = None) -> HeldOut:
    """The rows of ``manifest`` (default: all, else ``rows``) that the model never trained on.

    Parameters
    ----------
    manifest : pd.DataFrame
        A dataset's manifest (``label``, ``track_id``, ``path``).
    model_dir : path or None
        The model's folder (for ``trained_tracks.json``).
    metrics : mapping
        The model's saved metrics (for its ``test_tracks``).
    rows : np.ndarray, optional
        Candidate rows (e.g. a split's test side).
    """
    candidates = np.arange(len(manifest)) if rows is None else np.asarray(rows)
    keys = [track_key(manifest["label"].iloc[r], manifest["track_id"].iloc[r],
                      manifest["path"].iloc[r]) for r in candidates]
    trained = trained_keys(model_dir) if model_dir is not None else None
    if trained is not None:
        keep = np.array([k not in trained for k in keys], dtype=bool)
        return HeldOut(candidates[keep], "recorded", int((~keep).sum()))
    held = test_keys(metrics)
    tested = held | _keys(metrics.get("validation_tracks") or [])
    if tested and any(k in tested for k in keys):
        keep = np.array([k in held for k in keys], dtype=bool)
        return HeldOut(candidates[keep], "own test tracks", int((~keep).sum()))
    return HeldOut(candidates, "unknown", 0)


def held_out_notice(held: HeldOut, name: str, dataset_name: str) -> str | None:
    """What a user must be told beside ``name``'s evaluation on ``held.rows`` (None: nothing).

    Parameters
    ----------
    held : HeldOut
        From :func:`held_out_rows`.
    name : str
        The model, as the user knows it.
    dataset_name : str
        The dataset evaluated on.

    Returns
    -------
    str or None
        Tracks left out because ``name`` trained on them (or may have), or a warning that
        nothing tells which tracks it trained on, so its figures may be too good.
    """
    total = len(held.rows) + held.excluded
    if held.known == "unknown":
        return (f"cannot tell which of these {total} tracks {name} trained on (its folder "
                "records no training tracks and none of them is among its saved test tracks); "
                "if this dataset overlaps its training data, its numbers are too good")
    if not held.excluded:
        return None
    how = ("its recorded training tracks" if held.known == "recorded"
           else "not among its saved test tracks, so possibly trained on")
    return (f"{held.excluded} of {total} tracks of {dataset_name} left out ({how}); "
            f"tested on the other {len(held.rows)}")


def signature(metrics: Mapping[str, Any], split_name: str = "") -> frozenset[Any]:
    """What a model was tested on, comparable between models: its test tracks' keys, else the
    split's name and track count."""
    keys = test_keys(metrics)
    if keys:
        return frozenset(keys)
    n = (metrics.get("track") or {}).get("n")
    return frozenset({("split", split_name, n)})
