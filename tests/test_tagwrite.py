"""``--write-tags`` and ``--undo``: genres into ID3 / Vorbis tags, audio data untouched."""

from __future__ import annotations

import shutil
from pathlib import Path

import mutagen
import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from mutagen.id3 import COMM, ID3, TCON

import core.library.tags as tags_module
from core.cli import main
from core.errors import LibraryError
from core.library import TagStore, write_tags
from core.library.payload import audio_digest, audio_payload
from core.library.store import now
from core.library.tags import plan_changes, write_changes
from core.synth import genre_like, write

SR = 22050
#: name -> (genre, confidence, uncertain)
SONGS = {"song.mp3": ("rock", 0.9, False), "song.flac": ("blues", 0.8, False),
         "song.ogg": ("jazz", 0.7, False), "unsure.ogg": ("rock", 0.3, True),
         "song.wav": ("rock", 0.9, False)}


def tagged_folder(root: Path) -> tuple[Path, dict[str, Path]]:
    """Audio files in every tag format, some with tags already, and a database predicting them
    (written through the store, no models run)."""
    paths = {name: write(root / "music" / name, genre_like(i, 3.0, seed=i), SR)
             for i, name in enumerate(SONGS)}
    tags = ID3()
    tags.add(TCON(encoding=3, text=["Jazz"]))
    tags.add(COMM(encoding=3, lang="eng", desc="", text=["my own comment"]))
    tags.save(paths["song.mp3"], v2_version=3)
    flac = mutagen.File(paths["song.flac"])
    flac["GENRE"] = ["Folk", "Acoustic"]
    flac.save()
    db = root / "lib.duckdb"
    store = TagStore(db).create()
    digests = {name: audio_digest(p) for name, p in paths.items()}
    with store.transaction() as con:
        store.upsert_files(con, pd.DataFrame({
            "path": [str(p) for p in paths.values()], "content_hash": list(digests.values()),
            "size_bytes": [p.stat().st_size for p in paths.values()],
            "mtime_ns": [p.stat().st_mtime_ns for p in paths.values()],
            "format": [p.suffix[1:] for p in paths.values()]}).astype(object).astype(
                {"size_bytes": "int64", "mtime_ns": "int64"}))
        run = store.start_run(con, model_set="s", model_set_name="t", analysis="whole",
                              engine="local", workers=1)
        store.insert_predictions(con, [
            {"content_hash": digests[n], "model_set": "s", "analysis": "whole",
             "path": str(paths[n]), "genre": g, "confidence": c, "uncertain": u, "agree": True,
             "verdict": g, "run_id": run, "tagged_at": now()}
            for n, (g, c, u) in SONGS.items()])
    return db, paths


def snapshot(path: Path) -> tuple[bytes, bytes, np.ndarray]:
    data, _ = sf.read(path, dtype="float32")
    return path.read_bytes(), audio_payload(path), data


def test_write_tags_then_undo_restores_every_old_value_and_never_touches_audio(tmp_path,
                                                                               capsys):
    db, paths = tagged_folder(tmp_path)
    before = {name: snapshot(p) for name, p in paths.items()}
    store = TagStore(db)
    ogg_hash = store.library().set_index("path").loc[str(paths["song.ogg"]), "content_hash"]
    store.set_review(ogg_hash, "blues", predicted="jazz", model_set="s",
                     path=str(paths["song.ogg"]))  # a person's answer wins over the model's

    dry = write_tags(db, comment=True, dry_run=True, echo=print)
    assert len(dry.changes) == 6 and dry.files_changed == 3
    assert "would set " + str(paths["song.mp3"]) + ": TCON 'Jazz' -> 'Rock'" in \
        capsys.readouterr().out
    assert all(p.read_bytes() == before[n][0] for n, p in paths.items())  # nothing written

    done = write_tags(db, comment=True)
    assert done.files_changed == 3 and not done.failures
    assert done.skipped == {"uncertain (review it on the Library page)": 1,
                            "no genre tag in wav files": 1}
    mp3 = ID3(paths["song.mp3"])
    assert mp3.getall("TCON")[0].text == ["Rock"]
    assert mp3["COMM:GenreLab:eng"].text == ["GenreLab: Rock (confidence 0.90, model set s)"]
    assert mp3["COMM::eng"].text == ["my own comment"]  # the user's comment is left alone
    assert mutagen.File(paths["song.flac"])["GENRE"] == ["Blues"]
    ogg = mutagen.File(paths["song.ogg"])
    assert ogg["GENRE"] == ["Blues"] and ogg["GENRELAB"] == ["GenreLab: Blues (reviewed by a person)"]
    assert "GENRE" not in mutagen.File(paths["unsure.ogg"])
    for name, path in paths.items():
        data, payload, samples = snapshot(path)
        assert payload == before[name][1], name  # byte for byte the same audio data
        np.testing.assert_array_equal(samples, before[name][2])
        assert (data == before[name][0]) == (name in ("unsure.ogg", "song.wav")), name
    with store.connect(read_only=True) as con:
        logged = con.execute("SELECT count(*), count(hash_after) FROM tag_changes").fetchall()[0]
    assert logged == (6, 6)
    assert write_tags(db, comment=True).files_changed == 0  # a second run changes nothing

    # Someone edits one field afterwards: undo leaves that edit and restores the rest.
    flac = mutagen.File(paths["song.flac"])
    flac["GENRE"] = ["Delta Blues"]
    flac.save()
    assert main(["-q", "tag", "--undo", "--out", str(db)]) == 0
    out = capsys.readouterr().out
    assert "tags: restored 5 fields in 3 files" in out and "changed since GenreLab wrote it" in out
    mp3 = ID3(paths["song.mp3"])
    assert mp3.getall("TCON")[0].text == ["Jazz"] and "COMM:GenreLab:eng" not in mp3
    assert mp3["COMM::eng"].text == ["my own comment"]
    assert mutagen.File(paths["song.flac"])["GENRE"] == ["Delta Blues"]
    assert "GENRE" not in mutagen.File(paths["song.ogg"])  # there was no genre tag before
    assert "GENRELAB" not in mutagen.File(paths["song.ogg"])
    for name, path in paths.items():
        assert audio_payload(path) == before[name][1], name
    assert main(["-q", "tag", "--undo", "--out", str(db)]) == 0
    assert "nothing to undo" in capsys.readouterr().out


