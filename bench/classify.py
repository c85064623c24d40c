"""Classify a 3-minute mp3 with all three models: decode, features, predict, aggregate.

Models are loaded first (not timed). Prints the median and p95 over repeated runs, the time per
model, and the process's peak memory. YAMNet uses $GENRELAB_YAMNET_HANDLE, else the int8 model in
../shared/models, else it is left out (and said so).
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


def main(runs: int = 7) -> dict[str, object]:
    header("classify a 3-minute mp3 with every model")
    handle = os.environ.get("GENRELAB_YAMNET_HANDLE")
    tflite = SHARED / "models/yamnet-int8-embeddings.tflite"
    if not handle and tflite.is_file():
        handle = str(tflite)
    loaded = load_models(yamnet_handle=handle)
    models = loaded.models
    if "yamnet" in models and handle is None:
        print("no YAMNet handle reachable offline: YAMNet left out")
        models = {k: v for k, v in models.items() if k != "yamnet"}
    with tempfile.TemporaryDirectory() as tmp:
        path = three_minute_mp3(Path(tmp))
        predict_audio(models, path)  # warm up: graph tracing, YAMNet load
        times, per_model = [], {name: [] for name in models}
        for _ in range(runs):
            start = time.perf_counter()
            prediction = predict_audio(models, path)
            times.append(time.perf_counter() - start)
            for name, p in prediction.models.items():
                per_model[name].append(p.seconds)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    total = summarise(times)
    print(f"models: {', '.join(models)} (YAMNet handle: {handle or 'none'})")
    print(f"end to end: median {total['median_s']:.2f} s, p95 {total['p95_s']:.2f} s "
          f"over {runs} runs")
    for name, values in per_model.items():
        print(f"  {name}: median {np.median(values):.2f} s")
    print(f"peak memory (RSS): {peak_mb:.0f} MB")
    result = {"total": total, "per_model_median_s": {k: float(np.median(v))
                                                     for k, v in per_model.items()},
              "peak_rss_mb": peak_mb, "yamnet_handle": handle, "errors": loaded.errors}
    save("classify", result)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    main(parser.parse_args().runs)
