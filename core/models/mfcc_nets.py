"""Networks on MFCC sequences of 3-second segments: the research's LSTM and 2-D CNN on MFCCs.

Both read the same input: 20 MFCCs per frame (librosa's defaults: 2048-point FFT, hop 512,
128 mel bands at 22050 Hz), 130 frames per 3-s segment, each segment scaled to a peak of 1
first (so the first coefficient, the log energy, does not carry the recording's level), cached
per file like every feature (:class:`~core.features.FeatureParams` of kind ``mfcc`` is the cache
key). The coefficients are standardised one by one inside the network (a ``Normalization``
layer adapted on training tracks only): MFCC 0 spans hundreds, the others tens.

- ``lstm`` (:class:`MfccLstm`, :func:`build_lstm`): two stacked LSTM layers read the frames in
  order; the last state feeds a softmax layer.
- ``mfcc-cnn`` (:class:`MfccCnn`, :func:`build_mfcc_cnn`): the coefficients x frames "image"
  through three blocks of 3x3 convolutions and max-pooling, then global average pooling.

Both train with :class:`~core.models.base.GenreModel`'s loop (early stopping on validation
tracks, refit on training + validation, ``members`` seeds averaged) and are augmented by a
random circular time shift and one time mask per example.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.cache import FeatureCache
from core.config import FEATURE_SR, HOP_LENGTH, N_FFT, N_MELS, N_MFCC, SEGMENT_SECONDS
from core.datasets import Dataset
from core.errors import ParameterError
from core.features import FeatureParams, compute_features
from core.models.base import GenreModel, Rows, featurize_audio_dataset, segment_times
from core.resample import to_rate


def shift_and_mask(X: np.ndarray, rng: np.random.Generator, *, max_mask: int = 16) -> np.ndarray:
    """Each example rolled by a random number of frames, then one run of up to ``max_mask``
    frames set to that example's mean.

    Parameters
    ----------
    X : np.ndarray [shape=(n, n_mfcc, n_frames, ...)]
    rng : np.random.Generator
    max_mask : int
        Longest time mask in frames (0: no mask).

    Returns
    -------
    np.ndarray, same shape as ``X`` (a copy)
    """
    X = np.array(X, copy=True)
    n_frames = X.shape[2]
    for x in X:
        x[:] = np.roll(x, rng.integers(n_frames), axis=1)
        if max_mask:
            t0, width = rng.integers(n_frames), rng.integers(0, max_mask + 1)
            x[:, t0:t0 + width] = x.mean(axis=1, keepdims=True)
    return X


def build_lstm(input_shape: tuple[int, ...], n_classes: int, *, units: tuple[int, ...] = (64, 64),
               dropout: float = 0.3) -> Any:
    """Stacked LSTMs over the frames of an MFCC sequence, softmax on the last state (uncompiled).

    About 55k parameters at the defaults with 20 MFCCs and 10 genres.

    Parameters
    ----------
    input_shape : tuple
        ``(n_mfcc, n_frames)``: one segment's MFCCs.
    n_classes : int
    units : tuple of int
        Units of each LSTM layer (all but the last return their whole sequence).
    dropout : float
        Dropout before the softmax layer.
    """
    import keras
    from keras import layers

    inputs = keras.Input(shape=input_shape, name="mfcc")
    x = layers.Normalization(axis=1, name="normalize")(inputs)  # one mean/variance per coefficient
    x = layers.Permute((2, 1), name="time_major")(x)
    for i, width in enumerate(units):
        x = layers.LSTM(width, return_sequences=i < len(units) - 1, name=f"lstm_{i}")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="genre")(x)
    return keras.Model(inputs, outputs, name="mfcc_lstm")


def build_mfcc_cnn(input_shape: tuple[int, ...], n_classes: int, *,
                   filters: tuple[int, ...] = (32, 64, 64), dropout: float = 0.4) -> Any:
    """A 2-D CNN on the MFCC "image" of a segment, global average pooling, softmax (uncompiled).

    Each block: a 3x3 convolution, batch norm, ReLU, 2x2 max-pooling. About 57k parameters at
    the defaults.

    Parameters
    ----------
    input_shape : tuple
        ``(n_mfcc, n_frames, 1)``.
    n_classes : int
    filters : tuple of int
        Filters of each block.
    dropout : float
        Dropout before the softmax layer.
    """
    import keras
    from keras import layers

    inputs = keras.Input(shape=input_shape, name="mfcc")
    x = layers.Normalization(axis=1, name="normalize")(inputs)
    for i, width in enumerate(filters):
        x = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"conv_{i}")(x)
        x = layers.BatchNormalization(momentum=0.9, name=f"bn_{i}")(x)
        x = layers.Activation("relu", name=f"relu_{i}")(x)
        x = layers.MaxPooling2D(2, padding="same", name=f"pool_{i}")(x)
    x = layers.GlobalAveragePooling2D(name="mean_pool")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="genre")(x)
    return keras.Model(inputs, outputs, name="mfcc_cnn")


class MfccSequenceFamily(GenreModel):
    """Base of the networks on MFCC sequences of fixed windows.

    Parameters
    ----------
    n_mfcc : int
        MFCCs per frame.
    segment_seconds : float
        Window length in seconds (3 s: 130 frames at hop 512).
    peak_normalize : bool
        Scale each window to a peak of 1 before its MFCCs (the answer then does not depend on
        playback level).
    augment : bool
        Random time shift and time mask of each training example (:func:`shift_and_mask`).
    **kwargs
        See :class:`~core.models.base.GenreModel`.
    """

    #: Extra trailing axes the network's input has beyond ``(n_mfcc, n_frames)``.
    channel_axis: bool = False

    def __init__(self, *, n_mfcc: int = N_MFCC, segment_seconds: float = SEGMENT_SECONDS,
                 peak_normalize: bool = True, augment: bool = True, epochs: int = 80,
                 patience: int = 12, learning_rate: float = 2e-3, **kwargs: Any) -> None:
        super().__init__(epochs=epochs, patience=patience, learning_rate=learning_rate, **kwargs)
        if not isinstance(n_mfcc, int) or not 2 <= n_mfcc <= N_MELS:
            raise ParameterError(f"n_mfcc must be a whole number in 2..{N_MELS}, got {n_mfcc!r}")
        self.n_mfcc = n_mfcc
        self.segment_seconds = segment_seconds
        self.peak_normalize = peak_normalize
        self.use_augmentation = augment

    @property
    def params(self) -> FeatureParams:
        return FeatureParams(kind="mfcc", sr=FEATURE_SR, n_fft=N_FFT, hop_length=HOP_LENGTH,
                             n_mels=N_MELS, n_mfcc=self.n_mfcc,
                             segment_seconds=self.segment_seconds,
                             peak_normalize=self.peak_normalize)

    def config(self) -> dict[str, Any]:
        return {"features": self.params.to_dict(), "augment": self.use_augmentation}

    @classmethod
    def from_config(cls, config: dict[str, Any], **kwargs: Any) -> MfccSequenceFamily:
        """The unfitted model a saved folder describes (:mod:`core.registry` calls this)."""
        params = FeatureParams.from_dict(config["features"])
        if params.kind != "mfcc" or (params.sr, params.n_fft, params.hop_length, params.n_mels) \
                != (FEATURE_SR, N_FFT, HOP_LENGTH, N_MELS):
            raise ParameterError(f"features {params.to_dict()} are not this family's MFCCs")
        return cls(n_mfcc=params.n_mfcc, segment_seconds=params.segment_seconds or SEGMENT_SECONDS,
                   peak_normalize=params.peak_normalize, augment=config.get("augment", True),
                   **kwargs)

    def _shaped(self, X: np.ndarray) -> np.ndarray:
        return X[..., None] if self.channel_axis else X

    def featurize_dataset(self, dataset: Dataset, *, cache: FeatureCache | None, n_jobs: int,
                          progress: bool) -> Rows:
        rows = featurize_audio_dataset(dataset, self.params, cache=cache, n_jobs=n_jobs,
                                       progress=progress)
        return Rows(self._shaped(rows.X.astype(np.float32)), rows.track, rows.errors)

    def featurize_waveform(self, y: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
        y = to_rate(y, sr, FEATURE_SR)
        X = compute_features(y, self.params).astype(np.float32)
        return self._shaped(X), segment_times(len(y), FEATURE_SR, self.segment_seconds)

    def augment(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return shift_and_mask(X, rng) if self.use_augmentation else X


class MfccLstm(MfccSequenceFamily):
    """The research's "LSTM on MFCC sequences": :func:`build_lstm` on each 3-s segment.

    Parameters
    ----------
    units : tuple of int
        LSTM widths (default two layers of 64: about 55k parameters).
    members : int
        Seeds averaged (default 1: recurrent layers are the slowest to train on a CPU).
    **kwargs
        See :class:`MfccSequenceFamily`.
    """

    family = "lstm"
    display_name = "MFCC-LSTM"

    def __init__(self, *, units: tuple[int, ...] = (64, 64), members: int = 1,
                 **kwargs: Any) -> None:
        super().__init__(members=members, **kwargs)
        self.units = tuple(int(u) for u in units)

    def config(self) -> dict[str, Any]:
        return {**super().config(), "units": list(self.units)}

    @classmethod
    def from_config(cls, config: dict[str, Any], **kwargs: Any) -> MfccLstm:
        return super().from_config(config, units=tuple(config.get("units", (64, 64))), **kwargs)

    def build(self, input_shape: tuple[int, ...], n_classes: int, **setting: Any) -> Any:
        return build_lstm(input_shape, n_classes, **{"units": self.units, **setting})


class MfccCnn(MfccSequenceFamily):
    """The research's "2-D CNN on MFCCs": :func:`build_mfcc_cnn` on each 3-s segment.

    Parameters
    ----------
    members : int
        Seeds averaged (default 3, as the from-scratch mel-CNN).
    **kwargs
        See :class:`MfccSequenceFamily`.
    """

    family = "mfcc-cnn"
    display_name = "MFCC-CNN"
    channel_axis = True

    def __init__(self, *, members: int = 3, **kwargs: Any) -> None:
        super().__init__(members=members, **kwargs)

    def build(self, input_shape: tuple[int, ...], n_classes: int, **setting: Any) -> Any:
        return build_mfcc_cnn(input_shape, n_classes, **setting)
