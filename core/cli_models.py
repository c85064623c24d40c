"""Model subcommands of the CLI: ``train``, ``evaluate``, ``predict``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.cache import FeatureCache
from core.datasets import load_dataset
from core.errors import GenreLabError, ModelError, UsageError

if TYPE_CHECKING:
    from core.datasets import Dataset
    from core.predict import ModelSet


def int_at_least(minimum: int, text: str) -> int:
    """An argparse value as an integer of at least ``minimum`` (else an argparse error)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer of at least 1."""
    return int_at_least(1, text)


def non_negative_int(text: str) -> int:
    """argparse type: an integer of at least 0."""
    return int_at_least(0, text)


def positive_float(text: str) -> float:
    """argparse type: a finite number above 0 (e.g. seconds)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number above 0, got {text}")
    return value


def _headline(metrics: dict[str, Any]) -> str:
    from core.evaluation import interval_to_show

    parts = []
    for level in ("segment", "track"):
        if level in metrics:
            m = metrics[level]
            auc, ci, ece = m.get("roc_auc_ovr"), interval_to_show(level, m), m.get("ece")
            noise = (m.get("ece_calibrated") or {}).get("median")
            parts.append(f"{level}: acc {m['accuracy']:.3f}"
                         + (f" (95% CI {ci[0]:.2f}-{ci[1]:.2f})" if ci else "")
                         + f", macro-F1 {m['macro_f1']:.3f}"
                         + (f", ECE {ece:.3f}" if ece is not None else "")
                         + (f" (sampling noise alone gives about {noise:.3f} on these tracks; "
                            "an ECE at or below that cannot be told from perfect calibration)"
                            if ece is not None and noise is not None else "")
                         + (f", ROC-AUC {auc:.3f}" if auc is not None else ""))
    return "; ".join(parts)


def cmd_train(args: argparse.Namespace) -> int:
    from core.splits import make_split, split_notes
    from core.train import check_set_folder, parse_families, training_recordings

    families = parse_families(args.models)
    weights = getattr(args, "weights", None)
    if weights is not None:  # refused before any audio is decoded
        if "vgg" not in families:
            raise UsageError("--weights (a local ImageNet VGG16/ResNet50 weights file) applies "
                                 "to the vgg family only; add vgg to --models")
        from core.encoders.vgg import check_weights_file

        check_weights_file(weights)
    out = Path(args.out)
    if out.exists() and not out.is_dir():  # refused before hours of training, not after
        raise UsageError(f"--out {out}: a file is there; give a folder for the model set")
    fine_tune = bool(getattr(args, "fine_tune", False))
    if fine_tune and "cnn" not in families:
        raise UsageError("--fine-tune (musicnn's back-end) applies to the cnn family only; "
                             "add cnn to --models")
    dataset = load_dataset(args.data, args.layout)
    check_set_folder(out, families, dataset.genres)
    split = make_split(dataset, args.split, seed=args.seed, fold=args.fold)
    print(f"{dataset.name}: {len(dataset.manifest)} rows, {len(dataset.genres)} genres; split "
          f"{split.name}: " + ", ".join(f"{k} {v}" for k, v in split.sizes().items()))
    for note in split_notes(dataset, split):
        print(f"warning: {note}", file=sys.stderr)
    if args.recordings:
        from core.conditions import FIT_CONDITIONS

        print(f"re-recording {len(split.train)} training files {len(FIT_CONDITIONS)} ways "
              f"({', '.join(FIT_CONDITIONS)}) ...", flush=True)
    with training_recordings(dataset, split, enabled=args.recordings) as copies:
        return _train_families(args, families, dataset, split, copies, weights, fine_tune)


