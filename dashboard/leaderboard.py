"""The Compare page's leaderboard: :mod:`core.leaderboard`'s rows as tables (cached per folder state).

The numbers are the saved ones, unrounded (the page formats them), so what the page shows is
what ``metrics.json`` and ``leaky.json`` hold.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from core.leaderboard import (
    LEAKY,
    LEAKY_DESCRIPTION,
    TIMING,
    Leaderboard,
    build_leaderboard,
    leaky_text,
    published_table,
)
from dashboard.palette import display_name

#: Columns of :func:`leaderboard_frame`, in order.
COLUMNS = ["model", "family", "split", "test tracks", "accuracy", "95% CI", "segment accuracy",
           "leaky accuracy",
           "leaky protocol (segments)", "macro-F1", "parameters", "train time (s)", "ms/segment",
           "ms/3 s, end to end", "comparable", "note"]
#: What the page shows, in order: the honest figure beside the leaky one (as text, with its
#: interval; "leaky accuracy" is the same number for sorting) first; the family is in the name.
SHOWN = [c for c in COLUMNS if c not in ("family", "leaky accuracy")]
LEAKY_COMMAND = "python -m core leaderboard --models DIR --leaky --data PATH --layout LAYOUT"


def shown_name(name: str, row: Mapping[str, Any]) -> str:
    """The palette's name of a model (as on the rest of the page); a folder named after a family
    the palette does not know gets that family's own display name (with the set's prefix)."""
    shown = display_name(name)
    if shown != name.rpartition("/")[2] or name.rpartition("/")[2] != row["family"]:
        return shown
    prefix = name.rpartition("/")[0]
    return f"{row['display_name']} ({prefix})" if prefix else row["display_name"]


def _interval(ci: Any) -> str:
    return f"{ci[0]:.2f}-{ci[1]:.2f}" if ci else "n/a"


def leaderboard_frame(board: Leaderboard) -> pd.DataFrame:
    """One row per leaderboard row: numbers as saved (None where not measured), the leaky
    protocol as text and as a number, and whether the row is comparable."""
    records = []
    for row in board.rows:
        leaky = row["leaky"] or {}
        records.append({
            "model": shown_name(row["name"], row),
            "family": row["family"],
            "split": row["split"],
            "test tracks": row["test_tracks"],
            "accuracy": row["accuracy"],
            "95% CI": _interval(row["accuracy_ci"]),
            "segment accuracy": row["segment_accuracy"],
            "macro-F1": row["macro_f1"],
            "parameters": row["parameters"],
            "train time (s)": row["train_seconds"],
            "ms/segment": row["inference_ms_per_segment"],
            "ms/3 s, end to end": row["end_to_end_ms_per_3s"],
            "leaky protocol (segments)": leaky_text(row["leaky"]),
            "leaky accuracy": leaky.get("accuracy") if leaky.get("status") == "ok" else None,
            "comparable": bool(row["comparable"]),
            "note": row["note"],
        })
    return pd.DataFrame(records, columns=COLUMNS)


def published_frame() -> pd.DataFrame:
    """The research's published figures with their protocol and why each leaks (or not)."""
    return published_table().rename(columns={"accuracy": "published accuracy",
                                             "leaks": "leaks?", "why": "why"})


def folders_version(folders: list[Path]) -> tuple[tuple[str, int, int], ...]:
    """State of every file a leaderboard reads: each model folder's and, for a model set, each of
    its model folders' (an ensemble reads its members even when they are not picked). Any file
    added, removed, rewritten or restored changes it, so the cached table is rebuilt."""
    names = ("metadata.json", "metrics.json", LEAKY, TIMING, "ensemble.json")
    state = []
    for folder in folders:
        for candidate in (folder, *sorted(p for p in folder.glob("*") if p.is_dir())):
            for name in names:
                path = candidate / name
                stat = path.stat() if path.is_file() else None
                state.append((str(path), stat.st_mtime_ns if stat else -1,
                              stat.st_size if stat else -1))
    return tuple(state)


@st.cache_data(show_spinner=False, max_entries=32)
def leaderboard_tables(models: tuple[tuple[str, str], ...], sets: tuple[tuple[str, str], ...],
                       prefixed: bool, version: tuple[tuple[str, int, int], ...]
                       ) -> tuple[pd.DataFrame, list[str], dict]:
    """The leaderboard of named model folders (and sets, for their ensembles): its table, its
    notes and its reference split. ``version`` (:func:`folders_version`) busts the cache."""
    board = build_leaderboard(dict(models), dict(sets), prefixed=prefixed)
    return leaderboard_frame(board), list(board.notes), dict(board.reference)


def leaderboard_for(saved: Mapping[str, Mapping[str, Any]], sets: Mapping[str, Path], *,
                    prefixed: bool | None = None) -> tuple[pd.DataFrame, list[str], dict]:
    """:func:`leaderboard_tables` of the Compare page's chosen models and model sets
    (``prefixed``: name each ensemble by its set; default: when there are several sets)."""
    models = tuple((name, str(entry["folder"])) for name, entry in saved.items())
    set_items = tuple((name, str(path)) for name, path in sets.items())
    folders = [Path(p) for _, p in models] + [Path(p) for _, p in set_items]
    return leaderboard_tables(models, set_items, len(sets) > 1 if prefixed is None else prefixed,
                              folders_version(folders))


def column_config() -> dict[str, Any]:
    """How the page formats the leaderboard's numbers."""
    number = st.column_config.NumberColumn
    return {"accuracy": number(format="%.3f"), "macro-F1": number(format="%.3f"),
            "parameters": number(format="localized"), "train time (s)": number(format="%.1f"),
            "ms/segment": number(format="%.3f", help="the network alone on precomputed inputs, "
                                 "per input row"),
            "ms/3 s, end to end": number(
                format="%.1f", help="decoded audio to probabilities (features or the pretrained "
                                    "encoder, and the network) per 3 s of audio"),
            "leaky accuracy": number(format="%.3f"),
            "segment accuracy": number(
                format="%.3f", help="honest accuracy per input row (segment): the level the leaky "
                                    "protocol is measured at"),
            "leaky protocol (segments)": st.column_config.TextColumn(
                help="the same family trained and tested on a random split of 3-s segments "
                     "that ignores songs: accuracy (95% CI), or n/a and why"),
            "note": st.column_config.TextColumn(width="large")}


__all__ = [
    "COLUMNS",
    "LEAKY_COMMAND",
    "LEAKY_DESCRIPTION",
    "SHOWN",
    "column_config",
    "folders_version",
    "leaderboard_for",
    "leaderboard_frame",
    "leaderboard_tables",
    "published_frame",
    "shown_name",
]
