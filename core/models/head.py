"""The classifier a pretrained encoder's heads share: one softmax layer on an embedding."""

from __future__ import annotations

from typing import Any


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
