"""The usual per-feature librosa recipe for the 57 GTZAN summary features (the speed baseline).

This is how the Kaggle ``features_30_sec.csv`` table is commonly reproduced: every librosa feature
called on the waveform, plus ``librosa.effects.hpss`` and ``librosa.beat.beat_track``. GenreLab's
:func:`core.features.summary_features` must match it and beat it on speed.
"""

from __future__ import annotations

import librosa
import numpy as np


def reference_summary_features(y: np.ndarray, sr: int = 22050) -> np.ndarray:
    """57 features in the Kaggle column order, computed one librosa call at a time."""
    chroma = librosa.feature.chroma_stft(y=y, sr=sr)
    rms = librosa.feature.rms(y=y)
    centroid = librosa.feature.spectral_centroid(y=y, sr=sr)
    bandwidth = librosa.feature.spectral_bandwidth(y=y, sr=sr)
    rolloff = librosa.feature.spectral_rolloff(y=y, sr=sr)
    zcr = librosa.feature.zero_crossing_rate(y)
    harmonic, percussive = librosa.effects.hpss(y)
    tempo, _ = librosa.beat.beat_track(y=y, sr=sr)
    mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=20)
    values: list[float] = []
    for frames in (chroma, rms, centroid, bandwidth, rolloff, zcr, harmonic, percussive):
        values += [float(np.mean(frames)), float(np.var(frames))]
    values.append(float(np.atleast_1d(tempo)[0]))
    for row in mfcc:
        values += [float(np.mean(row)), float(np.var(row))]
    return np.asarray(values)
