from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from core.cli import main
from core.errors import ModelError
from core.features import SUMMARY_COLUMNS
from core.synth import genre_like, write
from tests.conftest import ROOT


def test_help_lists_subcommands():
    out = subprocess.run([sys.executable, "-m", "core", "--help"], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    for command in ("features", "dataset", "split", "extract", "cache"):
        assert command in out


@pytest.mark.parametrize("command", ["features", "dataset", "split", "extract", "cache", "train",
                                     "evaluate", "predict", "tag"])
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    assert "usage: python -m core " + command in capsys.readouterr().out


def test_features_csv_has_kaggle_columns(tmp_path, capsys):
    a = write(tmp_path / "a.wav", genre_like(1, 2.0), 22050)
    b = write(tmp_path / "b b.flac", genre_like(2, 2.0), 22050)
    assert main(["-q", "features", "--kind", "summary", "--format", "csv", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    table = pd.read_csv(__import__("io").StringIO(out))
    assert list(table.columns) == ["filename", "length", *SUMMARY_COLUMNS]
    assert table["filename"].tolist() == ["a.wav", "b b.flac"]
    assert table["length"].tolist() == [44100, 44100]


def test_features_per_segment_rows(tmp_path, capsys):
    a = write(tmp_path / "song.wav", genre_like(1, 7.0), 22050)
    assert main(["-q", "features", "--segment", "3", str(a)]) == 0
    table = pd.read_csv(__import__("io").StringIO(capsys.readouterr().out))
    assert table["filename"].tolist() == ["song.0.wav", "song.1.wav"]


def test_features_npz(tmp_path):
    a = write(tmp_path / "a.wav", genre_like(1, 4.0), 22050)
    out = tmp_path / "f.npz"
    assert main(["-q", "features", "--kind", "logmel", "--segment", "3", "--format", "npz",
                 "-o", str(out), str(a)]) == 0
    with np.load(out) as data:
        assert data["0:a.wav"].shape == (1, 128, 130)


def test_peak_normalize_option_and_the_cnn_cache(tmp_path, capsys):
    from core.cache import FeatureCache, content_digest
    from core.models import MelCnn

    y = genre_like(1, 4.0)
    loud, quiet = write(tmp_path / "a.wav", y, 22050), write(tmp_path / "b.wav", 0.1 * y, 22050)
    out = tmp_path / "f.npz"
    assert main(["-q", "features", "--kind", "logmel", "--segment", "3", "--peak-normalize",
                 "--format", "npz", "-o", str(out), str(loud), str(quiet)]) == 0
    with np.load(out) as data:
        assert json.loads(str(data["params"]))["peak_normalize"] is True
        # equal up to 16-bit quantisation of the quieter file (20 dB apart without the option)
        np.testing.assert_allclose(data["1:b.wav"], data["0:a.wav"], atol=1.0)
    assert main(["features", "--peak-normalize", str(loud)]) == 1
    assert "peak_normalize applies to logmel and mfcc" in capsys.readouterr().err
    # The documented way to pre-fill the from-scratch mel-CNN's cache fills the entries it reads.
    write(tmp_path / "d" / "rock" / "r.wav", y, 22050)
    write(tmp_path / "d" / "jazz" / "j.wav", 0.5 * y[::-1].copy(), 22050)
    assert main(["-q", "extract", "--data", str(tmp_path / "d"), "--layout", "folders",
                 "--kind", "logmel", "--segment", "3", "--peak-normalize", "--jobs", "1"]) == 0
    digest = content_digest((tmp_path / "d" / "rock" / "r.wav").read_bytes())
    assert FeatureCache().get(digest, MelCnn(encoder=None).params) is not None


def test_errors_exit_nonzero_with_one_line(tmp_path):
    bad = tmp_path / "notes.wav"
    bad.write_text("hello")
    proc = subprocess.run([sys.executable, "-m", "core", "features", str(bad)], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "error: notes.wav: not an audio file GenreLab can read (unrecognised format)."]
    proc = subprocess.run([sys.executable, "-m", "core", "dataset", "--data", str(tmp_path / "x"),
                           "--layout", "gtzan"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 1 and proc.stderr.startswith("error: GTZAN folder not found")
    assert "Traceback" not in proc.stderr


def test_outputs_in_the_way_are_refused_before_any_work(tmp_path, capsys):
    a = write(tmp_path / "a.wav", genre_like(1, 2.0), 22050)
    (tmp_path / "folder").mkdir()
    assert main(["features", "-o", str(tmp_path / "folder"), str(a)]) == 2  # a usage error
    assert "a folder is there; give a file name" in capsys.readouterr().err
    taken = tmp_path / "notes.txt"
    taken.write_text("mine")
    assert main(["train", "--data", str(tmp_path / "nowhere"), "--layout", "folders",
                 "--out", str(taken)]) == 2  # refused before the data is even read
    assert "a file is there; give a folder" in capsys.readouterr().err
    assert taken.read_text() == "mine"
    long_name = tmp_path / ("x" * 300)  # the file system refuses the name: one line, no trace
    assert main(["dataset", "--data", str(long_name), "--layout", "folders"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "File name too long" in err and "Traceback" not in err


def test_csv_for_sequences_is_refused(tmp_path, capsys):
    a = write(tmp_path / "a.wav", genre_like(1, 2.0), 22050)
    assert main(["features", "--kind", "logmel", "--format", "csv", str(a)]) == 2
    assert "use --format npz" in capsys.readouterr().err


def test_dataset_split_extract_and_cache(tmp_path, capsys):
    for g in ("rock", "jazz"):
        for i in range(5):
            write(tmp_path / "d" / g / f"{i}.wav", genre_like(i + (g == "rock"), 1.0, seed=i), 22050)
    data = ["--data", str(tmp_path / "d"), "--layout", "folders"]
    assert main(["dataset", *data]) == 0
    assert "10 tracks, 2 genres" in capsys.readouterr().out
    assert main(["split", *data, "--split", "random", "-o", str(tmp_path / "s.csv")]) == 0
    split = pd.read_csv(tmp_path / "s.csv")
    assert set(split["split"]) <= {"train", "valid", "test"} and len(split) == 10
    assert main(["-q", "extract", *data, "--jobs", "1"]) == 0
    assert "10 files" in capsys.readouterr().out
    assert main(["-q", "extract", *data, "--jobs", "1"]) == 0
    assert "10 from cache" in capsys.readouterr().out
    assert main(["cache", "clear"]) == 0
    assert "removed 10" in capsys.readouterr().out


@pytest.mark.shared
def test_split_on_the_real_table(shared_dir, capsys):
    table = str(shared_dir / "data/gtzan/features_30_sec.csv")
    assert main(["split", "--data", table, "--layout", "features-csv",
                 "--split", "fault-filtered"]) == 0
    assert "train 443, valid 197, test 290" in capsys.readouterr().out


@pytest.mark.slow
def test_train_evaluate_predict_in_the_documented_forms(tmp_path, capsys):
    """`train`, `evaluate --format json` and `predict --format json` as other tools call them."""

    from tests.yamnet_standin import build_standin

    standin = str(build_standin(tmp_path / "yamnet"))
    data = tmp_path / "data"
    for k, genre in enumerate(["low", "mid", "high"]):
        for i in range(6):
            write(data / genre / f"{genre}{i}.wav", genre_like(2 * k, 3.0, seed=10 * k + i), 22050)
    out = tmp_path / "models"
    assert main(["-q", "train", "--data", str(data), "--layout", "folders", "--models",
                 "mlp,cnn,yamnet", "--split", "random", "--seed", "1", "--epochs", "3",
                 "--members", "2", "--yamnet-handle", standin, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    for name, family in (("MFCC-MLP", "mlp"), ("mel-CNN", "cnn"), ("YAMNet", "yamnet")):
        assert f"{name} -> {out / family}: segment: acc" in printed, printed
    # low/mid/high have no AudioSet class: the head trains, zero-shot is reported as not measured
    assert "YAMNet zero-shot: not measured: none of the genres" in printed
    # 18 tracks leave 2 for validation: too few to learn an ensemble on, and it says so
    assert "note: no ensemble fitted (" in printed
    assert {p.name for p in out.iterdir()} == {"mlp", "cnn", "yamnet"}
    meta = json.loads((out / "cnn" / "metadata.json").read_text())
    assert meta["hyperparameters"]["members"] == 2 and meta["hyperparameters"]["seed"] == 1

    assert main(["-q", "evaluate", "--models", str(out), "--data", str(data), "--layout",
                 "folders", "--yamnet-handle", standin, "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["models"]) == {"mlp", "cnn", "yamnet"} and not report["errors"]
    # The tracks each model trained on (its trained_tracks.json) are left out, and said so
    trained = json.loads((out / "mlp" / "trained_tracks.json").read_text())["tracks"]
    assert 0 < len(trained) < 18 and all(t["label"] in {"low", "mid", "high"} for t in trained)
    for name, metrics in report["models"].items():
        assert metrics["track"]["n"] == 18 - len(trained) and 0 <= metrics["track"]["accuracy"] <= 1
        assert metrics["left_out_trained_tracks"] == len(trained)
        assert report["warnings"][name].startswith(f"{len(trained)} of 18 tracks of ")

    clips = [write(tmp_path / f"song{i}.wav", genre_like(2 * i, 5.0, seed=99 + i), 22050)
             for i in range(2)]
    assert main(["-q", "predict", "--models", str(out), "--yamnet-handle", standin, "--format",
                 "json", *map(str, clips)]) == 0
    results = json.loads(capsys.readouterr().out)
    assert [r["file"] for r in results] == [str(c) for c in clips]
    for result in results:
        assert set(result["models"]) == {"mlp", "cnn", "yamnet"}
        for entry in [*result["models"].values(), result["ensemble"]]:
            assert set(entry["probabilities"]) == {"low", "mid", "high"}
            assert entry["genre"] == max(entry["probabilities"], key=entry["probabilities"].get)
            assert sum(entry["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)

    assert main(["-q", "predict", "--models", str(out), "--yamnet-handle", standin, "--format",
                 "json", "--explain", str(clips[0])]) == 0
    explained = json.loads(capsys.readouterr().out)["explanations"]
    assert [e["kind"] for e in explained["mlp"]] == ["features"]
    assert explained["mlp"][0]["genre"] == results[0]["models"]["mlp"]["genre"]
    assert {i["group"] for i in explained["mlp"][0]["items"]} >= {"brightness", "tempo"}
    assert explained["cnn"][0]["kind"] == "regions" and explained["cnn"][0]["items"]
    assert explained["ensemble"][0]["genre"] == results[0]["ensemble"]["genre"]

    with pytest.raises(SystemExit) as refused:
        main(["train", "--data", str(data), "--layout", "folders", "--members", "0",
              "--out", str(out)])
    assert refused.value.code == 2 and "at least 1" in capsys.readouterr().err
    with pytest.raises(SystemExit) as refused:
        main(["train", "--data", str(data), "--layout", "folders", "--epochs", "0",
              "--out", str(out)])
    assert refused.value.code == 2 and "at least 1" in capsys.readouterr().err


@pytest.mark.slow
def test_a_model_set_never_mixes_collections_and_says_when_its_ensemble_went_stale(
        tmp_path, capsys, monkeypatch):
    import shutil

    from core.config import GTZAN_GENRES

    monkeypatch.delenv("GENRELAB_YAMNET_HANDLE", raising=False)
    data = tmp_path / "gtzan-like"
    for k, genre in enumerate(GTZAN_GENRES):
        for i in range(4):
            write(data / genre / f"{i}.wav", genre_like(k % 7, 3.0, seed=i), 22050)
    bundled = tmp_path / "set"
    shutil.copytree(ROOT / "assets/models", bundled)
    train = ["-q", "train", "--data", str(data), "--layout", "folders", "--models", "mlp",
             "--epochs", "1", "--members", "1", "--split", "random"]
    # Retraining one member: the set's ensemble was fitted on the one replaced, and train says so
    assert main([*train, "--out", str(bundled)]) == 0
    err = capsys.readouterr().err
    assert "was fitted on other versions of mlp (retrained since)" in err, err
    assert "`predict` combines the models by their geometric mean" in err
    assert main(["-q", "evaluate", "--models", str(bundled), "--data", str(data), "--layout",
                 "folders", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert "ensemble" not in report and report["errors"]["ensemble"].startswith(
        "not evaluated: ") and "geometric mean" not in report["errors"]["ensemble"]

    other = tmp_path / "other"
    for k, genre in enumerate(["ambient", "techno"]):
        for i in range(4):
            write(other / genre / f"{i}.wav", genre_like(3 * k, 3.0, seed=i), 22050)
    before = sorted(p.name for p in bundled.iterdir())
    # another collection into that set: refused, as arguments that cannot go together are
    assert main(["-q", "train", "--data", str(other), "--layout", "folders", "--models", "mlp",
                 "--out", str(bundled)]) == 2
    err = capsys.readouterr().err
    assert "holds models trained on other genres (cnn: blues" in err
    assert "where this dataset has ambient, techno" in err and "Traceback" not in err
    assert sorted(p.name for p in bundled.iterdir()) == before  # nothing written

    # A set mixed by hand still answers, and says what its ensemble can combine
    mixed = tmp_path / "mixed"
    assert main(["-q", "train", "--data", str(other), "--layout", "folders", "--models", "mlp",
                 "--epochs", "1", "--members", "1", "--split", "random", "--out",
                 str(mixed)]) == 0
    shutil.copytree(bundled / "cnn", mixed / "cnn")
    capsys.readouterr()
    assert main(["-q", "predict", "--models", str(mixed), "--format", "json",
                 str(other / "techno" / "0.wav")]) == 0
    captured = capsys.readouterr()
    assert "warning: these models were trained on different genres (mlp: ambient, techno; " \
           "cnn: blues" in captured.err
    assert "they share none, so there is no ensemble answer" in captured.err
    assert json.loads(captured.out)["ensemble"] is None


def test_evaluate_scores_the_bundled_ensemble_beside_its_members(tmp_path, capsys, monkeypatch):
    """The set's fitted ensemble on a user's own collection, from the same member answers."""
    monkeypatch.delenv("GENRELAB_YAMNET_HANDLE", raising=False)
    data = tmp_path / "mine"
    for k, genre in enumerate(["rock", "jazz"]):  # two of the bundled set's ten genres
        for i in range(3):
            write(data / genre / f"{genre}-{i}.wav", genre_like(3 * k, 4.0, seed=i), 22050)
    (data / "rock" / "notes.wav").write_text("not audio")  # named, with its reason, not just counted
    args = ["-q", "evaluate", "--models", str(ROOT / "assets/models"), "--data", str(data),
            "--layout", "folders"]
    assert main([*args, "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    for name in ("mlp", "cnn", "yamnet"):
        (unreadable,) = report["models"][name]["skipped_files"]
        assert "notes.wav" in unreadable and report["models"][name]["skipped_tracks"] == 1
    ensemble = report["ensemble"]
    assert ensemble["track"]["n"] == 6 and set(ensemble["members"]) == {
        "mlp", "cnn", "yamnet", "yamnet:zero-shot"}
    for name in ("mlp", "cnn", "yamnet"):  # each member's answers are its own row's
        assert ensemble["members"][name]["accuracy"] == report["models"][name]["track"]["accuracy"]
    assert 0 <= ensemble["uncertain_share"] <= 1
    assert main(args) == 0
    printed = capsys.readouterr()
    assert "\nensemble: track: acc " in printed.out
    assert printed.err.count("notes.wav") == 1  # once, not once per model
    assert "1 file could not be read and was left out:\n  " in printed.err


def test_evaluate_refuses_a_fold_without_a_split_and_names_an_empty_test_side(tmp_path, capsys):
    from core.datasets import load_dataset
    from core.registry import load_model
    from core.train import evaluate_unseen

    data = tmp_path / "mine"
    for k, genre in enumerate(["rock", "jazz"]):
        write(data / genre / f"{genre}-0.wav", genre_like(3 * k, 4.0, seed=k), 22050)
    args = ["evaluate", "--models", str(ROOT / "assets/models"), "--data", str(data),
            "--layout", "folders"]
    assert main([*args, "--fold", "2"]) == 2  # was silently ignored
    assert "--fold picks a test fold of a --split" in capsys.readouterr().err
    model = load_model(ROOT / "assets/models/mlp")
    with pytest.raises(ModelError, match="test side is empty"):  # not "it trained on all 0"
        evaluate_unseen(model, load_dataset(data, "folders"), np.array([], dtype=int))


def test_headline_gives_no_interval_over_segments_and_reads_ece_against_noise():
    from core.cli_models import _headline

    level = {"accuracy": 0.6, "accuracy_ci": [0.5, 0.7], "macro_f1": 0.5, "ece": 0.1,
             "ece_calibrated": {"median": 0.2}}
    text = _headline({"segment": level, "track": level})
    segment, track = text.split("; track: ")
    assert "CI" not in segment  # segments of one track are not independent samples
    assert "(95% CI 0.50-0.70)" in track
    assert "sampling noise alone gives about 0.200" in track and "perfectly calibrated model" not in text


def test_predict_classifies_the_middle_of_a_song_over_the_length_limit(tmp_path, capsys,
                                                                        monkeypatch):
    monkeypatch.delenv("GENRELAB_YAMNET_HANDLE", raising=False)
    song = write(tmp_path / "long.wav", np.tile(genre_like(2, 10.0, sr=8000), 96), 8000)  # 16 min
    assert main(["-q", "predict", str(song)]) == 1  # refused whole, with the way out named
    assert "predict --max-seconds N" in capsys.readouterr().err
    assert main(["-q", "predict", "--max-seconds", "12", "--format", "json", str(song)]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["duration_s"] == pytest.approx(12.0, abs=0.1) and answer["ensemble"]


def test_quiet_and_verbose_work_before_and_after_the_command():
    from core.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["predict", "-q", "a.mp3"]).quiet  # was "unrecognized arguments"
    assert parser.parse_args(["-q", "predict", "a.mp3"]).quiet
    plain = parser.parse_args(["evaluate", "--models", "m", "--data", "d", "--layout", "gtzan"])
    assert not plain.quiet and not plain.verbose
    assert parser.parse_args(["tag", "music", "--out", "l.duckdb", "-v"]).verbose
