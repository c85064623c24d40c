"""What the Library page computes from a tagging database (``python -m core tag``).

Pure functions over the database's ``library`` view and ``runs`` table, plus the cached
loader; the page only draws. Reviews are written straight to the database (a short
transaction), so a ``tag`` run may go on meanwhile.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from core.atomic import write_text_atomic
from core.errors import GenreLabError, LibraryError
from core.library import TagStore
from core.library.review import needs_review, review_queue, review_share
from dashboard.palette import display_name
from dashboard.resources import runs_dir

__all__ = ["SORTS", "LibraryData", "audio_file", "default_database", "display_table",
           "filter_rows", "genre_counts", "load_library", "measurements", "model_answers",
           "remember_database", "review_queue"]

#: Largest file the page offers to play (st.audio sends the bytes to the browser).
MAX_PLAY_BYTES = 60 * 1024 * 1024
SORTS = {
    "least confident first": (["confidence", "path"], [True, True]),
    "most confident first": (["confidence", "path"], [False, True]),
    "disagreeing first": (["agree", "confidence"], [True, True]),
    "path": (["path"], [True]),
    "longest first": (["duration_s", "path"], [False, True]),
}
_MIME = {".mp3": "audio/mpeg", ".flac": "audio/flac", ".ogg": "audio/ogg", ".oga": "audio/ogg",
         ".wav": "audio/wav", ".aiff": "audio/aiff", ".aif": "audio/aiff", ".au": "audio/basic"}


@dataclass
class LibraryData:
    """A tagging database as the page shows it.

    Attributes
    ----------
    rows : pd.DataFrame
        One row per file (the ``library`` view) plus ``status`` (tagged / failed / not tagged)
        and ``needs_review``.
    runs : pd.DataFrame
        Every run, newest first.
    genres : list of str
        The model set's genres (what a person can pick in the review queue).
    """

    database: str
    rows: pd.DataFrame
    runs: pd.DataFrame
    genres: list[str]


def _state_file() -> Path:
    return runs_dir() / "library.json"


def default_database() -> str:
    """The database opened last (if it still exists), else the newest ``.duckdb`` file in the
    runs folder, else ``""``."""
    try:
        last = json.loads(_state_file().read_text()).get("last", "")
    except (OSError, ValueError, AttributeError):
        last = ""
    if last and Path(last).is_file():
        return str(last)
    found = sorted(runs_dir().glob("*.duckdb"), key=lambda p: p.stat().st_mtime, reverse=True) \
        if runs_dir().is_dir() else []
    return str(found[0]) if found else ""


def remember_database(path: str) -> None:
    """Remember ``path`` as the database to offer next time (best effort)."""
    with contextlib.suppress(OSError):
        write_text_atomic(_state_file(), json.dumps({"last": str(Path(path).resolve())}))


def _version(path: str) -> tuple[int, int]:
    """Changes whenever the database (or its write-ahead log) changes: the cache key."""
    stamps = []
    for candidate in (Path(path), Path(f"{path}.wal")):
        try:
            stat = candidate.stat()
            stamps.append((stat.st_mtime_ns, stat.st_size))
        except OSError:
            stamps.append((0, 0))
    return stamps[0][0] + stamps[1][0], stamps[0][1] + stamps[1][1]


def _genres(rows: pd.DataFrame) -> list[str]:
    for value in rows["probabilities"].dropna():
        try:
            return list(json.loads(value))
        except (TypeError, ValueError):
            continue
    return sorted(rows["genre"].dropna().unique())


def read_library(path: str) -> LibraryData:
    """Read a tagging database (no cache).

    Raises
    ------
    LibraryError
        Missing, busy, not a tagging database, or of another version.
    """
    store = TagStore(Path(path).expanduser(), busy_timeout=5.0)
    with store.connect(read_only=True) as con:
        rows = store.library(con)
        runs = store.runs(con)
    if runs.empty:
        raise LibraryError(f"{path}: no tagging run recorded yet")
    tagged = rows["genre"].notna() & rows["error_reason"].isna()
    rows["status"] = np.where(tagged, "tagged",
                              np.where(rows["error_reason"].notna(), "failed", "not tagged"))
    # a song a person answered needs no more review (the queue and its count agree)
    rows["needs_review"] = tagged & needs_review(rows) & rows["reviewed_genre"].isna()
    return LibraryData(str(store.path), rows, runs, _genres(rows))


@st.cache_data(show_spinner="Reading the tagging database...", max_entries=8)
def _cached(path: str, version: tuple[int, int]) -> LibraryData:
    return read_library(path)


def load_library(path: str) -> LibraryData:
    """:func:`read_library`, cached until the database changes."""
    path = str(Path(path).expanduser())
    return _cached(path, _version(path))


def measurements(data: LibraryData) -> dict[str, Any] | None:
    """Measured throughput of the run that tagged the most songs (the latest of equals: a
    3-song run is no measurement of a library's speed), and the review share.

    Returns
    -------
    dict or None
        ``songs_per_second``, ``songs_per_hour``, ``realtime_factor``, ``workers``,
        ``engine``, ``run_id``, ``review_share``, ``songs`` (tagged songs the share is over);
        None when no run tagged anything yet.
    """
    runs = data.runs
    done = runs[(runs["tagged"].fillna(0) + runs["failed"].fillna(0) > 0)
                & (runs["tag_seconds"].fillna(0) > 0)]
    if done.empty:
        return None
    counted = done.assign(songs=done["tagged"].fillna(0) + done["failed"].fillna(0))
    run = counted.sort_values(["songs", "run_id"], ascending=False).iloc[0]
    songs = float(run["songs"])
    per_second = songs / float(run["tag_seconds"])
    tagged = data.rows[data.rows["status"] == "tagged"].drop_duplicates("content_hash")
    return {"songs_per_second": per_second, "songs_per_hour": per_second * 3600,
            "realtime_factor": float(run["audio_seconds"] or 0.0) / float(run["tag_seconds"]),
            "workers": int(run["workers"]), "engine": str(run["engine"]),
            "run_id": int(run["run_id"]), "review_share": review_share(data.rows),
            "songs": len(tagged), "database": data.database}


def measurements_for(path: str | None) -> dict[str, Any] | None:
    """:func:`measurements` of the database at ``path``, or None when it cannot be read."""
    if not path:
        return None
    try:
        return measurements(load_library(path))
    except GenreLabError:
        return None


def shown_genre(rows: pd.DataFrame) -> pd.Series:
    """A person's genre where one answered, else the ensemble's."""
    return rows["reviewed_genre"].where(rows["reviewed_genre"].notna(), rows["genre"])


def genre_counts(rows: pd.DataFrame) -> pd.DataFrame:
    """Songs per genre and kind of answer (``genre``, ``answer``, ``songs``), one per content."""
    songs = rows[rows["status"] == "tagged"].drop_duplicates("content_hash")
    answer = np.where(songs["reviewed_genre"].notna(), "reviewed by a person",
                      np.where(songs["needs_review"], "needs review", "confident"))
    table = pd.DataFrame({"genre": shown_genre(songs), "answer": answer})
    return table.groupby(["genre", "answer"]).size().rename("songs").reset_index()


def filter_rows(rows: pd.DataFrame, *, genres: list[str] | None = None,
                confidence: tuple[float, float] = (0.0, 1.0), only_disagreeing: bool = False,
                only_review: bool = False, sort: str = "least confident first") -> pd.DataFrame:
    """Tagged files whose (shown) genre is among ``genres`` (all when empty), whose confidence
    lies in ``confidence``, optionally only those whose models disagree or that need review."""
    view = rows[rows["status"] == "tagged"].copy()
    view["shown_genre"] = shown_genre(view)
    if genres:
        view = view[view["shown_genre"].isin(genres)]
    low, high = confidence
    view = view[(view["confidence"] >= low - 1e-9) & (view["confidence"] <= high + 1e-9)]
    if only_disagreeing:
        view = view[~view["agree"].astype("boolean").fillna(True).astype(bool)]
    if only_review:
        view = view[view["needs_review"]]
    by, ascending = SORTS.get(sort, SORTS["path"])
    return view.sort_values(by, ascending=ascending, kind="stable").reset_index(drop=True)


def model_answers(models_json: Any) -> dict[str, tuple[str, float]]:
    """``{model: (genre, confidence)}`` from the ``models`` JSON column."""
    try:
        models = json.loads(models_json) if isinstance(models_json, str) else {}
    except ValueError:
        return {}
    return {name: (m.get("genre", "?"), float(m.get("confidence", np.nan)))
            for name, m in models.items()}


def display_table(view: pd.DataFrame) -> pd.DataFrame:
    """The columns the page's table shows."""
    answers = [model_answers(m) for m in view["models"]]
    return pd.DataFrame({
        "file": view["path"].map(lambda p: Path(p).name),
        "genre": view["shown_genre"] if "shown_genre" in view else shown_genre(view),
        "confidence": view["confidence"].round(3),
        "models": [" · ".join(f"{display_name(k)}: {g}" for k, (g, _) in a.items())
                   for a in answers],
        "agree": view["agree"],
        "needs review": view["needs_review"],
        "reviewed": view["review_action"].fillna(""),
        "duration (s)": view["duration_s"].round(1),
        "folder": view["path"].map(lambda p: str(Path(p).parent)),
    })


def analyses_text(rows: pd.DataFrame, latest: str) -> str:
    """Which analyses the rows' answers come from: ``analysis whole``, or, when some songs
    keep an answer from an earlier run's analysis, how many files each one answered."""
    counts = rows["analysis"].dropna().value_counts()
    if set(counts.index) <= {latest}:
        return f"analysis {latest}"
    parts = [f"{name} for {n:,} file{'s' if n != 1 else ''}"
             for name, n in sorted(counts.items(), key=lambda kv: (kv[0] != latest, -kv[1]))]
    return ("analyses " + ", ".join(parts) + f" (the latest run's is {latest}; a song it did "
            "not analyse keeps its most recent answer)")


def failures(rows: pd.DataFrame) -> pd.DataFrame:
    """Files that could not be tagged, with why."""
    failed = rows[rows["status"] == "failed"]
    return pd.DataFrame({"file": failed["path"], "reason": failed["error_reason"],
                         "message": failed["error"]}).reset_index(drop=True)


def audio_file(path: str) -> tuple[bytes, str] | None:
    """A song's bytes and MIME type for ``st.audio`` (None: missing or too big to send)."""
    try:
        if os.path.getsize(path) > MAX_PLAY_BYTES:
            return None
        return Path(path).read_bytes(), _MIME.get(Path(path).suffix.lower(), "audio/wav")
    except OSError:
        return None


def manifest_target(database: str) -> str:
    """Where the training manifest goes by default: ``<database>-reviewed.csv`` beside it."""
    path = Path(database)
    return str(path.with_name(f"{path.stem}-reviewed.csv"))
