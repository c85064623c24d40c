"""Pure table builders for the Compare and Report pages (no Streamlit)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from core.evaluation import interval_to_show
from core.registry import read_metadata, read_metrics

if TYPE_CHECKING:
    import numpy as np

    from core.cache import FeatureCache
    from core.datasets import Dataset
    from core.models.base import GenreModel


def load_saved(folder: Path) -> dict[str, Any]:
    """Metadata and saved metrics of one model folder."""
    return {"metadata": read_metadata(folder), **read_metrics(folder), "folder": folder}


def folder_size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def metrics_table(saved: dict[str, dict[str, Any]], level: str = "track") -> pd.DataFrame:
    """One row per model: accuracy, macro-F1, ROC-AUC, size, parameters, train and inference time.

    At ``level="segment"`` the count is of test segments (``test segments``) and no interval is
    given (:func:`core.evaluation.interval_to_show`).
    """
    count = "test segments" if level == "segment" else "test tracks"
    rows = []
    for name, entry in saved.items():
        metrics = entry.get("metrics", {})
        info = entry.get("info", {})
        m = metrics.get(level, {})
        inference = metrics.get("inference_ms_per_track")
        rows.append({
            "model": name,
            "family": entry["metadata"]["display_name"],
            "zero-shot": bool(entry["metadata"].get("config", {}).get("zero_shot")),
            "split": info.get("split", {}).get("name", ""),
            count: m.get("n"),
            "accuracy": m.get("accuracy"),
            "95% CI": _interval(interval_to_show(level, m)),
            "macro-F1": m.get("macro_f1"),
            "ECE": m.get("ece"),
            "ROC-AUC": m.get("roc_auc_ovr"),
            "size (MB)": round(folder_size_mb(entry["folder"]), 2),
            "parameters": info.get("parameters", 0),
            "train time (s)": round(info.get("train_seconds", 0.0), 1),
            "inference (ms/clip)": None if inference is None else round(inference, 3),
        })
    return pd.DataFrame(rows)


def display_table(table: pd.DataFrame, columns: list[str] | None = None) -> pd.DataFrame:
    """:func:`metrics_table` for reading: display names, accuracy with its interval in one
    cell, 3 decimals, and "n/a" (never "None" or "nan") where a number is missing."""
    from dashboard.palette import display_name

    shown = table.copy()
    shown["model"] = [display_name(m) for m in shown["model"]]
    accuracy = "accuracy"
    if "accuracy" in shown and "95% CI" in shown:
        shown["accuracy"] = [
            "n/a" if pd.isna(a) else f"{a:.3f}" + (f" ({ci})" if ci else "")
            for a, ci in zip(shown["accuracy"], shown["95% CI"], strict=True)]
        if shown["95% CI"].astype(bool).any():  # no interval anywhere: no "(95% CI)" heading
            accuracy = "accuracy (95% CI)"
        shown = shown.rename(columns={"accuracy": accuracy}).drop(columns="95% CI")
    for column in ("macro-F1", "ECE", "ROC-AUC"):
        if column in shown:
            shown[column] = ["n/a" if v is None or pd.isna(v) else f"{v:.3f}" for v in shown[column]]
    numbers = {"size (MB)": lambda v: f"{v:.2f}",  # "1.00", not "1"; "0.04 ms", not "0"
               "inference (ms/clip)": lambda v: f"{v:.1f}" if v >= 1 else f"{v:.2f}"}
    for column, text in numbers.items():
        if column in shown:
            shown[column] = ["n/a" if v is None or pd.isna(v) else text(float(v))
                             for v in shown[column]]
    for column in shown.columns:
        if shown[column].dtype == object:
            values = ["n/a" if v is None or (isinstance(v, float) and pd.isna(v)) else v
                      for v in shown[column]]
            if "n/a" in values and any(not isinstance(v, str) for v in values):
                values = [v if isinstance(v, str) else f"{v:g}" for v in values]
            shown[column] = values
        elif shown[column].isna().any():  # one type per column: all text then
            shown[column] = ["n/a" if pd.isna(v) else f"{v:g}" for v in shown[column]]
    if columns is not None:
        shown = shown[[(accuracy if c == "accuracy" else c) for c in columns
                       if c != "95% CI" and (accuracy if c == "accuracy" else c) in shown]]
    return shown


def _interval(ci: list[float] | None) -> str:
    return "" if not ci else f"{ci[0]:.2f}-{ci[1]:.2f}"


def percent_ci(metrics: dict[str, Any]) -> str:
    """``"62% (95% CI 54-70%)"`` for a metrics dict with ``accuracy`` (and ``accuracy_ci``)."""
    text = f"{metrics['accuracy']:.0%}"
    ci = metrics.get("accuracy_ci")
    return text + (f" (95% CI {ci[0]:.0%}-{ci[1]:.0%})" if ci else "")


def ensemble_row(entry: dict[str, Any]) -> dict[str, Any]:
    """A set's fitted ensemble (its :func:`ensemble_entry`) as a :func:`metrics_table` row."""
    m = entry["metrics"]["track"]
    return {"model": "ensemble", "family": "Ensemble (stacked)", "zero-shot": False,
            "split": entry["info"]["split"]["name"], "test tracks": m["n"],
            "accuracy": m["accuracy"], "95% CI": _interval(m.get("accuracy_ci")),
            "macro-F1": m["macro_f1"], "ECE": m.get("ece"), "ROC-AUC": m.get("roc_auc_ovr"),
            "size (MB)": entry["info"].get("size_mb"), "parameters": entry["info"].get("parameters")}


