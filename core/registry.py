"""Saving and loading models: ``<dir>/model.keras`` + ``metadata.json`` + ``metrics.json``.

Saves are atomic: the new folder is written completely beside the old one and swapped in by
rename, so a crash mid-save leaves the previous model loadable. Loading checks the format
version, the family, the weights' checksum and the Keras major version, and explains any
mismatch. Weights are Keras' ``.keras`` zip loaded with ``safe_mode=True``; nothing is unpickled.

A family whose model is not a Keras network declares its own weights file and hooks (e.g. the
boosted trees, :class:`core.models.boosting.SummaryBoosting`): the class attribute
``weights_file`` (the file's name in the folder, default ``model.keras``),
``save_weights(path)`` and ``load_weights(path) -> model_`` (the object must have Keras'
``output_shape``). The registry still writes the folder atomically and checks the file's sha256
before ``load_weights`` sees it. A family may also define ``from_config(config, **kwargs)``,
the unfitted model a saved ``config`` describes; the older families are built below.
"""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from core.atomic import file_sha256, replace_dir_atomic
from core.errors import ModelError
from core.features import FEATURES_VERSION
from core.models.base import GenreModel

FORMAT_VERSION = 1
WEIGHTS = "model.keras"
METADATA = "metadata.json"
METRICS = "metrics.json"


def _families() -> dict[str, type[GenreModel]]:
    from core.models import FAMILIES

    return {cls.family: cls for cls in FAMILIES.values()}


def weights_name(cls: type[GenreModel]) -> str:
    """The file a family keeps its weights in: its ``weights_file``, else :data:`WEIGHTS`."""
    return str(getattr(cls, "weights_file", WEIGHTS))


def library_versions() -> dict[str, str]:
    import keras
    import librosa
    import sklearn
    import tensorflow as tf

    return {"python": platform.python_version(), "tensorflow": tf.__version__,
            "keras": keras.__version__, "librosa": librosa.__version__,
            "scikit-learn": sklearn.__version__, "numpy": np.__version__}


def jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def save_model(model: GenreModel, directory: str | os.PathLike[str]) -> Path:
    """Write ``model`` to ``directory`` atomically (replacing any model there)."""
    if model.genres_ is None:
        raise ModelError("cannot save an unfitted model")
    directory = Path(directory)

    def fill(tmp: Path) -> None:
        metadata: dict[str, Any] = {
            "format_version": FORMAT_VERSION,
            "family": model.family,
            "display_name": model.display_name,
            "genres": list(model.genres_ or []),
            "config": model.config(),
            "hyperparameters": model.hyperparameters(),
            "info": model.info_,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "libraries": library_versions(),
            "features_version": FEATURES_VERSION,
        }
        if model.model_ is not None:
            weights = tmp / weights_name(type(model))
            save = getattr(model, "save_weights", None)
            if save is None:
                model.model_.save(weights)
            else:
                save(weights)
            metadata["weights_sha256"] = file_sha256(weights)
        metrics = {"metrics": model.metrics_, "history": model.history_, "info": model.info_}
        (tmp / METADATA).write_text(json.dumps(jsonable(metadata), indent=2))
        (tmp / METRICS).write_text(json.dumps(jsonable(metrics), indent=2))

    replace_dir_atomic(directory, fill)
    return directory


