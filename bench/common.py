"""Shared benchmark helpers: machine facts, robust statistics, JSON results."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

from core.atomic import write_text_atomic

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
RESULTS = ROOT / "bench" / "results"


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    flags: set[str] = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                cpu = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
                break  # the first processor's entry is enough
    except OSError:
        pass
    # Figures move several-fold with these: TensorFlow picks its convolution kernels by them.
    simd = [name for name in ("avx512_vnni", "avx512f", "avx2", "fma") if name in flags]
    import librosa
    import numpy
    import scipy

    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "numpy": numpy.__version__, "scipy": scipy.__version__, "librosa": librosa.__version__,
            "simd": simd, "tf_enable_onednn_opts": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
            "when": time.strftime("%Y-%m-%d %H:%M:%S")}


def summarise(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"median_s": statistics.median(ordered), "p95_s": p95, "min_s": ordered[0],
            "runs": len(ordered)}


def save(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    write_text_atomic(path, json.dumps({"machine": machine(), **payload}, indent=2))
    print(f"results -> {path.relative_to(ROOT)}")
    return path


def header(title: str) -> None:
    m = machine()
    print(f"== {title} ==\n{m['cpu']}, {m['cores']} cores, Python {m['python']}, "
          f"librosa {m['librosa']}, numpy {m['numpy']}; SIMD {'/'.join(m['simd']) or 'unknown'}, "
          f"TF_ENABLE_ONEDNN_OPTS={m['tf_enable_onednn_opts']}")