def calibration_note(saved: dict[str, dict[str, Any]], level: str = "track") -> str:
    """What an ECE in the table can be told apart from: ``" On 129 tracks a perfectly
    calibrated model ..."``, from the models' ``ece_calibrated`` metrics (empty without any)."""
    references = [(m["n"], m["ece_calibrated"]["median"])
                  for entry in saved.values()
                  if (m := entry.get("metrics", {}).get(level, {})).get("ece_calibrated")]
    if not references:
        return ""
    counts = sorted({n for n, _ in references})
    low, high = min(r for _, r in references), max(r for _, r in references)
    tracks = f"{counts[0]}" if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
    spread = f"{low:.2f}" if round(low, 2) == round(high, 2) else f"{low:.2f}-{high:.2f}"
    unit = "segments" if level == "segment" else "tracks"
    return (f" On {tracks} test {unit} even a perfectly calibrated model measures an ECE of "
            f"about {spread} (sampling noise), so an ECE at or below that cannot be told from "
            "perfect calibration.")


def ensemble_entry(folder: Path) -> dict[str, Any] | None:
    """The set's fitted ensemble shaped like :func:`load_saved`'s entries (None without one)."""
    from core.ensemble import Ensemble
    from core.errors import ModelError

    try:
        ensemble = Ensemble.load(folder, current=True)
    except ModelError:
        return None
    if ensemble is None or "track" not in ensemble.metrics:
        return None
    from core.provenance import test_keys
    from core.registry import read_metrics

    saved = [read_metrics(folder / m) for m in ensemble.folders]
    members = [test_keys(s.get("metrics", {})) for s in saved]
    common = set.intersection(*members) if members and all(members) else set()
    entry = {"metadata": {"display_name": "Ensemble", "genres": ensemble.genres},
             "metrics": {"track": ensemble.metrics["track"],
                         **{k: ensemble.metrics[k] for k in ("uncertain_share",
                                                             "accuracy_when_confident")
                            if k in ensemble.metrics}},
             "info": {"split": {"name": ensemble.fitted_on.get("split", "")},
                      # what it runs: its model folders together, as the leaderboard counts it
                      "parameters": sum(s.get("info", {}).get("parameters") or 0 for s in saved),
                      "size_mb": round(sum(folder_size_mb(folder / m)
                                           for m in ensemble.folders), 2)},
             "folder": folder}
    if common:  # tested on the test tracks every member has
        entry["test_keys"] = frozenset(common)
    return entry


