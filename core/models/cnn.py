"""mel-CNN: a convolutional network on mel spectrograms of 3-second segments.

Two kinds, one family:

- **Pretrained (default).** musicnn (Pons & Serra 2019), a CNN trained on the Million Song
  Dataset's tags, ported to Keras 3 and shipped in ``assets/encoders/musicnn-msd/``
  (:mod:`core.encoders.musicnn`): 16 kHz audio, 96-band log-mel patches of 3 s. Each patch's
  200-d penultimate embedding and its 50 tag probabilities feed a linear probe (one softmax layer,
  L2 chosen on validation tracks). Without a trained head it answers zero-shot from its tags
  (e.g. rock <- rock, classic rock, hard rock...). Encoder and head are separate artefacts: the
  head records the encoder's name and sha256 and refuses to run on another.
- **From scratch** (``encoder=None``): the small 1-D CNN on 128-band log-mel of
  :func:`build_cnn`, the baseline the pretrained one must beat.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from core.cache import FeatureCache
from core.config import FEATURE_SR, N_MELS, SEGMENT_SECONDS
from core.datasets import Dataset
from core.errors import ModelError
from core.features import FeatureParams, compute_features
from core.models.base import (
    GenreModel,
    Rows,
    featurize_audio_dataset,
    featurize_encoded_dataset,
    segment_times,
)
from core.models.head import PROBE_L2, build_linear_head, genre_key, train_linear_probe, zero_shot_proba
from core.resample import to_rate

#: The pretrained encoder the mel-CNN uses by default (``assets/encoders/<name>/``).
DEFAULT_ENCODER = "musicnn-msd"
#: Encoder outputs concatenated into each patch's row, in this order.
EMBEDDING_OUTPUTS = ("penultimate", "tags")

#: musicnn's MSD tags mapped onto common genre names, for zero-shot answers.
MSD_GENRE_TAGS: dict[str, tuple[str, ...]] = {
    "blues": ("blues",),
    "country": ("country",),
    "hiphop": ("Hip-Hop",),
    "jazz": ("jazz",),
    "metal": ("metal", "heavy metal"),
    "pop": ("pop", "indie pop"),
    "rock": ("rock", "classic rock", "alternative rock", "indie rock", "hard rock",
             "Progressive rock"),
    "electronic": ("electronic", "electronica", "electro", "House"),
    "folk": ("folk",),
    "funk": ("funk",),
    "soul": ("soul", "rnb"),
    "rnb": ("rnb", "soul"),
    "punk": ("punk",),
    "ambient": ("ambient", "chillout"),
    "dance": ("dance", "House"),
}


def tag_genre_map(genres: list[str], tags: tuple[str, ...]) -> dict[str, list[int]]:
    """Tag indices for each genre (empty where musicnn's tags have none, e.g. classical)."""
    index = {tag: i for i, tag in enumerate(tags)}
    return {g: [index[t] for t in MSD_GENRE_TAGS.get(genre_key(g), ()) if t in index]
            for g in genres}


def build_cnn(input_shape: tuple[int, ...], n_classes: int, *,
              filters: tuple[int, ...] = (64, 128, 128), dropout: float = 0.5) -> Any:
    """Convolutions along time with the mel bands as channels, global pooling, softmax.

    Each block: a width-3 convolution over time (all bands at once), batch norm, ReLU and
    max-pooling by 2 in time. Average and max pooling over what is left feed a softmax layer.
    Convolving over time only (frequency patterns are learnt whole, as in Choi et al.'s and
    Dieleman's 1-D models) is what suits a few hundred training clips: on the GTZAN excerpts it
    beat a 4-block 2-D CNN of the same size by 0.05 (5-fold by track), at a quarter of the
    training time. About 100k parameters at the defaults.

    Parameters
    ----------
    input_shape : tuple
        ``(n_mels, n_frames, 1)``: one log-mel spectrogram.
    n_classes : int
    filters : tuple of int
        Filters of each block.
    dropout : float
        Dropout before the softmax layer.
    """
    import keras
    from keras import layers

    n_mels, n_frames = input_shape[0], input_shape[1]
    inputs = keras.Input(shape=input_shape, name="logmel")
    x = layers.Normalization(axis=None, name="normalize")(inputs)
    x = layers.Reshape((n_mels, n_frames), name="bands")(x)
    x = layers.Permute((2, 1), name="time_major")(x)
    for i, width in enumerate(filters):
        x = layers.Conv1D(width, 3, padding="same", use_bias=False, name=f"conv_{i}")(x)
        x = layers.BatchNormalization(momentum=0.9, name=f"bn_{i}")(x)
        x = layers.Activation("relu", name=f"relu_{i}")(x)
        x = layers.MaxPooling1D(2, name=f"pool_{i}")(x)
    x = layers.Concatenate(name="pool_time")([layers.GlobalAveragePooling1D(name="mean_time")(x),
                                              layers.GlobalMaxPooling1D(name="max_time")(x)])
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="genre")(x)
    return keras.Model(inputs, outputs, name="mel_cnn")


