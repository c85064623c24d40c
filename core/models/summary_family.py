"""What the families on the 57 summary features share: exactly the MFCC-MLP's inputs.

:class:`SummaryFeatureFamily` borrows :class:`~core.models.mlp.MfccMlp`'s featurisation (the
functions themselves, not copies): the 57 Kaggle GTZAN columns of each window of audio, or the
rows of a Kaggle feature table (``features_30_sec.csv`` layout, the window length read from its
``length`` column), with the variances as logarithms. So every summary-feature family trains on
the same tables and folders, and answers an uploaded song from the same rows, as the MLP.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.config import SEGMENT_SECONDS
from core.errors import ParameterError
from core.features import SUMMARY_COLUMNS, FeatureParams
from core.models.base import GenreModel
from core.models.mlp import BandRestore, MfccMlp, change_level


def level_copies(X: np.ndarray, labels: np.ndarray, *, gain_db: float, copies: int,
                 seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Training rows plus ``copies`` copies of them at random playback levels.

    The families that are not trained by mini-batches (an exact logistic regression, boosted
    trees) cannot move each example to a new level every epoch, as the MLP does; they see each
    row at its own level and ``copies`` more times at levels drawn uniformly within
    +- ``gain_db`` (:func:`~core.models.mlp.change_level`, exact for these features).

    Parameters
    ----------
    X : np.ndarray [shape=(n, 57)]
        Summary rows, variances as logs (:func:`~core.models.mlp.log_variances`).
    labels : np.ndarray [shape=(n,)]
    gain_db : float
        Largest level change in dB (0: no copies).
    copies : int
        Extra copies of every row.
    seed : int
        Seeds the levels drawn.

    Returns
    -------
    X : np.ndarray [shape=(n * (1 + copies), 57), dtype=float32]
    labels : np.ndarray [shape=(n * (1 + copies),)]
    """
    if not gain_db or not copies:
        return np.asarray(X, dtype=np.float32), labels
    rng = np.random.default_rng(seed)
    moved = [change_level(X, rng.uniform(-gain_db, gain_db, len(X))) for _ in range(copies)]
    return (np.concatenate([np.asarray(X, dtype=np.float32), *moved]),
            np.concatenate([labels] * (1 + copies)))


class SummaryFeatureFamily(GenreModel):
    """Base of the families on the 57 summary features (logistic regression, boosted trees).

    Parameters
    ----------
    segment_seconds : float
        Window length for audio datasets and for prediction (a feature table sets it from its
        ``length`` column, e.g. 30 s).
    level_augment_db : float
        Training rows are also seen at random playback levels within +- this many dB
        (:func:`level_copies`; 0 turns it off), as the MLP's are: seven of the 57 columns follow
        the level, and a model trained on GTZAN's levels alone reads loudness as genre.
    level_copies : int
        Copies of the training rows at random levels (the rows at their own level are kept).
    **kwargs
        See :class:`~core.models.base.GenreModel`.
    """

    needs_audio = False

    def __init__(self, *, segment_seconds: float = SEGMENT_SECONDS, level_augment_db: float = 20.0,
                 level_copies: int = 2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not level_augment_db >= 0:
            raise ParameterError(f"level_augment_db must be >= 0, got {level_augment_db!r}")
        if not isinstance(level_copies, int) or level_copies < 0:
            raise ParameterError(f"level_copies must be a whole number >= 0, got {level_copies!r}")
        self.segment_seconds = segment_seconds
        self.level_augment_db = level_augment_db
        self.level_copies = level_copies

    # The MLP's own functions: one definition of the summary-feature inputs for every family
    # (of the whole band: these families train on the rows they read).
    max_hz: float | None = None
    band_restore: BandRestore | None = None
    params = MfccMlp.params
    audio_rows = MfccMlp.audio_rows
    featurize_dataset = MfccMlp.featurize_dataset
    featurize_waveform = MfccMlp.featurize_waveform
    network_inputs = MfccMlp.network_inputs

    def config(self) -> dict[str, Any]:
        return {"features": self.params.to_dict(), "level_augment_db": self.level_augment_db,
                "level_copies": self.level_copies, "columns": list(SUMMARY_COLUMNS)}

    @classmethod
    def config_kwargs(cls, config: dict[str, Any]) -> dict[str, Any]:
        """Constructor arguments of a saved :meth:`config` (for :meth:`from_config`)."""
        params = FeatureParams.from_dict(config["features"])
        if config.get("columns", list(SUMMARY_COLUMNS)) != list(SUMMARY_COLUMNS):
            raise ParameterError("the model was trained on other summary columns than these 57")
        return {"segment_seconds": params.segment_seconds or 30.0,
                "level_augment_db": config.get("level_augment_db", 0.0),
                "level_copies": config.get("level_copies", 0)}

    @classmethod
    def from_config(cls, config: dict[str, Any], **kwargs: Any) -> SummaryFeatureFamily:
        """The unfitted model a saved folder describes (:mod:`core.registry` calls this)."""
        return cls(**cls.config_kwargs(config), **kwargs)

    def training_rows(self, X: np.ndarray, labels: np.ndarray, seed: int
                      ) -> tuple[np.ndarray, np.ndarray]:
        """The rows a fit trains on: ``X`` and its copies at random levels (:func:`level_copies`)."""
        return level_copies(X, labels, gain_db=self.level_augment_db, copies=self.level_copies,
                            seed=seed)
