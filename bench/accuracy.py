"""How good: each model family beside plain baselines on the same data and folds.

1. GTZAN feature table (57 features, 1000 tracks): logistic regression vs MFCC-MLP on a random
   10-fold split by track, and on the fault-filtered test split (MLP: mean of seeds 0, 1, 2, as
   one split leaves the seed as the only source of spread; also without level augmentation).
2. GTZAN excerpts (400, in ../shared), 5-fold grouped by track (each excerpt is its own track,
   as in the published baselines) and, stricter, 3-fold by artist: logistic regression on
   summary features and on YAMNet embeddings (int8 .tflite), zero-shot YAMNet and musicnn, the
   pretrained mel-CNN (musicnn probe, and with its back-end fine-tuned), the YAMNet head, the
   MFCC-MLP on excerpt features, the from-scratch mel-CNN, and the ensemble of the three trained
   models and the YAMNet head's zero-shot answer (the product's rule, stacked out of fold, with
   the mel-CNN head the bundled set ships, beside the geometric-mean fallback of the three),
   with its calibration error and how often it says "uncertain"; it is compared with the best
   single model of each fold, zero-shot ones included.
3. Playback level: every bundled model and the ensemble on the bundled split's test files played
   0, 6, 12 and 20 dB quieter and 6 dB louder (an uploaded song can come at any level).
   Recording conditions: the same files re-recorded (``core.conditions``: mp3, brighter and
   duller EQ, loud mastering, which the ensemble is fitted under; a 5-kHz low-pass, pink noise,
   64-kbps mp3 and stronger EQ, which it is not), on all of them and on the full-length songs.
   Upload rates: the same files uploaded at 44.1 and 48 kHz, and how many keep their answer.
4. Every family (``core.models.FAMILIES``: the research's logistic regression, boosted trees,
   LSTM, MFCC-CNN and VGG transfer beside GenreLab's three), each trained by its own ``fit`` with
   its default hyperparameters, on the excerpts' folds of part 2 (same folds, same seeds), and
   the ones that read the 57 summary features also on the feature table's fault-filtered split.
Accuracy is track level. Needs ../shared.
Usage: python -m bench.accuracy [--folds N] [--parts table,excerpts,level,conditions,rates,families]
"""

from __future__ import annotations

import argparse
import fcntl
import json
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from bench.common import RESULTS, ROOT, SHARED, header, save
from core.cache import FeatureCache
from core.datasets import Dataset, load_dataset
from core.evaluation import aggregate_tracks, classification_metrics
from core.models import GenreModel, MelCnn, MfccMlp, YamnetEmbedding
from core.models.mlp import log_variances
from core.models.yamnet import mean_embedding
from core.predict import combine_probabilities
from core.splits import Split, group_kfold, make_split

TFLITE = SHARED / "models/yamnet-int8-embeddings.tflite"
SEEDS = (0, 1, 2)
INNER_FOLDS = 3


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


def bundled_cnn_is_fine_tuned() -> bool:
    """Whether the bundled mel-CNN is a fine-tuned back-end (else a linear probe): the
    ensemble here is built with the head the product ships."""
    from core.registry import read_metadata

    return bool(read_metadata(ROOT / "assets/models/cnn")["config"].get("fine_tune", False))


def ensemble_members(like: dict[str, GenreModel] | None = None, *, fine_tune: bool = False
                     ) -> dict[str, GenreModel]:
    """The three trained families of the product, unfitted, as the excerpts part trains them
    (``like``: fitted ones whose heads' L2 they keep, for out-of-fold predictions;
    ``fine_tune``: the mel-CNN's back-end is fine-tuned, else probed)."""
    def probe(name: str) -> dict[str, Any]:
        return {} if like is None else {"l2": like[name].l2, "l2_grid": ()}

    return {"mel_cnn": MelCnn(fine_tune=fine_tune, **probe("mel_cnn")),
            "yamnet_head": YamnetEmbedding(handle=str(TFLITE), **probe("yamnet_head")),
            "mlp": MfccMlp(segment_seconds=3.0)}


