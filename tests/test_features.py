from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench.reference_features import reference_summary_features
from core.audio import load_audio
from core.errors import ParameterError
from core.features import SUMMARY_COLUMNS, FeatureParams, compute_features, low_pass
from core.features.summary import summary_features
from core.synth import clicks, genre_like, noise, tone

KAGGLE_HEAD = ["chroma_stft_mean", "chroma_stft_var", "rms_mean", "rms_var"]


def test_columns_are_the_kaggle_57_in_order():
    assert len(SUMMARY_COLUMNS) == 57
    assert list(SUMMARY_COLUMNS[:4]) == KAGGLE_HEAD
    assert SUMMARY_COLUMNS[16] == "tempo"
    assert SUMMARY_COLUMNS[-2:] == ("mfcc20_mean", "mfcc20_var")


def test_summary_features_mean_what_they_say():
    sr = 22050
    low, high = summary_features(tone(300, 3), sr=sr), summary_features(tone(3000, 3), sr=sr)
    col = {name: i for i, name in enumerate(SUMMARY_COLUMNS)}
    assert low[col["spectral_centroid_mean"]] == pytest.approx(300, rel=0.1)
    assert high[col["spectral_centroid_mean"]] == pytest.approx(3000, rel=0.1)
    assert high[col["zero_crossing_rate_mean"]] > 5 * low[col["zero_crossing_rate_mean"]]
    assert low[col["rms_mean"]] == pytest.approx(0.5 / np.sqrt(2), rel=0.05)
    # A steady tone is harmonic, a click track percussive.
    steady = summary_features(tone(440, 4), sr=sr)
    beats = summary_features(clicks(120, 8), sr=sr)
    assert steady[col["harmony_var"]] > 10 * steady[col["perceptr_var"]]
    assert beats[col["perceptr_var"]] > beats[col["harmony_var"]]


@pytest.mark.parametrize("bpm", [100.0, 120.0, 140.0])
def test_tempo_of_a_click_track(bpm):
    tempo = summary_features(clicks(bpm, 12), sr=22050)[SUMMARY_COLUMNS.index("tempo")]
    ratio = tempo / bpm
    assert min(abs(ratio - r) for r in (0.5, 1.0, 2.0)) < 0.05


def test_fast_extractor_matches_the_per_feature_librosa_recipe():
    y = genre_like(3, seconds=6.0)
    fast, ref = summary_features(y, sr=22050), reference_summary_features(y, sr=22050)
    tempo = SUMMARY_COLUMNS.index("tempo")
    others = np.arange(57) != tempo
    np.testing.assert_allclose(fast[others], ref[others], rtol=0.02, atol=1e-4)
    assert min(abs(fast[tempo] / ref[tempo] - r) for r in (0.5, 1.0, 2.0)) < 0.05


@pytest.mark.shared
def test_matches_the_kaggle_table_on_real_gtzan_clips(shared_dir):
    """Every column within 5% of its std over the 1000-track table (tempo may be x2 or /2)."""
    table = pd.read_csv(shared_dir / "data/gtzan/features_30_sec.csv")
    std = table[list(SUMMARY_COLUMNS)].std().to_numpy()
    clips = sorted((shared_dir / "data/gtzan/clips").glob("*.wav"))
    assert len(clips) == 5
    tempo = SUMMARY_COLUMNS.index("tempo")
    for clip in clips:
        row = table[table["filename"] == clip.name].iloc[0]
        y = load_audio(clip, sr=22050)
        assert len(y) == row["length"]
        ours = summary_features(y, sr=22050)
        expected = row[list(SUMMARY_COLUMNS)].to_numpy(dtype=float)
        deviation = np.abs(ours - expected) / std
        tempo_dev = min(abs(ours[tempo] * f - expected[tempo]) for f in (0.5, 1.0, 2.0))
        deviation[tempo] = tempo_dev / std[tempo]
        worst = int(np.argmax(deviation))
        assert deviation.max() < 0.05, (
            f"{clip.name}: {SUMMARY_COLUMNS[worst]} = {ours[worst]:.6g}, table "
            f"{expected[worst]:.6g} ({deviation[worst]:.3f} std)")


