"""The ``tag`` subcommand: tag a whole music library into a DuckDB database.

Examples::

    python -m core tag ~/Music --out library.duckdb                 # bundled models, whole songs
    python -m core tag ~/Music --out library.duckdb --jobs 2        # two worker processes
    python -m core tag /nfs/music --out lib.duckdb --engine ray --address auto   # a Ray cluster
    python -m core tag ~/Music --out library.duckdb --windows 5     # 5 spread 3-s windows
    python -m core tag ~/Music --out library.duckdb --write-tags --dry-run       # what would change
    python -m core tag ~/Music --out library.duckdb --write-tags --comment
    python -m core tag --undo --out library.duckdb                  # put the old tags back

Exit codes: 0 when the run completed (files that could not be tagged are recorded with their
reason and summarised, not fatal), 1 on an error (``error: ...``), 2 on bad arguments, 130 when
interrupted (a re-run resumes).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.cli_models import non_negative_int, positive_float, positive_int
from core.errors import UsageError


def output_paths(out: str, fmt: str | None) -> tuple[Path, Path | None]:
    """The database and (for ``--format parquet``) the Parquet file ``--out`` names.

    ``--out lib.duckdb --format parquet`` writes lib.duckdb and lib.parquet; ``--out
    lib.parquet`` (format inferred) keeps its state in lib.duckdb beside it.
    """
    path = Path(out).expanduser()
    if fmt is None:
        fmt = "parquet" if path.suffix.lower() == ".parquet" else "duckdb"
    if fmt == "duckdb":
        if path.suffix.lower() == ".parquet":
            raise UsageError(f"--out {out} names a Parquet file; add --format parquet or "
                                 "name a .duckdb file")
        return path, None
    if path.suffix.lower() == ".parquet":
        return path.with_suffix(".duckdb"), path
    return path, path.with_suffix(".parquet")


def cmd_tag(args: argparse.Namespace) -> int:
    from core.library import TagSpec, tag_library, undo_tags, write_tags
    from core.library.tagger import TagInterrupted

    database, parquet = output_paths(args.out, args.format)
    if (args.dry_run or args.comment) and not (args.write_tags or args.undo):
        raise UsageError("--dry-run and --comment go with --write-tags (or --undo for "
                             "--dry-run)")
    if args.undo:
        if args.library or args.write_tags:
            raise UsageError("--undo takes only --out (and --dry-run): it restores the tags "
                                 "the latest --write-tags replaced")
        summary = undo_tags(database, dry_run=args.dry_run, echo=print)
        if not (summary.changes or summary.skipped or summary.failures):
            return 0
        for line in summary.lines():
            print(line.replace("tags: changed", "tags: restored")
                  .replace("tags: would change", "tags: would restore"))
        return 1 if summary.failures else 0
    if not args.library:
        raise UsageError("give one or more LIBRARY folders or files to tag")
    spec = TagSpec(models_dir=args.models, yamnet_handle=args.yamnet_handle,
                   max_seconds=args.max_seconds, windows=args.windows)
    try:
        summary = tag_library(args.library, database, spec=spec, engine=args.engine,
                              jobs=args.jobs, address=args.address,
                              retry_failed=args.retry_failed, rehash=args.rehash,
                              commit_every=args.commit_every, progress=not args.quiet)
    except TagInterrupted as stopped:  # what was saved, and how to go on
        for line in stopped.summary.lines():
            print(line)
        print(f"interrupted: {stopped.summary.done} of {stopped.pending} songs done and saved "
              f"in {database}; run the same command again to tag the rest", file=sys.stderr)
        return 130
    for line in summary.lines():
        print(line)
    if parquet is not None:
        from core.library import TagStore

        rows = TagStore(database).export_parquet(parquet)
        print(f"parquet: {rows} rows -> {parquet}")
    if args.write_tags:
        written = write_tags(database, roots=summary.walk.roots, comment=args.comment,
                             dry_run=args.dry_run, echo=print)
        for line in written.lines():
            print(line)
        if written.failures:
            return 1
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``tag`` to the CLI's subcommands."""
    from core.library.engines import ENGINES

    p = sub.add_parser(
        "tag", help="tag a whole music library into a DuckDB database (resumable, parallel)",
        description="Walk folders recursively, run a model set on every song GenreLab decodes "
                    "and store one row per file in a DuckDB database. A re-run skips songs "
                    "already tagged with the same model set (by content, so renamed files are "
                    "not redone). Other files are counted; bad files are recorded with their "
                    "reason.")
    p.add_argument("library", nargs="*", metavar="LIBRARY", help="folders and/or audio files")
    p.add_argument("--out", "-o", required=True, metavar="FILE",
                   help="the tagging database (.duckdb; created or resumed)")
    p.add_argument("--format", choices=("duckdb", "parquet"), default=None,
                   help="parquet: also export the library table to a .parquet file beside it "
                        "(default: duckdb, or parquet when --out ends in .parquet)")
    p.add_argument("--models", default=None, metavar="DIR",
                   help="folder of model folders (default: the bundled set)")
    p.add_argument("--yamnet-handle", default=None,
                   help="YAMNet for YAMNet models (default: what each head was trained on)")
    part = p.add_mutually_exclusive_group()
    part.add_argument("--max-seconds", type=positive_float, default=None, metavar="N",
                      help="analyse the middle N seconds of each song (default: whole songs)")
    part.add_argument("--windows", type=positive_int, default=None, metavar="K",
                      help="analyse K 3-s windows spread evenly over each song")
    p.add_argument("--jobs", "-j", type=non_negative_int, default=None, metavar="N",
                   help="worker processes (local; default 1: this process, using every core) "
                        "or Ray actors (default: one per cluster CPU); 0 = one per core / CPU")
    p.add_argument("--engine", choices=ENGINES, default="local",
                   help="local processes, or Ray (this machine, or a cluster with --address)")
    p.add_argument("--address", default=None, metavar="ADDR",
                   help="Ray cluster to join (auto, head:6379, ray://head:10001)")
    p.add_argument("--retry-failed", action="store_true",
                   help="try songs again that failed before (default: skip them)")
    p.add_argument("--rehash", action="store_true",
                   help="re-read every file's content hash, even when size and time match")
    p.add_argument("--commit-every", type=positive_int, default=64, metavar="N",
                   help="commit results every N songs (and every 2 s); default 64")
    p.add_argument("--write-tags", action="store_true",
                   help="write each confident (or reviewed) genre into the file's tags: ID3 "
                        "TCON, Vorbis GENRE, MP4 \u00a9gen; audio data is never rewritten")
    p.add_argument("--comment", action="store_true",
                   help="with --write-tags: also write a confidence comment")
    p.add_argument("--dry-run", action="store_true",
                   help="with --write-tags or --undo: show what would change, change nothing")
    p.add_argument("--undo", action="store_true",
                   help="restore the tag values the latest --write-tags replaced")
    p.set_defaults(func=cmd_tag)

