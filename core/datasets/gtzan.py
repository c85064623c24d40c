"""GTZAN (Tzanetakis & Cook 2002): ``<root>/<genre>/<genre>.NNNNN.wav`` (or ``.au``).

Artists come from the artist-filtered split tables shipped in ``core/data/`` (Sturm's fault and
artist annotations), so group-aware splits keep an artist's tracks together.
"""

from __future__ import annotations

import re
import warnings
from functools import cache
from importlib import resources
from pathlib import Path

import pandas as pd

from core.datasets.manifest import Dataset, make_manifest, validate_dataset
from core.errors import DatasetError

#: A file of the original GTZAN release that no decoder reads.
KNOWN_CORRUPT = frozenset({"jazz.00054"})
_NAME = re.compile(r"^(?P<genre>[a-z]+)\.(?P<number>\d{5})\.(wav|au)$", re.IGNORECASE)
CITATION = (
    "G. Tzanetakis and P. Cook, 'Musical genre classification of audio signals', "
    "IEEE Transactions on Speech and Audio Processing 10(5), 2002."
)


@cache
def split_table(name: str) -> pd.DataFrame:
    """A shipped GTZAN split table: ``fault_filtered`` or ``artist_3fold``."""
    with resources.files("core.data").joinpath(f"gtzan_{name}.csv").open() as fh:
        return pd.read_csv(fh, dtype=str)


def gtzan_artists() -> dict[str, str]:
    """Track id -> artist id for the 948 GTZAN tracks with a known artist."""
    table = split_table("artist_3fold")
    return dict(zip(table["track_id"], table["artist"], strict=True))


def load_gtzan(root: str | Path) -> Dataset:
    """Read a GTZAN folder tree into a :class:`Dataset`.

    Files not named ``<genre>.NNNNN.wav|au`` inside their genre folder are ignored; the known
    corrupt ``jazz.00054`` is skipped with a warning.

    Raises
    ------
    DatasetError
        The folder is missing or holds no GTZAN-named files.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"GTZAN folder not found: {root}" + (
            " is a file (a feature table is read with the features-csv layout)" if root.is_file()
            else ""))
    artists = gtzan_artists()
    rows, notes = [], []
    for genre_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for path in sorted(genre_dir.iterdir()):
            match = _NAME.match(path.name)
            if not match or match["genre"].lower() != genre_dir.name.lower():
                continue
            track_id = f"{match['genre'].lower()}.{match['number']}"
            if track_id in KNOWN_CORRUPT:
                notes.append(f"skipped {path.name}: a known corrupt file of GTZAN")
                continue
            rows.append({"path": str(path.resolve()), "label": genre_dir.name.lower(),
                         "track_id": track_id, "artist": artists.get(track_id, "")})
    if not rows:
        raise DatasetError(
            f"{root}: no GTZAN files found (expected <root>/<genre>/<genre>.NNNNN.wav)"
        )
    for note in notes:
        warnings.warn(note, stacklevel=2)
    manifest = make_manifest(rows)
    genres = sorted(manifest["label"].unique())
    dataset = Dataset(name="GTZAN", layout="gtzan", manifest=manifest, genres=genres,
                      warnings=notes)
    return validate_dataset(dataset, source=str(root))
