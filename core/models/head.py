"""What the heads on pretrained encoders share: a linear probe, and genre-name matching."""

from __future__ import annotations

from typing import Any


def genre_key(name: str) -> str:
    """A genre or class name reduced for matching: ``"Hip hop music"`` and ``"hiphop"`` agree."""
    return "".join(ch for ch in name.lower() if ch.isalnum()).removesuffix("music")


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
