"""Audio input: decode any common file to mono float32 at a chosen rate, and cut it into windows.

Every file format goes through libsndfile (via :mod:`soundfile`): wav, flac, ogg/vorbis, mp3
(libsndfile >= 1.1), aiff and au. No ffmpeg is needed. Resampling uses soxr, as librosa does.
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile as sf
import soxr

from core.config import (
    AUDIO_EXTENSIONS,
    MAX_DURATION_S,
    MIN_DURATION_S,
    SEGMENT_SECONDS,
    SILENCE_PEAK,
)
from core.errors import AudioError, ParameterError

AudioSource = str | Path | bytes | BinaryIO

#: Audio missing at the end of a file, beyond which :func:`decode_audio` calls it truncated:
#: more than this many seconds, and more than :data:`TRUNCATED_SHARE` of what the header declares.
TRUNCATED_SECONDS = 0.5
TRUNCATED_SHARE = 0.01

# libsndfile's log line for a WAV/AIFF data chunk longer than the file: "data : 882000 (should
# be 440978)". Streaming writers that cannot seek back declare a size near the format's limit
# instead (0xFFFFFFFF, 0xFFFFFFFF less the header, sox's 0x7FFFF000): "unknown", not "longer
# than the file".
_CHUNK_SIZE_MISMATCH = re.compile(r"^\s*(?:data|SSND)\s*:\s*(\d+)\s*\(should be (\d+)\)",
                                  re.MULTILINE)
_UNKNOWN_SIZE_FROM = 0x7FFFF000


@dataclass(frozen=True)
class DecodedAudio:
    """A decoded waveform, and what decoding noticed about the file."""

    #: Mono float32 waveform in [-1, 1].
    y: np.ndarray
    #: Its sample rate in Hz.
    sr: int
    #: Things a user should know about the answer for this audio, one sentence each (e.g. that
    #: the file ends before the length its header declares); empty for a sound file.
    notes: tuple[str, ...] = ()

    @property
    def duration_s(self) -> float:
        return len(self.y) / self.sr


def describe_source(source: AudioSource, name: str | None = None) -> str:
    """A short human name for an audio source, used in error messages."""
    if name:
        return name
    if isinstance(source, str | Path):
        return Path(source).name
    return "the uploaded audio"


def check_extension(name: str) -> None:
    """Raise :class:`AudioError` unless ``name`` ends in an extension GenreLab reads.

    Raises
    ------
    AudioError
        With ``reason="unsupported"``, listing the supported extensions.
    """
    suffix = Path(name).suffix.lower()
    if suffix not in AUDIO_EXTENSIONS:
        supported = ", ".join(ext.lstrip(".") for ext in AUDIO_EXTENSIONS)
        shown = suffix or "no extension"
        raise AudioError(
            f"{name}: unsupported file type ({shown}); GenreLab reads {supported}.",
            reason="unsupported",
        )


def load_audio(
    source: AudioSource,
    *,
    sr: int,
    offset: float = 0.0,
    duration: float | None = None,
    min_duration: float = MIN_DURATION_S,
    max_duration: float | None = MAX_DURATION_S,
    name: str | None = None,
) -> np.ndarray:
    """Decode audio to a mono float32 waveform in [-1, 1] at ``sr`` Hz.

    The waveform of :func:`decode_audio` (which see for the parameters and errors), without
    its notes.

    Returns
    -------
    y : np.ndarray [shape=(n,), dtype=float32]
        Mono waveform; channels are averaged.
    """
    return decode_audio(source, sr=sr, offset=offset, duration=duration,
                        min_duration=min_duration, max_duration=max_duration, name=name).y


def header_seconds(path: str | os.PathLike[str]) -> float | None:
    """The length of an audio file in seconds from its header, without decoding it (None when
    the file cannot be opened or its header does not tell)."""
    try:
        info = sf.info(str(path))
    except Exception:  # a bad file: decoding it then says why
        return None
    return float(info.frames) / info.samplerate if info.samplerate and info.frames > 0 else None


def middle_offset(total_s: float | None, seconds: float) -> float:
    """Where the middle ``seconds`` of a ``total_s``-long song start, in seconds (0 for a song
    no longer than that, or of unknown length): what ``--max-seconds`` reads."""
    return max(0.0, (total_s - seconds) / 2) if total_s else 0.0


def decode_audio(
    source: AudioSource,
    *,
    sr: int,
    offset: float = 0.0,
    duration: float | None = None,
    min_duration: float = MIN_DURATION_S,
    max_duration: float | None = MAX_DURATION_S,
    name: str | None = None,
) -> DecodedAudio:
    """Decode audio to a mono float32 waveform in [-1, 1] at ``sr`` Hz, with notes on the file.

    A file that ends before the length its header declares (a download cut short, a copy
    interrupted) is decoded as far as it goes, and a note says how much of it is there:
    libsndfile reads a WAV or AIFF whose data chunk is longer than the file, and an mp3 whose
    frame count (its Xing/LAME header) promises more than decodes, without an error.

    Parameters
    ----------
    source : str, Path, bytes or binary file object
        A file path, the file's bytes, or an open binary file.
    sr : int > 0
        Target sample rate in Hz. Audio at another rate is resampled with soxr (high quality).
    offset : float >= 0
        Start reading this many seconds into the file.
    duration : float > 0 or None
        Read at most this many seconds (None: to the end).
    min_duration : float >= 0
        Refuse audio shorter than this many seconds (after ``offset``/``duration``).
    max_duration : float or None
        Refuse audio whose decoded span would exceed this many seconds, before decoding it.
    name : str or None
        Name used in error messages (defaults to the file name).

    Returns
    -------
    DecodedAudio
        ``y`` (shape (n,), float32: the channels averaged), ``sr``, and ``notes``.

    Raises
    ------
    AudioError
        The source is not audio, is corrupt or empty, holds NaN/inf samples, is silent, or is
        shorter than ``min_duration`` / longer than ``max_duration``. ``reason`` says which.
    ParameterError
        ``sr``, ``offset`` or ``duration`` is out of range.
    """
    if sr <= 0:
        raise ParameterError(f"sr must be a positive sample rate in Hz, got {sr!r}")
    if offset < 0:
        raise ParameterError(f"offset must be >= 0 seconds, got {offset!r}")
    if duration is not None and duration <= 0:
        raise ParameterError(f"duration must be > 0 seconds or None, got {duration!r}")

    label = describe_source(source, name)
    if isinstance(source, str | Path):
        path = Path(source)
        try:
            if path.is_dir():
                raise AudioError(f"{label}: is a folder, not an audio file.", reason="missing")
            check_extension(str(source))
            if not path.is_file():
                raise AudioError(f"{label}: no such file.", reason="missing")
            size = path.stat().st_size
        except OSError as exc:  # e.g. a name too long for the file system, no permission
            raise AudioError(f"{label}: cannot open it ({exc.strerror or exc}).",
                             reason="missing") from exc
        if size == 0:
            raise AudioError(f"{label}: the file is empty (0 bytes).", reason="empty")
        handle: str | BinaryIO = str(path)
    elif isinstance(source, bytes | bytearray | memoryview):
        if len(source) == 0:
            raise AudioError(f"{label}: the file is empty (0 bytes).", reason="empty")
        handle = io.BytesIO(bytes(source))
    else:
        handle = source

    native_sr, data, declared = _decode(handle, label, offset, duration, max_duration)
    if data.shape[0] == 0:
        raise AudioError(f"{label}: the file holds no audio samples.", reason="empty")
    if not np.isfinite(data).all():
        raise AudioError(
            f"{label}: the audio contains NaN or infinite sample values.", reason="non-finite"
        )
    mono = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    y = (soxr.resample(mono, native_sr, sr, quality="HQ").astype(np.float32, copy=False)
         if native_sr != sr else mono)
    y = np.clip(y, -1.0, 1.0, out=y if y.flags.writeable else None)
    seconds = y.shape[0] / sr
    if seconds < min_duration:
        raise AudioError(
            f"{label}: {np.floor(seconds * 100 + 1e-6) / 100:.2f} s of audio is shorter than the minimum "
            f"of {min_duration:g} s.",  # rounded down: 0.49995 s never reads "0.50 s ... 0.5 s"
            reason="too-short",
        )
    if float(np.max(np.abs(y))) < SILENCE_PEAK:
        cancelled = (data.shape[1] > 1  # e.g. one channel the other inverted
                     and float(np.max(np.abs(mono))) < SILENCE_PEAK <= float(np.max(np.abs(data))))
        if cancelled:
            raise AudioError(f"{label}: its channels cancel out when mixed to mono (one is the "
                             "other inverted?); GenreLab hears the mono mix, which is silent.",
                             reason="silent")
        raise AudioError(f"{label}: the audio is silent.", reason="silent")
    notes = ()
    decoded_s, declared_s = data.shape[0] / native_sr, declared / native_sr
    if declared_s - decoded_s > max(TRUNCATED_SECONDS, TRUNCATED_SHARE * declared_s):
        part = "" if offset == 0 and duration is None else " for the part read"
        notes = (f"{label}: only {_seconds(decoded_s)} of the {_seconds(declared_s)} its header "
                 f"declares{part} could be decoded (a truncated file?); what decodes is used.",)
    return DecodedAudio(np.ascontiguousarray(y, dtype=np.float32), sr, notes)


def _seconds(value: float) -> str:
    minutes, seconds = divmod(round(value, 1), 60)
    return f"{seconds:.1f} s" if not minutes else f"{int(minutes)}:{seconds:04.1f} min"


def _decode(
    handle: str | BinaryIO,
    label: str,
    offset: float,
    duration: float | None,
    max_duration: float | None,
) -> tuple[int, np.ndarray, int]:
    """Decode the requested span with libsndfile; map its errors to :class:`AudioError`.

    Returns the native sample rate, the samples (frames x channels), and how many frames the
    file's header declares for the span (more than were decoded when the file is truncated).
    """
    try:
        with sf.SoundFile(handle) as f:
            native_sr = int(f.samplerate)
            total = int(f.frames)
            start = min(round(offset * native_sr), total)
            frames = total - start
            if duration is not None:
                frames = min(frames, round(duration * native_sr))
            if max_duration is not None and frames > max_duration * native_sr:
                raise AudioError(
                    f"{label}: {frames / native_sr / 60:.1f} minutes of audio is longer than the "
                    f"limit of {max_duration / 60:g} minutes; classify part of it instead (a "
                    "shorter cut; on the command line `predict --max-seconds N`, or `tag "
                    "--max-seconds N` for a library).",
                    reason="too-long",
                )
            if start:
                f.seek(start)
            data = f.read(frames, dtype="float32", always_2d=True)
            declared = _declared_frames(f.extra_info, total) - start
            if duration is not None:
                declared = min(declared, round(duration * native_sr))
            declared = max(declared, frames)
    except AudioError:
        raise
    except sf.LibsndfileError as exc:
        detail = (getattr(exc, "error_string", "") or str(exc)).strip().rstrip(".")
        if "format not recognised" in detail.lower() or "unknown format" in detail.lower():
            raise AudioError(
                f"{label}: not an audio file GenreLab can read (unrecognised format).",
                reason="not-audio",
            ) from None
        if "does not exist" in detail or "not a regular file" in detail:
            detail = "its header cannot be parsed"  # libsndfile's words for unparsable data
        raise AudioError(f"{label}: the audio file is corrupt or truncated ({detail}).",
                         reason="corrupt") from None
    except (RuntimeError, ValueError, EOFError, OSError) as exc:
        raise AudioError(f"{label}: the audio file is corrupt or truncated ({exc}).",
                         reason="corrupt") from None
    return native_sr, data, declared


def _declared_frames(log: str, frames: int) -> int:
    """Frames a WAV/AIFF header declares, where libsndfile found a shorter data chunk.

    libsndfile opens such a file with the frames that are there (``frames``) and logs the
    chunk's declared and actual byte sizes; the declared frames are in the same proportion.
    """
    match = _CHUNK_SIZE_MISMATCH.search(log)
    if match is None:
        return frames
    declared, actual = int(match.group(1)), int(match.group(2))
    if declared >= _UNKNOWN_SIZE_FROM or not 0 < actual < declared:
        return frames
    return round(frames * declared / actual)


def segment_bounds(
    n_samples: int,
    *,
    sr: int,
    segment_seconds: float = SEGMENT_SECONDS,
    hop_seconds: float | None = None,
    min_tail: float = 0.5,
) -> np.ndarray:
    """Start and stop samples of the fixed-length analysis windows of a signal.

    Policy
    ------
    - Windows of ``segment_seconds`` start at 0 and every ``hop_seconds`` (default: no overlap).
    - Tail: if at least ``min_tail`` of a window is left after the last full window, one more
      window is added, aligned to the end of the signal (it overlaps its neighbour). A shorter
      tail is dropped.
    - A signal shorter than one window gives one window ``(0, n_samples)``, shorter than the
      window length; :func:`segment_audio` zero-pads it.

    Parameters
    ----------
    n_samples : int > 0
        Length of the signal in samples.
    sr : int > 0
        Sample rate in Hz.
    segment_seconds : float > 0
        Window length in seconds.
    hop_seconds : float > 0 or None
        Distance between window starts in seconds (None: ``segment_seconds``).
    min_tail : float in [0, 1]
        Fraction of a window the leftover tail must reach to get a window of its own.

    Returns
    -------
    bounds : np.ndarray [shape=(n_windows, 2), dtype=int64]
        ``[start, stop)`` sample indices of each window.
    """
    if segment_seconds <= 0:
        raise ParameterError(f"segment_seconds must be > 0, got {segment_seconds!r}")
    hop_seconds = segment_seconds if hop_seconds is None else hop_seconds
    if hop_seconds <= 0:
        raise ParameterError(f"hop_seconds must be > 0, got {hop_seconds!r}")
    if not 0.0 <= min_tail <= 1.0:
        raise ParameterError(f"min_tail must be in [0, 1], got {min_tail!r}")
    if n_samples <= 0:
        raise ParameterError(f"n_samples must be > 0, got {n_samples!r}")
    length = max(1, round(segment_seconds * sr))
    hop = max(1, round(hop_seconds * sr))
    if n_samples <= length:
        return np.array([[0, n_samples]], dtype=np.int64)
    starts = np.arange(0, n_samples - length + 1, hop, dtype=np.int64)
    last_stop = int(starts[-1]) + length
    if n_samples - last_stop >= min_tail * length and n_samples - last_stop > 0:
        starts = np.append(starts, n_samples - length)
    return np.stack([starts, starts + length], axis=1)


def segment_audio(
    y: np.ndarray,
    *,
    sr: int,
    segment_seconds: float = SEGMENT_SECONDS,
    hop_seconds: float | None = None,
    min_tail: float = 0.5,
) -> np.ndarray:
    """Cut a waveform into fixed-length windows (see :func:`segment_bounds` for the policy).

    Returns
    -------
    segments : np.ndarray [shape=(n_windows, round(segment_seconds * sr)), dtype=float32]
        A signal shorter than one window is zero-padded at the end to the window length.
    """
    bounds = segment_bounds(
        len(y), sr=sr, segment_seconds=segment_seconds, hop_seconds=hop_seconds, min_tail=min_tail
    )
    length = max(1, round(segment_seconds * sr))
    out = np.zeros((len(bounds), length), dtype=np.float32)
    for row, (start, stop) in zip(out, bounds, strict=True):
        row[: stop - start] = y[start:stop]
    return out


def normalize_peak(segments: np.ndarray, *, floor: float = SILENCE_PEAK) -> np.ndarray:
    """Scale each window so that its largest absolute sample is 1.

    This is how the GTZAN excerpts were made, and it makes a spectrogram independent of the
    recording's gain: the same music 10 dB quieter gives the same features.

    Parameters
    ----------
    segments : np.ndarray [shape=(n_windows, n_samples)]
    floor : float > 0
        Windows whose peak is below this (digital silence) are left as they are rather than
        amplified into noise.

    Returns
    -------
    np.ndarray [shape=(n_windows, n_samples), dtype=float32]
    """
    segments = np.asarray(segments, dtype=np.float32)
    peak = np.max(np.abs(segments), axis=1, keepdims=True)
    return segments / np.where(peak >= floor, peak, 1.0).astype(np.float32)
