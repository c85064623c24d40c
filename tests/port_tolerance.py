"""How close a Keras 3 port must come to the original TF1 graph's stored outputs.

Float32 convolutions round differently with the CPU's instruction set, the thread count and the
kernel oneDNN picks: the original graph itself moves its max-pooled features by 1.6e-4 between a
batch and single patches, and the port's largest difference changes from machine to machine.
That rounding grows with the size of the values a layer sums, not with the one output element,
so the tolerance is 1e-4 on each output's own scale: its root mean square over the reference
patches, at least 1. Tags (probabilities, RMS about 0.1) are held to 1e-4 absolute; max-pooled
features of magnitude up to ~100 (RMS about 12) to about 1.2e-3. The differences measured here
are 2-25 times smaller than that, and a real porting bug (a swapped layer, a wrong pooling
layout) is a hundred times larger.
"""

from __future__ import annotations

import numpy as np

#: Allowed difference per unit of an output's scale.
TOLERANCE = 1e-4


def output_scale(want: np.ndarray) -> float:
    """An output's scale: the root mean square of its reference values, at least 1."""
    return max(1.0, float(np.sqrt(np.mean(np.square(want, dtype=np.float64)))))


def assert_matches_reference(got: np.ndarray, want: np.ndarray, label: str) -> None:
    """Fail unless every element of ``got`` is within ``TOLERANCE * output_scale(want)``."""
    got = np.asarray(got)
    assert got.shape == want.shape, f"{label}: shape {got.shape}, reference {want.shape}"
    assert np.isfinite(got).all(), f"{label}: non-finite outputs"
    np.testing.assert_allclose(got, want, rtol=0, atol=TOLERANCE * output_scale(want),
                               err_msg=label)
