"""The tagging database: one DuckDB file holding what ``python -m core tag`` found and said.

Tables (schema version :data:`SCHEMA_VERSION`):

``files``
    One row per audio file (``path`` is the key): its content hash, size and modification time.
``predictions``
    One row per song content, model set and analysis (key: ``content_hash, model_set,
    analysis``): every model's genre and probabilities (JSON), the ensemble's genre, verdict,
    confidence and agreement, or the reason the file could not be tagged; seconds taken and when.
    Keyed by content, so a renamed file or a copy under another name reuses its prediction.
``runs``
    One row per ``tag`` run: the model set, analysis, engine, workers, counts and timings (the
    measured throughput the dashboard's business case uses).
``reviews``
    A person's answer for a song (key: ``content_hash``): confirmed or corrected genre.
``tag_changes``
    Every value ``--write-tags`` wrote into a file, with the value it replaced (``NULL``: the
    field was absent), so ``--undo`` can put it back.

The view ``library`` joins them into one row per file, with the song's answer from the latest
run's model set (from the latest run's analysis where the song has one, else its most recent
analysis: ``analysis`` says which); ``--format parquet`` exports that view.

Writes are transactions (a killed run loses at most its uncommitted batch). Connections are
short: the tagger opens one per batch, so the dashboard can read the database while a run goes
on (DuckDB lets one process at a time open a file; a busy file is retried for a while, then
refused with a clear message). One ``tag`` run at a time holds ``<database>.lock``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from core.errors import LibraryError

try:  # advisory locks that the kernel releases when the process dies (also on SIGKILL)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["PREDICTION_COLUMNS", "SCHEMA_VERSION", "RunLock", "TagStore", "now"]

SCHEMA_VERSION = 1

#: Columns of ``predictions``, in order (what :func:`core.library.job.tag_file` returns).
PREDICTION_COLUMNS: tuple[str, ...] = (
    "content_hash", "model_set", "analysis", "path", "duration_s", "analysed_s", "models",
    "genre", "verdict", "confidence", "threshold", "uncertain", "agree", "method",
    "probabilities", "model_errors", "error_reason", "error", "seconds", "worker", "run_id",
    "tagged_at",
)

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS files (
    path VARCHAR PRIMARY KEY,
    content_hash VARCHAR NOT NULL,
    size_bytes BIGINT,
    mtime_ns BIGINT,
    format VARCHAR,
    first_seen TIMESTAMPTZ,
    last_seen TIMESTAMPTZ
);
CREATE TABLE IF NOT EXISTS predictions (
    content_hash VARCHAR NOT NULL,
    model_set VARCHAR NOT NULL,
    analysis VARCHAR NOT NULL,
    path VARCHAR,
    duration_s DOUBLE,
    analysed_s DOUBLE,
    models JSON,
    genre VARCHAR,
    verdict VARCHAR,
    confidence DOUBLE,
    threshold DOUBLE,
    uncertain BOOLEAN,
    agree BOOLEAN,
    method VARCHAR,
    probabilities JSON,
    model_errors JSON,
    error_reason VARCHAR,
    error VARCHAR,
    seconds DOUBLE,
    worker VARCHAR,
    run_id INTEGER,
    tagged_at TIMESTAMPTZ,
    PRIMARY KEY (content_hash, model_set, analysis)
);
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY,
    started_at TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    status VARCHAR,
    model_set VARCHAR,
    model_set_name VARCHAR,
    models_dir VARCHAR,
    analysis VARCHAR,
    engine VARCHAR,
    workers INTEGER,
    roots JSON,
    files_audio INTEGER,
    files_other INTEGER,
    tagged INTEGER,
    already INTEGER,
    duplicates INTEGER,
    failed INTEGER,
    audio_seconds DOUBLE,
    analysed_seconds DOUBLE,
    tag_seconds DOUBLE,
    wall_seconds DOUBLE,
    host VARCHAR
);
CREATE TABLE IF NOT EXISTS reviews (
    content_hash VARCHAR PRIMARY KEY,
    genre VARCHAR NOT NULL,
    action VARCHAR NOT NULL,
    predicted VARCHAR,
    model_set VARCHAR,
    path VARCHAR,
    reviewed_at TIMESTAMPTZ
);
CREATE SEQUENCE IF NOT EXISTS tag_change_ids;
CREATE TABLE IF NOT EXISTS tag_changes (
    change_id BIGINT PRIMARY KEY DEFAULT nextval('tag_change_ids'),
    batch INTEGER NOT NULL,
    path VARCHAR NOT NULL,
    tag_format VARCHAR,
    field VARCHAR NOT NULL,
    old_value JSON,
    new_value JSON,
    hash_before VARCHAR,
    hash_after VARCHAR,
    changed_at TIMESTAMPTZ,
    undone_at TIMESTAMPTZ
);
CREATE OR REPLACE VIEW library AS
    SELECT f.path, f.content_hash, f.format, f.size_bytes,
           p.duration_s, p.analysed_s, p.models, p.genre, p.verdict, p.confidence, p.threshold,
           p.uncertain, p.agree, p.method, p.probabilities, p.model_errors, p.error_reason,
           p.error, p.seconds, p.model_set, p.analysis, p.tagged_at,
           r.genre AS reviewed_genre, r.action AS review_action, r.reviewed_at
    FROM files f
    LEFT JOIN (
        -- each song's answer from the latest run's model set: the latest run's analysis where
        -- it has one, else its most recent (a small run with other options hides nothing)
        SELECT q.* FROM predictions q,
            (SELECT model_set, analysis FROM runs ORDER BY run_id DESC LIMIT 1) latest
        WHERE q.model_set = latest.model_set
        QUALIFY row_number() OVER (PARTITION BY q.content_hash
                                   ORDER BY (q.analysis = latest.analysis) DESC,
                                            q.tagged_at DESC) = 1
    ) p ON p.content_hash = f.content_hash
    LEFT JOIN reviews r ON r.content_hash = f.content_hash;
INSERT INTO meta VALUES ('schema_version', '{SCHEMA_VERSION}') ON CONFLICT DO NOTHING;
"""


