"""What the heads on pretrained encoders share: a linear probe, and genre-name matching."""

from __future__ import annotations

import unicodedata
from typing import Any

import numpy as np

#: L2 penalties a linear probe chooses between on validation tracks (with the model's own).
#: On the bundled split's train + valid files, artist-grouped out-of-fold accuracy of both heads
#: was flat from 1e-3 to 1e-1 and fell at 3e-1; log-loss was lowest at 3e-2 (the default).
PROBE_L2 = (1e-2, 3e-2, 1e-1)


def genre_key(name: str) -> str:
    """A genre or class name reduced for matching: ``"Hip hop music"`` and ``"hiphop"`` agree,
    as do ``"Drum & Bass"`` and ``"Drum and bass"``, and ``"Música"`` and ``"musica"``."""
    plain = unicodedata.normalize("NFKD", name.lower().replace("&", " and "))  # é: e + accent
    return "".join(ch for ch in plain if ch.isalnum()).removesuffix("music")


def zero_shot_proba(scores: np.ndarray, classes: dict[str, list[int]], genres: list[str], *,
                    reduce: str) -> np.ndarray:
    """Zero-shot genre probabilities from an encoder's class (or tag) scores.

    Parameters
    ----------
    scores : np.ndarray [shape=(n_rows, n_classes)]
    classes : dict of str to list of int
        The encoder classes mapped to each genre (empty: the genre scores 0).
    genres : list of str
        Output order.
    reduce : {"sum", "max"}
        How a genre's classes combine: the strongest (independent scores of overlapping
        classes or tags, as YAMNet's AudioSet classes and musicnn's tags are) or their sum
        (the rule of YAMNet models saved before the strongest became their default).

    Returns
    -------
    np.ndarray [shape=(n_rows, len(genres))]
        Rows normalised to sum to 1.
    """
    combine = np.sum if reduce == "sum" else np.max
    per_genre = np.stack([combine(scores[:, ids], axis=1) if ids else np.zeros(len(scores))
                          for ids in (classes.get(g, []) for g in genres)], axis=1) + 1e-9
    return per_genre / per_genre.sum(axis=1, keepdims=True)


def build_linear_head(input_shape: tuple[int, ...], n_classes: int, *, l2: float,
                      input_name: str, name: str) -> Any:
    """A linear probe: standardise the embedding, then one L2-regularised softmax layer.

    Parameters
    ----------
    input_shape : tuple
        ``(n_features,)`` of one embedding.
    n_classes : int
    l2 : float
        L2 penalty on the weights (chosen on validation tracks by the families that use it).
    input_name, name : str
        Names of the input and of the Keras model.
    """
    import keras
    from keras import layers

    inputs = keras.Input(shape=input_shape, name=input_name)
    x = layers.Normalization(name="normalize")(inputs)
    outputs = layers.Dense(n_classes, activation="softmax", name="genre",
                           kernel_regularizer=keras.regularizers.l2(l2))(x)
    return keras.Model(inputs, outputs, name=name)


def fit_softmax_probe(Z: np.ndarray, labels: np.ndarray, n_classes: int, *, l2: float,
                      max_iter: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression on standardised embeddings: the probe's exact optimum.

    Parameters
    ----------
    Z : np.ndarray [shape=(n_examples, n_features)]
        Standardised embeddings.
    labels : np.ndarray [shape=(n_examples,)]
        Class indices in ``[0, n_classes)``; classes absent from ``labels`` are never predicted.
    n_classes : int
    l2 : float
        Penalty as Keras counts it, ``mean cross-entropy + l2 * ||W||^2`` (the bias is not
        penalised), so its meaning does not change with the number of examples.
    max_iter : int
        L-BFGS iterations.

    Returns
    -------
    kernel : np.ndarray [shape=(n_features, n_classes)]
    bias : np.ndarray [shape=(n_classes,)]
        The weights of a softmax ``Dense`` layer.
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    present = np.unique(labels)
    kernel = np.zeros((Z.shape[1], n_classes), dtype=np.float32)
    bias = np.full(n_classes, -30.0, dtype=np.float32)  # never predicted: no examples
    clf = LogisticRegression(C=1.0 / (2.0 * l2 * len(Z)), max_iter=max_iter)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(Z, labels)
    if len(present) == 2:  # sklearn keeps one logit for two classes: the other's is 0
        kernel[:, present[1]] = clf.coef_[0]
        bias[present] = [0.0, clf.intercept_[0]]
    else:
        kernel[:, present] = clf.coef_.T
        bias[present] = clf.intercept_
    return kernel, bias


def train_linear_probe(model: Any, X: np.ndarray, labels: np.ndarray, rows: np.ndarray,
                       n_classes: int, setting: dict[str, Any], *, l2: float,
                       valid: np.ndarray | None = None
                       ) -> tuple[Any, dict[str, list[float]], dict[str, Any]]:
    """A :class:`~core.models.base.GenreModel` family's ``_train`` for a linear probe.

    The probe is convex, so it is solved exactly (:func:`fit_softmax_probe`) instead of by
    epochs of gradient descent with early stopping: the same optimum on every run, and no seed
    ensemble needed. The weights land in the family's Keras head (``normalize`` adapted on the
    training examples, then ``genre``), so saving, loading and prediction are unchanged.

    Returns
    -------
    tuple
        The Keras model, a one-step history (``loss`` and, with ``valid``, ``val_loss``: mean
        cross-entropy on the training and validation examples) and ``setting``.
    """
    X_train, y_train = model.training_examples(X[rows], labels[rows])
    network = model.build(X_train.shape[1:], n_classes, **setting)
    normalize = network.get_layer("normalize")
    normalize.adapt(X_train)
    kernel, bias = fit_softmax_probe(np.asarray(normalize(X_train)), y_train, n_classes,
                                     l2=setting.get("l2", l2))
    network.get_layer("genre").set_weights([kernel, bias])

    def loss(examples: np.ndarray, truth: np.ndarray) -> float:
        """Mean cross-entropy of the probe on ``examples`` (what Keras reports as its loss)."""
        logits = np.asarray(normalize(examples), dtype=np.float64) @ kernel + bias
        logits -= logits.max(axis=1, keepdims=True)
        log_proba = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        return float(-log_proba[np.arange(len(truth)), truth].mean())

    history = {"loss": [loss(X_train, y_train)]}
    if valid is not None:
        history["val_loss"] = [loss(*model.training_examples(X[valid], labels[valid]))]
    return network, history, setting
