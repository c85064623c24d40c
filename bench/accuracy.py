"""How good: each model family beside plain baselines on the same data and folds.

1. GTZAN feature table (57 features, 1000 tracks): logistic regression vs MFCC-MLP on a random
   10-fold split by track, and on the fault-filtered test split.
2. GTZAN excerpts (400, in ../shared), 5-fold grouped by track (each excerpt is its own track,
   as in the published baselines) and, stricter, by artist: logistic regression on summary
   features and on YAMNet embeddings (int8 .tflite), YAMNet zero-shot, the YAMNet head, the
   mel-CNN, the MFCC-MLP on excerpt features, and the ensemble (mean of the three trained models).
Accuracy is track level. Needs ../shared. Usage: python -m bench.accuracy [--folds N]
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from bench.common import SHARED, header, save
from core.cache import FeatureCache
from core.datasets import load_dataset
from core.evaluation import aggregate_tracks
from core.models import MelCnn, MfccMlp, YamnetEmbedding
from core.models.mlp import log_variances
from core.splits import Split, group_kfold, make_split

TFLITE = SHARED / "models/yamnet-int8-embeddings.tflite"


def logistic(X: np.ndarray, y: np.ndarray, split: Split) -> float:
    train = np.concatenate([split.train, split.valid])
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    model.fit(X[train], y[train])
    return float(model.score(X[split.test], y[split.test]))


def feature_table(folds: int) -> dict[str, float]:
    table = load_dataset(SHARED / "data/gtzan/features_30_sec.csv", "features-csv")
    y = table.labels
    by_track = table.subset(np.arange(len(y)))
    by_track.manifest["group"] = by_track.manifest["track_id"]  # random by track, as published
    out: dict[str, list[float]] = {"lr_random10": [], "mlp_random10": []}
    for split in group_kfold(by_track, n_splits=10)[:folds]:
        out["lr_random10"].append(logistic(table.features, y, split))
        mlp = MfccMlp(seed=0).fit(by_track, split)
        out["mlp_random10"].append(mlp.metrics_["track"]["accuracy"])
    fault = make_split(table, "fault-filtered")
    result = {k: float(np.mean(v)) for k, v in out.items()}
    result["lr_fault_filtered"] = logistic(table.features, y, fault)
    result["mlp_fault_filtered"] = MfccMlp(seed=0).fit(table, fault).metrics_["track"]["accuracy"]
    return result


def excerpts(folds: int, grouping: str) -> dict[str, float]:
    data = load_dataset(SHARED / "data/gtzan/excerpts", "gtzan")
    if grouping == "track":  # each excerpt is its own track: the "grouped 5-fold"
        data.manifest["group"] = data.manifest["track_id"]
    cache = FeatureCache()
    y = data.labels
    yam = YamnetEmbedding(handle=str(TFLITE))
    emb = yam.featurize_dataset(data, cache=cache, n_jobs=1, progress=False)
    _, E = aggregate_tracks(emb.X[:, :1024], emb.track)
    mlp_rows = MfccMlp(segment_seconds=3.0).featurize_dataset(data, cache=cache, n_jobs=0,
                                                              progress=False)
    _, S = aggregate_tracks(log_variances(mlp_rows.X), mlp_rows.track)
    zero = YamnetEmbedding.zero_shot(list(data.genres), handle=str(TFLITE))
    scores: dict[str, list[float]] = {k: [] for k in (
        "lr_summary", "lr_yamnet", "yamnet_zero_shot", "yamnet_head", "mel_cnn", "mlp",
        "ensemble")}
    for split in group_kfold(data, n_splits=5)[:folds]:
        scores["lr_summary"].append(logistic(S, y, split))
        scores["lr_yamnet"].append(logistic(E, y, split))
        scores["yamnet_zero_shot"].append(
            zero.evaluate_zero_shot(data, split, cache=cache)["track"]["accuracy"])
        test = data.subset(split.test)
        probas = []
        for name, model in (("yamnet_head", YamnetEmbedding(handle=str(TFLITE))),
                            ("mel_cnn", MelCnn()),
                            ("mlp", MfccMlp(segment_seconds=3.0))):
            model.fit(data, split, cache=cache)
            scores[name].append(model.metrics_["track"]["accuracy"])
            rows = model.featurize_dataset(test, cache=cache, n_jobs=1, progress=False)
            probas.append(aggregate_tracks(model.predict_rows(rows.X), rows.track)[1])
        ensemble = np.mean(probas, axis=0).argmax(axis=1)
        scores["ensemble"].append(float((ensemble == test.labels).mean()))
        print("fold done:", {k: round(v[-1], 3) for k, v in scores.items()}, flush=True)
    return {k: float(np.mean(v)) for k, v in scores.items()}


def main(folds: int = 10) -> dict[str, object]:
    header("accuracy against baselines (track level)")
    if not (SHARED / "data/gtzan").is_dir():
        print("../shared absent: nothing to measure")
        return {}
    warnings.simplefilter("ignore")
    table = feature_table(folds)
    for k, v in table.items():
        print(f"feature table  {k:22s} {v:.3f}")
    result: dict[str, object] = {"feature_table": table, "folds": folds}
    for grouping in ("track", "artist"):
        ex = excerpts(min(folds, 5), grouping)
        for k, v in ex.items():
            print(f"excerpts 5-fold by {grouping:6s} {k:18s} {v:.3f}")
        result[f"excerpts_by_{grouping}"] = ex
    save("accuracy", result)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--folds", type=int, default=10)
    main(parser.parse_args().folds)