def excerpts(folds: int, grouping: str, *, scratch: bool = True) -> dict[str, object]:
    """Every family on the GTZAN excerpts, 5-fold by track or 3-fold by artist, same folds.

    Each fold's validation tracks (20% of its training groups) choose the MLP's epochs and the
    probes' L2; every model is then refitted on train + validation, as the product trains. The
    two heads train, as the bundled ones do, on every excerpt and its copies under
    :data:`~core.conditions.FIT_CONDITIONS` (beside them, the same heads trained on the clean
    excerpts only). The ensemble (weights, temperatures, threshold) is fitted as the bundled
    build fits it: on out-of-fold predictions for every train + validation track and its
    copies (``INNER_FOLDS`` group folds inside the outer fold's training side, heads with the
    L2 the fold's own chose, each copy answered by heads that never trained on its recording;
    the outer test tracks are never seen). Figures are on the clean test excerpts.
    """
    import tempfile

    from core.conditions import FIT_CONDITIONS, write_condition_copies
    from core.train import (
        common_tracks,
        ensemble_from_tables,
        fit_on_recordings,
        out_of_fold_tables,
        track_tables,
    )

    data = load_dataset(SHARED / "data/gtzan/excerpts", "gtzan")
    n_splits = 5 if grouping == "track" else 3
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
    zero_yamnet = YamnetEmbedding.zero_shot(list(data.genres), handle=str(TFLITE))
    zero_musicnn = MelCnn.zero_shot(list(data.genres))
    members = ("mel_cnn", "yamnet_head", "mlp")
    heads = ("mel_cnn", "yamnet_head")
    fine_tune = bundled_cnn_is_fine_tuned()
    other_cnn = "mel_cnn_probe" if fine_tune else "mel_cnn_fine_tuned"
    recordings = tempfile.TemporaryDirectory(prefix="genrelab-bench-conditions-")
    copies = write_condition_copies(data, FIT_CONDITIONS, recordings.name)

    last_mlp: list[tuple[Split, GenreModel]] = []  # the last split (the object) and its MLP

    def fit_members(split: Split, kept: Mapping[str, Dataset],
                    like: dict[str, GenreModel] | None = None) -> dict[str, GenreModel]:
        """The three members on ``split``: the heads on every copy in ``kept`` (a subset of
        ``copies``), the MLP on the clean excerpts. The MLP hears no copy, so one fit per
        split serves every ``kept``: out-of-fold predictions ask for the same inner split (the
        same object) once per recording in a row, and that MLP never trained on any of them."""
        models: dict[str, GenreModel] = {}
        for n, m in ensemble_members(like=like, fine_tune=fine_tune).items():
            if n in heads:
                models[n] = fit_on_recordings(m, data, split, kept, cache=cache)
                continue
            if not last_mlp or last_mlp[0][0] is not split:
                last_mlp[:] = [(split, m.fit(data, split, cache=cache))]
            models[n] = last_mlp[0][1]
        return models

    scores: dict[str, list[Any]] = {k: [] for k in (
        "lr_summary", "lr_yamnet", "yamnet_zero_shot", "musicnn_zero_shot", *members, other_cnn,
        *(f"{n}_trained_clean_only" for n in heads),
        "mel_cnn_from_scratch", "ensemble", "ensemble_geometric_mean", "ensemble_ece",
        "best_member_ece_uncalibrated", "uncertain_share", "accuracy_when_confident",
        "ensemble_members")}
    # Every fold's test tracks together (each track once): ECE on a few hundred tracks rather
    # than on one fold's 80-134, where its estimate alone is biased upwards by about 0.05-0.1.
    pooled: dict[str, list] = {"truth": [], "ensemble": [], **{name: [] for name in members}}
    for split in group_kfold(data, n_splits=n_splits, valid_size=0.2)[:folds]:
        scores["lr_summary"].append(logistic(S, y, split))
        scores["lr_yamnet"].append(logistic(E, y, split))
        scores["yamnet_zero_shot"].append(
            zero_yamnet.evaluate_zero_shot(data, split, cache=cache)["track"]["accuracy"])
        test = data.subset(split.test)
        rows = zero_musicnn.featurize_dataset(test, cache=cache, n_jobs=1, progress=False)
        tracks, zs = aggregate_tracks(zero_musicnn.predict_rows(rows.X), rows.track)
        scores["musicnn_zero_shot"].append(float((zs.argmax(axis=1)
                                                  == test.labels[tracks]).mean()))
        rest = np.concatenate([split.train, split.valid])
        models = fit_members(split, copies)
        oof = out_of_fold_tables(lambda inner, kept, like=models: fit_members(inner, kept, like),
                                 data, rest, folds=INNER_FOLDS, copies=copies,
                                 unseen_copies=True, cache=cache)
        scores[other_cnn].append(fit_on_recordings(
            MelCnn(fine_tune=not fine_tune), data, split, copies,
            cache=cache).metrics_["track"]["accuracy"])
        for name, model in ensemble_members(fine_tune=fine_tune).items():
            if name in heads:
                scores[f"{name}_trained_clean_only"].append(
                    model.fit(data, split, cache=cache).metrics_["track"]["accuracy"])
        tests = track_tables(models)  # with the YAMNet head's zero-shot answer as a member
        ensemble = ensemble_from_tables(oof, tests, list(data.genres))
        m = ensemble.metrics
        _, test_probas, truth = common_tracks(tests)
        truth_ids = [data.genres.index(g) for g in truth]
        pooled["truth"] += truth_ids
        pooled["ensemble"].append(ensemble.combine(test_probas)[0])
        for name in members:
            pooled[name].append(test_probas[name])
        for name in members:
            scores[name].append(m["members"][name]["accuracy"])
        scores["ensemble"].append(m["track"]["accuracy"])
        scores["ensemble_ece"].append(m["track"]["ece"])
        scores["best_member_ece_uncalibrated"].append(m["members"][m["best_member"]]["ece"])
        scores["uncertain_share"].append(m["uncertain_share"])
        if m["accuracy_when_confident"] is not None:  # None: every answer was "uncertain"
            scores["accuracy_when_confident"].append(m["accuracy_when_confident"])
        scores["ensemble_members"].append(ensemble.weights_text())
        geometric = combine_probabilities(np.stack([test_probas[n] for n in members])
                                          ).argmax(axis=1)
        scores["ensemble_geometric_mean"].append(float(
            (geometric == np.array(truth_ids)).mean()))
        if scratch:
            scores["mel_cnn_from_scratch"].append(
                MelCnn(encoder=None).fit(data, split, cache=cache).metrics_["track"]["accuracy"])
        print("fold done:", {k: v[-1] if isinstance(v[-1], str) else round(v[-1], 3)
                             for k, v in scores.items() if v}, flush=True)
    recordings.cleanup()
    result: dict[str, object] = {k: float(np.mean(v)) for k, v in scores.items()
                                 if v and k != "ensemble_members"}
    result["by_fold"] = scores
    # The best single model of a fold: a trained member or a zero-shot answer.
    singles = (*members, "yamnet_zero_shot", "musicnn_zero_shot")
    result["ensemble_at_least_best_member_in_folds"] = int(sum(
        scores["ensemble"][i] >= max(scores[k][i] for k in singles)
        for i in range(len(scores["ensemble"]))))
    result["n_folds"] = len(scores["ensemble"])
    result["mel_cnn_head"] = "fine-tuned back-end" if fine_tune else "linear probe"
    truth = np.array(pooled["truth"])
    result["pooled_test_tracks"] = len(truth)
    for name in ("ensemble", *members):
        metrics = classification_metrics(truth, np.concatenate(pooled[name]), list(data.genres))
        result[f"pooled_{name}_accuracy"] = metrics["accuracy"]
        result[f"pooled_{name}_accuracy_ci"] = metrics["accuracy_ci"]
        result[f"pooled_{name}_ece"] = metrics["ece"]
    return result


