"""Rebuild GenreLab's bundled default model set in assets/models/ and write its model cards.

Usage: python tools/build_bundled_models.py [--shared ../shared] [--cards-only] [--no-baseline]

One artist-disjoint split of all the GTZAN audio in ../shared (the 400 excerpts and the 95 full
30-s clips, grouped by artist, so an excerpt and the full clip of one track stay together):
artists are dealt genre by genre so that about 60% of every genre's files train, 15% validate and
25% test (``core.splits.balanced_group_split``: GTZAN's first 40 tracks of a genre come from few
artists, and a stratified group k-fold left whole genres out of validation). Every family is
tested on the same test files, so Home, Compare and Report compare like with like.

- cnn: a head on pretrained musicnn (MSD) of 3-s patches: the linear probe on its embeddings or
  its back-end fine-tuned with the genre layer (``MelCnn(fine_tune=True)``), whichever has the
  lower out-of-fold log-loss over the train + valid files (the folds below).
- yamnet: softmax head on the bundled int8 YAMNet's frame embeddings.
  Both heads' L2 is chosen by out-of-fold log-loss over the train + valid files (the folds
  below), not by the 61 validation files alone.
- mlp: MFCC-MLP on the 57 summary features of the 1000-row GTZAN table, without any row of a
  validation or test artist (30-s rows of the same tracks would leak).
- Recording conditions (core/conditions.py): every file is also re-recorded as a 128-kbps mp3,
  brighter and duller (+-2 dB/octave) and loudly mastered. The two heads train on every
  recording of their training files (GTZAN's clips share a few recording chains; an upload's
  differs), and every out-of-fold and test prediction below is made for each recording too.
- ensemble.json: weights, temperatures and the "uncertain" threshold fitted on out-of-fold
  predictions for every train + valid file and its re-recordings (4 artist-grouped folds: each
  file predicted by models of all three families that never saw its artist, the test files left
  out), so a member whose answers break when the recording changes gets less say; then
  evaluated on all test files, apart on the full-length test songs, and on the test files
  re-recorded (core/ensemble.py). Sixty-odd validation files alone were too few to set a
  threshold and three temperatures reliably.
- The from-scratch mel-CNN is trained on the same split as the baseline (its figures go into the
  cards; it is not bundled).

The shipped models are trained like `python -m core train` trains: early stopping on the
validation files, then refitted on train + validation.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.cache import FeatureCache  # noqa: E402
from core.conditions import FIT_CONDITIONS, write_condition_copies  # noqa: E402
from core.datasets import Dataset, concat_datasets, load_dataset  # noqa: E402
from core.ensemble import member_folder  # noqa: E402
from core.evaluation import evaluate_segments  # noqa: E402
from core.features import BAND_LIMIT_HZ  # noqa: E402
from core.models import MelCnn, MfccMlp, YamnetEmbedding  # noqa: E402
from core.models.base import GenreModel  # noqa: E402
from core.models.head import PROBE_L2  # noqa: E402
from core.models.mlp import learn_band_restore, learn_recording_maps  # noqa: E402
from core.models.yamnet import BUNDLED_HANDLE  # noqa: E402
from core.provenance import record_training_tracks  # noqa: E402
from core.registry import read_metadata, read_metrics  # noqa: E402
from core.splits import Split, balanced_group_split, check_no_leak  # noqa: E402
from core.train import (  # noqa: E402
    ensemble_from_tables,
    evaluate_ensemble,
    fit_on_recordings,
    member_tables,
    out_of_fold_tables,
    predict_tracks,
    track_tables,
)

OUT = ROOT / "assets" / "models"
SPLIT_SEED = 0
#: Artist-grouped folds over train + valid for the ensemble's out-of-fold predictions.
OOF_FOLDS = 4
#: Files at least this long count as songs (the ensemble is also reported on them alone).
SONG_SECONDS = 10.0
COMMAND = "python tools/build_bundled_models.py"

#: Per family: what to know about it (shown in its model card).
NOTES = {
    "mlp": "Trained on whole-clip (30-s) features of the GTZAN table (every row whose artist is "
           "not a validation or test artist of the bundled split), so it classifies 30-s windows "
           "of a song; on the 2-3 s test excerpts it sees a few seconds only, which is why its "
           "figure here is low. Trained at random playback levels (+-20 dB), so a song mastered "
           "louder or quieter than GTZAN's clips is not read as another genre. The table has no "
           "audio to re-record, so it also trains on its rows as the re-recordings the heads "
           "train on would move them: per-column lines from clean to re-recorded features, "
           "learnt on the bundled split's training audio and its copies (RecordingMap). "
           "It hears audio below 10.1 kHz only, so that a song uploaded at 44.1 or 48 kHz "
           "(resampled to 22.05 kHz, which loses what lies above about 10.4 kHz) gets the answer "
           "it gets at 22.05 kHz; a ridge regression learnt on the bundled split's training "
           "audio estimates the table's full-band features from those of that band "
           "(BandRestore).",
    "cnn": "Trained on every training file and its re-recordings (mp3, brighter, duller, loudly "
           "mastered: core/conditions.py), so that its answer depends less on how a song was "
           "recorded. A head on musicnn, a CNN pretrained on the Million Song Dataset's tags (Pons & "
           "Serra 2019; ISC licence; the encoder is a separate artefact in "
           "assets/encoders/musicnn-msd/, recorded here by sha256). Each 3-s patch's 200-d "
           "penultimate embedding and 50 tag probabilities feed a softmax layer: either a "
           "linear probe on the frozen network, or with musicnn's back-end (the dense layers "
           "that make those embeddings and tags from its pooled features) fine-tuned with it "
           "from the pretrained weights; the lower out-of-fold log-loss over the train + valid "
           "files chose which (scores above). MSD's training songs "
           "may include some GTZAN songs or artists, so its GTZAN figures may be a little "
           "optimistic.",
    "yamnet": "Trained on every training file and its re-recordings (core/conditions.py), like "
              "the mel-CNN's head. A softmax head on the embeddings and AudioSet scores of the "
              "int8 TFLite YAMNet "
              "shipped in assets/encoders/yamnet-int8/ (Apache-2.0), recorded here by sha256; the "
              "head refuses another YAMNet's embeddings. Zero-shot answers (AudioSet genre "
              "classes) are reported beside it.",
}


def gtzan_audio(shared: Path) -> Dataset:
    """The 400 excerpts and 95 full clips as one dataset (an excerpt and its clip share a group)."""
    parts = [load_dataset(shared / "data/gtzan" / sub, "gtzan") for sub in ("excerpts", "full")]
    return concat_datasets(parts, name="GTZAN audio (excerpts + full clips)")


def gtzan_table(shared: Path) -> Dataset:
    """The 1000-row GTZAN feature table (``features_30_sec.csv``) the MLP trains on."""
    return load_dataset(shared / "data/gtzan/features_30_sec.csv", "features-csv")


def bundled_split(audio: Dataset) -> Split:
    split = balanced_group_split(audio, test_size=0.25, valid_size=0.15, seed=SPLIT_SEED)
    split = Split(f"bundled: artists dealt per genre, seed {SPLIT_SEED} (60/15/25%)",
                  split.train, split.valid, split.test)
    check_no_leak(audio, split)
    return split


def is_song(path: object) -> bool:
    """A full-length clip (the 30-s GTZAN clips), not a 2-3 s excerpt."""
    return sf.info(str(path)).duration >= SONG_SECONDS


def table_split(table: Dataset, audio: Dataset, split: Split, *,
                exclude: np.ndarray | None = None) -> Split:
    """The feature table's rows on the sides their artist (else track) takes in the audio split.

    Rows of groups in the audio rows ``exclude`` (e.g. the real test files, when ``split`` is an
    inner fold) are left out altogether.
    """
    side_of = {}
    if exclude is not None:
        side_of.update(dict.fromkeys(audio.manifest["group"].iloc[exclude], "out"))
    for side in ("valid", "test"):
        side_of.update({g: side for g in audio.manifest["group"].iloc[getattr(split, side)]})
    sides = table.manifest["group"].map(side_of).fillna("train").to_numpy()
    return Split(f"table rows by the audio split's artists ({split.name})",
                 np.flatnonzero(sides == "train"), np.flatnonzero(sides == "valid"),
                 np.flatnonzero(sides == "test"))


def train_probes(audio: Dataset, split: Split, cache: FeatureCache, l2: dict[str, float], *,
                 copies: dict[str, Dataset], fine_tune: bool = False) -> dict[str, GenreModel]:
    """The two heads on pretrained encoders, with the L2 given per family (no search), trained
    on every recording of the training files (``copies``: :data:`FIT_CONDITIONS`; the
    validation files, which join the final refit, as recorded only); ``fine_tune``: the
    mel-CNN's back-end is fine-tuned instead of probed."""
    heads = {"cnn": MelCnn(seed=0, l2=l2["cnn"], l2_grid=(), fine_tune=fine_tune),
             "yamnet": YamnetEmbedding(handle=BUNDLED_HANDLE, seed=0, l2=l2["yamnet"], l2_grid=())}
    for model in heads.values():
        fit_on_recordings(model, audio, split, copies, cache=cache)
    return heads


