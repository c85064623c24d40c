"""GenreLab core: audio -> features -> dataset/split -> model -> evaluation.

Never imports Streamlit. Heavy libraries (TensorFlow) load only when a model needs them.
"""

import os

# TensorFlow runs its convolutions through oneDNN only on CPUs with AVX-512 VNNI, BF16 or AMX
# unless told otherwise; elsewhere (AVX2 laptops and servers) it falls back to Eigen, which
# runs musicnn's 3-s patch at half the speed (124 against 58 ms per patch on a 2-core AVX2
# EPYC; results equal to float32 rounding, every test unchanged). Set before TensorFlow is
# imported (it loads lazily, after this); TF_ENABLE_ONEDNN_OPTS=0 in the environment keeps Eigen.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

from core.audio import load_audio, segment_audio, segment_bounds
from core.errors import AudioError, DatasetError, GenreLabError, ModelError, ParameterError

__version__ = "0.1.0"

__all__ = [
    "AudioError",
    "DatasetError",
    "GenreLabError",
    "ModelError",
    "ParameterError",
    "load_audio",
    "segment_audio",
    "segment_bounds",
]
