"""Feature extraction over many files: cached, in parallel, with a progress bar."""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from core.audio import check_extension, load_audio
from core.cache import FeatureCache, content_digest
from core.errors import AudioError, GenreLabError
from core.features import FeatureParams, compute_features


@dataclass
class Extraction:
    """Features of many files.

    Attributes
    ----------
    features : list of np.ndarray or None
        One array per input file (see :func:`core.features.compute_features`), None where the
        file failed.
    n_samples : list of int
        Decoded length of each file in samples at ``params.sr`` (0 where it failed).
    errors : dict of int to str
        Index of each failed file and why it failed.
    cache_hits : int
        How many files were served from the cache.
    """

    features: list[np.ndarray | None]
    n_samples: list[int]
    errors: dict[int, str] = field(default_factory=dict)
    cache_hits: int = 0


def cached_features(
    path: str | Path,
    *,
    sr: int,
    key: str,
    compute: Callable[[np.ndarray], np.ndarray],
    cache: FeatureCache | None = None,
) -> tuple[np.ndarray, int, bool]:
    """``compute`` of one audio file decoded at ``sr`` Hz, through the cache when one is given.

    The file is read once; its content digest and ``key`` (what ``compute`` does) name the cache
    entry, so a cached file is never decoded.

    Returns
    -------
    features : np.ndarray
    n_samples : int
        Decoded length at ``sr``.
    from_cache : bool

    Raises
    ------
    AudioError
        The file cannot be used (see :func:`core.audio.load_audio`).
    """
    path = Path(path)
    check_extension(path.name)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AudioError(f"{path.name}: cannot read the file ({exc.strerror}).",
                         reason="missing") from None
    digest = content_digest(data)
    if cache is not None:
        hit = cache.get(digest, key)
        if hit is not None:
            return hit[0], hit[1], True
    y = load_audio(data, sr=sr, name=path.name)
    features = compute(y)
    if cache is not None:
        cache.put(digest, key, features, len(y))
    return features, len(y), False


def extract_file(
    path: str | Path, params: FeatureParams, *, cache: FeatureCache | None = None
) -> tuple[np.ndarray, int, bool]:
    """Features of one audio file (see :func:`cached_features`)."""
    return cached_features(path, sr=params.sr, key=params.cache_key(),
                           compute=lambda y: compute_features(y, params), cache=cache)


def _pool_context() -> multiprocessing.context.BaseContext:
    """Workers start from a clean process: forking one that already runs OpenMP threads (numba,
    used by the feature code) can abort the child."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def _init_worker() -> None:
    """One numba thread per worker process: the pool already uses every core."""
    import numba

    numba.set_num_threads(1)


def _worker(args: tuple[str, FeatureParams, str | None]) -> tuple[np.ndarray | None, int, bool, str]:
    path, params, cache_root = args
    cache = FeatureCache(cache_root) if cache_root is not None else None
    try:
        features, n_samples, hit = extract_file(path, params, cache=cache)
    except GenreLabError as exc:
        return None, 0, False, str(exc)
    return features, n_samples, hit, ""


def extract_many(
    paths: Sequence[str | Path],
    params: FeatureParams,
    *,
    cache: FeatureCache | None = None,
    n_jobs: int = 1,
    progress: bool = True,
    description: str = "features",
) -> Extraction:
    """Extract features from many files; failures are collected, not raised.

    Parameters
    ----------
    paths : sequence of paths
    params : FeatureParams
    cache : FeatureCache or None
        Read and fill this cache (None: no caching).
    n_jobs : int
        Worker processes (1: in this process; -1 or 0: one per CPU core).
    progress : bool
        Show a tqdm progress bar on stderr.
    """
    if n_jobs <= 0:
        n_jobs = os.cpu_count() or 1
    cache_root = str(cache.root) if cache is not None else None
    tasks = [(str(p), params, cache_root) for p in paths]
    bar = tqdm(total=len(tasks), desc=description, unit="file", disable=not progress)
    results: list[tuple[np.ndarray | None, int, bool, str]] = []
    try:
        if n_jobs == 1 or len(tasks) < 2:
            for task in tasks:
                results.append(_worker(task))
                bar.update()
        else:
            with ProcessPoolExecutor(max_workers=min(n_jobs, len(tasks)),
                                     mp_context=_pool_context(),
                                     initializer=_init_worker) as pool:
                for result in pool.map(_worker, tasks, chunksize=max(1, len(tasks) // (8 * n_jobs))):
                    results.append(result)
                    bar.update()
    finally:
        bar.close()
    out = Extraction(features=[], n_samples=[])
    for index, (features, n_samples, hit, error) in enumerate(results):
        out.features.append(features)
        out.n_samples.append(n_samples)
        out.cache_hits += int(hit)
        if error:
            out.errors[index] = error
    return out
