"""Rebuild the research families' model set in assets/leaderboard/ and every leaky-protocol figure.

Usage: python tools/build_leaderboard_models.py [--shared ../shared] [--families logreg,...]
       [--no-leaky] [--stale-only]

The leaderboard (Compare page, ``python -m core leaderboard``) ranks models tested on the same
held-out tracks. This tool trains the families the research tried and the product does not ship
as defaults (logistic regression, LightGBM, the LSTM and 2-D CNN on MFCCs, VGG transfer) on the
bundled set's own artist-disjoint split (:func:`build_bundled_models.bundled_split`: all the GTZAN
audio in ../shared, 129 test files), each with its family's defaults, exactly as
``python -m core train`` trains. So the embedded default's leaderboard compares all eight
families on one test set, no training needed.

Then, for every model of both sets (assets/models and assets/leaderboard), it runs the leaky
"segments" protocol (:func:`core.leaderboard.run_leaky`: the same family trained and tested on a
random split of 3-s segments that ignores songs) on the same audio and saves it beside the model
as ``leaky.json``, so each row shows its honest and its leaky figure side by side; and times each
model end to end (:func:`core.leaderboard.run_timing`, ``timing.json``). Both only add files
beside a model; no model is changed. ``--stale-only`` trains nothing and measures only the models
whose ``timing.json`` or ``leaky.json`` is missing or was measured for other weights (after
``build_bundled_models.py`` has rebuilt the bundled set, say).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from build_bundled_models import OUT as BUNDLED  # noqa: E402
from build_bundled_models import bundled_split, gtzan_audio  # noqa: E402

from core.cache import FeatureCache  # noqa: E402
from core.leaderboard import read_leaky, read_timing, run_leaky, run_timing  # noqa: E402
from core.registry import list_models, read_metadata  # noqa: E402
from core.train import parse_families, train_family  # noqa: E402

OUT = ROOT / "assets" / "leaderboard"
#: The research's families that the bundled default set does not ship.
RESEARCH_FAMILIES = ("logreg", "boosting", "lstm", "mfcc-cnn", "vgg")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--families", default=",".join(RESEARCH_FAMILIES))
    parser.add_argument("--no-leaky", action="store_true",
                        help="skip the leaky-protocol runs (models are still timed end to end)")
    parser.add_argument("--stale-only", action="store_true",
                        help="train nothing; time and leaky-run only the models whose figures "
                             "are missing or were measured for other weights")
    args = parser.parse_args()
    if args.stale_only and args.families != parser.get_default("families"):
        parser.error("--stale-only trains nothing; --families does not apply")
    warnings.simplefilter("ignore")
    audio = gtzan_audio(args.shared)
    split = bundled_split(audio)
    cache = FeatureCache()
    print(f"{audio.name}: {len(audio.manifest)} files; split {split.name}: {split.sizes()}")
    for family in () if args.stale_only else parse_families(args.families):
        model = train_family(family, audio, split, OUT / family, cache=cache)
        track = model.metrics_["track"]
        print(f"{family}: accuracy {track['accuracy']:.3f} ({track['accuracy_ci'][0]:.2f}-"
              f"{track['accuracy_ci'][1]:.2f}), macro-F1 {track['macro_f1']:.3f}, "
              f"{model.info_['train_seconds']:.1f} s", flush=True)
    failed = 0
    folders = [*list_models(BUNDLED), *list_models(OUT)]
    for folder in folders:
        try:
            if args.stale_only and read_timing(folder, read_metadata(folder)) is not None:
                continue
            timing = run_timing(folder)
        except Exception as exc:  # one model's failure must not end the run
            failed += 1
            print(f"timing {folder.name}: error: {exc}", file=sys.stderr)
        else:
            print(f"timing {folder.parent.name}/{folder.name}: {timing['ms_per_3s']:.1f} ms per 3 s "
                  "of audio, end to end", flush=True)
    if args.no_leaky:
        return 1 if failed else 0
    for folder in folders:
        try:
            saved = read_leaky(folder)
            if args.stale_only and saved is not None and (
                    saved.get("weights_sha256") == read_metadata(folder).get("weights_sha256")):
                continue
            result = run_leaky(folder, audio, cache=cache)
        except Exception as exc:  # one model's failure must not end the run
            failed += 1
            print(f"leaky {folder.name}: error: {exc}", file=sys.stderr)
            continue
        segment = result.get("segment") or {}
        print(f"leaky {folder.parent.name}/{folder.name}: " + (
            f"{segment['accuracy']:.3f} on {segment.get('n')} test segments"
            if result["status"] == "ok" else f"n/a ({result.get('reason')})"), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
