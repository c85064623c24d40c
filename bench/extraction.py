"""Dataset feature extraction: real-time factor on 1 and 2 worker processes, then from the cache.

Runs on the GTZAN excerpts in ../shared (else a synthetic set), each timing with a fresh cache.
Usage: python -m bench.extraction
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.common import SHARED, header, save
from core.cache import FeatureCache
from core.datasets import load_dataset
from core.extract import extract_many
from core.features import FeatureParams
from core.synth import make_demo_dataset


def main() -> dict[str, object]:
    header("dataset extraction (summary features per 3-s segment)")
    params = FeatureParams(kind="summary", segment_seconds=3.0)
    with tempfile.TemporaryDirectory() as tmp:
        root = SHARED / "data/gtzan/excerpts"
        if not root.is_dir():
            root = make_demo_dataset(Path(tmp) / "demo", genres=4, per_genre=25, seconds=10.0)
        paths = load_dataset(root, "gtzan" if "excerpts" in str(root) else "folders"
                             ).manifest["path"].tolist()
        result: dict[str, object] = {"files": len(paths)}
        for jobs in (1, 2):
            cache = FeatureCache(Path(tmp) / f"cache{jobs}")
            start = time.perf_counter()
            out = extract_many(paths, params, cache=cache, n_jobs=jobs, progress=False)
            seconds = time.perf_counter() - start
            audio = sum(out.n_samples) / params.sr
            result[f"rtf_{jobs}_cores"] = audio / seconds
            print(f"{jobs} core(s): {len(paths)} files, {audio:.0f} s of audio in {seconds:.1f} s "
                  f"= {audio / seconds:.0f}x real time")
        start = time.perf_counter()
        again = extract_many(paths, params, cache=cache, n_jobs=1, progress=False)
        cached = time.perf_counter() - start
        result["cached_seconds"] = cached
        result["cache_hits"] = again.cache_hits
        print(f"second run from the cache: {cached:.2f} s ({again.cache_hits} of {len(paths)} hits)")
    save("extraction", result)
    return result


if __name__ == "__main__":
    main()
