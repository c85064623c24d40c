"""Classify audio with every available model: per-model, per-segment and ensemble predictions.

The audio is decoded once at 22050 Hz; each model resamples what it needs (YAMNet and musicnn:
16 kHz). The models answer concurrently, one thread each: TensorFlow, TFLite and the numba
feature kernels release the GIL, and no single model keeps two cores busy throughout (on 2
cores a 3-minute song takes about 0.75x the time of one model after another; ``bench.classify``
measures both). A model that fails (e.g. YAMNet unreachable) is reported and the others still
answer.
Ensemble rule: the model set's fitted ensemble (``ensemble.json``, :mod:`core.ensemble`: weights
and temperatures learnt on validation tracks, and a threshold below which the answer is
"uncertain"); without one, the normalised geometric mean over the genres the models share.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from core.audio import AudioSource, DecodedAudio, decode_audio
from core.config import FEATURE_SR
from core.ensemble import Ensemble, combine_probabilities, member_folder
from core.errors import GenreLabError, ModelError, ParameterError
from core.models.base import GenreModel, SegmentPrediction

__all__ = ["BUNDLED_MODELS", "ModelSet", "Prediction", "combine_probabilities",
           "ensemble_probabilities", "load_models", "predict_audio", "predict_decoded", "predict_waveform",
           "warm_up"]

#: The bundled default models (``assets/models/<family>/``).
BUNDLED_MODELS = Path(__file__).resolve().parents[1] / "assets" / "models"
FAMILY_ORDER = ("mlp", "cnn", "yamnet", "logreg", "boosting", "lstm", "mfcc-cnn", "vgg")


@dataclass
class ModelSet:
    """Models loaded from a folder, and the folders that failed to load (with why)."""

    models: dict[str, GenreModel] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    ensemble: Ensemble | None = None
    #: Each loaded model's folder (its ``trained_tracks.json`` says what it trained on).
    folders: dict[str, Path] = field(default_factory=dict)
    #: Why the set's ``ensemble.json`` is not used (None: it is, or there is none).
    ensemble_error: str | None = None

    @property
    def genre_note(self) -> str | None:
        """What a user must know when the models answer different genres (None: they agree):
        a second ``train`` into the folder on another collection leaves such a set, and the
        ensemble can only combine the genres every model answers."""
        answers = {name: list(m.genres_ or []) for name, m in self.models.items()}
        if len({tuple(g) for g in answers.values()}) <= 1:
            return None
        shared = [g for g in next(iter(answers.values()))
                  if all(g in genres for genres in answers.values())]
        listed = "; ".join(f"{name}: {', '.join(genres)}" for name, genres in answers.items())
        tail = (f"the ensemble combines only the {len(shared)} they share ({', '.join(shared)})"
                if shared else "they share none, so there is no ensemble answer")
        return (f"these models were trained on different genres ({listed}): {tail}. Train "
                "them on one collection (one `train --out` folder per collection).")


def load_models(directory: str | os.PathLike[str] | None = None, *,
                yamnet_handle: str | None = None) -> ModelSet:
    """Load every model folder below ``directory`` (default: the bundled models).

    A missing or corrupt model is recorded in :attr:`ModelSet.errors` and skipped.
    """
    from core.registry import load_model, model_folders

    root = Path(directory) if directory is not None else BUNDLED_MODELS
    found = ModelSet()
    if not root.is_dir():
        found.errors[root.name or str(root)] = f"model folder not found: {root}"
        return found
    folders = model_folders(root)
    if not folders:
        found.errors[root.name] = f"no models in {root} (train some with `python -m core train`)"
    for folder in folders:
        try:
            found.models[folder.name] = load_model(folder, yamnet_handle=yamnet_handle)
            found.folders[folder.name] = folder
        except ModelError as exc:
            found.errors[folder.name] = str(exc)
    order = {name: i for i, name in enumerate(FAMILY_ORDER)}
    found.models = dict(sorted(found.models.items(),
                               key=lambda kv: (order.get(kv[1].family, 9), kv[0])))
    try:
        found.ensemble = Ensemble.load(root, current=True)
    except ModelError as exc:
        found.ensemble_error = str(exc)
        found.errors["ensemble"] = f"{exc}; using the geometric mean meanwhile"
    return found


@dataclass
class Prediction:
    """Every model's answer for one piece of audio."""

    duration_s: float
    models: dict[str, SegmentPrediction]
    errors: dict[str, str]
    genres: list[str]
    ensemble: np.ndarray | None
    #: How the ensemble was combined: ``stacked``, or ``geometric-mean`` (no fitted ensemble,
    #: or some of its models missing).
    ensemble_method: str = "geometric-mean"
    #: Ensemble confidence below which the answer is uncertain (0: never).
    threshold: float = 0.0
    #: An AudioSet genre YAMNet hears that is none of the model set's genres, and its score.
    outside_genre: tuple[str, float] | None = None
    #: What decoding noticed about the file (:attr:`core.audio.DecodedAudio.notes`), e.g. that
    #: it ends before the length its header declares.
    notes: tuple[str, ...] = ()

    @property
    def ensemble_genre(self) -> str | None:
        if self.ensemble is None:
            return None
        return self.genres[int(np.argmax(self.ensemble))]

    @property
    def confidence(self) -> float | None:
        return None if self.ensemble is None else float(np.max(self.ensemble))

    @property
    def uncertain(self) -> bool:
        """Whether the ensemble is below its threshold, or the music sounds outside its genres."""
        if self.ensemble is None:
            return False
        return bool(self.confidence < self.threshold or self.outside_genre is not None)

    @property
    def closest(self) -> list[str]:
        """The two most likely genres of the ensemble."""
        if self.ensemble is None:
            return []
        return [self.genres[i] for i in np.argsort(self.ensemble)[::-1][:2]]

    @property
    def verdict(self) -> str | None:
        """The answer in words: the genre, or e.g. ``uncertain: closest to rock / pop``."""
        if self.ensemble is None:
            return None
        if not self.uncertain:
            return self.ensemble_genre
        text = "uncertain: closest to " + " / ".join(self.closest)
        if self.outside_genre is not None:
            text += f" (sounds like {self.outside_genre[0]}, not one of the trained genres)"
        return text

    @property
    def agree(self) -> bool:
        """Whether every model that answered picked the same top genre."""
        return len({p.genre for p in self.models.values()}) <= 1

    def to_dict(self, file: str) -> dict[str, Any]:
        """The JSON form of ``python -m core predict --format json``."""
        models: dict[str, Any] = {
            name: {"genre": p.genre,
                   "probabilities": {g: round(float(v), 6) for g, v in zip(p.genres, p.proba,
                                                                             strict=True)},
                   "seconds": round(p.seconds, 4), "segments": len(p.segment_proba)}
            for name, p in self.models.items()
        }
        for name, message in self.errors.items():
            models[name] = {"error": message}
        for name, p in self.models.items():
            zero = p.extras.get("zero_shot")
            if zero is not None:
                models[name]["zero_shot"] = {
                    "genre": p.genres[int(np.argmax(zero))],
                    "probabilities": {g: round(float(v), 6)
                                      for g, v in zip(p.genres, zero, strict=True)}}
            if p.extras.get("heard"):
                models[name]["heard"] = {tag: round(score, 4) for tag, score in p.extras["heard"]}
        ensemble = None
        if self.ensemble is not None:
            ensemble = {"genre": self.ensemble_genre, "verdict": self.verdict,
                        "uncertain": self.uncertain, "closest": self.closest,
                        "confidence": round(float(self.confidence or 0.0), 6),
                        "threshold": round(self.threshold, 6), "method": self.ensemble_method,
                        "outside_genre": None if self.outside_genre is None
                        else self.outside_genre[0],
                        "probabilities": {g: round(float(v), 6)
                                          for g, v in zip(self.genres, self.ensemble, strict=True)},
                        "agree": self.agree}
        return {"file": file, "duration_s": round(self.duration_s, 3), "notes": list(self.notes),
                "models": models, "ensemble": ensemble}


