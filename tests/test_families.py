"""The contract, over every entry of ``core.models.FAMILIES``: fit, predict, save, load, refuse.

Each family is trained once (module fixture) on a tiny synthetic dataset with its quickest
settings (``make_model(..., epochs=2, members=1)``: the same constructor the ``train`` CLI and
the Train page use), then checked the same way. A family joins these tests by being registered;
one that needs an asset that is absent (its ``required_assets``) or an optional package that is
not installed is skipped with the reason.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from core.datasets import load_dataset
from core.errors import GenreLabError, ModelError
from core.models import FAMILIES
from core.registry import load_model, read_metadata, weights_name
from core.splits import make_split
from core.synth import genre_like, write
from core.train import make_model

SR = 22050
GENRES = ["high", "low", "mid"]  # sorted, as every loader orders genres


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    return genre_like(2, 7.0, seed=99)  # 7 s: two 3-s windows (a 1-s tail is dropped)


@pytest.fixture(scope="module")
def quick_fit(tiny):
    """``quick_fit(family)``: that family fitted on the tiny set (once per module)."""
    fitted: dict[str, object] = {}

    def fit(family: str):
        if family not in fitted:
            missing = [p for p in getattr(FAMILIES[family], "required_assets", ())
                       if not Path(p).exists()]
            if missing:
                pytest.skip(f"{family} needs {', '.join(map(str, missing))}")
            try:
                fitted[family] = make_model(family, seed=0, epochs=2, members=1).fit(*tiny)
            except ModuleNotFoundError as exc:  # an optional package of that family
                pytest.skip(f"{family} needs the {exc.name} package")
        return fitted[family]

    return fit


@pytest.fixture(scope="module", params=list(FAMILIES))
def fitted(request, quick_fit, tmp_path_factory):
    """``(family, model fitted on the tiny set, its saved folder)``."""
    family = request.param
    model = quick_fit(family)
    folder = tmp_path_factory.mktemp("saved") / family
    model.save(folder)
    return family, model, folder


def test_fit_evaluates_on_held_out_tracks(fitted, tiny):
    family, model, _ = fitted
    _, split = tiny
    assert model.family == family and model.genres_ == GENRES
    track = model.metrics_["track"]
    assert track["n"] == len(split.test)
    assert np.array(track["confusion"]).sum() == track["n"]
    assert 0.0 <= track["accuracy"] <= 1.0
    assert model.info_["parameters"] > 0 and model.history_["loss"]
    assert len(model.metrics_["validation_tracks"]) == len(split.valid)
    # No encoder class is named like these genres: no zero-shot answer joins an ensemble.
    assert not model.zero_shot_ready and "zero_shot_test_tracks" not in model.metrics_


def test_predictions_are_probabilities_by_segment(fitted, clip):
    _, model, _ = fitted
    pred = model.predict_segments(clip, SR)
    assert pred.proba.shape == (len(GENRES),)
    assert pred.segment_proba.shape == (len(pred.segment_times), len(GENRES))
    np.testing.assert_allclose(pred.segment_proba.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(pred.proba, pred.segment_proba.mean(axis=0))  # the track rule
    np.testing.assert_allclose(model.predict_proba(clip, SR), pred.proba, atol=1e-6)
    assert pred.segment_times[-1, 1] <= 7.0 + 1e-6


def test_saved_model_loads_and_predicts_the_same(fitted, clip):
    family, model, folder = fitted
    meta = read_metadata(folder)
    assert meta["family"] == family and meta["genres"] == GENRES
    assert (folder / weights_name(type(model))).is_file()
    saved = json.loads((folder / "metrics.json").read_text())
    assert saved["metrics"]["track"]["accuracy"] == pytest.approx(model.metrics_["track"]["accuracy"])
    loaded = load_model(folder)
    assert type(loaded) is type(model)
    np.testing.assert_allclose(loaded.predict_proba(clip, SR), model.predict_proba(clip, SR),
                               rtol=1e-5, atol=1e-7)


def test_loading_refuses_another_family(fitted):
    family, _, folder = fitted
    other = next(cls for name, cls in FAMILIES.items() if name != family)
    with pytest.raises(ModelError, match=f"holds a {family} model"):
        other.load(folder)


def test_loading_refuses_corrupt_weights(fitted, tmp_path):
    _, model, folder = fitted
    copy = tmp_path / "copy"
    copy.mkdir()
    for f in folder.iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    weights = copy / weights_name(type(model))
    weights.write_bytes(weights.read_bytes()[:-7] + b"garbage")
    with pytest.raises(ModelError, match="checksum"):
        load_model(copy)
    weights.unlink()
    with pytest.raises(ModelError, match="missing"):
        load_model(copy)


def test_loading_refuses_other_genres(fitted, tmp_path):
    _, _, folder = fitted
    copy = tmp_path / "copy"
    copy.mkdir()
    for f in folder.iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    meta = json.loads((copy / "metadata.json").read_text())
    meta["genres"] = ["a", "b"]  # the network answers three
    (copy / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="3 outputs for 2 genres"):
        load_model(copy)


@pytest.mark.parametrize("bad", [np.zeros(0, np.float32), np.full(SR, np.nan, np.float32)],
                         ids=["empty", "nan"])
def test_bad_audio_is_a_clear_error(fitted, bad):
    _, model, _ = fitted
    with pytest.raises(GenreLabError):
        model.predict_segments(bad, SR)


# ----------------------------------------------------------------- the families of issue #14
def test_logreg_is_sklearns_logistic_regression_with_C_chosen_on_validation(tiny):
    from sklearn.linear_model import LogisticRegression

    from core.models import SummaryLogReg
    from core.models.logreg import C_GRID
    from core.models.mlp import log_variances

    data, split = tiny
    model = SummaryLogReg(level_augment_db=0.0, refit=False).fit(data, split)
    assert model.C in C_GRID and model.info_["chosen"] == {"C": model.C}
    rows = model.featurize_dataset(data, cache=None, n_jobs=1, progress=False)
    train = np.isin(rows.track, split.train)
    X = log_variances(rows.X)
    mean, std = X[train].mean(axis=0), X[train].std(axis=0)
    reference = LogisticRegression(C=model.C, max_iter=5000, tol=1e-8).fit(
        (X[train] - mean) / std, data.labels[rows.track[train]])
    np.testing.assert_allclose(model.predict_rows(rows.X), reference.predict_proba((X - mean) / std),
                               atol=2e-3)
    # The chosen C is the one with the lowest validation loss of the grid, each C fitted alone.
    losses = {c: SummaryLogReg(level_augment_db=0.0, refit=False, C=c, C_grid=()).fit(
        data, split).history_["val_loss"][-1] for c in C_GRID}
    assert min(losses, key=losses.get) == model.C


def test_level_copies_keep_the_rows_and_add_louder_and_quieter_ones():
    from core.features import SUMMARY_COLUMNS
    from core.models.summary_family import level_copies

    rng = np.random.default_rng(0)
    X = rng.normal(size=(5, len(SUMMARY_COLUMNS))).astype(np.float32)
    labels = np.arange(5)
    Xc, yc = level_copies(X, labels, gain_db=20.0, copies=2, seed=1)
    assert Xc.shape == (15, X.shape[1]) and list(yc) == list(labels) * 3
    np.testing.assert_array_equal(Xc[:5], X)
    rms = SUMMARY_COLUMNS.index("rms_mean")
    gain_db = 20 * np.log10(Xc[5:, rms] / np.tile(X[:, rms], 2))
    assert np.all(np.abs(gain_db) <= 20.0 + 1e-4) and np.ptp(gain_db) > 1.0
    chroma = SUMMARY_COLUMNS.index("chroma_stft_mean")  # does not follow the level
    np.testing.assert_allclose(Xc[5:, chroma], np.tile(X[:, chroma], 2), rtol=1e-6)
    same, _ = level_copies(X, labels, gain_db=0.0, copies=2, seed=1)
    np.testing.assert_array_equal(same, X)


def test_boosting_stops_early_counts_its_nodes_and_saves_lightgbm_text(tmp_path):
    pytest.importorskip("lightgbm")
    from core.models import SummaryBoosting

    for i in range(8):  # "a" and "b" are the same kind of sound: trees can only overfit them
        for genre, kind in (("a", 0), ("b", 0), ("c", 4)):
            write(tmp_path / "d" / genre / f"{genre}{i}.wav",
                  genre_like(kind, 3.0, seed=100 * kind + 10 * ord(genre) + i), SR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = load_dataset(tmp_path / "d", "folders")
    split = make_split(data, "random", seed=0)
    model = SummaryBoosting(epochs=300, patience=10, members=2, threads=1).fit(data, split)
    history = model.history_
    assert model.info_["best_epochs"] == int(np.argmin(history["val_loss"])) + 1
    assert len(history["val_loss"]) == model.info_["best_epochs"] + 10 < 300
    boosters = model.model_.boosters
    assert len(boosters) == 2
    assert all(b.current_iteration() == model.info_["best_epochs"] for b in boosters)  # refit
    nodes = sum(2 * t["num_leaves"] - 1 for b in boosters for t in b.dump_model()["tree_info"])
    assert model.info_["parameters"] == nodes
    model.save(tmp_path / "b")
    doc = json.loads((tmp_path / "b" / "model.lightgbm.json").read_text())
    assert len(doc["boosters"]) == 2 and doc["boosters"][0].startswith("tree\n")
    assert not (tmp_path / "b" / "model.keras").exists()
    rows = model.featurize_dataset(data, cache=None, n_jobs=1, progress=False)
    proba = model.predict_rows(rows.X)
    np.testing.assert_allclose(proba, np.mean([b.predict(model.network_inputs(rows.X))
                                               for b in boosters], axis=0))
    np.testing.assert_allclose(load_model(tmp_path / "b").predict_rows(rows.X), proba)


def test_a_valid_checksum_does_not_make_a_bad_tree_file_loadable(tiny, tmp_path):
    pytest.importorskip("lightgbm")
    from core.atomic import file_sha256
    from core.models import SummaryBoosting

    data, split = tiny
    SummaryBoosting(epochs=20, patience=5, threads=1).fit(data, split).save(tmp_path / "b")
    weights = tmp_path / "b" / "model.lightgbm.json"
    weights.write_text(json.dumps({"format": "genrelab-lightgbm-1", "n_classes": 3,
                                   "boosters": ["not a model"]}))
    meta = json.loads((tmp_path / "b" / "metadata.json").read_text())
    meta["weights_sha256"] = file_sha256(weights)
    (tmp_path / "b" / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match=r"cannot load model\.lightgbm\.json"):
        load_model(tmp_path / "b")


@pytest.mark.parametrize("family", ["lstm", "mfcc-cnn"])
def test_mfcc_networks_read_20_mfccs_of_3s_windows_whatever_the_level(family, quick_fit):
    model = quick_fit(family)
    params = model.params
    assert (params.kind, params.n_mfcc, params.hop_length, params.segment_seconds) == \
        ("mfcc", 20, 512, 3.0)
    y = genre_like(0, 8.0, seed=5)  # two windows and one aligned to the end
    X, times = model.featurize_waveform(y, SR)
    assert X.shape[1:3] == (20, 130) and len(X) == len(times) == 3
    quiet = y * 10 ** (-14 / 20)  # the same music, 14 dB quieter: each window is peak-normalised
    np.testing.assert_allclose(model.predict_proba(quiet, SR), model.predict_proba(y, SR),
                               atol=1e-4)
    # Another MFCC count is another cache entry.
    assert type(model)(n_mfcc=13).params.cache_key() != params.cache_key()


def test_mfcc_network_sizes_suit_a_cpu():
    from core.models import build_lstm, build_mfcc_cnn

    assert 40_000 < build_lstm((20, 130), 10).count_params() < 150_000
    assert 40_000 < build_mfcc_cnn((20, 130, 1), 10).count_params() < 150_000


def test_cli_trains_the_new_families_into_one_set(tiny, tmp_path, capsys):
    from core.cli import main

    data, _ = tiny
    root = Path(data.manifest["path"].iloc[0]).parents[1]
    out = tmp_path / "set"
    assert main(["-q", "train", "--data", str(root), "--layout", "folders", "--models",
                 "logreg,boosting,mfcc-cnn", "--epochs", "2", "--members", "1", "--jobs", "1",
                 "--no-cache", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    for family in ("logreg", "boosting", "mfcc-cnn"):
        assert read_metadata(out / family)["family"] == family
        assert f"{FAMILIES[family].display_name} -> {out / family}: segment: acc" in printed


@pytest.mark.shared
@pytest.mark.parametrize("family", ["logreg", "boosting"])
def test_summary_families_train_on_the_feature_table(family, shared_dir):
    table = load_dataset(shared_dir / "data/gtzan/features_30_sec.csv", "features-csv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        split = make_split(table, "fault-filtered")
    model = make_model(family).fit(table, split)
    assert model.segment_seconds == 30.0  # read from the table's length column, as the MLP does
    assert model.metrics_["track"]["n"] == 290
    assert model.metrics_["track"]["accuracy"] > 0.35  # chance is 0.1


def test_train_page_offers_every_family_and_says_which_need_audio(train_page, tmp_path):
    from dashboard.palette import display_name

    app = train_page
    models = app.multiselect(key="train_models")
    assert list(models.options) == [display_name(f) for f in FAMILIES]
    assert all(display_name(f) != f for f in FAMILIES)  # every family has a display name
    table = tmp_path / "features_30_sec.csv"
    table.write_text("filename,label\n")
    app.text_input(key="train_data").set_value(str(table))
    app.selectbox(key="train_layout").set_value("features-csv")
    models.set_value(["logreg", "boosting", "lstm"])
    next(b for b in app.button if b.label == "Start training").click().run()
    assert not app.exception
    message = " ".join(e.value for e in app.error)
    assert "Remove MFCC-LSTM," in message
    assert "only MFCC-MLP, Logistic regression, Boosted trees can train on it" in message
    assert "train_job" not in app.session_state
