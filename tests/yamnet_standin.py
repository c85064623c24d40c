"""A stand-in SavedModel with YAMNet's signature, for tests (no download, no real weights).

``model(waveform[float32, (n,)]) -> (scores (F, 521), embeddings (F, 1024), log_mel (F*96, 64))``
with frames of 15600 samples every 7680, like YAMNet. Scores: the energy in ten log-spaced bands
is written onto the AudioSet classes of ten genres, so a tone in band ``i`` scores genre ``i``
highest (zero-shot can be tested). Embeddings: a fixed random projection of the band energies.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from core.models.yamnet import GENRE_CLASSES, shipped_class_names

STANDIN_GENRES = ["blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop",
                  "reggae", "rock"]
BAND_EDGES_HZ = np.geomspace(100, 6400, 11)


def band_centre(i: int) -> float:
    return float(np.sqrt(BAND_EDGES_HZ[i] * BAND_EDGES_HZ[i + 1]))


def build_standin(directory: Path) -> Path:
    import tensorflow as tf

    names = shipped_class_names()
    class_of_band = [names.index(GENRE_CLASSES[g][0]) for g in STANDIN_GENRES]
    freqs = np.fft.rfftfreq(15600, 1 / 16000)
    bands = np.stack([(freqs >= lo) & (freqs < hi) for lo, hi in
                      itertools.pairwise(BAND_EDGES_HZ)], axis=1)
    scatter = np.zeros((10, 521), np.float32)
    scatter[np.arange(10), class_of_band] = 1.0
    rng = np.random.default_rng(0)
    projection = rng.normal(size=(10, 1024)).astype(np.float32)
    class_map = directory / "assets" / "yamnet_class_map.csv"

    class StandIn(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bands = tf.constant(bands.astype(np.float32))
            self.scatter = tf.constant(scatter)
            self.projection = tf.constant(projection)
            self.class_map = tf.saved_model.Asset(str(class_map))

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
        def __call__(self, waveform):
            n = tf.shape(waveform)[0]
            padded = tf.pad(waveform, [[0, tf.maximum(0, 15600 - n)]])
            frames = tf.signal.frame(padded, 15600, 7680)
            power = tf.abs(tf.signal.rfft(frames)) ** 2
            energy = tf.matmul(power, self.bands)
            share = energy / (tf.reduce_sum(energy, axis=1, keepdims=True) + 1e-9)
            scores = tf.matmul(share, self.scatter)
            embeddings = tf.tanh(tf.matmul(tf.math.log(energy + 1e-6), self.projection) / 10.0)
            log_mel = tf.zeros([tf.shape(frames)[0] * 96, 64])
            return scores, embeddings, log_mel

        @tf.function(input_signature=[])
        def class_map_path(self):
            return self.class_map.asset_path

    class_map.parent.mkdir(parents=True, exist_ok=True)
    class_map.write_text(Path(__file__).resolve().parents[1].joinpath(
        "core/data/yamnet_class_map.csv").read_text())
    tf.saved_model.save(StandIn(), str(directory))
    return directory
