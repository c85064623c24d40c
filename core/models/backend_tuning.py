"""Fine-tuning musicnn's back-end: its top block retrained on a dataset's genres.

The mel-CNN's default head is a linear probe on a frozen musicnn. Fine-tuning
(``MelCnn(fine_tune=True)``) also trains musicnn's **back-end**, the top block of the network:
the dense layer from the 1506 pooled mid-end features to the 200-d penultimate embedding, and
the dense layer from it to the 50 MSD tags, together with the genre softmax on
``[penultimate, tags]`` (the probe's inputs). The front-end and mid-end convolutions stay frozen,
so their pooled outputs (``max_pool`` and ``mean_pool``) are computed once per file and cached
like any feature: a fine-tuned head trains in seconds on a CPU.

How it is kept from forgetting what a million songs taught it, on a few hundred clips:

- **Start from the pretrained network and the probe.** The back-end starts at musicnn's weights;
  the genre layer starts at the linear probe solved exactly on the initial embeddings
  (:func:`~core.models.head.fit_softmax_probe`), so training starts where the probe ends.
- **L2-SP** (Li, Grandvalet & Davoine 2018): the penalty is on the distance from the pretrained
  weights, not from zero. It is written with standard Keras layers, a frozen pretrained ``Dense``
  plus a trainable correction ``Dense`` (zero at the start, L2-penalised) on the same input, and
  the two are folded into one ``Dense`` after training (:func:`fold_corrections`), so the saved
  network is musicnn's back-end shape and loads in Keras' ``safe_mode``.
- **Frozen batch norms** (MSD's moving statistics), dropout before the genre layer, a small
  learning rate, and early stopping on the validation tracks' cross-entropy (the penalties left
  out: the stopping epoch is the one that predicts validation tracks best).
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: The encoder's back-end layers a fine-tuned head starts from (names in
#: :func:`core.encoders.musicnn.build_musicnn`).
BACKEND_LAYERS = ("pooled_bn", "penultimate_dense", "penultimate", "logits")
#: Of those, the dense layers that train (the batch norms keep MSD's statistics).
TRAINED_LAYERS = ("penultimate_dense", "logits")


def backend_weights(encoder: Any) -> dict[str, list[np.ndarray]]:
    """The pretrained back-end's weights, by layer name, from a musicnn Keras model."""
    return {name: [np.asarray(w) for w in encoder.get_layer(name).get_weights()]
            for name in BACKEND_LAYERS}


def build_backend_head(weights: dict[str, list[np.ndarray]], n_classes: int, *, l2: float,
                       anchor_l2: float = 0.0, dropout: float = 0.5, anchored: bool = False
                       ) -> Any:
    """musicnn's back-end with a genre softmax on its penultimate embedding and tags.

    Parameters
    ----------
    weights : dict
        :func:`backend_weights` of the encoder (their shapes set the sizes).
    n_classes : int
    l2 : float
        L2 penalty on the genre layer's weights (as the probe's).
    anchor_l2 : float
        L2-SP penalty on the back-end's distance from ``weights`` (``anchored`` only).
    dropout : float
        Dropout before the genre layer (training only).
    anchored : bool
        True: each trained dense layer is its frozen pretrained copy plus a trainable correction
        (``<name>_pretrained`` + ``<name>_correction``), for training. False: plain dense layers,
        the shape :func:`fold_corrections` returns and that is saved.

    Returns
    -------
    keras.Model
        Input ``musicnn_pools`` (batch, 2 x n_pooled): the ``max_pool`` then the ``mean_pool``
        outputs; output the genre probabilities. The pooled vector is interleaved (max0, mean0,
        max1, ...) inside the network, as the original lays it out. The genre layer's input
        passes a ``Normalization`` layer named ``normalize`` (set from training embeddings by
        :func:`train_backend_head`).
    """
    import keras
    from keras import layers

    n_pooled = int(weights["pooled_bn"][0].shape[0])
    half = n_pooled // 2
    inputs = keras.Input(shape=(n_pooled,), name="musicnn_pools")
    x = layers.Reshape((2, half), name="pool_kinds")(inputs)
    x = layers.Permute((2, 1), name="pool_pairs")(x)
    x = layers.Flatten(name="pooled")(x)  # max0, mean0, max1, mean1, ...
    x = layers.BatchNormalization(epsilon=1e-3, name="pooled_bn", trainable=False)(x)

    def dense(h: Any, name: str, activation: str | None) -> Any:
        units = int(weights[name][0].shape[1])
        if not anchored:
            return layers.Dense(units, activation=activation, name=name)(h)
        frozen = layers.Dense(units, name=f"{name}_pretrained", trainable=False)(h)
        correction = layers.Dense(units, name=f"{name}_correction", kernel_initializer="zeros",
                                  kernel_regularizer=keras.regularizers.l2(anchor_l2))(h)
        h = layers.Add(name=f"{name}_sum")([frozen, correction])
        return layers.Activation(activation or "linear", name=f"{name}_activation")(h)

    h = dense(x, "penultimate_dense", "relu")
    penultimate = layers.BatchNormalization(epsilon=1e-3, name="penultimate", trainable=False)(h)
    tags = layers.Activation("sigmoid", name="tags")(dense(penultimate, "logits", None))
    z = layers.Concatenate(name="embedding")([penultimate, tags])
    z = layers.Normalization(name="normalize")(z)
    z = layers.Dropout(dropout, name="dropout")(z)
    outputs = layers.Dense(n_classes, activation="softmax", name="genre",
                           kernel_regularizer=keras.regularizers.l2(l2))(z)
    model = keras.Model(inputs, outputs, name="musicnn_backend_head")
    for name in ("pooled_bn", "penultimate"):
        model.get_layer(name).set_weights(weights[name])
    for name in TRAINED_LAYERS:
        if anchored:
            model.get_layer(f"{name}_pretrained").set_weights(weights[name])
            kernel, bias = weights[name]
            model.get_layer(f"{name}_correction").set_weights([np.zeros_like(kernel),
                                                               np.zeros_like(bias)])
        else:
            model.get_layer(name).set_weights(weights[name])
    return model