def _bundled_test_set() -> tuple[Any, list[np.ndarray], np.ndarray, np.ndarray]:
    """The bundled set, its test files' audio (22.05 kHz), their genres, and which are songs."""
    from core.audio import load_audio
    from core.predict import load_models
    from core.registry import read_metrics

    loaded = load_models()
    tracks = read_metrics(ROOT / "assets/models/cnn")["metrics"]["test_tracks"]
    audio = [load_audio(t["path"], sr=22050) for t in tracks]
    songs = np.array([len(y) >= 10 * 22050 for y in audio])
    return loaded, audio, np.array([t["true"] for t in tracks]), songs


def _answers(loaded: Any, audio: list[np.ndarray], sr: int = 22050) -> dict[str, list[str]]:
    """The genre every bundled model, its zero-shot answer where it gives one
    (``<name>:zero-shot``), and the ensemble give each clip of ``audio`` (at ``sr`` Hz)."""
    from core.ensemble import ZERO_SHOT_MEMBER
    from core.predict import predict_waveform

    predictions = [predict_waveform(loaded.models, y, sr, ensemble=loaded.ensemble)
                   for y in audio]
    answers = {name: [p.models[name].genre for p in predictions] for name in loaded.models}
    for name in loaded.models:
        if predictions and predictions[0].models[name].extras.get("zero_shot") is not None:
            answers[name + ZERO_SHOT_MEMBER] = [
                p.models[name].genres[int(np.argmax(p.models[name].extras["zero_shot"]))]
                for p in predictions]
    answers["ensemble"] = [p.ensemble_genre for p in predictions]
    return answers


