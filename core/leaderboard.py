"""One honest leaderboard: every saved model on the same held-out tracks, beside the research.

:func:`leaderboard` reads saved model folders (``metadata.json`` + ``metrics.json``, see
:mod:`core.registry`) and makes one row per model: accuracy at track level with its 95%
interval, macro-F1, parameters, train time and inference time per segment, exactly as
saved when the model was trained and tested. Models are compared only when they were tested on
the same split *and* the same test tracks (:func:`core.provenance.signature`); the others are
kept but flagged (``comparable: False``), never silently ranked beside them.

:data:`PUBLISHED` holds the figures the reports GenreLab grew out of published, with their
protocol and whether it leaks. The usual leak is the **segments** protocol: cut every song into
3-s segments, then split the segments at random, so segments of one song sit in training and in
test. :func:`leaky_segment_score` reproduces it for any family (and nowhere else: it is not a
split strategy of :mod:`core.splits`, whose every split is checked for leaks, nor a ``train``
choice), so a user sees the same model's leaky and honest figures side by side. Its results are
saved as ``leaky.json`` in the model folder (atomically; a retrain replaces the folder and so
drops a stale result).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from core.errors import DatasetError, ModelError, ParameterError

if TYPE_CHECKING:
    from core.splits import Split

LEAKY = "leaky.json"
#: A model folder's end-to-end inference timing (:func:`run_timing`).
TIMING = "timing.json"
LEAKY_PROTOCOL = "segments"
LEAKY_DESCRIPTION = ("the research's protocol: every input row (a 3-s segment) is an "
                     "independent example, split at random 70/10/20 ignoring tracks, so "
                     "segments of one song are in training and in test")

__all__ = ["LEAKY", "LEAKY_PROTOCOL", "PUBLISHED", "Leaderboard", "PublishedResult",
           "format_table", "leaderboard", "leaky_segment_score", "leaky_split", "read_leaky",
           "resolve_folders", "run_leaky", "segments_as_tracks"]


# --------------------------------------------------------------------------- published figures
@dataclass(frozen=True)
class PublishedResult:
    """A figure one of the research reports published, with its protocol.

    Attributes
    ----------
    model : str
        What the report trained.
    family : str
        The GenreLab family that corresponds to it.
    accuracy : tuple of float
        ``(low, high)``; equal for a single figure.
    dataset, protocol : str
        ``protocol`` says "not stated" where the report does not say how it split.
    leaks : bool or None
        None where the protocol is unknown.
    why : str
        One line: why it leaks, or does not, or why we cannot tell.
    """

    model: str
    family: str
    accuracy: tuple[float, float]
    dataset: str
    protocol: str
    leaks: bool | None
    why: str

    @property
    def accuracy_text(self) -> str:
        low, high = self.accuracy
        return f"{low:.2f}" if low == high else f"{low:.2f}-{high:.2f}"

    @property
    def leaks_text(self) -> str:
        return {True: "yes", False: "no", None: "unknown"}[self.leaks]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "accuracy": list(self.accuracy), "accuracy_text": self.accuracy_text,
                "leaks_text": self.leaks_text}


_SEGMENT_LEAK = "3-s segments of one song land on both sides of the split"
_NOT_STATED = "not stated in the report"
_UNKNOWN_WHY = "the report does not say how it split, so whether it leaks is unknown"

#: The research's published figures (issue #14), each on its own protocol.
PUBLISHED: tuple[PublishedResult, ...] = (
    PublishedResult("MLP with dropout on features_3_sec", "mlp", (0.93, 0.93), "GTZAN",
                    "random split of the 3-s feature rows", True,
                    _SEGMENT_LEAK + " (and their features are nearly identical)"),
    PublishedResult("LightGBM / XGBoost on features_3_sec", "boosting", (0.90, 0.90), "GTZAN",
                    "random split of the 3-s feature rows", True, _SEGMENT_LEAK),
    PublishedResult("LSTM on MFCC sequences", "lstm", (0.80, 0.80), "GTZAN",
                    "random split of 3-s segments", True, _SEGMENT_LEAK),
    PublishedResult("ResNet18 transfer (ImageNet)", "vgg", (0.78, 0.78), "GTZAN", _NOT_STATED,
                    None, _UNKNOWN_WHY),
    PublishedResult("VGG16 transfer on mel spectrograms (3-s snippets)", "vgg", (0.75, 0.75),
                    "GTZAN", "random split of 3-s snippets", True,
                    "snippets of one song land in training and in test"),
    PublishedResult("2-D CNN on MFCCs", "mfcc-cnn", (0.63, 0.70), "GTZAN", _NOT_STATED, None,
                    _UNKNOWN_WHY),
    PublishedResult("VGG16", "vgg", (0.66, 0.66), "GTZAN", _NOT_STATED, None, _UNKNOWN_WHY),
    PublishedResult("dense network on MFCCs", "mlp", (0.45, 0.45), "FMA-small",
                    "FMA-small's official split", False,
                    "the official split is artist-disjoint: no song or artist on two sides"),
    PublishedResult("VGG16", "vgg", (0.43, 0.43), "FMA-small", "FMA-small's official split",
                    False, "the official split is artist-disjoint: no song or artist on two sides"),
)


def published_table() -> pd.DataFrame:
    """:data:`PUBLISHED` as a table (one row per figure)."""
    return pd.DataFrame([{"model": p.model, "family": p.family, "accuracy": p.accuracy_text,
                          "dataset": p.dataset, "protocol": p.protocol, "leaks": p.leaks_text,
                          "why": p.why} for p in PUBLISHED])


# --------------------------------------------------------------------------- saved models
def resolve_folders(directories: Sequence[str | os.PathLike[str]]
                    ) -> tuple[dict[str, Path], dict[str, Path]]:
    """Model folders and model-set folders named by ``directories``.

    Each directory is one model folder (it holds ``metadata.json``) or a model set (a folder of
    model folders, perhaps with an ``ensemble.json``). Models are named by their folder, prefixed
    by their set's when several directories are given (``run-1/cnn``).

    Returns
    -------
    models : dict of str to Path
    sets : dict of str to Path
        Set folders by name (where an ensemble may be).

    Raises
    ------
    ModelError
        A directory that does not exist or holds no model, or two models of one name.
    """
    from core.registry import model_folders

    if not directories:
        raise ModelError("no model folders given")
    models: dict[str, Path] = {}
    sets: dict[str, Path] = {}
    several = len(directories) > 1
    for directory in directories:
        root = Path(directory)
        if not root.is_dir():
            raise ModelError(f"{root}: no such model folder")
        found = {p.name: p for p in model_folders(root)}
        if not found:
            raise ModelError(f"{root}: no saved models in it (a folder of model folders, "
                             "or one model folder with metadata.json)")
        if root not in found.values():
            sets[root.name] = root
        for name, folder in found.items():
            label = f"{root.name}/{name}" if several and folder != root else name
            if label in models:
                raise ModelError(f"two models are named {label!r}; give folders of other names")
            models[label] = folder
    return models, sets


def _segment_seconds(metadata: Mapping[str, Any]) -> float | None:
    """Length in seconds of one input row of a saved model, where its config records it."""
    config = metadata.get("config") or {}
    for source in (config, config.get("features") or {}):
        seconds = source.get("segment_seconds")
        if isinstance(seconds, int | float) and seconds > 0:
            return float(seconds)
    if metadata.get("family") == "cnn" and config.get("encoder"):
        return 3.0  # musicnn's own patches: 187 frames of hop 256 at 16 kHz, 2.99 s
    return None


def inference_ms_per_segment(metrics: Mapping[str, Any], info: Mapping[str, Any]
                             ) -> tuple[float | None, str]:
    """Milliseconds the network takes per input row (one segment), and where the figure comes from.

    What it measures: the wall time :meth:`~core.models.base.GenreModel.fit` took to predict
    the test rows in one batch, divided by their number; inputs are precomputed, so feature
    extraction and pretrained encoders (musicnn, YAMNet) are not in it. Models saved before
    ``inference_ms_per_segment`` was recorded have ``inference_ms_per_track`` over the same
    wall time; times their test tracks over their test segments it is the same figure exactly
    (``"derived"``).

    Returns
    -------
    ms : float or None
        None when neither figure (or the counts) was saved.
    source : str
        ``"measured"``, ``"derived"`` or ``"not saved"``.
    """
    if metrics.get("inference_ms_per_segment") is not None:
        return float(metrics["inference_ms_per_segment"]), "measured"
    per_track = metrics.get("inference_ms_per_track")
    tracks = (metrics.get("track") or {}).get("n")
    segments = (info.get("segments") or {}).get("test")
    if per_track is None or not tracks or not segments:
        return None, "not saved"
    return float(per_track) * int(tracks) / int(segments), "derived"


def read_leaky(folder: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The saved leaky-protocol result of a model folder (None when absent or unreadable)."""
    try:
        result = json.loads((Path(folder) / LEAKY).read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return result if isinstance(result, dict) and result.get("protocol") == LEAKY_PROTOCOL else None


def _leaky_cell(result: dict[str, Any] | None, metadata: Mapping[str, Any]) -> dict[str, Any] | None:
    """What a row shows of its leaky result (None when never computed, or computed for another
    version of the model)."""
    if result is None:
        return None
    if result.get("weights_sha256") != metadata.get("weights_sha256"):
        return None  # computed for a model this folder no longer holds
    cell = {k: result.get(k) for k in ("status", "reason", "short", "dataset", "seed",
                                       "tracks_on_both_sides", "segments")}
    saved, leaky = metadata.get("hyperparameters") or {}, result.get("hyperparameters") or {}
    changed = [f"{k}={leaky[k]} (saved model: {saved[k]})" for k in ("epochs", "members")
               if k in saved and k in leaky and leaky[k] != saved[k]]
    cell["trained_unlike_saved"] = ", ".join(changed)
    segment = result.get("segment") or {}
    cell.update(accuracy=segment.get("accuracy"), accuracy_ci=segment.get("accuracy_ci"),
                macro_f1=segment.get("macro_f1"), n=segment.get("n"))
    return cell


def _parameters_note(metadata: Mapping[str, Any]) -> str:
    """What a row's "parameters" count, where it is not every weight of the model."""
    config = metadata.get("config") or {}
    if metadata.get("family") == "boosting":
        return "parameters are tree nodes (splits + leaves)"
    pretrained = metadata.get("family") in ("yamnet", "vgg") or (
        metadata.get("family") == "cnn" and config.get("encoder"))
    if pretrained and config.get("fine_tune"):
        return ("parameters are the fine-tuned back-end's and head's, summed over its seeds; the "
                "frozen convolutions of the encoder are not counted")
    if pretrained and not config.get("zero_shot"):
        return "parameters are the head's only: the frozen pretrained encoder is not counted"
    return ""


def model_row(name: str, folder: str | os.PathLike[str]) -> dict[str, Any]:
    """One leaderboard row from a saved model folder (numbers exactly as saved).

    Raises
    ------
    ModelError
        The folder is not a readable GenreLab model.
    """
    from core.provenance import signature
    from core.registry import read_metadata, read_metrics

    folder = Path(folder)
    metadata = read_metadata(folder)
    saved = read_metrics(folder)
    metrics, info = saved.get("metrics") or {}, saved.get("info") or metadata.get("info") or {}
    track, segment = metrics.get("track") or {}, metrics.get("segment") or {}
    split = (info.get("split") or {}).get("name", "")
    ms, ms_source = inference_ms_per_segment(metrics, info)
    return {
        "name": name,
        "family": metadata["family"],
        "display_name": metadata.get("display_name", metadata["family"]),
        "zero_shot": bool((metadata.get("config") or {}).get("zero_shot")),
        "dataset": (info.get("dataset") or {}).get("name", ""),
        "split": split,
        "test_tracks": track.get("n"),
        "accuracy": track.get("accuracy"),
        "accuracy_ci": track.get("accuracy_ci"),
        "macro_f1": track.get("macro_f1"),
        "segment_accuracy": segment.get("accuracy"),
        "parameters": info.get("parameters"),
        "train_seconds": info.get("train_seconds"),
        "inference_ms_per_segment": ms,
        "inference_source": ms_source,
        "end_to_end_ms_per_3s": read_timing(folder, metadata),
        "segment_seconds": _segment_seconds(metadata),
        "parameters_note": _parameters_note(metadata),
        "leaky": _leaky_cell(read_leaky(folder), metadata),
        "comparable": True,
        "note": "",
        "folder": str(folder),
        "_tested_on": (split, signature(metrics, split)),
    }


@dataclass
class Leaderboard:
    """Rows of the leaderboard, and what the reader must know about them.

    Attributes
    ----------
    rows : list of dict
        One per model (and the ensemble where comparable), comparable rows first, best first.
    notes : list of str
        Rows flagged and why, ensembles left out and why.
    reference : dict
        The split and number of test tracks the comparable rows share.
    """

    rows: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    reference: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"reference": self.reference, "rows": self.rows, "notes": self.notes,
                "published": [p.to_dict() for p in PUBLISHED], "leaky_protocol": LEAKY_DESCRIPTION}


