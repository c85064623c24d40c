"""YAMNet-embedding: Google's pretrained YAMNet turns 16 kHz audio into 1024-d embeddings.

YAMNet is loaded from a *handle*: ``bundled:yamnet-int8`` (the default: the int8 TFLite YAMNet
shipped in ``assets/encoders/yamnet-int8/``, so a machine with no network has YAMNet), a TF Hub
URL (e.g. :data:`TFHUB_HANDLE`, Google's float YAMNet v1) or a local SavedModel folder, both loaded
with ``tensorflow_hub.load()`` (never ``hub.KerasLayer``, which breaks under Keras 3), or any
``.tflite`` file that maps one 15600-sample window to ``[scores, embedding]``. The handle comes
from the argument, else ``GENRELAB_YAMNET_HANDLE``, else the default.

Encoder and head are separate artefacts: a trained head records the encoder it was trained on
(handle and sha256, :func:`encoder_identity`) and refuses, with an explanation, to run on another
encoder's embeddings (:func:`check_encoder`). Zero-shot answers work with any YAMNet.

Frames: YAMNet emits one frame per 0.48 s (0.96-s patches). A segment's row holds the frames
whose centre falls in it (embedding and AudioSet class scores of each); rows are cached per file.

The head is one softmax layer (the research found a hidden layer hurts) on a frame's embedding
and class scores, so it can use YAMNet's own genre evidence. It trains on every frame, labelled
with its track's genre, and a segment's probabilities are the mean of its frames' (on GTZAN
excerpts this beat a head on the segment's mean embedding by about 0.02). Its L2 strength is
chosen on validation tracks. Without a trained head the model predicts *zero-shot*: each genre's
score is the sum of the segment's mean AudioSet class scores mapped to it (e.g. rock <- Rock
music, Rock and roll, Punk rock, ...), normalised over the genres.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import os
import threading
import time
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from core.atomic import file_sha256
from core.audio import normalize_peak, segment_bounds
from core.cache import FeatureCache
from core.config import SEGMENT_SECONDS, YAMNET_SR
from core.datasets import Dataset
from core.errors import ModelError, ParameterError
from core.evaluation import aggregate_tracks
from core.models.base import GenreModel, Rows, featurize_encoded_dataset
from core.models.head import PROBE_L2, build_linear_head, genre_key, train_linear_probe, zero_shot_proba
from core.resample import to_rate

TFHUB_HANDLE = "https://tfhub.dev/google/yamnet/1"
BUNDLED_HANDLE = "bundled:yamnet-int8"
DEFAULT_HANDLE = BUNDLED_HANDLE
#: Where ``bundled:NAME`` handles point: ``assets/encoders/NAME/``.
ENCODERS_DIR = Path(__file__).resolve().parents[2] / "assets" / "encoders"
BUNDLED_FILES = {"yamnet-int8": "yamnet-int8-embeddings.tflite"}
HANDLE_ENV = "GENRELAB_YAMNET_HANDLE"
EMBEDDING_DIM = 1024
N_CLASSES = 521
WINDOW = 15600  # samples of one YAMNet patch (0.975 s at 16 kHz)
HOP = 7680  # 0.48 s

#: AudioSet display names mapped onto common genre names (lower case, no punctuation).
GENRE_CLASSES: dict[str, tuple[str, ...]] = {
    "blues": ("Blues",),
    "classical": ("Classical music", "Opera"),
    "country": ("Country", "Bluegrass"),
    "disco": ("Disco",),
    "hiphop": ("Hip hop music",),
    "jazz": ("Jazz", "Swing music"),
    "metal": ("Heavy metal",),
    "pop": ("Pop music",),
    "reggae": ("Reggae", "Ska"),
    "rock": ("Rock music", "Rock and roll", "Punk rock", "Grunge", "Progressive rock",
             "Psychedelic rock"),
    "electronic": ("Electronic music", "Electronica", "Electronic dance music", "House music",
                   "Techno", "Dubstep", "Trance music", "Drum and bass"),
    "folk": ("Folk music", "Traditional music"),
    "funk": ("Funk",),
    "soul": ("Soul music", "Rhythm and blues"),
    "rnb": ("Rhythm and blues", "Soul music"),
    "randb": ("Rhythm and blues", "Soul music"),
    "drumandbass": ("Drum and bass",),
    "drumnbass": ("Drum and bass",),
    "dnb": ("Drum and bass",),
    "edm": ("Electronic dance music", "House music", "Techno", "Trance music", "Dubstep",
            "Drum and bass"),
    "latina": ("Music of Latin America", "Salsa music", "Flamenco"),
    "musicalatina": ("Music of Latin America", "Salsa music", "Flamenco"),
    "gospel": ("Gospel music", "Christian music"),
    "latin": ("Music of Latin America", "Salsa music", "Flamenco"),
    "ambient": ("Ambient music", "New-age music"),
    "punk": ("Punk rock",),
    "international": ("Music of Africa", "Music of Asia", "Middle Eastern music",
                      "Music of Latin America", "Music of Bollywood", "Carnatic music"),
    "instrumental": ("Classical music", "Ambient music", "Soundtrack music"),
}


#: Genre families whose music :meth:`YamnetEmbedding.outside_genre` reports when a model set has
#: no genre for them (keys of :data:`GENRE_CLASSES`).
DISTINCT_FAMILIES = ("electronic",)


def resolve_handle(handle: str | None = None) -> str:
    """The YAMNet handle to use: the argument, else ``$GENRELAB_YAMNET_HANDLE``, else the bundled one."""
    return handle or os.environ.get(HANDLE_ENV) or DEFAULT_HANDLE


def handle_location(handle: str) -> str:
    """What a handle loads from: ``bundled:NAME`` becomes its file in ``assets/encoders/``."""
    if handle.startswith("bundled:"):
        name = handle.removeprefix("bundled:")
        if name not in BUNDLED_FILES:
            raise ModelError(f"unknown bundled YAMNet {handle!r} (known: "
                             + ", ".join(f"bundled:{n}" for n in BUNDLED_FILES) + ")")
        return str(ENCODERS_DIR / name / BUNDLED_FILES[name])
    return handle


_IDENTITIES: dict[str, dict[str, str | None]] = {}


def encoder_identity(handle: str) -> dict[str, str | None]:
    """``{"handle", "sha256"}`` of a YAMNet: the file's checksum (a SavedModel folder's
    ``saved_model.pb``), or None for a URL, which cannot be checked without loading it."""
    if handle not in _IDENTITIES:
        location = Path(handle_location(handle))
        target = location / "saved_model.pb" if location.is_dir() else location
        sha = file_sha256(target) if target.is_file() else None
        _IDENTITIES[handle] = {"handle": handle, "sha256": sha}
    return dict(_IDENTITIES[handle])


def check_encoder(trained_on: dict[str, Any] | None, handle: str) -> str | None:
    """Refuse to run a head on another encoder's embeddings.

    Parameters
    ----------
    trained_on : dict or None
        The :func:`encoder_identity` recorded when the head was trained (None: an old model
        that recorded none).
    handle : str
        The handle the head is about to use.

    Returns
    -------
    str or None
        A warning where the match cannot be proven (a URL, or nothing recorded); None when the
        checksums match.

    Raises
    ------
    ModelError
        Both checksums are known and differ.
    """
    now = encoder_identity(handle)
    if not trained_on:
        return (f"this head does not record the YAMNet it was trained on; using {handle}: "
                "retrain it if its answers look wrong")
    if trained_on.get("sha256") and now["sha256"]:
        if trained_on["sha256"] != now["sha256"]:
            raise ModelError(
                f"this YAMNet head was trained on the embeddings of {trained_on['handle']} "
                f"(sha256 {trained_on['sha256'][:12]}...), but YAMNet is set to {handle} "
                f"(sha256 {now['sha256'][:12]}...), not the file it was trained on: another "
                "encoder's embeddings mean other things (and the file may not be a YAMNet at "
                "all). Use the YAMNet the head names (clear the YAMNet handle setting), or "
                "retrain the head on this one")
        return None
    if "://" not in handle and not Path(handle_location(handle)).exists():  # one clear reason
        raise ModelError(f"YAMNet is set to {handle}, which is no file or folder on this machine "
                         "(a TF Hub URL, a SavedModel folder or a .tflite file)")
    if trained_on.get("handle") != handle:
        return (f"this head was trained on {trained_on.get('handle')}; YAMNet is set to {handle}, "
                "which cannot be checked to be the same encoder")
    return None


@functools.lru_cache(maxsize=8)
def _class_index(class_names: tuple[str, ...]) -> dict[str, int]:
    """Index of each class by its :func:`genre_key` (built once per list of class names)."""
    return {genre_key(name): i for i, name in enumerate(class_names)}


def genre_class_map(genres: list[str], class_names: list[str]) -> dict[str, list[int]]:
    """AudioSet class indices for each genre (empty list where YAMNet has no such class)."""
    index = _class_index(tuple(class_names))
    mapping: dict[str, list[int]] = {}
    for genre in genres:
        key = genre_key(genre)
        names = GENRE_CLASSES.get(key, ())
        ids = [index[genre_key(n)] for n in names if genre_key(n) in index]
        if not ids and key in index:
            ids = [index[key]]
        mapping[genre] = ids
    return mapping


def shipped_class_names() -> list[str]:
    """YAMNet's 521 AudioSet class names (display_name column of yamnet_class_map.csv)."""
    with resources.files("core.data").joinpath("yamnet_class_map.csv").open() as fh:
        return [row["display_name"] for row in csv.DictReader(fh)]


