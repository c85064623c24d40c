"""Training and evaluation workflows: what ``python -m core train|evaluate`` and the Train page run."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from core.cache import FeatureCache
from core.conditions import FIT_CONDITIONS, check_copies, with_copies, write_condition_copies
from core.datasets import Dataset
from core.ensemble import ZERO_SHOT_MEMBER, Ensemble, fit_ensemble
from core.errors import ModelError, ParameterError
from core.evaluation import aggregate_tracks, classification_metrics, evaluate_segments
from core.models import FAMILIES, GenreModel, YamnetEmbedding
from core.models.base import Progress, Rows, test_track_table
from core.provenance import HeldOut, held_out_rows, record_training_tracks
from core.splits import Split, check_no_leak, group_kfold


def parse_families(text: str) -> list[str]:
    """``"mlp,cnn"`` -> ``["mlp", "cnn"]``, refusing unknown names."""
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in FAMILIES]
    if unknown or not names:
        raise ParameterError(f"--models must list families from {', '.join(FAMILIES)}, got {text!r}")
    return list(dict.fromkeys(names))


def make_model(family: str, *, seed: int = 0, epochs: int | None = None,
               members: int | None = None, yamnet_handle: str | None = None,
               weights: str | os.PathLike[str] | None = None,
               fine_tune: bool = False) -> GenreModel:
    """A new, unfitted model of ``family`` with its default hyperparameters.

    ``epochs`` and ``members`` (seeds averaged), when given, replace the family's defaults.
    ``weights`` (``vgg`` only): a local ImageNet VGG16/ResNet50 weights file for
    :class:`~core.models.vgg.VggTransfer`; None uses the shipped MSD VGG. ``fine_tune``
    (``cnn`` only): fine-tune musicnn's back-end instead of the linear probe.

    Raises
    ------
    ModelError
        ``weights`` given for another family than ``vgg``, or naming no usable file;
        ``fine_tune`` for another family than ``cnn``.
    """
    kwargs: dict[str, Any] = {"seed": seed}
    if epochs is not None:
        kwargs["epochs"] = epochs
    if members is not None:
        kwargs["members"] = members
    if family == "yamnet":
        kwargs["handle"] = yamnet_handle
    if weights is not None:
        if family != "vgg":
            raise ModelError(f"weights (a local ImageNet weights file) apply to the vgg family "
                             f"only, not {family!r}")
        kwargs["weights"] = weights
    if fine_tune:
        if family != "cnn":
            raise ModelError(f"fine-tuning (musicnn's back-end) applies to the cnn family only, "
                             f"not {family!r}")
        kwargs["fine_tune"] = True
    return FAMILIES[family](**kwargs)


def fit_on_recordings(model: GenreModel, dataset: Dataset, split: Split,
                      copies: Mapping[str, Dataset] | None, **fit_kwargs: Any) -> GenreModel:
    """Fit ``model`` on ``split``, its training side also on every copy of its training tracks.

    Parameters
    ----------
    model : GenreModel
        Unfitted.
    dataset, split : Dataset, Split
    copies : dict of str to Dataset or None
        Re-recordings of ``dataset``, row for row (:func:`core.conditions.write_condition_copies`);
        None or empty: an ordinary fit. Validation and test tracks stay the originals.
    **fit_kwargs
        Passed to :meth:`~core.models.base.GenreModel.fit` (``cache``, ``progress``...).

    Returns
    -------
    GenreModel
        ``model``, fitted; its ``info_`` counts tracks (not recordings) and names the
        recordings it trained on (``split.training_recordings``).
    """
    if not copies:
        return model.fit(dataset, split, **fit_kwargs)
    combined, recorded = with_copies(dataset, copies, split)
    model.fit(combined, recorded, **fit_kwargs)
    model.info_["dataset"]["name"] = (f"{dataset.name}; each training file also re-recorded "
                                      f"{len(copies)} ways")
    model.info_["split"].update(name=split.name, train_tracks=len(split.train),
                                training_recordings=["original", *copies])
    return model


@contextmanager
def training_recordings(dataset: Dataset, split: Split, *, enabled: bool = True
                        ) -> Iterator[dict[str, Dataset] | None]:
    """``split``'s training tracks re-recorded under :data:`core.conditions.FIT_CONDITIONS`
    in a temporary folder that lasts as long as the ``with`` block (what ``train
    --recordings`` and the Train page's option train on); None when not ``enabled``.

    Raises
    ------
    ParameterError
        ``dataset`` has rows without audio (a feature table).
    """
    if not enabled:
        yield None
        return
    if not dataset.manifest["path"].astype(bool).all():
        raise ParameterError("training on re-recordings needs an audio dataset, not a feature "
                             "table")
    with tempfile.TemporaryDirectory(prefix="genrelab-recordings-") as scratch:
        yield write_condition_copies(dataset, FIT_CONDITIONS, scratch, rows=split.train)


def check_set_folder(out: str | os.PathLike[str], families: list[str], genres: list[str]) -> None:
    """Refuse to train ``families`` into the model set ``out`` when its other models (those not
    retrained) answer other genres than ``genres``: the set would mix collections, and its
    ensemble could only combine the genres they share.

    Raises
    ------
    UsageError
        Naming those models and their genres.
    """
    from core.errors import UsageError
    from core.registry import list_models, read_metadata

    others = {}
    for folder in list_models(out):
        if folder.name in families:
            continue
        try:
            theirs = list(read_metadata(folder).get("genres") or [])
        except ModelError:
            continue  # unreadable: loading it is refused with its own message
        if theirs and theirs != list(genres):
            others[folder.name] = theirs
    if others:
        listed = "; ".join(f"{name}: {', '.join(g)}" for name, g in others.items())
        raise UsageError(f"{out} holds models trained on other genres ({listed}), where this "
                         f"dataset has {', '.join(genres)}; a model set's models answer the same "
                         "genres: train them too (add them to the models) or train into "
                         "another folder")


def skipped_note(model: GenreModel) -> str | None:
    """``"2 files could not be read and did not take part (e.g. a.wav: ...; b.wav: ...)"`` for
    a trained model that left unreadable files out (None: it used them all)."""
    skipped = model.info_.get("skipped_tracks")
    if not skipped:
        return None
    examples = "; ".join(e.rstrip(".") for e in model.info_.get("skipped_examples") or [])
    return (f"{skipped} file{'s' if skipped != 1 else ''} could not be read and did not take "
            "part" + (f" (e.g. {examples})" if examples else ""))


def train_family(family: str, dataset: Dataset, split: Split, out: str | os.PathLike[str], *,
                 seed: int = 0, epochs: int | None = None, members: int | None = None,
                 yamnet_handle: str | None = None,
                 weights: str | os.PathLike[str] | None = None, fine_tune: bool = False,
                 copies: Mapping[str, Dataset] | None = None,
                 cache: FeatureCache | None = None, n_jobs: int = 1,
                 progress: Progress | None = None, verbose: bool = False) -> GenreModel:
    """Train one family on ``split``, evaluate it on the test tracks, save it to ``out`` with
    the tracks it trained on (``trained_tracks.json``, for later evaluations).

    ``copies`` (re-recordings of ``dataset``): the training tracks' copies train too
    (:func:`fit_on_recordings`). For YAMNet the zero-shot accuracy on the same test tracks is
    stored beside the head's.
    """
    model = make_model(family, seed=seed, epochs=epochs, members=members,
                       yamnet_handle=yamnet_handle, weights=weights, fine_tune=fine_tune)
    fit_on_recordings(model, dataset, split, copies, cache=cache, n_jobs=n_jobs,
                      progress=progress, verbose=verbose)
    if isinstance(model, YamnetEmbedding) and len(split.test):
        try:
            zero = YamnetEmbedding.zero_shot(list(dataset.genres), handle=yamnet_handle)
        except ModelError as exc:  # a taxonomy AudioSet does not know: the head still works
            model.info_["zero_shot"] = f"not measured: {exc}"
        else:
            model.metrics_["zero_shot"] = zero.evaluate_zero_shot(dataset, split, cache=cache)
            model.metrics_["zero_shot"]["unmapped_genres"] = zero.info_["unmapped_genres"]
    model.save(out)
    record_training_tracks(out, dataset, split)
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
    subset, features, proba = _predict_subset(model, dataset, rows, cache=cache, n_jobs=n_jobs)
    labels = np.array([genres.index(g) for g in subset.manifest["label"]])[features.track]
    metrics = evaluate_segments(proba, labels, features.track, genres)
    metrics["skipped_tracks"] = len(features.errors)
    metrics["skipped_files"] = [features.errors[k] for k in sorted(features.errors)]
    return metrics


def evaluate_unseen(model: GenreModel, dataset: Dataset, rows: np.ndarray | None = None, *,
                    model_dir: str | os.PathLike[str] | None = None,
                    cache: FeatureCache | None = None, n_jobs: int = 1
                    ) -> tuple[HeldOut, dict[str, Any]]:
    """:func:`evaluate_model` on the manifest ``rows`` (default: all) that ``model`` never
    trained on (:func:`core.provenance.held_out_rows`, from ``model_dir``'s record).

    Raises
    ------
    ModelError
        It trained on every one of them, or cannot be evaluated on the dataset.
    """
    held = held_out_rows(dataset.manifest, model_dir=model_dir, metrics=model.metrics_, rows=rows)
    if not len(held.rows) and not held.excluded:
        raise ModelError(f"no tracks of {dataset.name} to test on (the chosen split's test side "
                         "is empty: try another fold or split)")
    if not len(held.rows):
        raise ModelError(f"it trained on all {held.excluded} of these tracks of {dataset.name}; "
                         "nothing is left to test it on")
    return held, evaluate_model(model, dataset, held.rows, cache=cache, n_jobs=n_jobs)


def evaluate_set_ensemble(models: Mapping[str, GenreModel], ensemble: Ensemble, dataset: Dataset,
                          rows: np.ndarray | None = None, *,
                          model_dirs: Mapping[str, str | os.PathLike[str]] | None = None,
                          cache: FeatureCache | None = None, n_jobs: int = 1
                          ) -> tuple[np.ndarray, dict[str, Any]]:
    """A model set's fitted ensemble on the manifest ``rows`` of ``dataset`` (default: all)
    that none of its members trained on: each member's answers there (zero-shot ones
    included, :func:`member_tables`), combined as a prediction combines them.

    Parameters
    ----------
    models : dict of str to GenreModel
        The set's loaded models, by folder name.
    ensemble : Ensemble
    dataset : Dataset
    rows : np.ndarray, optional
    model_dirs : dict of str to path, optional
        Each member's folder (its ``trained_tracks.json``; :func:`core.provenance.held_out_rows`).
    cache : FeatureCache, optional
    n_jobs : int

    Returns
    -------
    rows : np.ndarray
        The manifest rows evaluated on.
    metrics : dict
        :func:`evaluate_ensemble`'s metrics on the tracks every member could read.

    Raises
    ------
    ModelError
        A member did not load or answers other genres, the dataset has genres the ensemble does
        not, or no track is left that no member trained on.
    """
    missing = [f for f in ensemble.folders if f not in models]
    if missing:
        raise ModelError(f"it needs {', '.join(missing)}, which did not load")
    for folder in ensemble.folders:
        if list(models[folder].genres_ or []) != list(ensemble.genres):
            raise ModelError(f"{folder} answers other genres than the ensemble was fitted on "
                             "(retrained since?); train the set again")
    unknown = sorted(set(dataset.genres) - set(ensemble.genres))
    if unknown:
        raise ModelError(f"the ensemble answers {', '.join(ensemble.genres)}; the dataset also "
                         f"has {', '.join(unknown)}")
    common: np.ndarray | None = None
    for folder in ensemble.folders:  # never a track any member trained on
        held = held_out_rows(dataset.manifest, model_dir=(model_dirs or {}).get(folder),
                             metrics=models[folder].metrics_, rows=rows)
        common = held.rows if common is None else np.intersect1d(common, held.rows)
    if common is None or not len(common):
        raise ModelError("its members trained on all of these tracks between them; nothing is "
                         "left to test it on")
    tables = member_tables({f: models[f] for f in ensemble.folders}, dataset, common,
                           cache=cache, n_jobs=n_jobs, some_genres=True)
    if absent := [member for member in ensemble.models if member not in tables]:
        raise ModelError(f"no answer from {', '.join(absent)}")
    metrics = evaluate_ensemble(ensemble, {member: tables[member] for member in ensemble.models})
    if not metrics:
        raise ModelError("no track every member could read")
    return common, metrics


def predict_tracks(model: GenreModel, dataset: Dataset, rows: np.ndarray, *,
                   cache: FeatureCache | None = None) -> list[dict[str, Any]]:
    """``model``'s track table (:func:`~core.models.base.test_track_table`) on manifest ``rows``.

    Raises
    ------
    ModelError
        The dataset has genres the model does not know.
    """
    _check_genres(model, dataset)
    subset, features, proba = _predict_subset(model, dataset, rows, cache=cache)
    tracks, track_proba = aggregate_tracks(proba, features.track)
    return test_track_table(subset, tracks, track_proba)


def _check_genres(model: GenreModel, dataset: Dataset) -> None:
    if list(dataset.genres) != list(model.genres_ or []):
        raise ModelError(f"{model.display_name} answers {model.genres_}, the dataset has "
                         f"{dataset.genres}")


def member_tables(models: Mapping[str, GenreModel], dataset: Dataset, rows: np.ndarray, *,
                  cache: FeatureCache | None = None, n_jobs: int = 1, some_genres: bool = False
                  ) -> dict[str, list[dict[str, Any]]]:
    """Every ensemble member's track table on manifest ``rows`` of ``dataset`` (e.g. a
    re-recording of the tracks): each model's, and beside a model whose zero-shot answer covers
    every genre, that answer's as ``<name>:zero-shot`` (see :func:`track_tables`).
    ``some_genres``: the dataset may have only some of the models' genres (e.g. a user's own
    collection), else it must have exactly theirs."""
    tables = {}
    for name, model in models.items():
        if not some_genres:
            _check_genres(model, dataset)
        subset, features, proba = _predict_subset(model, dataset, rows, cache=cache,
                                                  n_jobs=n_jobs)
        answers = {name: proba}
        if model.zero_shot_ready:  # from the same inputs: the encoder runs once
            answers[name + ZERO_SHOT_MEMBER] = model.zero_shot_rows(features.X)
        for member, member_proba in answers.items():
            tables[member] = test_track_table(subset, *aggregate_tracks(member_proba,
                                                                        features.track),
                                              genres=list(model.genres_ or []))
    return tables


def track_tables(models: Mapping[str, GenreModel], side: str = "test"
                 ) -> dict[str, list[dict[str, Any]]]:
    """Each fitted model's track table on its split's ``side`` (``"test"`` or
    ``"validation"``), and, where :meth:`~core.models.base.GenreModel.fit` kept one (a model
    whose zero-shot answer covers every genre,
    :attr:`~core.models.base.GenreModel.zero_shot_ready`), that answer's on the same tracks as
    the ensemble member ``<name>:zero-shot``. Models without a table on that side are left out.
    """
    tables = {}
    for name, model in models.items():
        if model.metrics_.get(f"{side}_tracks"):
            tables[name] = model.metrics_[f"{side}_tracks"]
            if model.metrics_.get(f"zero_shot_{side}_tracks"):
                tables[name + ZERO_SHOT_MEMBER] = model.metrics_[f"zero_shot_{side}_tracks"]
    return tables


def _predict_subset(model: GenreModel, dataset: Dataset, rows: np.ndarray | None, *,
                    cache: FeatureCache | None, n_jobs: int = 1) -> tuple[Dataset, Rows, np.ndarray]:
    """The manifest ``rows`` (default: all), their input rows, and ``model``'s probabilities."""
    model.check_can_read(dataset)
    subset = dataset if rows is None else dataset.subset(rows)
    features = model.featurize_dataset(subset, cache=cache, n_jobs=n_jobs, progress=False)
    return subset, features, model.predict_rows(features.X)