def _ensemble_row(set_name: str, folder: Path, members: Mapping[str, dict[str, Any]],
                  reference: tuple[Any, Any], *, prefixed: bool
                  ) -> tuple[dict[str, Any] | None, str]:
    """The set's ensemble as a row when its test tracks are the reference's, else why not."""
    from core.ensemble import Ensemble
    from core.provenance import test_keys
    from core.registry import read_metrics

    try:
        ensemble = Ensemble.load(folder, current=True)
    except ModelError as exc:
        return None, f"the ensemble of {set_name} is left out: {exc}"
    if ensemble is None:
        return None, ""
    track = ensemble.metrics.get("track")
    if not track:
        return None, (f"the ensemble of {set_name} is left out: it saved no test metrics "
                      "(its members share no test tracks)")
    keys = [test_keys(read_metrics(folder / m).get("metrics", {})) for m in ensemble.folders]
    common = frozenset(set.intersection(*keys)) if keys and all(keys) else frozenset()
    split = ensemble.fitted_on.get("split", "")
    if (split, common) != reference:
        return None, (f"the ensemble of {set_name} is left out: it was tested on other tracks "
                      f"({split or 'unknown split'}, {track.get('n')} tracks) than the "
                      "models compared here")
    mine = [r for r in members.values()
            if Path(r["folder"]).resolve().parent == folder.resolve()
            and Path(r["folder"]).name in ensemble.folders]
    if len(mine) != len(ensemble.folders):
        return None, (f"the ensemble of {set_name} is left out: not all of its members "
                      f"({', '.join(ensemble.folders)}) are compared here")
    parameters = [r["parameters"] for r in mine if r["parameters"] is not None]
    timings = [r["end_to_end_ms_per_3s"] for r in mine if r["end_to_end_ms_per_3s"] is not None]
    name = f"{set_name}/ensemble" if prefixed else "ensemble"
    return {
        "name": name, "family": "ensemble", "display_name": "Ensemble (stacked)",
        "zero_shot": False, "dataset": ensemble.fitted_on.get("dataset", ""), "split": split,
        "test_tracks": track.get("n"), "accuracy": track.get("accuracy"),
        "accuracy_ci": track.get("accuracy_ci"), "macro_f1": track.get("macro_f1"),
        "segment_accuracy": None,
        "parameters": sum(parameters) if len(parameters) == len(ensemble.folders) else None,
        "train_seconds": None, "inference_ms_per_segment": None, "inference_source": "not saved",
        "end_to_end_ms_per_3s": sum(timings) if len(timings) == len(ensemble.folders) else None,
        "segment_seconds": None, "leaky": None, "comparable": True,
        "note": f"combines {', '.join(ensemble.models)} (parameters and time: those of "
                f"{', '.join(ensemble.folders)} together)",
        "folder": str(folder),
    }, ""


