"""How good: each model family beside plain baselines on the same data and folds.

1. GTZAN feature table (57 features, 1000 tracks): logistic regression vs MFCC-MLP on a random
   10-fold split by track, and on the fault-filtered test split (MLP: mean of seeds 0, 1, 2, as
   one split leaves the seed as the only source of spread; also without level augmentation).
2. GTZAN excerpts (400, in ../shared), 5-fold grouped by track (each excerpt is its own track,
   as in the published baselines) and, stricter, by artist: logistic regression on summary
   features and on YAMNet embeddings (int8 .tflite), YAMNet zero-shot, the YAMNet head, the
   mel-CNN, the MFCC-MLP on excerpt features, and the ensemble of the three trained models (the
   product's rule, a geometric mean, beside a plain arithmetic mean).
3. Playback level: the bundled mel-CNN and zero-shot YAMNet on the CNN's held-out excerpts played
   0, 6, 12 and 20 dB quieter and 6 dB louder (an uploaded song can come at any level), and the
   bundled MFCC-MLP on its fault-filtered test rows moved to those levels (exactly, in feature
   space: ``core.models.mlp.change_level``).
Accuracy is track level. Needs ../shared.
Usage: python -m bench.accuracy [--folds N] [--parts table,excerpts,level]
"""

from __future__ import annotations

import argparse
import json
import warnings

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from bench.common import RESULTS, ROOT, SHARED, header, save
from core.cache import FeatureCache
from core.datasets import load_dataset
from core.evaluation import aggregate_tracks
from core.models import MelCnn, MfccMlp, YamnetEmbedding
from core.models.mlp import log_variances
from core.models.yamnet import mean_embedding
from core.predict import combine_probabilities
from core.splits import Split, group_kfold, make_split

TFLITE = SHARED / "models/yamnet-int8-embeddings.tflite"
SEEDS = (0, 1, 2)


def logistic(X: np.ndarray, y: np.ndarray, split: Split) -> float:
    train = np.concatenate([split.train, split.valid])
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    model.fit(X[train], y[train])
    return float(model.score(X[split.test], y[split.test]))


def feature_table(folds: int) -> dict[str, object]:
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
    result: dict[str, object] = {k: float(np.mean(v)) for k, v in out.items()}
    result["lr_fault_filtered"] = logistic(table.features, y, fault)
    # One test split, so the seed is the only source of spread: report three.
    seeds = [MfccMlp(seed=seed).fit(table, fault).metrics_["track"]["accuracy"] for seed in SEEDS]
    result["mlp_fault_filtered"] = float(np.mean(seeds))
    result["mlp_fault_filtered_by_seed"] = seeds
    # The same without playback-level augmentation: what reading GTZAN's levels as a cue buys.
    fixed = [MfccMlp(seed=seed, level_augment_db=0.0).fit(table, fault).metrics_["track"]["accuracy"]
             for seed in SEEDS]
    result["mlp_fault_filtered_without_level_augmentation"] = float(np.mean(fixed))
    return result


def excerpts(folds: int, grouping: str) -> dict[str, object]:
    data = load_dataset(SHARED / "data/gtzan/excerpts", "gtzan")
    if grouping == "track":  # each excerpt is its own track: the "grouped 5-fold"
        data.manifest["group"] = data.manifest["track_id"]
    cache = FeatureCache()
    y = data.labels
    yam = YamnetEmbedding(handle=str(TFLITE))
    emb = yam.featurize_dataset(data, cache=cache, n_jobs=1, progress=False)
    E = np.stack([mean_embedding(emb.X[emb.track == t]) for t in range(len(y))])
    mlp_rows = MfccMlp(segment_seconds=3.0).featurize_dataset(data, cache=cache, n_jobs=0,
                                                              progress=False)
    _, S = aggregate_tracks(log_variances(mlp_rows.X), mlp_rows.track)
    zero = YamnetEmbedding.zero_shot(list(data.genres), handle=str(TFLITE))
    scores: dict[str, list[float]] = {k: [] for k in (
        "lr_summary", "lr_yamnet", "yamnet_zero_shot", "yamnet_head", "mel_cnn", "mlp",
        "ensemble", "ensemble_arithmetic_mean")}
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
        ensemble = combine_probabilities(np.stack(probas)).argmax(axis=1)
        scores["ensemble"].append(float((ensemble == test.labels).mean()))
        arithmetic = np.mean(probas, axis=0).argmax(axis=1)
        scores["ensemble_arithmetic_mean"].append(float((arithmetic == test.labels).mean()))
        print("fold done:", {k: round(v[-1], 3) for k, v in scores.items()}, flush=True)
    result: dict[str, object] = {k: float(np.mean(v)) for k, v in scores.items()}
    result["by_fold"] = scores
    result["ensemble_beats_every_model_in_folds"] = int(sum(
        scores["ensemble"][i] > max(scores[k][i] for k in ("yamnet_head", "mel_cnn", "mlp"))
        for i in range(len(scores["ensemble"]))))
    return result


