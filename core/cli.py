"""GenreLab's command line: ``python -m core <command> ...``.

Every user error ends in one ``error: ...`` line on stderr and a non-zero exit code, never a
traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from core.atomic import atomic_path, write_text_atomic
from core.cache import FeatureCache
from core.cli_models import positive_float
from core.datasets import LAYOUTS, load_dataset
from core.errors import GenreLabError, UsageError
from core.extract import extract_many
from core.features import FEATURE_KINDS, SUMMARY_COLUMNS, FeatureParams, segment_lengths
from core.splits import SPLIT_STRATEGIES, make_split, split_notes

EXIT_ERROR = 1
EXIT_USAGE = 2  # argparse's own code for a bad argument


def _add_data_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="dataset folder or feature table")
    parser.add_argument("--layout", required=True, choices=list(LAYOUTS),
                        help="how the dataset is laid out: " + "; ".join(
                            f"{k} = {v}" for k, v in LAYOUTS.items()))


def _add_split_args(parser: argparse.ArgumentParser, default: str | None = None) -> None:
    described = "; ".join(f"{k}: {v}" for k, v in SPLIT_STRATEGIES.items())
    parser.add_argument("--split", default=default, choices=list(SPLIT_STRATEGIES),
                        help=described.replace("%", "%%") + (
                            f" (default: {default})" if default else
                            " (default: none; every track a model did not train on is tested)"))
    parser.add_argument("--fold", type=int, default=0, help="test fold for kfold/artist-3fold")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")


def _add_peak_normalize_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--peak-normalize", action="store_true",
                        help="logmel/mfcc: scale each window to a peak of 1 first, as the mel-CNN "
                             "does (so `extract --kind logmel --segment 3 --peak-normalize` "
                             "fills its cache)")


def _segment_name(filename: str, index: int) -> str:
    """``blues.00000.wav``, 3 -> ``blues.00000.3.wav`` (the Kaggle 3-second table's naming)."""
    stem, dot, ext = filename.rpartition(".")
    return f"{stem}.{index}.{ext}" if dot else f"{filename}.{index}"


def cmd_features(args: argparse.Namespace) -> int:
    params = FeatureParams(kind=args.kind, segment_seconds=args.segment,
                           hop_seconds=args.hop, peak_normalize=args.peak_normalize)
    if args.format == "csv" and args.kind != "summary":
        raise UsageError(f"--format csv holds summary features only; use --format npz for "
                            f"{args.kind}")
    if args.output and Path(args.output).is_dir():
        raise UsageError(f"-o {args.output}: a folder is there; give a file name")
    cache = None if args.no_cache else FeatureCache()
    result = extract_many(args.files, params, cache=cache, n_jobs=args.jobs,
                          progress=not args.quiet and len(args.files) > 1)
    for _, message in sorted(result.errors.items()):
        print(f"error: {message}", file=sys.stderr)
    ok = [i for i in range(len(args.files)) if i not in result.errors]
    if args.format == "csv":
        rows = []
        for i in ok:
            name = Path(args.files[i]).name
            lengths = segment_lengths(result.n_samples[i], params)
            feats = result.features[i]
            for k, (length, values) in enumerate(zip(lengths, feats, strict=True)):
                fname = name if args.segment is None else _segment_name(name, k)
                rows.append([fname, int(length), *values.tolist()])
        table = pd.DataFrame(rows, columns=["filename", "length", *SUMMARY_COLUMNS])
        buffer = io.StringIO()
        table.to_csv(buffer, index=False)
        if args.output:
            write_text_atomic(args.output, buffer.getvalue())
        else:
            sys.stdout.write(buffer.getvalue())
    else:
        output = Path(args.output or "features.npz")
        arrays = {f"{k}:{Path(args.files[i]).name}": result.features[i]
                  for k, i in enumerate(ok)}
        with atomic_path(output, suffix=".npz") as tmp, open(tmp, "wb") as fh:
            np.savez(fh, params=json.dumps(params.to_dict()), **arrays)
        print(f"wrote {len(arrays)} feature arrays ({args.kind}) to {output}"
              + (f": {len(result.errors)} of {len(args.files)} files failed (above) and are not "
                 "in it" if result.errors else ""), file=sys.stderr)
    return EXIT_ERROR if result.errors else 0


def cmd_dataset(args: argparse.Namespace) -> int:
    dataset = load_dataset(args.data, args.layout)
    summary = dataset.summary()
    artists = bool((dataset.manifest["artist"] != "").any())
    print(f"{dataset.name} ({dataset.layout}): {len(dataset.manifest)} rows, "
          f"{dataset.manifest['track_id'].nunique()} tracks, {len(dataset.genres)} genres, "
          f"{dataset.manifest['group'].nunique()} split groups ("
          + ("artists: a split keeps each artist on one side)" if artists else
             "artists unknown: each track, with any copies of it, is its own group)"))
    print(summary.to_string())
    if args.output:
        write_text_atomic(args.output, dataset.manifest.to_csv(index=False))
        print(f"manifest written to {args.output}")
    return 0


def cmd_split(args: argparse.Namespace) -> int:
    dataset = load_dataset(args.data, args.layout)
    split = make_split(dataset, args.split, seed=args.seed, fold=args.fold)
    sizes = split.sizes()
    left_out = len(dataset.manifest) - sum(sizes.values())
    artists = bool((dataset.manifest["artist"] != "").any())
    print(f"split {split.name}: " + ", ".join(f"{k} {v}" for k, v in sizes.items())
          + f", left out {left_out}; no track on two sides"
          + (", no artist on two sides" if artists and not split.published else "")
          + ("" if artists else " (artists unknown: each track, with any copies of it, is its "
                                 "own group)"))
    for note in split_notes(dataset, split):
        print(f"warning: {note}", file=sys.stderr)
    if args.output:
        table = dataset.manifest[["track_id", "label", "group"]].copy()
        table["split"] = split.assignment(len(table))
        write_text_atomic(args.output, table[table["split"] != ""].to_csv(index=False))
        print(f"split written to {args.output}")
    return 0


def cmd_extract(args: argparse.Namespace) -> int:
    dataset = load_dataset(args.data, args.layout)
    paths = [p for p in dataset.manifest["path"] if p]
    if not paths:
        raise GenreLabError(f"{args.data}: a {args.layout} dataset holds no audio to extract from")
    params = FeatureParams(kind=args.kind, segment_seconds=args.segment,
                           peak_normalize=args.peak_normalize)
    start = time.perf_counter()
    result = extract_many(paths, params, cache=FeatureCache(), n_jobs=args.jobs,
                          progress=not args.quiet, description=f"{args.kind} features")
    seconds = time.perf_counter() - start
    audio_s = sum(result.n_samples) / params.sr
    print(f"{len(paths) - len(result.errors)} files, {audio_s / 60:.1f} min of audio in "
          f"{seconds:.1f} s ({audio_s / max(seconds, 1e-9):.0f}x real time), "
          f"{result.cache_hits} from cache, {len(result.errors)} failed")
    for message in result.errors.values():
        print(f"error: {message}", file=sys.stderr)
    return 0


def cmd_cache(args: argparse.Namespace) -> int:
    cache = FeatureCache()
    if args.action == "clear":
        print(f"removed {cache.clear()} cached feature files from {cache.features_dir}")
    else:
        count, size = cache.size()
        print(f"{cache.features_dir}: {count} entries, {size / 1e6:.1f} MB")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m core",
        description="GenreLab: music-genre features, datasets, leak-free splits and models.",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="let native libraries (decoders, TensorFlow) print their own logs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("features", help="compute features of audio files (summary CSV or npz)")
    p.add_argument("--kind", choices=FEATURE_KINDS, default="summary",
                   help="summary (default) = the 57 GTZAN table columns; logmel; mfcc")
    p.add_argument("--segment", type=positive_float, default=None, metavar="SECONDS",
                   help="cut each file into windows of this length (default: whole file)")
    p.add_argument("--hop", type=positive_float, default=None, metavar="SECONDS",
                   help="window hop (default: the window length)")
    p.add_argument("--format", choices=("csv", "npz"), default="csv", help="csv (default) or npz")
    p.add_argument("--output", "-o", default=None,
                   help="output file (default: stdout for csv, features.npz for npz)")
    p.add_argument("--jobs", "-j", type=int, default=1, help="worker processes (0 = all cores)")
    p.add_argument("--no-cache", action="store_true", help="do not read or fill the cache")
    _add_peak_normalize_arg(p)
    p.add_argument("files", nargs="+", metavar="FILE")
    p.set_defaults(func=cmd_features)

    p = sub.add_parser("dataset", help="read a dataset and summarise it (tracks per genre)")
    _add_data_args(p)
    p.add_argument("--output", "-o", help="write the manifest as CSV")
    p.set_defaults(func=cmd_dataset)

    p = sub.add_parser("split", help="make a leak-free split and show its sizes")
    _add_data_args(p)
    _add_split_args(p, default="random")
    p.add_argument("--output", "-o", help="write track_id,label,group,split as CSV")
    p.set_defaults(func=cmd_split)

    p = sub.add_parser("extract", help="extract features of a whole dataset into the cache")
    _add_data_args(p)
    p.add_argument("--kind", choices=FEATURE_KINDS, default="summary")
    p.add_argument("--segment", type=positive_float, default=None, metavar="SECONDS")
    p.add_argument("--jobs", "-j", type=int, default=0, help="worker processes (0 = all cores)")
    _add_peak_normalize_arg(p)
    p.set_defaults(func=cmd_extract)

    p = sub.add_parser("cache", help="show or clear the feature cache")
    p.add_argument("action", choices=("info", "clear"))
    p.set_defaults(func=cmd_cache)

    from core.cli_leaderboard import register as register_leaderboard
    from core.cli_library import register as register_library
    from core.cli_models import register

    register(sub)
    register_leaderboard(sub)
    register_library(sub)
    for command in sub.choices.values():  # also after the command: `predict -q song.mp3`
        command.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                             help="no progress bars")
        command.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                             help="let native libraries print their own logs")
    return parser