def leaderboard(directories: Sequence[str | os.PathLike[str]]) -> Leaderboard:
    """The leaderboard of saved models (see the module docstring).

    Parameters
    ----------
    directories : sequence of path
        Model folders and/or model sets (folders of model folders); see :func:`resolve_folders`.

    Raises
    ------
    ModelError
        A directory that is not a model folder or a model set, or an unreadable model.
    """
    models, sets = resolve_folders(directories)
    return build_leaderboard(models, sets, prefixed=len(directories) > 1)


def build_leaderboard(models: Mapping[str, str | os.PathLike[str]],
                      sets: Mapping[str, str | os.PathLike[str]] | None = None, *,
                      prefixed: bool = False) -> Leaderboard:
    """:func:`leaderboard` of named model folders (and the sets whose ensembles to consider;
    ``prefixed``: name an ensemble ``<set>/ensemble``, as models of several sets are named).

    The reference test set is the one most models were tested on (same split name and same
    test tracks; on a tie the one with more test tracks, then the first model's); rows tested
    on anything else are flagged.
    """
    rows = {name: model_row(name, folder) for name, folder in models.items()}
    if not rows:
        raise ModelError("no models to rank")
    groups: dict[Any, list[str]] = {}
    for name, row in rows.items():
        groups.setdefault(row["_tested_on"], []).append(name)
    reference_key = max(groups, key=lambda k: (len(groups[k]),  # first on a full tie
                                               rows[groups[k][0]]["test_tracks"] or 0))
    first = rows[groups[reference_key][0]]
    reference = {"split": first["split"], "test_tracks": first["test_tracks"],
                 "dataset": first["dataset"], "models": list(groups[reference_key])}
    notes = []
    for name, row in rows.items():
        if row["_tested_on"] != reference_key:
            row["comparable"] = False
            row["note"] = (f"tested on other tracks ({row['split'] or 'unknown split'}, "
                           f"{row['test_tracks']} tracks) than the others "
                           f"({reference['split']}, {reference['test_tracks']} tracks): "
                           "not comparable")
            notes.append(f"{name}: {row['note']}")
        if row["segment_seconds"] and abs(row["segment_seconds"] - 3.0) > 0.05:
            extra = (f"one input row is {row['segment_seconds']:g} s, so its ms per segment is "
                     f"per {row['segment_seconds']:g}-s row")
            row["note"] = "; ".join(filter(None, [row["note"], extra]))
        row["note"] = "; ".join(filter(None, [row["note"], row.pop("parameters_note", "")]))
        leaky = row["leaky"]
        if leaky and leaky.get("trained_unlike_saved"):
            extra = f"leaky copy trained with {leaky['trained_unlike_saved']}"
            row["note"] = "; ".join(filter(None, [row["note"], extra]))
        if leaky and leaky.get("dataset") and leaky["dataset"] != row["dataset"]:
            extra = f"leaky figure measured on {leaky['dataset']}, honest one on {row['dataset']}"
            row["note"] = "; ".join(filter(None, [row["note"], extra]))
    board = [rows[n] for n in rows]
    for set_name, folder in (sets or {}).items():
        row, why = _ensemble_row(set_name, Path(folder), rows, reference_key, prefixed=prefixed)
        if row is not None:
            board.append(row)
        elif why:
            notes.append(why)
    for row in board:
        row.pop("_tested_on", None)
    board.sort(key=lambda r: (not r["comparable"], -(r["accuracy"] if r["accuracy"] is not None
                                                     else -1.0)))
    return Leaderboard(board, notes, reference)


