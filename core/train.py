"""Training and evaluation workflows: what ``python -m core train|evaluate`` and the Train page run."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from core.cache import FeatureCache
from core.datasets import Dataset
from core.errors import ModelError, ParameterError
from core.evaluation import evaluate_segments
from core.models import FAMILIES, GenreModel, YamnetEmbedding
from core.models.base import Progress
from core.splits import Split


def parse_families(text: str) -> list[str]:
    """``"mlp,cnn"`` -> ``["mlp", "cnn"]``, refusing unknown names."""
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in FAMILIES]
    if unknown or not names:
        raise ParameterError(f"--models must list families from {', '.join(FAMILIES)}, got {text!r}")
    return list(dict.fromkeys(names))


def make_model(family: str, *, seed: int = 0, epochs: int | None = None,
               members: int | None = None, yamnet_handle: str | None = None) -> GenreModel:
    """A new, unfitted model of ``family`` with its default hyperparameters.

    ``epochs`` and ``members`` (seeds averaged), when given, replace the family's defaults.
    """
    kwargs: dict[str, Any] = {"seed": seed}
    if epochs is not None:
        kwargs["epochs"] = epochs
    if members is not None:
        kwargs["members"] = members
    if family == "yamnet":
        kwargs["handle"] = yamnet_handle
    return FAMILIES[family](**kwargs)


def train_family(family: str, dataset: Dataset, split: Split, out: str | os.PathLike[str], *,
                 seed: int = 0, epochs: int | None = None, members: int | None = None,
                 yamnet_handle: str | None = None,
                 cache: FeatureCache | None = None, n_jobs: int = 1,
                 progress: Progress | None = None, verbose: bool = False) -> GenreModel:
    """Train one family on ``split``, evaluate it on the test tracks, save it to ``out``.

    For YAMNet the zero-shot accuracy on the same test tracks is stored beside the head's.
    """
    model = make_model(family, seed=seed, epochs=epochs, members=members,
                       yamnet_handle=yamnet_handle)
    model.fit(dataset, split, cache=cache, n_jobs=n_jobs, progress=progress, verbose=verbose)
    if isinstance(model, YamnetEmbedding) and len(split.test):
        try:
            zero = YamnetEmbedding.zero_shot(list(dataset.genres), handle=yamnet_handle)
        except ModelError as exc:  # a taxonomy AudioSet does not know: the head still works
            model.info_["zero_shot"] = f"not measured: {exc}"
        else:
            model.metrics_["zero_shot"] = zero.evaluate_zero_shot(dataset, split, cache=cache)
    model.save(out)
    return model


def evaluate_model(model: GenreModel, dataset: Dataset, rows: np.ndarray | None = None, *,
                   cache: FeatureCache | None = None, n_jobs: int = 1) -> dict[str, Any]:
    """Segment- and track-level metrics of ``model`` on the given manifest rows (default: all).

    Raises
    ------
    ModelError
        The dataset has genres the model was not trained on (the message lists them).
    """
    genres = list(model.genres_ or [])
    unknown = sorted(set(dataset.genres) - set(genres))
    if unknown:
        raise ModelError(f"{model.display_name} was trained on {', '.join(genres)}; the dataset "
                         f"also has {', '.join(unknown)}: evaluate on matching genres")
    subset = dataset if rows is None else dataset.subset(rows)
    features = model.featurize_dataset(subset, cache=cache, n_jobs=n_jobs, progress=False)
    labels = np.array([genres.index(g) for g in subset.manifest["label"]])[features.track]
    proba = model.predict_rows(features.X)
    metrics = evaluate_segments(proba, labels, features.track, genres)
    metrics["skipped_tracks"] = len(features.errors)
    return metrics
