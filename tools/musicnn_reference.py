"""Reference outputs of the ORIGINAL musicnn TF1 graphs, for ``tests/test_musicnn.py``.

Run in a scratch venv, never in the project's (it needs tf-keras and the 2019 package)::

    python3 -m venv /tmp/refenv
    /tmp/refenv/bin/pip install tensorflow==2.21.0 tf-keras==2.21.0 librosa==0.11.0 numpy==2.4.6
    pip download --no-deps musicnn==0.1.0 -d /tmp/musicnn_whl
    /tmp/refenv/bin/pip install --no-deps /tmp/musicnn_whl/musicnn-0.1.0-py3-none-any.whl
    TF_USE_LEGACY_KERAS=1 /tmp/refenv/bin/python tools/musicnn_reference.py            # both files
    TF_USE_LEGACY_KERAS=1 /tmp/refenv/bin/python tools/musicnn_reference.py --only vgg # VGG file only

It builds each graph with the package's own ``musicnn.models.define_model``, restores the
wheel's checkpoint (by prefix), and feeds log-mel patches made by
:func:`core.encoders.musicnn.musicnn_logmel` / :func:`musicnn_patches` from deterministic synthetic
audio: two non-overlapping patches of a 7 s mix of chirps, noise bursts, clicks and a chord, one
patch at a half-patch offset, and one repeat-padded patch of a 1.3 s clip. The package's
``extractor()`` is NOT used: it returns stale penultimate/mid-end features for every patch after
the first (musicnn issue #20), and under NumPy 2 its float16 ``10000 * x`` overflows to inf on
loud input.

Writes ``tests/data/musicnn_reference.npz`` (compressed, ~0.3 MB): ``mel`` (n, 187, 96) float32,
``patch_source`` (what each patch is), and per model ``{msd,mtt}_{tags,penultimate,max_pool,
mean_pool}`` float32.

And, for the package's VGG (``MSD_vgg``, ``musicnn.models.vgg``), ``tests/data/
musicnn_vgg_reference.npz`` (a few KB): the outputs ``vgg_msd_{tags,penultimate,mean_pool,
max_pool}`` of the same patches, read from ``musicnn_reference.npz`` (not stored twice), with
``mel_sha256`` to prove which patches they belong to. ``penultimate`` is the graph's ``pool5``
flattened (the tag layer's input); ``mean_pool``/``max_pool`` are the mean and max over time and
frequency of the tensor the graph's ``pool5`` pools (block 5's batch norm), taken in the graph.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from core.encoders.musicnn import (  # noqa: E402
    ENCODERS,
    MUSICNN_SR,
    N_MELS,
    PATCH_FRAMES,
    musicnn_logmel,
    musicnn_patches,
)

OUT = ROOT / "tests" / "data" / "musicnn_reference.npz"
VGG_OUT = ROOT / "tests" / "data" / "musicnn_vgg_reference.npz"


def synthetic_music(seconds: float, seed: int) -> np.ndarray:
    """Deterministic test audio at 16 kHz: chirps, a chord, noise bursts and clicks, peak ~0.8."""
    rng = np.random.default_rng(seed)
    n = int(seconds * MUSICNN_SR)
    t = np.arange(n) / MUSICNN_SR
    y = 0.25 * np.sin(2 * np.pi * (100 * t + 400 * t**2 / seconds))  # rising chirp 100 Hz -> ~900 Hz
    y += 0.15 * np.sin(2 * np.pi * (3000 * t - 1200 * t**2 / seconds))  # falling chirp
    for f in (220.0, 277.2, 329.6):  # A major chord, tremolo
        y += 0.08 * np.sin(2 * np.pi * f * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    burst = np.zeros(n)
    for start in np.arange(0.3, seconds, 0.9):  # noise bursts
        i = int(start * MUSICNN_SR)
        length = min(int(0.15 * MUSICNN_SR), n - i)
        burst[i:i + length] = rng.normal(0, 0.2, length) * np.hanning(length)
    y += burst
    clicks = np.zeros(n)
    clicks[(np.arange(0.0, seconds, 0.25) * MUSICNN_SR).astype(int)] = 0.7  # 240 bpm clicks
    y += np.convolve(clicks, np.exp(-np.arange(80) / 10.0), mode="same")
    return (0.8 * y / np.max(np.abs(y))).astype(np.float32)


def reference_patches() -> tuple[np.ndarray, list[str]]:
    """The input patches and a description of each."""
    long_mel = musicnn_logmel(synthetic_music(7.0, seed=1))
    short_mel = musicnn_logmel(synthetic_music(1.3, seed=2))
    assert short_mel.shape[0] < PATCH_FRAMES
    a = musicnn_patches(long_mel)  # 2 patches (frames 0-186, 187-373)
    b = musicnn_patches(long_mel, hop_frames=93)[1:2]  # frames 93-279
    c = musicnn_patches(short_mel)  # 1 repeat-padded patch
    patches = np.concatenate([a, b, c]).astype(np.float32)
    sources = ["7s synthetic, frames 0-186", "7s synthetic, frames 187-373", "7s synthetic, frames 93-279",
               f"1.3s synthetic ({short_mel.shape[0]} frames), repeat-padded"]
    assert patches.shape == (len(sources), PATCH_FRAMES, N_MELS)
    return patches, sources


def run_graph(model_dir: str, n_tags: int, prefix: str, patches: np.ndarray,
              outputs: Callable[[Any, Any], dict[str, Any]]) -> dict[str, np.ndarray]:
    """Outputs of the package's own graph (``musicnn.models.define_model``) for ``patches``, fed
    as a batch and one at a time (checked to agree); ``outputs(define_model's result, tf)``
    names the tensors to fetch."""
    import tensorflow as tf
    from musicnn import models

    tf.compat.v1.disable_eager_execution()
    tf.compat.v1.reset_default_graph()
    with tf.name_scope("model"):
        x = tf.compat.v1.placeholder(tf.float32, [None, PATCH_FRAMES, N_MELS])
        is_training = tf.compat.v1.placeholder(tf.bool)
        fetch = outputs(models.define_model(x, is_training, model_dir, n_tags), tf)
    with tf.compat.v1.Session() as sess:
        sess.run(tf.compat.v1.global_variables_initializer())
        tf.compat.v1.train.Saver().restore(sess, prefix)
        batch = sess.run(fetch, feed_dict={x: patches, is_training: False})
        single = [sess.run(fetch, feed_dict={x: p[None], is_training: False}) for p in patches]
    for key, value in batch.items():
        one = np.concatenate([s[key] for s in single])
        print(f"  {model_dir} {key}: shape {value.shape}, batch vs single max diff "
              f"{float(np.max(np.abs(one - value))):.2e}, finite {np.isfinite(value).all()}")
        assert np.isfinite(value).all()
    return {k: np.asarray(v, dtype=np.float32) for k, v in batch.items()}


def musicnn_outputs(graph: tuple[Any, ...], tf: Any) -> dict[str, Any]:
    """musicnn's tags, penultimate layer and mid-end poolings."""
    y, _timbral, _temporal, _c1, _c2, _c3, mean_pool, max_pool, penultimate = graph
    return {"tags": tf.nn.sigmoid(y), "penultimate": penultimate, "max_pool": max_pool,
            "mean_pool": mean_pool}


def vgg_outputs(graph: tuple[Any, ...], tf: Any) -> dict[str, Any]:
    """The VGG's tags, flattened last pooling and global poolings of its block-5 map."""
    y, _p1, _p2, _p3, _p4, pool5 = graph
    block5 = pool5.op.inputs[0]  # the batch-normalised block-5 map that pool5 max-pools
    assert pool5.op.type == "MaxPool" and block5.shape.as_list()[1:] == [11, 6, 128], block5
    return {"tags": tf.nn.sigmoid(y), "penultimate": tf.compat.v1.layers.flatten(pool5),
            "mean_pool": tf.reduce_mean(block5, axis=[1, 2]),
            "max_pool": tf.reduce_max(block5, axis=[1, 2])}


def mel_sha256(mel: np.ndarray) -> str:
    """sha256 of a float32 C-ordered patch array (which patches a reference belongs to)."""
    return hashlib.sha256(np.ascontiguousarray(mel, dtype=np.float32).tobytes()).hexdigest()


def write_vgg_reference(package_dir: Path) -> None:
    """``musicnn_vgg_reference.npz`` from the patches stored in ``musicnn_reference.npz``."""
    from core.encoders.vgg import VGG_ENCODERS

    with np.load(OUT) as stored:
        patches, sources = stored["mel"], stored["patch_source"]
    arrays: dict[str, np.ndarray] = {"mel_sha256": np.array(mel_sha256(patches)),
                                     "patch_source": sources}
    for name, (_folder, _file, model_dir, tags) in sorted(VGG_ENCODERS.items()):
        prefix = str(package_dir / model_dir) + os.sep
        out = run_graph(model_dir, len(tags), prefix, patches, vgg_outputs)
        for key, value in out.items():
            arrays[f"{name.replace('-', '_')}_{key}"] = value
        top = np.argsort(-out["tags"][0])[:3]
        print(f"  {model_dir} top tags of patch 0: {[tags[i] for i in top]}")
    np.savez_compressed(VGG_OUT, **arrays)
    print(f"wrote {VGG_OUT} ({VGG_OUT.stat().st_size} bytes)")


def main(argv: list[str] | None = None) -> int:
    import musicnn

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("musicnn", "vgg"),
                        help="write one reference file (default: both; vgg reads musicnn's patches)")
    args = parser.parse_args(argv)
    package_dir = Path(musicnn.__file__).resolve().parent
    if args.only != "vgg":
        write_musicnn_reference(package_dir)
    if args.only != "musicnn":
        write_vgg_reference(package_dir)
    return 0


def write_musicnn_reference(package_dir: Path) -> None:
    """``musicnn_reference.npz``: the patches and both musicnn graphs' outputs."""
    patches, sources = reference_patches()
    arrays: dict[str, np.ndarray] = {"mel": patches, "patch_source": np.array(sources)}
    for name, (_folder, _file, model_dir, tags) in sorted(ENCODERS.items()):
        prefix = str(package_dir / model_dir) + os.sep
        out = run_graph(model_dir, len(tags), prefix, patches, musicnn_outputs)
        for key, value in out.items():
            arrays[f"{name}_{key}"] = value
        top = np.argsort(-out["tags"][0])[:3]
        print(f"  {model_dir} top tags of patch 0: {[tags[i] for i in top]}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, **arrays)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    raise SystemExit(main())
