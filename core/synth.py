"""Synthetic audio: tones, noise, click rhythms, genre-like clips, and files in every format.

Used by the tests and by the dashboard's synthetic demo dataset (no real music needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

FORMATS = {  # extension -> (soundfile format, subtype)
    ".wav": ("WAV", "PCM_16"),
    ".flac": ("FLAC", "PCM_16"),
    ".ogg": ("OGG", "VORBIS"),
    ".mp3": ("MP3", "MPEG_LAYER_III"),
    ".aiff": ("AIFF", "PCM_16"),
    ".au": ("AU", "PCM_16"),
}


def tone(freq: float = 440.0, seconds: float = 2.0, sr: int = 22050, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def noise(seconds: float = 2.0, sr: int = 22050, amp: float = 0.3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (amp * rng.uniform(-1, 1, int(seconds * sr))).astype(np.float32)


def clicks(bpm: float = 120.0, seconds: float = 8.0, sr: int = 22050) -> np.ndarray:
    """A click track: short decaying noise bursts every beat."""
    y = np.zeros(int(seconds * sr), dtype=np.float32)
    burst = noise(0.03, sr, amp=0.9, seed=1) * np.exp(-np.linspace(0, 8, int(0.03 * sr)))
    period = 60.0 / bpm
    for start in np.arange(0, seconds - 0.05, period):
        i = int(start * sr)
        y[i : i + len(burst)] += burst.astype(np.float32)
    return y


def genre_like(kind: int, seconds: float = 3.0, sr: int = 22050, seed: int = 0) -> np.ndarray:
    """A clip whose character depends on ``kind``: different pitch, brightness and rhythm."""
    rng = np.random.default_rng(seed)
    base = 110.0 * (kind + 1) * (1 + 0.02 * rng.standard_normal())
    y = tone(base, seconds, sr, 0.3) + tone(base * 2.01, seconds, sr, 0.15)
    y += clicks(80 + 25 * kind, seconds, sr) * (0.2 + 0.1 * kind)
    y += noise(seconds, sr, 0.02 * (kind + 1), seed=seed)
    return np.clip(y, -1, 1).astype(np.float32)


def write(path: Path, y: np.ndarray, sr: int) -> Path:
    """Write ``y`` (frames or frames x channels) in the format named by ``path``'s extension."""
    fmt, subtype = FORMATS[path.suffix.lower()]
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), y, sr, format=fmt, subtype=subtype)
    return path


def make_demo_dataset(root: Path, *, genres: int = 4, per_genre: int = 12, seconds: float = 6.0
                      ) -> Path:
    """A folder-per-genre collection of synthetic clips whose "genres" really differ."""
    names = ["drone", "pulse", "shimmer", "stomp", "buzz", "chime"][:genres]
    for k, genre in enumerate(names):
        for i in range(per_genre):
            write(root / genre / f"{genre}_{i:02d}.wav",
                  genre_like(k, seconds, seed=100 * k + i), 22050)
    return root
