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