class YamnetBackend:
    """A loaded YAMNet: ``frames(y16k)`` gives per-frame class scores and embeddings."""

    handle: str
    class_names: list[str]

    def frames(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Scores (n_frames, 521) and embeddings (n_frames, 1024) of mono 16 kHz float32 audio."""
        raise NotImplementedError


class HubYamnet(YamnetBackend):
    """YAMNet from TF Hub or a SavedModel folder, loaded with ``hub.load()``."""

    def __init__(self, handle: str) -> None:
        import tensorflow as tf
        import tensorflow_hub as hub

        self.handle = handle
        self._tf = tf
        self._model = hub.load(handle)
        self.class_names = shipped_class_names()
        class_map = getattr(self._model, "class_map_path", None)
        if class_map is not None:
            try:
                path = class_map().numpy().decode()
                with tf.io.gfile.GFile(path) as fh:
                    self.class_names = [row["display_name"] for row in csv.DictReader(fh)]
            except (OSError, KeyError, tf.errors.OpError):
                pass

    def frames(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scores, embeddings, _ = self._model(self._tf.constant(y, dtype=self._tf.float32))
        return np.asarray(scores, dtype=np.float32), np.asarray(embeddings, dtype=np.float32)


class TfliteYamnet(YamnetBackend):
    """YAMNet as a ``.tflite`` file: one 15600-sample window in, ``[scores, embedding]`` out."""

    def __init__(self, path: str) -> None:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:  # pragma: no cover - TensorFlow's own interpreter as a fallback
            import tensorflow as tf

            Interpreter = tf.lite.Interpreter
        self.handle = path
        self._lock = threading.Lock()
        self._interpreter = Interpreter(model_path=path)
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]
        outputs = self._interpreter.get_output_details()
        by_size = {int(np.prod(o["shape"])): o for o in outputs}
        if N_CLASSES not in by_size or EMBEDDING_DIM not in by_size:
            raise ModelError(f"{path}: not a YAMNet model (outputs {[o['shape'] for o in outputs]})")
        self._scores, self._embedding = by_size[N_CLASSES], by_size[EMBEDDING_DIM]
        self.class_names = shipped_class_names()

    def _output(self, detail: dict[str, Any]) -> np.ndarray:
        value = self._interpreter.get_tensor(detail["index"]).reshape(-1)
        scale, zero = detail["quantization"]
        if scale:  # int8 tensor: dequantise
            return (value.astype(np.float32) - zero) * scale
        return value.astype(np.float32)

    def frames(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if len(y) < WINDOW:
            y = np.pad(y, (0, WINDOW - len(y)))
        starts = range(0, len(y) - WINDOW + 1, HOP)
        scores = np.empty((len(starts), N_CLASSES), np.float32)
        embeddings = np.empty((len(starts), EMBEDDING_DIM), np.float32)
        with self._lock:
            for i, start in enumerate(starts):
                self._interpreter.set_tensor(self._input["index"],
                                             y[start:start + WINDOW].astype(np.float32))
                self._interpreter.invoke()
                scores[i] = self._output(self._scores)
                embeddings[i] = self._output(self._embedding)
        return scores, embeddings


_BACKENDS: dict[str, YamnetBackend] = {}
_BACKENDS_LOCK = threading.Lock()


def load_yamnet(handle: str | None = None) -> YamnetBackend:
    """Load YAMNet once per handle (thread-safe).

    Raises
    ------
    ModelError
        Naming the handle and how to set another one, when it cannot be loaded (offline,
        missing file, not a YAMNet model).
    """
    handle = resolve_handle(handle)
    with _BACKENDS_LOCK:
        if handle in _BACKENDS:
            return _BACKENDS[handle]
        try:
            location = handle_location(handle)
            if location.endswith(".tflite"):
                if not Path(location).is_file():
                    raise FileNotFoundError(f"no such file: {location}")
                backend: YamnetBackend = TfliteYamnet(location)
            else:
                backend = HubYamnet(location)
            backend.handle = handle
        except ModelError:
            raise
        except Exception as exc:  # hub.load raises many types (OSError, ValueError, HTTP errors)
            reason = (str(exc).strip().splitlines()[0][:200].rstrip(".") if str(exc).strip()
                      else type(exc).__name__)
            raise ModelError(
                f"could not load YAMNet from {handle!r} ({reason}). Set the YAMNet handle (the "
                f"sidebar field, --yamnet-handle or {HANDLE_ENV}) to {BUNDLED_HANDLE} (shipped), a "
                "reachable TF Hub URL, a local SavedModel folder or a YAMNet .tflite file. The "
                "other models keep working."
            ) from None
        _BACKENDS[handle] = backend
        return backend


def max_frames(segment_seconds: float) -> int:
    """Most YAMNet frames whose centre can fall in one segment of ``segment_seconds``."""
    return max(1, int(np.ceil(segment_seconds * YAMNET_SR / HOP)))


def group_frames(scores: np.ndarray, embeddings: np.ndarray, n_samples: int, *,
                 segment_seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """YAMNet's frames grouped by segment, and the segments' times in seconds.

    Parameters
    ----------
    scores : np.ndarray [shape=(n_frames, 521)]
    embeddings : np.ndarray [shape=(n_frames, 1024)]
    n_samples : int
        Length of the 16 kHz waveform the frames came from.
    segment_seconds : float

    Returns
    -------
    rows : np.ndarray [shape=(n_segments, max_frames(segment_seconds), 1024 + 521)]
        For each segment, the embedding then the class scores of each frame centred in it (the
        nearest frame when none is); unused frame slots are NaN.
    times : np.ndarray [shape=(n_segments, 2)]
    """
    bounds = segment_bounds(max(n_samples, 1), sr=YAMNET_SR, segment_seconds=segment_seconds)
    centres = np.arange(len(embeddings)) * HOP + WINDOW / 2
    frames = np.hstack([embeddings, scores]).astype(np.float32)
    rows = np.full((len(bounds), max_frames(segment_seconds), frames.shape[1]), np.nan, np.float32)
    for i, (start, stop) in enumerate(bounds):
        inside = np.flatnonzero((centres >= start) & (centres < stop))
        if not len(inside):
            inside = np.array([np.argmin(np.abs(centres - (start + stop) / 2))])
        inside = inside[:rows.shape[1]]
        rows[i, :len(inside)] = frames[inside]
    return rows, bounds / YAMNET_SR


def present_frames(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The frames of :func:`group_frames` rows that exist, and the row each came from."""
    present = ~np.isnan(rows[..., 0])
    return rows[present], np.nonzero(present)[0]


def mean_frames(rows: np.ndarray) -> np.ndarray:
    """Mean embedding then mean class scores of each segment, shape (n_segments, 1024 + 521)."""
    frames, owner = present_frames(rows)  # every segment has at least one frame
    return aggregate_tracks(frames, owner)[1]


def mean_embedding(rows: np.ndarray) -> np.ndarray:
    """Mean embedding of every frame in :func:`group_frames` rows (e.g. one track's), (1024,)."""
    return present_frames(rows)[0][:, :EMBEDDING_DIM].mean(axis=0)


class YamnetEmbedding(GenreModel):
    """Softmax head on YAMNet frame embeddings; zero-shot over AudioSet genres without a head.

    Parameters
    ----------
    handle : str or None
        YAMNet handle (see module docstring).
    segment_seconds : float
    l2 : float
        L2 penalty on the head's weights (chosen on validation tracks among ``l2`` and
        ``l2_grid`` (default :data:`~core.models.head.PROBE_L2`; ``()`` keeps ``l2``, e.g. for
        out-of-fold copies of a fitted head). The head is a linear probe solved exactly
        (:func:`~core.models.head.train_linear_probe`): ``epochs``, ``patience`` and
        ``learning_rate`` are not used, and ``members`` above 1 would only repeat the same head.
    peak_normalize : bool
        Scale the clip to a peak of 1 before YAMNet (as the GTZAN excerpts are). YAMNet itself
        hears loudness: without this the bundled head fell from 0.744 to 0.605 on its test files
        played 20 dB quieter. Models saved before the option existed load without it.
    zero_shot_reduce : {"max", "sum"}
        How the zero-shot answer combines a genre's AudioSet classes (:data:`GENRE_CLASSES`):
        the strongest (default) or their sum. YAMNet's scores are independent sigmoids and a
        genre's classes overlap others' (AudioSet files Heavy metal, Punk rock and Grunge under
        Rock music), so a sum lets a genre with six classes outvote one with a single class:
        on the bundled split's 366 train + validation files the sum found 1 of the 37 metal
        files (accuracy 0.609 in all, log-loss 1.537), the strongest class 10 (rock 15 of 37
        instead of 20; accuracy 0.637, log-loss 1.478). Models saved before the option existed
        load with ``"sum"``, the rule their ensembles were fitted with.
    **kwargs
        See :class:`~core.models.base.GenreModel`.
    """

    family = "yamnet"
    display_name = "YAMNet"

    def __init__(self, *, handle: str | None = None, segment_seconds: float = SEGMENT_SECONDS,
                 l2: float = 3e-2, epochs: int = 200, patience: int = 20,
                 learning_rate: float = 3e-4, members: int = 1, peak_normalize: bool = True,
                 l2_grid: tuple[float, ...] = PROBE_L2, zero_shot_reduce: str = "max",
                 **kwargs: Any) -> None:
        super().__init__(epochs=epochs, patience=patience, learning_rate=learning_rate,
                         members=members, **kwargs)
        if zero_shot_reduce not in ("max", "sum"):
            raise ParameterError(f"zero_shot_reduce must be 'max' or 'sum', not "
                                 f"{zero_shot_reduce!r}")
        self.zero_shot_reduce = zero_shot_reduce
        self.handle = handle
        self.peak_normalize = peak_normalize
        self.segment_seconds = segment_seconds
        self.l2 = l2
        self.l2_grid = tuple(l2_grid)
        self.class_map_: dict[str, list[int]] = {}
        #: The encoder a trained head was fitted on (:func:`encoder_identity`); None for zero-shot.
        self.encoder_: dict[str, Any] | None = None

    @classmethod
    def zero_shot(cls, genres: list[str], *, handle: str | None = None) -> YamnetEmbedding:
        """A head-less model that maps YAMNet's AudioSet genre classes onto ``genres``."""
        model = cls(handle=handle)
        model.genres_ = list(genres)
        model.class_map_ = genre_class_map(list(genres), shipped_class_names())
        if not any(model.class_map_.values()):
            raise ModelError(f"none of the genres {genres} has an AudioSet class YAMNet knows")
        return model

    @property
    def is_zero_shot(self) -> bool:
        return self.model_ is None

    @property
    def backend(self) -> YamnetBackend:
        return load_yamnet(self.handle)

    def config(self) -> dict[str, Any]:
        return {"handle": self.handle, "resolved_handle": resolve_handle(self.handle),
                "encoder": self.encoder_, "peak_normalize": self.peak_normalize,
                "segment_seconds": self.segment_seconds,
                "sample_rate": YAMNET_SR, "l2": self.l2, "zero_shot": self.is_zero_shot,
                "class_map": self.class_map_, "zero_shot_reduce": self.zero_shot_reduce}

    def _cache_key(self) -> str:
        handle = resolve_handle(self.handle)
        identity = encoder_identity(handle)["sha256"] or handle
        payload = f"yamnet|{identity}|{self.segment_seconds}|frames-v2" + (
            "|peak" if self.peak_normalize else "")
        return "yamnet-" + hashlib.sha256(payload.encode()).hexdigest()[:16]

    def featurize_waveform(self, y: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
        y16 = to_rate(y, sr, YAMNET_SR)
        if self.peak_normalize:
            y16 = normalize_peak(y16[None])[0]
        scores, embeddings = self.backend.frames(y16)
        return group_frames(scores, embeddings, len(y16), segment_seconds=self.segment_seconds)

    def featurize_dataset(self, dataset: Dataset, *, cache: FeatureCache | None, n_jobs: int,
                          progress: bool) -> Rows:
        return featurize_encoded_dataset(
            dataset, sr=YAMNET_SR, key=self._cache_key(), cache=cache, progress=progress,
            compute=lambda y: self.featurize_waveform(y, YAMNET_SR)[0],
            description="YAMNet embeddings")

    def candidates(self) -> list[dict[str, Any]]:
        """L2 strengths the head chooses between on validation tracks."""
        return [{"l2": value} for value in sorted({self.l2, *self.l2_grid})]

    def training_examples(self, X: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One example per YAMNet frame, labelled with its segment's genre."""
        frames, owner = present_frames(X)
        return frames, labels[owner]

    def build(self, input_shape: tuple[int, ...], n_classes: int, **setting: Any) -> Any:
        """One softmax layer on a frame's embedding and AudioSet class scores."""
        return build_linear_head(input_shape, n_classes, l2=setting.get("l2", self.l2),
                                 input_name="embedding_and_scores", name="yamnet_head")

    def _train(self, X: np.ndarray, labels: np.ndarray, rows: np.ndarray, n_classes: int,
               setting: dict[str, Any], report: Any, *, valid: np.ndarray | None = None,
               epochs: int | None = None, seed: int | None = None
               ) -> tuple[Any, dict[str, list[float]], dict[str, Any]]:
        return train_linear_probe(self, X, labels, rows, n_classes, setting, l2=self.l2,
                                  valid=valid)

    def fit(self, dataset: Dataset, split: Any, **kwargs: Any) -> YamnetEmbedding:
        self.encoder_ = encoder_identity(resolve_handle(self.handle))
        self.class_map_ = genre_class_map(list(dataset.genres), self.backend.class_names)
        super().fit(dataset, split, **kwargs)
        self.l2 = float(self.chosen_.get("l2", self.l2))
        return self

    @property
    def zero_shot_ready(self) -> bool:
        return bool(self.genres_) and all(self.class_map_.get(g) for g in self.genres_)

    def predict_rows(self, X: np.ndarray) -> np.ndarray:
        self._check_fitted()
        if not self.is_zero_shot:
            frames, owner = present_frames(X)
            return aggregate_tracks(super().predict_rows(frames), owner)[1]
        return self.zero_shot_rows(X)

    def zero_shot_rows(self, X: np.ndarray) -> np.ndarray:
        """Zero-shot probabilities of rows from YAMNet's AudioSet genre classes (head or not)."""
        return zero_shot_proba(mean_frames(X)[:, EMBEDDING_DIM:], self.class_map_,
                               list(self.genres_ or []), reduce=self.zero_shot_reduce)

    def describe(self, X: np.ndarray) -> dict[str, Any]:
        """The AudioSet classes YAMNet heard, its zero-shot answer, and any outside genre."""
        segment_scores = mean_frames(X)[:, EMBEDDING_DIM:]  # once for all three
        track_scores = segment_scores.mean(axis=0)
        extras: dict[str, Any] = {"heard": self.heard(track_scores)}
        if any(self.class_map_.values()):
            extras["zero_shot"] = zero_shot_proba(segment_scores, self.class_map_,
                                                  list(self.genres_ or []),
                                                  reduce=self.zero_shot_reduce
                                                  ).mean(axis=0)
            extras["zero_shot_unmapped"] = [g for g in self.genres_ or []
                                            if not self.class_map_.get(g)]
            extras["outside_genre"] = self.outside_genre(track_scores)
        return extras

    def heard(self, scores: np.ndarray, k: int = 5) -> list[tuple[str, float]]:
        """YAMNet's top AudioSet classes in a waveform's mean class ``scores`` (521,), the
        catch-all "Music" class left out (it tops nearly every song)."""
        names = self.backend.class_names
        order = [i for i in np.argsort(scores)[::-1] if names[i] != "Music"]
        return [(names[i], float(scores[i])) for i in order[:k]]

    def outside_genre(self, scores: np.ndarray) -> tuple[str, float] | None:
        """The music YAMNet hears in a waveform's mean class ``scores`` (521,), when it is a
        genre family none of this model's genres covers.

        Only :data:`DISTINCT_FAMILIES` are considered (electronic music): families such as
        gospel, folk, funk or soul sound too much like blues, country, disco or pop to be told
        apart from them (on the bundled GTZAN test files they fired for one track in four).

        Returns
        -------
        tuple or None
                ``(AudioSet display name, score)`` when a class of a distinct family none of the
            genres maps to scores above every class the genres map to, else None.
        """
        names = self.backend.class_names
        index = _class_index(tuple(names))
        mapped = {i for ids in self.class_map_.values() for i in ids}
        if not mapped:
            return None
        best_in = max(float(scores[i]) for i in mapped)
        for family in DISTINCT_FAMILIES:
            ids = [index[genre_key(n)] for n in GENRE_CLASSES[family] if genre_key(n) in index]
            if not ids or set(ids) & mapped:
                continue
            best = max(ids, key=lambda i: scores[i])
            if scores[best] > best_in:
                return names[best], float(scores[best])
        return None

    def evaluate_zero_shot(self, dataset: Dataset, split: Any, *,
                           cache: FeatureCache | None = None) -> dict[str, Any]:
        """Zero-shot metrics on ``split.test`` (no training), stored in :attr:`metrics_`."""
        from core.evaluation import evaluate_segments
        from core.models.base import test_track_table

        if self.genres_ != list(dataset.genres):
            self.genres_ = list(dataset.genres)
            self.class_map_ = genre_class_map(self.genres_, self.backend.class_names)
        test = dataset.subset(split.test)
        rows = self.featurize_dataset(test, cache=cache, n_jobs=1, progress=False)
        labels = test.labels[rows.track]
        start = time.perf_counter()
        proba = self.predict_rows(rows.X)
        infer_s = time.perf_counter() - start
        self.metrics_ = evaluate_segments(proba, labels, rows.track, self.genres_)
        tracks, track_proba = aggregate_tracks(proba, rows.track)
        self.metrics_["test_tracks"] = test_track_table(test, tracks, track_proba)
        self.metrics_["inference_ms_per_track"] = 1000 * infer_s / max(len(tracks), 1)
        self.info_ = {"dataset": {"name": dataset.name, "layout": dataset.layout},
                      "split": {"name": split.name, "test_tracks": len(split.test)},
                      "parameters": 0, "train_seconds": 0.0,
                      "unmapped_genres": [g for g, ids in self.class_map_.items() if not ids]}
        return self.metrics_