def _accuracies(answers: dict[str, list[str]], truth: np.ndarray,
                rows: np.ndarray | None = None) -> dict[str, float]:
    """Track accuracy of each of :func:`_answers` (on every clip, or on ``rows``)."""
    keep = np.ones(len(truth), dtype=bool) if rows is None else rows
    return {name: float(np.mean((np.array(genres) == truth)[keep]))
            for name, genres in answers.items()}


def playback_level(gains_db: tuple[float, ...] = (0.0, -6.0, -12.0, -20.0, 6.0)
                   ) -> dict[str, object]:
    """The bundled set on its own test files played quieter and louder, model by model."""
    loaded, audio, truth, _ = _bundled_test_set()
    result: dict[str, object] = {"gains_db": list(gains_db), "test_files": len(audio)}
    answers: dict[str, list[float]] = {}
    for gain in gains_db:
        scale = np.float32(10 ** (gain / 20))
        for name, accuracy in _accuracies(_answers(loaded, [y * scale for y in audio]),
                                          truth).items():
            answers.setdefault(name, []).append(accuracy)
    result.update(answers)
    return result


def recording_conditions() -> dict[str, object]:
    """The bundled set on its test files re-recorded (core/conditions.py): the conditions the
    ensemble is fitted under and held-out ones, on all test files and on the full-length songs
    among them; and whether the ensemble is at least its best member under each."""
    from core.conditions import FIT_CONDITIONS, HELD_OUT_CONDITIONS

    loaded, audio, truth, songs = _bundled_test_set()
    result: dict[str, object] = {"test_files": len(audio), "songs": int(songs.sum()),
                                 "fit": list(FIT_CONDITIONS), "held_out": list(HELD_OUT_CONDITIONS)}
    for name, condition in {"clean": None, **FIT_CONDITIONS, **HELD_OUT_CONDITIONS}.items():
        recorded = audio if condition is None else [condition(y, 22050) for y in audio]
        answers = _answers(loaded, recorded)  # each clip predicted once
        files, on_songs = _accuracies(answers, truth), _accuracies(answers, truth, songs)
        best = max(v for k, v in files.items() if k != "ensemble")  # zero-shot ones included
        result[name] = {"files": files, "songs": on_songs,
                        "ensemble_minus_best_member": files["ensemble"] - best}
        print(f"recording {name:22s} " + ", ".join(
            f"{k} {v:.3f} ({on_songs[k]:.2f})" for k, v in files.items())
            + f"; ensemble - best member {files['ensemble'] - best:+.3f}", flush=True)
    return result


