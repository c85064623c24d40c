"""The ensemble learnt on validation tracks: calibration, stacking, the "uncertain" answer."""

from __future__ import annotations

import json
import logging
import re

import numpy as np
import pytest

from core.ensemble import (
    ENSEMBLE_FILE,
    Ensemble,
    combine_probabilities,
    fit_ensemble,
    fit_temperature,
    fit_weights,
    pool,
    uncertainty_threshold,
)
from core.errors import ModelError
from core.evaluation import (
    accuracy_interval,
    aggregate_tracks,
    calibrated_ece,
    expected_calibration_error,
)
from core.models.base import SegmentPrediction
from core.predict import Prediction, ensemble_probabilities


def softmax(z: np.ndarray) -> np.ndarray:
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def sample_world(n: int = 600, n_genres: int = 5, seed: int = 0):
    """A calibrated model (labels are drawn from its probabilities), a weak and a useless one."""
    rng = np.random.default_rng(seed)
    good = softmax(2.5 * rng.normal(size=(n, n_genres)))
    labels = np.array([rng.choice(n_genres, p=p) for p in good])
    weak = softmax(0.4 * np.log(good) + rng.normal(size=(n, n_genres)))
    noise = softmax(3 * rng.normal(size=(n, n_genres)))  # confident and useless
    return labels, {"good": good, "weak": weak, "noise": noise}


def accuracy(proba: np.ndarray, labels: np.ndarray) -> float:
    return float((proba.argmax(axis=1) == labels).mean())


def test_stacking_gives_a_useless_model_no_say_and_beats_the_geometric_mean():
    labels, probas = sample_world()
    stacked = np.stack(list(probas.values()))
    weights = fit_weights(stacked, labels)
    assert weights[0] > 0.5 and weights[2] < 0.1 * weights[0]  # good counts, noise does not
    test_labels, test = sample_world(seed=10)
    test_stacked = np.stack(list(test.values()))
    pooled = accuracy(pool(test_stacked, weights), test_labels)
    assert pooled >= accuracy(test["good"], test_labels) - 0.01  # never below the best member
    assert pooled > accuracy(combine_probabilities(test_stacked), test_labels) + 0.05


def test_temperature_scaling_undoes_overconfidence():
    labels, probas = sample_world()
    sharp = softmax(3.0 * np.log(probas["good"]))  # the same model, three times too confident
    assert fit_temperature(sharp, labels) == pytest.approx(3.0, rel=0.15)
    assert fit_temperature(probas["good"], labels) == pytest.approx(1.0, rel=0.15)
    rescaled = pool(sharp[None], np.array([1 / fit_temperature(sharp, labels)]))
    assert expected_calibration_error(rescaled, labels) < 0.5 * expected_calibration_error(sharp,
                                                                                          labels)


def test_expected_calibration_error_and_accuracy_interval():
    labels, probas = sample_world(n=3000)
    assert expected_calibration_error(probas["good"], labels) < 0.04
    assert expected_calibration_error(probas["noise"], labels) > 0.3
    certain_and_right = np.eye(3)[[0, 1, 2, 0]]
    assert expected_calibration_error(certain_and_right, np.array([0, 1, 2, 0])) == 0.0
    correct = np.r_[np.ones(70, bool), np.zeros(30, bool)]
    low, high = accuracy_interval(correct)
    assert low < 0.7 < high and 0.1 < high - low < 0.25
    low_many, high_many = accuracy_interval(np.tile(correct, 20))
    assert high_many - low_many < (high - low) / 3  # 20x the tracks, ~4.5x narrower
    # A handful of tracks all right (or all wrong) is not certainty
    np.testing.assert_allclose(accuracy_interval(np.ones(2, bool)), [0.342, 1.0], atol=1e-3)
    np.testing.assert_allclose(accuracy_interval(np.zeros(2, bool)), [0.0, 0.658], atol=1e-3)
    assert np.isnan(accuracy_interval(np.zeros(0, bool))).all()


def test_track_probabilities_are_the_mean_of_each_tracks_rows_in_any_order():
    rng = np.random.default_rng(3)
    owner = rng.choice(["b", "a", "c"], size=50)
    proba = rng.dirichlet(np.ones(4), size=50).astype(np.float32)
    tracks, track_proba = aggregate_tracks(proba, owner)
    assert list(tracks) == ["a", "b", "c"]
    for track, row in zip(tracks, track_proba, strict=True):
        np.testing.assert_allclose(row, proba[owner == track].astype(np.float64).mean(axis=0),
                                   rtol=1e-12)
    tracks, track_proba = aggregate_tracks(proba[:0], owner[:0])
    assert len(tracks) == 0 and track_proba.shape == (0, 4)