# --------------------------------------------------------------------------- text output
def _number(value: Any, spec: str) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "n/a"
    return format(value, spec)


def accuracy_text(accuracy: float | None, ci: Sequence[float] | None) -> str:
    """``"0.736 (0.66-0.81)"``; ``"n/a"`` when not measured."""
    if accuracy is None:
        return "n/a"
    return f"{accuracy:.3f}" + (f" ({ci[0]:.2f}-{ci[1]:.2f})" if ci else "")


def leaky_text(cell: dict[str, Any] | None) -> str:
    """The leaky-protocol column: accuracy with its interval, ``n/a (why)``, or ``-`` when not
    computed."""
    if cell is None:
        return "-"
    if cell.get("status") != "ok":
        return f"n/a ({cell.get('short') or cell.get('reason') or 'not applicable'})"
    return accuracy_text(cell.get("accuracy"), cell.get("accuracy_ci"))


def table_rows(board: Leaderboard) -> list[dict[str, str]]:
    """The leaderboard as text cells, one dict per row (the CLI table and the Compare page)."""
    out = []
    for row in board.rows:
        out.append({
            "model": row["name"],
            "family": row["display_name"],
            "split": row["split"],
            "test tracks": _number(row["test_tracks"], "d"),
            "accuracy (95% CI)": accuracy_text(row["accuracy"], row["accuracy_ci"]),
            "segment accuracy": _number(row["segment_accuracy"], ".3f"),
            "macro-F1": _number(row["macro_f1"], ".3f"),
            "parameters": _number(row["parameters"], ",d"),
            "train (s)": _number(row["train_seconds"], ".1f"),
            "ms/segment": _number(row["inference_ms_per_segment"], ".3f"),
            "ms/3 s, end to end": _number(row["end_to_end_ms_per_3s"], ".1f"),
            "leaky protocol (segments)": leaky_text(row["leaky"]),
            "comparable": "yes" if row["comparable"] else "NO",
        })
    return out


