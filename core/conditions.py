"""Recording conditions: how an uploaded song can differ from the clips a model trained on.

GTZAN's clips come from a few sources of around 2000 (CDs, radio, tapes), 22.05 kHz mono; users
upload mp3s mastered in other decades. A model that reads a genre from its training set's
recording chain breaks on them: a dense network on summary features, for one, keeps its GTZAN
accuracy only as long as the recording sounds like GTZAN. These small pure functions re-record a
waveform; :data:`FIT_CONDITIONS` are what the bundled ensemble is fitted under (so a member that
breaks under them gets less weight), :data:`HELD_OUT_CONDITIONS` only evaluate
(``python -m bench.accuracy --parts conditions``). They were fixed before any result was seen
and are never chosen on test files.

Each function takes a mono float32 waveform and its sample rate and returns one of the same
length and rate, scaled to the input's peak (every model here is level-invariant by design, and
no condition should clip).
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from scipy import signal

from core.datasets import Dataset, concat_datasets
from core.errors import ModelError, ParameterError
from core.splits import Split, check_no_leak

Condition = Callable[[np.ndarray, int], np.ndarray]


def _check_mono(y: np.ndarray) -> None:
    if np.ndim(y) != 1:
        raise ParameterError(f"a recording condition takes a mono waveform (1-d), got shape "
                             f"{np.shape(y)}")


def _same_peak(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    peak = float(np.abs(z).max()) if len(z) else 0.0
    scale = float(np.abs(y).max()) / peak if peak > 0 else 0.0
    return (z * scale).astype(np.float32)


def spectral_tilt(y: np.ndarray, sr: int, *, db_per_octave: float, pivot_hz: float = 1000.0,
                  low_hz: float = 100.0, high_hz: float = 8000.0) -> np.ndarray:
    """Tilt the spectrum by ``db_per_octave`` about ``pivot_hz`` (brighter when positive).

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono waveform.
    sr : int
        Its sample rate.
    db_per_octave : float
        Gain slope; +2 is a bright modern master against a dull one.
    pivot_hz : float
        Frequency left unchanged.
    low_hz, high_hz : float
        The slope stops at these frequencies (a flat shelf beyond), so no condition boosts DC
        or the top octave without bound.

    Returns
    -------
    np.ndarray [shape=(n,), dtype=float32]
        The tilted waveform, at ``y``'s peak.
    """
    _check_mono(y)
    freqs = np.clip(np.fft.rfftfreq(len(y), 1.0 / sr), low_hz, high_hz)
    gain = 10.0 ** (db_per_octave * np.log2(freqs / pivot_hz) / 20.0)
    return _same_peak(np.fft.irfft(np.fft.rfft(y) * gain, n=len(y)), y)


def mp3_roundtrip(y: np.ndarray, sr: int, *, bitrate_kbps: int = 128,
                  codec_sr: int = 44100) -> np.ndarray:
    """Encode as a constant-bitrate stereo mp3 (LAME, via libsndfile) and decode it again.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono waveform.
    sr : int
        Its sample rate.
    bitrate_kbps : int
        32-320: libsndfile's compression level maps linearly onto MPEG-1 Layer III's bitrates
        (0 is 320 kbps, 1 is 32 kbps).
    codec_sr : int
        The rate the mp3 is written at, 32000, 44100 or 48000 (MPEG-1, for which that mapping
        holds).

    Returns
    -------
    np.ndarray [shape=(n,), dtype=float32]
        The decoded waveform at ``sr``, the encoder's delay removed (aligned on the
        cross-correlation peak), at ``y``'s peak.
    """
    _check_mono(y)
    if codec_sr not in (32000, 44100, 48000):
        raise ParameterError(f"codec_sr must be an MPEG-1 rate (32000, 44100, 48000), "
                             f"got {codec_sr}")
    up = soxr.resample(np.stack([y, y], axis=1), sr, codec_sr)
    buffer = io.BytesIO()
    level = float(np.clip((320 - bitrate_kbps) / (320 - 32), 0.0, 1.0))
    sf.write(buffer, up, codec_sr, format="MP3", bitrate_mode="CONSTANT",
             compression_level=level)
    buffer.seek(0)
    decoded, rate = sf.read(buffer, dtype="float32")
    z = soxr.resample(decoded.mean(axis=1), rate, sr)
    lag = encoder_delay(y, z)
    z = z[lag:lag + len(y)]
    return _same_peak(np.pad(z, (0, len(y) - len(z))), y)


def encoder_delay(y: np.ndarray, z: np.ndarray, *, max_lag: int = 4096,
                  window: int = 1 << 15) -> int:
    """Samples by which ``z`` (a decoded copy of ``y``) lags ``y``, 0 to ``max_lag``.

    Parameters
    ----------
    y, z : np.ndarray [shape=(n,)], [shape=(m,)]
        The original and its copy, at one rate.
    max_lag : int
        The largest delay looked for (LAME's is about 1100 samples at 44.1 kHz).
    window : int
        Samples of ``y`` compared: its loudest stretch of this length, so a quiet intro does
        not decide.

    Returns
    -------
    int
        The lag that maximises the cross-correlation (0 when there is nothing to align).
    """
    n = min(len(y), window)
    if n == 0 or not np.any(y):
        return 0
    running = np.concatenate([[0.0], np.cumsum(np.square(y, dtype=np.float64))])
    start = int(np.argmax(running[n:] - running[:-n]))  # the loudest n samples
    max_lag = max(0, min(max_lag, len(z) - start - n))
    stretch = z[start:start + n + max_lag]
    if len(stretch) < n:
        return 0
    corr = signal.correlate(stretch, y[start:start + n], mode="valid", method="fft")
    return int(np.argmax(corr))


def loud_master(y: np.ndarray, sr: int, *, drive_db: float = 12.0) -> np.ndarray:
    """Loudness-war mastering: the peak-normalised signal driven ``drive_db`` into a soft
    clipper (``tanh``), then back at ``y``'s peak.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono waveform.
    sr : int
        Its sample rate (unused: the clipper has no memory).
    drive_db : float
        Gain into the clipper; 12 dB flattens every peak of a typical master.

    Returns
    -------
    np.ndarray [shape=(n,), dtype=float32]
    """
    _check_mono(y)
    peak = float(np.abs(y).max()) if len(y) else 0.0
    if peak == 0:
        return np.asarray(y, dtype=np.float32)
    return _same_peak(np.tanh(10.0 ** (drive_db / 20.0) * y / peak), y)


def lowpass(y: np.ndarray, sr: int, *, cutoff_hz: float = 5000.0) -> np.ndarray:
    """A 6th-order Butterworth low-pass, zero phase (an AM-radio or old-tape bandwidth).

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono waveform.
    sr : int
        Its sample rate.
    cutoff_hz : float
        -3 dB point (each of the two passes); at most 0.45 ``sr``.

    Returns
    -------
    np.ndarray [shape=(n,), dtype=float32]
        The filtered waveform at ``y``'s peak (``y`` itself when it is too short to filter).
    """
    _check_mono(y)
    sos = signal.butter(6, min(cutoff_hz, 0.45 * sr), fs=sr, output="sos")
    if len(y) <= 3 * (2 * len(sos) + 1):  # sosfiltfilt's padding needs a few dozen samples
        return np.asarray(y, dtype=np.float32)
    return _same_peak(signal.sosfiltfilt(sos, y), y)


def pink_noise(y: np.ndarray, sr: int, *, snr_db: float = 20.0, seed: int = 0) -> np.ndarray:
    """Add pink (1/f) noise ``snr_db`` below the signal's RMS (a live or noisy recording).

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono waveform.
    sr : int
        Its sample rate.
    snr_db : float
        Signal-to-noise ratio of the result.
    seed : int
        The noise's seed (the same noise for every clip of one length: reproducible copies).

    Returns
    -------
    np.ndarray [shape=(n,), dtype=float32]
        ``y`` plus the noise, at ``y``'s peak.
    """
    _check_mono(y)
    rng = np.random.default_rng(seed)
    spectrum = np.fft.rfft(rng.standard_normal(len(y)))
    freqs = np.fft.rfftfreq(len(y), 1.0 / sr)
    spectrum /= np.sqrt(np.maximum(freqs, 20.0))
    spectrum[0] = 0.0  # no DC offset
    noise = np.fft.irfft(spectrum, n=len(y))
    rms = float(np.sqrt(np.mean(np.square(y, dtype=np.float64)))) if len(y) else 0.0
    noise *= rms * 10.0 ** (-snr_db / 20.0) / max(float(np.sqrt(np.mean(noise ** 2))), 1e-12)
    return _same_peak(y + noise, y)


#: What the bundled ensemble is fitted under, beside the clean recordings.
FIT_CONDITIONS: dict[str, Condition] = {
    "mp3 128 kbps": lambda y, sr: mp3_roundtrip(y, sr, bitrate_kbps=128),
    "brighter (+2 dB/oct)": lambda y, sr: spectral_tilt(y, sr, db_per_octave=2.0),
    "duller (-2 dB/oct)": lambda y, sr: spectral_tilt(y, sr, db_per_octave=-2.0),
    "loud master": loud_master,
}
#: Only evaluated: kinds of difference the ensemble was not fitted under.
HELD_OUT_CONDITIONS: dict[str, Condition] = {
    "low-pass 5 kHz": lowpass,
    "pink noise 20 dB": pink_noise,
    "mp3 64 kbps": lambda y, sr: mp3_roundtrip(y, sr, bitrate_kbps=64),
    "brighter (+4 dB/oct)": lambda y, sr: spectral_tilt(y, sr, db_per_octave=4.0),
    "duller (-4 dB/oct)": lambda y, sr: spectral_tilt(y, sr, db_per_octave=-4.0),
}


def check_copies(dataset: Dataset, copies: Mapping[str, Dataset]) -> None:
    """Refuse copies that are not ``dataset`` row for row (tracks, labels, groups, genres).

    Raises
    ------
    ModelError
        Naming the first copy that differs.
    """
    columns = ["track_id", "label", "group"]
    for name, copy in copies.items():
        if len(copy.manifest) != len(dataset.manifest) or list(copy.genres) != list(dataset.genres) \
                or not copy.manifest[columns].reset_index(drop=True).equals(
                    dataset.manifest[columns].reset_index(drop=True)):
            raise ModelError(f"copy {name!r} is not row for row a copy of {dataset.name}")


def write_condition_copies(dataset: Dataset, conditions: Mapping[str, Condition],
                           directory: str | os.PathLike[str], *,
                           rows: np.ndarray | None = None) -> dict[str, Dataset]:
    """Every audio file of ``dataset`` re-recorded under each condition, as datasets.

    Parameters
    ----------
    dataset : Dataset
        An audio dataset (every row has a ``path``).
    conditions : dict of str to Condition
    directory : str or Path
        Where the copies are written (``<directory>/<condition index>/<row>.wav``, 16-bit WAV
        at each file's own rate, mono, clipped to [-1, 1]); a scratch folder the caller owns.
    rows : np.ndarray, optional
        Re-record only these rows (e.g. a split's training side, all that
        :func:`with_copies` uses); the others, and files that cannot be read, keep their
        original path in the copies.

    Returns
    -------
    dict of str to Dataset
        Per condition, ``dataset`` row for row (same labels, tracks and groups, so a split of
        ``dataset`` applies to it unchanged) with the copies' paths.
    """
    copies = {}
    chosen = set(range(len(dataset.manifest)) if rows is None else np.asarray(rows).tolist())
    for index, (name, condition) in enumerate(conditions.items()):
        folder = Path(directory) / f"condition-{index}"
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for row, source in enumerate(dataset.manifest["path"]):
            if row not in chosen:
                paths.append(source)
                continue
            try:
                y, sr = sf.read(source, dtype="float32", always_2d=True)
            except (sf.LibsndfileError, RuntimeError, OSError):  # unreadable: left as it is;
                paths.append(source)  # featurising it reports why
                continue
            target = folder / f"{row:05d}.wav"
            recorded = np.clip(condition(y.mean(axis=1), sr), -1.0, 1.0)
            sf.write(target, recorded, sr, subtype="PCM_16")
            paths.append(str(target))
        manifest = dataset.manifest.copy()
        manifest["path"] = paths
        copies[name] = Dataset(f"{dataset.name} ({name})", dataset.layout, manifest,
                               list(dataset.genres))
    return copies


def with_copies(dataset: Dataset, copies: Mapping[str, Dataset], split: Split
                ) -> tuple[Dataset, Split]:
    """Train on every recording of a track: ``dataset`` and its copies as one dataset, and
    ``split`` on it with each copy of a training track on the training side too.

    The validation and test sides keep the original recordings only, so early stopping and the
    reported figures are unchanged in meaning; a copy shares its track's group, so no track can
    reach both sides (checked).

    Parameters
    ----------
    dataset : Dataset
    copies : dict of str to Dataset
        Row-for-row copies of ``dataset`` (:func:`write_condition_copies`).
    split : Split
        A split of ``dataset``.

    Returns
    -------
    tuple of (Dataset, Split)
        The originals then each copy, and the split on them.

    Raises
    ------
    ModelError
        A copy is not ``dataset`` row for row (:func:`check_copies`).
    """
    if not copies:
        return dataset, split
    check_copies(dataset, copies)
    combined = concat_datasets([dataset, *copies.values()],
                               name=f"{dataset.name} + {len(copies)} re-recorded copies")
    n = len(dataset.manifest)
    train = np.concatenate([split.train + k * n for k in range(len(copies) + 1)])
    augmented = Split(f"{split.name}, training also on {', '.join(copies)}", train,
                      split.valid, split.test)
    check_no_leak(combined, augmented)
    return combined, augmented