def test_calibrated_ece_is_what_a_perfectly_calibrated_model_measures():
    labels, probas = sample_world(n=130)
    good = probas["good"]  # calibrated by construction: labels are drawn from it
    # Its sample ECE is pure noise: at the simulated reference, not at 0.
    reference = calibrated_ece(good)
    assert 0.02 < reference["median"] < reference["p95"] < 0.2
    measured = []
    for seed in range(1, 6):  # other samples of 130 tracks from the same calibrated model
        other_labels, other = sample_world(n=130, seed=seed)
        measured.append(expected_calibration_error(other["good"], other_labels))
    assert 0.5 * reference["median"] < np.median(measured) < reference["p95"]
    # A confident useless model is far above its reference; more tracks, less noise.
    assert expected_calibration_error(probas["noise"], labels) > calibrated_ece(probas["noise"])["p95"]
    many_labels, many = sample_world(n=3000)
    assert calibrated_ece(many["good"])["median"] < reference["median"] / 3
    assert expected_calibration_error(many["good"], many_labels) < calibrated_ece(many["good"])["p95"]
    assert np.isnan(calibrated_ece(good[:0])["median"])


def test_uncertainty_threshold_separates_right_from_wrong():
    confidence = np.array([0.2, 0.3, 0.35, 0.6, 0.7, 0.9])
    correct = np.array([False, False, True, True, True, True])
    # Both wrong answers below, every right one above: half-way between 0.3 and 0.35.
    assert uncertainty_threshold(confidence, correct) == pytest.approx(0.325)
    # 0.3 right, 0.35 wrong: flagging 0.2 alone ties with flagging all three; the lower wins
    mixed = np.array([False, True, False, True, True, True])
    assert uncertainty_threshold(confidence, mixed) == pytest.approx(0.25)
    assert uncertainty_threshold(confidence, np.ones(6, bool)) == 0.0  # all right: never unsure
    assert uncertainty_threshold(confidence, np.zeros(6, bool)) > confidence.max()


def test_fitted_ensemble_round_trips_and_falls_back_without_a_member(tmp_path):
    labels, probas = sample_world(n=200)
    genres = [f"g{i}" for i in range(5)]
    ensemble = fit_ensemble(probas, labels, genres, fitted_on={"split": "test-world"})
    assert ensemble.method == "stacked" and ensemble.fitted_on["tracks"] == 200
    assert set(ensemble.temperatures) == set(probas)
    ensemble.save(tmp_path)
    loaded = Ensemble.load(tmp_path)
    assert loaded == ensemble
    one = {name: p[0] for name, p in probas.items()}
    combined, method = loaded.combine(one)
    assert method == "stacked"
    by_hand = softmax(sum(w * np.log(one[m]) for m, w in zip(ensemble.models, ensemble.weights,
                                                             strict=True)))
    np.testing.assert_allclose(combined, by_hand, rtol=1e-6)
    del one["noise"]
    combined, method = loaded.combine(one)  # a model missing (e.g. YAMNet unavailable)
    assert method == "geometric-mean"
    t = ensemble.temperatures
    by_hand = softmax(0.5 * (np.log(one["good"]) / t["good"] + np.log(one["weak"]) / t["weak"]))
    np.testing.assert_allclose(combined, by_hand, rtol=1e-6)  # calibrated, then geometric mean
    assert Ensemble.load(tmp_path / "nowhere") is None
    for broken in ({"format_version": 99}, [1, 2],
                   {**json.loads((tmp_path / ENSEMBLE_FILE).read_text()), "weights": [1, -1, 0]},
                   {**json.loads((tmp_path / ENSEMBLE_FILE).read_text()),
                    "temperatures": {"good": 0.0}}):
        (tmp_path / ENSEMBLE_FILE).write_text(json.dumps(broken))
        with pytest.raises(ModelError, match="not a usable ensemble"):
            Ensemble.load(tmp_path)
    with pytest.raises(ModelError, match="too few validation tracks"):
        fit_ensemble({k: v[:5] for k, v in probas.items()}, labels[:5], genres)


