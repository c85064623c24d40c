"""The contract every model family honours, and the one place where training happens.

A family says how to turn audio (or a dataset) into input rows and how to build its network;
:class:`GenreModel` does the rest the same way for all: normalisation fitted on training rows
only, early stopping on validation tracks, evaluation on held-out tracks (segment and track
level), timing, and saving.

Track-level rule: a track's probabilities are the mean of its segments' probabilities.
"""

from __future__ import annotations

import hashlib
import os
import random
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from core.audio import segment_bounds
from core.cache import FeatureCache
from core.datasets import Dataset
from core.errors import ModelError
from core.evaluation import aggregate_tracks, evaluate_segments
from core.splits import Split

#: ``progress(fraction_done, message)``: how training reports where it is.
Progress = Callable[[float, str], None]

_PREDICT_BATCH = 256  # rows per forward pass in predict_rows


@dataclass
class Rows:
    """Model input rows of a dataset: one row per segment.

    Attributes
    ----------
    X : np.ndarray [shape=(n_rows, ...)]
    track : np.ndarray [shape=(n_rows,), dtype=int]
        Manifest row (track) each input row came from.
    errors : dict of int to str
        Manifest rows whose audio failed, and why.
    """

    X: np.ndarray
    track: np.ndarray
    errors: dict[int, str]


@dataclass
class SegmentPrediction:
    """What one model says about one waveform.

    Attributes
    ----------
    genres : list of str
    proba : np.ndarray [shape=(n_genres,)]
        Track-level probabilities (mean over segments).
    segment_proba : np.ndarray [shape=(n_segments, n_genres)]
    segment_times : np.ndarray [shape=(n_segments, 2)]
        Start and end of each segment in seconds.
    seconds : float
        Wall time of featurising and predicting.
    extras : dict
        What else the model can say about the waveform (:meth:`GenreModel.describe`): e.g. a
        pretrained encoder's zero-shot probabilities and the tags it heard.
    """

    genres: list[str]
    proba: np.ndarray
    segment_proba: np.ndarray
    segment_times: np.ndarray
    seconds: float
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def genre(self) -> str:
        return self.genres[int(np.argmax(self.proba))]


def segment_times(n_samples: int, sr: int, segment_seconds: float,
                  hop_seconds: float | None = None) -> np.ndarray:
    """Start/end seconds of the windows :func:`core.audio.segment_bounds` cuts."""
    return segment_bounds(n_samples, sr=sr, segment_seconds=segment_seconds,
                          hop_seconds=hop_seconds) / sr


