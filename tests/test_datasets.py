"""One contract for every dataset loader (mirdata-style), plus each layout's own rules."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from core.datasets import MANIFEST_COLUMNS, load_dataset, track_id_of
from core.errors import DatasetError, ParameterError
from core.features import SUMMARY_COLUMNS
from core.synth import tone, write

GENRES = ["blues", "jazz", "metal"]


def make_gtzan(root, per_genre=4, ext=".wav"):
    for g in GENRES:
        for i in range(per_genre):
            write(root / g / f"{g}.{i:05d}{ext}", tone(200 + 50 * i, 0.6), 22050)
    return root


def make_folders(root):
    write(root / "qawwali" / "a.wav", tone(300, 0.6), 22050)
    write(root / "qawwali" / "live" / "b.flac", tone(310, 0.6), 22050)
    write(root / "fado" / "c.ogg", tone(320, 0.6), 22050)
    write(root / "fado" / "d.mp3", tone(330, 0.6), 22050)
    (root / "fado" / "cover.jpg").write_bytes(b"jpg")
    return root


def make_fma(root):
    rows = [  # track_id, genre_top, split, subset, artist
        (2, "Hip-Hop", "training", "small", 1),
        (3, "Hip-Hop", "training", "small", 1),
        (5, "Rock", "validation", "small", 2),
        (10, "Rock", "test", "small", 3),
        (20, "Folk", "test", "small", 4),
        (21, "", "training", "small", 5),  # no top genre
        (30, "Folk", "training", "small", 6),  # audio missing
        (40, "Jazz", "training", "medium", 7),  # not in fma_small
    ]
    header = [("", ""), ("track", "genre_top"), ("set", "split"), ("set", "subset"),
              ("artist", "id")]
    lines = [",".join(h[0] for h in header), ",".join(h[1] for h in header),
             "track_id,,,,"]
    lines += [f"{t},{g},{s},{sub},{a}" for t, g, s, sub, a in rows]
    meta = root / "fma_metadata"
    meta.mkdir(parents=True)
    (meta / "tracks.csv").write_text("\n".join(lines) + "\n")
    for t, *_ in rows:
        if t != 30:
            tid = f"{t:06d}"
            write(root / "fma_small" / tid[:3] / f"{tid}.mp3", tone(200 + t, 0.6), 22050)
    return root


def make_table(path, segments=False):
    rng = np.random.default_rng(0)
    rows = []
    for g in GENRES:
        for i in range(4):
            for k in range(3 if segments else 1):
                name = f"{g}.{i:05d}.{k}.wav" if segments else f"{g}.{i:05d}.wav"
                rows.append([name, 66149, *rng.normal(size=57), g])
    pd.DataFrame(rows, columns=["filename", "length", *SUMMARY_COLUMNS, "label"]).to_csv(
        path, index=False)
    return path


LAYOUTS = {
    "gtzan": make_gtzan,
    "folders": make_folders,
    "fma": make_fma,
    "features-csv": lambda root: make_table(root.with_suffix(".csv")),
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_every_loader_honours_the_manifest_contract(tmp_path, layout):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset = load_dataset(LAYOUTS[layout](tmp_path / "data"), layout)
    m = dataset.manifest
    assert list(m.columns[: len(MANIFEST_COLUMNS)]) == list(MANIFEST_COLUMNS)
    assert len(m) > 0 and dataset.genres == sorted(m["label"].unique())
    assert len(dataset.genres) >= 2
    assert set(dataset.labels) == set(range(len(dataset.genres)))
    assert m.groupby("track_id")["group"].nunique().max() == 1
    if layout == "features-csv":
        assert dataset.features.shape == (len(m), 57)
    else:
        assert all(p and pd.notna(p) for p in m["path"])
        assert m["track_id"].is_unique


def test_gtzan_skips_known_corrupt_file_with_a_warning(tmp_path):
    root = make_gtzan(tmp_path / "g")
    write(root / "jazz" / "jazz.00054.wav", tone(), 22050)
    (root / "jazz" / "readme.txt").write_text("x")
    with pytest.warns(UserWarning, match="jazz.00054"):
        dataset = load_dataset(root, "gtzan")
    assert "jazz.00054" not in set(dataset.manifest["track_id"])
    assert len(dataset.manifest) == 12


def test_gtzan_au_files_and_artists(tmp_path):
    dataset = load_dataset(make_gtzan(tmp_path / "g", ext=".au"), "gtzan")
    m = dataset.manifest.set_index("track_id")
    assert m.loc["blues.00000", "artist"] != ""  # known from the shipped artist table
    assert m.loc["blues.00000", "group"] == m.loc["blues.00001", "group"]


def test_folders_use_the_users_genre_names_and_mixed_formats(tmp_path):
    dataset = load_dataset(make_folders(tmp_path / "f"), "folders")
    assert dataset.genres == ["fado", "qawwali"]
    assert sorted(dataset.manifest["track_id"]) == [
        "fado/c", "fado/d", "qawwali/a", "qawwali/live/b"]


def test_folders_empty_genre_is_reported_and_single_genre_refused(tmp_path):
    root = make_folders(tmp_path / "f")
    (root / "empty").mkdir()
    with pytest.warns(UserWarning, match="'empty' holds no audio"):
        load_dataset(root, "folders")
    single = tmp_path / "single"
    write(single / "only" / "a.wav", tone(), 22050)
    with pytest.raises(DatasetError, match="at least two genres"):
        load_dataset(single, "folders")


def test_fma_top_genre_official_split_and_skips(tmp_path):
    with pytest.warns(UserWarning) as record:
        dataset = load_dataset(make_fma(tmp_path / "fma"), "fma")
    messages = " ".join(str(r.message) for r in record)
    assert "1 tracks without a top genre" in messages
    assert "1 tracks whose audio file is missing" in messages
    m = dataset.manifest.set_index("track_id")
    assert sorted(m.index) == ["000002", "000003", "000005", "000010", "000020"]
    assert dataset.genres == ["Folk", "Hip-Hop", "Rock"]
    assert m.loc["000005", "subset"] == "validation"
    assert m.loc["000002", "group"] == m.loc["000003", "group"]  # same artist


def test_three_second_table_groups_segments_by_track(tmp_path):
    dataset = load_dataset(make_table(tmp_path / "f3.csv", segments=True), "features-csv")
    m = dataset.manifest
    assert len(m) == 36 and m["track_id"].nunique() == 12
    assert track_id_of("blues.00000.3.wav") == "blues.00000"
    assert track_id_of("blues.00000.wav") == "blues.00000"


def test_bad_inputs_are_clear(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        load_dataset(tmp_path / "nothing", "gtzan")
    (tmp_path / "e").mkdir()
    with pytest.raises(DatasetError, match="no GTZAN files"):
        load_dataset(tmp_path / "e", "gtzan")
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(DatasetError, match="missing columns"):
        load_dataset(bad, "features-csv")
    with pytest.raises(ParameterError, match="layout"):
        load_dataset(tmp_path, "itunes")


@pytest.mark.shared
def test_real_gtzan_excerpts_and_table(shared_dir):
    excerpts = load_dataset(shared_dir / "data/gtzan/excerpts", "gtzan")
    assert len(excerpts.manifest) == 400 and len(excerpts.genres) == 10
    table = load_dataset(shared_dir / "data/gtzan/features_30_sec.csv", "features-csv")
    assert len(table.manifest) == 1000