def _aligned(cells: list[dict[str, str]]) -> list[str]:
    if not cells:
        return []
    columns = list(cells[0])
    widths = {c: max(len(c), *(len(r[c]) for r in cells)) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns)]
    lines.append("  ".join("-" * widths[c] for c in columns))
    lines += ["  ".join(r[c].ljust(widths[c]) for c in columns) for r in cells]
    return lines


def format_table(board: Leaderboard) -> str:
    """The leaderboard as aligned text: the rows, the notes, then the published figures."""
    ref = board.reference
    lines = [f"Leaderboard: track-level accuracy on {ref.get('split') or 'unknown split'} "
             f"({ref.get('test_tracks')} test tracks of {ref.get('dataset') or 'unknown dataset'})"]
    lines += _aligned(table_rows(board))
    lines += [f"note: {n}" for n in board.notes]
    lines += [f"note: {r['name']}: {r['note']}" for r in board.rows if r["comparable"] and r["note"]]
    lines += ["", "ms/segment: the network alone on precomputed inputs (features and pretrained "
              "encoders excluded).",
              "ms/3 s, end to end: decoded audio to probabilities (resampling, features or the "
              "pretrained encoder, and the network), per 3 s of audio; median of calls on a 30-s "
              "clip (n/a where not measured: leaderboard --timing).",
              "segment accuracy: the honest accuracy per input row (segment), the level the "
              "leaky protocol is measured at.",
              f"leaky protocol (segments): segment-level accuracy on {LEAKY_DESCRIPTION}.",
              "", "Published figures (each on its own protocol):"]
    lines += _aligned([{k: str(v) for k, v in r.items()}
                       for r in published_table().to_dict("records")])
    return "\n".join(lines)


