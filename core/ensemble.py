"""Combining models, learnt on validation tracks: calibration, stacking, and when to say "unsure".

A model set's ensemble is fitted on the track-level probabilities its models give for
*validation* tracks (tracks none of them trained on, and never the test tracks):

- **Calibration.** Each model gets a temperature ``T`` (temperature scaling, Guo et al. 2017):
  ``softmax(log p / T)`` minimises the negative log-likelihood of the validation tracks, so a
  model that says 0.8 is right about 80% of the time.
- **Stacking.** The ensemble is a weighted logarithmic opinion pool,
  ``softmax(sum_m w_m log p_m)`` with ``w_m >= 0`` fitted by maximum likelihood on the same
  tracks. A weak model gets a small weight instead of a vote equal to the strong one's (the
  geometric mean's flaw); one model alone (``w = 1/T``) is a special case, so on validation
  tracks the pool is, up to the small ridge on the weights, no worse than its best calibrated
  member in log-likelihood (not a promise about accuracy on other tracks: that is measured).
- **Unsure.** Below a confidence threshold chosen on the validation tracks (the one that makes
  "confident" and "unsure" right most often: confident answers right, unsure ones wrong; on
  those tracks, answers below it were more often wrong than right), the answer is reported as
  uncertain with the two closest genres.

A member is a model folder of the set (its trained head), or a model's **zero-shot answer**
named ``<folder>:zero-shot`` (e.g. YAMNet's AudioSet genre classes; see
:func:`member_folder`): an answer that never saw the training collection, so it holds up where
the collection's own recordings, artists or label habits do not carry over, and the pool
weighs it by how well it did on the same validation tracks.

Without validation data the fallback is the normalised geometric mean
(:func:`combine_probabilities`) with no threshold.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import minimize

from core.atomic import write_text_atomic
from core.errors import ModelError
from core.registry import jsonable

ENSEMBLE_FILE = "ensemble.json"
FORMAT_VERSION = 1
#: Suffix of a member that is a model's zero-shot answer rather than its trained head.
ZERO_SHOT_MEMBER = ":zero-shot"
_FLOOR = 1e-7


def member_folder(member: str) -> str:
    """The model folder an ensemble member answers from: ``"yamnet:zero-shot"`` -> ``"yamnet"``."""
    return member.removesuffix(ZERO_SHOT_MEMBER)


def combine_probabilities(stacked: np.ndarray) -> np.ndarray:
    """The fallback rule: normalised geometric mean of several models' probabilities.

    Parameters
    ----------
    stacked : np.ndarray [shape=(n_models, ..., n_genres)]
        Each model's probabilities over the same genres (last axis).

    Returns
    -------
    np.ndarray [shape=(..., n_genres)]
        ``exp(mean(log p))`` over the models, renormalised. Probabilities are floored at 1e-7
        so a single zero cannot veto a genre outright.
    """
    return pool(stacked, np.full(len(stacked), 1.0 / len(stacked)))


def pool(stacked: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted logarithmic pool ``softmax(sum_m w_m log p_m)`` over the last axis.

    Parameters
    ----------
    stacked : np.ndarray [shape=(n_models, ..., n_genres)]
    weights : np.ndarray [shape=(n_models,)]
        Non-negative; a single model with weight ``1/T`` is temperature scaling.
    """
    logs = np.log(np.clip(stacked, _FLOOR, 1.0))
    z = np.tensordot(np.asarray(weights, dtype=np.float64), logs, axes=1)
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def _nll(stacked: np.ndarray, weights: np.ndarray, labels: np.ndarray) -> float:
    proba = pool(stacked, weights)
    return float(-np.log(np.clip(proba[np.arange(len(labels)), labels], 1e-12, None)).mean())


def fit_weights(stacked: np.ndarray, labels: np.ndarray, *, l2: float = 1e-3) -> np.ndarray:
    """Non-negative pool weights maximising the likelihood of ``labels`` (L-BFGS-B).

    Parameters
    ----------
    stacked : np.ndarray [shape=(n_models, n_tracks, n_genres)]
    labels : np.ndarray [shape=(n_tracks,), dtype=int]
    l2 : float
        A small ridge on the weights, so that two models saying the same thing share the weight.
    """
    n = len(stacked)
    start = np.full(n, 1.0 / n)

    def objective(w: np.ndarray) -> float:
        return _nll(stacked, w, labels) + l2 * float(w @ w)

    result = minimize(objective, start, method="L-BFGS-B", bounds=[(0.0, 20.0)] * n)
    return np.asarray(result.x, dtype=np.float64)


