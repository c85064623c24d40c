"""Constants shared across GenreLab: sample rates, STFT settings, segment length and limits."""

from __future__ import annotations

import os
from pathlib import Path

#: Sample rate of the summary features, log-mel and MFCC (GTZAN's native rate, librosa's default).
FEATURE_SR = 22050
#: YAMNet's input rate.
YAMNET_SR = 16000

#: STFT settings (librosa defaults, which the Kaggle GTZAN table was computed with).
N_FFT = 2048
HOP_LENGTH = 512
N_MELS = 128
N_MFCC = 20

#: Length and hop of the fixed analysis windows, in seconds.
SEGMENT_SECONDS = 3.0

#: Audio shorter than this is refused (seconds).
MIN_DURATION_S = 0.5
#: Audio longer than this is refused (seconds); 15 minutes covers nearly every song.
MAX_DURATION_S = 15 * 60.0
#: Peak amplitude below which audio counts as digital silence.
SILENCE_PEAK = 1e-4

#: File extensions GenreLab reads as audio (all decoded by libsndfile through soundfile).
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aiff", ".aif", ".aifc", ".au",
                    ".snd")

#: The ten GTZAN genres, in the dataset's customary (alphabetical) order.
GTZAN_GENRES = (
    "blues", "classical", "country", "disco", "hiphop",
    "jazz", "metal", "pop", "reggae", "rock",
)


def cache_dir() -> Path:
    """Root folder of GenreLab's on-disk caches (``GENRELAB_CACHE_DIR``, else ``~/.cache/genrelab``)."""
    env = os.environ.get("GENRELAB_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")).expanduser() / "genrelab"
