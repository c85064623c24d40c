"""Pure table builders for the Compare and Report pages (no Streamlit)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from core.registry import read_metadata, read_metrics


def load_saved(folder: Path) -> dict[str, Any]:
    """Metadata and saved metrics of one model folder."""
    return {"metadata": read_metadata(folder), **read_metrics(folder), "folder": folder}


def folder_size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def metrics_table(saved: dict[str, dict[str, Any]], level: str = "track") -> pd.DataFrame:
    """One row per model: accuracy, macro-F1, ROC-AUC, size, parameters, train and inference time."""
    rows = []
    for name, entry in saved.items():
        metrics = entry.get("metrics", {})
        info = entry.get("info", {})
        m = metrics.get(level, {})
        rows.append({
            "model": name,
            "family": entry["metadata"]["display_name"],
            "zero-shot": bool(entry["metadata"].get("config", {}).get("zero_shot")),
            "split": info.get("split", {}).get("name", ""),
            "test tracks": m.get("n"),
            "accuracy": m.get("accuracy"),
            "95% CI": _interval(m.get("accuracy_ci")),
            "macro-F1": m.get("macro_f1"),
            "ECE": m.get("ece"),
            "ROC-AUC": m.get("roc_auc_ovr"),
            "size (MB)": round(folder_size_mb(entry["folder"]), 2),
            "parameters": info.get("parameters", 0),
            "train time (s)": round(info.get("train_seconds", 0.0), 1),
            "inference (ms/clip)": round(metrics.get("inference_ms_per_track", float("nan")), 1),
        })
    return pd.DataFrame(rows)


def _interval(ci: list[float] | None) -> str:
    return "" if not ci else f"{ci[0]:.2f}-{ci[1]:.2f}"


def ensemble_row(folder: Path) -> dict[str, Any] | None:
    """The model set's fitted ensemble as a :func:`metrics_table` row (None without one)."""
    entry = ensemble_entry(folder)
    if entry is None:
        return None
    m = entry["metrics"]["track"]
    return {"model": "ensemble", "family": "Ensemble (stacked)", "zero-shot": False,
            "split": entry["info"]["split"]["name"], "test tracks": m["n"],
            "accuracy": m["accuracy"], "95% CI": _interval(m.get("accuracy_ci")),
            "macro-F1": m["macro_f1"], "ECE": m.get("ece"), "ROC-AUC": m.get("roc_auc_ovr")}


def ensemble_entry(folder: Path) -> dict[str, Any] | None:
    """The set's fitted ensemble shaped like :func:`load_saved`'s entries (None without one)."""
    from core.ensemble import Ensemble
    from core.errors import ModelError

    try:
        ensemble = Ensemble.load(folder)
    except ModelError:
        return None
    if ensemble is None or "track" not in ensemble.metrics:
        return None
    return {"metadata": {"display_name": "Ensemble", "genres": ensemble.genres},
            "metrics": {"track": ensemble.metrics["track"]},
            "info": {"split": {"name": ensemble.fitted_on.get("split", "")}}, "folder": folder}


def per_genre_table(saved: dict[str, dict[str, Any]], level: str = "track") -> pd.DataFrame:
    """Long table: model, genre, recall (the genre's accuracy), precision, f1, support."""
    rows = []
    for name, entry in saved.items():
        per_genre = entry.get("metrics", {}).get(level, {}).get("per_genre", {})
        for genre, values in per_genre.items():
            rows.append({"model": name, "genre": genre, **values})
    return pd.DataFrame(rows, columns=["model", "genre", "precision", "recall", "f1", "support"])


def top_confusions(matrix: list[list[int]], genres: list[str], k: int = 3) -> list[tuple[str, str, float]]:
    """The ``k`` largest off-diagonal shares: (true genre, predicted genre, share of true genre)."""
    pairs = []
    for i, row in enumerate(matrix):
        total = sum(row)
        for j, count in enumerate(row):
            if i != j and count and total:
                pairs.append((genres[i], genres[j], count / total))
    return sorted(pairs, key=lambda p: p[2], reverse=True)[:k]


def mistakes(entry: dict[str, Any]) -> pd.DataFrame:
    """Test tracks the model got wrong, most confident first."""
    tracks = pd.DataFrame(entry.get("metrics", {}).get("test_tracks", []))
    if tracks.empty:
        return tracks
    wrong = tracks[tracks["true"] != tracks["predicted"]]
    return wrong.sort_values("confidence", ascending=False).reset_index(drop=True)


def evaluate_saved(saved: dict[str, dict[str, Any]], data: str, layout: str, split: str | None,
                   fold: int, seed: int, yamnet_handle: str | None) -> dict[str, Any]:
    """Evaluate saved models on a dataset's test split (or all its tracks), one by one.

    Returns ``{"label": ..., "metrics": {model: metrics}, "errors": {model: message}}``; a model
    that cannot be evaluated (other genres, YAMNet unreachable...) is reported, not fatal.
    """
    from core.cache import FeatureCache
    from core.datasets import load_dataset
    from core.errors import GenreLabError
    from core.registry import load_model
    from core.splits import make_split
    from core.train import evaluate_model

    dataset = load_dataset(data, layout)
    rows = None
    label = f"all of {dataset.name}"
    if split is not None:
        chosen = make_split(dataset, split, seed=seed, fold=fold)
        rows, label = chosen.test, f"{dataset.name}, {chosen.name} test tracks"
    out: dict[str, Any] = {"label": label, "metrics": {}, "errors": {}}
    for name, entry in saved.items():
        try:
            model = load_model(entry["folder"], yamnet_handle=yamnet_handle)
            out["metrics"][name] = evaluate_model(model, dataset, rows, cache=FeatureCache())
        except GenreLabError as exc:
            out["errors"][name] = str(exc)
    return out


def with_evaluation(saved: dict[str, dict[str, Any]], evaluation: dict[str, Any]
                    ) -> dict[str, dict[str, Any]]:
    """Saved entries whose metrics are replaced by a re-evaluation (models it covered only)."""
    replaced = {}
    for name, entry in saved.items():
        if name in evaluation["metrics"]:
            info = {**entry.get("info", {}), "split": {"name": evaluation["label"]}}
            replaced[name] = {**entry, "metrics": evaluation["metrics"][name], "info": info}
    return replaced