def _train_families(args: argparse.Namespace, families: list[str], dataset: Any, split: Any,
                    copies: dict[str, Any] | None, weights: str | None, fine_tune: bool) -> int:
    from core.train import skipped_note, train_family

    cache = None if args.no_cache else FeatureCache()
    failed = 0
    trained = {}
    for family in families:
        try:
            model = train_family(family, dataset, split, Path(args.out) / family, seed=args.seed,
                                 epochs=args.epochs, members=args.members,
                                 yamnet_handle=args.yamnet_handle,
                                 weights=weights if family == "vgg" else None,
                                 fine_tune=fine_tune and family == "cnn", copies=copies,
                                 cache=cache, n_jobs=args.jobs, verbose=not args.quiet)
        except GenreLabError as exc:
            failed += 1
            print(f"error: {family}: {exc}", file=sys.stderr)
            continue
        print(f"{model.display_name} -> {Path(args.out) / family}: {_headline(model.metrics_)} "
              f"({_epochs(model.info_['epochs_run'])}, {model.info_['train_seconds']:.1f} s)")
        if note := skipped_note(model):
            print(f"warning: {family}: {note}", file=sys.stderr)
        if "zero_shot" in model.metrics_:
            unmapped = model.metrics_["zero_shot"].get("unmapped_genres")
            print(f"YAMNet zero-shot: {_headline(model.metrics_['zero_shot'])}"
                  + (f" (AudioSet has no class for {', '.join(unmapped)}: never predicted)"
                     if unmapped else ""))
        elif "zero_shot" in model.info_:
            print(f"YAMNet zero-shot: {model.info_['zero_shot']}")
        trained[family] = model
    if len(trained) > 1:
        from core.train import save_set_ensemble

        print(save_set_ensemble(trained, Path(args.out), dataset=dataset.name, split=split.name))
    elif trained:  # the set's ensemble, if it has one, was fitted on the model replaced
        from core.ensemble import Ensemble

        try:
            Ensemble.load(args.out, current=True)
        except ModelError as exc:
            print(f"warning: {exc}; until then `predict` combines the models by their "
                  "geometric mean", file=sys.stderr)
    return 1 if failed else 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from core.predict import load_models
    from core.provenance import held_out_notice
    from core.splits import make_split
    from core.train import evaluate_unseen

    if not args.split and args.fold:  # refused, not silently ignored
        raise UsageError("--fold picks a test fold of a --split (kfold or artist-3fold); without "
                         "--split every track a model did not train on is tested")
    loaded = load_models(args.models, yamnet_handle=args.yamnet_handle)
    if not loaded.models:
        raise ModelError("; ".join(loaded.errors.values()) or f"no models in {args.models}")
    dataset = load_dataset(args.data, args.layout)
    rows = None
    if args.split:
        rows = make_split(dataset, args.split, seed=args.seed, fold=args.fold).test
    errors = {name: message for name, message in loaded.errors.items() if name != "ensemble"}
    if loaded.ensemble_error:  # there is no fallback to score here
        errors["ensemble"] = f"not evaluated: {loaded.ensemble_error}"
    report: dict[str, Any] = {"data": str(args.data), "split": args.split or "all",
                              "models": {}, "errors": errors, "warnings": {}}
    cache = FeatureCache()
    for name, model in loaded.models.items():
        try:  # never on a track the model trained on (its trained_tracks.json)
            held, metrics = evaluate_unseen(model, dataset, rows, model_dir=loaded.folders.get(name),
                                            cache=cache, n_jobs=args.jobs)
        except GenreLabError as exc:
            report["errors"][name] = str(exc)
            continue
        report["models"][name] = {**metrics, "left_out_trained_tracks": held.excluded}
        if notice := held_out_notice(held, name, dataset.name):  # said of what was tested
            report["warnings"][name] = notice
    if loaded.ensemble is not None:
        _evaluate_ensemble(report, loaded, dataset, rows, cache, args.jobs)
    if args.format == "json":
        print(json.dumps(report, indent=2))
    else:
        for name, metrics in report["models"].items():
            print(f"{name}: {_headline(metrics)}; {_counts(metrics)}")
        if ens := report.get("ensemble"):
            best = ens["best_member"]
            print(f"ensemble: {_headline({'track': ens['track']})}; {ens['track']['n']} tracks "
                  f"every member never trained on; best single answer there: {best} "
                  f"{ens['members'][best]['accuracy']:.3f}; \"uncertain\" for "
                  f"{ens['uncertain_share']:.0%}")
        unreadable = dict.fromkeys(f for m in report["models"].values()
                                   for f in m.get("skipped_files") or [])
        if unreadable:  # the same files for every model: said once, each with its reason
            many = len(unreadable) != 1
            print(f"warning: {len(unreadable)} file{'s' if many else ''} could not be read and "
                  f"{'were' if many else 'was'} left out:", file=sys.stderr)
            for message in unreadable:
                print(f"  {message}", file=sys.stderr)
        for name, message in report["warnings"].items():
            print(f"warning: {name}: {message}", file=sys.stderr)
        for name, message in report["errors"].items():
            print(f"error: {name}: {message}", file=sys.stderr)
    return 1 if report["errors"] and not report["models"] else 0


