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


def techno_like(seconds: float = 20.0, sr: int = 22050, bpm: float = 128.0, seed: int = 0
                ) -> np.ndarray:
    """Four-on-the-floor electronic music: kick drum, off-beat hi-hats, a saw-bass arpeggio and a
    slow pad. Outside the GTZAN genres, so a GTZAN model set should say it is unsure."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    y = np.zeros(n, np.float64)
    beat = 60.0 / bpm
    k = np.arange(int(0.25 * sr)) / sr
    kick = np.sin(2 * np.pi * (50 + 100 * np.exp(-30 * k)) * k) * np.exp(-12 * k)
    hat = rng.uniform(-1, 1, int(0.04 * sr)) * np.exp(-120 * np.arange(int(0.04 * sr)) / sr)
    for start in np.arange(0, seconds - 0.3, beat):
        i, j = int(start * sr), int((start + beat / 2) * sr)
        y[i:i + len(kick)] += 0.8 * kick[:n - i]
        if j + len(hat) < n:
            y[j:j + len(hat)] += 0.25 * hat
    notes = (55.0, 55.0, 110.0, 82.4, 55.0, 65.4, 110.0, 98.0)
    step = beat / 4
    for i_step, start in enumerate(np.arange(0, seconds - step, step)):
        i, m = int(start * sr), int(step * sr)
        tt = np.arange(m) / sr
        saw = 2 * ((tt * notes[i_step % len(notes)]) % 1) - 1
        y[i:i + m] += 0.25 * saw * np.exp(-8 * tt)
    for f in (220.0, 277.2, 329.6):
        y += 0.05 * np.sin(2 * np.pi * f * t) * (0.5 + 0.5 * np.sin(2 * np.pi * t / 8))
    return (0.9 * y / np.abs(y).max()).astype(np.float32)


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
