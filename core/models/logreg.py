"""Logistic regression on the 57 summary features: the plain baseline every paper reports.

scikit-learn's multinomial logistic regression on standardised features, ``C`` chosen on
validation tracks. Its weights are set into a two-layer Keras model (``Normalization`` with the
training rows' means and variances, then one softmax ``Dense`` layer), so it is saved, checked
and loaded exactly like every network (``model.keras``, sha256, ``safe_mode``) and answers the
same numbers as the scikit-learn model it came from (``tests/test_families.py``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from core.errors import ParameterError
from core.models.head import build_linear_head, fit_softmax_probe
from core.models.summary_family import SummaryFeatureFamily

#: Inverse regularisation strengths (scikit-learn's ``C``) chosen between on validation tracks.
C_GRID = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0, 3.0, 10.0)


def softmax_cross_entropy(Z: np.ndarray, labels: np.ndarray, kernel: np.ndarray,
                          bias: np.ndarray) -> float:
    """Mean cross-entropy of a softmax layer on standardised rows (what Keras calls the loss).

    Parameters
    ----------
    Z : np.ndarray [shape=(n, d)]
    labels : np.ndarray [shape=(n,), dtype=int]
    kernel : np.ndarray [shape=(d, n_classes)]
    bias : np.ndarray [shape=(n_classes,)]
    """
    logits = np.asarray(Z, dtype=np.float64) @ kernel + bias
    logits -= logits.max(axis=1, keepdims=True)
    log_proba = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return float(-log_proba[np.arange(len(labels)), labels].mean())


class SummaryLogReg(SummaryFeatureFamily):
    """Multinomial logistic regression on the MFCC-MLP's 57 summary features.

    Parameters
    ----------
    C : float
        Inverse L2 strength as scikit-learn defines it (``C * sum of log-losses + ||W||^2 / 2``);
        the value used when there are no validation tracks.
    C_grid : tuple of float
        Values chosen between on validation tracks (lowest validation log-loss); ``()`` keeps
        ``C``.
    max_iter : int
        L-BFGS iterations.
    **kwargs
        See :class:`~core.models.summary_family.SummaryFeatureFamily` (``segment_seconds``,
        ``level_augment_db``, ``level_copies``) and :class:`~core.models.base.GenreModel`.
        ``epochs``, ``batch_size``, ``learning_rate`` and ``patience`` are accepted and unused:
        the problem is convex and solved exactly, once per ``C``.
    """

    family = "logreg"
    display_name = "Logistic regression"

    def __init__(self, *, C: float = 1.0, C_grid: tuple[float, ...] = C_GRID, max_iter: int = 2000,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for value in (C, *C_grid):
            if not value > 0:
                raise ParameterError(f"C must be > 0, got {value!r}")
        self.C = float(C)
        self.C_grid = tuple(float(v) for v in C_grid)
        self.max_iter = max_iter

    def config(self) -> dict[str, Any]:
        return {**super().config(), "C": self.C}

    @classmethod
    def config_kwargs(cls, config: dict[str, Any]) -> dict[str, Any]:
        return {**super().config_kwargs(config), "C": config.get("C", 1.0)}

    def candidates(self) -> list[dict[str, Any]]:
        return [{"C": value} for value in sorted({self.C, *self.C_grid})]

    def build(self, input_shape: tuple[int, ...], n_classes: int, **setting: Any) -> Any:
        # The penalty lives in the solver; the layer carries none (it is never trained by Keras).
        return build_linear_head(input_shape, n_classes, l2=0.0, input_name="features",
                                 name="logreg")

    def _train(self, X: np.ndarray, labels: np.ndarray, rows: np.ndarray, n_classes: int,
               setting: dict[str, Any], report: Any, *, valid: np.ndarray | None = None,
               epochs: int | None = None, seed: int | None = None
               ) -> tuple[Any, dict[str, list[float]], dict[str, Any]]:
        """Solve the regression exactly on ``rows`` (and their level copies) for ``setting["C"]``.

        Returns the Keras model, a one-step history (``loss``, and ``val_loss`` with ``valid``)
        and ``setting``.
        """
        X_train, y_train = self.training_rows(X[rows], labels[rows],
                                              self.seed if seed is None else seed)
        network = self.build(X_train.shape[1:], n_classes)
        normalize = network.get_layer("normalize")
        normalize.adapt(X_train)
        Z = np.asarray(normalize(X_train))
        C = float(setting.get("C", self.C))
        # fit_softmax_probe takes Keras' mean-loss penalty; this is the same objective as C's.
        # One BLAS thread: on a busy 2-core machine OpenBLAS's spinning threads made these
        # small L-BFGS fits (a few thousand rows of 57) a hundred times slower.
        with threadpool_limits(limits=1, user_api="blas"):
            kernel, bias = fit_softmax_probe(Z, y_train, n_classes, l2=1.0 / (2.0 * C * len(Z)),
                                             max_iter=self.max_iter)
        network.get_layer("genre").set_weights([kernel, bias])
        history = {"loss": [softmax_cross_entropy(Z, y_train, kernel, bias)]}
        if valid is not None:
            history["val_loss"] = [softmax_cross_entropy(np.asarray(normalize(X[valid])),
                                                         labels[valid], kernel, bias)]
        report(0.5, f"{self.display_name}: C={C:g} solved exactly")
        return network, history, setting

    def fit(self, dataset: Any, split: Any, **kwargs: Any) -> SummaryLogReg:
        super().fit(dataset, split, **kwargs)
        self.C = float(self.chosen_.get("C", self.C))
        return self
