"""The three model families behind one contract (:class:`GenreModel`)."""

from core.models.base import GenreModel, SegmentPrediction
from core.models.cnn import MelCnn, build_cnn
from core.models.mlp import MfccMlp, build_mlp
from core.models.yamnet import YamnetEmbedding, load_yamnet, resolve_handle

FAMILIES: dict[str, type[GenreModel]] = {
    "mlp": MfccMlp,
    "cnn": MelCnn,
    "yamnet": YamnetEmbedding,
}

__all__ = [
    "FAMILIES",
    "GenreModel",
    "MelCnn",
    "MfccMlp",
    "SegmentPrediction",
    "YamnetEmbedding",
    "build_cnn",
    "build_mlp",
    "load_yamnet",
    "resolve_handle",
]