def test_prediction_says_uncertain_below_the_threshold():
    genres = ["pop", "rock", "jazz"]

    def answer(proba: list[float]) -> SegmentPrediction:
        return SegmentPrediction(genres, np.array(proba), np.array([proba]), np.zeros((1, 2)), 0.0)

    ensemble = Ensemble(["a", "b"], genres, [1.0, 1.0], {"a": 1.0, "b": 1.0}, 0.6)
    models = {"a": answer([0.45, 0.5, 0.05]), "b": answer([0.5, 0.4, 0.1])}
    shared, combined, method = ensemble_probabilities(models, ensemble)
    unsure = Prediction(3.0, models, {}, shared, combined, method, ensemble.threshold)
    assert unsure.uncertain and unsure.verdict in ("uncertain: closest to pop / rock",
                                                   "uncertain: closest to rock / pop")
    models = {"a": answer([0.05, 0.9, 0.05]), "b": answer([0.1, 0.8, 0.1])}
    shared, combined, method = ensemble_probabilities(models, ensemble)
    sure = Prediction(3.0, models, {}, shared, combined, method, ensemble.threshold)
    assert not sure.uncertain and sure.verdict == "rock"
    outside = Prediction(3.0, models, {}, shared, combined, method, ensemble.threshold,
                         ("Electronic music", 0.4))
    assert outside.uncertain and "Electronic music" in outside.verdict
    assert outside.to_dict("x.wav")["ensemble"]["outside_genre"] == "Electronic music"


def test_a_model_sets_ensemble_is_fitted_on_validation_and_judged_on_common_test_tracks():
    from core.models import MfccMlp
    from core.train import fit_model_set_ensemble

    genres = [f"g{i}" for i in range(5)]

    def tracks(labels: np.ndarray, proba: np.ndarray, prefix: str) -> list[dict]:
        return [{"track_id": f"{prefix}{i}", "path": f"/{prefix}/{i}.wav", "true": genres[y],
                 "proba": p.tolist()} for i, (y, p) in enumerate(zip(labels, proba, strict=True))]

    labels, valid = sample_world(n=300, seed=1)
    test_labels, test = sample_world(n=300, seed=2)
    models = {}
    for name in ("good", "weak", "noise"):
        model = MfccMlp()
        model.genres_ = list(genres)
        # the noise model was tested on one track fewer: only common tracks count
        model.metrics_ = {"validation_tracks": tracks(labels, valid[name], "v"),
                          "test_tracks": tracks(test_labels, test[name], "t")[name == "noise":]}
        models[name] = model
    ensemble = fit_model_set_ensemble(models, fitted_on={"split": "world"})
    assert ensemble.fitted_on["tracks"] == 300  # the validation tables, not the test ones
    m = ensemble.metrics
    assert m["track"]["n"] == 299 and m["members"]["good"]["n"] == 299
    assert m["best_member"] == "good"
    assert m["track"]["accuracy"] >= m["members"]["good"]["accuracy"] - 0.01
    assert m["track"]["ece"] < 0.08
    assert 0 <= m["uncertain_share"] < 1
    models["noise"].genres_ = list(reversed(genres))
    with pytest.raises(ModelError, match="different genres"):
        fit_model_set_ensemble(models)


def test_a_stale_ensemble_falls_back_to_the_geometric_mean(tmp_path):
    import shutil

    from core.predict import BUNDLED_MODELS, load_models

    shutil.copytree(BUNDLED_MODELS, tmp_path / "set")
    loaded = load_models(tmp_path / "set")
    assert loaded.ensemble is not None and "ensemble" not in loaded.errors
    assert set(loaded.ensemble.member_weights) == {"mlp", "cnn", "yamnet"}  # folders, each once
    assert "yamnet:zero-shot" in loaded.ensemble.models
    path = tmp_path / "set" / ENSEMBLE_FILE
    data = json.loads(path.read_text())
    data["member_weights"]["cnn"] = "0" * 64  # as if the mel-CNN had been retrained since
    path.write_text(json.dumps(data))
    loaded = load_models(tmp_path / "set")
    assert loaded.ensemble is None and "other versions of cnn" in loaded.errors["ensemble"]
    assert set(loaded.models) == {"mlp", "cnn", "yamnet"}
    data["member_weights"]["cnn"] = json.loads(
        (BUNDLED_MODELS / ENSEMBLE_FILE).read_text())["member_weights"]["cnn"]
    data["member_weights"]["yamnet"] = "0" * 64  # the folder its zero-shot member answers from
    path.write_text(json.dumps(data))
    loaded = load_models(tmp_path / "set")
    assert loaded.ensemble is None and "other versions of yamnet" in loaded.errors["ensemble"]
    # Nor do its saved test figures stand beside the retrained members on the leaderboard
    from core.leaderboard import leaderboard

    board = leaderboard([tmp_path / "set"])
    assert not any(row.get("family") == "ensemble" for row in board.rows), board.rows
    assert any("ensemble of set is left out" in note and "other versions of yamnet" in note
               for note in board.notes), board.notes



