"""MFCC-MLP: a dense network on standardised summary features (the 57 GTZAN columns)."""

from __future__ import annotations

from typing import Any

import numpy as np

from core.cache import FeatureCache
from core.config import FEATURE_SR, SEGMENT_SECONDS
from core.datasets import Dataset
from core.features import SUMMARY_COLUMNS, FeatureParams, compute_features
from core.models.base import GenreModel, Rows, featurize_audio_dataset, segment_times
from core.resample import to_rate

#: Columns that are variances: heavy-tailed, so the network sees their logarithm.
VARIANCE_COLUMNS = np.array([c.endswith("_var") for c in SUMMARY_COLUMNS])


def log_variances(X: np.ndarray) -> np.ndarray:
    """Replace the variance columns of summary-feature rows by their natural log (floor 1e-8)."""
    X = np.array(X, dtype=np.float32, copy=True)
    X[:, VARIANCE_COLUMNS] = np.log(np.maximum(X[:, VARIANCE_COLUMNS], 0.0) + 1e-8)
    return X


def build_mlp(input_shape: tuple[int, ...], n_classes: int, *, units: tuple[int, ...] = (256, 128, 64),
              dropout: float = 0.5, l2: float = 1e-2) -> Any:
    """Dense 256-128-64 (batch norm, ReLU, dropout, L2 on weights), softmax output (uncompiled)."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=input_shape, name="features")
    x = layers.Normalization(name="normalize")(inputs)
    for i, width in enumerate(units):
        x = layers.Dense(width, kernel_regularizer=keras.regularizers.l2(l2), name=f"dense_{i}")(x)
        x = layers.BatchNormalization(momentum=0.9, name=f"bn_{i}")(x)
        x = layers.Activation("relu", name=f"relu_{i}")(x)
        x = layers.Dropout(dropout, name=f"dropout_{i}")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="genre")(x)
    return keras.Model(inputs, outputs, name="mfcc_mlp")


class MfccMlp(GenreModel):
    """Dense network on the 57 summary features of each segment (variances as logarithms).

    Trains on audio datasets (summary features of each ``segment_seconds`` window) and directly
    on Kaggle-style feature tables (one row per table row; the window length is read from the
    table's ``length`` column, e.g. 30 s for ``features_30_sec.csv``).

    Parameters
    ----------
    segment_seconds : float
        Window length for audio datasets and for prediction.
    dropout : float
    members : int
        Seeds averaged in the saved network (default 5: on the fault-filtered split one
        network's accuracy moves by about 0.04 with the seed; five are cheap at this size).
    **kwargs
        See :class:`~core.models.base.GenreModel`.
    """

    family = "mlp"
    display_name = "MFCC-MLP"
    needs_audio = False

    def __init__(self, *, segment_seconds: float = SEGMENT_SECONDS, dropout: float = 0.5,
                 epochs: int = 300, patience: int = 30, members: int = 5, **kwargs: Any) -> None:
        super().__init__(epochs=epochs, patience=patience, members=members, **kwargs)
        self.segment_seconds = segment_seconds
        self.dropout = dropout

    @property
    def params(self) -> FeatureParams:
        return FeatureParams(kind="summary", sr=FEATURE_SR, segment_seconds=self.segment_seconds)

    def config(self) -> dict[str, Any]:
        return {"features": self.params.to_dict(), "dropout": self.dropout,
                "columns": list(SUMMARY_COLUMNS)}

    def featurize_dataset(self, dataset: Dataset, *, cache: FeatureCache | None, n_jobs: int,
                          progress: bool) -> Rows:
        if dataset.features is not None:
            if "length" in dataset.manifest:
                seconds = float(np.median(dataset.manifest["length"])) / FEATURE_SR
                self.segment_seconds = float(max(1.0, round(seconds)))
            return Rows(dataset.features.astype(np.float32), np.arange(len(dataset.features)), {})
        return featurize_audio_dataset(dataset, self.params, cache=cache, n_jobs=n_jobs,
                                       progress=progress)

    def featurize_waveform(self, y: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
        y = to_rate(y, sr, FEATURE_SR)
        X = compute_features(y, self.params).astype(np.float32)
        return X, segment_times(len(y), FEATURE_SR, self.segment_seconds)

    def network_inputs(self, X: np.ndarray) -> np.ndarray:
        return log_variances(X)

    def build(self, input_shape: tuple[int, ...], n_classes: int, **setting: Any) -> Any:
        return build_mlp(input_shape, n_classes, **{"dropout": self.dropout, **setting})
