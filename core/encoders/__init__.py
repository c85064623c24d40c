"""Pretrained audio encoders shipped as Keras 3 files (see :mod:`core.encoders.musicnn` and
:mod:`core.encoders.vgg`)."""

from __future__ import annotations

from core.encoders.musicnn import MusicnnEncoder, load_musicnn, musicnn_logmel, musicnn_patches
from core.encoders.vgg import MusicnnVggEncoder, load_imagenet_encoder, load_musicnn_vgg

__all__ = ["MusicnnEncoder", "MusicnnVggEncoder", "load_imagenet_encoder", "load_musicnn",
           "load_musicnn_vgg", "musicnn_logmel", "musicnn_patches"]
