"""VGG transfer: a linear probe on a frozen, pretrained VGG-style CNN's features of 3-s patches.

The research GenreLab grew out of fine-tuned ImageNet VGG16/ResNet18 on mel-spectrogram images
(0.66-0.78 on leaky 3-s splits). ImageNet weights cannot be downloaded here, so two kinds, one
family:

- **MSD VGG (default).** The VGG-style tagger the ``musicnn`` package ships beside musicnn
  (``MSD_vgg``: five 3x3 convolution blocks, 607k parameters, trained on the Million Song
  Dataset's tags), ported to Keras 3 in ``assets/encoders/musicnn-vgg-msd/``
  (:mod:`core.encoders.vgg`). musicnn's input (16 kHz, 96-band log-mel, 187-frame patches of
  3 s; the clip scaled to a peak of 1 first, as for the mel-CNN); each patch's 256-d
  penultimate features (the flattened last pooling) and 50 tag probabilities feed the probe.
- **ImageNet** (``weights=PATH``): a local ``keras.applications`` VGG16 or ResNet50 weights file
  (``include_top=False``), e.g. ``vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5``. Each 3-s
  segment's 128-band log-mel (22.05 kHz, scaled to a peak of 1) becomes an image: the top 80 dB
  mapped to 0-255, low frequencies at the bottom, the one channel replicated to RGB, at its own
  size (128 x 130: ImageNet convolutions take any size, and it is a third of 224 x 224's cost),
  then the network's own ``preprocess_input``; the global-average-pooled last block (512-d for
  VGG16, 2048-d for ResNet50) feeds the probe. Nothing is downloaded: a missing or wrong file is
  refused with a :class:`~core.errors.ModelError`.

The head is the exact linear probe of :mod:`core.models.head` (multinomial logistic regression
set into a Keras softmax layer, L2 chosen on validation tracks among
:data:`~core.models.head.PROBE_L2`). Encoder and head are separate artefacts: the head records
the encoder's name and sha256 (for ImageNet, the weights file's path and sha256) and refuses to
run on another.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from core.cache import FeatureCache
from core.config import FEATURE_SR, N_MELS, SEGMENT_SECONDS
from core.datasets import Dataset
from core.encoders.vgg import vgg_encoder_path
from core.errors import ModelError, ParameterError
from core.features import FeatureParams, compute_features
from core.models.base import GenreModel, Rows, featurize_encoded_dataset, segment_times
from core.models.cnn import tag_genre_map
from core.models.head import PROBE_L2, build_linear_head, train_linear_probe, zero_shot_proba
from core.resample import to_rate

#: The pretrained encoder the family uses without ``weights``.
DEFAULT_ENCODER = "musicnn-vgg-msd"
#: MSD VGG outputs concatenated into each patch's row, in this order.
EMBEDDING_OUTPUTS = ("penultimate", "tags")
#: Dynamic range (dB below each segment's peak) mapped onto 0-255 in an ImageNet input image.
IMAGE_TOP_DB = 80.0
#: Version of the spectrogram-to-image recipe (part of the feature cache key).
IMAGE_VERSION = 1


def spectrogram_images(S_db: np.ndarray, *, top_db: float = IMAGE_TOP_DB) -> np.ndarray:
    """Log-mel spectrograms as RGB images for an ImageNet network.

    Parameters
    ----------
    S_db : np.ndarray [shape=(n, n_mels, n_frames)]
        Log-power mel spectrograms in dB (:func:`core.features.compute_features`, ``logmel``).
    top_db : float
        Each spectrogram's top ``top_db`` dB map linearly onto 0-255 (its peak is 255);
        anything quieter is 0.

    Returns
    -------
    np.ndarray [shape=(n, n_mels, n_frames, 3), dtype=float32]
        Values in 0-255, row 0 the highest band (as the spectrogram is drawn), the grey level
        replicated into three channels.

    Raises
    ------
    ParameterError
        ``S_db`` is not 3-D, or ``top_db`` is not positive.
    """
    S = np.asarray(S_db, dtype=np.float32)
    if S.ndim != 3:
        raise ParameterError(f"spectrogram_images needs (n, n_mels, n_frames); got shape {S.shape}")
    if not top_db > 0:
        raise ParameterError(f"top_db must be > 0; got {top_db!r}")
    peak = S.max(axis=(1, 2), keepdims=True) if S.size else S
    grey = np.clip((S - peak + top_db) / top_db, 0.0, 1.0) * 255.0
    return np.repeat(grey[:, ::-1, :, None], 3, axis=-1).astype(np.float32)


class VggTransfer(GenreModel):
    """VGG transfer: a linear probe on the MSD VGG's patch features, or on ImageNet features.

    Parameters
    ----------
    weights : str, Path or None
        None (default): the shipped MSD VGG (``musicnn-vgg-msd``). A path: a local
        ``keras.applications`` VGG16/ResNet50 ImageNet weights file (``include_top=False``).
    backbone : {"auto", "vgg16", "resnet50"}
        ImageNet only: which network ``weights`` holds (``"auto"`` tries both).
    l2 : float
        The probe's L2 penalty, chosen on validation tracks among ``l2`` and ``l2_grid``
        (``()`` keeps ``l2``).
    peak_normalize : bool
        Scale the clip (MSD VGG) or each 3-s segment (ImageNet) to a peak of 1 first, so the
        answer does not depend on playback level.
    **kwargs
        See :class:`~core.models.base.GenreModel`. The probe is solved exactly, so one head
        (``members=1``) is the default.

    Raises
    ------
    ModelError
        ``weights`` names no file Keras can read weights from (checked here, before any audio
        is decoded; whether it holds VGG16/ResNet50 weights is checked when first used).
    """

    family = "vgg"
    display_name = "VGG transfer"
    #: The shipped encoder file the default (MSD VGG) kind needs.
    required_assets: ClassVar[tuple[Path, ...]] = (vgg_encoder_path("vgg-msd"),)

    def __init__(self, *, weights: str | Path | None = None, backbone: str = "auto",
                 l2: float = 3e-2, l2_grid: tuple[float, ...] = PROBE_L2,
                 peak_normalize: bool = True, epochs: int | None = None,
                 patience: int | None = None, learning_rate: float | None = None,
                 members: int | None = None, **kwargs: Any) -> None:
        super().__init__(epochs=epochs or 300, patience=patience or 30,
                         learning_rate=learning_rate or 1e-3, members=members or 1, **kwargs)
        from core.encoders.vgg import IMAGENET_BACKBONES, check_weights_file

        if backbone != "auto" and backbone not in IMAGENET_BACKBONES:
            raise ParameterError(f"backbone must be 'auto' or one of {sorted(IMAGENET_BACKBONES)}; "
                                 f"got {backbone!r}")
        self.weights = None if weights is None else str(check_weights_file(weights))
        self.backbone = backbone
        self.l2 = l2
        self.l2_grid = tuple(l2_grid)
        self.peak_normalize = peak_normalize
        self.tag_map_: dict[str, list[int]] = {}
        #: The encoder a trained head was fitted on: ``{"name", "sha256", ...}``.
        self.encoder_: dict[str, Any] | None = None

    @classmethod
    def from_config(cls, config: dict[str, Any], **kwargs: Any) -> VggTransfer:
        """A saved head (its metadata ``config``) on the encoder it names, checked.

        Raises
        ------
        ModelError
            The encoder is missing, or is not the one the head was trained on.
        """
        identity = config.get("encoder_identity") or {}
        weights = config.get("weights")
        try:
            model = cls(weights=weights, backbone=identity.get("backbone", config.get("backbone", "auto")),
                        l2=config.get("l2", 3e-2), peak_normalize=config.get("peak_normalize", True),
                        **kwargs)
        except ModelError as exc:
            raise ModelError(f"this VGG head was trained on the ImageNet weights {weights} "
                             f"(sha256 {str(identity.get('sha256'))[:12]}...), which cannot be "
                             f"used now: {exc}") from None
        model.tag_map_ = {k: list(v) for k, v in config.get("tag_map", {}).items()}
        model.encoder_ = identity or None
        model.check_encoder()
        return model

    # ------------------------------------------------------------------ encoder
    @property
    def imagenet(self) -> bool:
        """Whether the features come from an ImageNet network (``weights`` given)."""
        return self.weights is not None

    @property
    def encoder(self) -> str:
        """The encoder's name: ``musicnn-vgg-msd`` or ``imagenet-<backbone>``."""
        if not self.imagenet:
            return DEFAULT_ENCODER
        return f"imagenet-{self.backend.backbone}"

    @property
    def backend(self) -> Any:
        """The loaded encoder (once per process): the MSD VGG, or the ImageNet network."""
        from core.encoders.vgg import load_imagenet_encoder, load_musicnn_vgg

        if self.weights is None:
            return load_musicnn_vgg("vgg-msd")
        return load_imagenet_encoder(self.weights, backbone=self.backbone)

    def identity(self) -> dict[str, Any]:
        """What a head records about its encoder (name, sha256; for ImageNet also the file)."""
        backend = self.backend
        if not self.imagenet:
            return {"name": DEFAULT_ENCODER, "sha256": backend.sha256}
        return {"name": self.encoder, "backbone": backend.backbone, "path": self.weights,
                "sha256": backend.sha256}

    def check_encoder(self) -> None:
        """Refuse a head trained on another encoder than the one at hand.

        Raises
        ------
        ModelError
            The recorded sha256 (or ImageNet backbone) differs from the encoder's now.
        """
        if not self.encoder_:
            return
        now = self.identity()
        if self.encoder_.get("name") != now["name"] or self.encoder_.get("sha256") != now["sha256"]:
            raise ModelError(
                f"this VGG head was trained on {self.encoder_.get('name')} with sha256 "
                f"{str(self.encoder_.get('sha256'))[:12]}..., but its encoder is now {now['name']} "
                f"with sha256 {now['sha256'][:12]}... ({self.weights or 'the shipped file'}): its "
                "features would mean other things. Restore the file it names or retrain the head")

    @property
    def params(self) -> FeatureParams:
        """ImageNet only: the log-mel of each 3-s segment that becomes an image."""
        return FeatureParams(kind="logmel", sr=FEATURE_SR, n_mels=N_MELS,
                             segment_seconds=SEGMENT_SECONDS, peak_normalize=self.peak_normalize)

    def config(self) -> dict[str, Any]:
        return {"encoder": self.encoder, "encoder_identity": self.encoder_,
                "weights": self.weights, "backbone": self.backbone,
                "embedding": ["imagenet_avg_pool"] if self.imagenet else list(EMBEDDING_OUTPUTS),
                "features": self.params.to_dict() if self.imagenet else None,
                "l2": self.l2, "peak_normalize": self.peak_normalize, "zero_shot": False,
                "tag_map": self.tag_map_}

    def _cache_key(self) -> str:
        backend = self.backend
        if self.imagenet:
            payload = (f"imagenet|{backend.backbone}|{backend.sha256}|{self.params.cache_key()}|"
                       f"image{IMAGE_VERSION}")
        else:
            payload = f"musicnn-vgg|{backend.sha256}|{','.join(EMBEDDING_OUTPUTS)}|{self.peak_normalize}"
        return "vgg-" + hashlib.sha256(payload.encode()).hexdigest()[:16]

    @property
    def _rate(self) -> int:
        from core.encoders.musicnn import MUSICNN_SR

        return FEATURE_SR if self.imagenet else MUSICNN_SR

    def _encode(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows and segment times of audio at :attr:`_rate` through the encoder."""
        if self.imagenet:
            images = spectrogram_images(compute_features(y, self.params))
            X = self.backend.embed_images(images)
            return X, segment_times(len(y), FEATURE_SR, SEGMENT_SECONDS)
        from core.audio import normalize_peak

        if self.peak_normalize:
            y = normalize_peak(y[None])[0]
        out = self.backend.embed(y)
        X = np.hstack([out[name] for name in EMBEDDING_OUTPUTS]).astype(np.float32)
        return X, np.stack([out["start_s"], out["end_s"]], axis=1)

    # ------------------------------------------------------------------ contract
    def featurize_dataset(self, dataset: Dataset, *, cache: FeatureCache | None, n_jobs: int,
                          progress: bool) -> Rows:
        what = f"{self.encoder} features" if self.imagenet else "MSD VGG embeddings"
        return featurize_encoded_dataset(dataset, sr=self._rate, key=self._cache_key(), cache=cache,
                                         progress=progress, compute=lambda y: self._encode(y)[0],
                                         description=what)

    def featurize_waveform(self, y: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
        self.check_encoder()
        return self._encode(to_rate(y, sr, self._rate))

    def candidates(self) -> list[dict[str, Any]]:
        return [{"l2": value} for value in sorted({self.l2, *self.l2_grid})]

    def build(self, input_shape: tuple[int, ...], n_classes: int, **setting: Any) -> Any:
        return build_linear_head(input_shape, n_classes, l2=setting.get("l2", self.l2),
                                 input_name="vgg_embedding", name="vgg_head")

    def _train(self, X: np.ndarray, labels: np.ndarray, rows: np.ndarray, n_classes: int,
               setting: dict[str, Any], report: Any, *, valid: np.ndarray | None = None,
               epochs: int | None = None, seed: int | None = None
               ) -> tuple[Any, dict[str, list[float]], dict[str, Any]]:
        return train_linear_probe(self, X, labels, rows, n_classes, setting, l2=self.l2, valid=valid)

    def fit(self, dataset: Dataset, split: Any, **kwargs: Any) -> VggTransfer:
        self.encoder_ = self.identity()  # also loads (and so checks) the encoder first
        super().fit(dataset, split, **kwargs)
        self.l2 = float(self.chosen_.get("l2", self.l2))
        if not self.imagenet:
            self.tag_map_ = tag_genre_map(list(dataset.genres), self.backend.tag_names)
        return self

    def predict_rows(self, X: np.ndarray) -> np.ndarray:
        self._check_fitted()
        if self.model_ is None:
            raise ModelError("this VGG model has no trained head; train it with "
                             "`python -m core train --models vgg`")
        width = int(self.model_.input_shape[-1])
        if X.ndim != 2 or X.shape[1] != width:
            raise ModelError(f"the VGG head takes rows of {width} features; got shape {X.shape} "
                             "(features of another encoder?)")
        return super().predict_rows(X)

    def describe(self, X: np.ndarray) -> dict[str, Any]:
        """MSD VGG: the MSD tags it heard most, and its zero-shot answer (ImageNet: nothing)."""
        if self.imagenet or X.size == 0:
            return {}
        from core.encoders.vgg import VGG_OUTPUT_DIMS

        tags = X[:, VGG_OUTPUT_DIMS["penultimate"]:].mean(axis=0)
        names = self.backend.tag_names
        extras: dict[str, Any] = {"heard": [(names[i], float(tags[i]))
                                            for i in np.argsort(tags)[::-1][:5]]}
        if any(self.tag_map_.values()):
            extras["zero_shot"] = zero_shot_proba(X[:, VGG_OUTPUT_DIMS["penultimate"]:],
                                                  self.tag_map_, list(self.genres_ or []),
                                                  reduce="max").mean(axis=0)
        return extras
