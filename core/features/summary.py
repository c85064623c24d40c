"""The 57 GTZAN summary features (the columns of Kaggle's ``features_30_sec.csv``).

Definitions follow the table exactly (librosa defaults at 22050 Hz: ``n_fft=2048``,
``hop_length=512``): for each frame-wise feature, the mean and the variance over all its values.
``harmony`` and ``perceptr`` are the mean and variance of the harmonic and percussive waveforms of
HPSS; ``tempo`` is librosa's global tempo estimate in BPM.

Speed: the per-feature recipe (each librosa feature called on the waveform, plus
``librosa.effects.hpss`` and ``librosa.beat.beat_track``) computes the STFT a dozen times and runs
a full beat tracker. Here one complex STFT feeds every spectral feature, one mel spectrogram feeds
both MFCCs and the onset envelope for tempo, and HPSS median-filters that same magnitude.
"""

from __future__ import annotations

import librosa
import numpy as np
import scipy.ndimage

from core.config import FEATURE_SR, HOP_LENGTH, N_FFT, N_MELS, N_MFCC

#: The 57 feature columns, in the Kaggle table's order.
SUMMARY_COLUMNS: tuple[str, ...] = (
    *(
        f"{name}_{stat}"
        for name in (
            "chroma_stft", "rms", "spectral_centroid", "spectral_bandwidth", "rolloff",
            "zero_crossing_rate", "harmony", "perceptr",
        )
        for stat in ("mean", "var")
    ),
    "tempo",
    *(f"mfcc{i}_{stat}" for i in range(1, N_MFCC + 1) for stat in ("mean", "var")),
)

_HPSS_KERNEL = 31  # librosa.decompose.hpss default kernel_size


def summary_features(y: np.ndarray, *, sr: int = FEATURE_SR) -> np.ndarray:
    """Compute the 57 summary features of one waveform.

    Parameters
    ----------
    y : np.ndarray [shape=(n,), dtype=float32]
        Mono waveform in [-1, 1]. At least one STFT frame long.
    sr : int
        Sample rate in Hz. The Kaggle table uses 22050 Hz; other rates give features that are
        internally consistent but not comparable to the table.

    Returns
    -------
    features : np.ndarray [shape=(57,), dtype=float64]
        Values in the order of :data:`SUMMARY_COLUMNS`.
    """
    y = np.ascontiguousarray(y, dtype=np.float32)
    stft = librosa.stft(y, n_fft=N_FFT, hop_length=HOP_LENGTH)
    magnitude = np.abs(stft)
    power = magnitude**2

    chroma = librosa.feature.chroma_stft(S=power, sr=sr, n_fft=N_FFT, hop_length=HOP_LENGTH)
    rms = librosa.feature.rms(y=y, frame_length=N_FFT, hop_length=HOP_LENGTH)
    centroid = librosa.feature.spectral_centroid(S=magnitude, sr=sr, n_fft=N_FFT)
    bandwidth = librosa.feature.spectral_bandwidth(S=magnitude, sr=sr, n_fft=N_FFT)
    rolloff = librosa.feature.spectral_rolloff(S=magnitude, sr=sr, n_fft=N_FFT)
    zcr = librosa.feature.zero_crossing_rate(y, frame_length=N_FFT, hop_length=HOP_LENGTH)
    harmonic, percussive = _hpss_waveforms(stft, magnitude, length=len(y))

    mel_db = librosa.power_to_db(
        librosa.feature.melspectrogram(S=power, sr=sr, n_fft=N_FFT, n_mels=N_MELS)
    )
    # beat_track's onset envelope: median over mel bands of the positive log-mel flux.
    onset_env = librosa.onset.onset_strength(
        S=mel_db, sr=sr, hop_length=HOP_LENGTH, aggregate=np.median
    )
    tempo = float(
        librosa.feature.tempo(onset_envelope=onset_env, sr=sr, hop_length=HOP_LENGTH)[0]
    )
    mfcc = librosa.feature.mfcc(S=mel_db, n_mfcc=N_MFCC)

    values = [
        stat
        for frame_values in (chroma, rms, centroid, bandwidth, rolloff, zcr, harmonic, percussive)
        for stat in (float(np.mean(frame_values)), float(np.var(frame_values)))
    ]
    values.append(tempo)
    for row in mfcc:
        values.extend((float(np.mean(row)), float(np.var(row))))
    return np.asarray(values, dtype=np.float64)


def _hpss_waveforms(
    stft: np.ndarray, magnitude: np.ndarray, *, length: int
) -> tuple[np.ndarray, np.ndarray]:
    """Harmonic and percussive waveforms by median-filtering HPSS (librosa's defaults).

    Same result as ``librosa.effects.hpss(y)`` (kernel 31, power 2, soft masks), reusing the
    complex STFT and its magnitude that the other features already computed.
    """
    harmonic_env = scipy.ndimage.median_filter(magnitude, size=(1, _HPSS_KERNEL), mode="reflect")
    percussive_env = scipy.ndimage.median_filter(magnitude, size=(_HPSS_KERNEL, 1), mode="reflect")
    mask_h = librosa.util.softmask(harmonic_env, percussive_env, power=2.0, split_zeros=False)
    mask_p = librosa.util.softmask(percussive_env, harmonic_env, power=2.0, split_zeros=False)
    y_h = librosa.istft(stft * mask_h, hop_length=HOP_LENGTH, n_fft=N_FFT, length=length)
    y_p = librosa.istft(stft * mask_p, hop_length=HOP_LENGTH, n_fft=N_FFT, length=length)
    return y_h, y_p