def check_waveform(y: np.ndarray, sr: int) -> None:
    """Refuse a waveform no model can use (what :func:`core.audio.load_audio` already refuses).

    Raises
    ------
    AudioError
        ``y`` is not one-dimensional, has no samples, or holds NaN or infinite values.
    ParameterError
        ``sr`` is not a positive sample rate.
    """
    from core.errors import AudioError, ParameterError

    if not sr > 0:
        raise ParameterError(f"sr must be a positive sample rate in Hz, got {sr!r}")
    y = np.asarray(y)
    if y.ndim != 1:
        raise AudioError(f"expected a mono waveform (one dimension), got shape {y.shape}",
                         reason="unsupported")
    if y.size == 0:
        raise AudioError("the waveform holds no audio samples", reason="empty")
    if not np.isfinite(y).all():
        raise AudioError("the waveform contains NaN or infinite sample values", reason="non-finite")


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow, and ask TensorFlow for deterministic ops."""
    import keras
    import tensorflow as tf

    os.environ["PYTHONHASHSEED"] = str(seed)
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


class GenreModel(ABC):
    """Base of every model family.

    Parameters
    ----------
    epochs : int
        Maximum training epochs (early stopping on validation loss usually ends sooner).
    batch_size : int
    learning_rate : float
        Adam's learning rate.
    patience : int
        Epochs without validation improvement before stopping (best weights are restored).
    seed : int
        Seeds everything that is random in training.
    refit : bool
        After early stopping on validation tracks picks the epoch count, train afresh on the
        training and validation tracks together for that many epochs (more data, same rule).
    members : int
        Networks trained for the final model, with seeds ``seed, seed + 1, ...``; the saved
        network outputs the mean of their probabilities (a seed ensemble: steadier, and usually
        a little more accurate, at ``members`` times the training and inference cost).
    """

    family: ClassVar[str]
    display_name: ClassVar[str]
    needs_audio: ClassVar[bool] = True

    def __init__(self, *, epochs: int = 100, batch_size: int = 32, learning_rate: float = 1e-3,
                 patience: int = 15, seed: int = 0, refit: bool = True, members: int = 1) -> None:
        if members < 1:
            raise ValueError(f"members must be at least 1, got {members!r}")
        self.epochs = epochs
        self.refit = refit
        self.members = members
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.patience = patience
        self.seed = seed
        self.model_: Any = None
        self.genres_: list[str] | None = None
        self.history_: dict[str, list[float]] = {}
        self.metrics_: dict[str, Any] = {}
        self.info_: dict[str, Any] = {}
        #: What a user should know about this model as loaded (e.g. an unverifiable encoder).
        self.warnings_: list[str] = []

    # ----------------------------------------------------------------- family hooks
    @abstractmethod
    def config(self) -> dict[str, Any]:
        """Everything beyond the weights that decides the inputs (saved in metadata)."""

    @abstractmethod
    def featurize_dataset(self, dataset: Dataset, *, cache: FeatureCache | None, n_jobs: int,
                          progress: bool) -> Rows:
        """Input rows of every segment of every track of ``dataset``."""

    @abstractmethod
    def featurize_waveform(self, y: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
        """Input rows of one waveform and the segments' start/end times in seconds."""

    @abstractmethod
    def build(self, input_shape: tuple[int, ...], n_classes: int, **setting: Any) -> Any:
        """An uncompiled Keras model whose first layer after the input is a ``Normalization``
        layer named ``normalize`` (adapted on training rows by :meth:`fit`)."""

    def augment(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Training-time augmentation of a batch (default: none)."""
        return X

    def network_inputs(self, X: np.ndarray) -> np.ndarray:
        """The part of a row the network sees (default: all of it)."""
        return X

    def training_examples(self, X: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The examples the network trains on, from rows and their labels (default: the rows).

        A family whose network scores parts of a row (e.g. YAMNet frames within a segment)
        returns one example per part; its :meth:`predict_rows` then pools the parts' outputs.
        """
        return X, labels

    def check_can_read(self, dataset: Dataset) -> None:
        """Refuse a dataset this family cannot read: a feature table (no audio) for a family
        that needs audio.

        Raises
        ------
        ModelError
        """
        if self.needs_audio and not dataset.manifest["path"].astype(bool).any():
            raise ModelError(f"{self.display_name} needs audio; {dataset.name} is a feature table "
                             "with none (a feature table serves the summary-feature families "
                             "only: mlp, logreg, boosting)")

    # ----------------------------------------------------------------- training
    def fit(self, dataset: Dataset, split: Split, *, cache: FeatureCache | None = None,
            n_jobs: int = 1, progress: Progress | None = None, verbose: bool = False
            ) -> GenreModel:
        """Train on ``split.train`` tracks, stop early on ``split.valid``, evaluate on ``split.test``.

        Raises
        ------
        ModelError
            The dataset has no audio for a family that needs it, or too little usable data.
        """
        self.check_can_read(dataset)
        try:
            return self._fit(dataset, split, cache=cache, n_jobs=n_jobs, progress=progress,
                             verbose=verbose)
        finally:
            self.__dict__.pop("_trainers", None)  # compiled training copies (see _trainer)

    def _fit(self, dataset: Dataset, split: Split, *, cache: FeatureCache | None,
             n_jobs: int, progress: Progress | None, verbose: bool) -> GenreModel:
        report = progress or (lambda fraction, message: None)
        report(0.0, f"{self.display_name}: computing inputs")
        start = time.perf_counter()
        rows = self.featurize_dataset(dataset, cache=cache, n_jobs=n_jobs, progress=verbose)
        featurize_s = time.perf_counter() - start
        labels = dataset.labels[rows.track]
        sides = {name: np.isin(rows.track, getattr(split, name)) for name in ("train", "valid",
                                                                                "test")}
        if sides["train"].sum() < 2 or len(np.unique(labels[sides["train"]])) < 2:
            raise ModelError(f"{self.display_name}: too little training data "
                             f"({sides['train'].sum()} segments)")
        X = self.network_inputs(rows.X)
        n_classes = len(dataset.genres)
        train, valid = sides["train"], sides["valid"]
        start = time.perf_counter()
        if valid.any():
            # Model selection on validation tracks only: each candidate setting trains with early
            # stopping; the best (lowest validation loss) sets the hyperparameters and the epoch
            # count; with ``refit`` the network is then trained afresh on train + valid tracks.
            runs = [self._train(X, labels, train, n_classes, candidate, report, valid=valid)
                    for candidate in self.candidates()]
            model, history, chosen = min(runs, key=lambda r: min(r[1]["val_loss"]))
            best_epochs = int(np.argmin(history["val_loss"])) + 1
            # Validation tracks' predictions by a network that never trained on them: what a
            # model set's ensemble is calibrated and stacked on. Taken here when the final
            # network will have seen them (refit) or is this one; a mean of members trained
            # without refit is asked below instead.
            validation = []
            if self.refit or self.members == 1:
                self.model_ = model
                validation = self._track_predictions(dataset, rows, valid)
            if self.refit:
                model = self._train_members(X, labels, train | valid, n_classes, chosen, report,
                                            epochs=best_epochs)
            elif self.members > 1:
                model = self._train_members(X, labels, train, n_classes, chosen, report,
                                            valid=valid, first=model)
        else:
            chosen = {}
            validation = []
            model, history, _ = self._train(X, labels, train, n_classes, chosen, report)
            best_epochs = len(history["loss"])
            if self.members > 1:
                model = self._train_members(X, labels, train, n_classes, chosen, report,
                                            first=model)
        train_s = time.perf_counter() - start
        self.chosen_ = chosen
        self.model_ = model
        self.genres_ = list(dataset.genres)
        if valid.any() and not self.refit and self.members > 1:
            validation = self._track_predictions(dataset, rows, valid)
        self.history_ = {k: [float(v) for v in vals] for k, vals in history.items()}
        self.metrics_ = {}
        if sides["test"].any():
            start = time.perf_counter()
            proba = self.predict_rows(rows.X[sides["test"]])
            infer_s = time.perf_counter() - start
            self.metrics_ = evaluate_segments(proba, labels[sides["test"]],
                                              rows.track[sides["test"]], self.genres_)
            tracks, track_proba = aggregate_tracks(proba, rows.track[sides["test"]])
            self.metrics_["inference_ms_per_track"] = 1000 * infer_s / max(len(tracks), 1)
            # The same wall time per input row (one segment): the network alone, inputs precomputed.
            self.metrics_["inference_ms_per_segment"] = 1000 * infer_s / max(int(sides["test"].sum()), 1)
            self.metrics_["test_tracks"] = test_track_table(dataset, tracks, track_proba)
        if validation:
            self.metrics_["validation_tracks"] = validation
        if self.zero_shot_ready:  # the encoder's own answer on the same tracks, for an ensemble
            zero_shot_sides = {"test": sides["test"], **({"validation": valid} if validation
                                                         else {})}
            for side, mask in zero_shot_sides.items():
                if mask.any():
                    tracks, track_proba = aggregate_tracks(self.zero_shot_rows(rows.X[mask]),
                                                           rows.track[mask])
                    self.metrics_[f"zero_shot_{side}_tracks"] = test_track_table(
                        dataset, tracks, track_proba)
        self.info_ = {
            "dataset": {"name": dataset.name, "layout": dataset.layout},
            "split": {"name": split.name, **{f"{k}_tracks": len(np.unique(rows.track[v]))
                                             for k, v in sides.items()}},
            "segments": {k: int(v.sum()) for k, v in sides.items()},
            "skipped_tracks": len(rows.errors),
            "skipped_examples": [rows.errors[k] for k in sorted(rows.errors)[:3]],
            "featurize_seconds": featurize_s,
            "train_seconds": train_s,
            "epochs_run": len(self.history_.get("loss", [])),
            "best_epochs": best_epochs,
            "refit_on_train_and_valid": bool(self.refit and valid.any()),
            "chosen": chosen,
            "parameters": int(model.count_params()),
        }
        report(1.0, f"{self.display_name}: done")
        return self

    def _track_predictions(self, dataset: Dataset, rows: Rows, mask: np.ndarray
                           ) -> list[dict[str, Any]]:
        """:func:`test_track_table` of the rows in ``mask``, by the current :attr:`model_`."""
        self.genres_ = list(dataset.genres)
        tracks, track_proba = aggregate_tracks(self.predict_rows(rows.X[mask]), rows.track[mask])
        return test_track_table(dataset, tracks, track_proba)

    def candidates(self) -> list[dict[str, Any]]:
        """Hyperparameter settings to choose between on validation tracks (default: one)."""
        return [{}]

    def _train_members(self, X: np.ndarray, labels: np.ndarray, rows: np.ndarray, n_classes: int,
                       setting: dict[str, Any], report: Progress, *,
                       valid: np.ndarray | None = None, epochs: int | None = None,
                       first: Any = None) -> Any:
        """The final network: one trained network, or the mean of :attr:`members` of them.

        ``first``, when given, is an already trained member (seed :attr:`seed`).
        """
        import keras

        networks = [] if first is None else [first]
        for seed in range(self.seed + len(networks), self.seed + self.members):
            networks.append(self._train(X, labels, rows, n_classes, setting, report, valid=valid,
                                        epochs=epochs, seed=seed)[0])
        if len(networks) == 1:
            return networks[0]
        inputs = keras.Input(shape=networks[0].input_shape[1:], name="inputs")
        for i, network in enumerate(networks):
            network.name = f"member_{i}"
        outputs = keras.layers.Average(name="mean_of_members")([n(inputs) for n in networks])
        return keras.Model(inputs, outputs, name=f"{self.family}_seed_ensemble")

    def _train(self, X: np.ndarray, labels: np.ndarray, rows: np.ndarray, n_classes: int,
               setting: dict[str, Any], report: Progress, *, valid: np.ndarray | None = None,
               epochs: int | None = None, seed: int | None = None
               ) -> tuple[Any, dict[str, list[float]], dict[str, Any]]:
        """Train a fresh network on ``rows`` (boolean mask); early stopping on ``valid``."""
        import keras

        seed = self.seed if seed is None else seed
        set_seed(seed)
        X_train, y_train = self.training_examples(X[rows], labels[rows])
        model = self.build(X_train.shape[1:], n_classes, **setting)
        model.get_layer("normalize").adapt(X_train)
        trainer = self._trainer(model, setting, X_train.shape[1:], n_classes)
        n_epochs = epochs or self.epochs
        callbacks: list[Any] = [progress_callback(report, self.display_name, n_epochs)]
        validation = None
        if valid is not None:
            validation = self.training_examples(X[valid], labels[valid])
            callbacks.append(keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=self.patience, restore_best_weights=True))
        batches = _augmented_batches(X_train, y_train, self.batch_size, self, seed)
        history = trainer.fit(batches, epochs=n_epochs, verbose=0, callbacks=callbacks,
                              validation_data=validation)
        _copy_variables(trainer, model)
        return model, history.history, setting

    def _trainer(self, network: Any, setting: dict[str, Any], input_shape: tuple[int, ...],
                 n_classes: int) -> Any:
        """A compiled network that starts exactly where ``network`` (freshly built) does.

        Keras traces a compiled network's training step on its first ``fit`` (about 3-4 s on 2
        cores for the MLP, more than a short training itself), and a second network of the same
        architecture traces again. So, within one :meth:`fit`, networks of one architecture
        (setting, input shape, classes) trained on the same rows (the seeds of a seed ensemble)
        train in one compiled copy: it takes every variable of ``network`` (initial weights,
        batch-norm statistics, dropout seeds) and the optimizer's moments and step count go
        back to Adam's start (zeros), so each seed trains the network it would train alone
        (tested). The rows' normalisation statistics are part of the key: Keras's
        ``Normalization`` layer bakes them into the traced step as constants.
        """
        import keras

        stats = hashlib.sha256(b"".join(np.asarray(w).tobytes() for w in
                                        network.get_layer("normalize").get_weights()))
        key = (repr(sorted(setting.items())), tuple(input_shape), n_classes, stats.hexdigest())
        trainers: dict[Any, Any] = self.__dict__.setdefault("_trainers", {})
        trainer = trainers.get(key)
        fresh = trainer is None
        if fresh:
            # Cloning draws from Python's global random state, which Keras's fit also draws
            # from (it shuffles a PyDataset's batch order with it): put it back, so the first
            # network trains exactly as it would alone.
            state = random.getstate()
            trainer = keras.models.clone_model(network)
            random.setstate(state)
        else:
            for variable in trainer.optimizer.variables:
                if variable is not trainer.optimizer.learning_rate:
                    variable.assign(np.zeros(variable.shape, variable.dtype))
        _copy_variables(network, trainer)
        if fresh:
            trainer.get_layer("normalize").finalize_state()  # its constants from the copied stats
            trainer.compile(optimizer=keras.optimizers.Adam(self.learning_rate),
                            loss="sparse_categorical_crossentropy", metrics=["accuracy"])
            trainers[key] = trainer
        return trainer

    # ----------------------------------------------------------------- prediction
    @property
    def zero_shot_ready(self) -> bool:
        """Whether :meth:`zero_shot_rows` answers every one of the model's genres from the
        encoder's own classes (each genre maps to at least one), so that answer can join an
        ensemble as ``<folder>:zero-shot``. False for families without a zero-shot answer."""
        return False

    def zero_shot_rows(self, X: np.ndarray) -> np.ndarray:
        """Zero-shot probabilities of input rows (families with a pretrained encoder's classes)."""
        raise ModelError(f"{self.display_name} has no zero-shot answer")

    def _check_fitted(self) -> None:
        if self.genres_ is None:
            raise ModelError(f"{type(self).__name__} is not fitted; call fit() or load() first")

    def predict_rows(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities of input rows, shape (n_rows, n_genres).

        Thread-safe: one model object may serve several dashboard sessions at once.
        """
        self._check_fitted()
        inputs = self.network_inputs(X)
        if not len(inputs):
            return np.zeros((0, len(self.genres_ or [])))
        # predict_on_batch runs Keras's traced predict step: about 1 ms for a song's rows, where
        # an eager call takes 4-40 ms and predict() builds a dataset per call (50-70 ms).
        with self._lock:
            chunks = [self.model_.predict_on_batch(inputs[i:i + _PREDICT_BATCH])
                      for i in range(0, len(inputs), _PREDICT_BATCH)]
        return np.concatenate([np.asarray(c, dtype=np.float64) for c in chunks])

    @property
    def _lock(self) -> threading.Lock:
        lock = self.__dict__.get("_predict_lock")
        if lock is None:
            lock = self.__dict__.setdefault("_predict_lock", threading.Lock())
        return lock

    def predict_segments(self, y: np.ndarray, sr: int) -> SegmentPrediction:
        """Segment-level and track-level probabilities of one waveform.

        Raises
        ------
        AudioError
            ``y`` is not a non-empty mono waveform of finite samples.
        """
        self._check_fitted()
        check_waveform(y, sr)
        start = time.perf_counter()
        X, times = self.featurize_waveform(y, sr)
        proba = self.predict_rows(X)
        extras = self.describe(X)
        return SegmentPrediction(list(self.genres_ or []), proba.mean(axis=0), proba, times,
                                 time.perf_counter() - start, extras)

    def describe(self, X: np.ndarray) -> dict[str, Any]:
        """Extra evidence about one waveform's rows, beside the probabilities (default: none)."""
        return {}

    def predict_proba(self, y: np.ndarray, sr: int) -> np.ndarray:
        """Track-level probabilities of one waveform (mean of its segments'), shape (n_genres,)."""
        return self.predict_segments(y, sr).proba

    # ----------------------------------------------------------------- persistence
    def save(self, directory: str | os.PathLike[str]) -> None:
        """Save atomically to ``directory`` (see :mod:`core.registry`)."""
        from core.registry import save_model

        save_model(self, directory)

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> GenreModel:
        """Load a saved model, checking that it is intact and compatible."""
        from core.registry import load_model

        model = load_model(directory)
        if not isinstance(model, cls):
            raise ModelError(f"{directory} holds a {model.family} model, not {cls.family}")
        return model

    def hyperparameters(self) -> dict[str, Any]:
        return {"epochs": self.epochs, "batch_size": self.batch_size,
                "learning_rate": self.learning_rate, "patience": self.patience, "seed": self.seed,
                "refit": self.refit, "members": self.members,
                **getattr(self, "chosen_", {})}


def _copy_variables(source: Any, target: Any) -> None:
    """Every variable of Keras model ``source`` into ``target`` (same architecture), dropout
    seed states included (``get_weights`` leaves those out)."""
    for theirs, mine in zip(source.variables, target.variables, strict=True):
        mine.assign(theirs)


def progress_callback(report: Progress, name: str, epochs: int) -> Any:
    """A Keras callback that forwards per-epoch progress to a :data:`Progress` function."""
    import keras

    class ProgressCallback(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            shown = ", ".join(f"{k} {v:.3f}" for k, v in (logs or {}).items() if "acc" in k)
            report(min(0.99, (epoch + 1) / epochs), f"{name}: epoch {epoch + 1} {shown}")

    return ProgressCallback()


def _augmented_batches(X: np.ndarray, y: np.ndarray, batch_size: int, model: GenreModel,
                       seed: int) -> Any:
    """Shuffled mini-batches with the family's augmentation, reseeded per run (a PyDataset)."""
    import keras

    class Batches(keras.utils.PyDataset):
        def __init__(self) -> None:
            super().__init__()
            self.rng = np.random.default_rng(seed)
            self.order = self.rng.permutation(len(X))

        def __len__(self) -> int:
            return max(1, int(np.ceil(len(X) / batch_size)))

        def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
            rows = self.order[index * batch_size:(index + 1) * batch_size]
            return model.augment(X[rows], self.rng), y[rows]

        def on_epoch_end(self) -> None:
            self.order = self.rng.permutation(len(X))

    return Batches()


def test_track_table(dataset: Dataset, tracks: np.ndarray, track_proba: np.ndarray,
                     genres: list[str] | None = None) -> list[dict[str, Any]]:
    """Per track: id, audio path, true and predicted genre, confidence and probabilities
    (``genres``: those of the probabilities' columns, default the dataset's)."""
    m = dataset.manifest
    genres = list(dataset.genres) if genres is None else genres
    return [
        {"track_id": str(m["track_id"].iloc[t]), "path": str(m["path"].iloc[t]),
         "true": str(m["label"].iloc[t]), "predicted": genres[int(np.argmax(p))],
         "confidence": round(float(np.max(p)), 4), "proba": [round(float(v), 6) for v in p]}
        for t, p in zip(tracks, track_proba, strict=True)
    ]


def stack_rows(features: list[np.ndarray | None], errors: dict[int, str], name: str) -> Rows:
    """Rows from per-track feature arrays (None where a track failed, with its error)."""
    kept = [(row, f) for row, f in enumerate(features) if f is not None]
    if not kept:
        first = next(iter(errors.values()), "no audio")
        raise ModelError(f"no usable audio in {name} ({first})")
    return Rows(np.concatenate([f for _, f in kept]),
                np.concatenate([np.full(len(f), row) for row, f in kept]), errors)


def featurize_audio_dataset(dataset: Dataset, params: Any, *, cache: FeatureCache | None,
                            n_jobs: int, progress: bool) -> Rows:
    """Rows of a :class:`~core.features.FeatureParams` feature for every audio track (cached)."""
    from core.extract import extract_many

    result = extract_many(dataset.manifest["path"].tolist(), params, cache=cache, n_jobs=n_jobs,
                          progress=progress, description=f"{params.kind} features")
    return stack_rows(result.features, result.errors, dataset.name)


def featurize_encoded_dataset(dataset: Dataset, *, sr: int, key: str,
                              compute: Callable[[np.ndarray], np.ndarray],
                              cache: FeatureCache | None, progress: bool, description: str) -> Rows:
    """Rows of a pretrained encoder (``compute`` of each file decoded at ``sr``), cached per file."""
    from tqdm.auto import tqdm

    from core.errors import GenreLabError
    from core.extract import cached_features

    features: list[np.ndarray | None] = []
    errors: dict[int, str] = {}
    paths = dataset.manifest["path"].tolist()
    for row, path in enumerate(tqdm(paths, desc=description, disable=not progress)):
        try:
            X, _, _ = cached_features(path, sr=sr, key=key, cache=cache, compute=compute)
        except GenreLabError as exc:
            errors[row] = str(exc)
            X = None
        features.append(X)
    return stack_rows(features, errors, dataset.name)
