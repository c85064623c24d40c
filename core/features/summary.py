"""The 57 GTZAN summary features (the columns of Kaggle's ``features_30_sec.csv``).

Definitions follow the table exactly (librosa defaults at 22050 Hz: ``n_fft=2048``,
``hop_length=512``): for each frame-wise feature, the mean and the variance over all its values.
``harmony`` and ``perceptr`` are the mean and variance of the harmonic and percussive waveforms of
HPSS; ``tempo`` is librosa's global tempo estimate in BPM.

Speed: the per-feature recipe (each librosa feature called on the waveform, plus
``librosa.effects.hpss`` and ``librosa.beat.beat_track``) computes the STFT a dozen times, runs
a 2-D median filter that dominates its cost, and a full beat tracker. Here one complex STFT feeds
every spectral feature; centroid and bandwidth come from two moments of the magnitude, roll-off
from one cumulative sum; tuning is estimated on the 150-4000 Hz bins piptrack looks at; HPSS
median-filters that same magnitude with a sliding sorted window (exact, rows in parallel) and
inverts one STFT (the percussive part is the rest of the signal); one mel spectrogram feeds the
MFCCs and the onset envelope for tempo (no beat tracking: only the tempo is needed).
"""

from __future__ import annotations

from functools import lru_cache

import librosa
import numba
import numpy as np
import scipy.signal
from threadpoolctl import ThreadpoolController

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
_PIPTRACK_FMAX_HZ = 4000.0  # librosa.piptrack's default fmax, which estimate_tuning uses


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
    # OpenBLAS threads spin after each small matrix product and would steal the cores the
    # median filters run on; these products are too small to gain from BLAS threads.
    with _blas_controller().limit(limits=1, user_api="blas"):
        return _summary_features(np.ascontiguousarray(y, dtype=np.float32), sr)


@lru_cache(maxsize=1)
def _blas_controller() -> ThreadpoolController:
    """Built once: scanning the loaded libraries costs 100 times more than setting a limit."""
    return ThreadpoolController()


def _summary_features(y: np.ndarray, sr: int) -> np.ndarray:
    stft = librosa.stft(y, n_fft=N_FFT, hop_length=HOP_LENGTH)
    magnitude = np.abs(stft)
    power = magnitude**2
    freqs = librosa.fft_frequencies(sr=sr, n_fft=N_FFT)

    tuning = estimate_tuning(power, sr=sr, n_fft=N_FFT)
    chroma = librosa.feature.chroma_stft(S=power, sr=sr, n_fft=N_FFT, tuning=tuning)
    rms = librosa.feature.rms(y=y, frame_length=N_FFT, hop_length=HOP_LENGTH)
    centroid, bandwidth = spectral_moments(magnitude, freqs)
    rolloff = spectral_rolloff(magnitude, freqs)
    zcr = zero_crossing_rate(y, frame_length=N_FFT, hop_length=HOP_LENGTH)
    harmonic = harmonic_waveform(stft, magnitude, length=len(y))
    percussive = y - harmonic  # the two soft masks sum to one, and the STFT inverts exactly

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


#: Band edge of :func:`low_pass` used by the bundled MFCC-MLP: where soxr's resampler from
#: 44.1 or 48 kHz to 22.05 kHz is still flat (it keeps up to about 10.4 kHz), so that a song
#: gives the same summary features whatever rate it was uploaded at (within 0.002 standard
#: deviations; 0.01 with the edge at 10.3 kHz).
BAND_LIMIT_HZ = 10100.0


def low_pass(y: np.ndarray, *, sr: int, max_hz: float) -> np.ndarray:
    """Remove what lies above ``max_hz``: a 12th-order elliptic low-pass (0.05 dB ripple below
    ``max_hz``, 90 dB down from about 1% above it).

    A file recorded at 22.05 kHz carries sound up to 11.025 kHz; one resampled from 44.1 or
    48 kHz carries little above 10.4 kHz. Filtered at :data:`BAND_LIMIT_HZ`, the two give the
    same summary features (within 0.002 standard deviations). About 50 ms per 3-minute song at
    22.05 kHz.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono waveform.
    sr : int
        Its sample rate in Hz.
    max_hz : float
        Pass-band edge in Hz, below ``sr / 2``.

    Returns
    -------
    np.ndarray [shape=(n,), dtype=float32]
    """
    return scipy.signal.sosfilt(_low_pass_sos(int(sr), float(max_hz)), y).astype(np.float32)


