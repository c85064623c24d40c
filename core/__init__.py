"""GenreLab core: audio -> features -> dataset/split -> model -> evaluation.

Never imports Streamlit. Heavy libraries (TensorFlow) load only when a model needs them.
"""

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