def now() -> datetime:
    """The current time, timezone-aware UTC (what every timestamp column holds)."""
    return datetime.now(UTC)


def _lock_holder(message: str) -> str:
    match = re.search(r"held in (.+?) \(PID (\d+)\)", message)
    if match:
        return f"{Path(match.group(1)).name} (pid {match.group(2)})"
    return "another program"


@dataclass
class TagStore:
    """A tagging database file.

    Parameters
    ----------
    path : str or Path
        The DuckDB file (created by :meth:`create`).
    busy_timeout : float
        Seconds to keep retrying while another process has the file open, before giving up with
        a :class:`LibraryError` that names it.
    """

    path: Path
    busy_timeout: float = 30.0

    def __post_init__(self) -> None:
        self.path = Path(self.path).expanduser()

    # ---------------------------------------------------------------- connections
    @contextlib.contextmanager
    def connect(self, *, read_only: bool = False) -> Iterator[Any]:
        """A short-lived DuckDB connection (closed on exit, which checkpoints the WAL).

        Raises
        ------
        LibraryError
            The database is missing (read-only), not a DuckDB file, of another schema version,
            or kept open by another process for longer than :attr:`busy_timeout`.
        """
        import duckdb

        if read_only and not self.path.is_file():
            raise LibraryError(f"no tagging database at {self.path} (create one with "
                               "`python -m core tag LIBRARY --out FILE.duckdb`)")
        if self.path.is_dir():
            raise LibraryError(f"{self.path} is a folder, not a tagging database")
        deadline = time.monotonic() + self.busy_timeout
        delay = 0.02
        while True:
            try:
                con = duckdb.connect(str(self.path), read_only=read_only)
                break
            except duckdb.IOException as exc:
                text = str(exc)
                if "not a valid duckdb database" in text.lower():
                    raise LibraryError(f"{self.path} is not a tagging database (not a DuckDB "
                                       "file); give the name of a new file, or of a "
                                       "database GenreLab's tagging wrote"
                                       ) from None
                if "lock" not in text.lower():
                    raise LibraryError(f"{self.path}: cannot open the tagging database "
                                       f"({text.splitlines()[0]})") from None
                if time.monotonic() >= deadline:
                    raise LibraryError(
                        f"{self.path} is busy: {_lock_holder(text)} keeps it open. Close it (a "
                        "DuckDB shell, a notebook) or wait for it to finish, then try again."
                    ) from None
                time.sleep(delay)
                delay = min(0.25, delay * 1.5)
            except duckdb.Error as exc:
                raise LibraryError(f"{self.path}: not a tagging database GenreLab can read "
                                   f"({str(exc).splitlines()[0]})") from None
        try:
            self._check_schema(con)
            yield con
        finally:
            con.close()

    def _check_schema(self, con: Any) -> None:
        import duckdb

        try:
            found = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
            row = found[0] if found else None
        except duckdb.CatalogException:
            row = None
        if row is None:
            tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables"
                                                ).fetchall()}
            if tables:
                raise LibraryError(f"{self.path} is a DuckDB database but not a GenreLab tagging "
                                   f"database (it holds {', '.join(sorted(tables)[:5])})")
            return  # empty: create() fills it
        if row[0] != str(SCHEMA_VERSION):
            raise LibraryError(f"{self.path} was written by another GenreLab version (schema "
                               f"{row[0]}, this one reads {SCHEMA_VERSION})")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Any]:
        """A connection inside one transaction: committed on success, rolled back on error."""
        with self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    def create(self) -> TagStore:
        """Create the file and its tables if they are missing (an existing database is kept)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.transaction() as con:
            con.execute(_SCHEMA)
        return self

    # ---------------------------------------------------------------- files
    def upsert_files(self, con: Any, found: pd.DataFrame) -> dict[str, int]:
        """Record walked files (columns ``path, content_hash, size_bytes, mtime_ns, format``).

        Returns ``{"new", "changed"}``: files not seen before, and files whose content changed.
        """
        stamp = now()
        con.register("found", found.assign(first_seen=stamp, last_seen=stamp))
        try:
            new, changed = con.execute(
                "SELECT count(*) FILTER (WHERE f.path IS NULL), "
                "count(*) FILTER (WHERE f.content_hash <> w.content_hash) "
                "FROM found w LEFT JOIN files f USING (path)").fetchall()[0]
            con.execute(
                "INSERT INTO files SELECT path, content_hash, size_bytes, mtime_ns, format, "
                "first_seen, last_seen FROM found ON CONFLICT (path) DO UPDATE SET "
                "content_hash = excluded.content_hash, size_bytes = excluded.size_bytes, "
                "mtime_ns = excluded.mtime_ns, format = excluded.format, "
                "last_seen = excluded.last_seen")
        finally:
            con.unregister("found")
        return {"new": int(new), "changed": int(changed)}

    def forget_missing(self, con: Any, roots: Sequence[str], paths: Sequence[str]) -> int:
        """Forget files under ``roots`` that are not among ``paths`` (deleted, renamed or moved
        since the last run; a renamed file is found again under its new path). Their
        predictions stay, keyed by content. Returns how many were forgotten."""
        con.register("present", pd.DataFrame({"path": list(paths)}, dtype=object))
        try:
            gone = 0
            for root in roots:
                prefix = root.rstrip(os.sep) + os.sep
                gone += con.execute(
                    "DELETE FROM files WHERE (path = ? OR starts_with(path, ?)) "
                    "AND path NOT IN (SELECT path FROM present)", [root, prefix]).fetchall()[0][0]
        finally:
            con.unregister("present")
        return int(gone)

    def update_file(self, con: Any, path: str, *, content_hash: str, size_bytes: int,
                    mtime_ns: int) -> None:
        """A file's new content hash, size and time after its tags were written."""
        con.execute("UPDATE files SET content_hash = ?, size_bytes = ?, mtime_ns = ?, "
                    "last_seen = ? WHERE path = ?",
                    [content_hash, size_bytes, mtime_ns, now(), path])

    def stored_hashes(self, con: Any, walked: pd.DataFrame) -> pd.DataFrame:
        """Stored hashes of walked files whose size and modification time are unchanged
        (``path, content_hash``): they need not be read again."""
        con.register("walked_stat", walked[["path", "size_bytes", "mtime_ns"]])
        try:
            return con.execute(
                "SELECT f.path, f.content_hash FROM walked_stat w JOIN files f USING (path) "
                "WHERE f.size_bytes = w.size_bytes AND f.mtime_ns = w.mtime_ns").fetchdf()
        finally:
            con.unregister("walked_stat")

    # ---------------------------------------------------------------- predictions
    def pending(self, con: Any, paths: Sequence[str], *, model_set: str, analysis: str,
                retry_failed: bool = False) -> list[tuple[str, str]]:
        """``(content_hash, path)`` of each song among ``paths`` with no prediction yet for
        this model set and analysis (one path per content: duplicates are tagged once).

        With ``retry_failed``, songs whose earlier attempt failed are pending again.
        """
        con.register("wanted", pd.DataFrame({"path": list(paths)}, dtype=object))
        try:
            rows = con.execute(
                "SELECT f.content_hash, min(f.path) AS path FROM files f JOIN wanted USING (path) "
                "WHERE NOT EXISTS (SELECT 1 FROM predictions p WHERE p.content_hash = f.content_hash"
                " AND p.model_set = ? AND p.analysis = ? AND (NOT ? OR p.error_reason IS NULL)) "
                "GROUP BY f.content_hash ORDER BY path",
                [model_set, analysis, retry_failed]).fetchall()
        finally:
            con.unregister("wanted")
        return [(h, p) for h, p in rows]

    def insert_predictions(self, con: Any, rows: Sequence[Mapping[str, Any]]) -> int:
        """Insert prediction rows (see :data:`PREDICTION_COLUMNS`); a row for a song already
        predicted with the same model set and analysis replaces it. Returns the rows written."""
        if not rows:
            return 0
        frame = pd.DataFrame([{c: _sql_value(row.get(c)) for c in PREDICTION_COLUMNS}
                              for row in rows], columns=list(PREDICTION_COLUMNS))
        for column in ("duration_s", "analysed_s", "confidence", "threshold", "seconds"):
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
        frame["tagged_at"] = pd.to_datetime(frame["tagged_at"], utc=True)
        updates = ", ".join(f"{c} = excluded.{c}" for c in PREDICTION_COLUMNS[3:])
        con.register("batch", frame)
        try:
            con.execute(f"INSERT INTO predictions SELECT {', '.join(PREDICTION_COLUMNS)} FROM "
                        f"batch ON CONFLICT (content_hash, model_set, analysis) DO UPDATE SET "
                        f"{updates}")
        finally:
            con.unregister("batch")
        return len(frame)

    def alias_content(self, con: Any, old_hash: str, new_hash: str) -> None:
        """A file's bytes changed without its audio changing (tags written or restored): its
        predictions and review carry over to the new content hash."""
        if old_hash == new_hash:
            return
        columns = ", ".join(PREDICTION_COLUMNS[1:])
        con.execute(f"INSERT INTO predictions SELECT ? AS content_hash, {columns} FROM predictions "
                    "WHERE content_hash = ? ON CONFLICT DO NOTHING", [new_hash, old_hash])
        con.execute("INSERT INTO reviews SELECT ? AS content_hash, genre, action, predicted, "
                    "model_set, path, reviewed_at FROM reviews WHERE content_hash = ? "
                    "ON CONFLICT DO NOTHING", [new_hash, old_hash])

    # ---------------------------------------------------------------- runs
    def start_run(self, con: Any, **fields: Any) -> int:
        """Record a run as started; returns its id. Runs still marked as started are marked
        ``killed`` first: the caller holds the lock, so no other run is alive."""
        con.execute("UPDATE runs SET status = 'killed' WHERE status = 'started'")
        run_id = int(con.execute("SELECT coalesce(max(run_id), 0) + 1 FROM runs").fetchall()[0][0])
        fields = {"run_id": run_id, "started_at": now(), "status": "started",
                  "host": socket.gethostname(), **fields}
        if "roots" in fields:
            fields["roots"] = json.dumps(fields["roots"])
        names = ", ".join(fields)
        con.execute(f"INSERT INTO runs ({names}) VALUES ({', '.join('?' * len(fields))})",
                    list(fields.values()))
        return run_id

    def update_run(self, con: Any, run_id: int, **fields: Any) -> None:
        """Update a run's counts, timings or status."""
        if not fields:
            return
        assignments = ", ".join(f"{name} = ?" for name in fields)
        con.execute(f"UPDATE runs SET {assignments} WHERE run_id = ?", [*fields.values(), run_id])

    # ---------------------------------------------------------------- reading
    def library(self, con: Any | None = None) -> pd.DataFrame:
        """The ``library`` view: one row per file (the latest run's model set; see the module)."""
        if con is None:
            with self.connect(read_only=True) as own:
                return self.library(own)
        return con.execute("SELECT * FROM library ORDER BY path").fetchdf()

    def runs(self, con: Any | None = None) -> pd.DataFrame:
        """Every run, newest first."""
        if con is None:
            with self.connect(read_only=True) as own:
                return self.runs(own)
        return con.execute("SELECT * FROM runs ORDER BY run_id DESC").fetchdf()

    # ---------------------------------------------------------------- reviews
    def set_review(self, content_hash: str, genre: str, *, predicted: str | None,
                   model_set: str | None, path: str | None) -> str:
        """Store a person's genre for a song: ``confirmed`` when it is the predicted genre,
        ``corrected`` otherwise (a later answer replaces an earlier one). Returns the action."""
        if not genre:
            raise LibraryError("a review needs a genre")
        action = "confirmed" if genre == predicted else "corrected"
        with _review_lock(self.path), self.transaction() as con:
            con.execute("INSERT INTO reviews VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT "
                        "(content_hash) DO UPDATE SET genre = excluded.genre, action = "
                        "excluded.action, predicted = excluded.predicted, reviewed_at = "
                        "excluded.reviewed_at, path = excluded.path",
                        [content_hash, genre, action, predicted, model_set, path, now()])
        return action

    def clear_review(self, content_hash: str) -> None:
        """Forget a person's answer for a song (it goes back into the review queue)."""
        with _review_lock(self.path), self.transaction() as con:
            con.execute("DELETE FROM reviews WHERE content_hash = ?", [content_hash])

    # ---------------------------------------------------------------- exports
    def export_parquet(self, target: str | os.PathLike[str]) -> int:
        """Write the ``library`` view to a Parquet file atomically; returns its rows."""
        from core.atomic import atomic_path

        with self.connect(read_only=True) as con, atomic_path(target, suffix=".parquet") as tmp:
            con.execute(f"COPY (SELECT * FROM library ORDER BY path) TO '{_quote(tmp)}' "
                        "(FORMAT parquet)")
            return int(con.execute("SELECT count(*) FROM library").fetchall()[0][0])


