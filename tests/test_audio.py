from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from core.audio import load_audio, normalize_peak, segment_audio, segment_bounds
from core.errors import ParameterError
from core.synth import FORMATS, tone, write


@pytest.mark.parametrize("ext", sorted(FORMATS))
def test_every_format_decodes_to_mono_float32(tmp_path, ext):
    y = tone(440.0, 1.5, 22050)
    path = write(tmp_path / f"clip{ext}", y, 22050)
    out = load_audio(path, sr=22050)
    assert out.dtype == np.float32 and out.ndim == 1
    # Lossy codecs pad or trim a little; the length stays within 0.1 s.
    assert abs(len(out) - len(y)) < 0.1 * 22050
    assert np.abs(out).max() <= 1.0
    spectrum = np.abs(np.fft.rfft(out))
    peak_hz = np.argmax(spectrum) * 22050 / len(out)
    assert abs(peak_hz - 440.0) < 5.0


def test_opus_files_named_opus_are_audio(tmp_path):
    """Ogg Opus is read by libsndfile; its own extension was refused as "unsupported"."""
    from core.config import AUDIO_EXTENSIONS
    from core.datasets import load_dataset

    path = tmp_path / "jazz" / "song.opus"
    path.parent.mkdir()
    sf.write(path, tone(440.0, 1.5, 48000), 48000, format="OGG", subtype="OPUS")
    out = load_audio(path, sr=22050)
    assert ".opus" in AUDIO_EXTENSIONS and abs(len(out) - 1.5 * 22050) < 0.1 * 22050
    (tmp_path / "rock").mkdir()
    sf.write(tmp_path / "rock" / "other.opus", tone(220.0, 1.5, 48000), 48000, format="OGG",
             subtype="OPUS")
    assert len(load_dataset(tmp_path, "folders").manifest) == 2


@pytest.mark.parametrize("native_sr", [8000, 16000, 44100, 48000, 96000])
@pytest.mark.parametrize("channels", [1, 2, 6])
def test_any_rate_and_channel_count_is_resampled(tmp_path, native_sr, channels):
    y = tone(300.0, 1.0, native_sr)
    frames = np.stack([y] * channels, axis=1) if channels > 1 else y
    path = write(tmp_path / "x.wav", frames, native_sr)
    out = load_audio(path, sr=16000)
    assert len(out) == pytest.approx(16000, abs=2)
    spectrum = np.abs(np.fft.rfft(out))
    assert abs(np.argmax(spectrum) * 16000 / len(out) - 300.0) < 3.0


def test_channels_are_averaged(tmp_path):
    left, right = tone(200.0, 1.0), np.zeros(22050, dtype=np.float32)
    path = write(tmp_path / "st.wav", np.stack([left, right], axis=1), 22050)
    out = load_audio(path, sr=22050)
    assert np.abs(out).max() == pytest.approx(0.25, abs=0.01)


def test_bytes_and_file_objects_load_like_paths(tmp_path):
    path = write(tmp_path / "a.flac", tone(), 22050)
    data = path.read_bytes()
    a = load_audio(path, sr=22050)
    b = load_audio(data, sr=22050)
    c = load_audio(io.BytesIO(data), sr=22050)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)


def test_offset_and_duration(tmp_path):
    y = np.linspace(-0.5, 0.5, 4 * 22050, dtype=np.float32)
    path = tmp_path / "ramp.wav"
    sf.write(path, y, 22050, subtype="FLOAT")
    out = load_audio(path, sr=22050, offset=1.0, duration=2.0)
    np.testing.assert_allclose(out, y[22050 : 3 * 22050])


def test_float_samples_beyond_full_scale_are_clipped(tmp_path):
    path = tmp_path / "hot.wav"
    sf.write(path, tone(amp=1.0) * 1.5, 22050, subtype="FLOAT")
    assert np.abs(load_audio(path, sr=22050)).max() <= 1.0


@pytest.mark.parametrize("bad_sr", [0, -1])
def test_bad_parameters_name_the_parameter(tmp_path, bad_sr):
    path = write(tmp_path / "a.wav", tone(), 22050)
    with pytest.raises(ParameterError, match="sr"):
        load_audio(path, sr=bad_sr)
    with pytest.raises(ParameterError, match="offset"):
        load_audio(path, sr=22050, offset=-1)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 200_000),
    sr=st.sampled_from([8000, 16000, 22050, 44100]),
    seg=st.floats(0.1, 5.0),
    hop_ratio=st.floats(0.25, 2.0),
    min_tail=st.floats(0.0, 1.0),
)
def test_segment_bounds_properties(n, sr, seg, hop_ratio, min_tail):
    bounds = segment_bounds(n, sr=sr, segment_seconds=seg, hop_seconds=seg * hop_ratio,
                            min_tail=min_tail)
    length = max(1, round(seg * sr))
    assert len(bounds) >= 1
    assert (bounds[:, 0] >= 0).all() and (bounds[:, 1] <= n).all()
    if n <= length:
        assert bounds.tolist() == [[0, n]]
    else:
        assert ((bounds[:, 1] - bounds[:, 0]) == length).all()
        assert (np.diff(bounds[:, 0]) > 0).all()
        # What is left uncovered at the end is less than the tail threshold (or one hop gap).
        uncovered = n - bounds[-1, 1]
        assert uncovered < max(min_tail * length, 1) or uncovered < round(seg * hop_ratio * sr)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 50_000), seg=st.floats(0.05, 1.0))
def test_segment_audio_shapes_and_content(n, seg):
    sr = 8000
    y = np.arange(n, dtype=np.float32) / n
    segments = segment_audio(y, sr=sr, segment_seconds=seg)
    length = max(1, round(seg * sr))
    assert segments.shape[1] == length and segments.dtype == np.float32
    bounds = segment_bounds(n, sr=sr, segment_seconds=seg)
    for row, (start, stop) in zip(segments, bounds, strict=True):
        np.testing.assert_array_equal(row[: stop - start], y[start:stop])
        assert not row[stop - start :].any()  # zero padding only for a short track


def test_tail_policy():
    sr = 10
    # 3.6 windows of 1 s: the 0.6-s tail gets an end-aligned window; a 0.3-s tail is dropped.
    assert segment_bounds(36, sr=sr, segment_seconds=1.0).tolist() == [
        [0, 10], [10, 20], [20, 30], [26, 36]]
    assert segment_bounds(33, sr=sr, segment_seconds=1.0).tolist() == [[0, 10], [10, 20], [20, 30]]
    assert segment_bounds(7, sr=sr, segment_seconds=1.0).tolist() == [[0, 7]]


def test_normalize_peak_scales_each_window_and_leaves_silence_alone():
    windows = np.array([[0.5, -0.25, 0.1], [0.0, 0.02, -0.04], [0.0, 0.0, 0.0],
                        [1e-6, 0.0, -1e-6]], dtype=np.float32)
    out = normalize_peak(windows)
    np.testing.assert_allclose(out[0], [1.0, -0.5, 0.2], rtol=1e-6)
    np.testing.assert_allclose(out[1], [0.0, 0.5, -1.0], rtol=1e-6)
    np.testing.assert_array_equal(out[2:], windows[2:])  # silence is not blown up into noise
    assert out.dtype == np.float32