def upload_rates(rates: tuple[int, ...] = (44100, 48000)) -> dict[str, object]:
    """The bundled set on its test files uploaded at other sample rates: accuracy on all files
    and on the songs, and on how many files each model keeps the answer it gives at 22.05 kHz.

    Each 22.05-kHz file is resampled up with soxr, then read through the upload path, which
    resamples it down again for each model. Both ways soxr keeps up to about 10.3 kHz, so the
    MLP's 22.05-kHz input lacks the top band as that of a real 44.1- or 48-kHz master does."""
    from core.resample import to_rate

    loaded, audio, truth, songs = _bundled_test_set()
    native = _answers(loaded, audio)
    result: dict[str, object] = {"test_files": len(audio), "songs": int(songs.sum()),
                                 "22050": {"files": _accuracies(native, truth),
                                           "songs": _accuracies(native, truth, songs)}}
    for rate in rates:
        answers = _answers(loaded, [to_rate(y, 22050, rate) for y in audio], rate)
        same = {name: np.array(answers[name]) == np.array(native[name]) for name in answers}
        result[str(rate)] = {
            "files": _accuracies(answers, truth), "songs": _accuracies(answers, truth, songs),
            "same_answer_files": {n: int(v.sum()) for n, v in same.items()},
            "same_answer_songs": {n: int(v[songs].sum()) for n, v in same.items()}}
        print(f"uploaded at {rate} Hz: " + ", ".join(
            f"{n} {result[str(rate)]['files'][n]:.3f} (same answer {same[n].sum()}/{len(truth)}, "
            f"songs {same[n][songs].sum()}/{songs.sum()})" for n in answers), flush=True)
    return result


def families(grouping: str, *, names: tuple[str, ...] | None = None, members: int = 1
             ) -> dict[str, object]:
    """Every family's track accuracy on the excerpts' folds (5 by track or 3 by artist), the same
    folds as :func:`excerpts`, with its macro-F1 and training time. Networks trained from
    scratch use ``members`` seeds (1: the leaderboard's single network, and affordable here)."""
    from core.models import FAMILIES
    from core.train import make_model

    data = load_dataset(SHARED / "data/gtzan/excerpts", "gtzan")
    if grouping == "track":
        data.manifest["group"] = data.manifest["track_id"]
    cache = FeatureCache()
    result: dict[str, object] = {}
    for name in names or tuple(FAMILIES):
        kwargs: dict[str, Any] = {"yamnet_handle": str(TFLITE)} if name == "yamnet" else {}
        accuracy, f1, seconds = [], [], []
        for split in group_kfold(data, n_splits=5 if grouping == "track" else 3, valid_size=0.2):
            model = make_model(name, members=members, **kwargs).fit(data, split, cache=cache)
            accuracy.append(model.metrics_["track"]["accuracy"])
            f1.append(model.metrics_["track"]["macro_f1"])
            seconds.append(model.info_["train_seconds"])
        result[name] = {"accuracy": float(np.mean(accuracy)), "by_fold": accuracy,
                        "macro_f1": float(np.mean(f1)), "train_seconds_median":
                        float(np.median(seconds)), "parameters": model.info_["parameters"]}
        print(f"families by {grouping:6s} {name:10s} {np.mean(accuracy):.3f} "
              f"(folds {', '.join(f'{a:.2f}' for a in accuracy)}; macro-F1 {np.mean(f1):.3f}; "
              f"median train {np.median(seconds):.1f} s)", flush=True)
    return result


def families_on_table() -> dict[str, object]:
    """The families that read the 57 summary features, on the feature table's fault-filtered
    split (one test split: the seed is the only source of spread, so seeds 0-2 are averaged)."""
    from core.models import FAMILIES
    from core.train import make_model

    table = load_dataset(SHARED / "data/gtzan/features_30_sec.csv", "features-csv")
    fault = make_split(table, "fault-filtered")
    result: dict[str, object] = {}
    for name, cls in FAMILIES.items():
        if cls.needs_audio:
            continue
        accuracy = [make_model(name, seed=seed).fit(table, fault).metrics_["track"]["accuracy"]
                    for seed in SEEDS]
        result[name] = {"accuracy": float(np.mean(accuracy)), "by_seed": accuracy}
        print(f"families fault-filtered {name:10s} {np.mean(accuracy):.3f}", flush=True)
    return result


PARTS = ("table", "excerpts", "level", "conditions", "rates", "families")


GROUPINGS = ("track", "artist")


