"""mel-CNN: a convolutional network on mel spectrograms of 3-second segments.

Two kinds, one family:

- **Pretrained (default).** musicnn (Pons & Serra 2019), a CNN trained on the Million Song
  Dataset's tags, ported to Keras 3 and shipped in ``assets/encoders/musicnn-msd/``
  (:mod:`core.encoders.musicnn`): 16 kHz audio, 96-band log-mel patches of 3 s. Each patch's
  200-d penultimate embedding and its 50 tag probabilities feed a linear probe (one softmax layer,
  L2 chosen on validation tracks). Without a trained head it answers zero-shot from its tags
  (e.g. rock <- rock, classic rock, hard rock...). Encoder and head are separate artefacts: the
  head records the encoder's name and sha256 and refuses to run on another. With
  ``fine_tune=True`` musicnn's back-end (its top block: the dense layers from the pooled mid-end
  features to the penultimate embedding and the tags) trains with the genre layer, from the
  pretrained weights (:mod:`core.models.backend_tuning`).
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
#: With ``fine_tune``, rows also carry the pooled mid-end features the back-end trains on.
FINE_TUNE_OUTPUTS = (*EMBEDDING_OUTPUTS, "max_pool", "mean_pool")

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
    "randb": ("rnb", "soul"),
    "edm": ("dance", "electronic", "House"),
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
    fine_tune : bool
        Pretrained only: also train musicnn's back-end (dense 1506 -> 200 -> 50 tags) with the
        genre layer, from the pretrained weights and the probe's solution, under an L2-SP
        penalty ``anchor_l2`` towards the pretrained weights and dropout ``head_dropout``
        before the genre layer (:mod:`core.models.backend_tuning`); Adam at 1e-4, early
        stopping on validation cross-entropy, three seeds averaged, and no refit on train +
        validation by default (``refit=False``). False (the default): the linear probe.
    anchor_l2, head_dropout : float
        Fine-tuning only (see ``fine_tune``).
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
                 fine_tune: bool = False, anchor_l2: float = 1e-2, head_dropout: float = 0.5,
                 **kwargs: Any) -> None:
        pretrained = encoder is not None
        if fine_tune and not pretrained:
            raise ModelError("fine_tune needs the pretrained encoder (encoder=None trains the "
                             "whole network from scratch anyway)")
        probe = pretrained and not fine_tune
        # Fine-tuning keeps its early-stopped networks: refitting on train + valid for the same
        # epoch count overshot (out-of-fold log-loss 1.207 against 1.125 on the bundled split).
        kwargs.setdefault("refit", not fine_tune)
        super().__init__(epochs=epochs or (200 if fine_tune else 300 if pretrained else 60),
                         patience=patience or (15 if fine_tune else 30 if pretrained else 12),
                         learning_rate=learning_rate or (1e-4 if fine_tune else 1e-3 if probe
                                                         else 2e-3),
                         members=members or (1 if probe else 3), **kwargs)
        self.encoder = encoder
        self.fine_tune = fine_tune
        self.anchor_l2 = anchor_l2
        self.head_dropout = head_dropout
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

    @property
    def embedding_outputs(self) -> tuple[str, ...]:
        """The encoder outputs in each patch's row, in order."""
        return FINE_TUNE_OUTPUTS if self.fine_tune else EMBEDDING_OUTPUTS

    def config(self) -> dict[str, Any]:
        if self.pretrained:
            tuning = ({"fine_tune": True, "anchor_l2": self.anchor_l2,
                       "head_dropout": self.head_dropout} if self.fine_tune else {})
            return {"encoder": self.encoder, "encoder_identity": self.encoder_,
                    "embedding": list(self.embedding_outputs), "l2": self.l2,
                    "peak_normalize": self.peak_normalize, "zero_shot": self.is_zero_shot,
                    "tag_map": self.tag_map_, **tuning}
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
        outputs = ",".join(self.embedding_outputs)
        payload = f"musicnn|{self.backend.sha256}|{outputs}|{self.peak_normalize}"
        return "musicnn-" + hashlib.sha256(payload.encode()).hexdigest()[:16]

    def rows_from_outputs(self, outputs: dict[str, np.ndarray]) -> np.ndarray:
        """Model input rows from the encoder's outputs of some patches (:attr:`embedding_outputs`)."""
        return np.hstack([outputs[name] for name in self.embedding_outputs]).astype(np.float32)

    def _encode(self, y16: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows (n_patches, 250; 1756 with ``fine_tune``) and patch times of 16 kHz audio."""
        from core.audio import normalize_peak

        if self.peak_normalize:
            y16 = normalize_peak(y16[None])[0]
        out = self.backend.embed(y16)
        return self.rows_from_outputs(out), np.stack([out["start_s"], out["end_s"]], axis=1)

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

    def network_inputs(self, X: np.ndarray) -> np.ndarray:
        """Fine-tuning: the pooled mid-end features only (the back-end recomputes the rest)."""
        return X[:, _tag_slice().stop:] if self.fine_tune else X

    def candidates(self) -> list[dict[str, Any]]:
        if self.fine_tune:  # the genre layer's L2 as the probe's; each setting costs a training
            return [{"l2": self.l2}]
        if self.pretrained:
            return [{"l2": value} for value in sorted({self.l2, *self.l2_grid})]
        return [{}]

    def build(self, input_shape: tuple[int, ...], n_classes: int, **setting: Any) -> Any:
        if self.fine_tune:  # built, started from the probe and trained in one step there
            raise ModelError("a fine-tuned back-end is built by "
                             "core.models.backend_tuning.train_backend_head, not by build()")
        if self.pretrained:
            return build_linear_head(input_shape, n_classes, l2=setting.get("l2", self.l2),
                                     input_name="musicnn_embedding", name="musicnn_head")
        return build_cnn(input_shape, n_classes, **setting)

    def _train(self, X: np.ndarray, labels: np.ndarray, rows: np.ndarray, n_classes: int,
               setting: dict[str, Any], report: Any, *, valid: np.ndarray | None = None,
               epochs: int | None = None, seed: int | None = None
               ) -> tuple[Any, dict[str, list[float]], dict[str, Any]]:
        if self.fine_tune:
            return self._fine_tune(X, labels, rows, n_classes, setting, report, valid=valid,
                                   epochs=epochs, seed=seed)
        if self.pretrained:  # a convex probe, solved exactly
            return train_linear_probe(self, X, labels, rows, n_classes, setting, l2=self.l2,
                                      valid=valid)
        return super()._train(X, labels, rows, n_classes, setting, report, valid=valid,
                              epochs=epochs, seed=seed)

    def _fine_tune(self, X: np.ndarray, labels: np.ndarray, rows: np.ndarray, n_classes: int,
                   setting: dict[str, Any], report: Any, *, valid: np.ndarray | None,
                   epochs: int | None, seed: int | None
                   ) -> tuple[Any, dict[str, list[float]], dict[str, Any]]:
        """One fine-tuned back-end and genre layer (see
        :func:`~core.models.backend_tuning.train_backend_head`)."""
        from core.models.backend_tuning import backend_weights, train_backend_head
        from core.models.base import progress_callback, set_seed

        set_seed(self.seed if seed is None else seed)
        n_epochs = epochs or self.epochs
        network, history = train_backend_head(
            backend_weights(self.backend.model), X[rows], labels[rows], n_classes,
            l2=setting.get("l2", self.l2), anchor_l2=self.anchor_l2, dropout=self.head_dropout,
            learning_rate=self.learning_rate, batch_size=self.batch_size, epochs=n_epochs,
            patience=self.patience, valid=None if valid is None else (X[valid], labels[valid]),
            progress=progress_callback(report, self.display_name, n_epochs))
        return network, history, setting

    def fit(self, dataset: Dataset, split: Any, **kwargs: Any) -> MelCnn:
        if self.pretrained:
            self.encoder_ = {"name": self.encoder, "sha256": self.backend.sha256}
            self.tag_map_ = tag_genre_map(list(dataset.genres), self.backend.tag_names)
        super().fit(dataset, split, **kwargs)
        if self.pretrained:
            self.l2 = float(self.chosen_.get("l2", self.l2))
        return self

    @property
    def zero_shot_ready(self) -> bool:
        return (self.pretrained and bool(self.genres_)
                and all(self.tag_map_.get(g) for g in self.genres_))

    def predict_rows(self, X: np.ndarray) -> np.ndarray:
        self._check_fitted()
        if self.is_zero_shot:
            return self.zero_shot_rows(X)
        return super().predict_rows(X)

    def zero_shot_rows(self, X: np.ndarray) -> np.ndarray:
        """Zero-shot probabilities of patch rows from musicnn's tags (the strongest tag of each
        genre), normalised over the genres."""
        return zero_shot_proba(X[:, _tag_slice()], self.tag_map_,
                               list(self.genres_ or []), reduce="max")

    def describe(self, X: np.ndarray) -> dict[str, Any]:
        """Pretrained: the MSD tags musicnn heard most, and its zero-shot answer."""
        if not self.pretrained:
            return {}
        tags = X[:, _tag_slice()].mean(axis=0)
        names = self.backend.tag_names
        extras: dict[str, Any] = {"heard": [(names[i], float(tags[i]))
                                            for i in np.argsort(tags)[::-1][:5]]}
        if any(self.tag_map_.values()):
            extras["zero_shot"] = self.zero_shot_rows(X).mean(axis=0)
            extras["zero_shot_unmapped"] = [g for g in self.genres_ or []
                                            if not self.tag_map_.get(g)]
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


def _tag_slice() -> slice:
    """Where the 50 tag probabilities sit in a pretrained row (after the penultimate embedding)."""
    from core.encoders.musicnn import OUTPUT_DIMS

    start = OUTPUT_DIMS["penultimate"]
    return slice(start, start + OUTPUT_DIMS["tags"])