def _evaluate_ensemble(report: dict[str, Any], loaded: ModelSet, dataset: Dataset,
                       rows: np.ndarray | None, cache: FeatureCache, n_jobs: int) -> None:
    """The set's fitted ensemble on the tracks none of its members trained on, into ``report``
    (``ensemble``, or why not in ``errors``)."""
    from core.train import evaluate_set_ensemble

    try:
        _, report["ensemble"] = evaluate_set_ensemble(
            loaded.models, loaded.ensemble, dataset, rows, model_dirs=loaded.folders,
            cache=cache, n_jobs=n_jobs)
    except GenreLabError as exc:
        report["errors"]["ensemble"] = str(exc)


def _epochs(n: int) -> str:
    return f"{n} epoch{'s' if n != 1 else ''}"


def _counts(metrics: dict[str, Any]) -> str:
    """How many tracks an evaluation counted, and what it could not use."""
    n = (metrics.get("track") or {}).get("n")
    text = f"{n} tracks" if n is not None else "tracks: unknown"
    if skipped := metrics.get("skipped_tracks"):
        text += f" ({skipped} unreadable, left out)"
    return text


def cmd_predict(args: argparse.Namespace) -> int:
    from core.audio import decode_audio, header_seconds, middle_offset
    from core.config import FEATURE_SR
    from core.ensemble import ZERO_SHOT_MEMBER
    from core.explain import explain_prediction
    from core.predict import load_models, predict_decoded

    loaded = load_models(args.models, yamnet_handle=args.yamnet_handle)
    if not loaded.models:  # one line saying why
        raise ModelError("no usable models" + (f" in {args.models}" if args.models else "")
                         + "".join(f"; {n}: {m}" for n, m in loaded.errors.items()
                                   if n != "ensemble"))
    for name, message in loaded.errors.items():
        print(f"warning: model {name} unavailable: {message}", file=sys.stderr)
    for name, model in loaded.models.items():
        for message in model.warnings_:
            print(f"warning: model {name}: {message}", file=sys.stderr)
    if loaded.genre_note:
        print(f"warning: {loaded.genre_note}", file=sys.stderr)
    results, failures = [], 0
    for file in args.files:
        try:  # decoded here, once: the explanations need the waveform too
            seconds = getattr(args, "max_seconds", None)  # the middle, as `tag` reads it
            offset = middle_offset(header_seconds(file), seconds) if seconds else 0.0
            decoded = decode_audio(file, sr=FEATURE_SR, offset=offset, duration=seconds)
            prediction = predict_decoded(loaded.models, decoded, ensemble=loaded.ensemble)
            if args.explain:
                explained = explain_prediction(loaded.models, prediction, decoded.y, decoded.sr,
                                               ensemble=loaded.ensemble)
        except GenreLabError as exc:
            failures += 1
            print(f"error: {exc}", file=sys.stderr)
            continue
        for note in prediction.notes:
            print(f"warning: {note}", file=sys.stderr)
        for name, message in prediction.errors.items():
            print(f"warning: {name} failed on {Path(file).name}: {message}", file=sys.stderr)
        results.append(prediction.to_dict(file))
        if args.explain:
            results[-1]["explanations"] = {n: [e.to_dict() for e in found]
                                           for n, found in explained.items()}
    if args.format == "json":
        print(json.dumps(results if len(args.files) > 1 else (results[0] if results else []),
                         indent=2))
    else:
        for result in results:
            models = result["models"]
            cells = [f"{n}={m['genre']} ({max(m['probabilities'].values()):.2f})"
                     for n, m in models.items() if "genre" in m]
            cells += [f"{n}{ZERO_SHOT_MEMBER}={m['zero_shot']['genre']} "  # ensemble members
                      f"({max(m['zero_shot']['probabilities'].values()):.2f})"
                      for n, m in models.items() if "zero_shot" in m and loaded.ensemble
                      and n + ZERO_SHOT_MEMBER in loaded.ensemble.models]
            ens = result["ensemble"]
            tail = f" | ensemble={ens['verdict']} ({ens['confidence']:.2f})" if ens else ""
            if ens and loaded.ensemble and ens.get("method") != "stacked":  # a member is missing
                tail += " [geometric mean: the fitted ensemble needs every model]"
            print(f"{Path(result['file']).name}: " + ", ".join(cells) + tail)
            for name, found in result.get("explanations", {}).items():
                for explanation in found:
                    print(f"  why ({name}): {explanation['summary']}")
    return 1 if failures else 0


