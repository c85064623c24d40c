"""Summary features: GenreLab's extractor vs the per-feature librosa recipe, side by side.

Same clips, same run, interleaved; prints the median time per 30-s clip of each and the ratio,
and checks that every value stays within 5% of the Kaggle table's column std of the recipe's.
Usage: python -m bench.features [--repeats 5]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from bench.common import SHARED, header, save, summarise
from bench.reference_features import reference_summary_features
from core.audio import load_audio
from core.features import SUMMARY_COLUMNS
from core.features.summary import summary_features
from core.synth import genre_like


def clips() -> list[tuple[str, np.ndarray]]:
    folder = SHARED / "data/gtzan/clips"
    if folder.is_dir():
        return [(p.name, load_audio(p, sr=22050)) for p in sorted(folder.glob("*.wav"))]
    print("../shared absent: using five synthetic 30-s clips")
    return [(f"synthetic{k}", genre_like(k, 30.0, seed=k)) for k in range(5)]


def main(repeats: int = 5) -> dict[str, object]:
    """Both settings of the process's BLAS threads, since idle OpenBLAS threads spin."""
    from threadpoolctl import threadpool_limits

    default = measure(repeats, "BLAS threads at their default")
    with threadpool_limits(limits=1, user_api="blas"):
        single = measure(repeats, "BLAS limited to one thread for both (the recipe uses no more)")
    result = {"blas_default": default, "blas_single": single}
    save("features", result)
    return result


def measure(repeats: int, label: str) -> dict[str, object]:
    header(f"summary features per 30-s clip; {label}")
    table_std = None
    table_path = SHARED / "data/gtzan/features_30_sec.csv"
    if table_path.is_file():
        table_std = pd.read_csv(table_path)[list(SUMMARY_COLUMNS)].std().to_numpy()
    data = clips()
    summary_features(data[0][1])  # warm up (numba, FFT plans)
    reference_summary_features(data[0][1])
    fast, ref, deviation = [], [], 0.0
    for _ in range(repeats):
        for _, y in data:
            t = time.perf_counter()
            ours = summary_features(y)
            fast.append(time.perf_counter() - t)
            t = time.perf_counter()
            theirs = reference_summary_features(y)
            ref.append(time.perf_counter() - t)
            if table_std is not None:
                dev = np.abs(ours - theirs) / table_std
                dev[SUMMARY_COLUMNS.index("tempo")] = 0.0 if min(
                    abs(ours[16] * f - theirs[16]) for f in (0.5, 1, 2)) < 1 else dev[16]
                deviation = max(deviation, float(dev.max()))
    f, r = summarise(fast), summarise(ref)
    ratio = r["median_s"] / f["median_s"]
    print(f"librosa recipe: median {r['median_s'] * 1000:.0f} ms per clip")
    print(f"GenreLab:       median {f['median_s'] * 1000:.0f} ms per clip")
    print(f"speed-up:       {ratio:.1f}x (median over {f['runs']} clip runs)")
    if table_std is not None:
        print(f"largest deviation from the recipe: {deviation:.2e} std of the Kaggle column")
    return {"genrelab": f, "librosa_recipe": r, "speedup": ratio,
            "max_deviation_std": deviation if table_std is not None else None}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    main(parser.parse_args().repeats)