def common_tracks(tables: dict[str, list[dict[str, Any]]]
                  ) -> tuple[list[str], dict[str, np.ndarray], list[str]]:
    """Tracks every model's table has (by path), each model's probabilities on them in one
    order, and their true genres."""
    by_path = {name: {row["path"] or row["track_id"]: row for row in table}
               for name, table in tables.items()}
    common = sorted(set.intersection(*(set(rows) for rows in by_path.values())))
    probas = {name: np.array([rows[p]["proba"] for p in common]) for name, rows in by_path.items()}
    first = next(iter(by_path.values()))
    return common, probas, [first[p]["true"] for p in common]


def fit_model_set_ensemble(models: dict[str, GenreModel], *,
                           fitted_on: dict[str, Any] | None = None) -> Ensemble:
    """The ensemble of a model set, from its models' validation and test track tables.

    Each model's ``metrics_["validation_tracks"]`` (predictions on validation tracks by a network
    that never trained on them; with ``refit=False`` and several members, e.g. a fine-tuned
    mel-CNN, by networks whose early stopping watched those tracks, so a little optimistic)
    fit the weights, temperatures and threshold
    (:func:`core.ensemble.fit_ensemble`); its ``metrics_["test_tracks"]`` evaluate the result on
    the test tracks every model was tested on, beside each model on exactly those tracks. A model
    whose zero-shot answer covers every genre brings that answer as a member too
    (``<name>:zero-shot``, :func:`track_tables`).

    Raises
    ------
    ModelError
        Fewer than two models with validation predictions, different genres, or too few common
        validation tracks.
    """
    usable = {n: m for n, m in models.items() if m.metrics_.get("validation_tracks")}
    if len(usable) < 2:
        raise ModelError("an ensemble needs at least two models with validation predictions")
    genres = list(next(iter(usable.values())).genres_ or [])
    if any(list(m.genres_ or []) != genres for m in usable.values()):
        raise ModelError("the models answer different genres; an ensemble needs the same ones")
    validation = track_tables(usable, "validation")
    test = track_tables(usable)
    return ensemble_from_tables(validation, {n: test.get(n) or [] for n in validation}, genres,
                                fitted_on=fitted_on)


