"""Tag a whole library: walk, identify, skip what is done, tag the rest, record everything.

:func:`tag_library` is what ``python -m core tag`` runs:

1. walk the folders (:func:`core.library.walk.walk_library`);
2. identify each file by its content hash (read again only when its size or modification time
   changed since the last run) and record the files (one row per path);
3. find the songs with no prediction for this model set and analysis (a renamed file, or a copy
   under another name, is not redone);
4. tag them on an engine (:mod:`core.library.engines`), committing every ``commit_every``
   results or ``commit_seconds`` seconds in one transaction each, so ``kill -9`` loses only
   the songs in flight and a re-run tags exactly those.

:func:`write_tags` then writes the genres into the files (``--write-tags``), logging every
change, and :func:`undo_tags` puts the logged values back (``--undo``).
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from core.errors import LibraryError
from core.library.engines import make_engine
from core.library.job import ModelSetInfo, TagSpec, TagTask, model_set_info
from core.library.store import RunLock, TagStore, now
from core.library.tags import (
    TagChange,
    genre_tag_value,
    plan_changes,
    read_fields,
    tag_format,
    write_changes,
)
from core.library.walk import Walk, content_hash, hash_files, walk_library

__all__ = ["TagSummary", "TagWriteSummary", "tag_library", "undo_tags", "write_tags"]

Echo = Callable[[str], None]
HASH_CHUNK = 2000


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


class TagInterrupted(KeyboardInterrupt):
    """A ``tag`` run stopped by Ctrl-C (SIGINT): what it had saved (``summary``, its songs
    committed in the database) out of ``pending`` songs it set out to tag."""

    def __init__(self, summary: TagSummary, pending: int) -> None:
        super().__init__("interrupted")
        self.summary = summary
        self.pending = pending


@dataclass
class TagSummary:
    """What one ``tag`` run did.

    Attributes
    ----------
    tagged : int
        Songs tagged in this run (new predictions without an error).
    failed : Counter
        Songs that could not be tagged in this run, by reason.
    already : int
        Songs (distinct contents) that already had a prediction (not redone).
    duplicates : int
        Files whose content is another file's (they share its prediction).
    audio_seconds, analysed_seconds : float
        Length of the songs tagged in this run, and how much of it was analysed.
    tag_seconds : float
        Seconds from the first song handed to the workers to the last result (model loading
        excluded): what throughput is measured on.
    wall_seconds : float
        The whole run, walking and loading included.
    """

    database: str
    run_id: int
    model_set: ModelSetInfo
    analysis: str
    engine: str
    workers: int
    walk: Walk
    tagged: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    already: int = 0
    duplicates: int = 0
    gone: int = 0
    unhashable: list[str] = field(default_factory=list)
    audio_seconds: float = 0.0
    analysed_seconds: float = 0.0
    tag_seconds: float = 0.0
    wall_seconds: float = 0.0
    interrupted: bool = False

    @property
    def done(self) -> int:
        return self.tagged + sum(self.failed.values())

    @property
    def songs_per_second(self) -> float:
        return self.done / self.tag_seconds if self.tag_seconds > 0 else 0.0

    @property
    def realtime_factor(self) -> float:
        """Seconds of audio (whole songs) tagged per second of tagging."""
        return self.audio_seconds / self.tag_seconds if self.tag_seconds > 0 else 0.0

    def lines(self) -> list[str]:
        """The summary printed at the end of a run."""
        walk = self.walk
        out = []
        if self.done:
            fails = sum(self.failed.values())
            out.append(f"tagged {self.tagged} song{'s' if self.tagged != 1 else ''}"
                       + (f"; {fails} {'more ' if self.tagged else ''}failed (reasons below)"
                          if fails else "")
                       + (f", in {self.tag_seconds:.1f} s: {self.songs_per_second:.2f} songs/s, "
                          f"{self.realtime_factor:.0f}x real time on {self.workers} "
                          f"{self.engine} worker{'s' if self.workers != 1 else ''}"
                          if self.tagged else "")
                       + (f" (analysed {self.analysed_seconds / max(self.audio_seconds, 1e-9):.0%}"
                          " of the audio)" if self.analysis != "whole" and self.tagged else ""))
        else:
            out.append("nothing new to tag")
        other = ", ".join(f"{ext or 'no extension'} {n}" for ext, n in walk.other.most_common(6))
        out.append(f"library: {len(walk.audio)} audio file{'s' if len(walk.audio) != 1 else ''}"
                   + (f" ({self.duplicates} duplicate{'s' if self.duplicates != 1 else ''} of "
                      "other files)" if self.duplicates else "")
                   + f", {walk.n_other} other file{'s' if walk.n_other != 1 else ''}"
                   + (f" ({other})" if other else "")
                   + (f", {walk.hidden} hidden" if walk.hidden else ""))
        out.append(f"skipped: {self.already} song{'s' if self.already != 1 else ''} already "
                   "done with this model set and analysis"
                   + (f"; {self.gone} file{'s' if self.gone != 1 else ''} gone since the last run "
                      "forgotten" if self.gone else ""))
        if self.failed:
            out.append("failed by reason: " + ", ".join(f"{reason} {n}" for reason, n in
                                                       self.failed.most_common()))
        for problem in [*walk.unreadable, *self.unhashable][:5]:
            out.append(f"unreadable: {problem}")
        out.append(f"database: {self.database} (run {self.run_id}, model set "
                   f"{self.model_set.name} {self.model_set.id}, analysis {self.analysis})")
        if self.interrupted:
            out.append("interrupted: songs done so far are saved; run the same command again "
                       "to resume")
        return out


def _identify(store: TagStore, walk: Walk, *, rehash: bool, progress: bool) -> tuple[
        pd.DataFrame, list[str]]:
    """Content hash of every walked file (stored ones reused when size and time match), with
    the files recorded in the database as they are hashed."""
    walked = pd.DataFrame({"path": [f.path for f in walk.audio],
                           "size_bytes": [f.size for f in walk.audio],
                           "mtime_ns": [f.mtime_ns for f in walk.audio],
                           "format": [f.format for f in walk.audio]})
    walked = walked.astype({"path": object, "format": object, "size_bytes": "int64",
                            "mtime_ns": "int64"})
    known: dict[str, str] = {}
    if not rehash and len(walked):
        with store.connect() as con:
            stored = store.stored_hashes(con, walked)
        known = dict(zip(stored["path"], stored["content_hash"], strict=True))
    todo = [p for p in walked["path"] if p not in known]
    problems: list[str] = []
    bar = tqdm(total=len(todo), desc="hashing", unit="file", disable=not progress or len(todo) < 50,
               leave=False)
    try:
        for start in range(0, len(todo), HASH_CHUNK):
            chunk = todo[start:start + HASH_CHUNK]
            for path, digest in hash_files(chunk).items():
                if isinstance(digest, OSError):
                    problems.append(f"{path}: {digest.strerror or digest}")
                else:
                    known[path] = digest
            bar.update(len(chunk))
    finally:
        bar.close()
    walked["content_hash"] = walked["path"].map(known)
    walked = walked[walked["content_hash"].notna()].reset_index(drop=True)
    return walked, problems


def tag_library(roots: Sequence[str | os.PathLike[str]], database: str | os.PathLike[str], *,
                spec: TagSpec | None = None, engine: str = "local", jobs: int | None = None,
                address: str | None = None, retry_failed: bool = False, rehash: bool = False,
                commit_every: int = 64, commit_seconds: float = 2.0, progress: bool = True,
                echo: Echo = _stderr) -> TagSummary:
    """Tag every song under ``roots`` into the tagging database ``database``.

    Parameters
    ----------
    roots : sequence of paths
        Folders (walked recursively) and files.
    database : path
        The DuckDB file (created if missing; an existing one is resumed).
    spec : TagSpec or None
        Model set and analysis (default: the bundled set on whole songs).
    engine : {"local", "ray"}
    jobs : int or None
        Local worker processes (None or 1: this process; 0: one per core), or Ray actors (None
        or 0: one per cluster CPU).
    address : str or None
        Ray cluster address (``--engine ray`` only).
    retry_failed : bool
        Try songs again whose earlier attempt failed (default: a failure is final for that
        content, model set and analysis).
    rehash : bool
        Read every file to hash it, even when its size and time are unchanged.
    commit_every, commit_seconds : int, float
        Commit results after this many songs or seconds, whichever comes first.
    progress : bool
        Show progress bars (songs/s and ETA) on stderr.
    echo : callable
        Where notes go (default: stderr).

    Returns
    -------
    TagSummary

    Raises
    ------
    LibraryError
        A missing root, a busy or foreign database, a failed engine.
    ModelError
        The model set is missing or does not load.
    """
    started = time.perf_counter()
    spec = spec or TagSpec()
    if commit_every < 1:
        raise LibraryError(f"commit_every must be at least 1, got {commit_every!r}")
    info = model_set_info(spec.models_dir, yamnet_handle=spec.yamnet_handle)
    walk = walk_library(roots)
    store = TagStore(Path(database))
    with RunLock(store.path):
        store.create()
        walked, problems = _identify(store, walk, rehash=rehash, progress=progress)
        with store.transaction() as con:
            for start in range(0, len(walked), 50_000):
                store.upsert_files(con, walked.iloc[start:start + 50_000])
            gone = store.forget_missing(con, walk.roots, list(walked["path"]))
            pending = store.pending(con, list(walked["path"]), model_set=info.id,
                                    analysis=spec.analysis, retry_failed=retry_failed)
            chosen = make_engine(spec, engine=engine, jobs=jobs, address=address)
            run_id = store.start_run(
                con, model_set=info.id, model_set_name=info.name, models_dir=info.path,
                analysis=spec.analysis, engine=chosen.name, workers=chosen.workers,
                roots=walk.roots, files_audio=len(walk.audio), files_other=walk.n_other)
        contents = walked["content_hash"].nunique()
        summary = TagSummary(str(store.path), run_id, info, spec.analysis, chosen.name,
                             chosen.workers, walk, already=contents - len(pending),
                             duplicates=len(walked) - contents, gone=gone, unhashable=problems)
        status = "failed"
        try:
            if pending:
                _run_engine(store, chosen, pending, summary, spec=spec, info=info,
                            commit_every=commit_every, commit_seconds=commit_seconds,
                            progress=progress)
            status = "finished"
        except KeyboardInterrupt:
            summary.interrupted = True
            status = "interrupted"
            raise TagInterrupted(summary, len(pending)) from None
        finally:
            summary.wall_seconds = time.perf_counter() - started
            summary.workers = chosen.workers
            with store.transaction() as con:
                store.update_run(
                    con, run_id, status=status, finished_at=now(), workers=chosen.workers,
                    tagged=summary.tagged, failed=sum(summary.failed.values()),
                    already=summary.already, duplicates=summary.duplicates,
                    audio_seconds=summary.audio_seconds,
                    analysed_seconds=summary.analysed_seconds,
                    tag_seconds=summary.tag_seconds, wall_seconds=summary.wall_seconds)
    return summary


def _run_engine(store: TagStore, engine: Any, pending: list[tuple[str, str]],
                summary: TagSummary, *, spec: TagSpec, info: ModelSetInfo, commit_every: int,
                commit_seconds: float, progress: bool) -> None:
    buffer: list[dict[str, Any]] = []
    last_commit = time.monotonic()

    def commit() -> None:
        nonlocal last_commit
        if buffer:
            with store.transaction() as con:
                store.insert_predictions(con, buffer)
            buffer.clear()
        last_commit = time.monotonic()

    bar = None
    try:
        engine.start()  # workers load the models first: the bar then measures tagging alone
        summary.workers = engine.workers
        bar = tqdm(total=len(pending), desc="tagging", unit="song", disable=not progress,
                   smoothing=0.1)
        tag_start = time.perf_counter()
        tasks = (TagTask(h, p) for h, p in pending)
        for row in engine.run(tasks):
            row.update(model_set=info.id, analysis=spec.analysis, run_id=summary.run_id,
                       tagged_at=now())
            buffer.append(row)
            if row.get("error_reason"):
                summary.failed[str(row["error_reason"])] += 1
            else:
                summary.tagged += 1
                summary.audio_seconds += float(row.get("duration_s") or 0.0)
                summary.analysed_seconds += float(row.get("analysed_s") or 0.0)
            summary.tag_seconds = time.perf_counter() - tag_start
            if len(buffer) >= commit_every or time.monotonic() - last_commit >= commit_seconds:
                commit()
            bar.update()
            if summary.failed:
                bar.set_postfix(failed=sum(summary.failed.values()), refresh=False)
    finally:
        try:
            commit()
        finally:
            if bar is not None:
                bar.close()
            engine.close()


# ---------------------------------------------------------------- writing tags into files
@dataclass
class TagWriteSummary:
    """What ``--write-tags`` (or ``--undo``) did, or with ``dry_run`` would do."""

    dry_run: bool
    changes: list[TagChange] = field(default_factory=list)
    files_changed: int = 0
    unchanged: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        verb = "would change" if self.dry_run else "changed"
        out = [f"tags: {verb} {len(self.changes)} field{'s' if len(self.changes) != 1 else ''} "
               f"in {self.files_changed} file{'s' if self.files_changed != 1 else ''}"
               + (f", {self.unchanged} already up to date" if self.unchanged else "")]
        if self.skipped:
            out.append("tags: left alone: " + ", ".join(
                f"{n} file{'s' if n != 1 else ''} ({reason})"
                for reason, n in self.skipped.most_common()))
        out += [f"tags: failed: {message}" for message in self.failures]
        return out


def _comment_text(row: pd.Series, genre: str) -> str:
    if isinstance(row.get("reviewed_genre"), str) and row["reviewed_genre"]:
        return f"GenreLab: {genre_tag_value(genre)} (reviewed by a person)"
    return (f"GenreLab: {genre_tag_value(genre)} (confidence {float(row['confidence']):.2f}, "
            f"model set {row['model_set']})")


def _genre_to_write(row: pd.Series) -> tuple[str | None, str]:
    """The genre a file's tag gets, or None and why not: a person's answer first, else a
    confident ensemble answer (an uncertain one is never written)."""
    reviewed = row.get("reviewed_genre")
    if isinstance(reviewed, str) and reviewed:
        return reviewed, ""
    if isinstance(row.get("error_reason"), str):
        return None, "could not be tagged"
    if not isinstance(row.get("genre"), str):
        return None, "not tagged yet"
    if bool(row.get("uncertain")):
        return None, "uncertain (review it on the Library page)"
    return str(row["genre"]), ""


def _under(path: str, roots: Sequence[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def write_tags(database: str | os.PathLike[str], *, roots: Sequence[str] | None = None,
               comment: bool = False, dry_run: bool = False,
               echo: Echo = _stderr) -> TagWriteSummary:
    """Write each file's genre into its tags (see :mod:`core.library.tags`), logging every
    change in ``tag_changes`` first, so :func:`undo_tags` can restore it.

    Parameters
    ----------
    database : path
    roots : sequence of str or None
        Only files under these absolute folders (None: every file in the database).
    comment : bool
        Also write a confidence comment.
    dry_run : bool
        Only say what would change (``echo`` gets one line per field).

    Returns
    -------
    TagWriteSummary
    """
    store = TagStore(Path(database))
    if not store.path.is_file():
        raise LibraryError(f"no tagging database at {store.path} (tag the library first)")
    summary = TagWriteSummary(dry_run=dry_run)
    with RunLock(store.path, purpose="writing tags"):
        with store.connect() as con:
            rows = store.library(con)
            batch = int(con.execute("SELECT coalesce(max(batch), 0) + 1 FROM tag_changes"
                                    ).fetchall()[0][0])
        if roots is not None:
            rows = rows[[_under(p, roots) for p in rows["path"]]]
        for _, row in rows.iterrows():
            path = str(row["path"])
            if tag_format(path) is None:
                summary.skipped[f"no genre tag in {Path(path).suffix.lstrip('.')} files"] += 1
                continue
            genre, why = _genre_to_write(row)
            if genre is None:
                summary.skipped[why] += 1
                continue
            try:
                changes = plan_changes(path, genre,
                                       comment=_comment_text(row, genre) if comment else None)
            except LibraryError as exc:
                summary.failures.append(str(exc))
                continue
            if not changes:
                summary.unchanged += 1
                continue
            if dry_run:
                for change in changes:
                    echo(f"would set {change.describe()}")
            else:
                try:
                    _apply(store, path, str(row["content_hash"]), changes, batch=batch,
                           undo=False)
                except LibraryError as exc:
                    summary.failures.append(str(exc))
                    continue
            summary.changes += changes
            summary.files_changed += 1
    return summary


def _apply(store: TagStore, path: str, hash_before: str, changes: list[TagChange], *,
           batch: int, undo: bool) -> None:
    """Log, write, then record the file's new hash (log first: a crash between the two leaves
    a logged change that undo checks against the file before restoring anything)."""
    import json

    if not undo:
        with store.transaction() as con:
            for change in changes:
                con.execute(
                    "INSERT INTO tag_changes (batch, path, tag_format, field, old_value, "
                    "new_value, hash_before, changed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [batch, path, change.tag_format, change.field,
                     None if change.old is None else json.dumps(list(change.old)),
                     None if change.new is None else json.dumps(list(change.new)),
                     hash_before, now()])
    try:
        write_changes(path, {c.field: c.new for c in changes})
    except Exception:  # nothing was written: the logged changes never happened
        if not undo:
            with store.transaction() as con:
                con.execute("DELETE FROM tag_changes WHERE batch = ? AND path = ? AND "
                            "hash_after IS NULL", [batch, path])
        raise
    hash_after = content_hash(path)
    stat = os.stat(path)
    with store.transaction() as con:
        store.update_file(con, path, content_hash=hash_after, size_bytes=stat.st_size,
                          mtime_ns=stat.st_mtime_ns)
        store.alias_content(con, hash_before, hash_after)
        if undo:
            con.execute("UPDATE tag_changes SET undone_at = ? WHERE batch = ? AND path = ?",
                        [now(), batch, path])
        else:
            con.execute("UPDATE tag_changes SET hash_after = ? WHERE batch = ? AND path = ? "
                        "AND hash_after IS NULL", [hash_after, batch, path])


def undo_tags(database: str | os.PathLike[str], *, dry_run: bool = False,
              echo: Echo = _stderr) -> TagWriteSummary:
    """Restore the values the latest ``--write-tags`` replaced (a field that was absent is
    removed again). A field changed by someone else since is left as it is, and said so.
    Run it again to undo the write before that.

    Raises
    ------
    LibraryError
        The database is missing or busy.
    """
    import json

    store = TagStore(Path(database))
    if not store.path.is_file():  # before the lock, so a mistyped name leaves nothing behind
        raise LibraryError(f"no tagging database at {store.path} (nothing to undo)")
    summary = TagWriteSummary(dry_run=dry_run)
    with RunLock(store.path, purpose="undoing tags"):
        with store.connect() as con:
            row = con.execute("SELECT max(batch) FROM tag_changes WHERE undone_at IS NULL"
                              ).fetchall()[0]
            batch = None if row is None or row[0] is None else int(row[0])
            log = [] if batch is None else con.execute(
                "SELECT c.path, c.tag_format, c.field, c.old_value, c.new_value, f.content_hash "
                "FROM tag_changes c LEFT JOIN files f USING (path) WHERE c.batch = ? AND "
                "c.undone_at IS NULL ORDER BY c.change_id", [batch]).fetchall()
        if batch is None:
            echo("nothing to undo: no tags written by GenreLab are on record")
            return summary
        by_path: dict[str, list[tuple[str, str, Any, Any, Any]]] = {}
        for path, fmt, field_name, old, new, digest in log:
            by_path.setdefault(path, []).append((fmt, field_name, old, new, digest))
        for path, entries in by_path.items():
            if not os.path.isfile(path):
                summary.failures.append(f"{path}: no longer there; its tags cannot be restored")
                continue
            try:
                current = read_fields(path, [e[1] for e in entries])
            except LibraryError as exc:
                summary.failures.append(str(exc))
                continue
            restore = []
            for fmt, field_name, old, new, _ in entries:
                old_v = None if old is None else tuple(json.loads(old))
                new_v = None if new is None else tuple(json.loads(new))
                if current[field_name] != new_v:
                    summary.skipped[f"changed since GenreLab wrote it ({field_name})"] += 1
                    continue
                restore.append(TagChange(path, fmt, field_name, new_v, old_v))
            if not restore:
                continue
            if dry_run:
                for change in restore:
                    echo(f"would restore {change.describe()}")
            else:
                digest = entries[0][4] or content_hash(path)
                try:
                    _apply(store, path, digest, restore, batch=batch, undo=True)
                except LibraryError as exc:
                    summary.failures.append(str(exc))
                    continue
            summary.changes += restore
            summary.files_changed += 1
        if not dry_run:  # entries left alone are settled too: the next undo goes further back
            with store.transaction() as con:
                con.execute("UPDATE tag_changes SET undone_at = ? WHERE batch = ? AND "
                            "undone_at IS NULL", [now(), batch])
    return summary