def choose_probe_l2(audio: Dataset, rest: np.ndarray, cache: FeatureCache,
                    copies: dict[str, Dataset]
                    ) -> tuple[dict[str, float], dict[str, list[dict[str, object]]]]:
    """Each head's L2, chosen by out-of-fold log-loss over the train + valid files and their
    re-recorded copies (``OOF_FOLDS`` artist-grouped folds; steadier than the 61 validation
    files alone, which picked the strongest penalty of the grid), and the chosen heads'
    out-of-fold tables."""
    scores: dict[str, dict[float, tuple[float, list[dict[str, object]]]]] = {}
    for value in PROBE_L2:
        oof = out_of_fold_tables(
            lambda inner, kept, v=value: train_probes(audio, inner, cache,
                                                      {"cnn": v, "yamnet": v}, copies=kept),
            audio, rest, folds=OOF_FOLDS, copies=copies, cache=cache)
        for name, table in oof.items():
            scores.setdefault(name, {})[value] = (out_of_fold_score(audio, table, f"{name} l2={value:g}"),
                                                  table)
    chosen = {name: min(by_l2, key=lambda v: by_l2[v][0][0]) for name, by_l2 in scores.items()
              if name == member_folder(name)}  # a zero-shot answer has no L2: any run's table
    return chosen, {name: scores[name][chosen.get(name, PROBE_L2[0])][1] for name in scores}


