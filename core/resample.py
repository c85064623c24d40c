"""Sample-rate conversion of waveforms already in memory (soxr, as in :func:`core.audio.load_audio`)."""

from __future__ import annotations

import numpy as np
import soxr


def to_rate(y: np.ndarray, sr: int, target_sr: int) -> np.ndarray:
    """Resample mono ``y`` from ``sr`` to ``target_sr`` Hz (a no-op when they are equal)."""
    if sr == target_sr:
        return np.asarray(y, dtype=np.float32)
    return soxr.resample(np.asarray(y, dtype=np.float32), sr, target_sr,
                         quality="HQ").astype(np.float32)
