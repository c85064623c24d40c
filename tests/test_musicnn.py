"""The Keras 3 port of musicnn (core.encoders.musicnn) against the original TF1 graphs.

``tests/data/musicnn_reference.npz`` holds log-mel patches and the outputs of the package's own
graphs for them (written by ``tools/musicnn_reference.py`` in a scratch venv with tf-keras and
musicnn 0.1.0). These tests need neither: they load the shipped ``.keras`` files only.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import librosa
import numpy as np
import pytest

from core.atomic import file_sha256
from core.encoders import musicnn as mn
from core.errors import ParameterError
from tests.port_tolerance import TOLERANCE, assert_matches_reference

REFERENCE = Path(__file__).parent / "data" / "musicnn_reference.npz"


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(REFERENCE) as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="module")
def keras_models() -> dict:
    import keras

    return {name: keras.models.load_model(mn.encoder_path(name), compile=False, safe_mode=True)
            for name in mn.ENCODERS}


def synthetic(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * mn.MUSICNN_SR)) / mn.MUSICNN_SR
    y = 0.3 * np.sin(2 * np.pi * (150 * t + 300 * t**2)) + 0.05 * rng.normal(size=t.size)
    y[:: mn.MUSICNN_SR // 4] += 0.5  # clicks
    return y.astype(np.float32)


def test_reference_file_is_small_and_complete(reference: dict[str, np.ndarray]) -> None:
    assert REFERENCE.stat().st_size < 1_000_000
    mel = reference["mel"]
    assert mel.shape[0] >= 3 and mel.shape[1:] == (mn.PATCH_FRAMES, mn.N_MELS)
    assert any("repeat-padded" in str(s) for s in reference["patch_source"])
    for name in mn.ENCODERS:
        for key, dim in mn.OUTPUT_DIMS.items():
            assert reference[f"{name}_{key}"].shape == (mel.shape[0], dim)


@pytest.mark.parametrize("name", sorted(mn.ENCODERS))
def test_port_reproduces_original_graph(name: str, reference, keras_models) -> None:
    out = keras_models[name](reference["mel"], training=False)
    for key in mn.OUTPUT_NAMES:
        assert_matches_reference(out[key], reference[f"{name}_{key}"], f"{name} {key}")
    # The tags really vary across patches, so a constant output could not pass.
    assert np.ptp(reference[f"{name}_tags"], axis=0).max() > 0.05


def test_comparison_catches_a_pooling_layout_bug(reference, keras_models) -> None:
    """Feeding the dense layer 'all maxes then all means' (a classic porting bug) must fail the check."""
    import keras

    model = keras_models["msd"]
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    layer = clone.get_layer("penultimate_dense")
    kernel, bias = layer.get_weights()
    n = kernel.shape[0] // 2
    order = np.concatenate([np.arange(0, 2 * n, 2), np.arange(1, 2 * n, 2)])
    layer.set_weights([kernel[order], bias])
    bad = np.asarray(clone(reference["mel"], training=False)["tags"])
    assert np.abs(bad - reference["msd_tags"]).max() > 100 * TOLERANCE  # tags: their scale is 1


def test_encoder_refuses_tampered_file(tmp_path: Path) -> None:
    src = mn.encoder_path("msd")
    dst = tmp_path / src.name
    shutil.copy(src, dst)
    shutil.copy(src.parent / "encoder.json", tmp_path / "encoder.json")
    data = bytearray(dst.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dst.write_bytes(bytes(data))
    with pytest.raises(mn.EncoderIntegrityError, match="checksum mismatch"):
        mn.MusicnnEncoder(dst)
    with pytest.raises(mn.EncoderIntegrityError, match="checksum mismatch"):
        mn.MusicnnEncoder(src, expected_sha256="0" * 64)
    (tmp_path / "encoder.json").unlink()
    with pytest.raises(mn.EncoderIntegrityError, match=r"encoder\.json"):
        mn.MusicnnEncoder(dst)


def test_shipped_record_matches_file() -> None:
    import json

    for name, (_folder, _file, _model_dir, tags) in mn.ENCODERS.items():
        path = mn.encoder_path(name)
        record = json.loads((path.parent / "encoder.json").read_text())
        assert record["keras_sha256"] == file_sha256(path)
        assert tuple(record["tags"]) == tags and len(tags) == 50
        assert record["outputs"] == mn.OUTPUT_DIMS
        assert "ISC" in record["source"]["licence"]
        assert "Permission to use, copy, modify" in (path.parent / "LICENSE").read_text()


@pytest.mark.parametrize(("n_frames", "hop", "expected"), [
    (187, 187, 1), (373, 187, 1), (374, 187, 2), (560, 187, 2), (561, 187, 3),
    (400, 93, 3), (1000, 1, 814),
])
def test_patch_count(n_frames: int, hop: int, expected: int) -> None:
    mel = np.random.default_rng(0).normal(size=(n_frames, mn.N_MELS)).astype(np.float32)
    patches = mn.musicnn_patches(mel, hop)
    assert patches.shape == (expected, mn.PATCH_FRAMES, mn.N_MELS)
    assert patches.dtype == np.float32
    for i, start in enumerate(mn.patch_starts(n_frames, hop)):
        np.testing.assert_array_equal(patches[i], mel[start:start + mn.PATCH_FRAMES])
    # the last partial patch is dropped, as the package does
    assert mn.patch_starts(n_frames, hop)[-1] + mn.PATCH_FRAMES <= n_frames


def test_short_clip_is_repeat_padded() -> None:
    mel = np.arange(50 * mn.N_MELS, dtype=np.float32).reshape(50, mn.N_MELS)
    patches = mn.musicnn_patches(mel)
    assert patches.shape == (1, mn.PATCH_FRAMES, mn.N_MELS)
    rows = np.arange(mn.PATCH_FRAMES) % 50
    np.testing.assert_array_equal(patches[0], mel[rows])
    with pytest.raises(ParameterError):
        mn.musicnn_patches(np.zeros((0, mn.N_MELS), np.float32))
    with pytest.raises(ParameterError):
        mn.musicnn_patches(np.zeros((200, 128), np.float32))
    with pytest.raises(ParameterError):
        mn.musicnn_patches(mel, hop_frames=0)


def test_logmel_matches_librosa() -> None:
    y = synthetic(2.5)
    mel = mn.musicnn_logmel(y)
    want = librosa.feature.melspectrogram(y=y, sr=16000, n_fft=512, hop_length=256, n_mels=96).T
    want = np.log10(10000 * want.astype(np.float64) + 1)
    assert mel.dtype == np.float32
    assert mel.shape == (1 + y.size // 256, 96)
    np.testing.assert_allclose(mel, want, rtol=1e-5, atol=1e-5)
    assert mel.std() > 0.5  # not silence
    with pytest.raises(ParameterError):
        mn.musicnn_logmel(np.zeros((2, 100), np.float32))
    with pytest.raises(ParameterError):
        mn.musicnn_logmel(np.array([0.0, np.nan], np.float32))


def test_loud_input_stays_finite() -> None:
    """The package's float16 ``10000 * x`` overflows on loud audio; the float32 port must not."""
    y = np.clip(synthetic(1.0) * 20, -1, 1)
    mel = mn.musicnn_logmel(y)
    assert np.isfinite(mel).all()
    power = librosa.feature.melspectrogram(y=y, sr=16000, n_fft=512, hop_length=256, n_mels=96).T
    with np.errstate(over="ignore"):
        package_way = np.log10(10000 * power.astype(np.float16) + 1)
    assert not np.isfinite(package_way).all()  # the bug this port avoids is real on this input