def test_logmel_and_mfcc_shapes_per_segment():
    y = noise(7.0)
    mel = compute_features(y, FeatureParams(kind="logmel", segment_seconds=3.0))
    assert mel.shape == (2, 128, 1 + 3 * 22050 // 512) and mel.dtype == np.float32
    assert np.isfinite(mel).all()
    assert mel.max() - mel.min() <= 80.0 + 1e-3
    mfcc = compute_features(y, FeatureParams(kind="mfcc", n_mfcc=13, segment_seconds=3.0))
    assert mfcc.shape == (2, 13, mel.shape[2])
    summary = compute_features(y, FeatureParams(kind="summary", segment_seconds=3.0))
    assert summary.shape == (2, 57)


def test_short_track_is_one_padded_segment():
    y = noise(1.0)
    mel = compute_features(y, FeatureParams(kind="logmel", segment_seconds=3.0))
    assert mel.shape[0] == 1 and mel.shape[2] == 1 + 3 * 22050 // 512
    summary = compute_features(y, FeatureParams(kind="summary", segment_seconds=3.0))
    np.testing.assert_allclose(summary[0], summary_features(y, sr=22050))


def test_params_validate_and_round_trip():
    params = FeatureParams(kind="logmel", n_mels=64, segment_seconds=3.0)
    assert FeatureParams.from_dict(params.to_dict()) == params
    assert params.cache_key() != FeatureParams(kind="logmel", n_mels=96).cache_key()
    with pytest.raises(ParameterError, match="kind"):
        FeatureParams(kind="chroma")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="n_mels"):
        FeatureParams(n_mels=0)
    with pytest.raises(ParameterError, match="unknown"):
        FeatureParams.from_dict({"kind": "summary", "colour": "red"})


def test_peak_normalised_spectrograms_ignore_the_recording_gain():
    # Loud first half, quiet second half: each 3-s window is scaled to its own peak.
    y = np.concatenate([noise(3.0, seed=1), 0.05 * noise(3.0, seed=2)]).astype(np.float32)
    for kind in ("logmel", "mfcc"):
        params = FeatureParams(kind=kind, segment_seconds=3.0, peak_normalize=True)
        loud, quiet = compute_features(y, params), compute_features(0.1 * y, params)
        np.testing.assert_allclose(quiet, loud, atol=1e-3)
        plain = FeatureParams(kind=kind, segment_seconds=3.0)
        assert np.abs(compute_features(0.1 * y, plain) - compute_features(y, plain)).max() > 1.0
    mel = compute_features(y, FeatureParams(kind="logmel", segment_seconds=3.0,
                                            peak_normalize=True))
    np.testing.assert_allclose(mel[0].max(), mel[1].max(), atol=1.0)  # halves now alike
    with pytest.raises(ParameterError, match="peak_normalize"):
        FeatureParams(kind="summary", peak_normalize=True)
    # Saved parameters from before the option existed mean what they meant, with the same key.
    old = FeatureParams(kind="logmel", segment_seconds=3.0)
    assert "peak_normalize" not in old.to_dict()
    assert FeatureParams.from_dict(old.to_dict()).peak_normalize is False
    normalised = FeatureParams(kind="logmel", segment_seconds=3.0, peak_normalize=True)
    assert FeatureParams.from_dict(normalised.to_dict()) == normalised
    assert normalised.cache_key() != old.cache_key()


