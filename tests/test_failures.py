"""Every kind of bad audio gets one AudioError with a message a user understands."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from core.audio import load_audio
from core.errors import AudioError
from core.synth import noise, tone, write


def _expect(source, reason, match, **kwargs):
    with pytest.raises(AudioError, match=match) as info:
        load_audio(source, sr=22050, **kwargs)
    assert info.value.reason == reason
    assert "Traceback" not in str(info.value)


def test_text_file_renamed_wav(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("these are my notes, not audio\n" * 20)
    _expect(path, "not-audio", "not an audio file")


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    _expect(path, "empty", "empty")
    _expect(b"", "empty", "empty")


def test_header_only_wav(tmp_path):
    path = tmp_path / "header.wav"
    sf.write(path, np.zeros((0,), dtype=np.float32), 22050)
    _expect(path, "empty", "no audio samples")


def test_truncated_wav_keeps_what_decodes_or_says_corrupt(tmp_path):
    path = write(tmp_path / "full.wav", noise(3.0), 22050)
    cut = tmp_path / "cut.wav"
    cut.write_bytes(path.read_bytes()[:40_000])
    y = load_audio(cut, sr=22050)  # libsndfile reads the samples that are there
    assert 0 < len(y) < 3 * 22050


def test_truncated_mp3(tmp_path):
    path = write(tmp_path / "full.mp3", tone(seconds=3.0), 22050)
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(path.read_bytes()[:300])
    with pytest.raises(AudioError) as info:
        load_audio(cut, sr=22050)
    assert info.value.reason in {"corrupt", "too-short", "not-audio", "empty"}


def test_digital_silence(tmp_path):
    path = write(tmp_path / "silence.wav", np.zeros(22050 * 2, dtype=np.float32), 22050)
    _expect(path, "silent", "silent")


def test_channels_that_cancel_out_are_named(tmp_path):
    y = tone(seconds=2.0)
    path = tmp_path / "anti.wav"
    sf.write(path, np.stack([y, -y], axis=1), 22050)
    _expect(path, "silent", "channels cancel out when mixed to mono")


def test_a_folder_or_an_unopenable_name_is_said_so(tmp_path):
    (tmp_path / "album").mkdir()
    _expect(tmp_path / "album", "missing", "is a folder, not an audio file")
    _expect(tmp_path / ("x" * 300 + ".wav"), "missing", "cannot open it")  # name too long


def test_too_short(tmp_path):
    path = write(tmp_path / "blip.wav", tone(seconds=0.2), 22050)
    _expect(path, "too-short", r"0\.20 s .* minimum of 0\.5 s")


def test_too_long_is_refused_before_decoding(tmp_path):
    path = tmp_path / "long.wav"
    sf.write(path, tone(seconds=3.0, sr=8000), 8000)
    _expect(path, "too-long", "longer than the limit of 0.0333333 minutes", max_duration=2.0)


def test_non_finite_samples(tmp_path):
    y = tone().copy()
    y[100] = np.nan
    y[200] = np.inf
    path = tmp_path / "nan.wav"
    sf.write(path, y, 22050, subtype="FLOAT")
    _expect(path, "non-finite", "NaN or infinite")


def test_unsupported_extension(tmp_path):
    path = tmp_path / "song.xyz"
    path.write_bytes(b"\x00" * 100)
    _expect(path, "unsupported", "unsupported file type")


def test_missing_file(tmp_path):
    _expect(tmp_path / "nope.wav", "missing", "no such file")
