"""VGG transfer (core.models.vgg) and its encoders (core.encoders.vgg).

``tests/data/musicnn_vgg_reference.npz`` holds the outputs of the musicnn package's own TF1 VGG
graph (``MSD_vgg``) for the patches stored in ``tests/data/musicnn_reference.npz`` (written by
``tools/musicnn_reference.py`` in a scratch venv). The ImageNet path is tested with weights files
made here from randomly initialised ``keras.applications`` networks: nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from core.atomic import file_sha256
from core.cli import main
from core.encoders import vgg as ev
from core.encoders.musicnn import EncoderIntegrityError, load_checkpoint_weights
from core.errors import ModelError, ParameterError
from core.models import FAMILIES, VggTransfer
from core.models.vgg import spectrogram_images
from core.registry import load_model, read_metadata
from core.synth import genre_like
from core.train import make_model
from tests.port_tolerance import TOLERANCE, assert_matches_reference

DATA = Path(__file__).parent / "data"
GENRES = ["high", "low", "mid"]


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(DATA / "musicnn_vgg_reference.npz") as data:
        out = {k: data[k] for k in data.files}
    with np.load(DATA / "musicnn_reference.npz") as data:
        out["mel"] = data["mel"]
    return out


@pytest.fixture(scope="module")
def dataset(tiny):
    return tiny


def _vgg16_weights(path: Path, seed: int, *, legacy: bool) -> Path:
    """A randomly initialised VGG16 (no top) weights file; ``legacy``: the format Keras'
    ImageNet downloads use (``*_notop.h5``), else Keras 3's ``.weights.h5``."""
    import keras

    keras.utils.set_random_seed(seed)
    net = keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    if legacy:
        import h5py
        from keras.src.legacy.saving import legacy_h5_format

        with h5py.File(path, "w") as fh:
            legacy_h5_format.save_weights_to_hdf5_group(fh, net)
    else:
        net.save_weights(path)
    return path