@contextlib.contextmanager
def _native_stderr_silenced(enabled: bool) -> Iterator[None]:
    """Send what C libraries write to file descriptor 2 (mpg123's stream warnings, TensorFlow's
    start-up logs) to /dev/null, while Python's ``sys.stderr`` (our messages, progress bars)
    keeps the terminal."""
    if not enabled:
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        yield
        return
    python_stderr = sys.stderr
    sys.stderr = os.fdopen(os.dup(saved), "w", buffering=1, errors="backslashreplace")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        sys.stderr.close()
        sys.stderr = python_stderr


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    parser = build_parser()
    args = parser.parse_args(argv)
    # TensorFlow's Python-side notes (e.g. "... triggered tf.function retracing") only with -v.
    logging.getLogger("tensorflow").setLevel(logging.WARNING if args.verbose else logging.ERROR)
    with _native_stderr_silenced(not args.verbose and argv is None):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("ignore", category=FutureWarning)
            warnings.simplefilter("always", category=UserWarning)
            try:
                return int(args.func(args))
            finally:
                for warning in caught:
                    if issubclass(warning.category, UserWarning):
                        print(f"warning: {warning.message}", file=sys.stderr)
    except UsageError as exc:  # arguments the parser let through that cannot be used
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except GenreLabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:  # the file system refused: a name too long, a folder, no permission
        where = str(exc.filename2 or exc.filename or "")  # os.replace: the target is filename2
        print(f"error: {where + ': ' if where else ''}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