def fit_temperature(proba: np.ndarray, labels: np.ndarray) -> float:
    """Temperature ``T`` of one model: ``softmax(log p / T)`` is calibrated on ``labels``."""
    return float(1.0 / max(fit_weights(proba[None], labels, l2=0.0)[0], 1e-3))


def uncertainty_threshold(confidence: np.ndarray, correct: np.ndarray) -> float:
    """The confidence below which an answer is reported as uncertain.

    Chooses the threshold ``t`` that maximises how often the flag is right: answers at or above
    ``t`` that are correct plus answers below ``t`` that are wrong (the lowest such ``t`` among
    equals). Only cuts between distinct confidences are considered, so tied answers fall on one
    side together. 0 when every answer is best left confident.
    """
    values = np.unique(confidence)
    cuts = np.concatenate([[values[0]], (values[:-1] + values[1:]) / 2, [values[-1] + 1e-6]])
    ok = np.asarray(correct, dtype=bool)
    scores = [int((~ok & (confidence < t)).sum() + (ok & (confidence >= t)).sum()) for t in cuts]
    best = int(np.argmax(scores))
    return 0.0 if best == 0 else float(cuts[best])


@dataclass
class Ensemble:
    """How a model set's answers are combined, calibrated, and flagged as uncertain.

    Attributes
    ----------
    models : list of str
        Member names, in the order of :attr:`weights`: folders of the set, and
        ``<folder>:zero-shot`` for a model's zero-shot answer (:func:`member_folder`).
    genres : list of str
        The genres the ensemble answers over (every model's genres).
    weights : list of float
        Pool weight of each model (see module docstring).
    temperatures : dict of str to float
        Each model's calibration temperature.
    threshold : float
        Ensemble confidence below which the answer is "uncertain".
    method : str
        ``"stacked"`` (fitted) or ``"geometric-mean"`` (fallback).
    fitted_on : dict
        The validation tracks it was fitted on (dataset, split, count).
    metrics : dict
        Held-out evaluation (test tracks), written by the builder.
    member_weights : dict of str to str
        Each member folder's ``weights_sha256`` at save time, so one retrained since is noticed.
    """

    models: list[str]
    genres: list[str]
    weights: list[float]
    temperatures: dict[str, float] = field(default_factory=dict)
    threshold: float = 0.0
    method: str = "stacked"
    fitted_on: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    #: sha256 of each member's weights when the ensemble was saved (see :meth:`stale_members`).
    member_weights: dict[str, str] = field(default_factory=dict)

    @classmethod
    def geometric_mean(cls, models: list[str], genres: list[str]) -> Ensemble:
        """The fallback: equal weights ``1/n``, no calibration, never uncertain."""
        return cls(list(models), list(genres), [1.0 / len(models)] * len(models),
                   {m: 1.0 for m in models}, 0.0, "geometric-mean")

    def combine(self, probas: dict[str, np.ndarray]) -> tuple[np.ndarray, str]:
        """Ensemble probabilities from each model's (over :attr:`genres`), and the rule used.

        With every member present the fitted pool is used; with some missing (e.g. YAMNet
        unavailable, or a model that gave no zero-shot answer) the geometric mean of the
        calibrated probabilities of :meth:`fallback_members`.
        """
        if all(m in probas for m in self.models):
            stacked = np.stack([probas[m] for m in self.models])
            return pool(stacked, np.asarray(self.weights)), self.method
        calibrated = np.stack([self.calibrate(m, probas[m])
                               for m in self.fallback_members(probas)])
        return combine_probabilities(calibrated), "geometric-mean"

    def fallback_members(self, available: Iterable[str]) -> list[str]:
        """What the geometric-mean fallback combines, of the ``available`` answers: the members
        that are model folders (a zero-shot answer beside its model's head would give that model
        a second vote), else every available model."""
        models = [m for m in available if m == member_folder(m)]
        return [m for m in models if m in self.temperatures] or models

    def calibrate(self, model: str, proba: np.ndarray) -> np.ndarray:
        """One model's probabilities after its temperature (unchanged when it has none)."""
        temperature = self.temperatures.get(model, 1.0)
        return pool(proba[None], np.array([1.0 / temperature]))

    def weights_text(self) -> str:
        """``"cnn 0.48, yamnet 0.28, mlp 0.25"``: the pool weights in words."""
        return ", ".join(f"{n} {w:.2f}" for n, w in zip(self.models, self.weights, strict=True))

    @property
    def folders(self) -> list[str]:
        """The model folders the members answer from, each once, in member order."""
        return list(dict.fromkeys(member_folder(m) for m in self.models))

    def stale_members(self, directory: str | os.PathLike[str]) -> list[str]:
        """Member folders whose saved weights in ``directory`` changed since this ensemble was
        saved."""
        current = _weights_of(Path(directory), self.folders)
        return [m for m in self.folders if m in self.member_weights
                and current.get(m) != self.member_weights[m]]

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``<directory>/ensemble.json`` atomically, recording the members' checksums."""
        path = Path(directory) / ENSEMBLE_FILE
        self.member_weights = _weights_of(Path(directory), self.folders)
        payload = {"format_version": FORMAT_VERSION, **asdict(self)}
        write_text_atomic(path, json.dumps(jsonable(payload), indent=2))
        return path

    @classmethod
    def load(cls, directory: str | os.PathLike[str], *, current: bool = False
             ) -> Ensemble | None:
        """The saved ensemble of a model set, or None when it has none.

        Parameters
        ----------
        directory : str or path
            The model set's folder.
        current : bool
            Refuse an ensemble whose member folders were retrained since it was fitted
            (:meth:`stale_members`): its weights and temperatures belong to other networks.

        Raises
        ------
        ModelError
            The file exists but is corrupt or of another format, or (``current``) is stale.
        """
        path = Path(directory) / ENSEMBLE_FILE
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text())
            if not isinstance(data, dict) or data.pop("format_version", None) != FORMAT_VERSION:
                raise ValueError("not an ensemble of this format version")
            ensemble = cls(**data)
            weights = np.asarray(ensemble.weights, dtype=np.float64)
            temperatures = np.asarray(list(ensemble.temperatures.values()), dtype=np.float64)
            if weights.shape != (len(ensemble.models),) or not np.isfinite(weights).all() \
                    or (weights < 0).any():
                raise ValueError(f"need one non-negative weight per model, got {ensemble.weights}")
            if not np.isfinite(temperatures).all() or (temperatures <= 0).any():
                raise ValueError(f"temperatures must be positive, got {ensemble.temperatures}")
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            raise ModelError(f"{path}: not a usable ensemble ({exc}); train the model set again "
                             "(`python -m core train`) or delete the file") from None
        if current and (stale := ensemble.stale_members(directory)):
            raise ModelError(f"{path} was fitted on other versions of {', '.join(stale)} "
                             "(retrained since); train the model set again to refit it")
        return ensemble


