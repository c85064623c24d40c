"""Tag a library with the bundled model set: throughput on 1 and 2 local workers and local Ray,
for 30-s clips and 3-minute songs, and the cost of resuming a library that is 90% tagged.

Songs: GTZAN's full 30-s clips from ../shared when present (else synthetic clips), as mp3; a
3-minute song is six different clips joined. Every song is distinct content (duplicates would
be skipped). Throughput is measured from the first song handed out to the last result (model
loading excluded: it is paid once per worker, not per song); "x real time" is seconds of audio
per second of tagging. Prints medians of the per-song times.
Usage: python -m bench.tagging [--songs 8] [--clips 24] [--no-ray]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import SHARED, header, save
from core.audio import load_audio
from core.library import TagSpec, TagStore, tag_library
from core.synth import genre_like, write

SR = 22050


def _clips(n: int) -> list[np.ndarray]:
    found = sorted((SHARED / "data/gtzan/full").glob("*/*.wav"))
    found = found[::max(1, len(found) // n)] if len(found) > n else found  # every genre
    if found:
        return [load_audio(p, sr=SR)[: 30 * SR] for p in found[:n]]
    return [genre_like(k % 6, 30.0, seed=k) for k in range(n)]


def make_songs(folder: Path, *, count: int, minutes: float, pool: list[np.ndarray]) -> Path:
    """``count`` distinct mp3 songs of about ``minutes`` minutes from 30-s clips."""
    per_song = max(1, round(minutes * 2))
    for i in range(count):
        parts = [pool[(i * per_song + k) % len(pool)] for k in range(per_song)]
        y = np.concatenate(parts) * (0.95 - 0.005 * i)  # distinct content even on reuse
        write(folder / f"song{i:03d}.mp3", y.astype(np.float32), SR)
    return folder


def _measure(library: Path, database: Path, *, engine: str, jobs: int | None) -> dict[str, float]:
    summary = tag_library([library], database, spec=TagSpec(), engine=engine, jobs=jobs,
                          progress=False)
    with TagStore(database).connect(read_only=True) as con:
        per_song = [s for (s,) in con.execute(
            "SELECT seconds FROM predictions WHERE error_reason IS NULL").fetchall()]
    if summary.failed:
        print(f"  failures: {dict(summary.failed)}")
    return {"songs": summary.done, "workers": summary.workers,
            "songs_per_s": summary.songs_per_second, "realtime_x": summary.realtime_factor,
            "tag_s": summary.tag_seconds, "wall_s": summary.wall_seconds,
            "median_song_s": statistics.median(per_song) if per_song else float("nan")}


def resume_overhead(folder: Path, pool: list[np.ndarray], *, total: int = 100) -> dict[str, float]:
    """A library of ``total`` 5-s songs, 90% tagged: how long does the re-run spend on the
    songs it skips? Compared with tagging only the new 10% in a fresh database."""
    done_dir, new_dir = folder / "lib" / "done", folder / "lib" / "new"
    for i in range(total):
        y = pool[i % len(pool)][: 5 * SR] * (0.5 + 0.004 * i)
        write((done_dir if i < 0.9 * total else new_dir) / f"s{i:03d}.wav", y, SR)
    db = folder / "resume.duckdb"
    tag_library([done_dir], db, progress=False)
    start = time.perf_counter()
    noop = tag_library([done_dir], db, progress=False)
    noop_s = time.perf_counter() - start
    resumed = tag_library([folder / "lib"], db, progress=False)
    fresh = tag_library([new_dir], folder / "fresh.duckdb", progress=False)
    return {"files": total, "already_tagged": noop.already,
            "rerun_all_tagged_s": noop_s, "per_skipped_file_ms": 1000 * noop_s / noop.already,
            "resume_wall_s": resumed.wall_seconds, "fresh_new_only_wall_s": fresh.wall_seconds,
            "overhead_s": resumed.wall_seconds - fresh.wall_seconds}


def main(songs: int = 8, clips: int = 24, ray: bool = True) -> dict[str, object]:
    header("tag a library with the bundled model set")
    pool = _clips(max(clips, 12))
    results: dict[str, object] = {"songs": songs, "clips": clips}
    configs = [("local", 1), ("local", 2)] + ([("ray", 2)] if ray else [])
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        libraries = {"30-s clips": make_songs(root / "clips", count=clips, minutes=0.5, pool=pool),
                     "3-min songs": make_songs(root / "songs", count=songs, minutes=3.0,
                                               pool=pool)}
        for kind, library in libraries.items():
            for engine, jobs in configs:
                name = f"{kind}, {engine} x{jobs}"
                result = _measure(library, root / f"{kind}-{engine}-{jobs}.duckdb".replace(" ", ""),
                                  engine=engine, jobs=jobs)
                results[name] = result
                print(f"{name}: {result['songs_per_s']:.2f} songs/s, "
                      f"{result['realtime_x']:.0f}x real time, median {result['median_song_s']:.2f} s "
                      f"per song per worker ({result['songs']} songs in {result['tag_s']:.1f} s; "
                      f"{result['wall_s']:.1f} s with start-up)")
        overhead = resume_overhead(root / "resume", pool)
        results["resume"] = overhead
        print(f"resume, {overhead['already_tagged']} of {overhead['files']} tagged: a re-run "
              f"skips them in {overhead['rerun_all_tagged_s']:.2f} s "
              f"({overhead['per_skipped_file_ms']:.1f} ms per file); tagging the other 10% "
              f"took {overhead['resume_wall_s']:.1f} s in the 90% database vs "
              f"{overhead['fresh_new_only_wall_s']:.1f} s alone (overhead "
              f"{overhead['overhead_s']:+.1f} s)")
    save("tagging", results)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--songs", type=int, default=8)
    parser.add_argument("--clips", type=int, default=24)
    parser.add_argument("--no-ray", action="store_true")
    args = parser.parse_args()
    main(args.songs, args.clips, not args.no_ray)