def test_a_zero_shot_member_is_pooled_from_its_models_zero_shot_answer():
    genres = ["pop", "rock", "jazz"]
    head = {"proba": [0.2, 0.5, 0.3], "zero_shot": [0.1, 0.2, 0.7]}

    def answer(proba: list[float], zero_shot: list[float] | None = None) -> SegmentPrediction:
        extras = {} if zero_shot is None else {"zero_shot": np.array(zero_shot)}
        return SegmentPrediction(genres, np.array(proba), np.array([proba]), np.zeros((1, 2)),
                                 0.0, extras)

    ensemble = Ensemble(["a", "b", "b:zero-shot"], genres, [0.5, 0.8, 1.2],
                        {"a": 1.0, "b": 1.0, "b:zero-shot": 2.0}, 0.4)
    assert ensemble.folders == ["a", "b"]
    models = {"a": answer([0.6, 0.3, 0.1]), "b": answer(head["proba"], head["zero_shot"])}
    shared, combined, method = ensemble_probabilities(models, ensemble)
    assert method == "stacked" and shared == genres
    by_hand = softmax(0.5 * np.log([0.6, 0.3, 0.1]) + 0.8 * np.log(head["proba"])
                      + 1.2 * np.log(head["zero_shot"]))
    np.testing.assert_allclose(combined, by_hand, rtol=1e-6)
    assert genres[int(np.argmax(combined))] == "jazz"  # the zero-shot answer carried the day
    # Genres in another order in one model: its answers are reordered, zero-shot included.
    flipped = ["jazz", "rock", "pop"]
    models["b"] = SegmentPrediction(flipped, np.array(head["proba"][::-1]),
                                    np.array([head["proba"][::-1]]), np.zeros((1, 2)), 0.0,
                                    {"zero_shot": np.array(head["zero_shot"][::-1])})
    np.testing.assert_allclose(ensemble_probabilities(models, ensemble)[1], by_hand, rtol=1e-6)
    # Without that answer (a model with no zero-shot classes) the fitted pool cannot be used.
    models["b"] = answer(head["proba"])
    _, fallback, method = ensemble_probabilities(models, ensemble)
    assert method == "geometric-mean"
    np.testing.assert_allclose(fallback, softmax(0.5 * (np.log([0.6, 0.3, 0.1])
                                                        + np.log(head["proba"]))), rtol=1e-6)


def test_a_yamnet_head_brings_its_zero_shot_answer_into_the_sets_ensemble(tmp_path):
    """On genres AudioSet has, a trained YAMNet head keeps its zero-shot answer on the
    validation and test tracks; the set's ensemble takes it as a member and predicts with it."""
    import warnings

    from core.datasets import load_dataset
    from core.models import YamnetEmbedding
    from core.predict import predict_waveform
    from core.splits import random_split
    from core.synth import genre_like, write
    from core.train import fit_model_set_ensemble, make_model, predict_tracks, track_tables

    for k, genre in enumerate(["classical", "jazz", "rock"]):
        for i in range(20):  # enough validation tracks (>= 10) to fit an ensemble on
            write(tmp_path / genre / f"{genre}{i}.wav", genre_like(2 * k, 3.0, seed=100 * k + i),
                  22050)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = load_dataset(tmp_path, "folders")
    split = random_split(data, test_size=0.2, valid_size=0.2, seed=0)
    models = {name: make_model(name, seed=0, epochs=2, members=1).fit(data, split)
              for name in ("mlp", "yamnet")}
    head = models["yamnet"]
    assert head.zero_shot_ready and not models["mlp"].zero_shot_ready
    tables = track_tables(models)
    assert set(tables) == {"mlp", "yamnet", "yamnet:zero-shot"}
    assert ([r["path"] for r in tables["yamnet:zero-shot"]]
            == [r["path"] for r in tables["yamnet"]])
    assert len(track_tables(models, "validation")["yamnet:zero-shot"]) == len(split.valid)
    zero = YamnetEmbedding.zero_shot(list(data.genres), handle=head.handle)
    np.testing.assert_allclose(  # the same answer a head-less zero-shot YAMNet gives
        [r["proba"] for r in tables["yamnet:zero-shot"]],
        [r["proba"] for r in predict_tracks(zero, data, split.test)], atol=1e-6)
    # What the ensemble was fitted on is what it gets when a file is uploaded.
    from core.audio import load_audio

    first = tables["yamnet:zero-shot"][0]
    uploaded = head.predict_segments(load_audio(first["path"], sr=22050), 22050)
    np.testing.assert_allclose(uploaded.extras["zero_shot"], first["proba"], atol=2e-3)
    ensemble = fit_model_set_ensemble(models)
    assert ensemble.models == ["mlp", "yamnet", "yamnet:zero-shot"]
    assert ensemble.folders == ["mlp", "yamnet"]
    assert "yamnet:zero-shot" in ensemble.metrics["members"]
    clip = genre_like(4, 6.0, seed=5)
    prediction = predict_waveform(models, clip, 22050, ensemble=ensemble)
    assert prediction.ensemble_method == "stacked"
    answers = [prediction.models["mlp"].proba, prediction.models["yamnet"].proba,
               prediction.models["yamnet"].extras["zero_shot"]]
    np.testing.assert_allclose(prediction.ensemble, pool(np.stack(answers),
                                                         np.array(ensemble.weights)), rtol=1e-5)