def out_of_fold_tables(fit_models: Callable[[Split, dict[str, Dataset]], dict[str, GenreModel]],
                       dataset: Dataset, rows: np.ndarray, *, folds: int = 3, seed: int = 1,
                       copies: Mapping[str, Dataset] | None = None, unseen_copies: bool = False,
                       cache: FeatureCache | None = None) -> dict[str, list[dict[str, Any]]]:
    """Every model's predictions on every track in ``rows``, each by a model that never saw its
    group: what an ensemble is fitted on when a single validation side is too small.

    Parameters
    ----------
    fit_models : callable
        ``fit_models(split, copies)`` trains a fresh set of models on a split of ``dataset``
        (and, if it trains on re-recordings, on the ``copies`` given, a subset of ``copies``
        below) and returns them by name, each with its predictions on the split's test tracks
        as ``metrics_["test_tracks"]`` (what :meth:`~core.models.base.GenreModel.fit` leaves).
    dataset : Dataset
    rows : np.ndarray
        Track indices to predict (e.g. an outer split's train + valid tracks; its test tracks
        must not be among them).
    folds, seed : int
        Group k-fold over ``rows`` (``dataset``'s groups, checked for leaks); each fold's
        validation side is 15% of its training groups.
    copies : dict of str to Dataset, optional
        Other recordings of ``dataset``, row for row (e.g.
        :func:`core.conditions.write_condition_copies`): each fold's models also predict the
        copies of that fold's held-out tracks, and those rows (other paths, with a
        ``condition``) join the tables. A copy of a track is only ever predicted by models that
        never saw the track.
    unseen_copies : bool
        False: one set of models per fold, fitted with every copy, predicts the held-out tracks
        and all their copies. True: each copy's rows are predicted by models fitted with the
        other copies only (one more set per copy and fold), so the tables say how each member
        does on a recording it never trained on, as an upload's is; the original recordings are
        predicted by the models fitted with every copy.
    cache : FeatureCache, optional
        For the copies' features.

    Returns
    -------
    dict of str to list of dict
        Per ensemble member (each model, and ``<name>:zero-shot`` beside a model whose zero-shot
        answer covers every genre; :func:`track_tables`),
        :func:`~core.models.base.test_track_table` rows for every track of ``rows`` (and of each
        copy).

    Raises
    ------
    ModelError
        A copy is not ``dataset`` row for row.
    """
    rows = np.sort(np.asarray(rows))
    copies = dict(copies or {})
    check_copies(dataset, copies)
    tables: dict[str, list[dict[str, Any]]] = {}
    for k, fold in enumerate(group_kfold(dataset.subset(rows), n_splits=folds, valid_size=0.15,
                                         seed=seed)):
        inner = Split(f"inner fold {k + 1}/{folds}", rows[fold.train], rows[fold.valid],
                      rows[fold.test])
        check_no_leak(dataset, inner)
        models = fit_models(inner, copies)
        for name, table in track_tables(models).items():
            tables.setdefault(name, []).extend(table)
        for condition, copy in copies.items():
            if unseen_copies:
                models = fit_models(inner, {c: d for c, d in copies.items() if c != condition})
            for name, table in member_tables(models, copy, inner.test, cache=cache).items():
                if name in tables:  # members whose held-out tracks are in the tables
                    tables[name].extend({**row, "condition": condition} for row in table)
    return tables