# --------------------------------------------------------------------------- leaky protocol
def leaky_split(n_rows: int, *, seed: int = 0, test_size: float = 0.2, valid_size: float = 0.1
                ) -> Split:
    """A random split of ``n_rows`` rows ignoring tracks: the research's protocol, not GenreLab's.

    Returns a :class:`core.splits.Split` named ``segments (leaky)`` over row indices (shuffled
    with ``numpy.random.default_rng(seed)``; about ``valid_size`` valid and ``test_size`` test,
    at least one row each). It is deliberately never checked for leaks: leaking is its point.

    Raises
    ------
    ParameterError
        Fewer than 3 rows, or sizes outside (0, 1).
    """
    from core.splits import Split

    if not (0 < test_size < 1 and 0 < valid_size < 1 and test_size + valid_size < 1):
        raise ParameterError(f"test_size and valid_size must be in (0, 1) with a sum below 1, "
                             f"got {test_size!r} and {valid_size!r}")
    if n_rows < 3:
        raise ParameterError(f"the segments protocol needs at least 3 rows, got {n_rows}")
    order = np.random.default_rng(seed).permutation(n_rows)
    n_test = max(1, round(test_size * n_rows))
    n_valid = max(1, round(valid_size * n_rows))
    return Split(f"{LEAKY_PROTOCOL} (leaky), seed {seed}", np.sort(order[n_test + n_valid:]),
                 np.sort(order[n_test:n_test + n_valid]), np.sort(order[:n_test]))


def segments_as_tracks(dataset: Any, rows: Any) -> tuple[Any, Any]:
    """A dataset in which every input row (segment) is its own track, and its rows.

    Each segment keeps its song's label and audio path; its track id is the song's with the
    segment's number within the song (``blues.00001#3``) and it is its own group, so the split
    knows nothing of songs. A song is a ``track_id``: the rows of a 3-s feature table that share
    one, or an excerpt and the full clip of one GTZAN track, are one song's segments.

    Parameters
    ----------
    dataset : core.datasets.Dataset
    rows : core.models.base.Rows
        ``dataset``'s input rows by some family.

    Returns
    -------
    segments : core.datasets.Dataset
    rows : core.models.base.Rows
        The same inputs, row ``i`` belonging to track ``i``.
    """
    from core.datasets import Dataset
    from core.models.base import Rows

    m = dataset.manifest.iloc[rows.track].reset_index(drop=True)
    number = m.groupby("track_id").cumcount().to_numpy()
    ids = [f"{t}#{k}" for t, k in zip(m["track_id"], number, strict=True)]
    manifest = m.assign(track_id=ids, group=ids)
    segments = Dataset(name=f"{dataset.name}, segments as independent examples",
                       layout=dataset.layout, manifest=manifest, genres=list(dataset.genres))
    return segments, Rows(rows.X, np.arange(len(rows.X)), {})