def set_ensembles(sets: dict[str, Path]) -> dict[str, dict[str, Any]]:
    """Each set's fitted ensemble (:func:`ensemble_entry`), named as the Compare page names the
    set's models: ``ensemble``, or ``<set>/ensemble`` when several sets are shown."""
    entries = {}
    for name, folder in sets.items():
        entry = ensemble_entry(folder)
        if entry is not None:
            entries["ensemble" if len(sets) == 1 else f"{name}/ensemble"] = entry
    return entries


def per_genre_table(saved: dict[str, dict[str, Any]], level: str = "track") -> pd.DataFrame:
    """Long table: model, genre, recall (the genre's accuracy), precision, f1, support."""
    rows = []
    for name, entry in saved.items():
        per_genre = entry.get("metrics", {}).get(level, {}).get("per_genre", {})
        for genre, values in per_genre.items():
            rows.append({"model": name, "genre": genre, **values})
    return pd.DataFrame(rows, columns=["model", "genre", "precision", "recall", "f1", "support"])


def top_confusions(matrix: list[list[int]], genres: list[str], k: int = 3
                   ) -> list[tuple[str, str, float, int, int]]:
    """The ``k`` largest off-diagonal shares: (true genre, predicted genre, share of the true
    genre's songs, how many songs, of how many)."""
    pairs = []
    for i, row in enumerate(matrix):
        total = sum(row)
        for j, count in enumerate(row):
            if i != j and count and total:
                pairs.append((genres[i], genres[j], count / total, int(count), int(total)))
    return sorted(pairs, key=lambda p: (p[2], p[3]), reverse=True)[:k]


def tested_on(entry: dict[str, Any], level: str = "track") -> frozenset[Any]:
    """What a saved (or re-evaluated) model was tested on, comparable between models."""
    from core.provenance import signature

    if entry.get("test_keys"):
        return frozenset(entry["test_keys"])
    return signature(entry.get("metrics", {}),
                     entry.get("info", {}).get("split", {}).get("name", ""))


def tested_alike(saved: dict[str, dict[str, Any]]) -> list[list[str]]:
    """Models grouped by the test tracks they were tested on, the largest group first."""
    groups: dict[frozenset[Any], list[str]] = {}
    for name, entry in saved.items():
        groups.setdefault(tested_on(entry), []).append(name)
    return sorted(groups.values(), key=len, reverse=True)


def mistakes(entry: dict[str, Any]) -> pd.DataFrame:
    """Test tracks the model got wrong, most confident first."""
    tracks = pd.DataFrame(entry.get("metrics", {}).get("test_tracks", []))
    if tracks.empty:
        return tracks
    wrong = tracks[tracks["true"] != tracks["predicted"]]
    return wrong.sort_values("confidence", ascending=False).reset_index(drop=True)


HELD_OUT = "held-out tracks"


