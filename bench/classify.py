"""Classify a 3-minute mp3 with all three models: decode, features, predict, aggregate.

Models are loaded first (not timed): the bundled set (YAMNet: the bundled int8 TFLite, or
$GENRELAB_YAMNET_HANDLE), combined by its fitted ensemble. Prints the median and p95 over repeated
runs with the models answering concurrently (what GenreLab does) and one after another (what a
library worker with one core does), interleaved run by run so both see the same machine, and
their ratio; the time per model (concurrent runs overlap, so these add up to more than the
total), the pretrained CNN's milliseconds per 3-s patch (alone and batched), and the process's
peak memory.
Usage: python -m bench.classify [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import SHARED, header, save, summarise
from core.audio import load_audio
from core.predict import load_models, predict_audio
from core.synth import genre_like, write


def three_minute_mp3(folder: Path) -> Path:
    clips = sorted((SHARED / "data/gtzan/clips").glob("*.wav"))
    if clips:
        y = np.concatenate([load_audio(p, sr=22050) for p in clips] * 2)[: 180 * 22050]
    else:
        y = np.concatenate([genre_like(k, 30.0, seed=k) for k in range(6)])
    return write(folder / "three_minutes.mp3", y, 22050)


def musicnn_patch_ms(repeats: int = 7) -> dict[int, float]:
    """Median milliseconds per 3-s patch of the shipped musicnn, one patch and 60 at a time."""
    from core.encoders.musicnn import N_MELS, PATCH_FRAMES, load_musicnn

    encoder = load_musicnn("msd")
    patches = np.random.default_rng(0).random((60, PATCH_FRAMES, N_MELS), np.float32) * 3
    result = {}
    for batch in (1, 60):
        encoder.predict_patches(patches[:batch], batch_size=batch)
        seconds = []
        for _ in range(repeats):
            start = time.perf_counter()
            encoder.predict_patches(patches[:batch], batch_size=batch)
            seconds.append(time.perf_counter() - start)
        result[batch] = 1000 * float(np.median(seconds)) / batch
    return result


def main(runs: int = 7) -> dict[str, object]:
    header("classify a 3-minute mp3 with every model")
    handle = os.environ.get("GENRELAB_YAMNET_HANDLE")
    loaded = load_models(yamnet_handle=handle)
    models = loaded.models
    for name, message in loaded.errors.items():
        print(f"model {name} unavailable: {message}")
    with tempfile.TemporaryDirectory() as tmp:
        path = three_minute_mp3(Path(tmp))
        predict_audio(models, path)  # warm up: graph tracing, YAMNet load
        times: dict[str, list[float]] = {"concurrent": [], "sequential": []}
        per_model: dict[str, list[float]] = {name: [] for name in models}
        for _ in range(runs):
            for mode, threads in (("concurrent", None), ("sequential", 1)):
                start = time.perf_counter()
                prediction = predict_audio(models, path, ensemble=loaded.ensemble,
                                           threads=threads)
                times[mode].append(time.perf_counter() - start)
                if mode == "concurrent":
                    for name, p in prediction.models.items():
                        per_model[name].append(p.seconds)
    patch_ms = musicnn_patch_ms()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    total, sequential = summarise(times["concurrent"]), summarise(times["sequential"])
    ratio = float(np.median(np.divide(times["concurrent"], times["sequential"])))
    print(f"models: {', '.join(models)} (YAMNet handle: {handle or 'bundled:yamnet-int8'}), "
          f"ensemble: {prediction.ensemble_method}")
    print(f"end to end, models concurrent: median {total['median_s']:.2f} s, "
          f"p95 {total['p95_s']:.2f} s over {runs} runs")
    print(f"end to end, one after another: median {sequential['median_s']:.2f} s, "
          f"p95 {sequential['p95_s']:.2f} s; concurrent / sequential, run by run: "
          f"median {ratio:.2f}")
    for name, values in per_model.items():
        print(f"  {name}: median {np.median(values):.2f} s")
    print("  pretrained CNN (musicnn MSD): " + ", ".join(
        f"batch {b}: {ms:.1f} ms per 3-s patch" for b, ms in patch_ms.items()))
    print(f"peak memory (RSS): {peak_mb:.0f} MB")
    result = {"total": total, "sequential": sequential, "concurrent_over_sequential": ratio,
              "per_model_median_s": {k: float(np.median(v)) for k, v in per_model.items()},
              "musicnn_ms_per_patch": patch_ms, "ensemble": prediction.ensemble_method,
              "peak_rss_mb": peak_mb, "yamnet_handle": handle or "bundled:yamnet-int8",
              "errors": loaded.errors}
    save("classify", result)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    main(parser.parse_args().runs)
