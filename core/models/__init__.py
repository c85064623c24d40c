"""The model families behind one contract (:class:`GenreModel`)."""

from core.models.base import GenreModel, SegmentPrediction
from core.models.boosting import SummaryBoosting
from core.models.cnn import MelCnn, build_cnn
from core.models.logreg import SummaryLogReg
from core.models.mfcc_nets import MfccCnn, MfccLstm, build_lstm, build_mfcc_cnn
from core.models.mlp import MfccMlp, build_mlp
from core.models.vgg import VggTransfer
from core.models.yamnet import YamnetEmbedding, load_yamnet, resolve_handle

FAMILIES: dict[str, type[GenreModel]] = {
    "mlp": MfccMlp,
    "cnn": MelCnn,
    "yamnet": YamnetEmbedding,
    "logreg": SummaryLogReg,
    "boosting": SummaryBoosting,
    "lstm": MfccLstm,
    "mfcc-cnn": MfccCnn,
    "vgg": VggTransfer,
}

__all__ = [
    "FAMILIES",
    "GenreModel",
    "MelCnn",
    "MfccCnn",
    "MfccLstm",
    "MfccMlp",
    "SegmentPrediction",
    "SummaryBoosting",
    "SummaryLogReg",
    "VggTransfer",
    "YamnetEmbedding",
    "build_cnn",
    "build_lstm",
    "build_mfcc_cnn",
    "build_mlp",
    "load_yamnet",
    "resolve_handle",
]
