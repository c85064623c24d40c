"""Regenerate GenreLab's shipped GTZAN split tables from the published split lists.

Usage: python tools/import_gtzan_splits.py SPLITS_DIR
(SPLITS_DIR holds fault_filtered_{train,valid,test}.txt and artist_filtered_3fold/.)
Writes core/data/gtzan_fault_filtered.csv and core/data/gtzan_artist_3fold.csv.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "core" / "data"


def _track_id(entry: str) -> str:
    """'blues/blues.00029.wav' or './blues_00012.wav' -> 'blues.00029'."""
    name = entry.strip().split("\t")[0].rsplit("/", 1)[-1]
    stem = name.rsplit(".", 1)[0]
    genre, _, number = stem.replace("_", ".").partition(".")
    return f"{genre}.{number}"


def main(splits_dir: Path) -> None:
    rows = []
    for part in ("train", "valid", "test"):
        for line in (splits_dir / f"fault_filtered_{part}.txt").read_text().splitlines():
            if line.strip():
                rows.append((_track_id(line), part))
    with open(OUT / "gtzan_fault_filtered.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["track_id", "split"])
        writer.writerows(sorted(rows))

    folds = splits_dir / "artist_filtered_3fold"
    rows = []
    for fold in (1, 2, 3):
        artists = {}
        for name in (f"f{fold}_train_groups.txt", f"f{fold}_evaluate_groups.txt"):
            for line in (folds / name).read_text().splitlines():
                if line.strip():
                    entry, artist = line.split("\t")
                    artists[_track_id(entry)] = artist.strip()
        for line in (folds / f"f{fold}_test.txt").read_text().splitlines():
            if line.strip():
                track = _track_id(line)
                rows.append((track, artists[track], fold))
    with open(OUT / "gtzan_artist_3fold.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["track_id", "artist", "test_fold"])
        writer.writerows(sorted(rows))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