def fold_corrections(network: Any, weights: dict[str, list[np.ndarray]], n_classes: int, *,
                     l2: float, dropout: float) -> Any:
    """The plain network equal to a trained anchored one (pretrained + correction, summed)."""
    plain = build_backend_head(weights, n_classes, l2=l2, dropout=dropout, anchored=False)
    for name in TRAINED_LAYERS:
        (k0, b0), (dk, db) = (network.get_layer(f"{name}_{part}").get_weights()
                              for part in ("pretrained", "correction"))
        plain.get_layer(name).set_weights([k0 + dk, b0 + db])
    for name in ("normalize", "genre"):
        plain.get_layer(name).set_weights(network.get_layer(name).get_weights())
    plain.get_layer("normalize").finalize_state()  # its call reads the mean set here only then
    return plain


def starting_network(weights: dict[str, list[np.ndarray]], X: np.ndarray, y: np.ndarray,
                     n_classes: int, *, l2: float, anchor_l2: float, dropout: float) -> Any:
    """The anchored network where fine-tuning starts: musicnn's back-end, and the genre layer at
    the linear probe's exact solution on its embeddings of ``X`` (what
    :func:`~core.models.head.train_linear_probe` gives on the same rows).

    Parameters are those of :func:`train_backend_head`.
    """
    import keras

    from core.models.head import fit_softmax_probe

    network = build_backend_head(weights, n_classes, l2=l2, anchor_l2=anchor_l2, dropout=dropout,
                                 anchored=True)
    embedding = keras.Model(network.input, network.get_layer("embedding").output)
    start = np.asarray(embedding.predict(X, verbose=0, batch_size=256), dtype=np.float32)
    normalize = network.get_layer("normalize")
    normalize.adapt(start)
    kernel, bias = fit_softmax_probe(np.asarray(normalize(start)), y, n_classes, l2=l2)
    network.get_layer("genre").set_weights([kernel, bias])
    return network


def train_backend_head(weights: dict[str, list[np.ndarray]], X: np.ndarray, y: np.ndarray,
                       n_classes: int, *, l2: float, anchor_l2: float, dropout: float,
                       learning_rate: float, batch_size: int, epochs: int, patience: int,
                       valid: tuple[np.ndarray, np.ndarray] | None = None,
                       progress: Any = None) -> tuple[Any, dict[str, list[float]]]:
    """Fine-tune the back-end and a genre layer on pooled musicnn rows.

    Parameters
    ----------
    weights : dict
        :func:`backend_weights` of the encoder.
    X : np.ndarray [shape=(n_examples, 1506)]
        ``max_pool`` then ``mean_pool`` outputs of each 3-s patch.
    y : np.ndarray [shape=(n_examples,)]
        Class indices.
    n_classes : int
    l2, anchor_l2, dropout : float
        See :func:`build_backend_head`.
    learning_rate : float
        Adam's learning rate.
    batch_size, epochs, patience : int
        With ``valid``, training stops after ``patience`` epochs without a lower validation
        cross-entropy and the best epoch's weights are restored; without, it runs ``epochs``.
    valid : tuple of np.ndarray, optional
        Validation ``(X, y)``.
    progress : keras callback, optional

    Returns
    -------
    network : keras.Model
        The folded network (:func:`fold_corrections`).
    history : dict
        Per epoch ``loss`` and, with ``valid``, ``val_loss``: mean cross-entropy without the
        penalties (what the stopping epoch and the choice between settings are based on).
    """
    import keras

    network = starting_network(weights, X, y, n_classes, l2=l2, anchor_l2=anchor_l2,
                               dropout=dropout)
    network.compile(optimizer=keras.optimizers.Adam(learning_rate),
                    loss="sparse_categorical_crossentropy",
                    metrics=[keras.metrics.SparseCategoricalCrossentropy(name="cross_entropy"),
                             "accuracy"])
    callbacks = [] if progress is None else [progress]
    if valid is not None:
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_cross_entropy",
                                                       patience=patience,
                                                       restore_best_weights=True))
    fitted = network.fit(X, y, batch_size=batch_size, epochs=epochs, shuffle=True, verbose=0,
                         validation_data=valid, callbacks=callbacks).history
    history = {"loss": [float(v) for v in fitted["cross_entropy"]]}
    if valid is not None:
        history["val_loss"] = [float(v) for v in fitted["val_cross_entropy"]]
    return fold_corrections(network, weights, n_classes, l2=l2, dropout=dropout), history