@pytest.fixture(scope="module")
def vgg16_file(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("imagenet")
    return _vgg16_weights(folder / "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5", 0, legacy=True)


# ------------------------------------------------------------------------------- the port


def test_reference_belongs_to_the_stored_patches(reference) -> None:
    digest = hashlib.sha256(np.ascontiguousarray(reference["mel"], np.float32).tobytes()).hexdigest()
    assert str(reference["mel_sha256"]) == digest
    assert (DATA / "musicnn_vgg_reference.npz").stat().st_size < 100_000
    for key, dim in ev.VGG_OUTPUT_DIMS.items():
        assert reference[f"vgg_msd_{key}"].shape == (len(reference["mel"]), dim)


def test_port_reproduces_original_vgg_graph(reference) -> None:
    import keras

    model = keras.models.load_model(ev.vgg_encoder_path(), compile=False, safe_mode=True)
    out = model(reference["mel"], training=False)
    for key in ev.VGG_OUTPUT_NAMES:
        want = reference[f"vgg_msd_{key}"]
        assert_matches_reference(out[key], want, key)
        assert np.ptp(want, axis=0).max() > 0.05  # outputs vary across patches: not constant
    assert model.count_params() == 607_030


def test_comparison_catches_a_swapped_batch_norm(reference) -> None:
    """Blocks 1-5's batch norms share one shape, so only the reference can catch a mix-up."""
    import keras

    model = keras.models.load_model(ev.vgg_encoder_path(), compile=False, safe_mode=True)
    a, b = model.get_layer("block2_bn"), model.get_layer("block3_bn")
    wa, wb = a.get_weights(), b.get_weights()
    a.set_weights(wb)
    b.set_weights(wa)
    bad = np.asarray(model(reference["mel"], training=False)["tags"])
    assert np.abs(bad - reference["vgg_msd_tags"]).max() > 100 * TOLERANCE  # tags: their scale is 1


def test_checkpoint_loader_refuses_a_missing_checkpoint() -> None:
    model = ev.build_musicnn_vgg(n_tags=50)
    with pytest.raises(ModelError, match="cannot open TF checkpoint"):
        load_checkpoint_weights(model, "/nonexistent/prefix/", mapping=ev.VGG_CHECKPOINT_MAP)


def test_shipped_record_matches_file_and_licence() -> None:
    path = ev.vgg_encoder_path()
    record = json.loads((path.parent / "encoder.json").read_text())
    assert record["name"] == "musicnn-vgg-msd"
    assert record["keras_sha256"] == file_sha256(path)
    assert len(record["source"]["wheel_sha256"]) == 64
    assert record["source"]["checkpoint"] == "musicnn/MSD_vgg/"
    assert record["outputs"] == ev.VGG_OUTPUT_DIMS and record["parameters"] == 607_030
    assert len(record["tags"]) == 50 and record["input"]["patch_frames"] == 187
    assert "ISC" in record["source"]["licence"]
    assert "Permission to use, copy, modify" in (path.parent / "LICENSE").read_text()


def test_encoder_refuses_tampered_file(tmp_path: Path) -> None:
    src = ev.vgg_encoder_path()
    dst = tmp_path / src.name
    shutil.copy(src, dst)
    shutil.copy(src.parent / "encoder.json", tmp_path / "encoder.json")
    data = bytearray(dst.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dst.write_bytes(bytes(data))
    with pytest.raises(EncoderIntegrityError, match="checksum mismatch"):
        ev.MusicnnVggEncoder(dst)
    with pytest.raises(ParameterError, match="unknown musicnn VGG encoder"):
        ev.load_musicnn_vgg("nope")


def test_embed_shapes() -> None:
    enc = ev.load_musicnn_vgg()
    assert ev.load_musicnn_vgg("VGG-MSD") is enc
    y = genre_like(4, 7.0, seed=1)[: 7 * 16000].astype(np.float32)  # treated as 16 kHz audio
    out = enc.embed(y)
    for key, dim in ev.VGG_OUTPUT_DIMS.items():
        assert out[key].shape == (2, dim) and np.isfinite(out[key]).all()
    np.testing.assert_allclose(out["start_s"], [0.0, 187 * 256 / 16000])
    assert ((out["tags"] >= 0) & (out["tags"] <= 1)).all()


# ------------------------------------------------------------------- the MSD VGG family


def test_msd_vgg_probe_fits_predicts_saves_and_loads(dataset, tmp_path) -> None:
    data, split = dataset
    model = VggTransfer().fit(data, split)
    assert FAMILIES["vgg"] is VggTransfer and model.family == "vgg"
    assert model.genres_ == GENRES
    assert model.info_["parameters"] == (256 + 50 + 1) * 3 + 2 * (256 + 50) + 1  # probe only
    losses = {l2: VggTransfer(l2=l2, l2_grid=()).fit(data, split).history_["val_loss"][-1]
              for l2 in sorted({3e-2, *VggTransfer().l2_grid})}
    assert model.l2 == min(losses, key=losses.get)  # chosen on validation tracks
    assert model.encoder_ == {"name": "musicnn-vgg-msd", "sha256": ev.load_musicnn_vgg().sha256}
    assert model.metrics_["track"]["accuracy"] >= 2 / 3  # three separable synthetic genres
    y = genre_like(2, 7.0, seed=99)
    pred = model.predict_segments(y, 22050)
    assert pred.segment_proba.shape == (2, 3)
    np.testing.assert_allclose(pred.proba, pred.segment_proba.mean(axis=0))
    assert len(pred.extras["heard"]) == 5

    model.save(tmp_path / "vgg")
    meta = read_metadata(tmp_path / "vgg")
    assert meta["config"]["encoder_identity"]["sha256"] == ev.load_musicnn_vgg().sha256
    loaded = load_model(tmp_path / "vgg")
    assert isinstance(loaded, VggTransfer) and not loaded.imagenet
    np.testing.assert_allclose(loaded.predict_segments(y, 22050).proba, pred.proba, atol=1e-6)

    # a head trained on another encoder file is refused, naming both checksums
    meta["config"]["encoder_identity"]["sha256"] = "0" * 64
    (tmp_path / "vgg" / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match=r"trained on musicnn-vgg-msd with sha256 000000000000"):
        load_model(tmp_path / "vgg")
    with pytest.raises(ModelError, match="takes rows of 306 features"):
        model.predict_rows(np.zeros((2, 200), np.float32))


# --------------------------------------------------------------------- the ImageNet path


def test_spectrogram_images() -> None:
    S = np.full((2, 4, 5), -100.0, np.float32)
    S[0, 0, 0] = -10.0  # peak of clip 0 in the lowest band
    S[0, 1, 0] = -50.0  # 40 dB below it: half grey
    S[1] = -3.0
    img = spectrogram_images(S)
    assert img.shape == (2, 4, 5, 3) and img.dtype == np.float32
    assert np.array_equal(img[..., 0], img[..., 2])
    assert img[0, -1, 0, 0] == 255.0  # lowest band drawn at the bottom
    assert img[0, -2, 0, 0] == pytest.approx(127.5)
    assert img[0, 0, 0, 0] == 0.0  # more than 80 dB below the peak
    assert (img[1] == 255.0).all()  # a flat spectrogram is all peak
    with pytest.raises(ParameterError):
        spectrogram_images(S[0])


def test_imagenet_variant_fits_saves_loads_and_refuses_other_weights(dataset, vgg16_file,
                                                                     tmp_path) -> None:
    data, split = dataset
    weights = tmp_path / vgg16_file.name
    shutil.copy(vgg16_file, weights)
    model = VggTransfer(weights=weights).fit(data, split)
    assert model.encoder == "imagenet-vgg16" and model.imagenet
    assert model.encoder_["sha256"] == file_sha256(weights)
    assert model.encoder_["path"] == str(weights.resolve())
    assert model.info_["parameters"] == 512 * 3 + 3 + 2 * 512 + 1  # the probe on 512-d features
    y = genre_like(4, 7.0, seed=5)
    pred = model.predict_segments(y, 22050)
    assert pred.segment_proba.shape == (2, 3) and np.isfinite(pred.proba).all()
    model.save(tmp_path / "vgg")
    loaded = load_model(tmp_path / "vgg")
    assert loaded.imagenet and loaded.encoder == "imagenet-vgg16"
    np.testing.assert_allclose(loaded.predict_proba(y, 22050), pred.proba, atol=1e-6)

    # other weights in the same file: refused, naming the sha256 it was trained on
    other = _vgg16_weights(tmp_path / "other_notop.h5", 1, legacy=True)
    shutil.copy(other, weights)
    with pytest.raises(ModelError, match=(
            f"trained on imagenet-vgg16 with sha256 {model.encoder_['sha256'][:12]}.*"
            f"now imagenet-vgg16 with sha256 {file_sha256(other)[:12]}")):
        load_model(tmp_path / "vgg")
    weights.unlink()
    with pytest.raises(ModelError, match="ImageNet weights file not found"):
        load_model(tmp_path / "vgg")


def test_keras3_weights_file_and_resnet50_are_read(tmp_path) -> None:
    import keras

    path = _vgg16_weights(tmp_path / "vgg16.weights.h5", 2, legacy=False)
    enc = ev.ImagenetEncoder(path)
    assert enc.backbone == "vgg16" and enc.output_dim == 512
    feats = enc.embed_images(np.random.default_rng(0).uniform(0, 255, (3, 64, 70, 3)))
    assert feats.shape == (3, 512) and np.isfinite(feats).all()
    np.testing.assert_allclose(enc.embed_images(np.zeros((1, 64, 70, 3)) + 128)[0],
                               enc.embed_images(np.zeros((2, 64, 70, 3)) + 128)[1], atol=1e-4)

    keras.utils.set_random_seed(3)
    resnet = keras.applications.ResNet50(weights=None, include_top=False, input_shape=(32, 32, 3))
    resnet.save_weights(tmp_path / "resnet50.weights.h5")
    enc = ev.ImagenetEncoder(tmp_path / "resnet50.weights.h5")  # "auto": found by trying
    assert enc.backbone == "resnet50" and enc.output_dim == 2048
    assert all(np.array_equal(a, b) for a, b in zip(resnet.get_weights(), enc.model.get_weights(),
                                                    strict=True))
    with pytest.raises(ModelError, match=r"holds no keras\.applications"):
        ev.ImagenetEncoder(tmp_path / "resnet50.weights.h5", backbone="vgg16")


def test_bad_weights_files_are_refused_clearly(tmp_path, capsys) -> None:
    with pytest.raises(ModelError, match=r"ImageNet weights file not found.*Nothing is downloaded"):
        VggTransfer(weights=tmp_path / "missing_notop.h5")
    (tmp_path / "notes.txt").write_text("not weights")
    with pytest.raises(ModelError, match="not a Keras weights file"):
        VggTransfer(weights=tmp_path / "notes.txt")
    (tmp_path / "garbage.h5").write_bytes(b"\x00" * 64)
    model = VggTransfer(weights=tmp_path / "garbage.h5")  # a readable name: checked when used
    with pytest.raises(ModelError, match=r"holds no keras\.applications VGG16 or ResNet50"):
        _ = model.encoder
    with pytest.raises(ParameterError, match="backbone"):
        VggTransfer(backbone="alexnet")
    with pytest.raises(ModelError, match="vgg family only"):
        make_model("mlp", weights=tmp_path / "garbage.h5")

    args = ["train", "--data", str(tmp_path), "--layout", "folders", "--out", str(tmp_path / "o")]
    assert main([*args, "--models", "mlp", "--weights", str(tmp_path / "garbage.h5")]) == 2
    assert "applies to the vgg family only" in capsys.readouterr().err
    assert main([*args, "--models", "vgg", "--weights", str(tmp_path / "nope.h5")]) == 1
    assert "ImageNet weights file not found" in capsys.readouterr().err


# --------------------------------------------------------------------------- the Train page


def test_train_page_offers_a_weights_field_for_vgg_only(train_page, tmp_path) -> None:
    app = train_page
    app.multiselect(key="train_models").set_value(["mlp"]).run()
    assert not [w for w in app.text_input if w.key == "train_vgg_weights"]
    app.text_input(key="train_data").set_value(str(tmp_path))
    app.multiselect(key="train_models").set_value(["vgg"]).run()
    app.text_input(key="train_vgg_weights").set_value(str(tmp_path / "missing_notop.h5")).run()
    next(b for b in app.button if b.label == "Start training").click().run()
    assert not app.exception
    assert any("ImageNet weights file not found" in e.value for e in app.error)
    assert "train_job" not in app.session_state or app.session_state["train_job"] is None


def test_training_job_passes_the_weights_to_vgg(dataset, vgg16_file, tmp_path) -> None:
    from dashboard.training import TrainingJob

    data, _ = dataset
    root = Path(data.manifest["path"].iloc[0]).parents[1]
    job = TrainingJob(data=str(root), layout="folders", families=["vgg"], split="random",
                      out=tmp_path / "set", weights=str(vgg16_file)).start()
    job._thread.join(timeout=120)
    assert job.error is None and job.results["vgg"].startswith("trained"), job.results
    config = read_metadata(tmp_path / "set" / "vgg")["config"]
    assert config["weights"] == str(vgg16_file.resolve()) and config["encoder"] == "imagenet-vgg16"