def test_embed_shapes_and_times() -> None:
    enc = mn.load_musicnn("msd")
    assert mn.load_musicnn("MSD") is enc
    assert enc.tag_names == mn.MSD_TAGS
    y = synthetic(7.0)
    out = enc.embed(y)
    n = 2  # 438 frames -> patches at 0 and 187
    for key, dim in mn.OUTPUT_DIMS.items():
        assert out[key].shape == (n, dim) and out[key].dtype == np.float32
        assert np.isfinite(out[key]).all()
    assert ((out["tags"] >= 0) & (out["tags"] <= 1)).all()
    np.testing.assert_allclose(out["start_s"], [0.0, 187 * 256 / 16000])
    np.testing.assert_allclose(out["end_s"], out["start_s"] + 2.992)
    # batched predict path and direct-call path agree
    direct = enc.embed(y, batch_size=32)
    looped = enc.embed(y, batch_size=1)
    np.testing.assert_allclose(direct["penultimate"], looped["penultimate"], atol=1e-4)
    short = enc.embed(synthetic(1.0), hop_frames=93)
    assert short["tags"].shape == (1, 50)
    np.testing.assert_allclose(short["end_s"], [1.0])


def test_embed_is_thread_safe() -> None:
    enc = mn.load_musicnn("mtt")
    clips = [synthetic(4.0, seed=s) for s in range(4)]
    serial = [enc.embed(c)["tags"] for c in clips]
    results: dict[int, np.ndarray] = {}

    def work(i: int) -> None:
        results[i] = enc.embed(clips[i])["tags"]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(4):
        np.testing.assert_allclose(results[i], serial[i], atol=1e-5)


def test_unknown_encoder_name() -> None:
    with pytest.raises(ParameterError, match="unknown musicnn encoder"):
        mn.load_musicnn("nope")