def register(sub: argparse._SubParsersAction) -> None:
    from core.cli import _add_data_args as data_args
    from core.cli import _add_split_args as split_args
    from core.models import FAMILIES

    def handle_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument("--yamnet-handle", default=None,
                       help="YAMNet: bundled:yamnet-int8 (shipped), a TF Hub URL such as "
                            "https://tfhub.dev/google/yamnet/1, a SavedModel folder or a .tflite "
                            "file (default: $GENRELAB_YAMNET_HANDLE, else the one a head was "
                            "trained on, else bundled:yamnet-int8)")

    p = sub.add_parser("train", help="train model families and print their held-out metrics")
    data_args(p)
    p.add_argument("--models", default="mlp,cnn,yamnet",
                   help=f"comma-separated, any of: {','.join(FAMILIES)} (default: mlp,cnn,yamnet)")
    split_args(p, "random")
    handle_arg(p)
    p.add_argument("--epochs", type=positive_int, default=None,
                   help="maximum epochs (default per family)")
    p.add_argument("--weights", default=None, metavar="PATH",
                   help="vgg only: a local keras.applications VGG16/ResNet50 ImageNet weights file "
                        "(include_top=False; nothing is downloaded) instead of the shipped MSD VGG")
    p.add_argument("--fine-tune", action="store_true",
                   help="cnn only: fine-tune musicnn's back-end (its dense layers, from the "
                        "pretrained weights) with the genre layer instead of a linear probe on "
                        "the frozen network")
    p.add_argument("--recordings", action="store_true",
                   help="also train on every training file re-recorded (mp3 128 kbps, +-2 dB/octave "
                        "EQ, loud mastering: core/conditions.py), so answers depend less on how a "
                        "song was recorded; audio datasets only; the copies go to a temporary "
                        "folder (4x the training audio) while training")
    p.add_argument("--members", type=positive_int, default=None,
                   help="networks (consecutive seeds) averaged into each model; 1 trains fastest "
                        "(default per family: MLP 5, fine-tuned or from-scratch CNN 3, MFCC-CNN "
                        "3, others 1)")
    p.add_argument("--jobs", "-j", type=int, default=0,
                   help="feature worker processes (default 0: all cores)")
    p.add_argument("--no-cache", action="store_true",
                   help="do not read or fill the feature cache")
    p.add_argument("--out", required=True, help="folder to write <family>/ model folders into")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="evaluate saved models on a dataset")
    p.add_argument("--models", required=True,
                   help="a model set's folder (its model folders), or one model's folder")
    data_args(p)
    split_args(p, None)
    handle_arg(p)
    p.add_argument("--jobs", "-j", type=int, default=0,
                   help="feature worker processes (default 0: all cores)")
    p.add_argument("--format", choices=("json", "table"), default="table",
                   help="table (default) or json")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", help="classify audio files with every model")
    p.add_argument("--models", default=None,
                   help="a model set's folder, or one model's folder (default: the bundled set)")
    handle_arg(p)
    p.add_argument("--format", choices=("json", "table"), default="table",
                   help="table (default) or json: one object for one FILE, a list of objects for "
                        "several (a file that fails is left out and named on stderr)")
    p.add_argument("--max-seconds", type=positive_float, default=None, metavar="N",
                   help="classify the middle N seconds of each file, as `tag --max-seconds` "
                        "does (a song over the 15-minute limit, or a quicker answer; default: "
                        "the whole file)")
    p.add_argument("--explain", action="store_true",
                   help="also say why: the features (MFCC-MLP), spectrogram regions (mel-CNN) "
                        "and tags (pretrained encoders) behind each answer, and each model's "
                        "contribution to the ensemble's (a few seconds per song)")
    p.add_argument("files", nargs="+", metavar="FILE", help="audio files (wav, flac, ogg, opus, "
                                                           "mp3, aiff, au)")
    p.set_defaults(func=cmd_predict)
