"""What the heads on pretrained encoders share: a linear probe, and genre-name matching."""

from __future__ import annotations

from typing import Any

import numpy as np


def genre_key(name: str) -> str:
    """A genre or class name reduced for matching: ``"Hip hop music"`` and ``"hiphop"`` agree."""
    return "".join(ch for ch in name.lower() if ch.isalnum()).removesuffix("music")


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
        How a genre's classes combine: summed (YAMNet's exclusive AudioSet scores) or the
        strongest (musicnn's overlapping tags).

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
