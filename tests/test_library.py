"""Tagging a whole library: walk, resume, kill -9, the lock, engines, the Library page.

Models: two tiny MFCC-MLPs trained on synthetic clips (a few seconds), never the bundled set.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from core.cli import main
from core.errors import LibraryError
from core.library import TagSpec, TagStore, tag_library, walk_library
from core.library.job import read_for_tagging, window_starts
from core.library.store import RunLock, now
from core.synth import genre_like, make_demo_dataset, write
from tests.conftest import ROOT

SR = 22050


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory) -> Path:
    """Two tiny MLPs (different seeds, so they sometimes disagree), no ensemble."""
    from core.datasets import load_dataset
    from core.models import MfccMlp
    from core.splits import make_split

    root = tmp_path_factory.mktemp("train")
    data = load_dataset(make_demo_dataset(root / "demo", genres=3, per_genre=6, seconds=3.0),
                        "folders")
    split = make_split(data, "random")
    out = root / "models"
    for seed, name in enumerate(["mlp", "mlp_b"]):
        MfccMlp(epochs=2, patience=2, members=1, refit=False, seed=seed).fit(data, split).save(
            out / name)
    return out


def make_library(root: Path) -> Path:
    """Nested folders, wav/flac/ogg/mp3, a corrupt file, a too-short one, a text file, an image,
    a hidden file and a copy of a song under another name."""
    write(root / "rock" / "a.wav", genre_like(0, 4.0, seed=1), SR)
    write(root / "rock" / "live" / "b.flac", genre_like(1, 4.0, seed=2), SR)
    write(root / "jazz" / "c.ogg", genre_like(2, 4.0, seed=3), SR)
    write(root / "jazz" / "d.mp3", genre_like(1, 5.0, seed=4), SR)
    write(root / "pop" / "deep" / "nested" / "e.wav", genre_like(2, 7.0, seed=5), SR)
    (root / "copies").mkdir()
    shutil.copy(root / "rock" / "a.wav", root / "copies" / "a copy.wav")
    (root / "broken.mp3").write_bytes(b"this is not an mp3 at all " * 40)
    write(root / "short.wav", genre_like(0, 0.2), SR)
    (root / "notes.txt").write_text("liner notes")
    (root / "cover.jpg").write_bytes(b"\xff\xd8\xff" + bytes(100))
    write(root / ".hidden.wav", genre_like(0, 2.0), SR)
    return root


def library_rows(database: Path) -> pd.DataFrame:
    with TagStore(database).connect(read_only=True) as con:
        return con.execute("SELECT * FROM library ORDER BY path").fetchdf()


def count(database: Path, sql: str) -> int:
    with TagStore(database).connect(read_only=True) as con:
        return int(con.execute(sql).fetchall()[0][0])


# ---------------------------------------------------------------- walking and windows
def test_walk_sorts_audio_from_other_files_and_hashes_audio_not_tags(tmp_path):
    from mutagen.id3 import ID3, TCON

    from core.library.walk import content_hash

    lib = make_library(tmp_path / "lib")
    walk = walk_library([lib])
    names = [Path(f.path).relative_to(lib).as_posix() for f in walk.audio]
    assert names == ["broken.mp3", "copies/a copy.wav", "jazz/c.ogg", "jazz/d.mp3",
                     "pop/deep/nested/e.wav", "rock/a.wav", "rock/live/b.flac", "short.wav"]
    assert walk.other == {"txt": 1, "jpg": 1} and walk.hidden == 1
    assert content_hash(lib / "rock" / "a.wav") == content_hash(lib / "copies" / "a copy.wav")
    before = content_hash(lib / "jazz" / "d.mp3")
    tags = ID3()
    tags.add(TCON(encoding=3, text=["Jazz"]))
    tags.save(lib / "jazz" / "d.mp3")  # the file's bytes change, its audio does not
    assert content_hash(lib / "jazz" / "d.mp3") == before
    with pytest.raises(LibraryError, match="no such folder"):
        walk_library([tmp_path / "missing"])
    # a link to a song is that song; a link to a file that is gone is said, not lost
    (lib / "links").mkdir()
    (lib / "links" / "c.ogg").symlink_to(lib / "jazz" / "c.ogg")
    (lib / "links" / "gone.mp3").symlink_to(tmp_path / "deleted.mp3")
    (lib / "links" / "gone.jpg").symlink_to(tmp_path / "deleted.jpg")
    (lib / "links" / "loop.mp3").symlink_to(lib / "links" / "loop.mp3")
    walk = walk_library([lib])
    assert len(walk.audio) == 8  # the linked song once
    assert [u.split(":")[0] for u in walk.unreadable] == [str(lib / "links" / "gone.mp3"),
                                                          str(lib / "links" / "loop.mp3")]
    assert all("a link that leads to no file" in u for u in walk.unreadable)
    assert walk.other == {"txt": 1, "jpg": 2}  # a link to a lost picture is still no song


def test_windows_are_spread_over_the_song_and_max_seconds_takes_the_middle(tmp_path):
    np.testing.assert_allclose(window_starts(60.0, 3), [0.0, 28.5, 57.0])
    assert len(window_starts(8.0, 3)) == 0  # shorter than 3 windows: analysed whole
    y = genre_like(1, 20.0, seed=7)
    path = write(tmp_path / "song.wav", y, SR)
    full, _ = sf.read(path, dtype="float32")
    windows, duration = read_for_tagging(str(path), TagSpec(windows=3))
    assert duration == pytest.approx(20.0) and len(windows) == 3 * 3 * SR
    n = 3 * SR
    expected = np.concatenate([full[round(s * SR):round(s * SR) + n] for s in (0.0, 8.5, 17.0)])
    np.testing.assert_allclose(windows, expected, atol=1e-6)
    middle, _ = read_for_tagging(str(path), TagSpec(max_seconds=5))
    np.testing.assert_allclose(middle, full[round(7.5 * SR):round(12.5 * SR)], atol=1e-6)
    whole, _ = read_for_tagging(str(path), TagSpec(max_seconds=60))
    assert len(whole) == len(full)
    assert TagSpec(windows=3).analysis == "windows-3x3s" and TagSpec().analysis == "whole"


# ---------------------------------------------------------------- one run, then a resume
def test_tag_a_library_then_resume_rename_and_export(models_dir, tmp_path, capsys):
    lib = make_library(tmp_path / "lib")
    db = tmp_path / "out" / "library.duckdb"
    args = ["-q", "tag", str(lib), "--out", str(db), "--models", str(models_dir)]
    assert main([*args, "--format", "parquet"]) == 0
    out = capsys.readouterr().out
    assert "tagged 5 songs; 2 more failed (reasons below), in " in out, out
    assert "8 audio files (1 duplicate of other files), 2 other files" in out
    assert "failed by reason: corrupt 1, too-short 1" in out

    rows = library_rows(db).set_index("path")
    assert len(rows) == 8 and rows.index.is_unique  # one row per audio file, no txt/jpg
    a, copy = rows.loc[str(lib / "rock" / "a.wav")], rows.loc[str(lib / "copies" / "a copy.wav")]
    assert a["content_hash"] == copy["content_hash"] and a["genre"] == copy["genre"]
    assert rows.loc[str(lib / "broken.mp3"), "error_reason"] == "corrupt"
    assert rows.loc[str(lib / "short.wav"), "error_reason"] == "too-short"
    # the reason belongs to the content, which copies share: no file's name in it
    assert rows.loc[str(lib / "short.wav"), "error"].startswith("0.")
    assert "broken.mp3" not in rows.loc[str(lib / "broken.mp3"), "error"]
    song = rows.loc[str(lib / "jazz" / "d.mp3")]
    models = json.loads(song["models"])
    assert set(models) == {"mlp", "mlp_b"}
    for answer in models.values():
        assert set(answer["probabilities"]) == {"drone", "pulse", "shimmer"}
        assert answer["genre"] == max(answer["probabilities"], key=answer["probabilities"].get)
    assert song["agree"] == (models["mlp"]["genre"] == models["mlp_b"]["genre"])
    assert song["duration_s"] == pytest.approx(5.0, abs=0.05) and song["seconds"] > 0
    assert count(db, "SELECT count(*) FROM predictions") == 7  # the copy shares its prediction
    parquet = pd.read_parquet(db.with_suffix(".parquet"))
    assert sorted(parquet["path"]) == sorted(rows.index)

    # A re-run does nothing; a renamed file is found under its new name and not redone.
    (lib / "rock" / "a.wav").rename(lib / "rock" / "a renamed.wav")
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "nothing new to tag" in out and "skipped: 7 songs already done" in out
    assert "1 file gone since the last run forgotten" in out
    rows = library_rows(db)
    assert str(lib / "rock" / "a.wav") not in set(rows["path"])
    renamed = rows[rows["path"] == str(lib / "rock" / "a renamed.wav")].iloc[0]
    assert renamed["genre"] == a["genre"]
    assert count(db, "SELECT count(*) FROM predictions") == 7
    runs = TagStore(db).runs()
    assert list(runs["status"]) == ["finished", "finished"] and list(runs["tagged"]) == [0, 5]

    # --write-tags --dry-run says what it would write and writes nothing.
    mp3 = lib / "jazz" / "d.mp3"
    before = mp3.read_bytes()
    assert main([*args, "--write-tags", "--dry-run"]) == 0
    out = capsys.readouterr().out
    genre = rows[rows["path"] == str(mp3)].iloc[0]["genre"]
    assert f"would set {mp3}: TCON (none) -> '{genre.title()}'" in out, out
    assert "tags: would change 3 fields in 3 files" in out and mp3.read_bytes() == before

    # Another analysis is another prediction; failures are retried only when asked.
    assert main([*args, "--windows", "1"]) == 0
    assert "tagged 5 songs; 2 more failed" in capsys.readouterr().out
    assert main([*args, "--windows", "1", "--retry-failed"]) == 0
    out = capsys.readouterr().out
    assert "tagged 0 songs; 2 failed (reasons below)\n" in out, out  # no rates of nothing
    assert set(library_rows(db)["analysis"].dropna()) == {"windows-1x3s"}
    # A small run with other options shows its answer, and hides no earlier one.
    assert main([*args[:2], str(lib / "jazz"), *args[3:], "--max-seconds", "2"]) == 0
    rows = library_rows(db).set_index("path")
    assert rows.loc[str(mp3), "analysis"] == "middle-2s"
    others = rows.drop(index=[p for p in rows.index if "/jazz/" in p])
    assert set(others["analysis"].dropna()) == {"windows-1x3s"}
    assert others["genre"].notna().sum() == 4 and others["error_reason"].notna().sum() == 2


def test_bad_input_gives_one_error_line_and_exit_codes(models_dir, tmp_path, capsys):
    lib = make_library(tmp_path / "lib")
    db = tmp_path / "t.duckdb"
    cases = [
        (["tag", str(tmp_path / "nowhere"), "--out", str(db), "--models", str(models_dir)],
         "no such folder", 1),
        (["tag", str(lib), "--out", str(db), "--models", str(tmp_path / "none")],
         "model folder not found", 1),
        # arguments that cannot go together: a usage error, argparse's code
        (["tag", str(lib), "--out", str(db), "--dry-run"], "--dry-run and --comment go with", 2),
        (["tag", "--out", str(db)], "give one or more LIBRARY", 2),
        (["tag", str(lib), "--out", str(lib / "notes.txt"), "--models", str(models_dir)],
         "not a tagging database", 1),
    ]
    for argv, message, code in cases:
        assert main(argv) == code, argv
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err and "Traceback" not in err, err
    foreign = tmp_path / "other.duckdb"
    with duckdb.connect(str(foreign)) as con:
        con.execute("CREATE TABLE songs (x INTEGER)")
    assert main(["tag", str(lib), "--out", str(foreign), "--models", str(models_dir)]) == 1
    assert "not a GenreLab tagging database" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["tag", str(lib), "--out", str(db), "--windows", "2", "--max-seconds", "30"])
    assert info.value.code == 2


# ---------------------------------------------------------------- kill -9, the lock
def test_kill_9_mid_run_then_a_rerun_leaves_exactly_one_row_per_file(models_dir, tmp_path):
    lib = tmp_path / "lib"
    for i in range(4):
        write(lib / f"a{i}.wav", genre_like(i % 3, 3.0, seed=i), SR)
    for i in range(2):  # long songs (sorted last) keep the run busy after the first commits
        write(lib / f"z{i}.flac", genre_like(i % 3, 100.0, seed=10 + i), SR)
    db = tmp_path / "lib.duckdb"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    child = subprocess.Popen([sys.executable, "-m", "core", "-q", "tag", str(lib), "--out",
                              str(db), "--models", str(models_dir), "--commit-every", "1"],
                             cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 90
        committed = 0
        while time.monotonic() < deadline and child.poll() is None:
            if db.exists():
                try:
                    committed = count(db, "SELECT count(*) FROM predictions")
                except Exception:  # the writer holds the file for a moment
                    committed = 0
                if committed >= 3:
                    break
            time.sleep(0.05)
        assert child.poll() is None, child.stderr.read().decode()
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert 3 <= count(db, "SELECT count(*) FROM predictions") < 6
    assert count(db, "SELECT count(*) FROM runs WHERE status = 'started'") == 1

    assert main(["-q", "tag", str(lib), "--out", str(db), "--models", str(models_dir)]) == 0
    rows = library_rows(db)
    assert len(rows) == 6 and rows["path"].is_unique and rows["genre"].notna().all()
    assert count(db, "SELECT count(*) FROM predictions") == 6
    assert count(db, "SELECT count(DISTINCT content_hash) FROM predictions") == 6
    assert list(TagStore(db).runs()["status"]) == ["finished", "killed"]


HOLD_LOCK = """
import sys, time
from core.library.store import RunLock
with RunLock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(60)
"""

HOLD_FILE = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("held", flush=True)
time.sleep(60)
"""