def out_of_fold_score(audio: Dataset, table: list[dict[str, object]], label: str
                      ) -> tuple[float, float]:
    """Log-loss and accuracy of one model's out-of-fold track table (printed with ``label``)."""
    proba = np.array([row["proba"] for row in table])
    truth = np.array([audio.genres.index(row["true"]) for row in table])
    loss = float(-np.log(np.clip(proba[np.arange(len(truth)), truth], 1e-7, 1)).mean())
    accuracy = float((proba.argmax(axis=1) == truth).mean())
    print(f"{label}: out-of-fold log-loss {loss:.3f}, accuracy {accuracy:.3f}", flush=True)
    return loss, accuracy


def choose_cnn_head(audio: Dataset, rest: np.ndarray, cache: FeatureCache, l2: float,
                    probe_table: list[dict[str, object]], copies: dict[str, Dataset]
                    ) -> tuple[bool, list[dict[str, object]], dict[str, object]]:
    """Fine-tune musicnn's back-end or keep the linear probe: the lower out-of-fold log-loss
    over the train + valid files and their copies decides (the genre layer's L2 is the
    probe's; both train on every recording). Returns the choice, the chosen head's out-of-fold
    table and both scores (for the model card)."""
    tuned = out_of_fold_tables(
        lambda inner, kept: {"cnn": fit_on_recordings(
            MelCnn(seed=0, l2=l2, l2_grid=(), fine_tune=True), audio, inner, kept, cache=cache)},
        audio, rest, folds=OOF_FOLDS, copies=copies, cache=cache)["cnn"]
    probe_score = out_of_fold_score(audio, probe_table, "cnn linear probe")
    tuned_score = out_of_fold_score(audio, tuned, "cnn fine-tuned back-end")
    fine_tune = tuned_score[0] < probe_score[0]
    scores = {"linear probe": probe_score, "fine-tuned back-end": tuned_score}
    return fine_tune, tuned if fine_tune else probe_table, scores


def train_set(audio: Dataset, table: Dataset, split: Split, cache: FeatureCache, *,
              l2: dict[str, float], copies: dict[str, Dataset],
              exclude: np.ndarray | None = None, probes: bool = True,
              fine_tune: bool = False) -> dict[str, GenreModel]:
    """The three families trained on ``split`` (the MLP on the table rows of its artists,
    through recording maps learnt from ``copies`` of its training files; the heads with the L2
    given), each with its predictions on ``split.test``'s audio files as
    ``metrics_["test_tracks"]`` (``probes=False``: the MLP only)."""
    models = train_probes(audio, split, cache, l2, copies=copies,
                          fine_tune=fine_tune) if probes else {}
    # The MLP learns from the table, which has no audio to re-record: it sees its rows through
    # how each recording moved the features of this split's training files.
    maps = learn_recording_maps(audio, copies, split.train, cache=cache, n_jobs=2)
    # It reads audio below BAND_LIMIT_HZ only (an upload at 44.1 kHz has lost what lies above
    # about 10.4 kHz), through how that band limit moved the training files' features.
    restore = learn_band_restore(audio, split.train, max_hz=BAND_LIMIT_HZ, cache=cache, n_jobs=2)
    mlp = MfccMlp(seed=0, recording_maps=maps, max_hz=BAND_LIMIT_HZ, band_restore=restore).fit(
        table, table_split(table, audio, split, exclude=exclude))
    mlp.metrics_["table_test"] = {k: mlp.metrics_[k] for k in ("segment", "track")
                                  if k in mlp.metrics_}
    mlp.metrics_["test_tracks"] = predict_tracks(mlp, audio, split.test, cache=cache)
    return {**models, "mlp": mlp}