_REVIEW_LOCKS: dict[Path, threading.Lock] = {}
_REVIEW_LOCKS_GUARD = threading.Lock()


def _review_lock(path: Path) -> threading.Lock:
    """One lock per database for this process's review writes: the dashboard's sessions are
    threads of one process, and two of them writing one song's review at once conflict in
    DuckDB (another process cannot open the file for writing meanwhile)."""
    with _REVIEW_LOCKS_GUARD:
        return _REVIEW_LOCKS.setdefault(path.resolve(), threading.Lock())


def _quote(path: str | os.PathLike[str]) -> str:
    return str(path).replace("'", "''")


def _sql_value(value: Any) -> Any:
    """Python values as the database stores them: dicts and lists as JSON text."""
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value


class RunLock:
    """The one-writer lock of a tagging database: ``<database>.lock``, holding the pid.

    The kernel releases it when the process ends, however it ends (``kill -9`` included), so a
    stale lock never blocks a re-run. Re-entrant within one process (a ``tag`` run that then
    writes tags holds it throughout).

    Raises
    ------
    LibraryError
        On entering, when another process holds it (the message names its pid and start time).
    """

    _held: ClassVar[dict[str, list[Any]]] = {}  # lock path -> [open file, depth]

    def __init__(self, database: str | os.PathLike[str], *, purpose: str = "tag") -> None:
        self.database = Path(database).expanduser()
        self.path = Path(f"{self.database.resolve()}.lock")
        self.purpose = purpose

    def __enter__(self) -> RunLock:
        key = str(self.path)
        if key in self._held:
            self._held[key][1] += 1
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fh = open(self.path, "a+")  # held open (and locked) for the lock's lifetime
            if fcntl is None:
                break
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                fh.seek(0)
                holder = fh.read().strip() or "another process"
                fh.close()
                raise LibraryError(
                    f"{self.database} is in use by another `tag` run ({holder}); wait for it to "
                    "finish or stop it, then run again (a new run resumes where it stopped)"
                ) from None
            if self._still_named(fh):
                break
            fh.close()  # its holder removed that file as it finished: lock the new one
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} on {socket.gethostname()}, {self.purpose} since "
                 f"{now():%Y-%m-%d %H:%M:%S} UTC")
        fh.flush()
        self._held[key] = [fh, 1]
        return self

    def __exit__(self, *exc: object) -> None:
        key = str(self.path)
        entry = self._held.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] > 0:
            return
        fh = self._held.pop(key)[0]
        with contextlib.suppress(OSError):
            if fcntl is not None:  # removed while still held: no run leaves a lock file behind
                self.path.unlink()
            else:
                fh.seek(0)
                fh.truncate()
        fh.close()  # closing releases the lock

    def _still_named(self, fh: Any) -> bool:
        """Whether the locked file is still the one at :attr:`path` (a run that finished in
        between removed it, and a third may have made a new one)."""
        try:
            return os.stat(self.path).st_ino == os.fstat(fh.fileno()).st_ino
        except OSError:
            return False