def ensemble_probabilities(predictions: dict[str, SegmentPrediction],
                           ensemble: Ensemble | None = None
                           ) -> tuple[list[str], np.ndarray | None, str]:
    """Track probabilities of the ensemble over the genres every model knows, and the rule used.

    With a fitted ``ensemble`` whose genres every model answers, its pool (weights and
    temperatures learnt on validation tracks; a ``<folder>:zero-shot`` member is that model's
    ``extras["zero_shot"]``); otherwise the geometric mean
    (:func:`combine_probabilities`) over the shared genres.
    """
    if not predictions:
        return [], None, "geometric-mean"
    first = next(iter(predictions.values()))
    shared = [g for g in first.genres if all(g in p.genres for p in predictions.values())]
    if not shared:
        return [], None, "geometric-mean"
    if ensemble is not None and ensemble.genres == shared:
        combined, method = ensemble.combine(member_probabilities(predictions, shared, ensemble))
        return shared, combined, method
    probas = member_probabilities(predictions, shared)
    return shared, combine_probabilities(np.stack(list(probas.values()))), "geometric-mean"


def member_probabilities(predictions: dict[str, SegmentPrediction], genres: list[str],
                         ensemble: Ensemble | None = None) -> dict[str, np.ndarray]:
    """Each model's track probabilities over ``genres`` (which every model answers), and for
    each ``<folder>:zero-shot`` member of ``ensemble``, that model's zero-shot answer
    (``extras["zero_shot"]``) where it gave one."""
    probas = {name: np.array([p.proba[p.genres.index(g)] for g in genres])
              for name, p in predictions.items()}
    for member in ensemble.models if ensemble is not None else []:
        answer = predictions.get(member_folder(member))
        if member not in probas and answer is not None \
                and answer.extras.get("zero_shot") is not None:
            probas[member] = np.array([answer.extras["zero_shot"][answer.genres.index(g)]
                                       for g in genres])
    return probas