def evaluate_saved(saved: dict[str, dict[str, Any]], data: str, layout: str, split: str | None,
                   fold: int, seed: int, yamnet_handle: str | None,
                   ensembles: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Evaluate saved models on a dataset's tracks they never trained on, one by one, and
    each set's fitted ensemble (``ensembles``: :func:`set_ensembles`) on the tracks none of its
    members trained on.

    ``split`` None takes every track of the dataset, else that split's test side; either way,
    tracks a model trained on are left out of its evaluation (:func:`core.provenance.held_out_rows`).

    Returns ``{"label", "labels": {model: label}, "metrics": {model: metrics}, "errors":
    {model: message}, "warnings": {model: message}, "keys": {model: tracks}}``; a model that
    cannot be evaluated (other genres, YAMNet unreachable, no unseen tracks...) is reported,
    not fatal.
    """
    from core.cache import FeatureCache
    from core.datasets import load_dataset
    from core.errors import GenreLabError
    from core.provenance import held_out_notice, track_key
    from core.registry import load_model
    from core.splits import make_split
    from core.train import evaluate_unseen

    dataset = load_dataset(data, layout)
    m = dataset.manifest
    rows = None
    label = (f"{dataset.name}, tracks each model never trained on (matched by genre and path in "
             "the genre folder)")
    if split is not None:
        chosen = make_split(dataset, split, seed=seed, fold=fold)
        rows, label = chosen.test, f"{dataset.name}, {chosen.name} test tracks"
    out: dict[str, Any] = {"label": label, "labels": {}, "metrics": {}, "errors": {},
                           "warnings": {}, "keys": {}}
    cache = FeatureCache()
    loaded: dict[Path, Any] = {}  # each folder loaded once, for its model and its set's ensemble

    def model_in(folder: Path) -> Any:
        if folder not in loaded:
            loaded[folder] = load_model(folder, yamnet_handle=yamnet_handle)
        return loaded[folder]

    def keys_of(chosen_rows: Any) -> frozenset[Any]:
        return frozenset(track_key(m["label"].iloc[r], m["track_id"].iloc[r], m["path"].iloc[r])
                         for r in chosen_rows)

    for name, entry in saved.items():
        try:  # never on a track the model trained on
            held, out["metrics"][name] = evaluate_unseen(
                model_in(Path(entry["folder"])), dataset, rows, model_dir=entry["folder"],
                cache=cache)
        except GenreLabError as exc:
            out["errors"][name] = str(exc)
            continue
        if notice := held_out_notice(held, name, dataset.name):  # said of what was tested
            out["warnings"][name] = notice
        out["labels"][name] = f"{label} ({len(held.rows)} of {len(held.rows) + held.excluded})"
        out["keys"][name] = keys_of(held.rows)
    for name, entry in (ensembles or {}).items():
        try:
            common, metrics = _evaluate_ensemble_entry(entry, dataset, rows, model_in, cache)
        except GenreLabError as exc:
            out["errors"][name] = str(exc)
            continue
        out["metrics"][name] = {"track": metrics["track"]}
        total = len(m) if rows is None else len(rows)  # labelled as its members are
        out["labels"][name] = f"{label} ({len(common)} of {total})"
        out["keys"][name] = keys_of(common)
    return out


def _evaluate_ensemble_entry(entry: dict[str, Any], dataset: Dataset, rows: np.ndarray | None,
                             model_in: Callable[[Path], GenreModel], cache: FeatureCache
                             ) -> tuple[np.ndarray, dict[str, Any]]:
    """A set's fitted ensemble on the rows none of its members trained on: (rows, metrics)."""
    from core.ensemble import Ensemble
    from core.errors import ModelError
    from core.train import evaluate_set_ensemble

    folder = Path(entry["folder"])
    ensemble = Ensemble.load(folder, current=True)
    if ensemble is None:
        raise ModelError(f"{folder} has no fitted ensemble")
    models = {member: model_in(folder / member) for member in ensemble.folders}
    return evaluate_set_ensemble(models, ensemble, dataset, rows,
                                 model_dirs={m: folder / m for m in ensemble.folders}, cache=cache)


def with_evaluation(saved: dict[str, dict[str, Any]], evaluation: dict[str, Any]
                    ) -> dict[str, dict[str, Any]]:
    """Saved entries whose metrics are replaced by a re-evaluation (models it covered only)."""
    replaced = {}
    for name, entry in saved.items():
        if name in evaluation["metrics"]:
            label = evaluation.get("labels", {}).get(name, evaluation["label"])
            info = {**entry.get("info", {}), "split": {"name": label}}
            replaced[name] = {**entry, "metrics": evaluation["metrics"][name], "info": info}
            if name in evaluation.get("keys", {}):
                replaced[name]["test_keys"] = evaluation["keys"][name]
    return replaced
