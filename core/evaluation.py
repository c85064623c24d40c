"""Honest evaluation: per-genre and macro metrics, confusion matrices, segment and track level."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
    roc_auc_score,
)


def classification_metrics(
    y_true: np.ndarray, proba: np.ndarray, genres: list[str]
) -> dict[str, Any]:
    """Metrics of class probabilities against true labels.

    Parameters
    ----------
    y_true : np.ndarray [shape=(n,), dtype=int]
        True class indices into ``genres``.
    proba : np.ndarray [shape=(n, len(genres))]
        Predicted probabilities (rows sum to 1).
    genres : list of str

    Returns
    -------
    metrics : dict
        ``n``, ``accuracy``, ``accuracy_ci`` (95% bootstrap interval over the rows),
        ``ece`` (expected calibration error, 10 bins), ``macro_f1``, ``roc_auc_ovr`` (macro
        one-vs-rest over the genres present in ``y_true``; None with fewer than two),
        ``per_genre`` ({genre: precision, recall, f1, support}; recall is the genre's accuracy),
        ``confusion`` (rows true, columns predicted, counts).
    """
    labels = np.arange(len(genres))
    y_pred = proba.argmax(axis=1)
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    present = np.unique(y_true)
    auc = None
    if len(present) > 1:  # macro one-vs-rest over the genres present in y_true
        auc = float(np.mean([roc_auc_score(y_true == c, proba[:, c]) for c in present]))
    return {
        "n": len(y_true),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "accuracy_ci": bootstrap_interval(y_pred == y_true),
        "ece": expected_calibration_error(proba, y_true),
        "macro_f1": float(f1_score(y_true, y_pred, labels=present, average="macro",
                                   zero_division=0)),
        "roc_auc_ovr": auc,
        "per_genre": {
            g: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for g, p, r, f, s in zip(genres, precision, recall, f1, support, strict=True)
        },
        "confusion": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }


def expected_calibration_error(proba: np.ndarray, y_true: np.ndarray, n_bins: int = 10) -> float:
    """Expected calibration error of the top answer (Guo et al. 2017).

    The rows are binned by confidence (the top probability) into ``n_bins`` equal-width bins;
    the ECE is the mean over rows of ``|accuracy - mean confidence|`` of their bin. 0 means a
    model that says 0.7 is right 70% of the time.
    """
    confidence = proba.max(axis=1)
    correct = proba.argmax(axis=1) == y_true
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    total = 0.0
    for b in np.unique(bins):
        inside = bins == b
        total += inside.sum() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(total / max(len(y_true), 1))


def bootstrap_interval(correct: np.ndarray, *, level: float = 0.95, n_boot: int = 2000,
                       seed: int = 0) -> list[float]:
    """Percentile bootstrap interval of an accuracy, resampling the rows (tracks) with replacement.

    Parameters
    ----------
    correct : np.ndarray [shape=(n,), dtype=bool]
        Whether each row was classified correctly.
    level : float
        Coverage of the interval.

    Returns
    -------
    list of float
        ``[low, high]``; ``[nan, nan]`` for no rows.
    """
    correct = np.asarray(correct, dtype=float)
    if not len(correct):
        return [float("nan"), float("nan")]
    rng = np.random.default_rng(seed)
    # Resampling n booleans with replacement counts successes ~ Binomial(n, observed accuracy).
    means = rng.binomial(len(correct), correct.mean(), size=n_boot) / len(correct)
    tail = (1 - level) / 2
    return [float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))]


def aggregate_tracks(
    proba: np.ndarray, row_track: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Track-level probabilities: the mean of each track's segment probabilities.

    Parameters
    ----------
    proba : np.ndarray [shape=(n_rows, n_classes)]
    row_track : np.ndarray [shape=(n_rows,)]
        The track (any hashable id, usually a manifest row) of each segment row.

    Returns
    -------
    tracks : np.ndarray [shape=(n_tracks,)]
        Sorted unique track ids.
    track_proba : np.ndarray [shape=(n_tracks, n_classes)]
    """
    tracks, inverse = np.unique(row_track, return_inverse=True)
    sums = np.zeros((len(tracks), proba.shape[1]))
    np.add.at(sums, inverse, proba)
    counts = np.bincount(inverse, minlength=len(tracks))[:, None]
    return tracks, sums / counts


def evaluate_segments(
    proba: np.ndarray, y_true: np.ndarray, row_track: np.ndarray, genres: list[str]
) -> dict[str, Any]:
    """Segment-level and track-level metrics (track = mean of its segments' probabilities)."""
    tracks, track_proba = aggregate_tracks(proba, row_track)
    first_row = {t: i for i, t in reversed(list(enumerate(row_track)))}
    track_true = np.array([y_true[first_row[t]] for t in tracks])
    return {
        "segment": classification_metrics(y_true, proba, genres),
        "track": classification_metrics(track_true, track_proba, genres),
    }
