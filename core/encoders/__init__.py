"""Pretrained audio encoders shipped as Keras 3 files (see :mod:`core.encoders.musicnn`)."""

from __future__ import annotations

from core.encoders.musicnn import MusicnnEncoder, load_musicnn, musicnn_logmel, musicnn_patches

__all__ = ["MusicnnEncoder", "load_musicnn", "musicnn_logmel", "musicnn_patches"]