@lru_cache(maxsize=8)
def _low_pass_sos(sr: int, max_hz: float) -> np.ndarray:
    """Second-order sections of :func:`low_pass`'s filter (designed once per rate and edge)."""
    return scipy.signal.ellip(12, 0.05, 90.0, max_hz, btype="lowpass", output="sos", fs=sr)


def spectral_moments(S: np.ndarray, freqs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spectral centroid and bandwidth (p=2) of a magnitude spectrogram in one pass.

    Same values as ``librosa.feature.spectral_centroid`` and ``spectral_bandwidth`` with their
    defaults: the mean and standard deviation of frequency under each frame's normalised
    magnitude. Frames with no energy get 0.

    Parameters
    ----------
    S : np.ndarray [shape=(1 + n_fft // 2, n_frames)]
        Magnitude spectrogram.
    freqs : np.ndarray [shape=(1 + n_fft // 2,)]
        Bin centre frequencies in Hz.

    Returns
    -------
    centroid, bandwidth : np.ndarray [shape=(1, n_frames)], in Hz
    """
    total = S.sum(axis=0, dtype=np.float64)
    first = freqs @ S.astype(np.float64)
    second = (freqs**2) @ S.astype(np.float64)
    safe = np.where(total > np.finfo(np.float32).tiny, total, 1.0)
    centroid = np.where(total > np.finfo(np.float32).tiny, first / safe, 0.0)
    variance = np.maximum(second / safe - centroid**2, 0.0)
    return centroid[None, :], np.sqrt(variance)[None, :]


def spectral_rolloff(S: np.ndarray, freqs: np.ndarray, *, roll_percent: float = 0.85
                     ) -> np.ndarray:
    """Frequency below which ``roll_percent`` of each frame's magnitude lies (librosa's rule).

    Returns
    -------
    rolloff : np.ndarray [shape=(1, n_frames)], in Hz
    """
    cumulative = np.cumsum(S, axis=0)
    reached = cumulative >= roll_percent * cumulative[-1:, :]
    return freqs[np.argmax(reached, axis=0)][None, :]


def zero_crossing_rate(y: np.ndarray, *, frame_length: int, hop_length: int,
                       threshold: float = 1e-10) -> np.ndarray:
    """Frame-wise zero-crossing rate, as ``librosa.feature.zero_crossing_rate`` (centred frames).

    One sign-change array and one cumulative sum replace framing the whole signal.

    Returns
    -------
    zcr : np.ndarray [shape=(1, n_frames)]
        Crossings within each frame divided by ``frame_length``.
    """
    padded = np.pad(y, frame_length // 2, mode="edge")
    signs = np.signbit(np.where(np.abs(padded) <= threshold, 0.0, padded))
    changes = np.concatenate(([0], np.cumsum(signs[1:] != signs[:-1])))
    starts = np.arange(0, len(padded) - frame_length + 1, hop_length)
    counts = changes[starts + frame_length - 1] - changes[starts]
    return (counts / frame_length)[None, :]


def estimate_tuning(power: np.ndarray, *, sr: int, n_fft: int) -> float:
    """``librosa.estimate_tuning(S=power, sr=sr, n_fft=n_fft)`` on the bins it actually uses.

    piptrack (which estimate_tuning runs) only keeps peaks between 150 and 4000 Hz, so it is run
    on those bins plus neighbours, about a third of the spectrogram, with each frame's peak
    threshold still taken from the whole frame. librosa infers ``n_fft`` from the rows of ``S``,
    so the sample rate is scaled to keep every bin's frequency.
    """
    bins = int(np.ceil(_PIPTRACK_FMAX_HZ * n_fft / sr)) + 3
    if bins >= power.shape[0]:
        return float(librosa.estimate_tuning(S=power, sr=sr, n_fft=n_fft))
    frame_max = power.max(axis=0)
    band_n_fft = 2 * (bins - 1)
    return float(librosa.estimate_tuning(
        S=power[:bins], sr=sr * band_n_fft / n_fft, n_fft=band_n_fft,
        ref=lambda S, axis: frame_max,
    ))


_MEDIAN_LANES = 64  # columns filtered together, one SIMD-friendly block per thread


@numba.njit(cache=True, nogil=True, inline="never")
def _slide_sorted_windows(window: np.ndarray, slid: np.ndarray, old: np.ndarray,
                          new: np.ndarray, below_old: np.ndarray, below_new: np.ndarray) -> None:
    """One step of :func:`_sliding_median_columns` for a block of columns, without branches.

    ``window`` holds each column's sorted window (one column per lane); ``slid`` receives the
    sorted windows without ``old`` and with ``new``. Counts of smaller values place both: ``old``
    sits at the first position of its value, ``new`` goes where it keeps the order. The counts
    are floats (exact up to 2**24) so that every lane's arithmetic is one SIMD type.
    """
    size, lanes = window.shape[0], _MEDIAN_LANES  # a constant trip count, which LLVM vectorises
    for lane in range(lanes):
        below_old[lane] = 0.0
        below_new[lane] = 0.0
    for t in range(size):
        for lane in range(lanes):
            value = window[t, lane]
            below_old[lane] += 1.0 if value < old[lane] else 0.0
            below_new[lane] += 1.0 if value < new[lane] else 0.0
    for lane in range(lanes):  # where new goes once old is out
        below_new[lane] -= 1.0 if old[lane] < new[lane] else 0.0
    for t in range(size):
        up = t + 1 if t + 1 < size else t
        down = t - 1 if t > 0 else t
        pos = np.float32(t)
        for lane in range(lanes):
            # load all three first: selects between loaded values vectorise, loads in branches do not
            here, above, below = window[t, lane], window[up, lane], window[down, lane]
            gone, put = below_old[lane], below_new[lane]
            value = above if (pos >= gone) and (pos < put) else here
            value = below if (pos > put) and (pos <= gone) else value
            slid[t, lane] = new[lane] if pos == put else value


@numba.njit(cache=True, nogil=True, parallel=True)
def _sliding_median_columns(padded: np.ndarray, size: int, out: np.ndarray) -> None:
    """Median of every ``size``-tall window of each column of ``padded`` into ``out``.

    Columns go in blocks of :data:`_MEDIAN_LANES`, each keeping a sorted window per column that
    changes by one value per step; the blocks run in parallel.
    """
    n_steps, n_columns = out.shape
    half = size // 2
    lanes = _MEDIAN_LANES
    for block in numba.prange((n_columns + lanes - 1) // lanes):
        first = block * lanes
        used = min(lanes, n_columns - first)
        window = np.zeros((size, lanes), dtype=padded.dtype)
        slid = np.zeros((size, lanes), dtype=padded.dtype)
        old = np.zeros(lanes, dtype=padded.dtype)
        new = np.zeros(lanes, dtype=padded.dtype)
        below_old = np.zeros(lanes, dtype=np.float32)
        below_new = np.zeros(lanes, dtype=np.float32)
        for lane in range(used):
            window[:, lane] = np.sort(padded[:size, first + lane])
            out[0, first + lane] = window[half, lane]
        for i in range(1, n_steps):
            for lane in range(used):
                old[lane] = padded[i - 1, first + lane]
                new[lane] = padded[i + size - 1, first + lane]
            if i % 2:
                _slide_sorted_windows(window, slid, old, new, below_old, below_new)
                for lane in range(used):
                    out[i, first + lane] = slid[half, lane]
            else:
                _slide_sorted_windows(slid, window, old, new, below_old, below_new)
                for lane in range(used):
                    out[i, first + lane] = window[half, lane]


def median_filter_axis(S: np.ndarray, *, size: int, axis: int) -> np.ndarray:
    """Median filter of odd ``size`` along one axis, with reflected edges.

    Equals ``scipy.ndimage.median_filter`` with a 1-D footprint along ``axis`` and
    ``mode="reflect"``: each line keeps a sorted window that changes by one
    value per step, 64 lines at a time in SIMD lanes, blocks of lines in parallel on all cores
    (numba threads; GenreLab's worker processes use one).
    """
    columns = S.T if axis == 1 else S  # filter down the columns of a C-ordered array
    half = size // 2
    padded = np.ascontiguousarray(np.pad(columns, ((half, half), (0, 0)), mode="symmetric"))
    out = np.empty((padded.shape[0] - size + 1, padded.shape[1]), dtype=padded.dtype)
    _sliding_median_columns(padded, size, out)
    return out.T if axis == 1 else out


def harmonic_waveform(stft: np.ndarray, magnitude: np.ndarray, *, length: int) -> np.ndarray:
    """Harmonic waveform of median-filtering HPSS, as ``librosa.effects.hpss(y)[0]``.

    Kernel 31 in time (harmonic) and frequency (percussive), soft masks of power 2, reusing the
    complex STFT and its magnitude that the other features already computed.
    """
    harmonic_env = median_filter_axis(magnitude, size=_HPSS_KERNEL, axis=1)
    percussive_env = median_filter_axis(magnitude, size=_HPSS_KERNEL, axis=0)
    masked = _apply_soft_mask(stft, harmonic_env, percussive_env)
    return inverse_stft(masked, n_fft=N_FFT, hop_length=HOP_LENGTH, length=length)


def inverse_stft(stft: np.ndarray, *, n_fft: int, hop_length: int, length: int) -> np.ndarray:
    """``librosa.istft(stft, n_fft=n_fft, hop_length=hop_length, length=length)`` for a Hann
    window, centred frames and ``hop_length`` dividing ``n_fft``.

    One batched inverse FFT, an overlap-add of ``n_fft // hop_length`` shifted blocks, and a
    multiplication by the cached reciprocal window sum-square (librosa divides through a boolean
    index, which costs as much as the inverse FFT itself).
    """
    n_frames = stft.shape[1]
    overlap = n_fft // hop_length
    frames = np.fft.irfft(stft, n=n_fft, axis=0).T * _hann(n_fft)  # (n_frames, n_fft)
    blocks = frames.reshape(n_frames, overlap, hop_length)
    y = np.zeros((n_frames + overlap - 1, hop_length), dtype=frames.dtype)
    for k in range(overlap):
        y[k:k + n_frames] += blocks[:, k]
    y = y.ravel() * _inverse_window_sumsquare(n_frames, n_fft, hop_length)
    start = n_fft // 2
    return librosa.util.fix_length(y[start:], size=length)


@lru_cache(maxsize=8)
def _hann(n_fft: int) -> np.ndarray:
    return scipy.signal.get_window("hann", n_fft, fftbins=True).astype(np.float32)


@lru_cache(maxsize=64)
def _inverse_window_sumsquare(n_frames: int, n_fft: int, hop_length: int) -> np.ndarray:
    wss = librosa.filters.window_sumsquare(window="hann", n_frames=n_frames, n_fft=n_fft,
                                           hop_length=hop_length, dtype=np.float32)
    tiny = librosa.util.tiny(wss)
    return np.where(wss > tiny, 1.0 / np.maximum(wss, tiny), 1.0).astype(np.float32)


@numba.njit(cache=True, nogil=True, parallel=True)
def _apply_soft_mask(stft: np.ndarray, keep: np.ndarray, other: np.ndarray) -> np.ndarray:
    """``stft * keep**2 / (keep**2 + other**2)`` (0 where both are 0) in one parallel pass.

    librosa.util.softmask with power 2 and ``split_zeros=False``, fused with the product.
    """
    n_bins, n_frames = stft.shape
    out = np.empty((n_frames, n_bins), dtype=stft.dtype).T  # same (Fortran) layout as the STFT
    for t in numba.prange(n_frames):
        for f in range(n_bins):
            a = keep[f, t] * keep[f, t]
            total = a + other[f, t] * other[f, t]
            out[f, t] = stft[f, t] * (a / total) if total > 0 else 0
    return out