def _holding(script: str, target: Path) -> subprocess.Popen:
    child = subprocess.Popen([sys.executable, "-c", script, str(target)], cwd=ROOT,
                             env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
                             text=True)
    assert child.stdout.readline().strip() == "held"
    return child


def test_ctrl_c_says_how_far_the_run_got_and_how_to_go_on(models_dir, tmp_path, capsys,
                                                          monkeypatch):
    import core.library.tagger as tagger

    lib = make_library(tmp_path / "lib")
    real = tagger._run_engine

    def interrupted(store, engine, pending, summary, **kwargs):  # Ctrl-C after two songs
        real(store, engine, pending[:2], summary, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(tagger, "_run_engine", interrupted)
    db = tmp_path / "lib.duckdb"
    args = ["-q", "tag", str(lib), "--out", str(db), "--models", str(models_dir)]
    assert main(args) == 130
    captured = capsys.readouterr()
    assert "interrupted: songs done so far are saved" in captured.out
    err = captured.err
    assert f"interrupted: 2 of 7 songs done and saved in {db}; run the same command again to " \
           "tag the rest" in err, err
    runs = TagStore(db).runs()
    assert list(runs["status"]) == ["interrupted"]
    assert list(runs["tagged"] + runs["failed"]) == [2]  # saved, failures with their reason
    monkeypatch.setattr(tagger, "_run_engine", real)
    assert main(args) == 0
    assert "skipped: 2 songs already done" in capsys.readouterr().out


def test_a_second_run_on_the_same_database_is_refused(models_dir, tmp_path, capsys):
    lib = make_library(tmp_path / "lib")
    db = tmp_path / "lib.duckdb"
    TagStore(db).create()
    child = _holding(HOLD_LOCK, db)
    try:
        assert main(["tag", str(lib), "--out", str(db), "--models", str(models_dir)]) == 1
        err = capsys.readouterr().err
        assert f"in use by another `tag` run (pid {child.pid} on" in err, err
        assert main(["tag", "--undo", "--out", str(db)]) == 1
        assert "in use by another `tag` run" in capsys.readouterr().err
    finally:
        child.kill()
        child.wait()
    # Another program keeping the file open (a DuckDB shell, a notebook) is named too.
    child = _holding(HOLD_FILE, db)
    try:
        busy = TagStore(db, busy_timeout=0.5)
        with pytest.raises(LibraryError, match=rf"is busy: .*\(pid {child.pid}\) keeps it open"), \
                busy.connect(read_only=True):
            pass
    finally:
        child.kill()
        child.wait()
    lock = Path(f"{db.resolve()}.lock")
    assert lock.is_file()  # a SIGKILLed holder cannot remove it...
    with RunLock(db):  # ...but the kernel released its lock when it died
        pass
    assert not lock.exists()  # a run that ends removes its lock file


def test_the_library_page_says_which_analyses_its_answers_come_from():
    from dashboard.library import analyses_text

    one = pd.DataFrame({"analysis": ["whole", "whole", None]})
    assert analyses_text(one, "whole") == "analysis whole"
    mixed = pd.DataFrame({"analysis": ["whole", "middle-2s", "whole", None]})
    assert analyses_text(mixed, "middle-2s") == (
        "analyses middle-2s for 1 file, whole for 2 files (the latest run's is middle-2s; a "
        "song it did not analyse keeps its most recent answer)")


def test_the_library_table_names_each_model_as_every_other_page_does():
    from dashboard.library import display_table

    answers = {"mlp": {"genre": "rock", "confidence": 0.4},
               "yamnet:zero-shot": {"genre": "metal", "confidence": 0.7}}
    view = pd.DataFrame({"path": ["/music/a.mp3"], "shown_genre": ["rock"], "confidence": [0.5],
                         "models": [json.dumps(answers)], "agree": [False],
                         "needs_review": [True], "review_action": [None], "duration_s": [181.04]})
    table = display_table(view)
    assert table["models"].tolist() == ["MFCC-MLP: rock · YAMNet zero-shot: metal"]
    assert table["file"].tolist() == ["a.mp3"] and table["folder"].tolist() == ["/music"]


def test_throughput_is_measured_on_the_run_that_tagged_the_most_songs():
    from dashboard.library import LibraryData, measurements

    runs = pd.DataFrame({"run_id": [3, 2, 1], "tagged": [3, 0, 400], "failed": [0, 0, 20],
                         "tag_seconds": [3.9, 0.0, 140.0], "audio_seconds": [90, 0, 12600],
                         "workers": [1, 1, 2], "engine": ["local"] * 3})
    rows = pd.DataFrame({"status": ["tagged"], "content_hash": ["a"], "genre": ["rock"],
                         "error_reason": [None], "needs_review": [False],
                         "uncertain": [False], "agree": [True]})
    found = measurements(LibraryData("db", rows, runs, ["rock"]))
    assert found["run_id"] == 1 and found["songs_per_second"] == pytest.approx(3.0)
    assert found["realtime_factor"] == pytest.approx(90.0)


def test_answers_for_one_song_saved_at_once_all_land(tmp_path):
    import threading

    store = TagStore(tmp_path / "lib.duckdb").create()
    failures: list[str] = []

    def answer(genre: str) -> None:  # e.g. two browser tabs on the Library page
        for _ in range(15):
            try:
                store.set_review("song", genre, predicted="rock", model_set="s", path="/a.mp3")
            except Exception as exc:  # DuckDB's conflicting upserts, before the fix
                failures.append(repr(exc))

    def forget() -> None:
        for _ in range(15):
            try:
                store.clear_review("song")
            except Exception as exc:
                failures.append(repr(exc))

    threads = [threading.Thread(target=answer, args=(g,)) for g in ("rock", "jazz", "pop")]
    threads.append(threading.Thread(target=forget))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    store.set_review("song", "jazz", predicted="rock", model_set="s", path="/a.mp3")
    with store.connect(read_only=True) as con:
        rows = con.execute("SELECT genre, action FROM reviews").fetchall()
    assert rows == [("jazz", "corrected")]  # one row per song, the last answer


def test_undo_on_a_mistyped_database_leaves_nothing_behind(tmp_path, capsys):
    db = tmp_path / "lib.duckdb"
    assert main(["tag", "--undo", "--out", str(db)]) == 1
    assert "error: no tagging database at" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # no new database, no lock file


# ---------------------------------------------------------------- engines agree
def _comparable(database: Path) -> pd.DataFrame:
    rows = library_rows(database)[["path", "content_hash", "genre", "confidence", "agree",
                                   "error_reason", "duration_s", "models"]]
    rows["models"] = rows["models"].map(lambda m: None if m is None or m != m else
                                        {k: v["genre"] for k, v in json.loads(m).items()})
    return rows.reset_index(drop=True)


@pytest.mark.slow
def test_local_processes_and_ray_give_the_rows_of_one_process(models_dir, tmp_path):
    lib = make_library(tmp_path / "lib")
    spec = TagSpec(models_dir=str(models_dir))
    serial = tag_library([lib], tmp_path / "serial.duckdb", spec=spec, progress=False)
    assert serial.tagged == 5
    pool = tag_library([lib], tmp_path / "pool.duckdb", spec=spec, jobs=2, progress=False)
    assert pool.workers == 2 and pool.tagged == 5
    expected = _comparable(tmp_path / "serial.duckdb")
    pd.testing.assert_frame_equal(_comparable(tmp_path / "pool.duckdb"), expected, atol=1e-4)

    ray = pytest.importorskip("ray", reason="ray is not installed")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        on_ray = tag_library([lib], tmp_path / "ray.duckdb", spec=spec, engine="ray",
                             progress=False)
        assert on_ray.engine == "ray" and on_ray.workers == 2 and on_ray.tagged == 5
        assert on_ray.failed == {"corrupt": 1, "too-short": 1}
    finally:
        ray.shutdown()
    pd.testing.assert_frame_equal(_comparable(tmp_path / "ray.duckdb"), expected, atol=1e-4)
    with TagStore(tmp_path / "ray.duckdb").connect(read_only=True) as con:
        hosts = {w for (w,) in con.execute("SELECT worker FROM predictions").fetchall()}
    assert len(hosts) == 2  # both actors did work; only the driver wrote


# ---------------------------------------------------------------- the Library page
GENRES = ["blues", "jazz", "rock"]


def _prediction(path: Path, digest: str, *, genre: str, confidence: float, agree: bool,
                uncertain: bool, run_id: int) -> dict:
    probs = {g: (confidence if g == genre else (1 - confidence) / 2) for g in GENRES}
    other = GENRES[(GENRES.index(genre) + 1) % 3]
    return {"content_hash": digest, "model_set": "set1", "analysis": "whole", "path": str(path),
            "duration_s": 4.0, "analysed_s": 4.0, "genre": genre, "confidence": confidence,
            "verdict": (f"uncertain: closest to {genre} / {other}" if uncertain else genre),
            "threshold": 0.5, "uncertain": uncertain, "agree": agree, "method": "stacked",
            "probabilities": probs, "models": {
                "mlp": {"genre": genre, "confidence": confidence, "probabilities": probs},
                "cnn": {"genre": genre if agree else other, "confidence": 0.5,
                        "probabilities": probs}},
            "seconds": 0.5, "worker": "test:1", "run_id": run_id, "tagged_at": now()}


def make_database(folder: Path) -> tuple[Path, dict[str, Path]]:
    """A tagging database written through the store's API (no models run)."""
    songs = {"sure_blues": ("blues", 0.95, True, False), "sure_rock": ("rock", 0.9, True, False),
             "unsure_and_split": ("jazz", 0.41, False, True), "split": ("rock", 0.7, False, False),
             "unsure": ("blues", 0.45, True, True)}
    paths = {name: write(folder / "music" / f"{name}.wav", genre_like(i, 1.0), SR)
             for i, name in enumerate(songs)}
    db = folder / "tagged.duckdb"
    store = TagStore(db).create()
    with store.transaction() as con:
        store.upsert_files(con, pd.DataFrame({
            "path": [str(p) for p in paths.values()], "content_hash": list(songs),
            "size_bytes": [p.stat().st_size for p in paths.values()],
            "mtime_ns": [p.stat().st_mtime_ns for p in paths.values()],
            "format": ["wav"] * len(paths)}).astype({"path": object, "content_hash": object,
                                                      "format": object}))
        run = store.start_run(con, model_set="set1", model_set_name="tiny", models_dir="x",
                              analysis="whole", engine="local", workers=2, roots=[str(folder)],
                              files_audio=5, files_other=0)
        store.insert_predictions(con, [
            _prediction(paths[n], n, genre=g, confidence=c, agree=a, uncertain=u, run_id=run)
            for n, (g, c, a, u) in songs.items()])
        store.update_run(con, run, status="finished", finished_at=now(), tagged=5, failed=0,
                         tag_seconds=2.0, audio_seconds=20.0)
    return db, paths


@pytest.fixture
def library_app(monkeypatch, tmp_path):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("GENRELAB_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=60)
    at.run()
    assert not at.exception
    at.switch_page("../pages/library.py").run()
    assert not at.exception
    return at


def test_library_page_reviews_land_in_a_manifest_train_reads(library_app, tmp_path):
    from core.datasets import load_dataset

    at = library_app
    at.text_input(key="library_path").set_value(str(tmp_path / "missing.duckdb")).run()
    assert not at.exception and any("no tagging database" in e.value for e in at.error)

    db, paths = make_database(tmp_path)
    at.text_input(key="library_path").set_value(str(db)).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Files"] == "5" and metrics["Songs to review"] == "3" and metrics["Tagged files"] == "5"
    assert metrics["Songs per second"] == "2.50"
    assert len(at.get("plotly_chart")) >= 1
    table = at.dataframe[0].value
    assert list(table["file"])[:2] == ["unsure_and_split.wav", "unsure.wav"]  # least confident
    at.checkbox(key="library_disagree").check().run()
    assert set(at.dataframe[0].value["file"]) == {"unsure_and_split.wav", "split.wav"}
    at.multiselect(key="library_genres").select("rock").run()
    assert list(at.dataframe[0].value["file"]) == ["split.wav"]
    assert len(at.get("audio")) >= 1

    # The queue starts with the song that is unsure *and* disagreeing; one click corrects it.
    assert "unsure_and_split.wav" in " ".join(m.value for m in at.markdown)
    at.button(key="review_rock").click().run()
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["Songs to review"] == "2"  # one answered
    shown = at.dataframe[0].value.set_index("file")  # ...and no longer ticked "needs review"
    assert shown.loc["unsure_and_split.wav", "reviewed"] == "corrected"
    assert not shown.loc["unsure_and_split.wav", "needs review"]
    assert "unsure.wav" in " ".join(m.value for m in at.markdown)  # next: unsure, agreeing
    at.button(key="review_confirm").click().run()
    reviews = TagStore(db).library().set_index("content_hash")
    assert reviews.loc["unsure_and_split", "reviewed_genre"] == "rock"
    assert reviews.loc["unsure_and_split", "review_action"] == "corrected"
    assert reviews.loc["unsure", "review_action"] == "confirmed"

    target = tmp_path / "reviewed.csv"
    at.text_input(key="export_path").set_value(str(target)).run()
    at.button(key="export_save").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    manifest = load_dataset(target, "manifest").manifest.set_index("path")
    assert manifest.loc[str(paths["unsure_and_split"]), "label"] == "rock"
    assert manifest.loc[str(paths["unsure"]), "label"] == "blues"
    assert len(manifest) == 2 and manifest["track_id"].is_unique

    # The Report's business case now starts from what was measured here.
    at.switch_page("../pages/report.py").run()
    assert not at.exception
    captions = " ".join(c.value for c in at.caption)
    assert "measured on" in captions and "2.50 songs/s" in captions
    machine = next(n for n in at.number_input if n.label == "Machine songs per hour")
    assert machine.value == pytest.approx(9000.0)  # 2.5 songs/s
    assert at.slider[0].value == pytest.approx(60)  # % : 3 of 5 songs unsure or disagreeing


def test_the_manifest_layout_refuses_what_train_cannot_use(tmp_path):
    from core.datasets import load_dataset
    from core.errors import DatasetError

    write(tmp_path / "a.wav", genre_like(0, 1.0), SR)
    write(tmp_path / "b.wav", genre_like(1, 1.0), SR)
    good = tmp_path / "m.csv"
    good.write_text("path,label\na.wav,rock\nb.wav,jazz\nmissing.wav,pop\n")
    with pytest.warns(UserWarning, match="missing.wav: file not found"):
        data = load_dataset(good, "manifest")
    assert data.genres == ["jazz", "rock"] and data.layout == "manifest"
    (tmp_path / "bad.csv").write_text("file,genre\na.wav,rock\n")
    with pytest.raises(DatasetError, match="needs the columns path and label"):
        load_dataset(tmp_path / "bad.csv", "manifest")
