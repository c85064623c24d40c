"""Time-frequency sequences: log-mel spectrograms and MFCCs."""

from __future__ import annotations

import librosa
import numpy as np

from core.config import HOP_LENGTH, N_FFT, N_MELS, N_MFCC


def logmel(
    y: np.ndarray,
    *,
    sr: int,
    n_fft: int = N_FFT,
    hop_length: int = HOP_LENGTH,
    n_mels: int = N_MELS,
    top_db: float = 80.0,
) -> np.ndarray:
    """Log-power mel spectrogram in dB relative to full scale.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono waveform in [-1, 1].
    sr : int
        Sample rate in Hz.
    n_fft, hop_length : int
        STFT window and hop in samples.
    n_mels : int
        Number of mel bands (fmax = sr / 2).
    top_db : float
        Values more than ``top_db`` dB below the spectrogram's peak are floored.

    Returns
    -------
    S_db : np.ndarray [shape=(n_mels, 1 + n // hop_length), dtype=float32]
        Power in dB relative to 1.0 (absolute, so loudness stays comparable between clips).
    """
    mel = librosa.feature.melspectrogram(
        y=y, sr=sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels, power=2.0
    )
    return librosa.power_to_db(mel, ref=1.0, top_db=top_db).astype(np.float32)


def mfcc_sequence(
    y: np.ndarray,
    *,
    sr: int,
    n_fft: int = N_FFT,
    hop_length: int = HOP_LENGTH,
    n_mels: int = N_MELS,
    n_mfcc: int = N_MFCC,
) -> np.ndarray:
    """MFCCs as librosa computes them by default (DCT-II of the dB mel spectrogram).

    Returns
    -------
    mfcc : np.ndarray [shape=(n_mfcc, 1 + n // hop_length), dtype=float32]
    """
    mfcc = librosa.feature.mfcc(
        y=y, sr=sr, n_mfcc=n_mfcc, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels
    )
    return mfcc.astype(np.float32)
