"""Every kind of bad audio gets one AudioError with a message a user understands."""

from __future__ import annotations

import re

import numpy as np
import pytest
import soundfile as sf

from core.audio import decode_audio, load_audio
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


@pytest.mark.parametrize("fmt", ["WAV", "AIFF", "MP3"])
def test_a_file_that_ends_early_is_decoded_with_a_note(tmp_path, fmt):
    y = tone(seconds=20.0)
    full = tmp_path / f"full.{fmt.lower()}"
    sf.write(full, np.stack([y, y], axis=1), 22050, format=fmt)  # a 20-s header (mp3: Xing)
    assert decode_audio(full, sr=22050).notes == ()
    cut = tmp_path / f"cut.{fmt.lower()}"
    cut.write_bytes(full.read_bytes()[:full.stat().st_size // 2])
    decoded = decode_audio(cut, sr=22050)
    assert 9.0 < decoded.duration_s < 11.0
    assert len(decoded.notes) == 1
    assert re.fullmatch(rf"cut\.{fmt.lower()}: only (9|10)\.\d s of the 20\.0 s its header "
                        r"declares could be decoded \(a truncated file\?\); what decodes is "
                        r"used\.", decoded.notes[0]), decoded.notes
    np.testing.assert_array_equal(load_audio(cut, sr=22050), decoded.y)
    # A span before the cut decodes whole; one that runs past it is noted
    assert decode_audio(cut, sr=22050, offset=2.0, duration=3.0).notes == ()
    past = decode_audio(cut, sr=22050, offset=5.0, duration=10.0)
    assert past.duration_s < 6.0 and "of the 10.0 s its header declares" in past.notes[0]


@pytest.mark.parametrize("size", [0xFFFFFFFF, 0xFFFFFFFF - 44, 0x7FFFF000])
def test_a_streamed_wav_with_an_unknown_length_is_not_called_truncated(tmp_path, size):
    path = write(tmp_path / "full.wav", tone(seconds=3.0), 22050)
    data = bytearray(path.read_bytes())
    at = data.index(b"data") + 4
    data[at:at + 4] = size.to_bytes(4, "little")  # what writers that cannot seek back leave
    data[4:8] = (0xFFFFFFFF).to_bytes(4, "little")  # (sox: 0x7FFFF000)
    streamed = tmp_path / "streamed.wav"
    streamed.write_bytes(bytes(data))
    decoded = decode_audio(streamed, sr=22050)
    assert decoded.notes == () and abs(decoded.duration_s - 3.0) < 0.01


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
