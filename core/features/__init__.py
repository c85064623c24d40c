"""Features: what GenreLab computes from a waveform, with the parameters saved beside every model.

- ``summary``: the 57 GTZAN summary features (:mod:`core.features.summary`).
- ``logmel``: log-mel spectrogram per segment (:mod:`core.features.spectrogram`).
- ``mfcc``: MFCC sequence per segment.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

import numpy as np

from core.audio import normalize_peak, segment_audio, segment_bounds
from core.config import FEATURE_SR, HOP_LENGTH, N_FFT, N_MELS, N_MFCC
from core.errors import ParameterError
from core.features.spectrogram import logmel, mfcc_sequence
from core.features.summary import BAND_LIMIT_HZ, SUMMARY_COLUMNS, low_pass, summary_features

FeatureKind = Literal["summary", "logmel", "mfcc"]
FEATURE_KINDS: tuple[str, ...] = ("summary", "logmel", "mfcc")

#: Bump when a feature's definition changes: it invalidates every cached value.
FEATURES_VERSION = 1


@dataclass(frozen=True)
class FeatureParams:
    """Everything that determines a feature array; saved with models and part of cache keys.

    Parameters
    ----------
    kind : {"summary", "logmel", "mfcc"}
        Which feature.
    sr : int
        Sample rate in Hz the audio is resampled to.
    n_fft, hop_length : int
        STFT window and hop in samples (``summary`` always uses the table's 2048/512).
    n_mels, n_mfcc : int
        Mel bands and MFCC count for ``logmel`` / ``mfcc``.
    segment_seconds : float or None
        Cut the clip into windows of this length (None: the whole clip is one segment).
    hop_seconds : float or None
        Distance between window starts (None: ``segment_seconds``, no overlap).
    peak_normalize : bool
        ``logmel``/``mfcc`` only: scale each window to a peak of 1 before the spectrogram
        (:func:`core.audio.normalize_peak`), so the features do not depend on recording gain.
    max_hz : float or None
        ``summary`` only: low-pass the audio below this many Hz first
        (:func:`core.features.summary.low_pass`), so that files recorded at different rates
        give the same features (None: the whole band, as Kaggle's table has it).
    """

    kind: FeatureKind = "summary"
    sr: int = FEATURE_SR
    n_fft: int = N_FFT
    hop_length: int = HOP_LENGTH
    n_mels: int = N_MELS
    n_mfcc: int = N_MFCC
    segment_seconds: float | None = None
    hop_seconds: float | None = None
    peak_normalize: bool = False
    max_hz: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in FEATURE_KINDS:
            raise ParameterError(f"kind must be one of {', '.join(FEATURE_KINDS)}, got {self.kind!r}")
        if self.peak_normalize and self.kind == "summary":
            raise ParameterError("peak_normalize applies to logmel and mfcc; the summary "
                                 "features keep the clip's level, as Kaggle's table does")
        for name in ("sr", "n_fft", "hop_length", "n_mels", "n_mfcc"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ParameterError(f"{name} must be a positive integer, got {value!r}")
        if self.max_hz is not None:
            if self.kind != "summary":
                raise ParameterError("max_hz applies to the summary features only")
            if (isinstance(self.max_hz, bool) or not isinstance(self.max_hz, (int, float))
                    or not 0 < self.max_hz < self.sr / 2):
                raise ParameterError(f"max_hz must be a number of Hz between 0 and "
                                     f"{self.sr / 2:g} (half the sample rate), got {self.max_hz!r}")
            object.__setattr__(self, "max_hz", float(self.max_hz))  # one cache key for 10100 and 10100.0
        for name in ("segment_seconds", "hop_seconds"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ParameterError(f"{name} must be > 0 seconds or None, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form, for model metadata (``peak_normalize`` and ``max_hz`` only when set,
        so parameters saved before they existed keep their meaning and their cache keys)."""
        data = asdict(self)
        if not self.peak_normalize:
            del data["peak_normalize"]
        if self.max_hz is None:
            del data["max_hz"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureParams:
        """Inverse of :meth:`to_dict`; unknown keys are refused."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ParameterError(f"unknown feature parameters: {', '.join(sorted(unknown))}")
        return cls(**data)

    def cache_key(self) -> str:
        """Stable digest of the parameters and the feature code version."""
        payload = json.dumps({**self.to_dict(), "version": FEATURES_VERSION}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


def compute_features(y: np.ndarray, params: FeatureParams) -> np.ndarray:
    """Features of one waveform, one row (or slice) per segment.

    Parameters
    ----------
    y : np.ndarray [shape=(n,), dtype=float32]
        Mono waveform at ``params.sr`` Hz.
    params : FeatureParams

    Returns
    -------
    features : np.ndarray
        ``summary``: shape (n_segments, 57). ``logmel``: (n_segments, n_mels, n_frames).
        ``mfcc``: (n_segments, n_mfcc, n_frames). Without segmentation ``n_segments`` is 1.
        Segments shorter than a window (a track shorter than ``segment_seconds``) are zero-padded
        for ``logmel``/``mfcc`` so frames line up; ``summary`` uses the unpadded samples.
    """
    if params.kind == "summary":
        if params.max_hz is not None:
            y = low_pass(y, sr=params.sr, max_hz=params.max_hz)
        if params.segment_seconds is None:
            return summary_features(y, sr=params.sr)[None, :]
        bounds = segment_bounds(
            len(y), sr=params.sr, segment_seconds=params.segment_seconds,
            hop_seconds=params.hop_seconds,
        )
        return np.stack([summary_features(y[a:b], sr=params.sr) for a, b in bounds])

    if params.segment_seconds is None:
        segments = y[None, :]
    else:
        segments = segment_audio(
            y, sr=params.sr, segment_seconds=params.segment_seconds, hop_seconds=params.hop_seconds
        )
    if params.peak_normalize:
        segments = normalize_peak(segments)
    common = {"sr": params.sr, "n_fft": params.n_fft, "hop_length": params.hop_length,
              "n_mels": params.n_mels}
    if params.kind == "logmel":
        return np.stack([logmel(s, **common) for s in segments])
    return np.stack([mfcc_sequence(s, n_mfcc=params.n_mfcc, **common) for s in segments])


def segment_lengths(n_samples: int, params: FeatureParams) -> np.ndarray:
    """Length in samples of each segment :func:`compute_features` uses (for the CSV's ``length``)."""
    if params.segment_seconds is None:
        return np.array([n_samples])
    bounds = segment_bounds(
        n_samples, sr=params.sr, segment_seconds=params.segment_seconds,
        hop_seconds=params.hop_seconds,
    )
    return bounds[:, 1] - bounds[:, 0]


__all__ = [
    "BAND_LIMIT_HZ",
    "FEATURE_KINDS",
    "SUMMARY_COLUMNS",
    "FeatureKind",
    "FeatureParams",
    "compute_features",
    "logmel",
    "low_pass",
    "mfcc_sequence",
    "segment_lengths",
    "summary_features",
]
