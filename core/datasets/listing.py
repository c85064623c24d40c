"""A manifest CSV: any list of audio files with their genres (``path,label[,track_id,artist]``).

What the Library page exports from a tagging database (reviewed songs), and a plain way to train
on a hand-made list. Relative paths are taken from the CSV's folder.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd

from core.config import AUDIO_EXTENSIONS
from core.datasets.manifest import Dataset, make_manifest, validate_dataset
from core.errors import DatasetError


def load_listing(path: str | Path) -> Dataset:
    """Read a manifest CSV with at least the columns ``path`` and ``label``.

    ``track_id`` (default: the path without its extension) and ``artist`` (default: unknown)
    are optional; other columns are ignored. Rows whose file is missing, or not audio GenreLab
    reads, are left out with a warning.

    Raises
    ------
    DatasetError
        The file is missing or not a CSV with those columns, a track id repeats, or fewer than
        two genres have audio.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"manifest file not found: {path}")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: not a readable CSV manifest ({exc})") from None
    missing = [c for c in ("path", "label") if c not in table.columns]
    if missing:
        raise DatasetError(f"{path}: a manifest needs the columns path and label; missing "
                           f"{', '.join(missing)}")
    rows, notes = [], []
    for record in table.to_dict("records"):
        file = Path(record["path"]).expanduser()
        if not file.is_absolute():
            file = path.parent / file
        if not record["label"]:
            notes.append(f"{record['path']}: no label; left out")
        elif file.suffix.lower() not in AUDIO_EXTENSIONS:
            notes.append(f"{record['path']}: not an audio file GenreLab reads; left out")
        elif not file.is_file():
            notes.append(f"{record['path']}: file not found; left out")
        else:
            rows.append({"path": str(file.resolve()), "label": record["label"],
                         "track_id": record.get("track_id") or file.with_suffix("").as_posix(),
                         "artist": record.get("artist", "")})
    for note in notes[:20]:
        warnings.warn(note, stacklevel=2)
    if not rows:
        raise DatasetError(f"{path}: no usable rows (every file missing or unlabelled)")
    manifest = make_manifest(rows)
    if not manifest["track_id"].is_unique:
        dup = manifest["track_id"][manifest["track_id"].duplicated()].iloc[0]
        raise DatasetError(f"{path}: track id {dup!r} appears more than once")
    dataset = Dataset(name=path.stem, layout="manifest", manifest=manifest,
                      genres=sorted(manifest["label"].unique()), warnings=notes)
    return validate_dataset(dataset, source=str(path))