def save_out_of_fold(oof: dict[str, list[dict[str, object]]]) -> None:
    """The out-of-fold tables the ensemble was fitted on, for inspection and refitting
    (``bench/results/bundled_out_of_fold.json``; not shipped: it names this machine's paths)."""
    from core.atomic import write_text_atomic

    path = ROOT / "bench" / "results" / "bundled_out_of_fold.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(oof))


def write_provenance(audio: Dataset, table: Dataset, split: Split) -> None:
    """Each bundled model's ``trained_tracks.json``: what evaluations must not count as unseen
    (the MLP's are the table rows of the train and valid artists)."""
    for name in ("cnn", "yamnet"):
        record_training_tracks(OUT / name, audio, split)
    record_mlp_tracks(audio, table, split)


def record_mlp_tracks(audio: Dataset, table: Dataset, split: Split) -> None:
    """The bundled MLP's ``trained_tracks.json``: the table rows of the train and valid artists."""
    record_training_tracks(OUT / "mlp", table, table_split(table, audio, split))


def evaluate_on(model: GenreModel, audio: Dataset, split: Split, cache: FeatureCache) -> None:
    """Make the MLP's metrics those of the bundled split's audio test files, like the others'."""
    from core.train import evaluate_model

    own = model.metrics_
    model.metrics_ = evaluate_model(model, audio, split.test, cache=cache)
    model.metrics_["test_tracks"] = own["test_tracks"]
    model.metrics_["feature_table_test"] = own["table_test"]
    model.info_["split"] = {"name": split.name, "train_tracks": model.info_["split"]["train_tracks"],
                            "valid_tracks": model.info_["split"]["valid_tracks"],
                            "test_tracks": len(split.test)}
    model.info_["dataset"] = {"name": f"{audio.name}; trained on the GTZAN feature table",
                              "layout": audio.layout}


def zero_shot_metrics(model: YamnetEmbedding | MelCnn, audio: Dataset, split: Split,
                      cache: FeatureCache) -> dict[str, object]:
    test = audio.subset(split.test)
    rows = model.featurize_dataset(test, cache=cache, n_jobs=1, progress=False)
    return evaluate_segments(model.zero_shot_rows(rows.X), test.labels[rows.track], rows.track,
                             list(audio.genres))


def ece_text(metrics: dict[str, Any]) -> str:
    """``0.057 (0.070)``: a metrics dict's ECE, and in brackets the median ECE a perfectly
    calibrated model would measure on the same tracks, where it has one."""
    noise = metrics.get("ece_calibrated")
    return f"{metrics['ece']:.3f}" + (f" ({noise['median']:.3f})" if noise else "")


#: Under every table with :func:`ece_text` cells.
ECE_NOTE = ("ECE in brackets: the median ECE a perfectly calibrated model with the same "
            "confidences measures on as many tracks (core.evaluation.calibrated_ece); on a "
            "hundred-odd tracks an ECE at or below it cannot be told from perfect calibration.")


def refresh_folder_metrics(folder: Path) -> dict[str, Any]:
    """Recompute one saved model's held-out ``track`` metrics from the per-track test
    probabilities saved with it; rewrite ``metrics.json`` atomically. Returns the saved
    metrics. (Its ``zero_shot`` metrics come from a separate zero-shot model's evaluation, which
    keeps no table, and stay as they are.)"""
    from core.atomic import write_text_atomic
    from core.evaluation import classification_metrics
    from core.registry import METRICS, jsonable

    genres = read_metadata(folder)["genres"]
    saved = read_metrics(folder)
    m = saved["metrics"]
    table = m["test_tracks"]
    m["track"] = classification_metrics(np.array([genres.index(row["true"]) for row in table]),
                                        np.array([row["proba"] for row in table]), genres)
    write_text_atomic(folder / METRICS, json.dumps(jsonable(saved), indent=2))
    return m