def leaky_segment_score(model: Any, dataset: Any, *, seed: int = 0, cache: Any = None,
                        n_jobs: int = 1, verbose: bool = False) -> dict[str, Any]:
    """Train ``model``'s family on the leaky segments protocol and score it on the test segments.

    The model's own :meth:`~core.models.base.GenreModel.featurize_dataset` turns ``dataset``
    into rows (one per segment); :func:`leaky_split` deals the rows to train/valid/test at random
    ignoring tracks; the model's own :meth:`~core.models.base.GenreModel.fit` then trains and
    tests it on those rows exactly as it trains on an honest split (model selection and early
    stopping on the valid rows, refit, seeds averaged...), through a dataset whose tracks are the
    segments (:func:`segments_as_tracks`). So every family, present or future, runs its own
    training, not a copy of it; the one requirement is the contract's: ``fit`` gets its inputs
    from ``featurize_dataset`` (a family that does not is refused, not misjudged).

    When every song (``track_id``) is one row (the MLP on 30-s table rows; clips no longer
    than a segment), a random split of rows is a split of songs: the protocol degenerates and the
    result says so (``status: "n/a"``) instead of reporting a figure. A 3-s feature table
    (``features_3_sec.csv``, ten rows per song) is the research's own case and does run.

    Parameters
    ----------
    model : GenreModel or str
        An unfitted (or loaded: it is retrained, never saved) model, or a family name (its
        defaults, :func:`core.train.make_model`). It is changed in place.
    dataset : core.datasets.Dataset
    seed : int
        Seeds the split (the model keeps its own training seed).

    Returns
    -------
    dict
        ``protocol``, ``status`` (``"ok"`` or ``"n/a"``), ``reason``, ``family``, ``dataset``,
        ``seed``, ``tracks``, ``segments`` (rows per side), ``tracks_on_both_sides`` (songs with
        segments in training and in test), ``split`` (the song ids on each side),
        ``segment`` (accuracy, its 95% interval, macro-F1, n), ``train_seconds``,
        ``hyperparameters``.

    Raises
    ------
    ModelError
        The family cannot use the dataset (e.g. audio needed), or too little data.
    """
    from core.models.base import GenreModel
    from core.train import make_model

    if isinstance(model, str):
        model = make_model(model, seed=seed)
    if not isinstance(model, GenreModel):
        raise ParameterError(f"model must be a GenreModel or a family name, got {model!r}")
    model.check_can_read(dataset)
    rows = model.featurize_dataset(dataset, cache=cache, n_jobs=n_jobs, progress=verbose)
    song = dataset.manifest["track_id"].astype(str).to_numpy()[rows.track]
    songs, per_song = np.unique(song, return_counts=True)
    result: dict[str, Any] = {
        "protocol": LEAKY_PROTOCOL, "description": LEAKY_DESCRIPTION, "family": model.family,
        "dataset": dataset.name, "seed": seed, "tracks": len(songs), "status": "ok", "reason": "",
    }
    if per_song.max() < 2:
        result.update(status="n/a", short="one row per song",
                      reason="one input row per song, so a random split of rows is a split of "
                             "songs: no segment leaks")
        return result
    segments, segment_rows = segments_as_tracks(dataset, rows)
    split = leaky_split(len(segment_rows.X), seed=seed)
    start = time.perf_counter()
    asked: list[bool] = []

    def given_rows(*args: Any, **kwargs: Any) -> Any:
        asked.append(True)
        return segment_rows

    model.featurize_dataset = given_rows  # type: ignore[method-assign]
    try:
        model.fit(segments, split, cache=cache, n_jobs=n_jobs, verbose=verbose)
    finally:
        del model.featurize_dataset  # the instance's override: the family's method again
    if not asked:  # a family whose fit() reads its inputs some other way: no figure, not a wrong one
        raise ModelError(f"{model.display_name} does not train through featurize_dataset(); "
                         "the segments protocol cannot be run for it")
    sides = {name: sorted(set(song[getattr(split, name)])) for name in ("train", "valid", "test")}
    segment = model.metrics_.get("segment") or {}
    result.update(
        segments=split.sizes(),
        tracks_on_both_sides=len(set(sides["train"]) & set(sides["test"])),
        split={name: [str(s) for s in ids] for name, ids in sides.items()},
        segment={k: segment.get(k) for k in ("n", "accuracy", "accuracy_ci", "macro_f1")},
        train_seconds=time.perf_counter() - start,
        hyperparameters=model.hyperparameters(),
    )
    return result