def test_a_zero_shot_answer_is_a_member_only_where_every_genre_has_a_class():
    from core.models import MelCnn, YamnetEmbedding

    gtzan = ["blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop",
             "reggae", "rock"]
    assert YamnetEmbedding.zero_shot(gtzan).zero_shot_ready  # AudioSet has all ten
    assert not MelCnn.zero_shot(gtzan).zero_shot_ready  # musicnn's MSD tags have no reggae
    assert MelCnn.zero_shot(["jazz", "rock"]).zero_shot_ready
    assert not YamnetEmbedding.zero_shot(["rock", "shoegaze"]).zero_shot_ready


def test_predict_names_the_bundled_ensembles_zero_shot_member(tmp_path, capsys, caplog):
    from core.cli import main
    from core.synth import genre_like, write

    clip = write(tmp_path / "song.wav", genre_like(3, 6.0, seed=4), 22050)
    assert main(["-q", "predict", str(clip)]) == 0
    # TensorFlow's own notes (such as its retracing warning) are kept for -v.
    logging.getLogger("tensorflow").warning("triggered tf.function retracing")
    assert "retracing" not in caplog.text
    line = capsys.readouterr().out.strip()
    zero = re.search(r"yamnet:zero-shot=(\w+) \((0\.\d\d|1\.00)\)", line)
    assert zero and " | ensemble=" in line, line
    assert main(["-q", "predict", "--format", "json", str(clip)]) == 0
    answer = json.loads(capsys.readouterr().out)["models"]["yamnet"]["zero_shot"]
    assert zero.group(1) == answer["genre"]


def test_predict_says_when_a_file_ends_before_its_header_says(tmp_path, capsys):
    from core.cli import main
    from core.synth import genre_like, write

    full = write(tmp_path / "song.wav", genre_like(6, 12.0, seed=2), 22050)
    cut = tmp_path / "cut.wav"
    cut.write_bytes(full.read_bytes()[:full.stat().st_size // 2])
    assert main(["-q", "predict", "--format", "json", str(full), str(cut)]) == 0
    captured = capsys.readouterr()
    whole, part = json.loads(captured.out)
    assert whole["notes"] == [] and abs(whole["duration_s"] - 12.0) < 0.01
    assert abs(part["duration_s"] - 6.0) < 0.01 and part["ensemble"]["verdict"]
    assert part["notes"] == ["cut.wav: only 6.0 s of the 12.0 s its header declares could be "
                             "decoded (a truncated file?); what decodes is used."]
    assert f"warning: {part['notes'][0]}" in captured.err
    assert "song.wav: only" not in captured.err


def test_zero_shot_knows_common_spellings_of_a_genre():
    from core.models.head import genre_key
    from core.models.yamnet import genre_class_map, shipped_class_names

    assert genre_key("Drum & Bass") == genre_key("Drum and bass") == "drumandbass"
    assert genre_key("Música Latina") == "musicalatina" and genre_key("Hip hop music") == "hiphop"
    names = shipped_class_names()
    mapped = {g: [names[i] for i in ids] for g, ids in genre_class_map(
        ["Drum & Bass", "R&B", "EDM", "Música Latina", "hip-hop", "Shoegaze"], names).items()}
    assert mapped["Drum & Bass"] == ["Drum and bass"] and "Rhythm and blues" in mapped["R&B"]
    assert "Electronic dance music" in mapped["EDM"]
    assert "Music of Latin America" in mapped["Música Latina"]
    assert mapped["hip-hop"] == ["Hip hop music"] and mapped["Shoegaze"] == []
