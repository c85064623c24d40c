"""Robustness: every bad input gets a clear answer, nothing is lost, sessions never mix."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from core.audio import load_audio
from core.errors import AudioError, ModelError
from core.synth import genre_like, noise, tone, write
from tests.conftest import ROOT


def bad_corpus(folder: Path) -> dict[str, Path]:
    """Files that must each be refused with one clear message."""
    folder.mkdir(parents=True, exist_ok=True)
    cases = {}
    cases["text renamed wav"] = folder / "notes.wav"
    cases["text renamed wav"].write_text("not audio at all\n" * 50)
    full_mp3 = write(folder / "full.mp3", tone(seconds=3.0), 22050)
    cases["truncated mp3"] = folder / "cut.mp3"
    cases["truncated mp3"].write_bytes(full_mp3.read_bytes()[:300])
    cases["zero bytes"] = folder / "empty.wav"
    cases["zero bytes"].write_bytes(b"")
    cases["header only"] = folder / "header.wav"
    sf.write(cases["header only"], np.zeros(0, dtype=np.float32), 22050)
    cases["digital silence"] = write(folder / "silence.wav", np.zeros(44100, np.float32), 22050)
    cases["0.2 s"] = write(folder / "blip.wav", tone(seconds=0.2), 22050)
    nan = tone().copy()
    nan[10] = np.nan
    cases["NaN samples"] = folder / "nan.wav"
    sf.write(cases["NaN samples"], nan, 22050, subtype="FLOAT")
    cases["unsupported extension"] = folder / "song.xyz"
    cases["unsupported extension"].write_bytes(b"\x00" * 64)
    return cases


@pytest.mark.parametrize("case", [
    "text renamed wav", "truncated mp3", "zero bytes", "header only", "digital silence", "0.2 s",
    "NaN samples", "unsupported extension"])
def test_cli_refuses_each_bad_file_with_one_line(tmp_path, case):
    path = bad_corpus(tmp_path)[case]
    proc = subprocess.run([sys.executable, "-m", "core", "features", str(path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path.name}: "), proc.stderr
    assert "Traceback" not in proc.stderr


def test_twenty_minute_track_is_refused_before_decoding(tmp_path, monkeypatch):
    path = tmp_path / "twenty minutes.wav"
    sf.write(path, np.tile(tone(seconds=1.0, sr=8000), 20 * 60), 8000)  # 19 MB on disk

    def no_read(*args, **kwargs):
        raise AssertionError("a refused file was decoded")

    monkeypatch.setattr(sf.SoundFile, "read", no_read)
    with pytest.raises(AudioError, match=r"20\.0 minutes .* limit of 15 minutes") as info:
        load_audio(path, sr=22050)
    assert info.value.reason == "too-long"
    monkeypatch.undo()
    proc = subprocess.run([sys.executable, "-m", "core", "features", str(path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "limit of 15 minutes" in proc.stderr


def test_names_with_spaces_unicode_and_separators(tmp_path, capsys):
    from core.cli import main

    odd = write(tmp_path / "dir with space" / "Ünïcødé – song (1).flac", genre_like(1, 2.0), 22050)
    assert main(["-q", "features", str(odd)]) == 0
    assert "Ünïcødé – song (1).flac" in capsys.readouterr().out


# From 0.51 s: 0.5 s at 11025 Hz is 5512 frames, just under the 0.5-s minimum, and refused.
@settings(max_examples=25, deadline=None)
@given(seconds=st.floats(0.51, 4.0), rate=st.sampled_from([8000, 11025, 16000, 22050, 44100,
                                                           48000, 96000]),
       channels=st.integers(1, 6), target=st.sampled_from([16000, 22050]))
def test_loader_properties(seconds, rate, channels, target):
    rng = np.random.default_rng(int(seconds * 1000) + channels)
    frames = (0.5 * rng.uniform(-1, 1, (round(seconds * rate), channels))).astype(np.float32)
    buffer = io.BytesIO()
    sf.write(buffer, frames, rate, format="WAV", subtype="FLOAT")
    y = load_audio(buffer.getvalue(), sr=target)
    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(len(y) - seconds * target) <= 2 + 1e-6 * target
    assert np.isfinite(y).all() and np.abs(y).max() <= 1.0


# ---------------------------------------------------------------- nothing lost
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from core.datasets import load_dataset
    from core.models import MfccMlp
    from core.splits import make_split
    from core.synth import make_demo_dataset

    root = make_demo_dataset(tmp_path_factory.mktemp("d") / "demo", genres=3, per_genre=6,
                             seconds=3.0)
    data = load_dataset(root, "folders")
    model = MfccMlp(epochs=3, patience=3).fit(data, make_split(data, "random"))
    return model, data


CHILD = r"""
import sys, time
import core.atomic
from core.registry import load_model, save_model
model = load_model(sys.argv[1])
model.genres_ = ["changed-" + g for g in model.genres_]  # a different model
def stall(root):  # everything is written; stop before the swap
    print("WRITTEN", flush=True)
    time.sleep(120)