def time_end_to_end(model: Any, *, seconds: float = 30.0, repeats: int = 5, sr: int = 22050
                    ) -> dict[str, Any]:
    """Wall time of ``model`` from decoded audio to probabilities, per 3 s of audio.

    One warm-up call, then ``repeats`` timed calls of
    :meth:`~core.models.base.GenreModel.predict_segments` on ``seconds`` of synthetic audio
    (:func:`core.synth.genre_like`): resampling, features or the pretrained encoder (musicnn,
    YAMNet, the VGG) and the network, everything an upload costs after decoding. The median
    over the calls is divided by the number of 3-s stretches, so families whose input rows are
    longer or shorter (30-s windows, 0.96-s frames) compare on the same amount of music.

    Parameters
    ----------
    model : GenreModel
        A fitted model.
    seconds : float
        Length of the test clip.
    repeats : int
        Timed calls (their median is reported).
    sr : int
        Sample rate of the clip (the upload path decodes at 22050 Hz).

    Returns
    -------
    dict
        ``ms_per_3s`` (median), ``runs_ms`` (every timed call, whole clip), ``seconds``,
        ``repeats``, ``cpus``.
    """
    from core.synth import genre_like

    if repeats < 1 or seconds < 3:
        raise ParameterError(f"need repeats >= 1 and seconds >= 3; got {repeats}, {seconds}")
    y = genre_like(1, seconds, sr, seed=0)
    model.predict_segments(y, sr)  # warm-up: traced graphs, loaded encoders
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict_segments(y, sr)
        runs.append(1000 * (time.perf_counter() - start))
    return {"ms_per_3s": float(np.median(runs)) * 3.0 / seconds, "runs_ms": runs,
            "seconds": seconds, "repeats": repeats, "cpus": os.cpu_count()}


def run_timing(folder: str | os.PathLike[str], *, yamnet_handle: str | None = None,
               seconds: float = 30.0, repeats: int = 5) -> dict[str, Any]:
    """:func:`time_end_to_end` of the model saved in ``folder``, saved as ``folder/timing.json``
    (with the weights' checksum: a leaderboard shows it only beside the same model)."""
    from core.atomic import write_text_atomic
    from core.registry import jsonable, load_model, read_metadata

    metadata = read_metadata(folder)
    result = time_end_to_end(load_model(folder, yamnet_handle=yamnet_handle), seconds=seconds,
                             repeats=repeats)
    result.update(weights_sha256=metadata.get("weights_sha256"),
                  created_at=datetime.now(UTC).isoformat(timespec="seconds"))
    write_text_atomic(Path(folder) / TIMING, json.dumps(jsonable(result), indent=2))
    return result


def read_timing(folder: str | os.PathLike[str], metadata: Mapping[str, Any]) -> float | None:
    """The saved end-to-end ms per 3 s of audio of a model folder (None when never measured,
    unreadable, or measured for other weights)."""
    try:
        result = json.loads((Path(folder) / TIMING).read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(result, dict) or result.get("weights_sha256") != metadata.get("weights_sha256"):
        return None
    value = result.get("ms_per_3s")
    return float(value) if isinstance(value, int | float) else None


def run_leaky(folder: str | os.PathLike[str], dataset: Any, *, seed: int = 0,
              epochs: int | None = None, members: int | None = None,
              yamnet_handle: str | None = None, cache: Any = None, n_jobs: int = 1,
              verbose: bool = False) -> dict[str, Any]:
    """:func:`leaky_segment_score` of the model saved in ``folder`` (same family, configuration
    and hyperparameters; ``epochs``/``members`` override them), saved as ``folder/leaky.json``.

    The saved model itself is not touched: a fresh copy is trained. The result records the
    weights' checksum, so a leaderboard never shows it beside another version of the model.

    Raises
    ------
    ModelError
        Unreadable model folder, or the family cannot train on ``dataset``.
    DatasetError
        ``dataset`` has genres other than the model's.
    """
    from core.atomic import write_text_atomic
    from core.registry import jsonable, load_model, read_metadata

    metadata = read_metadata(folder)
    model = load_model(folder, yamnet_handle=yamnet_handle)
    if getattr(model, "is_zero_shot", False):
        raise ModelError(f"{folder}: a zero-shot model does not train; the segments protocol "
                         "does not apply")
    if list(dataset.genres) != list(model.genres_ or []):
        raise DatasetError(f"{dataset.name} has genres {dataset.genres}; the model in {folder} "
                           f"answers {model.genres_}: train the leaky copy on the same genres")
    if epochs is not None:
        model.epochs = epochs
    if members is not None:
        model.members = members
    result = leaky_segment_score(model, dataset, seed=seed, cache=cache, n_jobs=n_jobs,
                                 verbose=verbose)
    result.update(weights_sha256=metadata.get("weights_sha256"),
                  created_at=datetime.now(UTC).isoformat(timespec="seconds"))
    write_text_atomic(Path(folder) / LEAKY, json.dumps(jsonable(result), indent=2))
    return result
