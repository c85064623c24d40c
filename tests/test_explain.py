"""Explanations: exact ensemble contributions, feature groups, occlusion regions."""

from __future__ import annotations

import numpy as np
import pytest

from core.ensemble import Ensemble, pool
from core.explain import FEATURE_GROUPS, _columns, explain_ensemble
from core.models.base import SegmentPrediction
from core.predict import Prediction


def _prediction(probas: dict[str, list[float]], ensemble: Ensemble) -> Prediction:
    genres = ensemble.genres
    models = {n: SegmentPrediction(genres, np.array(p), np.array([p]), np.array([[0.0, 3.0]]), 0.0)
              for n, p in probas.items()}
    combined, method = ensemble.combine({n: np.array(p) for n, p in probas.items()})
    return Prediction(3.0, models, {}, genres, combined, method)


def test_ensemble_contributions_add_up_to_its_log_odds_and_explain_a_genre_no_model_chose():
    genres = ["rock", "pop", "metal"]
    ensemble = Ensemble(["cnn", "mlp"], genres, [0.9, 0.6], {"cnn": 1.0, "mlp": 1.0})
    # cnn prefers metal, mlp prefers pop; both rate rock a close second
    probas = {"cnn": [0.42, 0.10, 0.48], "mlp": [0.40, 0.45, 0.15]}
    prediction = _prediction(probas, ensemble)
    assert prediction.ensemble_genre == "rock" and {p.genre for p in prediction.models.values()} \
        == {"metal", "pop"}
    explanation = explain_ensemble(prediction, ensemble)
    assert explanation is not None and explanation.genre == "rock"
    combined = pool(np.stack([np.array(probas[m]) for m in ensemble.models]),
                    np.array(ensemble.weights))
    runner_up = int(np.argsort(combined)[::-1][1])
    total = sum(i["contribution"] for i in explanation.items)
    assert total == pytest.approx(np.log(combined[0] / combined[runner_up]), rel=1e-6)
    assert "No single model chose rock" in explanation.summary
    assert explanation.items[0]["runner_up"] == genres[runner_up]


def test_feature_groups_cover_all_57_summary_columns_once():
    columns = [c for _, prefixes, _, _ in FEATURE_GROUPS for c in _columns(prefixes)]
    assert sorted(columns) == list(range(57))


def test_a_zero_shot_member_has_its_own_name_colour_and_push():
    """The ensemble's explanation counts a zero-shot member's push, under a name of its own."""
    from core.predict import ensemble_probabilities
    from dashboard.palette import colour, display_name, readable

    genres = ["pop", "rock", "jazz"]
    models = {"cnn": SegmentPrediction(genres, np.array([0.3, 0.5, 0.2]),
                                       np.array([[0.3, 0.5, 0.2]]), np.zeros((1, 2)), 0.0),
              "yamnet": SegmentPrediction(genres, np.array([0.4, 0.4, 0.2]),
                                          np.array([[0.4, 0.4, 0.2]]), np.zeros((1, 2)), 0.0,
                                          {"zero_shot": np.array([0.1, 0.2, 0.7])})}
    ensemble = Ensemble(["cnn", "yamnet", "yamnet:zero-shot"], genres, [1.0, 0.5, 1.5],
                        {"cnn": 1.0, "yamnet": 1.0, "yamnet:zero-shot": 1.0}, 0.0)
    shared, combined, method = ensemble_probabilities(models, ensemble)
    explained = explain_ensemble(Prediction(3.0, models, {}, shared, combined, method, 0.0),
                                 ensemble)
    pushes = {i["model"]: i for i in explained.items}
    assert explained.genre == "jazz" and set(pushes) == {"cnn", "yamnet", "yamnet:zero-shot"}
    assert pushes["yamnet:zero-shot"]["chose"] == "jazz"
    assert pushes["yamnet:zero-shot"]["contribution"] == pytest.approx(1.5 * np.log(0.7 / 0.2))
    assert sum(i["contribution"] for i in explained.items) == pytest.approx(
        np.log(combined[2] / combined[1]))  # the pool's log-odds, exactly
    assert display_name("yamnet:zero-shot") == "YAMNet zero-shot"
    assert display_name("run-1/yamnet:zero-shot") == "YAMNet zero-shot (run-1)"
    assert colour("yamnet:zero-shot") not in (colour("yamnet"), colour("cnn"))
    # The pages pass their model folders: the zero-shot member is named all the same.
    text = readable(explained.summary, models)
    assert text.count("YAMNet zero-shot (+") == 1 and ":zero-shot" not in text
    # With the mel-CNN missing, the fallback and its explanation use the same answers: the
    # heads present (one vote for YAMNet, not two), and the pushes add up to its log-odds.
    del models["cnn"]
    shared, combined, method = ensemble_probabilities(models, ensemble)
    assert method == "geometric-mean"
    np.testing.assert_allclose(combined, ensemble.calibrate("yamnet", np.array([0.4, 0.4, 0.2])))
    explained = explain_ensemble(Prediction(3.0, models, {}, shared, combined, method, 0.0),
                                 ensemble)
    assert [i["model"] for i in explained.items] == ["yamnet"]
    order = np.argsort(combined)[::-1]
    assert sum(i["contribution"] for i in explained.items) == pytest.approx(
        np.log(combined[order[0]] / combined[order[1]]))


def test_regions_of_a_clip_shorter_than_a_patch_lie_within_it():
    """musicnn repeat-pads a short clip to one 3-s patch: no region may point past its end."""
    from core.explain import explain_cnn
    from core.predict import BUNDLED_MODELS
    from core.registry import load_model
    from core.synth import genre_like

    model = load_model(BUNDLED_MODELS / "cnn")
    y = genre_like(2, 0.6, seed=3)
    explained = explain_cnn(model, y, 22050)
    assert explained.items, explained.summary
    assert all(0 <= i["start_s"] < i["end_s"] <= 0.6 + 1e-9 for i in explained.items)
    assert "2.5-3.0 s" not in explained.summary
