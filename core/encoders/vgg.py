"""The musicnn package's VGG-style tagger (MSD_vgg) ported to Keras 3.

Besides musicnn, the PyPI package ``musicnn`` 0.1.0 (ISC licence, Jordi Pons / Music Technology
Group, UPF) ships ``MSD_vgg``: a 5-block VGG-style CNN trained on the Million Song Dataset's 50
most common tags (``musicnn.models.vgg`` with 128 filters). ``tools/convert_musicnn.py --only
vgg-msd`` converts its TF1 checkpoint once into
``assets/encoders/musicnn-vgg-msd/musicnn_vgg_msd.keras``; nothing here imports TF1 code.

Input: exactly musicnn's (:func:`core.encoders.musicnn.musicnn_logmel` and
:func:`~core.encoders.musicnn.musicnn_patches`: 16 kHz, 96-band log-mel, 187-frame patches of
3 s); the checkpoint's ``config.json`` has the same ``n_frames`` 187 and ``pad_short:
repeat-pad``. Unlike musicnn, the VGG's flattened last pooling fixes the patch length: 187 frames
only.

Network (``musicnn.models.vgg``): batch norm on the log-mel; five blocks of a 3x3 convolution
(128 filters, "same", relu), batch norm and max-pooling ((4, 1) stride 2 first, then 2x2, and
4x4 stride 4 last, all "valid"); the last pooling's 2 x 1 x 128 map, flattened, feeds a dense
layer of 50 tag logits (sigmoid). Dropout layers are omitted (inactive at inference).

Outputs of :func:`build_musicnn_vgg`:

- ``tags`` (50): the MSD tag probabilities;
- ``penultimate`` (256): the flattened last pooling, the tag layer's input (the package's
  ``pool5``, which by its "valid" 4x4 pooling sees time steps 0-7 and bands 0-3 of block 5's
  11 x 6 map only);
- ``mean_pool`` and ``max_pool`` (128 each): mean and max over time and frequency of block 5's
  batch-normalised 11 x 6 x 128 map (all of it), i.e. a global pooling of the last block.

Also here, for the ImageNet variant of the ``vgg`` family: :class:`ImagenetEncoder`, a frozen
``keras.applications`` VGG16 or ResNet50 built from a local weights file (ImageNet weights are
never downloaded).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.atomic import file_sha256
from core.encoders.musicnn import (
    BN_EPSILON,
    MSD_TAGS,
    N_MELS,
    PATCH_FRAMES,
    MusicnnEncoder,
    load_shipped,
    shipped_path,
)
from core.errors import ModelError, ParameterError

if TYPE_CHECKING:
    import keras

#: Filters of every convolution of the shipped VGG (``define_model(..., 'MSD_vgg', ...)``).
VGG_FILTERS = 128
#: Output names of :func:`build_musicnn_vgg` and their sizes.
VGG_OUTPUT_DIMS: dict[str, int] = {"tags": 50, "penultimate": 256, "mean_pool": 128, "max_pool": 128}
VGG_OUTPUT_NAMES: tuple[str, ...] = tuple(VGG_OUTPUT_DIMS)

#: Shipped VGG encoders: short name -> (folder under ``assets/encoders``, Keras file, wheel model,
#: tags).
VGG_ENCODERS: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    "vgg-msd": ("musicnn-vgg-msd", "musicnn_vgg_msd.keras", "MSD_vgg", MSD_TAGS),
}

#: Pooling of each block: (pool size, strides), as in ``musicnn.models.vgg``.
_POOLS: tuple[tuple[tuple[int, int], tuple[int, int]], ...] = (
    ((4, 1), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((4, 4), (4, 4)),
)

# Checkpoint scope -> (Keras layer name, kind). The convolutions are named 1CNN..5CNN in the
# original; the batch norms are numbered in creation order (input first, then one per block).
VGG_CHECKPOINT_MAP: tuple[tuple[str, str, str], ...] = (
    ("batch_normalization", "input_bn", "bn"),
    *((f"{i}CNN", f"block{i}_conv", "conv2d") for i in range(1, 6)),
    *((f"batch_normalization_{i}", f"block{i}_bn", "bn") for i in range(1, 6)),
    ("dense", "logits", "dense"),
)


def build_musicnn_vgg(n_tags: int = 50, name: str = "musicnn_vgg", *,
                      filters: int = VGG_FILTERS) -> keras.Model:
    """The package's VGG tagger (``musicnn.models.vgg``) as an inference-only Keras 3 model.

    Parameters
    ----------
    n_tags : int
        Number of output tags (50 for MSD_vgg).
    name : str
        Keras model name.
    filters : int
        Filters of every convolution (128 for the shipped models).

    Returns
    -------
    keras.Model
        Input ``logmel`` (batch, 187, 96) float32; outputs a dict ``tags`` (batch, n_tags),
        ``penultimate`` (batch, 2 * filters), ``mean_pool`` and ``max_pool`` (batch, filters).
        Returned (and saved) with ``trainable=False``, so every batch norm uses its moving
        statistics even when called with ``training=True``.
    """
    import keras
    from keras import layers

    logmel = keras.Input(shape=(PATCH_FRAMES, N_MELS), dtype="float32", name="logmel")
    x = layers.Reshape((PATCH_FRAMES, N_MELS, 1), name="expand")(logmel)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, momentum=0.99, name="input_bn")(x)
    block = x
    for i, (pool, strides) in enumerate(_POOLS, start=1):
        h = layers.Conv2D(filters, (3, 3), padding="same", activation="relu", name=f"block{i}_conv")(x)
        block = layers.BatchNormalization(epsilon=BN_EPSILON, momentum=0.99, name=f"block{i}_bn")(h)
        x = layers.MaxPooling2D(pool, strides=strides, padding="valid", name=f"block{i}_pool")(block)
    penultimate = layers.Flatten(name="penultimate")(x)  # (2, 1, filters) -> 2 * filters, as tf
    mean_pool = layers.GlobalAveragePooling2D(name="mean_pool")(block)
    max_pool = layers.GlobalMaxPooling2D(name="max_pool")(block)
    logits = layers.Dense(n_tags, name="logits")(penultimate)
    tags = layers.Activation("sigmoid", name="tags")(logits)
    outputs = {"tags": tags, "penultimate": penultimate, "mean_pool": mean_pool, "max_pool": max_pool}
    model = keras.Model(logmel, outputs, name=name)
    model.trainable = False
    return model


class MusicnnVggEncoder(MusicnnEncoder):
    """A shipped VGG ``.keras`` file, checksum-verified, with a thread-safe :meth:`embed`.

    Same constructor, checks and methods as :class:`~core.encoders.musicnn.MusicnnEncoder`
    (same input pipeline); its outputs are :data:`VGG_OUTPUT_NAMES`.
    """

    output_names = VGG_OUTPUT_NAMES
    kind = "musicnn VGG"


def vgg_encoder_path(name: str = "vgg-msd") -> Path:
    """Path of the shipped ``.keras`` file of VGG encoder ``name`` (``"vgg-msd"``)."""
    return shipped_path(VGG_ENCODERS, name, "musicnn VGG encoder")


def load_musicnn_vgg(name: str = "vgg-msd") -> MusicnnVggEncoder:
    """The shipped VGG encoder ``name``, loaded (and checksum-verified) once per process."""
    encoder = load_shipped(vgg_encoder_path(name), MusicnnVggEncoder)
    assert isinstance(encoder, MusicnnVggEncoder)
    return encoder


# ------------------------------------------------------------------ ImageNet backbones (local)

#: ``keras.applications`` networks whose ImageNet weights (``include_top=False``) a local file
#: may hold, with their ``preprocess_input`` module and pooled feature size.
IMAGENET_BACKBONES: dict[str, tuple[str, str, int]] = {
    "vgg16": ("VGG16", "vgg16", 512),
    "resnet50": ("ResNet50", "resnet", 2048),
}
#: Suffixes Keras reads weights from (``model.load_weights``).
WEIGHT_SUFFIXES = (".weights.h5", ".h5", ".hdf5", ".keras")


def check_weights_file(weights: str | Path) -> Path:
    """The resolved path of a local weights file, or a :class:`ModelError` saying what is wrong.

    Parameters
    ----------
    weights : str or Path
        A ``keras.applications`` VGG16/ResNet50 weights file (``include_top=False``).

    Raises
    ------
    ModelError
        The file does not exist, is a folder, or has a suffix Keras cannot read weights from.
    """
    path = Path(weights).expanduser()
    if not path.exists():
        raise ModelError(
            f"ImageNet weights file not found: {path}. Nothing is downloaded: pass a local "
            "keras.applications VGG16 or ResNet50 weights file (include_top=False), e.g. "
            "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5")
    if not path.is_file():
        raise ModelError(f"ImageNet weights must be a file, not a folder: {path}")
    if not path.name.lower().endswith(WEIGHT_SUFFIXES):
        raise ModelError(f"{path.name}: not a Keras weights file (expected one of "
                         f"{', '.join(WEIGHT_SUFFIXES)})")
    return path.resolve()


def guess_backbone(weights: str | Path) -> tuple[str, ...]:
    """Backbones to try for a weights file, most likely first (by its name)."""
    name = Path(weights).name.lower()
    return ("resnet50", "vgg16") if "resnet" in name else ("vgg16", "resnet50")


class ImagenetEncoder:
    """A frozen ``keras.applications`` VGG16 or ResNet50 from a local ImageNet weights file.

    Images in, global-average-pooled features of the last convolutional block out. Nothing is
    downloaded: ``keras.applications.<Net>(weights=<absolute path>, include_top=False)``.

    Parameters
    ----------
    weights : str or Path
        The weights file (see :func:`check_weights_file`).
    backbone : {"auto", "vgg16", "resnet50"}
        Which network the file holds; ``"auto"`` tries both (the file's name decides the order).

    Raises
    ------
    ModelError
        A missing or unreadable file, or weights that fit neither network (the message names
        what each attempt said).
    """

    def __init__(self, weights: str | Path, *, backbone: str = "auto") -> None:
        if backbone != "auto" and backbone not in IMAGENET_BACKBONES:
            raise ParameterError(f"backbone must be 'auto' or one of {sorted(IMAGENET_BACKBONES)}; "
                                 f"got {backbone!r}")
        self.path = check_weights_file(weights)
        self.sha256 = file_sha256(self.path)
        tried: list[str] = []
        for name in (guess_backbone(self.path) if backbone == "auto" else (backbone,)):
            try:
                self.model = _imagenet_network(name, self.path)
            except Exception as exc:  # Keras raises ValueError, OSError, h5py errors...
                tried.append(f"{name}: {str(exc).splitlines()[0][:200]}")
                continue
            self.backbone = name
            break
        else:
            raise ModelError(
                f"{self.path.name} holds no keras.applications "
                f"{' or '.join(IMAGENET_BACKBONES[n][0] for n in IMAGENET_BACKBONES)} weights "
                f"without the top (include_top=False) ({'; '.join(tried)})")
        self.output_dim = IMAGENET_BACKBONES[self.backbone][2]
        self._lock = threading.Lock()

    def preprocess(self, images: np.ndarray) -> np.ndarray:
        """The backbone's own ``preprocess_input`` of RGB images in 0-255 (float32)."""
        import importlib

        module = importlib.import_module(
            f"keras.applications.{IMAGENET_BACKBONES[self.backbone][1]}")
        return np.asarray(module.preprocess_input(np.array(images, dtype=np.float32)), np.float32)

    def embed_images(self, images: np.ndarray, *, batch_size: int = 8) -> np.ndarray:
        """Pooled features of RGB images.

        Parameters
        ----------
        images : np.ndarray [shape=(n, height, width, 3)]
            RGB values in 0-255; height and width at least 32.
        batch_size : int
            Images per forward pass.

        Returns
        -------
        np.ndarray [shape=(n, output_dim), dtype=float32]
        """
        x = np.asarray(images, dtype=np.float32)
        if x.ndim != 4 or x.shape[-1] != 3 or min(x.shape[1:3]) < 32:
            raise ParameterError(f"images must be (n, height >= 32, width >= 32, 3); got {x.shape}")
        if batch_size < 1:
            raise ParameterError(f"batch_size must be >= 1; got {batch_size}")
        if len(x) == 0:
            return np.zeros((0, self.output_dim), np.float32)
        x = self.preprocess(x)
        with self._lock:
            chunks = [np.asarray(self.model.predict_on_batch(x[i:i + batch_size]), np.float32)
                      for i in range(0, len(x), batch_size)]
        return np.concatenate(chunks)


def _imagenet_network(backbone: str, path: Path) -> keras.Model:
    """``keras.applications`` ``backbone`` with the weights of ``path`` (an absolute path, so
    it can never read as ``"imagenet"``, which would download), frozen, average-pooled."""
    import warnings

    import keras

    builder = getattr(keras.applications, IMAGENET_BACKBONES[backbone][0])
    with warnings.catch_warnings():
        # Keras 3 reports ResNet50's weightless Add/Activation containers as "skipped"; every
        # weight still loads (checked against the saved values in tests/test_vgg.py).
        warnings.filterwarnings("ignore", message="Skipping nested container")
        model = builder(include_top=False, weights=str(path), input_shape=(None, None, 3),
                        pooling="avg")
    model.trainable = False
    return model


_IMAGENET: dict[tuple[str, str, str, str], ImagenetEncoder] = {}
_IMAGENET_LOCK = threading.Lock()


def load_imagenet_encoder(weights: str | Path, *, backbone: str = "auto") -> ImagenetEncoder:
    """:class:`ImagenetEncoder` of a weights file, loaded once per process per file content."""
    path = check_weights_file(weights)
    stat = path.stat()  # a changed file (new mtime or size) is loaded and checksummed afresh
    key = (str(path), str(stat.st_mtime_ns), str(stat.st_size), backbone)
    with _IMAGENET_LOCK:
        if key not in _IMAGENET:
            _IMAGENET[key] = ImagenetEncoder(path, backbone=backbone)
        return _IMAGENET[key]