class MelCnn(GenreModel):
    """mel-CNN: a linear probe on pretrained musicnn patches, or a CNN trained from scratch.

    Parameters
    ----------
    encoder : str or None
        ``"musicnn-msd"`` (default): the pretrained encoder and a linear head on its embeddings
        of each 3-s patch. None: the from-scratch 1-D CNN on 128-band log-mel (the baseline).
    l2 : float
        Pretrained only: the head's L2 penalty (chosen on validation tracks among ``l2`` and
        ``l2_grid`` (default :data:`~core.models.head.PROBE_L2`; ``()`` keeps ``l2``, e.g. for
        out-of-fold copies of a fitted head). The head is a linear probe solved exactly
        (:func:`~core.models.head.train_linear_probe`), so one head (``members=1``) is the
        default; from scratch, three seeds' networks are averaged.
    segment_seconds, n_mels, augment, peak_normalize
        From scratch only (see below).
    **kwargs
        See :class:`~core.models.base.GenreModel`.

    From scratch, level: by default each 3-s segment is scaled to a peak of 1 before its
    spectrogram (``peak_normalize=True``), as the GTZAN excerpts were, so the same music
    recorded 10 dB quieter gets the same answer. Training augmentation: a random circular time
    shift, one frequency mask (up to 12 bands) and one time mask (up to 16 frames) per example,
    and, without peak normalisation, a gain change of up to +-6 dB. The saved network is the mean
    of three networks trained with consecutive seeds (``members=3``).

    Pretrained, level: musicnn's log compression ``log10(10000 x + 1)`` is not level-invariant,
    so the clip is scaled to a peak of 1 first (as the GTZAN excerpts and most modern masters
    are), and the answer does not depend on playback level.
    """

    family = "cnn"
    display_name = "mel-CNN"

    def __init__(self, *, encoder: str | None = DEFAULT_ENCODER, l2: float = 3e-2,
                 segment_seconds: float = SEGMENT_SECONDS, n_mels: int = N_MELS,
                 augment: bool = True, epochs: int | None = None, patience: int | None = None,
                 learning_rate: float | None = None, members: int | None = None,
                 peak_normalize: bool = True, l2_grid: tuple[float, ...] = PROBE_L2,
                 **kwargs: Any) -> None:
        pretrained = encoder is not None
        super().__init__(epochs=epochs or (300 if pretrained else 60),
                         patience=patience or (30 if pretrained else 12),
                         learning_rate=learning_rate or (1e-3 if pretrained else 2e-3),
                         members=members or (1 if pretrained else 3), **kwargs)
        self.encoder = encoder
        self.l2 = l2
        self.l2_grid = tuple(l2_grid)
        self.peak_normalize = peak_normalize
        self.segment_seconds = segment_seconds
        self.n_mels = n_mels
        self.use_augmentation = augment and not pretrained
        self.tag_map_: dict[str, list[int]] = {}
        #: The encoder a trained head was fitted on: ``{"name", "sha256"}``.
        self.encoder_: dict[str, Any] | None = None

    @classmethod
    def zero_shot(cls, genres: list[str], *, encoder: str = DEFAULT_ENCODER) -> MelCnn:
        """A head-less pretrained model answering from musicnn's MSD tags mapped onto ``genres``."""
        model = cls(encoder=encoder)
        model.genres_ = list(genres)
        model.tag_map_ = tag_genre_map(list(genres), model.backend.tag_names)
        if not any(model.tag_map_.values()):
            raise ModelError(f"none of the genres {genres} has a musicnn tag")
        return model

    @property
    def pretrained(self) -> bool:
        return self.encoder is not None

    @property
    def is_zero_shot(self) -> bool:
        return self.pretrained and self.model_ is None

    @property
    def backend(self) -> Any:
        """The loaded musicnn encoder (once per process)."""
        from core.encoders.musicnn import load_musicnn

        if self.encoder != DEFAULT_ENCODER:
            raise ModelError(f"unknown mel-CNN encoder {self.encoder!r} (known: {DEFAULT_ENCODER})")
        return load_musicnn("msd")

    @property
    def params(self) -> FeatureParams:
        return FeatureParams(kind="logmel", sr=FEATURE_SR, n_mels=self.n_mels,
                             segment_seconds=self.segment_seconds,
                             peak_normalize=self.peak_normalize)

    def config(self) -> dict[str, Any]:
        if self.pretrained:
            return {"encoder": self.encoder, "encoder_identity": self.encoder_,
                    "embedding": list(EMBEDDING_OUTPUTS), "l2": self.l2,
                    "peak_normalize": self.peak_normalize, "zero_shot": self.is_zero_shot,
                    "tag_map": self.tag_map_}
        return {"features": self.params.to_dict(), "augment": self.use_augmentation}

    def check_encoder(self) -> None:
        """Refuse a head trained on another encoder than the one shipped now.

        Raises
        ------
        ModelError
            The recorded sha256 differs from the shipped encoder file's.
        """
        if self.encoder_ and self.encoder_.get("sha256") != self.backend.sha256:
            raise ModelError(
                f"this mel-CNN head was trained on {self.encoder_.get('name')} with sha256 "
                f"{str(self.encoder_.get('sha256'))[:12]}..., but the shipped encoder file has "
                f"sha256 {self.backend.sha256[:12]}...: its embeddings would mean other things. "
                "Restore the encoder it names or retrain the head")

    def _cache_key(self) -> str:
        payload = f"musicnn|{self.backend.sha256}|{','.join(EMBEDDING_OUTPUTS)}|{self.peak_normalize}"
        return "musicnn-" + hashlib.sha256(payload.encode()).hexdigest()[:16]

    def _encode(self, y16: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows (n_patches, 250) and patch times of 16 kHz audio through musicnn."""
        from core.audio import normalize_peak

        if self.peak_normalize:
            y16 = normalize_peak(y16[None])[0]
        out = self.backend.embed(y16)
        X = np.hstack([out[name] for name in EMBEDDING_OUTPUTS]).astype(np.float32)
        return X, np.stack([out["start_s"], out["end_s"]], axis=1)

    def featurize_dataset(self, dataset: Dataset, *, cache: FeatureCache | None, n_jobs: int,
                          progress: bool) -> Rows:
        if self.pretrained:
            from core.encoders.musicnn import MUSICNN_SR

            return featurize_encoded_dataset(
                dataset, sr=MUSICNN_SR, key=self._cache_key(), cache=cache, progress=progress,
                compute=lambda y: self._encode(y)[0], description="musicnn embeddings")
        rows = featurize_audio_dataset(dataset, self.params, cache=cache, n_jobs=n_jobs,
                                       progress=progress)
        return Rows(rows.X[..., None], rows.track, rows.errors)

    def featurize_waveform(self, y: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
        if self.pretrained:
            from core.encoders.musicnn import MUSICNN_SR

            return self._encode(to_rate(y, sr, MUSICNN_SR))
        y = to_rate(y, sr, FEATURE_SR)
        X = compute_features(y, self.params)[..., None]
        return X, segment_times(len(y), FEATURE_SR, self.segment_seconds)

    def candidates(self) -> list[dict[str, Any]]:
        if self.pretrained:
            return [{"l2": value} for value in sorted({self.l2, *self.l2_grid})]
        return [{}]

    def build(self, input_shape: tuple[int, ...], n_classes: int, **setting: Any) -> Any:
        if self.pretrained:
            return build_linear_head(input_shape, n_classes, l2=setting.get("l2", self.l2),
                                     input_name="musicnn_embedding", name="musicnn_head")
        return build_cnn(input_shape, n_classes, **setting)

    def _train(self, X: np.ndarray, labels: np.ndarray, rows: np.ndarray, n_classes: int,
               setting: dict[str, Any], report: Any, *, valid: np.ndarray | None = None,
               epochs: int | None = None, seed: int | None = None
               ) -> tuple[Any, dict[str, list[float]], dict[str, Any]]:
        if self.pretrained:  # a convex probe, solved exactly
            return train_linear_probe(self, X, labels, rows, n_classes, setting, l2=self.l2,
                                      valid=valid)
        return super()._train(X, labels, rows, n_classes, setting, report, valid=valid,
                              epochs=epochs, seed=seed)

    def fit(self, dataset: Dataset, split: Any, **kwargs: Any) -> MelCnn:
        if self.pretrained:
            self.encoder_ = {"name": self.encoder, "sha256": self.backend.sha256}
        super().fit(dataset, split, **kwargs)
        if self.pretrained:
            self.l2 = float(self.chosen_.get("l2", self.l2))
            self.tag_map_ = tag_genre_map(list(dataset.genres), self.backend.tag_names)
        return self

    def predict_rows(self, X: np.ndarray) -> np.ndarray:
        self._check_fitted()
        if self.is_zero_shot:
            return self.zero_shot_rows(X)
        return super().predict_rows(X)

    def zero_shot_rows(self, X: np.ndarray) -> np.ndarray:
        """Zero-shot probabilities of patch rows from musicnn's tags (the strongest tag of each
        genre), normalised over the genres."""
        from core.encoders.musicnn import OUTPUT_DIMS

        return zero_shot_proba(X[:, OUTPUT_DIMS["penultimate"]:], self.tag_map_,
                               list(self.genres_ or []), reduce="max")

    def describe(self, X: np.ndarray) -> dict[str, Any]:
        """Pretrained: the MSD tags musicnn heard most, and its zero-shot answer."""
        if not self.pretrained:
            return {}
        from core.encoders.musicnn import OUTPUT_DIMS

        tags = X[:, OUTPUT_DIMS["penultimate"]:].mean(axis=0)
        names = self.backend.tag_names
        extras: dict[str, Any] = {"heard": [(names[i], float(tags[i]))
                                            for i in np.argsort(tags)[::-1][:5]]}
        if any(self.tag_map_.values()):
            extras["zero_shot"] = self.zero_shot_rows(X).mean(axis=0)
        return extras

    def augment(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if not self.use_augmentation:
            return X
        X = X.copy()
        n_mels, n_frames = X.shape[1], X.shape[2]
        floor = X.min()
        for x in X:
            x[:] = np.roll(x, rng.integers(n_frames), axis=1)
            f0, fw = rng.integers(n_mels), rng.integers(0, 13)
            x[f0:f0 + fw] = floor
            t0, tw = rng.integers(n_frames), rng.integers(0, 17)
            x[:, t0:t0 + tw] = floor
            if not self.peak_normalize:
                x += rng.uniform(-6.0, 6.0)
        return X
