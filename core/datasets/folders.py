"""Any folder-per-genre collection: ``<root>/<genre>/**/<track>.<audio extension>``."""

from __future__ import annotations

import warnings
from pathlib import Path

from core.config import AUDIO_EXTENSIONS
from core.datasets.manifest import Dataset, make_manifest, validate_dataset
from core.errors import DatasetError


def load_folders(root: str | Path) -> Dataset:
    """Read a folder-per-genre collection; the folder names are the genres.

    Audio files may sit in sub-folders of a genre folder and may mix formats. Each file is its
    own track (artists unknown). Genre folders with no audio are reported and left out; hidden
    files and folders are ignored.

    Raises
    ------
    DatasetError
        The folder is missing, or fewer than two genres hold audio.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"dataset folder not found: {root}" + (
            " is a file (a listing is read with the manifest layout, a feature table with the "
            "features-csv layout)" if root.is_file() else ""))
    rows, notes = [], []
    for genre_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(
            p for p in genre_dir.rglob("*")
            if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS
            and not any(part.startswith(".") for part in p.relative_to(root).parts)
        )
        if not files:
            notes.append(f"genre folder {genre_dir.name!r} holds no audio files and was left out")
            continue
        for path in files:
            track_id = path.relative_to(root).with_suffix("").as_posix()
            rows.append({"path": str(path.resolve()), "label": genre_dir.name,
                         "track_id": track_id})
    for note in notes:
        warnings.warn(note, stacklevel=2)
    if not rows:
        raise DatasetError(
            f"{root}: no audio found; expected one folder per genre holding audio files "
            f"({', '.join(e.lstrip('.') for e in AUDIO_EXTENSIONS)})"
        )
    manifest = make_manifest(rows)
    dataset = Dataset(name=root.name or str(root), layout="folders", manifest=manifest,
                      genres=sorted(manifest["label"].unique()), warnings=notes)
    return validate_dataset(dataset, source=str(root))