def refresh_metrics() -> None:
    """Recompute the held-out track metrics of the saved sets from the test tables they keep.

    Every bundled and leaderboard model's ``track`` metrics, and the ensemble's ``track``,
    ``members`` and ``songs`` entries, are computed again from the per-track test probabilities
    saved with the models, so metrics added to :func:`core.evaluation.classification_metrics`
    since the sets were built (e.g. ``ece_calibrated``) appear without training anything; the
    figures they already had come out the same (to the 6 decimals the tables keep). Segment
    metrics, zero-shot metrics and the re-recorded conditions keep theirs.
    """
    from core.ensemble import ZERO_SHOT_MEMBER, Ensemble
    from core.registry import model_folders

    tests: dict[str, list[dict[str, Any]]] = {}
    for folder in [*model_folders(OUT), *model_folders(ROOT / "assets" / "leaderboard")]:
        m = refresh_folder_metrics(folder)
        if folder.parent == OUT:
            tests[folder.name] = m["test_tracks"]
            if m.get("zero_shot_test_tracks"):
                tests[folder.name + ZERO_SHOT_MEMBER] = m["zero_shot_test_tracks"]
        print(f"{folder.parent.name}/{folder.name}: track accuracy {m['track']['accuracy']:.3f}, "
              f"ECE {ece_text(m['track'])}")
    ensemble = Ensemble.load(OUT)
    if ensemble is None:
        return
    members = {n: tests[n] for n in ensemble.models}
    ensemble.metrics.update(evaluate_ensemble(ensemble, members))
    songs = {row["path"] for rows in members.values() for row in rows if is_song(row["path"])}
    if songs:
        ensemble.metrics["songs"] = evaluate_ensemble(
            ensemble, {n: [row for row in rows if row["path"] in songs]
                       for n, rows in members.items()})
    ensemble.save(OUT)
    print(f"ensemble: track accuracy {ensemble.metrics['track']['accuracy']:.3f}, "
          f"ECE {ece_text(ensemble.metrics['track'])}")


def refit_mlp_restore(shared: Path) -> None:
    """Re-learn the bundled MLP's band restore (:func:`learn_band_restore`) on the bundled
    split's training audio, answer the test files through it again, and re-evaluate the set's
    ensemble on them (clean and under each fitted recording). No network is trained and the
    pool is not refitted: its out-of-fold MLP answers keep the restore they were made with
    until the next full build."""
    from core.predict import load_models

    warnings.simplefilter("ignore")
    cache = FeatureCache()
    audio = gtzan_audio(shared)
    split = bundled_split(audio)
    mlp = MfccMlp.load(OUT / "mlp")
    mlp.band_restore = learn_band_restore(audio, split.train, max_hz=BAND_LIMIT_HZ, cache=cache,
                                          n_jobs=2)
    table_test = mlp.metrics_.get("feature_table_test", {})
    mlp.metrics_ = {"test_tracks": predict_tracks(mlp, audio, split.test, cache=cache),
                    "table_test": table_test}
    evaluate_on(mlp, audio, split, cache)
    mlp.save(OUT / "mlp")  # a new folder: its training tracks are recorded again
    record_mlp_tracks(audio, gtzan_table(shared), split)
    print(f"mlp: test accuracy {mlp.metrics_['track']['accuracy']:.3f}", flush=True)
    refresh_metrics()
    loaded = load_models(OUT)
    ensemble = loaded.ensemble
    if ensemble is None:
        return
    models = {name: loaded.models[name] for name in ensemble.folders}
    test = audio.subset(split.test)
    with tempfile.TemporaryDirectory(prefix="genrelab-conditions-") as recordings:
        copies = write_condition_copies(test, FIT_CONDITIONS, recordings)
        ensemble.metrics["conditions"] = {
            condition: evaluate_ensemble(ensemble, member_tables(
                models, copy, np.arange(len(test.manifest)), cache=cache))
            for condition, copy in copies.items()}
    ensemble.save(OUT)