def main(folds: int = 10, parts: tuple[str, ...] = PARTS, *, scratch: bool = True,
         groupings: tuple[str, ...] = GROUPINGS) -> dict[str, object]:
    """Measure ``parts``; results of parts not measured now are kept from the last run."""
    unknown = set(groupings) - set(GROUPINGS)
    if unknown or not groupings:
        raise ValueError(f"groupings: choose from {', '.join(GROUPINGS)}, not {sorted(unknown)}")
    header("accuracy against baselines (track level)")
    if not (SHARED / "data/gtzan").is_dir():
        print("../shared absent: nothing to measure")
        return {}
    warnings.simplefilter("ignore")
    previous = RESULTS / "accuracy.json"
    last_run: dict[str, object] = json.loads(previous.read_text()) if previous.is_file() else {}
    measured: dict[str, object] = {"folds": folds}
    if "table" in parts:
        table = feature_table(folds)
        for k, v in table.items():
            if isinstance(v, float):
                print(f"feature table  {k:22s} {v:.3f}")
        print("feature table  MLP fault-filtered by seed", [round(a, 3) for a in
                                                            table["mlp_fault_filtered_by_seed"]])
        measured["feature_table"] = table
    if "excerpts" in parts:
        for grouping in groupings:
            ex = excerpts(min(folds, 5), grouping, scratch=scratch)
            last = last_run.get(f"excerpts_by_{grouping}")
            if not scratch and isinstance(last, dict) and (
                    "mel_cnn_from_scratch" in last or "mel_cnn_from_scratch_last_run" in last):
                # Not measured now (--no-scratch): the last run's, marked as such.
                ex["mel_cnn_from_scratch_last_run"] = last.get(
                    "mel_cnn_from_scratch_last_run", last["mel_cnn_from_scratch"])
            for k, v in ex.items():
                if isinstance(v, float):
                    print(f"excerpts by {grouping:6s} {k:30s} {v:.3f}")
            print(f"excerpts by {grouping:6s} ensemble >= best member in "
                  f"{ex['ensemble_at_least_best_member_in_folds']} of {ex['n_folds']} folds")
            measured[f"excerpts_by_{grouping}"] = ex
    if "level" in parts:
        level = playback_level()
        for name in [k for k, v in level.items() if isinstance(v, list) and k != "gains_db"]:
            print(f"playback level {name:18s} " + ", ".join(
                f"{g:+.0f} dB {a:.3f}" for g, a in zip(level["gains_db"], level[name],
                                                       strict=True)))
        measured["playback_level"] = level
    if "conditions" in parts:
        measured["recording_conditions"] = recording_conditions()
    if "rates" in parts:
        measured["upload_rates"] = upload_rates()
    if "families" in parts:
        measured["families"] = {"fault_filtered": families_on_table(),
                                **{f"excerpts_by_{g}": families(g) for g in ("track", "artist")}}
    # Another run may have saved while this one measured (e.g. one process per grouping): keep
    # what it wrote, replacing only what this run measured; the lock keeps two saves apart.
    RESULTS.mkdir(parents=True, exist_ok=True)
    with open(RESULTS / ".accuracy.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        latest = json.loads(previous.read_text()) if previous.is_file() else {}
        latest.pop("machine", None)
        result = {**latest, **measured}
        save("accuracy", result)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--parts", default=",".join(PARTS),
                        help="comma-separated: table (feature table), excerpts, level (playback level), "
                             "conditions (re-recorded: mp3, EQ, mastering, noise), "
                             "rates (uploaded at 44.1 and 48 kHz), "
                             "families (every family on the same folds)")
    parser.add_argument("--no-scratch", action="store_true",
                        help="skip the from-scratch mel-CNN baseline (the slowest part)")
    parser.add_argument("--groupings", default=",".join(GROUPINGS),
                        help="excerpts part: comma-separated folds to run, track (5-fold) and/or "
                             "artist (3-fold); e.g. one per process on a machine with cores to "
                             "spare (each writes its results into bench/results/accuracy.json)")
    args = parser.parse_args()
    groupings = tuple(dict.fromkeys(g.strip() for g in args.groupings.split(",")))
    if not groupings or not set(groupings) <= set(GROUPINGS):
        parser.error(f"--groupings: choose from {', '.join(GROUPINGS)}")
    main(args.folds, tuple(args.parts.split(",")), scratch=not args.no_scratch,
         groupings=groupings)
