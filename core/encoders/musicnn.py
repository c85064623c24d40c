"""musicnn (Pons & Serra, 2019) ported to Keras 3: log-mel input, the CNN, and a thread-safe encoder.

The pretrained MSD_musicnn and MTT_musicnn taggers of the PyPI package ``musicnn`` 0.1.0 (ISC
licence, Jordi Pons / Music Technology Group, UPF) are converted once by
``tools/convert_musicnn.py`` into ``assets/encoders/musicnn-{msd,mtt}/musicnn_{msd,mtt}.keras``;
nothing here imports TF1 code or the 2019 package at run time.

Pipeline (identical to the package's ``extractor.batch_data`` except where noted):

1. 16 kHz mono float32 audio -> librosa power mel spectrogram (n_fft 512, hop 256, 96 bands,
   librosa defaults otherwise), transposed to (time, mel), then ``log10(10000 * x + 1)``.
   The package casts the mel to float16 before the log; under NumPy 2 ``10000 * x`` then
   overflows to inf on normal-level music and the original graph outputs NaN. We stay in float32.
2. Patches of 187 frames (3 s) every ``hop_frames`` frames (default 187: no overlap); the last
   partial patch is dropped, as the package does. A clip shorter than one patch is repeat-padded
   (the training configuration's ``pad_short: repeat-pad``); the package itself fails on it.
3. The CNN, in inference mode: outputs ``tags`` (sigmoid), ``penultimate`` (200-d, after the
   last batch norm), ``max_pool`` and ``mean_pool`` (753-d temporal poolings of the mid-end).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.atomic import file_sha256
from core.errors import ModelError, ParameterError

if TYPE_CHECKING:
    import keras

MUSICNN_SR = 16000
N_FFT = 512
HOP = 256
N_MELS = 96
PATCH_FRAMES = 187
BN_EPSILON = 1e-3

#: Output names of :func:`build_musicnn` and their sizes (``tags`` is ``n_tags`` wide).
OUTPUT_DIMS: dict[str, int] = {"tags": 50, "penultimate": 200, "max_pool": 753, "mean_pool": 753}
OUTPUT_NAMES: tuple[str, ...] = tuple(OUTPUT_DIMS)

# From musicnn/configuration.py (musicnn 0.1.0), in the models' output order.
MSD_TAGS: tuple[str, ...] = (
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s",
    "alternative rock", "jazz", "beautiful", "metal", "chillout", "male vocalists", "classic rock",
    "soul", "indie rock", "Mellow", "electronica", "80s", "folk", "90s", "chill", "instrumental",
    "punk", "oldies", "blues", "hard rock", "ambient", "acoustic", "experimental", "female vocalist",
    "guitar", "Hip-Hop", "70s", "party", "country", "easy listening", "sexy", "catchy", "funk",
    "electro", "heavy metal", "Progressive rock", "60s", "rnb", "indie pop", "sad", "House", "happy",
)
MTT_TAGS: tuple[str, ...] = (
    "guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock", "fast",
    "piano", "ambient", "beat", "violin", "vocal", "synth", "female", "indian", "opera", "male",
    "singing", "vocals", "no vocals", "harpsichord", "loud", "quiet", "flute", "woman", "male vocal",
    "no vocal", "pop", "soft", "sitar", "solo", "man", "classic", "choir", "voice", "new age",
    "dance", "male voice", "female vocal", "beats", "harp", "cello", "no voice", "weird", "country",
    "metal", "female voice", "choral",
)

ENCODERS_DIR = Path(__file__).resolve().parents[2] / "assets" / "encoders"

#: Shipped encoders: short name -> (folder under ``assets/encoders``, Keras file, wheel model, tags).
ENCODERS: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    "msd": ("musicnn-msd", "musicnn_msd.keras", "MSD_musicnn", MSD_TAGS),
    "mtt": ("musicnn-mtt", "musicnn_mtt.keras", "MTT_musicnn", MTT_TAGS),
}

# Checkpoint scope -> (Keras layer name, kind). The TF1 scopes follow creation order in
# musicnn/models.py, not meaning; this table is the whole correspondence.
CHECKPOINT_MAP: tuple[tuple[str, str, str], ...] = (
    ("batch_normalization", "input_bn", "bn"),
    ("conv2d", "timbral_38_conv", "conv2d"),
    ("batch_normalization_1", "timbral_38_bn", "bn"),
    ("conv2d_1", "timbral_67_conv", "conv2d"),
    ("batch_normalization_2", "timbral_67_bn", "bn"),
    ("conv2d_2", "temporal_128_conv", "conv2d"),
    ("batch_normalization_3", "temporal_128_bn", "bn"),
    ("conv2d_3", "temporal_64_conv", "conv2d"),
    ("batch_normalization_4", "temporal_64_bn", "bn"),
    ("conv2d_4", "temporal_32_conv", "conv2d"),
    ("batch_normalization_5", "temporal_32_bn", "bn"),
    ("conv2d_5", "midend_1_conv", "conv1d"),
    ("batch_normalization_6", "midend_1_bn", "bn"),
    ("conv2d_6", "midend_2_conv", "conv1d"),
    ("batch_normalization_7", "midend_2_bn", "bn"),
    ("conv2d_7", "midend_3_conv", "conv1d"),
    ("batch_normalization_8", "midend_3_bn", "bn"),
    ("batch_normalization_9", "pooled_bn", "bn"),
    ("dense", "penultimate_dense", "dense"),
    ("batch_normalization_10", "penultimate", "bn"),
    ("dense_1", "logits", "dense"),
)
_BN_VARS = ("gamma", "beta", "moving_mean", "moving_variance")  # Keras BatchNormalization order
_OPTIMIZER_SUFFIXES = ("/Adam", "/Adam_1")
_OPTIMIZER_VARS = ("beta1_power", "beta2_power")


class CheckpointMismatchError(ModelError):
    """The TF1 checkpoint does not fit the Keras model (missing, unused or misshapen variables)."""


class EncoderIntegrityError(ModelError):
    """A shipped encoder file is missing, or its sha256 differs from the recorded checksum."""


# --------------------------------------------------------------------------------------- input


def musicnn_logmel(y: np.ndarray) -> np.ndarray:
    """Log-compressed mel spectrogram exactly as musicnn's input, computed in float32.

    Parameters
    ----------
    y : np.ndarray
        Mono waveform at :data:`MUSICNN_SR` (16 kHz), shape (n_samples,), any float dtype.

    Returns
    -------
    np.ndarray
        float32, shape (n_frames, 96) with ``n_frames = 1 + n_samples // 256`` (librosa's centred
        frames): ``log10(10000 * mel + 1)`` of the power mel spectrogram.

    Raises
    ------
    ParameterError
        If ``y`` is not 1-D, is empty, or holds non-finite samples.
    """
    import librosa

    y = np.asarray(y)
    if y.ndim != 1 or y.size == 0:
        raise ParameterError(f"musicnn_logmel needs non-empty mono audio (1-D array); got shape {y.shape}")
    y = np.ascontiguousarray(y, dtype=np.float32)
    if not np.isfinite(y).all():
        raise ParameterError("musicnn_logmel: the waveform holds NaN or inf samples")
    mel = librosa.feature.melspectrogram(y=y, sr=MUSICNN_SR, hop_length=HOP, n_fft=N_FFT, n_mels=N_MELS)
    mel = np.asarray(mel.T, dtype=np.float32)
    return np.log10(np.float32(10000.0) * mel + np.float32(1.0)).astype(np.float32, copy=False)


def patch_starts(n_frames: int, hop_frames: int = PATCH_FRAMES) -> np.ndarray:
    """First frame of each patch :func:`musicnn_patches` cuts from ``n_frames`` frames.

    Parameters
    ----------
    n_frames : int
        Length of the log-mel spectrogram in frames.
    hop_frames : int
        Frames between patch starts (187: no overlap).

    Returns
    -------
    np.ndarray
        int64 start frames: ``range(0, n_frames - 187 + 1, hop_frames)``, or ``[0]`` for a clip
        shorter than one patch (it is repeat-padded).
    """
    if hop_frames < 1:
        raise ParameterError(f"hop_frames must be >= 1; got {hop_frames}")
    if n_frames < 1:
        raise ParameterError(f"n_frames must be >= 1; got {n_frames}")
    if n_frames < PATCH_FRAMES:
        return np.zeros(1, dtype=np.int64)
    return np.arange(0, n_frames - PATCH_FRAMES + 1, hop_frames, dtype=np.int64)


def musicnn_patches(mel: np.ndarray, hop_frames: int = PATCH_FRAMES) -> np.ndarray:
    """Cut a log-mel spectrogram into the 187-frame patches musicnn was trained on.

    Follows the package's ``batch_data``: a patch starts every ``hop_frames`` frames while a whole
    patch still fits, so the trailing frames that do not fill a patch are dropped (at most
    ``hop_frames - 1`` frames when ``hop_frames <= 187``). A clip shorter than one patch (which the
    package cannot handle) is repeat-padded to one patch: the clip is tiled end to end and cut at
    187 frames, as in the training configuration's ``pad_short: repeat-pad``.

    Parameters
    ----------
    mel : np.ndarray
        Shape (n_frames, 96), from :func:`musicnn_logmel`.
    hop_frames : int
        Frames between patch starts (default 187: no overlap; 93 gives 50 % overlap).

    Returns
    -------
    np.ndarray
        float32, shape (n_patches, 187, 96), contiguous.
    """
    mel = np.asarray(mel, dtype=np.float32)
    if mel.ndim != 2 or mel.shape[1] != N_MELS or mel.shape[0] == 0:
        raise ParameterError(f"musicnn_patches needs a (n_frames, {N_MELS}) mel; got shape {mel.shape}")
    n = mel.shape[0]
    starts = patch_starts(n, hop_frames)  # validates hop_frames
    if n < PATCH_FRAMES:
        reps = -(-PATCH_FRAMES // n)
        return np.ascontiguousarray(np.tile(mel, (reps, 1))[None, :PATCH_FRAMES])
    idx = starts[:, None] + np.arange(PATCH_FRAMES)[None, :]
    return np.ascontiguousarray(mel[idx])


# --------------------------------------------------------------------------------------- model


def build_musicnn(n_tags: int = 50, name: str = "musicnn", *, n_filt_midend: int = 64,
                  n_units_backend: int = 200) -> keras.Model:
    """The musicnn tagger (``musicnn.models.build_musicnn``) as an inference-only Keras 3 model.

    Front-end: batch norm on the log-mel, two timbral convolutions (7x38 and 7x67, 204 filters,
    valid over mel after zero-padding 3 frames each side of time) and three temporal ones (128, 64
    and 32 frames x 1 band, 51 filters, "same" padding, asymmetric as in TensorFlow), each
    relu -> batch norm -> max over mel. Mid-end: three 7-frame convolutions over the 561 front-end
    channels with residual connections (written as Conv1D: the original's Conv2D spans the whole
    feature axis, so it is the same operation). Back-end: max and mean over time of the 753-d
    dense-connected features, interleaved per channel (max0, mean0, max1, ...) into 1506 values,
    batch norm, dense 200 relu, batch norm (``penultimate``), dense ``n_tags``, sigmoid
    (``tags``). Dropout layers of the original are omitted (inactive at inference), and the model
    is returned (and saved) with ``trainable=False``, so every batch norm uses its moving
    statistics even when called with ``training=True``.

    Parameters
    ----------
    n_tags : int
        Number of output tags (50 for both shipped models).
    name : str
        Keras model name.
    n_filt_midend, n_units_backend : int
        Mid-end filters and penultimate units (64 and 200 for MSD/MTT_musicnn).

    Returns
    -------
    keras.Model
        Input ``logmel`` (batch, 187, 96) float32; outputs a dict ``tags`` (batch, n_tags),
        ``penultimate`` (batch, n_units_backend), ``max_pool`` and ``mean_pool`` (batch, 561 + 3 *
        n_filt_midend).
    """
    import keras
    from keras import layers

    def bn(name: str) -> layers.BatchNormalization:
        return layers.BatchNormalization(epsilon=BN_EPSILON, momentum=0.99, name=name)

    t = PATCH_FRAMES
    logmel = keras.Input(shape=(t, N_MELS), dtype="float32", name="logmel")
    x = layers.Reshape((t, N_MELS, 1), name="expand")(logmel)
    x = bn("input_bn")(x)

    branches = []
    timbral_in = layers.ZeroPadding2D(((3, 3), (0, 0)), name="timbral_pad")(x)
    for width in (int(0.4 * N_MELS), int(0.7 * N_MELS)):  # 38 and 67 bands, as the original
        tag = f"timbral_{width}"
        h = layers.Conv2D(204, (7, width), padding="valid", activation="relu", name=f"{tag}_conv")(timbral_in)
        h = bn(f"{tag}_bn")(h)
        h = layers.MaxPooling2D((1, N_MELS - width + 1), name=f"{tag}_pool")(h)
        branches.append(layers.Reshape((t, 204), name=f"{tag}_squeeze")(h))
    for length in (128, 64, 32):
        tag = f"temporal_{length}"
        h = layers.Conv2D(51, (length, 1), padding="same", activation="relu", name=f"{tag}_conv")(x)
        h = bn(f"{tag}_bn")(h)
        h = layers.MaxPooling2D((1, N_MELS), name=f"{tag}_pool")(h)
        branches.append(layers.Reshape((t, 51), name=f"{tag}_squeeze")(h))
    frontend = layers.Concatenate(axis=-1, name="frontend")(branches)  # (t, 561)

    def midend_conv(inp: Any, i: int) -> Any:
        h = layers.ZeroPadding1D(3, name=f"midend_{i}_pad")(inp)
        h = layers.Conv1D(n_filt_midend, 7, padding="valid", activation="relu", name=f"midend_{i}_conv")(h)
        return bn(f"midend_{i}_bn")(h)

    mid1 = midend_conv(frontend, 1)
    mid2 = layers.Add(name="midend_2_res")([midend_conv(mid1, 2), mid1])
    mid3 = layers.Add(name="midend_3_res")([midend_conv(mid2, 3), mid2])
    midend = layers.Concatenate(axis=-1, name="midend")([frontend, mid1, mid2, mid3])  # (t, 753)

    n_mid = 561 + 3 * n_filt_midend
    max_pool = layers.GlobalMaxPooling1D(name="max_pool")(midend)
    mean_pool = layers.GlobalAveragePooling1D(name="mean_pool")(midend)
    pair = layers.Concatenate(axis=-1, name="pool_pairs")([
        layers.Reshape((n_mid, 1), name="max_pool_col")(max_pool),
        layers.Reshape((n_mid, 1), name="mean_pool_col")(mean_pool),
    ])
    pooled = layers.Flatten(name="pooled")(pair)  # max0, mean0, max1, mean1, ...
    pooled = bn("pooled_bn")(pooled)
    h = layers.Dense(n_units_backend, activation="relu", name="penultimate_dense")(pooled)
    penultimate = bn("penultimate")(h)
    logits = layers.Dense(n_tags, name="logits")(penultimate)
    tags = layers.Activation("sigmoid", name="tags")(logits)
    outputs = {"tags": tags, "penultimate": penultimate, "max_pool": max_pool, "mean_pool": mean_pool}
    model = keras.Model(logmel, outputs, name=name)
    model.trainable = False
    return model


def load_checkpoint_weights(model: keras.Model, checkpoint_prefix: str | Path, *,
                            mapping: Sequence[tuple[str, str, str]] = CHECKPOINT_MAP
                            ) -> dict[str, list[str]]:
    """Set ``model``'s weights from a musicnn TF1 checkpoint.

    Every model variable of the checkpoint must be used exactly once and every shape must match
    (the mid-end kernels ``(7, C, 1, F)`` become Conv1D kernels ``(7, C, F)``). Adam slots
    (``*/Adam``, ``*/Adam_1``) and ``beta1_power``/``beta2_power`` are training state and are
    skipped on purpose; any other unused variable is an error.

    Parameters
    ----------
    model : keras.Model
        From :func:`build_musicnn`.
    checkpoint_prefix : str or Path
        The checkpoint prefix, e.g. ``.../musicnn/MSD_musicnn/`` (the wheel's files are named
        ``.index`` and ``.data-00000-of-00001``, so the prefix ends with the folder separator).
        Opened by prefix: the wheel's ``checkpoint`` file points at the author's own paths.
    mapping : sequence of (scope, layer name, kind)
        Checkpoint scope -> Keras layer (:data:`CHECKPOINT_MAP` for musicnn; the VGG's is
        :data:`core.encoders.vgg.VGG_CHECKPOINT_MAP`).

    Returns
    -------
    dict
        ``{"used": [...], "skipped": [...]}``, checkpoint variable names.

    Raises
    ------
    CheckpointMismatchError
        On a missing, unused or misshapen variable, naming it.
    """
    import tensorflow as tf

    prefix = str(checkpoint_prefix)
    try:
        reader = tf.compat.v1.train.NewCheckpointReader(prefix)
    except Exception as exc:  # tf raises several types (NotFoundError, DataLossError, ValueError)
        raise CheckpointMismatchError(f"cannot open TF checkpoint at prefix {prefix!r}: {exc}") from exc
    shapes = reader.get_variable_to_shape_map()
    skipped = sorted(n for n in shapes if n in _OPTIMIZER_VARS or n.endswith(_OPTIMIZER_SUFFIXES))
    wanted = {n for n in shapes if n not in skipped}
    used: list[str] = []

    def read(var: str) -> np.ndarray:
        if var not in shapes:
            raise CheckpointMismatchError(f"checkpoint {prefix!r} has no variable {var!r}")
        used.append(var)
        return np.asarray(reader.get_tensor(var), dtype=np.float32)

    for scope, layer_name, kind in mapping:
        try:
            layer = model.get_layer(layer_name)
        except ValueError as exc:
            raise CheckpointMismatchError(
                f"model {model.name!r} has no layer {layer_name!r} for {scope!r}") from exc
        if kind == "bn":
            values = [read(f"{scope}/{v}") for v in _BN_VARS]
        else:
            kernel = read(f"{scope}/kernel")
            if kind == "conv1d":
                if kernel.ndim != 4 or kernel.shape[2] != 1:
                    raise CheckpointMismatchError(
                        f"{scope}/kernel has shape {kernel.shape}; a mid-end kernel must be (7, C, 1, F)")
                kernel = kernel[:, :, 0, :]
            values = [kernel, read(f"{scope}/bias")]
        current = layer.get_weights()
        if len(current) != len(values):
            raise CheckpointMismatchError(
                f"layer {layer_name!r} holds {len(current)} weights; "
                f"checkpoint scope {scope!r} gives {len(values)}")
        labels = _BN_VARS if kind == "bn" else ("kernel", "bias")
        for w, v, label in zip(current, values, labels, strict=True):
            if tuple(w.shape) != tuple(v.shape):
                raise CheckpointMismatchError(
                    f"{scope}/{label} has shape {tuple(v.shape)} but layer {layer_name!r} expects "
                    f"{tuple(w.shape)} (wrong model variant or n_tags?)")
        layer.set_weights(values)

    unused = sorted(wanted - set(used))
    if unused:
        raise CheckpointMismatchError(f"checkpoint {prefix!r} has variables the model does not use: {unused}")
    if len(used) != len(set(used)):
        raise CheckpointMismatchError("a checkpoint variable is mapped twice (bad mapping)")
    mapped = {name for _, name, _ in mapping}
    unset = [w.path for layer in model.layers if layer.name not in mapped for w in layer.weights]
    if unset:
        raise CheckpointMismatchError(f"model weights with no checkpoint variable: {unset}")
    return {"used": sorted(used), "skipped": skipped}


# ------------------------------------------------------------------------------------- encoder


class MusicnnEncoder:
    """A shipped musicnn ``.keras`` file, checksum-verified, with a thread-safe :meth:`embed`.

    Parameters
    ----------
    keras_path : str or Path
        The ``.keras`` file.
    expected_sha256 : str or None
        Its recorded sha256; None reads ``keras_sha256`` from ``encoder.json`` beside the file.
    tag_names : sequence of str or None
        Output tag names; None reads ``tags`` from ``encoder.json``.

    Raises
    ------
    EncoderIntegrityError
        If the file or its record is missing or the sha256 differs (the file is never loaded then).
    ModelError
        If the file does not load or its input/outputs are not musicnn's.
    """

    #: Output names the file must have (a subclass serves another network of the package).
    output_names: tuple[str, ...] = OUTPUT_NAMES
    #: What the error messages call it.
    kind = "musicnn"

    def __init__(self, keras_path: str | Path, *, expected_sha256: str | None = None,
                 tag_names: Sequence[str] | None = None) -> None:
        self.path = Path(keras_path)
        if not self.path.is_file():
            raise EncoderIntegrityError(f"{self.kind} encoder file not found: {self.path}")
        record: dict[str, Any] = {}
        if expected_sha256 is None or tag_names is None:
            meta = self.path.parent / "encoder.json"
            if not meta.is_file():
                raise EncoderIntegrityError(f"no encoder.json beside {self.path}: cannot verify the file")
            record = json.loads(meta.read_text(encoding="utf-8"))
        expected = (expected_sha256 or record.get("keras_sha256") or "").lower()
        if not expected:
            raise EncoderIntegrityError(f"no recorded sha256 for {self.path}")
        actual = file_sha256(self.path)
        if actual != expected:
            raise EncoderIntegrityError(
                f"checksum mismatch for {self.path}: sha256 is {actual}, recorded {expected}; the file is "
                "corrupt or was modified. Re-run tools/convert_musicnn.py or restore it from git.")
        self.sha256 = actual
        names = tag_names if tag_names is not None else record.get("tags", ())
        self.tag_names: tuple[str, ...] = tuple(names)
        self.record = record

        import keras

        try:
            self.model = keras.models.load_model(self.path, compile=False, safe_mode=True)
        except Exception as exc:  # keras raises many types for a bad archive
            raise ModelError(f"cannot load {self.kind} encoder {self.path}: {exc}") from exc
        in_shape = tuple(self.model.inputs[0].shape[1:])
        if in_shape != (PATCH_FRAMES, N_MELS):
            raise ModelError(f"{self.path}: input shape {in_shape}, expected ({PATCH_FRAMES}, {N_MELS})")
        out = self.model.predict_on_batch(np.zeros((1, PATCH_FRAMES, N_MELS), np.float32))  # also warms up
        if not isinstance(out, dict) or set(out) != set(self.output_names):
            got = sorted(out) if isinstance(out, dict) else type(out).__name__
            raise ModelError(f"{self.path}: outputs {got}, expected a dict of {sorted(self.output_names)}")
        self.output_dims = {k: int(v.shape[-1]) for k, v in out.items()}
        if self.tag_names and len(self.tag_names) != self.output_dims["tags"]:
            raise ModelError(
                f"{self.path}: {len(self.tag_names)} tag names for {self.output_dims['tags']} tags")
        self._lock = threading.Lock()

    def predict_patches(self, patches: np.ndarray, *, batch_size: int = 16) -> dict[str, np.ndarray]:
        """Run the model on log-mel patches.

        Parameters
        ----------
        patches : np.ndarray
            (n_patches, 187, 96) float32 from :func:`musicnn_patches`.
        batch_size : int
            Patches per forward pass (16: as fast as 32 on 2 cores, 200 MB less at peak).

        Returns
        -------
        dict of str to np.ndarray
            ``tags``, ``penultimate``, ``max_pool``, ``mean_pool``, each (n_patches, dim) float32.
        """
        x = np.ascontiguousarray(patches, dtype=np.float32)
        if x.ndim != 3 or x.shape[1:] != (PATCH_FRAMES, N_MELS):
            raise ParameterError(f"patches must be (n, {PATCH_FRAMES}, {N_MELS}); got {x.shape}")
        if batch_size < 1:
            raise ParameterError(f"batch_size must be >= 1; got {batch_size}")
        if x.shape[0] == 0:
            return {k: np.zeros((0, d), np.float32) for k, d in self.output_dims.items()}
        # predict_on_batch runs Keras's compiled (traced) predict step: ~4x faster than an eager
        # model(x) call at batch 1 on CPU, and without predict()'s per-call dataset overhead.
        chunks: list[dict[str, np.ndarray]] = []
        with self._lock:
            for i in range(0, x.shape[0], batch_size):
                chunks.append(self.model.predict_on_batch(x[i:i + batch_size]))
        return {k: np.concatenate([np.asarray(c[k], dtype=np.float32) for c in chunks])
                for k in self.output_names}

    def embed(self, y16k: np.ndarray, *, hop_frames: int = PATCH_FRAMES,
              batch_size: int = 16) -> dict[str, np.ndarray]:
        """Per-patch tags and embeddings of 16 kHz mono audio.

        Parameters
        ----------
        y16k : np.ndarray
            Mono float waveform at 16 kHz (resample first, e.g. :func:`core.resample.to_rate`).
        hop_frames : int
            Frames between patch starts (187 = 2.992 s: no overlap).
        batch_size : int
            Patches per forward pass (16: as fast as 32 on 2 cores, 200 MB less at peak).

        Returns
        -------
        dict of str to np.ndarray
            ``tags`` (n, 50) sigmoid probabilities, ``penultimate`` (n, 200), ``max_pool`` and
            ``mean_pool`` (n, 753), float32; ``start_s`` and ``end_s`` (n,) float64 patch bounds in
            seconds (frame ``i`` is centred at ``i * 256 / 16000`` s; ``end_s`` is capped at the
            clip's duration, so a repeat-padded short clip reads ``0 .. duration``).
        """
        y16k = np.asarray(y16k)
        mel = musicnn_logmel(y16k)
        patches = musicnn_patches(mel, hop_frames)
        out = self.predict_patches(patches, batch_size=batch_size)
        starts = patch_starts(mel.shape[0], hop_frames).astype(np.float64) * HOP / MUSICNN_SR
        duration = y16k.shape[0] / MUSICNN_SR
        out["start_s"] = starts
        out["end_s"] = np.minimum(starts + PATCH_FRAMES * HOP / MUSICNN_SR, duration)
        return out


_CACHE: dict[Path, MusicnnEncoder] = {}
_CACHE_LOCK = threading.Lock()


def shipped_path(table: dict[str, tuple[str, str, str, tuple[str, ...]]], name: str,
                 kind: str = "musicnn encoder") -> Path:
    """Path of the shipped ``.keras`` file of encoder ``name`` in ``table`` (e.g. :data:`ENCODERS`)."""
    key = name.lower()
    if key not in table:
        raise ParameterError(f"unknown {kind} {name!r}; choose from {sorted(table)}")
    folder, filename, _, _ = table[key]
    return ENCODERS_DIR / folder / filename


def load_shipped(path: Path, cls: type[MusicnnEncoder] = MusicnnEncoder) -> MusicnnEncoder:
    """The encoder file ``path`` as ``cls``, loaded (and checksum-verified) once per process."""
    with _CACHE_LOCK:
        if path not in _CACHE:
            _CACHE[path] = cls(path)
        return _CACHE[path]


def encoder_path(name: str = "msd") -> Path:
    """Path of the shipped ``.keras`` file of encoder ``name`` (``"msd"`` or ``"mtt"``)."""
    return shipped_path(ENCODERS, name)


def load_musicnn(name: str = "msd") -> MusicnnEncoder:
    """The shipped musicnn encoder ``name`` (``"msd"`` or ``"mtt"``), loaded once per process."""
    return load_shipped(encoder_path(name))
