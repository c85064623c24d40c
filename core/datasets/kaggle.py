"""The Kaggle GTZAN feature tables: ``features_30_sec.csv`` and ``features_3_sec.csv``.

Rows carry the 57 summary features and a label, no audio. In the 3-second table
``blues.00000.3.wav`` is segment 3 of track ``blues.00000``: all segments of a track share its
track id (and its artist), so splits keep them together.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from core.datasets.gtzan import gtzan_artists
from core.datasets.manifest import Dataset, make_manifest, validate_dataset
from core.errors import DatasetError
from core.features import SUMMARY_COLUMNS

_TRACK = re.compile(r"^(?P<track>[A-Za-z]+\.\d{5})(\.\d+)?\.(wav|au)$")


def track_id_of(filename: str) -> str:
    """``blues.00000.3.wav`` -> ``blues.00000``; other names lose their extension only."""
    match = _TRACK.match(filename)
    return match["track"].lower() if match else filename.rsplit(".", 1)[0]


def load_feature_table(path: str | Path) -> Dataset:
    """Read a Kaggle-style feature table (``filename``, ``length``, 57 features, ``label``).

    Raises
    ------
    DatasetError
        The file is missing, unreadable, or lacks any of the required columns.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"feature table not found: {path}")
    try:
        table = pd.read_csv(path)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise DatasetError(f"{path}: not a readable CSV ({exc})") from None
    required = ["filename", *SUMMARY_COLUMNS, "label"]
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise DatasetError(
            f"{path}: not a GTZAN-style feature table; missing columns "
            f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}"
        )
    table = table.dropna(subset=required)
    track_ids = table["filename"].map(track_id_of)
    artists = gtzan_artists()
    rows = [
        {"path": "", "label": str(label), "track_id": tid, "artist": artists.get(tid, "")}
        for tid, label in zip(track_ids, table["label"], strict=True)
    ]
    manifest = make_manifest(rows)
    manifest["filename"] = table["filename"].to_numpy()
    if "length" in table.columns:
        manifest["length"] = table["length"].to_numpy()
    features = table[list(SUMMARY_COLUMNS)].to_numpy(dtype=np.float64)
    dataset = Dataset(name=path.stem, layout="features-csv", manifest=manifest,
                      genres=sorted(manifest["label"].unique()), features=features)
    return validate_dataset(dataset, source=str(path))
