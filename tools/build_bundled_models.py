"""Rebuild GenreLab's bundled default models in assets/models/ and write their model cards.

Usage: python tools/build_bundled_models.py [--shared ../shared] [--only mlp,cnn,yamnet]
       [--cards-only]

- mlp: MFCC-MLP on the 1000-track GTZAN feature table, fault-filtered split.
- cnn: mel-CNN on the 400 GTZAN excerpts, artist-grouped 5-fold (fold 0).
- yamnet: zero-shot YAMNet (no trained weights), evaluated on the same excerpt fold with the int8
  YAMNet in shared/models (the product itself loads TF Hub's YAMNet by default).
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.cache import FeatureCache  # noqa: E402
from core.datasets import load_dataset  # noqa: E402
from core.models import YamnetEmbedding  # noqa: E402
from core.registry import read_metadata, read_metrics  # noqa: E402
from core.splits import make_split  # noqa: E402
from core.train import train_family  # noqa: E402

OUT = ROOT / "assets" / "models"


#: Per family: how to reproduce it, and what to know about it (shown in its model card).
CARDS = {
    "mlp": ("python tools/build_bundled_models.py --only mlp\n# or: python -m core train "
            "--data ../shared/data/gtzan/features_30_sec.csv --layout features-csv --models mlp "
            "--split fault-filtered --out models/",
            "Trained on whole-clip (30-s) features, so it classifies 30-s windows of a song. "
            "The fault-filtered split removes GTZAN's repeats and distortions and keeps "
            "artists apart (one published exception, see the README). Trained at random "
            "playback levels (+-20 dB), so a song mastered louder or quieter than GTZAN's "
            "clips is not read as another genre (see the README's playback-level figures)."),
    "cnn": ("python tools/build_bundled_models.py --only cnn\n# or: python -m core train "
            "--data ../shared/data/gtzan/excerpts --layout gtzan --models cnn --split kfold "
            "--epochs 120 --out models/",
            "Trained on 400 peak-normalised 2-3 s excerpts only (280-odd training tracks), and "
            "tested on artists it never heard: a small demonstration model; train on full GTZAN "
            "for a stronger one. Each 3-s segment is scaled to a peak of 1 before its "
            "spectrogram, so the answer does not depend on playback level: on these test tracks "
            "it scores the same at 0, -6, -12 and -20 dB (the previous bundled CNN, on absolute "
            "dB, fell from 0.42 to 0.29 at -20 dB)."),
    "yamnet": ("python tools/build_bundled_models.py --only yamnet",
               "Zero-shot: no trained weights. Each genre's score is the sum of YAMNet's AudioSet "
               "class scores mapped to it (see core/models/yamnet.py), normalised over the "
               "genres. Metrics were measured with the int8 YAMNet .tflite; at run time the model "
               "loads TF Hub's YAMNet v1 unless GENRELAB_YAMNET_HANDLE (or --yamnet-handle) "
               "names another handle."),
}


def card(family: str) -> None:
    """Write ``assets/models/<family>/MODEL_CARD.md`` from the saved model's metadata."""
    command, notes = CARDS[family]
    folder = OUT / family
    meta, metrics = read_metadata(folder), read_metrics(folder)
    m = metrics.get("metrics", {})
    info = metrics.get("info", {})
    members = meta.get("hyperparameters", {}).get("members", 1)
    lines = [f"# {meta['display_name']} (bundled default)", "",
             f"- Genres: {', '.join(meta['genres'])}",
             f"- Data: {info.get('dataset', {}).get('name', '?')} "
             f"({info.get('dataset', {}).get('layout', '?')})",
             f"- Split: {json.dumps(info.get('split', {}))}",
             f"- Parameters: {info.get('parameters', 0):,}"
             + (f" (the mean of {members} networks trained with consecutive seeds)"
                if meta["family"] != "yamnet" or info.get("parameters") else ""),
             f"- Created: {meta['created_at']} with {json.dumps(meta['libraries'])}", "",
             "## Held-out metrics (test tracks never seen in training or early stopping)", "",
             "| level | accuracy | macro-F1 | ROC-AUC (OvR) | n |", "|---|---|---|---|---|"]
    for level in ("segment", "track"):
        if level in m:
            r = m[level]
            auc = "n/a" if r["roc_auc_ovr"] is None else f"{r['roc_auc_ovr']:.3f}"
            lines.append(f"| {level} | {r['accuracy']:.3f} | {r['macro_f1']:.3f} | {auc} | {r['n']} |")
    if "track" in m:
        lines += ["", "Per-genre recall (track level): " + ", ".join(
            f"{g} {v['recall']:.2f}" for g, v in m["track"]["per_genre"].items())]
    lines += ["", "## Reproduce", "", f"```bash\n{command}\n```", "", notes, ""]
    (folder / "MODEL_CARD.md").write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shared", default=str(ROOT.parent / "shared"))
    parser.add_argument("--only", default="mlp,cnn,yamnet")
    parser.add_argument("--cards-only", action="store_true",
                        help="rewrite the model cards from the saved models, train nothing")
    args = parser.parse_args()
    shared = Path(args.shared)
    only = args.only.split(",")
    if args.cards_only:
        for family in only:
            card(family)
        return
    warnings.simplefilter("ignore")
    cache = FeatureCache()
    if "mlp" in only:
        table = load_dataset(shared / "data/gtzan/features_30_sec.csv", "features-csv")
        split = make_split(table, "fault-filtered")
        train_family("mlp", table, split, OUT / "mlp", seed=0)
        card("mlp")
    excerpts = load_dataset(shared / "data/gtzan/excerpts", "gtzan")
    split = make_split(excerpts, "kfold", fold=0)
    if "cnn" in only:
        train_family("cnn", excerpts, split, OUT / "cnn", seed=0, epochs=120, cache=cache)
        card("cnn")
    if "yamnet" in only:
        handle = str(shared / "models/yamnet-int8-embeddings.tflite")
        zero = YamnetEmbedding.zero_shot(list(excerpts.genres))
        zero.handle = handle
        zero.evaluate_zero_shot(excerpts, split, cache=cache)
        zero.handle = None  # the bundle resolves its handle at run time
        zero.save(OUT / "yamnet")
        card("yamnet")


if __name__ == "__main__":
    main()
