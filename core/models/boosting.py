"""Gradient-boosted trees (LightGBM) on the 57 summary features.

The research's LightGBM/XGBoost figures (0.90) were on 3-s segments of one song on both sides
of the split; this family trains the same kind of model on GenreLab's leak-free splits. The
number of boosting rounds is chosen by early stopping on validation tracks (multiclass
log-loss), then, as for every family, the trees are grown afresh on training + validation
tracks for that many rounds.

Weights are LightGBM's own text model format (``Booster.model_to_string``), one per seed
member, in ``model.lightgbm.json``: plain text, parsed by LightGBM, never unpickled; the
registry checks its sha256 like a ``.keras`` file's.

``info_["parameters"]`` counts **tree nodes** (every split and every leaf of every tree of every
member): a tree model has no weight matrices, and its node count is what grows with its
capacity, as a network's parameter count does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ModelError, ParameterError
from core.models.summary_family import SummaryFeatureFamily

#: Identifies the weights file's layout (checked on load).
WEIGHTS_FORMAT = "genrelab-lightgbm-1"

#: LightGBM settings for a few hundred to a few thousand rows of 57 features.
TREE_PARAMS: dict[str, Any] = {
    "num_leaves": 15,
    "min_data_in_leaf": 10,
    "feature_fraction": 0.7,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
}



def lightgbm() -> Any:
    """The ``lightgbm`` module, or a ModelError that says what is missing.

    LightGBM's wheel links the system's OpenMP runtime; without it the import fails with an
    OSError that names a shared library rather than the fix.
    """
    try:
        import lightgbm as lgb
    except ImportError:
        raise ModelError("boosted trees need LightGBM: pip install -r requirements.txt "
                         "(lightgbm)") from None
    except OSError as exc:
        raise ModelError(f"boosted trees need LightGBM, which cannot load ({exc}): install the "
                         "OpenMP runtime (Debian/Ubuntu: apt-get install libgomp1)") from None
    return lgb


class BoostedTrees:
    """Boosted-tree models whose class probabilities are averaged (one per seed member).

    Parameters
    ----------
    boosters : list of lightgbm.Booster
        Multiclass boosters with ``n_classes`` outputs each.
    n_classes : int
    """

    def __init__(self, boosters: list[Any], n_classes: int) -> None:
        if not boosters:
            raise ModelError("a boosted-tree model needs at least one booster")
        for booster in boosters:
            if booster.num_model_per_iteration() != n_classes:
                raise ModelError(f"a booster has {booster.num_model_per_iteration()} outputs for "
                                 f"{n_classes} genres")
        self.boosters = list(boosters)
        self.n_classes = n_classes

    @property
    def output_shape(self) -> tuple[None, int]:
        """Like a Keras model's: ``(None, n_classes)``."""
        return (None, self.n_classes)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Mean class probabilities of the members, shape (n_rows, n_classes)."""
        X = np.asarray(X, dtype=np.float64)
        return np.mean([b.predict(X).reshape(len(X), self.n_classes) for b in self.boosters],
                       axis=0)

    def count_params(self) -> int:
        """Tree nodes (splits + leaves) over every tree of every member."""
        return int(sum(2 * tree["num_leaves"] - 1 for booster in self.boosters
                       for tree in booster.dump_model()["tree_info"]))

    def to_json(self) -> str:
        """The members' LightGBM text models, in one JSON document."""
        return json.dumps({"format": WEIGHTS_FORMAT, "n_classes": self.n_classes,
                           "boosters": [b.model_to_string() for b in self.boosters]})

    @classmethod
    def from_json(cls, text: str) -> BoostedTrees:
        """Inverse of :meth:`to_json`.

        Raises
        ------
        ModelError
            Not such a document, or LightGBM cannot parse a model in it.
        """
        lgb = lightgbm()

        try:
            data = json.loads(text)
            if data.get("format") != WEIGHTS_FORMAT:
                raise ModelError(f"not a {WEIGHTS_FORMAT} document (format {data.get('format')!r})")
            boosters = [lgb.Booster(model_str=s) for s in data["boosters"]]
            return cls(boosters, int(data["n_classes"]))
        except ModelError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError, lgb.basic.LightGBMError) as exc:
            raise ModelError(f"unreadable boosted-tree model ({exc})") from None


