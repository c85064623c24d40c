"""FMA (Defferrard et al. 2017): ``fma_<size>/NNN/NNNNNN.mp3`` plus ``fma_metadata/tracks.csv``.

Labels are each track's top genre; ``subset`` carries FMA's official split (training, validation,
test) and ``artist`` the artist id, so splits can keep artists apart.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd

from core.datasets.manifest import Dataset, make_manifest, validate_dataset
from core.errors import DatasetError

CITATION = (
    "M. Defferrard, K. Benzi, P. Vandergheynst, X. Bresson, 'FMA: A Dataset for Music Analysis', "
    "ISMIR 2017."
)


def audio_path(audio_dir: Path, track_id: int) -> Path:
    """FMA's path rule: ``<audio_dir>/<first 3 digits>/<6-digit id>.mp3``."""
    tid = f"{track_id:06d}"
    return audio_dir / tid[:3] / f"{tid}.mp3"


def load_fma(root: str | Path, *, size: str | None = None) -> Dataset:
    """Read an FMA download.

    Parameters
    ----------
    root : path
        Folder holding ``fma_metadata/`` and one audio folder ``fma_small``/``fma_medium``/...,
        or the audio folder itself with ``fma_metadata`` beside it.
    size : str or None
        ``small``, ``medium``, ``large`` or ``full`` (None: the one audio folder present).

    Tracks without a top genre, outside the chosen subset, or whose mp3 is missing are skipped
    with a warning that counts them.
    """
    root = Path(root)
    if root.name.startswith("fma_") and root.name != "fma_metadata":
        size = size or root.name.removeprefix("fma_")
        root = root.parent
    meta = root / "fma_metadata" / "tracks.csv"
    if not meta.is_file():
        raise DatasetError(f"{root}: fma_metadata/tracks.csv not found")
    if size is None:
        sizes = sorted(p.name.removeprefix("fma_") for p in root.glob("fma_*")
                       if p.is_dir() and p.name != "fma_metadata")
        if len(sizes) != 1:
            raise DatasetError(
                f"{root}: expected one audio folder (fma_small, fma_medium, ...), found "
                f"{sizes or 'none'}; pass the audio folder itself"
            )
        size = sizes[0]
    audio_dir = root / f"fma_{size}"
    try:
        tracks = pd.read_csv(meta, index_col=0, header=[0, 1], low_memory=False)
        table = pd.DataFrame({
            "genre": tracks[("track", "genre_top")],
            "split": tracks[("set", "split")],
            "subset": tracks[("set", "subset")],
            "artist": tracks[("artist", "id")],
        })
    except (KeyError, ValueError, pd.errors.ParserError) as exc:
        raise DatasetError(f"{meta}: not an FMA tracks.csv ({exc})") from None

    order = ["small", "medium", "large"]
    if size in order:  # fma_medium contains fma_small, fma_large contains both
        table = table[table["subset"].isin(order[: order.index(size) + 1])]
    rows, no_genre, no_audio = [], 0, 0
    for track_id, rec in table.iterrows():
        if pd.isna(rec["genre"]):
            no_genre += 1
            continue
        path = audio_path(audio_dir, int(track_id))
        if not path.is_file():
            no_audio += 1
            continue
        artist = "" if pd.isna(rec["artist"]) else str(int(rec["artist"]))
        rows.append({"path": str(path.resolve()), "label": str(rec["genre"]),
                     "track_id": f"{int(track_id):06d}", "artist": artist,
                     "subset": str(rec["split"])})
    notes = []
    if no_genre:
        notes.append(f"skipped {no_genre} tracks without a top genre")
    if no_audio:
        notes.append(f"skipped {no_audio} tracks whose audio file is missing in {audio_dir}")
    for note in notes:
        warnings.warn(note, stacklevel=2)
    if not rows:
        raise DatasetError(f"{audio_dir}: no FMA audio found for the tracks in {meta}")
    manifest = make_manifest(rows)
    dataset = Dataset(name=f"FMA {size}", layout="fma", manifest=manifest,
                      genres=sorted(manifest["label"].unique()), warnings=notes)
    return validate_dataset(dataset, source=str(root))