def ensemble_from_tables(validation: dict[str, list[dict[str, Any]]],
                         test: dict[str, list[dict[str, Any]]], genres: list[str], *,
                         fitted_on: dict[str, Any] | None = None) -> Ensemble:
    """Fit an ensemble on models' validation track tables; evaluate it on their test tables.

    Parameters
    ----------
    validation, test : dict of str to list of dict
        Per model, :func:`~core.models.base.test_track_table` rows (with ``proba``): tracks the
        model never trained on. Only tracks every model has are used.
    genres : list of str
        The genres of every model, in their output order.
    """
    _, probas, truth = common_tracks(validation)
    labels = np.array([genres.index(g) for g in truth])
    ensemble = fit_ensemble(probas, labels, genres, fitted_on=fitted_on)
    if all(test.get(n) for n in validation):
        ensemble.metrics = evaluate_ensemble(ensemble, {n: test[n] for n in validation})
    return ensemble


def evaluate_ensemble(ensemble: Ensemble, test: dict[str, list[dict[str, Any]]]
                      ) -> dict[str, Any]:
    """The ensemble and each member on the test tracks every member's table has.

    Returns ``{}`` when they share none; else ``track`` (the ensemble's metrics), ``members``,
    ``members_calibrated_ece``, ``best_member``, ``uncertain_share`` and
    ``accuracy_when_confident``.
    """
    genres = ensemble.genres
    paths, test_probas, truth = common_tracks(test)
    if not paths:
        return {}
    y = np.array([genres.index(g) for g in truth])
    combined, _ = ensemble.combine(test_probas)
    members = {n: classification_metrics(y, p, genres) for n, p in test_probas.items()}
    confident = combined.max(axis=1) >= ensemble.threshold
    return {
        "track": classification_metrics(y, combined, genres),
        "members": members,
        "members_calibrated_ece": {
            n: classification_metrics(y, ensemble.calibrate(n, p), genres)["ece"]
            for n, p in test_probas.items()},
        "best_member": max(members, key=lambda n: members[n]["accuracy"]),
        "uncertain_share": float(1 - confident.mean()),
        "accuracy_when_confident": float((combined.argmax(axis=1) == y)[confident].mean())
        if confident.any() else None,
    }


def save_set_ensemble(models: dict[str, GenreModel], out: str | os.PathLike[str], *, dataset: str,
                      split: str) -> str:
    """Fit and save a freshly trained model set's ensemble; a line saying what was done.

    Without enough validation predictions nothing is saved and the line says why (predictions
    then combine the models by their geometric mean).
    """
    try:
        ensemble = fit_model_set_ensemble(models, fitted_on={"dataset": dataset, "split": split,
                                                             "side": "valid"})
    except ModelError as exc:
        return (f"note: no ensemble fitted ({exc}); predictions combine the models by their "
                "geometric mean")
    path = ensemble.save(Path(out))
    line = (f"ensemble -> {path}: weights {ensemble.weights_text()}; uncertain below "
            f"{ensemble.threshold:.2f} "
            f"(fitted on {ensemble.fitted_on['tracks']} validation tracks)")
    if "track" in ensemble.metrics:
        m = ensemble.metrics["track"]
        line += f"; test accuracy {m['accuracy']:.3f}, ECE {m['ece']:.3f}"
    return line