def predict_waveform(models: dict[str, GenreModel], y: np.ndarray, sr: int, *,
                     ensemble: Ensemble | None = None, threads: int | None = None) -> Prediction:
    """Every model's prediction for a mono waveform; failures are collected per model.

    Parameters
    ----------
    models : dict of str to GenreModel
    y : np.ndarray
        Mono waveform.
    sr : int
        Its sample rate.
    ensemble : Ensemble, optional
        A model set's fitted ensemble, which combines the answers; see
        :func:`ensemble_probabilities`.
    threads : int, optional
        How many models answer at once (None: all of them, one thread each; 1: one after
        another, as a worker process that already has a core of its own should). The answers
        do not depend on it.
    """
    if threads is not None and threads < 1:
        raise ParameterError(f"threads must be at least 1, got {threads}")
    answers: dict[str, SegmentPrediction] = {}
    errors: dict[str, str] = {}
    workers = max(1, min(len(models), threads or len(models)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="genrelab-model") as pool:
        running = {name: pool.submit(model.predict_segments, y, sr)
                   for name, model in models.items()}
        for name, future in running.items():
            try:
                answers[name] = future.result()
            except GenreLabError as exc:
                errors[name] = str(exc)
    genres, combined, method = ensemble_probabilities(answers, ensemble)
    threshold = ensemble.threshold if ensemble is not None and method == "stacked" else 0.0
    outside = next((p.extras["outside_genre"] for p in answers.values()
                    if p.extras.get("outside_genre")), None)
    return Prediction(len(y) / sr, answers, errors, genres, combined, method, threshold, outside)


def warm_up(models: dict[str, GenreModel]) -> None:
    """Run every model on two short synthetic clips, so the first real prediction is fast.

    The first call compiles the feature kernels (numba) and traces each network. Keras traces
    a network again for the second batch size it sees, then for any size: so a second, longer
    clip gives every network a second size, and a real song is not traced again. A model that
    fails here fails again, with its message, when it is really used.
    """
    rng = np.random.default_rng(0)
    y = (0.1 * rng.standard_normal(int(FEATURE_SR * 6.5))).astype(np.float32)
    predict_waveform(models, y[:FEATURE_SR * 2], FEATURE_SR)
    predict_waveform(models, y, FEATURE_SR)


def predict_audio(models: dict[str, GenreModel], source: AudioSource, *,
                  name: str | None = None, max_duration: float | None = None,
                  ensemble: Ensemble | None = None, threads: int | None = None) -> Prediction:
    """Decode ``source`` (path, bytes or file object) once and predict with every model
    (``ensemble`` and ``threads``: see :func:`predict_waveform`).

    Raises
    ------
    AudioError
        The audio cannot be used (see :func:`core.audio.decode_audio`).
    """
    kwargs: dict[str, Any] = {"name": name}
    if max_duration is not None:
        kwargs["max_duration"] = max_duration
    return predict_decoded(models, decode_audio(source, sr=FEATURE_SR, **kwargs),
                           ensemble=ensemble, threads=threads)


def predict_decoded(models: dict[str, GenreModel], decoded: DecodedAudio, *,
                    ensemble: Ensemble | None = None, threads: int | None = None) -> Prediction:
    """:func:`predict_waveform` of decoded audio, keeping what decoding noticed (its notes)."""
    prediction = predict_waveform(models, decoded.y, decoded.sr, ensemble=ensemble,
                                  threads=threads)
    return replace(prediction, notes=decoded.notes)