def card(family: str, extra: dict[str, object]) -> None:
    """Write ``assets/models/<family>/MODEL_CARD.md`` from the saved model's metadata."""
    folder = OUT / family
    meta, metrics = read_metadata(folder), read_metrics(folder)
    m = metrics.get("metrics", {})
    info = metrics.get("info", {})
    members = meta.get("hyperparameters", {}).get("members", 1)
    lines = [f"# {meta['display_name']} (bundled default)", "",
             f"- Genres: {', '.join(meta['genres'])}",
             f"- Data: {info.get('dataset', {}).get('name', '?')}",
             f"- Split: {json.dumps(info.get('split', {}))}",
             f"- Parameters (trained): {info.get('parameters', 0):,}"
             + (f" (the mean of {members} networks trained with consecutive seeds)"
                if members > 1 else ""),
             f"- Created: {meta['created_at']} with {json.dumps(meta['libraries'])}"]
    encoder = meta.get("config", {}).get("encoder_identity") or meta.get("config", {}).get("encoder")
    if isinstance(encoder, dict):
        lines.append(f"- Encoder: {encoder.get('name') or encoder.get('handle')}, "
                     f"sha256 {encoder.get('sha256')}")
    lines += ["", "## Held-out metrics (test files of artists never seen in training or "
              "validation; the same files for every bundled model)", "",
              "| level | accuracy (95% CI) | macro-F1 | ECE (calibrated) | ROC-AUC (OvR) | n |",
              "|---|---|---|---|---|---|"]
    for level in ("segment", "track"):
        if level in m:
            r = m[level]
            auc = "n/a" if r["roc_auc_ovr"] is None else f"{r['roc_auc_ovr']:.3f}"
            lo, hi = r["accuracy_ci"]
            lines.append(f"| {level} | {r['accuracy']:.3f} ({lo:.2f}-{hi:.2f}) | "
                         f"{r['macro_f1']:.3f} | {ece_text(r)} | {auc} | {r['n']} |")
    lines += ["", ECE_NOTE]
    if "track" in m:
        lines += ["", "Per-genre recall (track level): " + ", ".join(
            f"{g} {v['recall']:.2f} (n={v['support']})" for g, v in m["track"]["per_genre"].items())]
    if "zero_shot" in m:
        z = m["zero_shot"]["track"]
        lines += ["", f"Zero-shot on the same test files: accuracy {z['accuracy']:.3f}, "
                  f"macro-F1 {z['macro_f1']:.3f}."]
    if "feature_table_test" in m and "track" in m["feature_table_test"]:
        t = m["feature_table_test"]["track"]
        lines += ["", f"On the 30-s table rows of the test artists ({t['n']} tracks): accuracy "
                  f"{t['accuracy']:.3f}, macro-F1 {t['macro_f1']:.3f}."]
    for label, value in extra.items():
        lines += ["", f"{label}: {value}"]
    lines += ["", "## Reproduce", "", f"```bash\n{COMMAND}\n```", "", NOTES[family], ""]
    (folder / "MODEL_CARD.md").write_text("\n".join(lines))