def read_metadata(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """The metadata of a saved model, validated; raises :class:`ModelError` explaining problems."""
    directory = Path(directory)
    path = directory / METADATA
    if not directory.is_dir():
        raise ModelError(f"{directory}: no such model folder")
    try:
        metadata = json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelError(f"{directory}: not a GenreLab model (no {METADATA})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{directory}: {METADATA} is corrupt ({exc})") from None
    if not isinstance(metadata, dict):
        raise ModelError(f"{directory}: {METADATA} is corrupt (not an object)")
    version = metadata.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelError(f"{directory}: model format {version!r}, this GenreLab reads "
                         f"{FORMAT_VERSION}; retrain it with `python -m core train`")
    family = metadata.get("family")
    if family not in _families():
        raise ModelError(f"{directory}: unknown model family {family!r}")
    genres = metadata.get("genres")
    if not isinstance(genres, list) or len(genres) < 2:
        raise ModelError(f"{directory}: metadata lists no genres")
    saved_features = metadata.get("features_version")
    if saved_features != FEATURES_VERSION:
        raise ModelError(f"{directory}: trained on features of definition version "
                         f"{saved_features!r}, this GenreLab computes version {FEATURES_VERSION}; "
                         "its inputs would not mean the same: retrain it")
    return metadata


def read_metrics(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """The saved evaluation of a model (empty dict when absent or unreadable)."""
    try:
        return json.loads((Path(directory) / METRICS).read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return {}


def load_model(directory: str | os.PathLike[str], *, yamnet_handle: str | None = None) -> GenreModel:
    """Load a model saved by :func:`save_model`.

    A YAMNet model uses ``yamnet_handle`` if given, else ``$GENRELAB_YAMNET_HANDLE``, else the
    handle it was saved with, else TF Hub's YAMNet v1.

    Raises
    ------
    ModelError
        Missing or corrupt files, checksum mismatch, unknown family or format, or weights saved
        by an incompatible Keras.
    """
    import keras

    directory = Path(directory)
    metadata = read_metadata(directory)
    cls = _families()[metadata["family"]]
    config = metadata.get("config", {})
    hyper = metadata.get("hyperparameters", {})
    saved_keras = metadata.get("libraries", {}).get("keras", keras.__version__)
    if saved_keras.split(".")[0] != keras.__version__.split(".")[0]:
        raise ModelError(f"{directory}: saved with Keras {saved_keras}, this is Keras "
                         f"{keras.__version__}; retrain the model")
    model = _instantiate(cls, config, hyper, yamnet_handle)
    model.genres_ = list(metadata["genres"])
    model.info_ = metadata.get("info", {})
    saved = read_metrics(directory)
    model.metrics_ = saved.get("metrics", {})
    model.history_ = saved.get("history", {})
    weights = directory / weights_name(cls)
    if "weights_sha256" in metadata:
        if not weights.is_file():
            raise ModelError(f"{directory}: {weights.name} is missing")
        if file_sha256(weights) != metadata["weights_sha256"]:
            raise ModelError(f"{directory}: {weights.name} does not match its checksum (corrupt "
                             "or modified); retrain or restore the model")
        load = getattr(model, "load_weights", None)
        try:
            model.model_ = (keras.models.load_model(weights, compile=False, safe_mode=True)
                            if load is None else load(weights))
        except Exception as exc:  # Keras raises ValueError, OSError, zipfile errors...
            raise ModelError(f"{directory}: cannot load {weights.name} ({exc})") from None
        n_out = int(model.model_.output_shape[-1])
        if n_out != len(model.genres_):
            raise ModelError(f"{directory}: network has {n_out} outputs for "
                             f"{len(model.genres_)} genres")
    elif not (metadata["family"] == "yamnet" or config.get("zero_shot")):
        raise ModelError(f"{directory}: no weights recorded for a {metadata['family']} model")
    return model


def _instantiate(cls: type[GenreModel], config: dict[str, Any], hyper: dict[str, Any],
                 yamnet_handle: str | None = None) -> GenreModel:
    from core.features import FeatureParams
    from core.models.mlp import BandRestore, RecordingMap

    kwargs: dict[str, Any] = {k: hyper[k] for k in ("epochs", "batch_size", "learning_rate",
                                                     "patience", "seed", "refit", "members")
                              if k in hyper}
    try:
        from_config = getattr(cls, "from_config", None)
        if from_config is not None:
            return from_config(config, **kwargs)
        if cls.family == "yamnet":
            from core.models.yamnet import HANDLE_ENV, TFHUB_HANDLE, check_encoder, resolve_handle

            saved = config.get("handle")  # zero-shot: None means the default YAMNet
            if not config.get("zero_shot", True):
                # A head needs the YAMNet it was trained with: as given, else what the handle
                # resolved to then (before the bundled YAMNet existed, TF Hub's).
                saved = (saved or (config.get("encoder") or {}).get("handle")
                         or config.get("resolved_handle") or TFHUB_HANDLE)
            handle = yamnet_handle or os.environ.get(HANDLE_ENV) or saved
            model = cls(handle=handle, segment_seconds=config.get("segment_seconds", 3.0),
                        l2=config.get("l2", 1e-3),
                        peak_normalize=config.get("peak_normalize", False),
                        zero_shot_reduce=config.get("zero_shot_reduce", "sum"), **kwargs)
            model.class_map_ = {k: list(v) for k, v in config.get("class_map", {}).items()}
            if not config.get("zero_shot", True):
                model.encoder_ = config.get("encoder")
                warning = check_encoder(model.encoder_, resolve_handle(handle))
                if warning:
                    model.warnings_.append(warning)
            return model
        if cls.family == "cnn" and config.get("encoder"):
            model = cls(encoder=config["encoder"], l2=config.get("l2", 1e-3),
                        peak_normalize=config.get("peak_normalize", True),
                        fine_tune=config.get("fine_tune", False),
                        anchor_l2=config.get("anchor_l2", 1e-2),
                        head_dropout=config.get("head_dropout", 0.5), **kwargs)
            model.tag_map_ = {k: list(v) for k, v in config.get("tag_map", {}).items()}
            saved_rows = config.get("embedding")
            if saved_rows and list(saved_rows) != list(model.embedding_outputs):
                raise ModelError(f"this mel-CNN head reads rows of {saved_rows}, but this version "
                                 f"builds {list(model.embedding_outputs)}: retrain the head")
            if not config.get("zero_shot", False):
                model.encoder_ = config.get("encoder_identity")
                model.check_encoder()
            return model
        params = FeatureParams.from_dict(config["features"])
        if cls.family == "mlp":
            return cls(segment_seconds=params.segment_seconds or 30.0,
                       dropout=config.get("dropout", 0.5),
                       level_augment_db=config.get("level_augment_db", 0.0),
                       recording_maps={name: RecordingMap.from_dict(m) for name, m
                                       in config.get("recording_maps", {}).items()},
                       max_hz=params.max_hz,
                       # a restore saved by 8d3f962 did not name its band and window
                       band_restore=(BandRestore.from_dict(
                           {"max_hz": params.max_hz, "segment_seconds": params.segment_seconds,
                            **config["band_restore"]})
                           if config.get("band_restore") else None), **kwargs)
        return cls(encoder=None, segment_seconds=params.segment_seconds or 3.0, n_mels=params.n_mels,
                   augment=config.get("augment", True), peak_normalize=params.peak_normalize,
                   **kwargs)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"model configuration is incompatible ({exc})") from None


def list_models(root: str | os.PathLike[str]) -> list[Path]:
    """Model folders directly below ``root`` (those holding a metadata file), sorted by name.

    Hidden folders are skipped: they are half-written saves left by an interrupted process.
    """
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir()
                  if not p.name.startswith(".") and (p / METADATA).is_file())


def model_folders(root: str | os.PathLike[str]) -> list[Path]:
    """The models ``root`` names: the model folders below it (a model set), else ``root`` itself
    when it is one model folder, else none."""
    root = Path(root)
    return list_models(root) or ([root] if (root / METADATA).is_file() else [])
