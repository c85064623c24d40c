"""The ``leaderboard`` subcommand: saved models on one honest table, beside the research's figures.

``python -m core leaderboard --models DIR [DIR ...] --format table|json`` prints the
leaderboard of :mod:`core.leaderboard`. With ``--leaky --data PATH`` it first trains a copy of
each model on the research's leaky *segments* protocol (3-s segments split at random, ignoring
songs) on that dataset, saves the result as ``leaky.json`` in the model's folder and shows it in
the "leaky protocol" column. That protocol exists only here, never as a ``train --split``.

Exit codes: 0; 1 when a leaky run failed (the table is still printed); 2 for arguments that
cannot be used, a folder that is not a model folder or model set among them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from core.errors import GenreLabError, ModelError

EXIT_USAGE = 2


def _layout_of(folders: dict[str, Path]) -> str | None:
    """The layout the first model recorded for its dataset (None when none did)."""
    from core.registry import read_metrics

    for folder in folders.values():
        layout = ((read_metrics(folder).get("info") or {}).get("dataset") or {}).get("layout")
        if layout:
            return str(layout)
    return None


def _run_leaky(args: argparse.Namespace, folders: dict[str, Path]) -> int:
    """Train every model's leaky copy on ``args.data``; the number that failed."""
    from core.cache import FeatureCache
    from core.datasets import load_dataset
    from core.leaderboard import run_leaky

    layout = args.layout or _layout_of(folders)
    if layout is None:
        raise GenreLabError("the models record no dataset layout; give --layout")
    dataset = load_dataset(args.data, layout)
    cache = None if args.no_cache else FeatureCache()
    failed = 0
    for name, folder in folders.items():
        try:
            result = run_leaky(folder, dataset, seed=args.seed, epochs=args.epochs,
                               members=args.members, yamnet_handle=args.yamnet_handle,
                               cache=cache, n_jobs=args.jobs, verbose=not args.quiet)
        except Exception as exc:  # one model's failure must not end the run
            failed += 1
            print(f"error: {name}: segments protocol not run: {exc}", file=sys.stderr)
            continue
        if result["status"] == "ok":
            m = result["segment"]
            print(f"{name}: segments protocol on {dataset.name}: accuracy {m['accuracy']:.3f} "
                  f"on {m['n']} test segments ({result['tracks_on_both_sides']} songs with "
                  f"segments in training and test) -> {Path(folder) / 'leaky.json'}",
                  file=sys.stderr)
        else:
            print(f"{name}: segments protocol n/a: {result['reason']}", file=sys.stderr)
    return failed


def _run_timing(args: argparse.Namespace, folders: dict[str, Path]) -> int:
    """Time every model end to end (saved as ``timing.json``); the number that failed."""
    from core.leaderboard import run_timing

    failed = 0
    for name, folder in folders.items():
        try:
            result = run_timing(folder, yamnet_handle=args.yamnet_handle)
        except Exception as exc:  # one model's failure must not end the run
            failed += 1
            print(f"error: {name}: not timed: {exc}", file=sys.stderr)
            continue
        print(f"{name}: {result['ms_per_3s']:.1f} ms per 3 s of audio, end to end "
              f"-> {Path(folder) / 'timing.json'}", file=sys.stderr)
    return failed


def cmd_leaderboard(args: argparse.Namespace) -> int:
    from core.leaderboard import format_table, leaderboard, resolve_folders

    if args.leaky and not args.data:
        print("error: --leaky needs --data (the dataset to cut into segments)", file=sys.stderr)
        return EXIT_USAGE
    if args.data and not args.leaky:
        print("error: --data is used with --leaky only (the leaderboard itself reads the saved "
              "test metrics)", file=sys.stderr)
        return EXIT_USAGE
    try:
        folders, _ = resolve_folders(args.models)
        failed = _run_leaky(args, folders) if args.leaky else 0
        if args.timing:
            failed += _run_timing(args, folders)
        board = leaderboard(args.models)
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.format == "json":
        print(json.dumps(board.to_dict(), indent=2))
    else:
        print(format_table(board))
    return 1 if failed else 0


def register(sub: Any) -> None:
    from core.cli_models import non_negative_int, positive_int
    from core.datasets import LAYOUTS

    p = sub.add_parser("leaderboard",
                       help="saved models on one table (same test tracks), beside the research's "
                            "published figures; --leaky adds the leaky segments protocol")
    p.add_argument("--models", nargs="+", required=True, metavar="DIR",
                   help="model sets (folders of model folders) or model folders")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("--leaky", action="store_true",
                   help="also train a copy of each model on the research's leaky protocol: "
                        "3-s segments split at random 70/10/20 ignoring songs (saved as "
                        "leaky.json in each model folder)")
    p.add_argument("--timing", action="store_true",
                   help="first time each model end to end (decoded audio to probabilities, per 3 s "
                        "of audio; median of 5 calls on a 30-s clip), saved as timing.json")
    p.add_argument("--data", default=None, help="with --leaky: the dataset to cut into segments")
    p.add_argument("--layout", default=None, choices=list(LAYOUTS),
                   help="with --leaky: the dataset's layout (default: the one the models record)")
    p.add_argument("--seed", type=non_negative_int, default=0,
                   help="with --leaky: seed of the random split of segments (default 0)")
    p.add_argument("--epochs", type=positive_int, default=None,
                   help="with --leaky: maximum epochs (default: the model's own)")
    p.add_argument("--members", type=positive_int, default=None,
                   help="with --leaky: seeds averaged (default: the model's own)")
    p.add_argument("--yamnet-handle", default=None,
                   help="with --leaky or --timing: YAMNet for YAMNet heads")
    p.add_argument("--jobs", "-j", type=int, default=0, help="feature worker processes")
    p.add_argument("--no-cache", action="store_true")
    p.set_defaults(func=cmd_leaderboard)