def test_fast_building_blocks_equal_librosa_and_scipy():
    import librosa
    import scipy.ndimage

    from core.features.summary import (
        estimate_tuning,
        harmonic_waveform,
        inverse_stft,
        median_filter_axis,
        spectral_moments,
        spectral_rolloff,
        zero_crossing_rate,
    )

    y = genre_like(5, 4.0, seed=3)
    y[2000:2600] = 0.0  # a stretch of exact silence: zero-energy frames and zero samples
    S = np.abs(librosa.stft(y))
    freqs = librosa.fft_frequencies(sr=22050, n_fft=2048)
    centroid, bandwidth = spectral_moments(S, freqs)
    np.testing.assert_allclose(centroid, librosa.feature.spectral_centroid(S=S, sr=22050),
                               rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(bandwidth, librosa.feature.spectral_bandwidth(S=S, sr=22050),
                               rtol=1e-3, atol=1e-2)
    np.testing.assert_array_equal(spectral_rolloff(S, freqs),
                                  librosa.feature.spectral_rolloff(S=S, sr=22050))
    np.testing.assert_allclose(zero_crossing_rate(y, frame_length=2048, hop_length=512),
                               librosa.feature.zero_crossing_rate(y))
    for axis, size in ((1, (1, 31)), (0, (31, 1))):
        np.testing.assert_array_equal(median_filter_axis(S, size=31, axis=axis),
                                      scipy.ndimage.median_filter(S, size=size, mode="reflect"))
    ties = np.round(S * 4) / 4  # many equal values
    np.testing.assert_array_equal(median_filter_axis(ties, size=5, axis=1),
                                  scipy.ndimage.median_filter(ties, size=(1, 5), mode="reflect"))
    doubles = S[:70, :50].astype(np.float64)  # another dtype, lines fewer than one SIMD block
    np.testing.assert_array_equal(median_filter_axis(doubles, size=3, axis=0),
                                  scipy.ndimage.median_filter(doubles, size=(3, 1), mode="reflect"))
    power = S**2
    assert estimate_tuning(power, sr=22050, n_fft=2048) == librosa.estimate_tuning(
        S=power, sr=22050, n_fft=2048)
    X = librosa.stft(y)
    for n in (len(y), len(y) - 100, 3000):
        np.testing.assert_allclose(inverse_stft(X, n_fft=2048, hop_length=512, length=n),
                                   librosa.istft(X, length=n), atol=1e-6)
    np.testing.assert_allclose(harmonic_waveform(X, np.abs(X), length=len(y)),
                               librosa.effects.hpss(y)[0], atol=1e-5)


def test_a_band_limit_makes_a_file_resampled_from_44_1_khz_give_the_same_features():
    from core.resample import to_rate

    # Noise and clicks fill the whole band up to 11.025 kHz, as GTZAN's clips do.
    y = (clicks(100.0, 8.0) + noise(8.0, amp=0.2, seed=3)).astype(np.float32)
    # Up and down again through soxr: the band a 44.1-kHz upload keeps at 22.05 kHz (to ~10.3 kHz)
    upload = to_rate(to_rate(y, 22050, 44100), 44100, 22050)
    whole = FeatureParams(kind="summary", segment_seconds=30.0)
    limited = FeatureParams(kind="summary", segment_seconds=30.0, max_hz=10100.0)
    scale = np.abs(compute_features(y, whole)) + 1e-6
    moved = np.abs(compute_features(upload, whole) - compute_features(y, whole)) / scale
    still = np.abs(compute_features(upload, limited) - compute_features(y, limited)) / scale
    assert moved.max() > 0.02  # resampling lost the top band, and the features show it
    assert still.max() < 0.2 * moved.max()
    rolloff = SUMMARY_COLUMNS.index("rolloff_mean")  # the band limit takes the top off
    assert compute_features(y, limited)[0, rolloff] < compute_features(y, whole)[0, rolloff] - 100


def test_low_pass_keeps_the_band_below_the_edge_and_removes_what_lies_above():
    def level_db(y: np.ndarray) -> float:
        return 20 * np.log10(np.sqrt(np.mean(y[2205:] ** 2)))  # after the filter settles

    for freq in (1000.0, 9500.0):
        passed = low_pass(tone(freq, 1.0), sr=22050, max_hz=10100.0)
        assert passed.dtype == np.float32
        assert abs(level_db(passed) - level_db(tone(freq, 1.0))) < 0.1
    stopped = low_pass(tone(10800.0, 1.0), sr=22050, max_hz=10100.0)
    assert level_db(stopped) - level_db(tone(10800.0, 1.0)) < -80


def test_band_limit_is_validated_and_keeps_old_cache_keys():
    limited = FeatureParams(kind="summary", segment_seconds=30.0, max_hz=10100.0)
    assert FeatureParams.from_dict(limited.to_dict()) == limited
    whole = FeatureParams(kind="summary", segment_seconds=30.0)
    assert "max_hz" not in whole.to_dict()  # parameters saved before the option keep their key
    assert whole.cache_key() == "19d4838bcb201651"
    assert FeatureParams(kind="summary", max_hz=10100).cache_key() == FeatureParams(
        kind="summary", max_hz=10100.0).cache_key()
    with pytest.raises(ParameterError, match="number of Hz"):
        FeatureParams(kind="summary", max_hz=True)
    assert limited.cache_key() != whole.cache_key()
    with pytest.raises(ParameterError, match="summary features only"):
        FeatureParams(kind="logmel", max_hz=8000.0)
    for bad in (0.0, -5.0, 11025.0, 20000.0):
        with pytest.raises(ParameterError, match="half the sample rate"):
            FeatureParams(kind="summary", max_hz=bad)
