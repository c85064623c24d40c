"""Dataset loaders. Each returns a :class:`Dataset` whose manifest follows one contract."""

from __future__ import annotations

import warnings
from pathlib import Path

from core.datasets.fma import load_fma
from core.datasets.folders import load_folders
from core.datasets.gtzan import load_gtzan
from core.datasets.kaggle import load_feature_table, track_id_of
from core.datasets.listing import load_listing
from core.datasets.manifest import (
    MANIFEST_COLUMNS,
    Dataset,
    concat_datasets,
    keep_copies_together,
)
from core.errors import ParameterError

LAYOUTS: dict[str, str] = {
    "gtzan": "GTZAN folders: <root>/<genre>/<genre>.NNNNN.wav",
    "fma": "FMA: fma_metadata/tracks.csv + fma_small|medium/NNN/NNNNNN.mp3",
    "folders": "any folder per genre: <root>/<genre>/**/*.wav|mp3|flac|...",
    "features-csv": "a Kaggle-style feature table (features_30_sec.csv / features_3_sec.csv)",
    "manifest": "a CSV of path,label[,track_id,artist] (e.g. exported from the Library page)",
}


def load_dataset(path: str | Path, layout: str) -> Dataset:
    """Load a dataset of the given layout (one of :data:`LAYOUTS`)."""
    loaders = {"gtzan": load_gtzan, "fma": load_fma, "folders": load_folders,
               "features-csv": load_feature_table, "manifest": load_listing}
    if layout not in loaders:
        raise ParameterError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    dataset = loaders[layout](path)
    manifest, copies = keep_copies_together(dataset.manifest)
    if copies:
        copied = ("1 file is a byte-identical copy of another file" if copies == 1 else
                  f"{copies} files are byte-identical copies of other files")
        note = (f"{copied}; the splits GenreLab computes keep each copy on its original's side "
                "(published splits are used as published)")
        warnings.warn(note, stacklevel=2)
        dataset = Dataset(dataset.name, dataset.layout, manifest, dataset.genres,
                          dataset.features, [*dataset.warnings, note])
    return dataset


__all__ = [
    "LAYOUTS",
    "MANIFEST_COLUMNS",
    "Dataset",
    "concat_datasets",
    "load_dataset",
    "load_feature_table",
    "load_fma",
    "load_folders",
    "load_gtzan",
    "load_listing",
    "track_id_of",
]
