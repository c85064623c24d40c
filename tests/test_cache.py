from __future__ import annotations

import multiprocessing as mp

import numpy as np
import pytest

import core.extract
from core.cache import FeatureCache
from core.extract import extract_many
from core.features import FeatureParams
from core.synth import genre_like, write

PARAMS = FeatureParams(kind="summary")


@pytest.fixture
def files(tmp_path):
    return [write(tmp_path / f"clip{i}.wav", genre_like(i, 2.0), 22050) for i in range(3)]


def test_second_run_does_no_audio_work(files, tmp_path, monkeypatch):
    cache = FeatureCache(tmp_path / "c")
    first = extract_many(files, PARAMS, cache=cache, progress=False)
    assert first.cache_hits == 0 and not first.errors

    def no_audio(*args, **kwargs):
        raise AssertionError("audio was decoded on a cached run")

    monkeypatch.setattr(core.extract, "load_audio", no_audio)
    monkeypatch.setattr(core.extract, "compute_features", no_audio)
    second = extract_many(files, PARAMS, cache=cache, progress=False)
    assert second.cache_hits == 3
    for a, b in zip(first.features, second.features, strict=True):
        np.testing.assert_array_equal(a, b)
    assert second.n_samples == first.n_samples


def test_key_includes_content_and_parameters(files, tmp_path):
    cache = FeatureCache(tmp_path / "c")
    extract_many(files[:1], PARAMS, cache=cache, progress=False)
    other = extract_many(files[:1], FeatureParams(kind="mfcc"), cache=cache, progress=False)
    assert other.cache_hits == 0
    files[0].write_bytes(write(files[0].with_name("x.wav"), genre_like(7, 2.0), 22050).read_bytes())
    changed = extract_many(files[:1], PARAMS, cache=cache, progress=False)
    assert changed.cache_hits == 0


def test_corrupt_entry_is_recomputed(files, tmp_path):
    cache = FeatureCache(tmp_path / "c")
    extract_many(files[:1], PARAMS, cache=cache, progress=False)
    (entry,) = cache.features_dir.rglob("*.npz")
    entry.write_bytes(b"garbage")
    again = extract_many(files[:1], PARAMS, cache=cache, progress=False)
    assert again.cache_hits == 0 and not again.errors
    assert again.features[0].shape == (1, 57)


def _hammer(args):
    root, digest, value = args
    cache = FeatureCache(root)
    for _ in range(30):
        cache.put(digest, PARAMS, np.full((50, 57), value), 1000)
        got = cache.get(digest, PARAMS)
        assert got is None or got[0].shape == (50, 57)
    return True


def test_concurrent_writers_cannot_corrupt(tmp_path):
    root = tmp_path / "c"
    with mp.get_context("spawn").Pool(4) as pool:
        assert all(pool.map(_hammer, [(str(root), "abc", float(v)) for v in range(8)]))
    features, n = FeatureCache(root).get("abc", PARAMS)
    assert n == 1000 and len(np.unique(features)) == 1  # one writer's complete array
    assert not list(root.rglob("*.tmp"))


def test_clear(files, tmp_path):
    cache = FeatureCache(tmp_path / "c")
    extract_many(files, PARAMS, cache=cache, progress=False)
    assert cache.size()[0] == 3
    assert cache.clear() == 3
    assert cache.size() == (0, 0)


def test_parallel_extraction_matches_serial(files, tmp_path):
    serial = extract_many(files, PARAMS, progress=False)
    parallel = extract_many(files, PARAMS, n_jobs=2, progress=False)
    for a, b in zip(serial.features, parallel.features, strict=True):
        np.testing.assert_allclose(a, b)


def test_failures_are_collected_not_raised(files, tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    result = extract_many([files[0], bad], PARAMS, progress=False)
    assert result.features[1] is None and "not an audio file" in result.errors[1]
    assert result.features[0] is not None


def test_parallel_extraction_after_openmp_threads_started(files):
    """Regression: a process pool forked after numba's OpenMP threads started aborted."""
    from core.features import compute_features

    compute_features(genre_like(1, 2.0), PARAMS)  # starts numba's parallel threads here
    result = extract_many(files, PARAMS, n_jobs=2, progress=False)
    assert not result.errors and all(f is not None for f in result.features)