def test_a_file_name_near_the_limit_gets_its_tags_and_a_failed_write_logs_nothing(
        tmp_path, monkeypatch):
    long = write(tmp_path / ("L" * 246 + ".mp3"), genre_like(1, 2.0), SR)  # 250 bytes of 255
    write_changes(long, {"TCON": ("Rock",)})
    assert ID3(long).getall("TCON")[0].text == ["Rock"]
    assert [p.name for p in tmp_path.iterdir()] == [long.name]  # no temporary copy left

    db, paths = tagged_folder(tmp_path / "lib")
    copy = shutil.copy2

    def copy2(source, target, **kwargs):
        if Path(source).name == "song.flac":  # e.g. a full disk, a name too long
            raise OSError(28, "No space left on device")
        return copy(source, target, **kwargs)

    monkeypatch.setattr("core.library.tags.shutil.copy2", copy2)
    flac_before = paths["song.flac"].read_bytes()
    done = write_tags(db)
    assert done.failures == [f"{paths['song.flac']}: cannot write its tags (No space left on "
                             "device)"]
    assert done.files_changed == 2  # the run went on past it
    assert paths["song.flac"].read_bytes() == flac_before
    with TagStore(db).connect(read_only=True) as con:
        logged = {r[0] for r in con.execute("SELECT path FROM tag_changes").fetchall()}
    assert logged == {str(paths["song.mp3"]), str(paths["song.ogg"])}  # nothing for the flac
    # an unexpected error in one file's tags is one failure line too
    monkeypatch.setattr("core.library.tags.shutil.copy2", copy)
    set_field = tags_module._set

    def odd(obj, fmt, field, value):
        if field == "GENRE":  # the flac's Vorbis comment
            raise ValueError("odd value for this format")
        return set_field(obj, fmt, field, value)

    monkeypatch.setattr("core.library.tags._set", odd)
    again = write_tags(db)
    assert again.failures == [f"{paths['song.flac']}: cannot write its tags (ValueError: odd "
                              "value for this format)"]


def test_undoing_the_tags_of_an_untagged_mp3_gives_back_its_bytes(tmp_path):
    path = write(tmp_path / "plain.mp3", genre_like(3, 2.0), SR)
    original = path.read_bytes()
    write_changes(path, {"TCON": ("Rock",), "COMM:GenreLab:eng": ("GenreLab: Rock",)})
    assert ID3(path).getall("TCON")[0].text == ["Rock"]
    write_changes(path, {"TCON": None, "COMM:GenreLab:eng": None})  # what --undo writes
    assert path.read_bytes() == original  # no empty ID3 header left behind


def test_a_write_that_would_change_the_audio_leaves_the_file_alone(tmp_path, monkeypatch):
    path = write(tmp_path / "a.flac", genre_like(1, 2.0), SR)
    original = path.read_bytes()
    changes = plan_changes(path, "hiphop")
    assert [(c.field, c.old, c.new) for c in changes] == [("GENRE", None, ("Hip-Hop",))]
    calls = iter([b"changed", b"original"])
    monkeypatch.setattr("core.library.tags.audio_payload", lambda p: next(calls))
    with pytest.raises(LibraryError, match="would have changed its audio data"):
        write_changes(path, {"GENRE": ("Hip-Hop",)})
    assert path.read_bytes() == original
    assert [p.name for p in tmp_path.iterdir()] == ["a.flac"]  # no temporary copy left


def test_the_audio_part_of_an_mp3_excludes_id3v1_and_ape_tags(tmp_path):
    path = write(tmp_path / "a.mp3", genre_like(2, 2.0), SR)
    audio = audio_payload(path)
    digest = audio_digest(path)
    tags = ID3()
    tags.add(TCON(encoding=3, text=["Pop"]))
    tags.save(path, v1=2)  # ID3v2 at the start, ID3v1 at the end
    assert path.read_bytes()[-128:-125] == b"TAG"
    assert audio_payload(path) == audio and audio_digest(path) == digest
    from mutagen.apev2 import APEv2

    ape = APEv2()
    ape["Genre"] = "Pop"
    ape.save(path)
    assert audio_digest(path) == digest