core.atomic._fsync_tree = stall
save_model(model, sys.argv[1])
"""


@pytest.mark.slow
def test_save_killed_midway_leaves_the_previous_model(trained, tmp_path):
    from core.registry import list_models, load_model

    model, _ = trained
    target = tmp_path / "models" / "mlp"
    model.save(target)
    before = load_model(target).predict_proba(genre_like(1, 3.0), 22050)
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(target)], cwd=ROOT,
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "WRITTEN"
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    reloaded = load_model(target)
    assert reloaded.genres_ == model.genres_
    np.testing.assert_allclose(reloaded.predict_proba(genre_like(1, 3.0), 22050), before)
    assert [p.name for p in list_models(target.parent)] == ["mlp"]  # the stray half-save is hidden


def test_atomic_saves_get_the_modes_a_plain_write_would(trained, tmp_path):
    from core.atomic import process_umask, write_text_atomic

    mask = process_umask()
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    (tmp_path / "plain").mkdir()
    write_text_atomic(tmp_path / "saved.txt", "x")
    assert (tmp_path / "saved.txt").stat().st_mode & 0o777 == plain.stat().st_mode & 0o777
    assert plain.stat().st_mode & 0o777 == 0o666 & ~mask  # the reference is what open() gives
    model, _ = trained
    model.save(tmp_path / "models" / "mlp")
    folder = tmp_path / "models" / "mlp"
    assert folder.stat().st_mode & 0o777 == (tmp_path / "plain").stat().st_mode & 0o777
    assert all(p.stat().st_mode & 0o777 == 0o666 & ~mask for p in folder.iterdir())
    # A file replaced keeps the permissions its owner gave it.
    (tmp_path / "saved.txt").chmod(0o640)
    write_text_atomic(tmp_path / "saved.txt", "y")
    assert (tmp_path / "saved.txt").stat().st_mode & 0o777 == 0o640


def test_atomic_saves_of_names_near_the_file_system_limit(tmp_path):
    from core.atomic import replace_dir_atomic, temporary_prefix, write_text_atomic

    name = "é" * 125 + ".json"  # 255 bytes: the longest name ext4 allows
    write_text_atomic(tmp_path / name, "x")
    write_text_atomic(tmp_path / name, "y")  # replacing it too
    folder = tmp_path / ("m" * 255)
    for text in ("1", "2"):
        replace_dir_atomic(folder, lambda tmp, text=text: (tmp / "a").write_text(text))
    assert (tmp_path / name).read_text() == "y" and (folder / "a").read_text() == "2"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([name, folder.name])
    short = temporary_prefix("é" * 125)  # cut on a character boundary, never mid-character
    assert short.startswith(".é") and len(short.encode()) <= 255 - 40 and "\ufffd" not in short


def test_model_with_other_feature_definitions_is_refused(trained, tmp_path):
    from core.predict import load_models
    from core.registry import load_model

    model, _ = trained
    model.save(tmp_path / "m" / "old")
    meta_path = tmp_path / "m" / "old" / "metadata.json"
    meta = json.loads(meta_path.read_text())
    meta["features_version"] = 0
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ModelError, match=r"features of definition version 0.*retrain"):
        load_model(tmp_path / "m" / "old")
    meta["features_version"] = 1
    meta["config"]["features"]["hop_colour"] = 3
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ModelError, match=r"incompatible.*hop_colour"):
        load_model(tmp_path / "m" / "old")
    model.save(tmp_path / "m" / "good")
    loaded = load_models(tmp_path / "m")
    assert list(loaded.models) == ["good"] and "old" in loaded.errors


# ---------------------------------------------------------------- sessions and security
@pytest.mark.slow
def test_training_does_not_block_classification(trained, tmp_path):
    from core.predict import predict_waveform
    from dashboard.training import TrainingJob

    model, data = trained
    folder = Path(data.manifest["path"].iloc[0]).parents[1]
    job = TrainingJob(data=str(folder), layout="folders", families=["mlp"], split="random",
                      out=tmp_path / "run", epochs=100, members=1).start()
    time.sleep(0.5)
    start = time.perf_counter()
    prediction = predict_waveform({"mlp": model}, genre_like(2, 6.0), 22050)
    took = time.perf_counter() - start
    assert prediction.models["mlp"].genre in model.genres_
    assert job.running, "training finished before classification could be compared with it"
    assert took < 10.0
    while job.running:
        time.sleep(0.2)
    assert job.results.get("mlp", "").startswith("trained"), job.results


def test_uploads_are_decoded_in_memory_and_names_never_become_paths(trained, tmp_path,
                                                                     monkeypatch):
    import tempfile

    from dashboard.classify import analyse

    model, _ = trained
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    tempfile.tempdir = None
    data = io.BytesIO()
    sf.write(data, genre_like(1, 4.0), 22050, format="WAV")
    before = sorted(p for p in tmp_path.rglob("*"))
    result = analyse({"mlp": model}, "../../etc/evil name ünï.wav", data.getvalue())
    assert result.prediction.models["mlp"].genre in model.genres_
    assert sorted(p for p in tmp_path.rglob("*")) == before  # nothing written anywhere
    with pytest.raises(AudioError, match="unsupported"):
        analyse({"mlp": model}, "payload.pkl", data.getvalue())
    tempfile.tempdir = None


def test_noise_upload_still_classifies(trained):
    from dashboard.classify import analyse

    model, _ = trained
    buffer = io.BytesIO()
    sf.write(buffer, noise(3.0), 22050, format="WAV")
    assert analyse({"mlp": model}, "noise.wav", buffer.getvalue()).prediction.models


def test_a_clip_just_under_the_minimum_says_so_in_numbers_that_differ():
    """0.49995 s was refused as "0.50 s of audio is shorter than the minimum of 0.5 s"."""
    from core.errors import AudioError

    buffer = io.BytesIO()
    sf.write(buffer, np.full(5512, 0.3, np.float32), 11025, format="WAV", subtype="FLOAT")
    with pytest.raises(AudioError, match=r"0\.49 s of audio is shorter than the minimum of 0\.5 s"):
        load_audio(buffer.getvalue(), sr=22050)
