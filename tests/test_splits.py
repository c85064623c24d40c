"""No track and no artist on two sides of any split, for every strategy."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from core.config import GTZAN_GENRES
from core.datasets import Dataset
from core.datasets.gtzan import gtzan_artists, split_table
from core.datasets.manifest import make_manifest
from core.errors import DatasetError, ParameterError
from core.splits import (
    Split,
    balanced_group_split,
    check_no_leak,
    find_leaks,
    group_kfold,
    gtzan_artist_3fold,
    gtzan_fault_filtered,
    make_split,
    official_split,
    random_split,
)


def gtzan_segments(n_segments: int = 3) -> Dataset:
    """All 1000 GTZAN track ids, each as several segment rows, with the shipped artists."""
    artists = gtzan_artists()
    rows = [
        {"path": "", "label": g, "track_id": tid, "artist": artists.get(tid, "")}
        for g in GTZAN_GENRES for i in range(100) for tid in [f"{g}.{i:05d}"]
        for _ in range(n_segments)
    ]
    manifest = make_manifest(rows)
    return Dataset("gtzan", "features-csv", manifest, sorted(GTZAN_GENRES))


def many_artists(n_tracks=120, n_artists=30, seed=0) -> Dataset:
    rng = np.random.default_rng(seed)
    rows = []
    for t in range(n_tracks):
        artist = int(rng.integers(n_artists))
        label = ["a", "b", "c"][artist % 3]
        for _ in range(4):  # four segments per track
            rows.append({"path": "", "label": label, "track_id": f"t{t}", "artist": str(artist),
                         "subset": ["training", "validation", "test"][artist % 5 % 3]})
    return Dataset("synthetic", "folders", make_manifest(rows), ["a", "b", "c"])


def _assert_clean(dataset: Dataset, split: Split, *, groups: bool = True):
    sides = [split.train, split.valid, split.test]
    everything = np.concatenate(sides)
    assert len(everything) == len(np.unique(everything)), "a row is on two sides"
    assert not find_leaks(dataset, split, "track_id")
    if groups:
        assert not find_leaks(dataset, split, "group")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_split_keeps_tracks_and_artists_whole(seed):
    dataset = many_artists(seed=seed)
    split = random_split(dataset, seed=seed)
    _assert_clean(dataset, split)
    assert len(split.test) > 0 and len(split.valid) > 0
    assert set(dataset.labels[split.test]) == {0, 1, 2}  # stratified


def test_group_kfold_folds_partition_the_data():
    dataset = many_artists()
    folds = group_kfold(dataset, n_splits=5)
    tests = np.concatenate([f.test for f in folds])
    assert sorted(tests) == list(range(len(dataset.manifest)))
    for split in folds:
        _assert_clean(dataset, split)


def test_fault_filtered_sizes_and_segments_stay_together():
    dataset = gtzan_segments(3)
    split = gtzan_fault_filtered(dataset)
    tracks = {side: dataset.manifest["track_id"].iloc[getattr(split, side)].nunique()
              for side in ("train", "valid", "test")}
    assert tracks == {"train": 443, "valid": 197, "test": 290}
    assert split.published
    _assert_clean(dataset, split, groups=False)
    # The one artist overlap of the published split is known and reported, not hidden.
    leaks = find_leaks(dataset, split, "group")
    assert leaks == {"train/test": {"artist:138"}}
    with pytest.warns(UserWarning, match="artist:138"):
        check_no_leak(dataset, split)


def test_artist_3fold_is_artist_disjoint():
    dataset = gtzan_segments(2)
    folds = gtzan_artist_3fold(dataset)
    assert len(folds) == 3
    test_tracks = [set(dataset.manifest["track_id"].iloc[f.test]) for f in folds]
    assert sum(len(t) for t in test_tracks) == 948
    assert not (test_tracks[0] & test_tracks[1]) and not (test_tracks[1] & test_tracks[2])
    for split in folds:
        _assert_clean(dataset, split)


def test_official_split():
    dataset = many_artists()
    split = official_split(dataset)
    _assert_clean(dataset, split)
    with pytest.raises(DatasetError, match="no official split"):
        official_split(gtzan_segments(1))


@pytest.mark.parametrize("strategy", ["random", "balanced", "kfold", "fault-filtered",
                                      "artist-3fold"])
def test_make_split_every_strategy_on_gtzan_is_track_clean(strategy):
    dataset = gtzan_segments(2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        split = make_split(dataset, strategy, seed=3)
    _assert_clean(dataset, split, groups=not split.published)


def test_balanced_split_gives_every_genre_its_share_where_few_artists_hold_it():
    """GTZAN's first tracks of a genre come from a few artists: every genre still gets rows on
    every side, near the target shares, and no artist straddles."""
    dataset = gtzan_segments(1).subset(np.flatnonzero(
        gtzan_segments(1).manifest["track_id"].str[-5:].astype(int) <= 40))
    split = balanced_group_split(dataset, test_size=0.25, valid_size=0.15, seed=0)
    _assert_clean(dataset, split)
    labels = dataset.labels
    for genre in range(len(dataset.genres)):
        rows = np.flatnonzero(labels == genre)
        shares = {side: np.isin(rows, getattr(split, side)).mean()
                  for side in ("train", "valid", "test")}
        assert shares["train"] >= 0.4 and shares["test"] >= 0.1 and shares["valid"] > 0, shares
    with pytest.raises(ParameterError, match="test_size"):
        balanced_group_split(dataset, test_size=0.8, valid_size=0.3)


def test_leaks_are_refused():
    dataset = many_artists()
    good = random_split(dataset)
    leaky = Split("leaky", np.append(good.train, good.test[0]), good.valid, good.test)
    with pytest.raises(DatasetError, match="leaks"):
        check_no_leak(dataset, leaky)


def test_gtzan_only_strategies_refuse_other_datasets():
    with pytest.raises(DatasetError, match="not GTZAN"):
        make_split(many_artists(), "fault-filtered")
    with pytest.raises(ParameterError, match="split must be one of"):
        make_split(many_artists(), "alphabetical")
    with pytest.raises(ParameterError, match="fold"):
        make_split(gtzan_segments(1), "artist-3fold", fold=3)


def test_shipped_tables_are_complete():
    assert split_table("fault_filtered")["split"].value_counts().to_dict() == {
        "train": 443, "test": 290, "valid": 197}
    assert len(split_table("artist_3fold")) == 948


def test_numbered_files_of_several_albums_are_told_apart_when_leaving_out_trained_tracks(
        tmp_path):
    from core.datasets import load_dataset
    from core.provenance import held_out_rows, record_training_tracks, track_key
    from core.synth import genre_like, write

    assert track_key("rock", "rock/album 1/01") == ("rock", "album 1/01")
    assert track_key("Rock", "", "/music/Rock/live/01.WAV") == ("rock", "live/01")
    # GTZAN's ids match across its layouts, as before: folders, gtzan layout, feature table
    assert track_key("blues", "blues/blues.00012") == track_key("blues", "blues.00012") == \
        track_key("blues", "", "/data/excerpts/blues/blues.00012.wav") == ("blues", "blues.00012")
    assert track_key("jazz", "", "/elsewhere/01.mp3") == ("jazz", "01")  # no genre folder

    for genre in ("rock", "jazz"):
        for album in range(4):
            for song in range(3):
                write(tmp_path / "music" / genre / f"album {album}" / f"0{song}.wav",
                      genre_like(album, 1.0, seed=song), 22050)
    dataset = load_dataset(tmp_path / "music", "folders")
    split = make_split(dataset, "random", seed=0)
    record_training_tracks(tmp_path / "model", dataset, split)
    held = held_out_rows(dataset.manifest, model_dir=tmp_path / "model", metrics={})
    assert sorted(held.rows) == sorted(split.test)  # every album's 01.wav is its own track
    assert held.excluded == len(split.train) + len(split.valid) and held.known == "recorded"


@pytest.mark.parametrize("strategy", ["random", "balanced", "kfold"])
def test_byte_identical_copies_stay_on_their_originals_side(tmp_path, strategy):
    import shutil

    from core.datasets import load_dataset
    from core.synth import genre_like, write

    for k, genre in enumerate(("electronic", "folk", "jazz")):
        for i in range(8):
            write(tmp_path / genre / f"{i:02d}.wav", genre_like(2 * k, 1.0, seed=i), 22050)
    (tmp_path / "electronic" / "best of").mkdir()
    for i in range(8):
        shutil.copy(tmp_path / "electronic" / f"{i:02d}.wav",
                    tmp_path / "electronic" / "best of" / f"{i:02d}.wav")
    # alike in size and at both ends, different in the middle: not a copy
    edited = bytearray((tmp_path / "folk" / "00.wav").read_bytes())
    edited[len(edited) // 2] ^= 0xFF
    (tmp_path / "folk" / "00 edit.wav").write_bytes(bytes(edited))
    with pytest.warns(UserWarning, match="8 files are byte-identical copies of other files"):
        dataset = load_dataset(tmp_path, "folders")
    m = dataset.manifest
    groups = dict(zip(m["track_id"], m["group"], strict=True))
    assert groups["folk/00 edit"] != groups["folk/00"]
    side = {}
    for fold in range(2 if strategy == "kfold" else 1):
        split = make_split(dataset, strategy, seed=fold, fold=fold)
        for name, rows in (("train", split.train), ("valid", split.valid), ("test", split.test)):
            for r in rows:
                side[m["path"].iloc[r]] = name
        for i in range(8):
            original = str((tmp_path / "electronic" / f"{i:02d}.wav").resolve())
            copy = str((tmp_path / "electronic" / "best of" / f"{i:02d}.wav").resolve())
            assert side[original] == side[copy], (i, side[original], side[copy])


def test_a_collection_without_copies_loads_as_before(shared_dir):
    import warnings as w

    from core.datasets import load_dataset, load_gtzan

    for part in ("excerpts", "full"):  # the bundled set's audio: all distinct
        with w.catch_warnings(record=True) as caught:
            w.simplefilter("always")
            dataset = load_dataset(shared_dir / "data/gtzan" / part, "gtzan")
        assert not any("byte-identical" in str(c.message) for c in caught)
        assert not any("byte-identical" in note for note in dataset.warnings)
        unmerged = load_gtzan(shared_dir / "data/gtzan" / part).manifest["group"]
        assert list(dataset.manifest["group"]) == list(unmerged)  # every split as before


def test_a_genre_missing_from_a_side_of_the_split_is_said(tmp_path, capsys):
    from core.cli import main
    from core.datasets import load_dataset
    from core.splits import split_notes
    from core.synth import genre_like, write

    for k, genre in enumerate(("big", "other")):
        for i in range(10):
            write(tmp_path / genre / f"{i}.wav", genre_like(2 * k, 1.0, seed=i), 22050)
    write(tmp_path / "tiny" / "only.wav", genre_like(5, 1.0), 22050)
    dataset = load_dataset(tmp_path, "folders")
    split = make_split(dataset, "random", seed=0)
    notes = split_notes(dataset, split)
    tiny_side = "test" if len(dataset.manifest) - 1 in set(split.test) else "learnt"
    expected = ("no training track" if tiny_side == "test" else "no test track")
    assert len(notes) == 1 and notes[0].startswith(f"genre 'tiny' has {expected} in split "), notes
    assert split_notes(dataset.subset(np.flatnonzero(dataset.manifest["label"] != "tiny")),
                       make_split(dataset.subset(np.flatnonzero(
                           dataset.manifest["label"] != "tiny")), "random", seed=0)) == []
    assert main(["split", "--data", str(tmp_path), "--layout", "folders", "--split",
                 "random"]) == 0
    captured = capsys.readouterr()
    assert "no artist on two sides" not in captured.out
    assert "(artists unknown: each track, with any copies of it, is its own group)" in captured.out
    assert f"warning: genre 'tiny' has {expected}" in captured.err
