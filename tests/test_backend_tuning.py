"""Fine-tuning musicnn's back-end (core.models.backend_tuning, ``MelCnn(fine_tune=True)``)."""

from __future__ import annotations

import numpy as np
import pytest

from core.encoders.musicnn import PATCH_FRAMES, load_musicnn, musicnn_logmel, musicnn_patches
from core.errors import ModelError
from core.models import MelCnn
from core.models.backend_tuning import backend_weights, build_backend_head, fold_corrections
from core.registry import load_model, read_metadata
from core.synth import genre_like

SR = 22050


@pytest.fixture(scope="module")
def pools_and_outputs():
    """musicnn's outputs for a few patches of synthetic audio."""
    y = np.concatenate([genre_like(k, 3.0, seed=k, sr=16000) for k in range(3)])
    patches = musicnn_patches(musicnn_logmel(y))
    assert patches.shape[1] == PATCH_FRAMES and len(patches) >= 3
    return load_musicnn("msd").predict_patches(patches)


def test_the_backend_network_starts_as_musicnns_own_back_end(pools_and_outputs):
    out = pools_and_outputs
    weights = backend_weights(load_musicnn("msd").model)
    network = build_backend_head(weights, 4, l2=0.03, anchor_l2=0.01, anchored=True)
    import keras

    embedding = keras.Model(network.input, network.get_layer("embedding").output)
    pools = np.hstack([out["max_pool"], out["mean_pool"]])
    got = np.asarray(embedding(pools, training=False))
    # The same penultimate embedding and tags as the whole encoder gives: the interleaving of
    # max and mean pools and every pretrained weight are where musicnn has them.
    np.testing.assert_allclose(got[:, :200], out["penultimate"], rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(got[:, 200:], out["tags"], rtol=1e-5, atol=1e-5)


def test_folding_the_corrections_gives_the_same_network(pools_and_outputs):
    out = pools_and_outputs
    weights = backend_weights(load_musicnn("msd").model)
    anchored = build_backend_head(weights, 3, l2=0.03, anchor_l2=0.01, anchored=True)
    rng = np.random.default_rng(0)
    for layer in anchored.layers:
        if layer.name.endswith("_correction") or layer.name == "genre":
            layer.set_weights([rng.normal(0, 0.01, w.shape).astype(np.float32)
                               for w in layer.get_weights()])
    normalize = anchored.get_layer("normalize")
    normalize.adapt(rng.normal(size=(16, 250)).astype(np.float32))
    pools = np.hstack([out["max_pool"], out["mean_pool"]])
    plain = fold_corrections(anchored, weights, 3, l2=0.03, dropout=0.5)
    assert not any(layer.name.endswith("_correction") for layer in plain.layers)
    expected = np.asarray(anchored(pools, training=False))
    np.testing.assert_allclose(np.asarray(plain(pools, training=False)), expected, atol=1e-5)
    assert not np.allclose(expected, expected[:1])  # the inputs differ, so must the outputs


def test_fine_tune_needs_the_pretrained_encoder():
    with pytest.raises(ModelError, match="pretrained"):
        MelCnn(encoder=None, fine_tune=True)


def test_a_fine_tuned_head_trains_moves_from_musicnn_saves_and_reloads(tiny, tmp_path):
    data, split = tiny
    model = MelCnn(fine_tune=True, epochs=60, patience=2, members=2, learning_rate=1e-3).fit(
        data, split)
    assert model.members == 2 and model.refit is False  # fine-tuning keeps early-stopped networks
    # Early stopping on validation cross-entropy ended the run and kept its best epoch.
    val_loss = model.history_["val_loss"]
    assert len(val_loss) < 60 and model.info_["best_epochs"] == int(np.argmin(val_loss)) + 1
    assert model.metrics_["track"]["n"] == len(split.test)
    # The back-end moved from the pretrained weights (it trained), and each member is the plain,
    # folded network: musicnn's back-end shape plus a genre layer, no correction layers.
    pretrained = backend_weights(load_musicnn("msd").model)["penultimate_dense"][0]
    member = model.model_.get_layer("member_0")
    tuned = member.get_layer("penultimate_dense").get_weights()[0]
    assert tuned.shape == pretrained.shape and not np.allclose(tuned, pretrained)
    assert not any(layer.name.endswith("_correction") for layer in member.layers)

    y = genre_like(2, 7.0, seed=99)
    before = model.predict_segments(y, SR)
    assert before.segment_proba.shape == (2, 3)
    assert before.extras["heard"] and len(before.extras["heard"]) == 5  # tags still read out
    model.save(tmp_path / "cnn")
    config = read_metadata(tmp_path / "cnn")["config"]
    assert config["fine_tune"] is True and config["embedding"][-2:] == ["max_pool", "mean_pool"]
    loaded = load_model(tmp_path / "cnn")
    assert isinstance(loaded, MelCnn) and loaded.fine_tune
    np.testing.assert_allclose(loaded.predict_segments(y, SR).segment_proba, before.segment_proba,
                               atol=1e-6)
    # Same seed, same data: the same network (deterministic ops, seeded shuffling).
    again = MelCnn(fine_tune=True, epochs=60, patience=2, members=2, learning_rate=1e-3).fit(
        data, split)
    np.testing.assert_allclose(again.predict_segments(y, SR).segment_proba,
                               before.segment_proba, atol=1e-5)


def test_fine_tuning_starts_where_the_linear_probe_ends(tiny):
    from core.models.backend_tuning import starting_network
    from core.models.head import train_linear_probe

    data, split = tiny
    tuned, probe = MelCnn(fine_tune=True), MelCnn(l2=0.03, l2_grid=())
    rows = tuned.featurize_dataset(data, cache=None, n_jobs=1, progress=False)
    labels = data.labels[rows.track]
    train = np.isin(rows.track, split.train)
    start = starting_network(backend_weights(load_musicnn("msd").model),
                             tuned.network_inputs(rows.X[train]), labels[train], 3, l2=0.03,
                             anchor_l2=0.01, dropout=0.5)
    # The probe MelCnn trains, solved on the same training rows (its first 250 columns).
    network, _, _ = train_linear_probe(probe, rows.X[:, :250], labels, train, 3, {"l2": 0.03},
                                       l2=0.03)
    expected = np.asarray(network(rows.X[:, :250], training=False))
    got = np.asarray(start(tuned.network_inputs(rows.X), training=False))
    np.testing.assert_allclose(got, expected, atol=2e-4)


def test_fine_tuning_is_asked_for_the_cnn_only(tmp_path, capsys):
    from core.cli import EXIT_USAGE, main
    from core.train import make_model

    assert make_model("cnn", fine_tune=True).fine_tune
    with pytest.raises(ModelError, match="cnn family only"):
        make_model("mlp", fine_tune=True)
    code = main(["train", "--data", str(tmp_path), "--layout", "folders", "--models", "mlp",
                 "--fine-tune", "--out", str(tmp_path / "out")])
    assert code == EXIT_USAGE  # arguments that cannot go together
    assert "--fine-tune (musicnn's back-end) applies to the cnn family only" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_train_page_offers_fine_tuning_when_the_cnn_is_picked(train_page, tmp_path):
    from tests.conftest import start_on_an_empty_folder

    app = train_page
    app.multiselect(key="train_models").set_value(["mlp"]).run()
    assert not [c for c in app.checkbox if c.key == "train_fine_tune"]
    app.multiselect(key="train_models").set_value(["cnn"]).run()
    app.checkbox(key="train_fine_tune").check().run()
    job = start_on_an_empty_folder(app, tmp_path / "empty-collection")
    assert job.fine_tune is True and job.families == ["cnn"]