def ensemble_card() -> None:
    """Write ``assets/models/ENSEMBLE_CARD.md`` from ``ensemble.json``."""
    from core.ensemble import Ensemble

    ensemble = Ensemble.load(OUT)
    if ensemble is None:
        return
    m = ensemble.metrics
    t = m["track"]
    zero_shot = [n for n in ensemble.models if n != member_folder(n)]
    lines = ["# Ensemble (bundled default)", "",
             "- Members and pool weights: " + ", ".join(
                 f"{n} {w:.3f}" for n, w in zip(ensemble.models, ensemble.weights, strict=True)),
             "- Calibration temperatures: " + ", ".join(
                 f"{n} {v:.2f}" for n, v in ensemble.temperatures.items()),
             *(["- " + ", ".join(f"`{n}`" for n in zero_shot) + ": the model's own zero-shot answer "
                "(its encoder's genre classes, trained on nothing here); a member only where "
                "every genre has a class (musicnn's tags have no reggae)"] if zero_shot else []),
             f"- Uncertain below a calibrated confidence of {ensemble.threshold:.2f}, or when "
             "YAMNet hears electronic music (a genre outside the set) louder than any of its "
             "genres",
             f"- Fitted on: {ensemble.fitted_on.get('side')} ({ensemble.fitted_on.get('split')})",
             "", "## On the bundled test files (the same files as every member)", "",
             "| model | accuracy (95% CI) | macro-F1 | ECE (calibrated) | n |", "|---|---|---|---|---|"]
    rows = [("ensemble", t), *m["members"].items()]
    for name, r in rows:
        lo, hi = r["accuracy_ci"]
        lines.append(f"| {name} | {r['accuracy']:.3f} ({lo:.2f}-{hi:.2f}) | {r['macro_f1']:.3f} | "
                     f"{ece_text(r)} | {r['n']} |")
    lines += ["", ECE_NOTE]
    if m.get("songs"):
        lines += ["", f"On the {m['songs']['track']['n']} full-length test songs among them "
                  "(what users upload):", "",
                  "| model | accuracy (95% CI) | macro-F1 | n |", "|---|---|---|---|"]
        for name, r in [("ensemble", m["songs"]["track"]), *m["songs"]["members"].items()]:
            lo, hi = r["accuracy_ci"]
            lines.append(f"| {name} | {r['accuracy']:.3f} ({lo:.2f}-{hi:.2f}) | "
                         f"{r['macro_f1']:.3f} | {r['n']} |")
    if m.get("conditions"):
        names = list(next(iter(m["conditions"].values()))["members"])
        lines += ["", "On the same test files re-recorded under the conditions the ensemble was "
                  "fitted under (core/conditions.py; track accuracy):", "",
                  "| recording | ensemble | " + " | ".join(names) + " |",
                  "|---" * (len(names) + 2) + "|"]
        for condition, r in m["conditions"].items():
            lines.append(f"| {condition} | {r['track']['accuracy']:.3f} | " + " | ".join(
                f"{r['members'][n]['accuracy']:.3f}" for n in names) + " |")
    confident = m.get("accuracy_when_confident")
    lines += ["", f"Said \"uncertain\" for {m['uncertain_share']:.0%} of the test files"
              + (f"; accuracy on the rest {confident:.3f}." if confident is not None else "."),
              "", "Per-genre recall: " + ", ".join(
                  f"{g} {v['recall']:.2f} (n={v['support']})" for g, v in t["per_genre"].items()),
              "", "## Reproduce", "", f"```bash\n{COMMAND}\n```", "",
              "Weights, temperatures and threshold are learnt on out-of-fold predictions, never "
              "on test files; see core/ensemble.py and the README.", ""]
    (OUT / "ENSEMBLE_CARD.md").write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shared", default=str(ROOT.parent / "shared"))
    parser.add_argument("--cards-only", action="store_true",
                        help="rewrite the model cards from the saved models, train nothing")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the from-scratch mel-CNN baseline (its last figures are kept)")
    parser.add_argument("--refresh-metrics", action="store_true",
                        help="recompute the saved set's test-track metrics from the test tables it "
                             "keeps (see refresh_metrics) and rewrite the cards; train nothing")
    parser.add_argument("--refit-mlp-restore", action="store_true",
                        help="re-learn the MLP's band restore on the split's training audio and "
                             "re-evaluate the set on its test files (see refit_mlp_restore); "
                             "train no network, refit no pool")
    args = parser.parse_args()
    extras_file = OUT / "baselines.json"
    if args.refit_mlp_restore:
        refit_mlp_restore(Path(args.shared))
    elif args.refresh_metrics:
        refresh_metrics()
    if args.cards_only or args.refresh_metrics or args.refit_mlp_restore:
        extras = json.loads(extras_file.read_text()) if extras_file.is_file() else {}
        for family in ("mlp", "cnn", "yamnet"):
            card(family, extras.get(family, {}))
        ensemble_card()
        return
    warnings.simplefilter("ignore")
    shared = Path(args.shared)
    cache = FeatureCache()
    audio = gtzan_audio(shared)
    split = bundled_split(audio)
    print(f"{audio.name}: {len(audio.manifest)} files; split {split.sizes()}", flush=True)

    table = gtzan_table(shared)
    with tempfile.TemporaryDirectory(prefix="genrelab-conditions-") as recordings:
        build(audio, split, table, cache, recordings, extras_file, no_baseline=args.no_baseline)