def fit_ensemble(probas: dict[str, np.ndarray], labels: np.ndarray, genres: list[str], *,
                 fitted_on: dict[str, Any] | None = None) -> Ensemble:
    """Calibrate every model, fit the pool weights and the uncertainty threshold.

    Parameters
    ----------
    probas : dict of str to np.ndarray [shape=(n_tracks, n_genres)]
        Each model's track probabilities on the same validation tracks, over ``genres``.
    labels : np.ndarray [shape=(n_tracks,), dtype=int]
    genres : list of str
    fitted_on : dict, optional
        Recorded with the ensemble (what the validation tracks were).

    Raises
    ------
    ModelError
        Fewer than 10 validation tracks or fewer than two genres among them: too little to fit
        on (use :meth:`Ensemble.geometric_mean`).
    """
    names = list(probas)
    if len(labels) < 10 or len(np.unique(labels)) < 2:
        raise ModelError(f"too few validation tracks to fit an ensemble on ({len(labels)}, "
                         f"{len(np.unique(labels))} genres)")
    stacked = np.stack([probas[m] for m in names])
    weights = fit_weights(stacked, labels)
    temperatures = {m: fit_temperature(probas[m], labels) for m in names}
    combined = pool(stacked, weights)
    threshold = uncertainty_threshold(combined.max(axis=1), combined.argmax(axis=1) == labels)
    info = {"tracks": len(labels), **(fitted_on or {})}
    return Ensemble(names, list(genres), [float(w) for w in weights], temperatures, threshold,
                    "stacked", info)


def _weights_of(directory: Path, models: list[str]) -> dict[str, str]:
    """``weights_sha256`` of each model folder below ``directory`` that records one."""
    from core.registry import read_metadata

    found = {}
    for name in models:
        try:
            sha = read_metadata(directory / name).get("weights_sha256")
        except ModelError:
            continue
        if sha:
            found[name] = sha
    return found