def playback_level(gains_db: tuple[float, ...] = (0.0, -6.0, -12.0, -20.0, 6.0)
                   ) -> dict[str, object]:
    from core.audio import load_audio
    from core.models.mlp import change_level
    from core.registry import load_model, read_metrics

    table = load_dataset(SHARED / "data/gtzan/features_30_sec.csv", "features-csv")
    test = make_split(table, "fault-filtered").test
    mlp = load_model(ROOT / "assets/models/mlp")
    rows = log_variances(table.features[test])
    result: dict[str, object] = {"gains_db": list(gains_db), "mlp_fault_filtered": [
        float(np.mean(np.asarray(mlp.model_(change_level(rows, gain)), dtype=float).argmax(axis=1)
                      == table.labels[test])) for gain in gains_db]}
    folder = ROOT / "assets/models/cnn"
    tracks = read_metrics(folder)["metrics"]["test_tracks"]
    cnn = load_model(folder)
    yamnet = YamnetEmbedding.zero_shot(list(cnn.genres_ or []), handle=str(TFLITE))
    audio = [load_audio(t["path"], sr=22050) for t in tracks]
    truth = np.array([t["true"] for t in tracks])
    result["cnn_test_tracks"] = len(tracks)
    for name, model in (("mel_cnn", cnn), ("yamnet_zero_shot", yamnet)):
        accuracy = []
        for gain in gains_db:
            scale = np.float32(10 ** (gain / 20))
            guesses = [model.genres_[int(np.argmax(model.predict_proba(y * scale, 22050)))]
                       for y in audio]
            accuracy.append(float(np.mean(np.array(guesses) == truth)))
        result[name] = accuracy
    return result


PARTS = ("table", "excerpts", "level")


def main(folds: int = 10, parts: tuple[str, ...] = PARTS) -> dict[str, object]:
    """Measure ``parts``; results of parts not measured now are kept from the last run."""
    header("accuracy against baselines (track level)")
    if not (SHARED / "data/gtzan").is_dir():
        print("../shared absent: nothing to measure")
        return {}
    warnings.simplefilter("ignore")
    previous = RESULTS / "accuracy.json"
    result: dict[str, object] = json.loads(previous.read_text()) if previous.is_file() else {}
    result.pop("machine", None)
    result["folds"] = folds
    if "table" in parts:
        table = feature_table(folds)
        for k, v in table.items():
            if isinstance(v, float):
                print(f"feature table  {k:22s} {v:.3f}")
        print("feature table  MLP fault-filtered by seed", [round(a, 3) for a in
                                                            table["mlp_fault_filtered_by_seed"]])
        result["feature_table"] = table
    if "excerpts" in parts:
        for grouping in ("track", "artist"):
            ex = excerpts(min(folds, 5), grouping)
            for k, v in ex.items():
                if isinstance(v, float):
                    print(f"excerpts 5-fold by {grouping:6s} {k:24s} {v:.3f}")
            print(f"excerpts 5-fold by {grouping:6s} ensemble above every model in "
                  f"{ex['ensemble_beats_every_model_in_folds']} of {min(folds, 5)} folds")
            result[f"excerpts_by_{grouping}"] = ex
    if "level" in parts:
        level = playback_level()
        for name in ("mlp_fault_filtered", "mel_cnn", "yamnet_zero_shot"):
            print(f"playback level {name:18s} " + ", ".join(
                f"{g:+.0f} dB {a:.3f}" for g, a in zip(level["gains_db"], level[name],
                                                       strict=True)))
        result["playback_level"] = level
    save("accuracy", result)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--parts", default=",".join(PARTS),
                        help="comma-separated: table (feature table), excerpts, level (playback level)")
    args = parser.parse_args()
    main(args.folds, tuple(args.parts.split(",")))