def build(audio: Dataset, split: Split, table: Dataset, cache: FeatureCache, recordings: str,
          extras_file: Path, *, no_baseline: bool) -> None:
    """Train, fit and save the bundled set (``recordings``: a scratch folder for the copies)."""
    rest = np.concatenate([split.train, split.valid])
    copies = write_condition_copies(audio, FIT_CONDITIONS, recordings)
    print(f"every file re-recorded under {', '.join(copies)}", flush=True)
    l2, oof = choose_probe_l2(audio, rest, cache, copies)
    print(f"heads' L2 by out-of-fold log-loss: {l2}", flush=True)
    fine_tune, oof["cnn"], cnn_scores = choose_cnn_head(audio, rest, cache, l2["cnn"],
                                                        oof["cnn"], copies)
    print(f"mel-CNN head: {'fine-tuned back-end' if fine_tune else 'linear probe'}", flush=True)
    for name, rows in oof.items():  # the heads under each recording they trained on
        for condition in copies:
            out_of_fold_score(audio, [r for r in rows if r.get("condition") == condition],
                              f"{name} out of fold, {condition} (trained on it)")
    # What the ensemble is fitted on: every member's out-of-fold answers, each re-recording
    # answered by members that never trained on that recording, since no member has heard an
    # upload's recording chain; the original recordings by members trained on every recording.
    oof = out_of_fold_tables(
        lambda inner, kept: train_set(audio, table, inner, cache, l2=l2, copies=kept,
                                      exclude=split.test, fine_tune=fine_tune),
        audio, rest, folds=OOF_FOLDS, copies=copies, unseen_copies=True, cache=cache)
    n_oof = len(rest)
    for name, rows in oof.items():  # what each member does under each recording, out of fold
        for condition in ["original", *copies]:
            out_of_fold_score(audio, [r for r in rows if r.get("condition", "original")
                                      == condition], f"{name} out of fold, {condition}")
    models = train_set(audio, table, split, cache, l2=l2, copies=copies, fine_tune=fine_tune)
    models["cnn"].metrics_["zero_shot"] = zero_shot_metrics(
        MelCnn.zero_shot(list(audio.genres)), audio, split, cache)
    models["yamnet"].metrics_["zero_shot"] = zero_shot_metrics(
        YamnetEmbedding.zero_shot(list(audio.genres), handle=BUNDLED_HANDLE), audio, split, cache)
    evaluate_on(models["mlp"], audio, split, cache)
    for name, model in models.items():
        print(f"{name}: test accuracy {model.metrics_['track']['accuracy']:.3f}", flush=True)

    extras: dict[str, dict[str, object]] = {"mlp": {}, "cnn": {}, "yamnet": {}}
    if no_baseline and extras_file.is_file():  # keep the last measured baseline, only
        baseline = json.loads(extras_file.read_text())
        extras["cnn"] = {k: v for k, v in baseline.get("cnn", {}).items()
                         if k.startswith("From-scratch")}
    extras["cnn"]["Head chosen by out-of-fold log-loss over the train + valid files and their "
                  "re-recordings"] = (
        ("fine-tuned back-end" if fine_tune else "linear probe") + " (" + "; ".join(
            f"{name} {loss:.3f}, accuracy {accuracy:.3f}"
            for name, (loss, accuracy) in cnn_scores.items()) + ")")
    if not no_baseline:
        scratch = MelCnn(encoder=None, seed=0, epochs=120).fit(audio, split, cache=cache)
        t = scratch.metrics_["track"]
        extras["cnn"]["From-scratch mel-CNN baseline on the same split and test files"] = (
            f"accuracy {t['accuracy']:.3f} (95% CI {t['accuracy_ci'][0]:.2f}-"
            f"{t['accuracy_ci'][1]:.2f}), macro-F1 {t['macro_f1']:.3f}")
        print(f"from-scratch CNN: {t['accuracy']:.3f}", flush=True)

    tests = track_tables(models)
    ensemble = ensemble_from_tables(
        oof, tests, list(audio.genres),
        fitted_on={"dataset": audio.name, "split": split.name,
                   "side": f"train + valid, out of fold ({OOF_FOLDS} artist-grouped folds, "
                           f"{n_oof} files, each also under {len(copies)} recording "
                           f"conditions: {', '.join(copies)}; each re-recording answered by "
                           f"members that never trained on that recording)"})
    # The test files under each condition (the same files, re-recorded).
    ensemble.metrics["conditions"] = {
        condition: evaluate_ensemble(ensemble, member_tables(models, copy, split.test,
                                                             cache=cache))
        for condition, copy in copies.items()}
    # Reported apart: the full-length songs among the test files, what users upload.
    songs = {path for path in {row["path"] for t in tests.values() for row in t} if is_song(path)}
    ensemble.metrics["songs"] = evaluate_ensemble(
        ensemble, {n: [row for row in rows if row["path"] in songs] for n, rows in tests.items()})
    for name, model in models.items():
        model.save(OUT / name)
    save_out_of_fold(oof)
    write_provenance(audio, table, split)
    ensemble.save(OUT)
    extras_file.write_text(json.dumps(extras, indent=2))
    for family in models:
        card(family, extras[family])
    ensemble_card()
    e = ensemble.metrics["track"]
    print(f"ensemble: test accuracy {e['accuracy']:.3f}, ECE {e['ece']:.3f}, weights "
          f"{dict(zip(ensemble.models, np.round(ensemble.weights, 3), strict=True))}, "
          f"threshold {ensemble.threshold:.2f}", flush=True)


if __name__ == "__main__":
    main()