class SummaryBoosting(SummaryFeatureFamily):
    """LightGBM multiclass gradient boosting on the MFCC-MLP's 57 summary features.

    Parameters
    ----------
    epochs : int
        Most boosting rounds (early stopping on validation tracks usually ends far sooner).
    patience : int
        Rounds without a better validation log-loss before stopping.
    learning_rate : float
        Shrinkage of each round's trees.
    threads : int
        LightGBM threads (0: OpenMP's default, every core). Default 1: on a few thousand rows
        of 57 features more threads only add synchronisation (the fault-filtered table trained
        in 2.5 s on one thread, 25 s on two busy cores; same trees).
    tree_params : dict or None
        Replaces entries of :data:`TREE_PARAMS`.
    members : int
        Boosters trained with consecutive seeds (row and feature sampling) and averaged.
    **kwargs
        See :class:`~core.models.summary_family.SummaryFeatureFamily` and
        :class:`~core.models.base.GenreModel`.
    """

    family = "boosting"
    display_name = "Boosted trees"
    weights_file = "model.lightgbm.json"

    def __init__(self, *, epochs: int = 2000, patience: int = 50, learning_rate: float = 0.05,
                 threads: int = 1, tree_params: dict[str, Any] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(epochs=epochs, patience=patience, learning_rate=learning_rate, **kwargs)
        if not isinstance(threads, int) or threads < 0:
            raise ParameterError(f"threads must be a whole number >= 0, got {threads!r}")
        unknown = set(tree_params or {}) - set(TREE_PARAMS)
        if unknown:
            raise ParameterError(f"unknown tree_params: {', '.join(sorted(unknown))} "
                                 f"(known: {', '.join(TREE_PARAMS)})")
        self.threads = threads
        self.tree_params = {**TREE_PARAMS, **(tree_params or {})}

    def config(self) -> dict[str, Any]:
        lgb = lightgbm()

        return {**super().config(), "tree_params": self.tree_params,
                "lightgbm": lgb.__version__}

    @classmethod
    def config_kwargs(cls, config: dict[str, Any]) -> dict[str, Any]:
        return {**super().config_kwargs(config), "tree_params": config.get("tree_params")}

    def build(self, input_shape: tuple[int, ...], n_classes: int, **setting: Any) -> Any:
        raise ModelError("boosted trees are grown by LightGBM, not built as a Keras network")

    def _lightgbm_params(self, n_classes: int, seed: int) -> dict[str, Any]:
        return {"objective": "multiclass", "num_class": n_classes, "metric": "multi_logloss",
                "learning_rate": self.learning_rate, "seed": seed, "deterministic": True,
                "force_row_wise": True, "num_threads": self.threads, "verbosity": -1,
                **self.tree_params}

    def _train(self, X: np.ndarray, labels: np.ndarray, rows: np.ndarray, n_classes: int,
               setting: dict[str, Any], report: Any, *, valid: np.ndarray | None = None,
               epochs: int | None = None, seed: int | None = None
               ) -> tuple[Any, dict[str, list[float]], dict[str, Any]]:
        """Grow trees on ``rows`` (and their level copies); early stopping on ``valid``.

        Returns the model (cut to its best round), the per-round multiclass log-loss
        (``loss``, and ``val_loss`` with ``valid``) and ``setting``.
        """
        lgb = lightgbm()

        seed = self.seed if seed is None else seed
        X_train, y_train = self.training_rows(X[rows], labels[rows], seed)
        rounds = epochs or self.epochs
        train_set = lgb.Dataset(X_train, y_train)
        sets, names = [train_set], ["training"]
        evals: dict[str, Any] = {}

        def progress(env: Any) -> None:
            if env.iteration % 10 == 0:
                report(min(0.99, (env.iteration + 1) / rounds),
                       f"{self.display_name}: epoch {env.iteration + 1} (boosting round)")

        callbacks: list[Any] = [lgb.record_evaluation(evals), progress]
        if valid is not None:
            sets.append(lgb.Dataset(X[valid], labels[valid], reference=train_set))
            names.append("valid")
            callbacks.append(lgb.early_stopping(self.patience, verbose=False))
        booster = lgb.train({**self._lightgbm_params(n_classes, seed), **setting}, train_set,
                            num_boost_round=rounds, valid_sets=sets, valid_names=names,
                            callbacks=callbacks)
        history = {"loss": list(evals["training"]["multi_logloss"])}
        best = booster.current_iteration()
        if valid is not None:
            history["val_loss"] = list(evals["valid"]["multi_logloss"])
            best = int(np.argmin(history["val_loss"])) + 1
        booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
        return BoostedTrees([booster], n_classes), history, setting

    def _train_members(self, X: np.ndarray, labels: np.ndarray, rows: np.ndarray, n_classes: int,
                       setting: dict[str, Any], report: Any, *,
                       valid: np.ndarray | None = None, epochs: int | None = None,
                       first: Any = None) -> BoostedTrees:
        """One booster per seed ``seed ... seed + members - 1``, averaged."""
        boosters = [] if first is None else list(first.boosters)
        for seed in range(self.seed + len(boosters), self.seed + self.members):
            boosters += self._train(X, labels, rows, n_classes, setting, report, valid=valid,
                                    epochs=epochs, seed=seed)[0].boosters
        return BoostedTrees(boosters, n_classes)

    def predict_rows(self, X: np.ndarray) -> np.ndarray:
        self._check_fitted()
        return self.model_.predict_proba(self.network_inputs(X))

    # Registry hooks (core.registry): LightGBM's text format instead of a .keras file.
    def save_weights(self, path: Path) -> None:
        """Write the trees to ``path`` (the registry makes the save atomic and checksums it)."""
        Path(path).write_text(self.model_.to_json())

    def load_weights(self, path: Path) -> BoostedTrees:
        """The trees saved by :meth:`save_weights` (after the registry verified their sha256)."""
        return BoostedTrees.from_json(Path(path).read_text())
