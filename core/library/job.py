"""The one tagging job: a song's path in, a database row out.

:func:`tag_file` is what every engine runs (in this process, in a local process pool, in Ray
actors): decode the part of the song the analysis asks for, run every model of the set, and
return one row of the ``predictions`` table. It never raises for a bad file: the row then holds
the reason (``error_reason``: ``corrupt``, ``not-audio``, ``too-long``...).

What is analysed (:class:`TagSpec`):

- whole songs (default), up to :data:`core.config.MAX_DURATION_S`;
- ``max_seconds=N``: the N seconds in the middle of the song (intros and fades say little about
  the genre); a shorter song is analysed whole;
- ``windows=K``: K 3-s windows spread evenly from the start to the end of the song, read with
  seeks (the rest is never decoded) and joined end to end. The mel-CNN and YAMNet cut their
  input into 3-s segments, so each of their segments is exactly one window and their answer
  equals the mean of per-window predictions; the MFCC-MLP summarises the joined windows as one
  stretch of audio, whose tempo estimate sees the joins. A song shorter than K windows is
  analysed whole.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.audio import header_seconds, load_audio, middle_offset
from core.config import FEATURE_SR, MIN_DURATION_S, SEGMENT_SECONDS
from core.errors import AudioError, GenreLabError, ModelError, ParameterError

__all__ = ["ModelSetInfo", "TagSpec", "TagTask", "init_worker", "limit_threads",
           "model_set_info", "read_for_tagging", "run_task", "tag_file", "window_starts"]


@dataclass(frozen=True)
class TagSpec:
    """What to run and on how much of each song (picklable: it travels to every worker).

    Parameters
    ----------
    models_dir : str or None
        Folder of model folders (None: the bundled set).
    yamnet_handle : str or None
        YAMNet to use (None: what each head was trained on / the bundled one).
    max_seconds : float > 0 or None
        Analyse the middle ``max_seconds`` of each song.
    windows : int >= 1 or None
        Analyse ``windows`` evenly spread 3-s windows of each song.
    """

    models_dir: str | None = None
    yamnet_handle: str | None = None
    max_seconds: float | None = None
    windows: int | None = None

    def __post_init__(self) -> None:
        if self.max_seconds is not None and self.windows is not None:
            raise ParameterError("give --max-seconds or --windows, not both")
        if self.max_seconds is not None and not self.max_seconds >= MIN_DURATION_S:
            raise ParameterError(f"max_seconds must be at least {MIN_DURATION_S:g}, got "
                                 f"{self.max_seconds!r}")
        if self.windows is not None and self.windows < 1:
            raise ParameterError(f"windows must be at least 1, got {self.windows!r}")

    @property
    def analysis(self) -> str:
        """How much of each song is analysed, as stored in the database (part of the key under
        which a prediction is reused: ``whole``, ``middle-30s``, ``windows-5x3s``)."""
        if self.max_seconds is not None:
            return f"middle-{self.max_seconds:g}s"
        if self.windows is not None:
            return f"windows-{self.windows}x{SEGMENT_SECONDS:g}s"
        return "whole"


@dataclass(frozen=True)
class TagTask:
    """One song to tag: the content hash it is stored under and a path to read it from."""

    content_hash: str
    path: str


@dataclass(frozen=True)
class ModelSetInfo:
    """The identity of a model set: same id, same answers.

    Attributes
    ----------
    id : str
        First 16 hex digits of a sha256 over each model's folder name and ``metadata.json``
        (which records its weights' sha256), the ensemble's ``ensemble.json`` and, when a
        YAMNet model is present, the YAMNet handle in effect.
    name : str
        The folder's name (``models`` for the bundled set).
    path : str
        The folder.
    members : dict of str to str
        Each model folder's weights sha256 (``""`` where its metadata records none).
    """

    id: str
    name: str
    path: str
    members: dict[str, str]


def model_set_info(directory: str | os.PathLike[str] | None = None, *,
                   yamnet_handle: str | None = None) -> ModelSetInfo:
    """Identify a model set from its files, without loading any network.

    Raises
    ------
    ModelError
        The folder is missing or holds no models.
    """
    from core.predict import BUNDLED_MODELS
    from core.registry import METADATA, model_folders

    root = Path(directory).expanduser() if directory is not None else BUNDLED_MODELS
    if not root.is_dir():
        raise ModelError(f"model folder not found: {root}")
    folders = model_folders(root)
    if not folders:
        raise ModelError(f"no models in {root} (train some with `python -m core train`)")
    digest = hashlib.sha256()
    members, families = {}, set()
    for folder in folders:
        raw = (folder / METADATA).read_bytes()
        try:
            meta = json.loads(raw)
        except ValueError:
            raise ModelError(f"{folder / METADATA} is not valid JSON") from None
        members[folder.name] = str(meta.get("weights_sha256", ""))
        families.add(meta.get("family"))
        digest.update(f"{folder.name}\0".encode() + hashlib.sha256(raw).digest())
    ensemble = root / "ensemble.json"
    if ensemble.is_file():
        digest.update(b"ensemble\0" + hashlib.sha256(ensemble.read_bytes()).digest())
    if "yamnet" in families:
        from core.models.yamnet import resolve_handle

        digest.update(f"yamnet\0{resolve_handle(yamnet_handle)}".encode())
    return ModelSetInfo(digest.hexdigest()[:16], root.name, str(root.resolve()), members)


def window_starts(total_s: float, windows: int, *, window_s: float = SEGMENT_SECONDS
                  ) -> np.ndarray:
    """Start times (s) of ``windows`` windows spread evenly from the start to the end of a song
    of ``total_s`` seconds: the first starts at 0, the last ends at the end.

    Returns
    -------
    np.ndarray [shape=(windows,)]
        Empty when the song is not longer than the windows together (analyse it whole).
    """
    if total_s <= windows * window_s:
        return np.zeros(0)
    return np.linspace(0.0, total_s - window_s, windows)


def read_for_tagging(path: str, spec: TagSpec) -> tuple[np.ndarray, float]:
    """The audio of ``path`` that ``spec`` analyses, and the song's whole duration.

    Returns
    -------
    y : np.ndarray [shape=(n,), dtype=float32]
        Mono audio at :data:`core.config.FEATURE_SR`.
    duration_s : float
        Length of the whole song in seconds.

    Raises
    ------
    AudioError
        The file cannot be used (see :func:`core.audio.load_audio`).
    """
    sr = FEATURE_SR
    total = header_seconds(path) if (spec.max_seconds or spec.windows) else None
    if total is None:  # whole songs, or a header the partial reads cannot trust
        y = load_audio(path, sr=sr)
        duration = len(y) / sr
        if spec.max_seconds is not None and duration > spec.max_seconds:
            start = round(middle_offset(duration, spec.max_seconds) * sr)
            y = y[start:start + round(spec.max_seconds * sr)]
        elif spec.windows:
            starts = window_starts(duration, spec.windows)
            if len(starts):
                n = round(SEGMENT_SECONDS * sr)
                y = np.concatenate([y[round(s * sr):round(s * sr) + n] for s in starts])
        return np.ascontiguousarray(y), duration
    if spec.max_seconds is not None:
        return load_audio(path, sr=sr, offset=middle_offset(total, spec.max_seconds),
                          duration=spec.max_seconds), total
    starts = window_starts(total, int(spec.windows or 1))
    if not len(starts):
        return load_audio(path, sr=sr), total
    parts = []
    for start in starts:
        try:  # a quiet window alone is not an error; a song that is silent throughout is
            parts.append(load_audio(path, sr=sr, offset=float(start), duration=SEGMENT_SECONDS,
                                    min_duration=0.0))
        except AudioError as exc:
            if exc.reason != "silent":
                raise
            parts.append(np.zeros(round(SEGMENT_SECONDS * sr), np.float32))
    y = np.concatenate(parts)
    if not np.any(np.abs(y) >= 1e-4):
        raise AudioError(f"{Path(path).name}: the audio is silent.", reason="silent")
    return y, total


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def tag_file(models: Any, task: TagTask, spec: TagSpec, *,
             threads: int | None = None) -> dict[str, Any]:
    """Tag one song with a loaded model set; the row for the ``predictions`` table.

    Parameters
    ----------
    models : core.predict.ModelSet
        The loaded models and their ensemble.
    task : TagTask
    spec : TagSpec
    threads : int, optional
        How many models answer at once (:func:`core.predict.predict_waveform`; None: all).

    Returns
    -------
    dict
        Keys of :data:`core.library.store.PREDICTION_COLUMNS` except ``model_set``,
        ``analysis`` and ``run_id`` (the driver adds them). A file that cannot be tagged gives
        a row with ``error_reason`` and ``error`` set and no genre.
    """
    from core.predict import predict_waveform

    start = time.perf_counter()
    row: dict[str, Any] = {"content_hash": task.content_hash, "path": task.path,
                           "worker": _worker_name()}
    try:
        y, duration = read_for_tagging(task.path, spec)
        row["duration_s"] = round(duration, 3)
        row["analysed_s"] = round(len(y) / FEATURE_SR, 3)
        prediction = predict_waveform(models.models, y, FEATURE_SR, ensemble=models.ensemble,
                                      threads=threads)
    except AudioError as exc:  # the row is the content's: any copy of it shows the reason
        row.update(error_reason=exc.reason, error=_without_name(str(exc), task.path))
    except GenreLabError as exc:
        row.update(error_reason="error", error=_without_name(str(exc), task.path))
    except Exception as exc:  # one odd file must never stop a run over a whole library
        row.update(error_reason="internal", error=f"{type(exc).__name__}: {exc}")
    else:
        row["models"] = {
            name: {"genre": p.genre,
                   "confidence": round(float(np.max(p.proba)), 6),
                   "probabilities": {g: round(float(v), 6)
                                     for g, v in zip(p.genres, p.proba, strict=True)}}
            for name, p in prediction.models.items()}
        row["model_errors"] = dict(prediction.errors) or None
        if prediction.ensemble is None:
            row.update(error_reason="models-failed",
                       error="; ".join(f"{k}: {v}" for k, v in prediction.errors.items())
                       or "no model answered")
        else:
            row.update(
                genre=prediction.ensemble_genre, verdict=prediction.verdict,
                confidence=round(float(prediction.confidence or 0.0), 6),
                threshold=round(float(prediction.threshold), 6),
                uncertain=prediction.uncertain, agree=prediction.agree,
                method=prediction.ensemble_method,
                probabilities={g: round(float(v), 6)
                               for g, v in zip(prediction.genres, prediction.ensemble,
                                               strict=True)})
    row["seconds"] = round(time.perf_counter() - start, 4)
    return row


def _without_name(message: str, path: str) -> str:
    """``message`` without its leading file name: a prediction row belongs to a song's content,
    which other files (copies, renamed files) share, each shown beside its own path."""
    return message.removeprefix(f"{Path(path).name}: ")


# ---------------------------------------------------------------- worker processes and actors
_WORKER: dict[str, Any] = {}


def limit_threads(threads: int) -> None:
    """Let this process use ``threads`` threads for numerics (TensorFlow, numba, BLAS), so that
    several workers on one machine do not fight over its cores. Call before models load."""
    threads = max(1, int(threads))
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        import numba

        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    except (ImportError, ValueError):
        pass
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=threads)
    except ImportError:
        pass
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # TensorFlow already started in this process: keep its pools
        pass


def init_worker(spec: TagSpec, threads: int | None = None) -> str:
    """Load the model set once in a worker process (pool initializer, actor constructor).

    ``threads`` (None: leave the process's defaults) caps its numeric threads
    (:func:`limit_threads`) and how many models answer a song at once.

    A model set that does not load is remembered and reported by :func:`run_task`, so the
    driver stops with the message instead of a broken pool.
    """
    from core.predict import load_models, warm_up

    if threads:
        limit_threads(threads)
    try:
        loaded = load_models(spec.models_dir, yamnet_handle=spec.yamnet_handle)
        if not loaded.models:
            raise ModelError("no usable models: " + "; ".join(loaded.errors.values()))
        warm_up(loaded.models)
        _WORKER.update(models=loaded, spec=spec, threads=threads, error=None)
    except GenreLabError as exc:
        _WORKER.update(models=None, spec=spec, threads=threads, error=str(exc))
    return _worker_name()


def check_worker() -> str:
    """This worker's name, once :func:`init_worker` has loaded its models.

    Raises
    ------
    ModelError
        The worker's models could not be loaded, or it was never initialised.
    """
    if _WORKER.get("error"):
        raise ModelError(f"a worker could not load the models: {_WORKER['error']}")
    if _WORKER.get("models") is None:
        raise ModelError("the worker was not initialised (init_worker)")
    return _worker_name()


def run_task(task: TagTask) -> dict[str, Any]:
    """Tag one song with the models :func:`init_worker` loaded in this process.

    Raises
    ------
    ModelError
        The worker's models could not be loaded (the whole run must stop).
    """
    check_worker()
    return tag_file(_WORKER["models"], task, _WORKER["spec"], threads=_WORKER.get("threads"))
