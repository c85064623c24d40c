"""MFCC-MLP: a dense network on standardised summary features (the 57 GTZAN columns)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.cache import FeatureCache
from core.conditions import check_copies
from core.config import FEATURE_SR, N_MELS, SEGMENT_SECONDS
from core.datasets import Dataset
from core.errors import ModelError, ParameterError
from core.features import SUMMARY_COLUMNS, FeatureParams, compute_features
from core.models.base import GenreModel, Rows, featurize_audio_dataset, segment_times
from core.resample import to_rate

#: Columns that are variances: heavy-tailed, so the network sees their logarithm.
VARIANCE_COLUMNS = np.array([c.endswith("_var") for c in SUMMARY_COLUMNS])


def log_variances(X: np.ndarray) -> np.ndarray:
    """Replace the variance columns of summary-feature rows by their natural log (floor 1e-8)."""
    X = np.array(X, dtype=np.float32, copy=True)
    X[:, VARIANCE_COLUMNS] = np.log(np.maximum(X[:, VARIANCE_COLUMNS], 0.0) + 1e-8)
    return X


#: Columns that follow the audio's gain g: these means scale by g, these variances by g^2.
_LEVEL_MEANS = [SUMMARY_COLUMNS.index(c) for c in ("rms_mean", "harmony_mean", "perceptr_mean")]
_LEVEL_VARIANCES = [SUMMARY_COLUMNS.index(c) for c in ("rms_var", "harmony_var", "perceptr_var")]
_LOG_ENERGY = SUMMARY_COLUMNS.index("mfcc1_mean")


def change_level(X: np.ndarray, gain_db: float | np.ndarray) -> np.ndarray:
    """Summary-feature rows (variances as logs, see :func:`log_variances`) of the same audio
    played ``gain_db`` louder.

    Exact for these features: RMS and the harmonic/percussive means scale with the gain and
    their variances with its square; the first MFCC is the log energy (its mean moves by
    ``sqrt(n_mels)`` per dB); chroma, spectral shape, zero crossings, tempo and the other MFCCs do
    not change (``tests/test_models.py`` checks this against features of re-scaled audio).

    Parameters
    ----------
    X : np.ndarray [shape=(n, 57)]
    gain_db : float or np.ndarray [shape=(n,)]
        One gain for all rows, or one per row.

    Returns
    -------
    np.ndarray [shape=(n, 57), dtype=float32]
    """
    X = np.array(X, dtype=np.float32, copy=True)
    gain_db = np.broadcast_to(np.asarray(gain_db, dtype=np.float32), (len(X),))[:, None]
    X[:, _LEVEL_MEANS] *= 10.0 ** (gain_db / 20.0)
    X[:, _LEVEL_VARIANCES] += gain_db / 10.0 * np.log(10.0)
    X[:, [_LOG_ENERGY]] += gain_db * np.sqrt(N_MELS)
    return X


@dataclass(frozen=True)
class RecordingMap:
    """How one re-recording moves each summary feature: ``x' = scale * x + shift`` per column.

    In the network's input space (variances as logs, :func:`log_variances`). Learnt from the
    same audio recorded two ways (:func:`fit_recording_map`), it lets a network that trains on a
    feature table, which has no audio to re-record, see its rows as they would sound
    re-recorded (e.g. 2 dB/octave duller moves the spectral centroid, rolloff and MFCCs).
    """

    scale: np.ndarray
    shift: np.ndarray

    def __post_init__(self) -> None:
        for name in ("scale", "shift"):
            value = np.asarray(getattr(self, name), dtype=np.float32)
            if value.shape != (len(SUMMARY_COLUMNS),) or not np.isfinite(value).all():
                raise ValueError(f"a recording map's {name} must be {len(SUMMARY_COLUMNS)} "
                                 f"finite numbers, got shape {value.shape}")
            object.__setattr__(self, name, value)

    def apply(self, X: np.ndarray) -> np.ndarray:
        """Rows ``X`` (network-input space) as recorded this way."""
        return (X * self.scale + self.shift).astype(np.float32)

    def to_dict(self) -> dict[str, list[float]]:
        return {"scale": self.scale.tolist(), "shift": self.shift.tolist()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RecordingMap:
        return cls(np.asarray(data["scale"]), np.asarray(data["shift"]))


def fit_recording_map(clean: np.ndarray, recorded: np.ndarray) -> RecordingMap:
    """Per-column least-squares line from clean rows to the same audio's re-recorded rows.

    Parameters
    ----------
    clean, recorded : np.ndarray [shape=(n, 57)]
        Summary-feature rows of the same segments, row for row, in the network's input space
        (:func:`log_variances`); at least two rows.

    Returns
    -------
    RecordingMap
        A column that does not vary among the clean rows gets scale 1 and the mean change.
    """
    clean = np.asarray(clean, dtype=np.float64)
    recorded = np.asarray(recorded, dtype=np.float64)
    if clean.shape != recorded.shape or clean.ndim != 2 or len(clean) < 2:
        raise ValueError(f"need two row-for-row tables of at least 2 rows, got {clean.shape} "
                         f"and {recorded.shape}")
    dx = clean - clean.mean(axis=0)
    dy = recorded - recorded.mean(axis=0)
    spread = (dx * dx).sum(axis=0)
    scale = np.divide((dx * dy).sum(axis=0), spread, out=np.ones(clean.shape[1]),
                      where=spread > 1e-12)
    shift = recorded.mean(axis=0) - scale * clean.mean(axis=0)
    return RecordingMap(scale, shift)


#: Columns that follow the playback level (:func:`change_level`): a band restore does not read
#: them, so that it commutes with a change of level (the MLP learns the level away).
LEVEL_COLUMNS = np.array(sorted({*_LEVEL_MEANS, *_LEVEL_VARIANCES, _LOG_ENERGY}))
#: A band restore's standardised inputs are clipped to +- this many standard deviations of its
#: training rows: a row far outside them (a silent window) is not extrapolated without bound.
RESTORE_CLIP = 5.0


@dataclass(frozen=True, eq=False)
class BandRestore:
    """Full-band summary features estimated from band-limited ones (a ridge regression).

    In the network's input space (variances as logs, :func:`log_variances`): each of the 57
    full-band features is the band-limited one plus a change predicted from the standardised
    band-limited features, ``x + clip((x - mean) / scale) @ coef.T + intercept``. How much a band
    limit moves the high MFCCs depends on how much a song has in that band, which the other
    features (roll-off, centroid, zero crossings) tell; a per-column line cannot, and on the
    bundled split's full training clips it made the MLP's answers worse, not better. The
    :data:`LEVEL_COLUMNS` are not read (their ``coef`` columns are 0), so restoring a song played
    quieter gives the restored song played quieter. Learnt by :func:`learn_band_restore`.

    Parameters
    ----------
    max_hz : float
        The band limit it undoes (:class:`~core.features.FeatureParams` ``max_hz``).
    segment_seconds : float
        The window of the features it was learnt on.
    mean, scale : np.ndarray [shape=(57,)]
        Standardisation of its inputs (training rows' mean and standard deviation).
    coef : np.ndarray [shape=(57, 57)]
        Change of each output column (rows) per standardised input column.
    intercept : np.ndarray [shape=(57,)]
    """

    max_hz: float
    segment_seconds: float
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray

    def __post_init__(self) -> None:
        for name in ("max_hz", "segment_seconds"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"a band restore's {name} must be a positive number, got {value!r}")
            object.__setattr__(self, name, float(value))
        n = len(SUMMARY_COLUMNS)
        for name, shape in (("mean", (n,)), ("scale", (n,)), ("coef", (n, n)), ("intercept", (n,))):
            value = np.asarray(getattr(self, name), dtype=np.float64)
            if value.shape != shape or not np.isfinite(value).all():
                raise ValueError(f"a band restore's {name} must be finite numbers of shape "
                                 f"{shape}, got shape {value.shape}")
            object.__setattr__(self, name, value)
        if not (self.scale > 0).all():
            raise ValueError("a band restore's scale must be positive")

    def restore(self, X: np.ndarray) -> np.ndarray:
        """Band-limited rows as the whole band would have given them.

        Parameters
        ----------
        X : np.ndarray [shape=(n, 57)]
            Summary-feature rows as computed (variances as variances) from audio below
            :attr:`max_hz`, in windows of :attr:`segment_seconds`.

        Returns
        -------
        np.ndarray [shape=(n, 57), dtype=float32]
            The same rows, full band, variances as variances.
        """
        Z = log_variances(X).astype(np.float64)
        z = np.clip((Z - self.mean) / self.scale, -RESTORE_CLIP, RESTORE_CLIP)
        Z = Z + z @ self.coef.T + self.intercept
        Z[:, VARIANCE_COLUMNS] = np.maximum(np.exp(Z[:, VARIANCE_COLUMNS]) - 1e-8, 0.0)
        return Z.astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {"max_hz": self.max_hz, "segment_seconds": self.segment_seconds,
                **{name: getattr(self, name).tolist()
                   for name in ("mean", "scale", "coef", "intercept")}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BandRestore:
        return cls(data["max_hz"], data["segment_seconds"],
                   *(np.asarray(data[name]) for name in ("mean", "scale", "coef", "intercept")))


def fit_band_restore(limited: np.ndarray, full: np.ndarray, *, max_hz: float,
                     segment_seconds: float,
                     alphas: tuple[float, ...] = tuple(np.logspace(-2, 3, 11))) -> BandRestore:
    """Ridge regression from band-limited rows to the change the band limit made.

    Parameters
    ----------
    limited, full : np.ndarray [shape=(n, 57)]
        Summary-feature rows of the same audio, row for row, band-limited and whole, in the
        network's input space (:func:`log_variances`); at least 3 rows.
    max_hz, segment_seconds : float
        The band limit and the window of the rows (recorded in the result).
    alphas : tuple of float
        Ridge penalties to choose from by leave-one-out error (scikit-learn's ``RidgeCV``).

    Returns
    -------
    BandRestore
        Its inputs leave out the :data:`LEVEL_COLUMNS`.
    """
    from sklearn.linear_model import RidgeCV

    limited = np.asarray(limited, dtype=np.float64)
    full = np.asarray(full, dtype=np.float64)
    if limited.shape != full.shape or limited.ndim != 2 or len(limited) < 3:
        raise ValueError(f"need two row-for-row tables of at least 3 rows, got {limited.shape} "
                         f"and {full.shape}")
    mean = limited.mean(axis=0)
    scale = limited.std(axis=0)
    scale[scale < 1e-9] = 1.0
    reads = np.setdiff1d(np.arange(limited.shape[1]), LEVEL_COLUMNS)
    ridge = RidgeCV(alphas=alphas).fit(((limited - mean) / scale)[:, reads], full - limited)
    coef = np.zeros((limited.shape[1], limited.shape[1]))
    coef[:, reads] = ridge.coef_
    return BandRestore(max_hz, segment_seconds, mean, scale, coef, ridge.intercept_)


def summary_params(segment_seconds: float, max_hz: float | None = None) -> FeatureParams:
    """The MLP's input: the 57 summary features of ``segment_seconds`` windows at 22.05 kHz
    (of the band below ``max_hz``, when given)."""
    return FeatureParams(kind="summary", sr=FEATURE_SR, segment_seconds=segment_seconds,
                         max_hz=max_hz)


def build_mlp(input_shape: tuple[int, ...], n_classes: int, *, units: tuple[int, ...] = (256, 128, 64),
              dropout: float = 0.5, l2: float = 1e-2) -> Any:
    """Dense 256-128-64 (batch norm, ReLU, dropout, L2 on weights), softmax output (uncompiled)."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=input_shape, name="features")
    x = layers.Normalization(name="normalize")(inputs)
    for i, width in enumerate(units):
        x = layers.Dense(width, kernel_regularizer=keras.regularizers.l2(l2), name=f"dense_{i}")(x)
        x = layers.BatchNormalization(momentum=0.9, name=f"bn_{i}")(x)
        x = layers.Activation("relu", name=f"relu_{i}")(x)
        x = layers.Dropout(dropout, name=f"dropout_{i}")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="genre")(x)
    return keras.Model(inputs, outputs, name="mfcc_mlp")


class MfccMlp(GenreModel):
    """Dense network on the 57 summary features of each segment (variances as logarithms).

    Trains on audio datasets (summary features of each ``segment_seconds`` window) and directly
    on Kaggle-style feature tables (one row per table row; the window length is read from the
    table's ``length`` column, e.g. 30 s for ``features_30_sec.csv``).

    Parameters
    ----------
    segment_seconds : float
        Window length for audio datasets and for prediction.
    level_augment_db : float
        Each training example is moved to a random playback level within +- this many dB
        (:func:`change_level`; 0 turns it off). Seven of the 57 columns follow the level, and a
        network trained on GTZAN's levels alone reads loudness as genre: on the fault-filtered
        test the bundled one fell from 0.56 to 0.37 with the audio 20 dB quieter, and to 0.46
        with it 6 dB louder (modern masters are louder than GTZAN's). With +-20 dB it holds
        0.53-0.56 at every level and costs 0.02-0.03 at GTZAN's own levels (README, Results).
    recording_maps : dict of str to RecordingMap, optional
        Re-recordings to train on when training on a feature table (no audio to re-record):
        each training example is shown as recorded (identity) or through one of these maps
        (:func:`learn_recording_maps`), all equally often, before its level is changed. The
        bundled MLP learns them from the bundled split's training audio and its
        :data:`core.conditions.FIT_CONDITIONS` copies. Without them (default) it trains on the
        rows as they are. (On audio datasets, train on the re-recorded files themselves:
        :func:`core.train.fit_on_recordings`.)
    max_hz : float, optional
        Compute the features of audio below this many Hz only (:data:`~core.features.BAND_LIMIT_HZ`
        for the bundled MLP), so that a song gives the same features at any sample rate: an
        upload at 44.1 or 48 kHz is resampled to 22.05 kHz and loses what lies above about
        10.4 kHz, which GTZAN's files keep. None (default): the whole band.
    band_restore : BandRestore, optional
        With ``max_hz``: how the band limit moved the features, undone on every row computed
        from audio, so that a network trained on full-band rows (a feature table) reads
        band-limited audio (:func:`learn_band_restore`). Without it a band-limited model must
        train on audio, whose rows are band-limited like those it predicts.
    dropout : float
    members : int
        Seeds averaged in the saved network (default 5: on the fault-filtered split one
        network's accuracy moves by about 0.04 with the seed; five are cheap at this size).
    **kwargs
        See :class:`~core.models.base.GenreModel`.
    """

    family = "mlp"
    display_name = "MFCC-MLP"
    needs_audio = False

    def __init__(self, *, segment_seconds: float = SEGMENT_SECONDS, dropout: float = 0.5,
                 level_augment_db: float = 20.0, epochs: int = 300, patience: int = 30,
                 members: int = 5, recording_maps: Mapping[str, RecordingMap] | None = None,
                 max_hz: float | None = None, band_restore: BandRestore | None = None,
                 **kwargs: Any) -> None:
        super().__init__(epochs=epochs, patience=patience, members=members, **kwargs)
        if not level_augment_db >= 0:
            raise ValueError(f"level_augment_db must be >= 0, got {level_augment_db!r}")
        if band_restore is not None and band_restore.max_hz != max_hz:
            raise ValueError(f"this band restore undoes a band limit at {band_restore.max_hz:g} Hz;"
                             f" max_hz is {max_hz!r}")
        self.segment_seconds = segment_seconds
        self.dropout = dropout
        self.level_augment_db = level_augment_db
        self.recording_maps = dict(recording_maps or {})
        self.max_hz = max_hz
        self.band_restore = band_restore
        summary_params(segment_seconds, max_hz)  # refuses a max_hz the feature rate cannot have

    @property
    def params(self) -> FeatureParams:
        return summary_params(self.segment_seconds, self.max_hz)

    def config(self) -> dict[str, Any]:
        return {"features": self.params.to_dict(), "dropout": self.dropout,
                "level_augment_db": self.level_augment_db,
                "recording_maps": {name: m.to_dict() for name, m in self.recording_maps.items()},
                **({"band_restore": self.band_restore.to_dict()} if self.band_restore else {}),
                "columns": list(SUMMARY_COLUMNS)}

    def audio_rows(self, X: np.ndarray) -> np.ndarray:
        """Rows computed from audio as the network reads them.

        Parameters
        ----------
        X : np.ndarray [shape=(n, 57)]
            Summary-feature rows of :attr:`params` computed from audio.

        Returns
        -------
        np.ndarray [shape=(n, 57)]
            ``X`` through :attr:`band_restore`, when the features are band-limited for a
            network trained on full-band rows; else ``X`` itself.
        """
        if self.band_restore is None:
            return X
        if self.band_restore.segment_seconds != self.segment_seconds:
            raise ModelError(f"the band restore was learnt on {self.band_restore.segment_seconds:g}-s "
                             f"windows; this MLP reads {self.segment_seconds:g}-s windows")
        return self.band_restore.restore(X)

    def featurize_dataset(self, dataset: Dataset, *, cache: FeatureCache | None, n_jobs: int,
                          progress: bool) -> Rows:
        if dataset.features is not None:
            if self.max_hz is not None and self.band_restore is None:
                raise ParameterError("a band-limited MLP (max_hz) trains on a feature table only "
                                     "with a band restore, since the table's rows are full-band; "
                                     "train it on audio, or give band_restore")
            if "length" in dataset.manifest:
                seconds = float(np.median(dataset.manifest["length"])) / FEATURE_SR
                self.segment_seconds = float(max(1.0, round(seconds)))
            if self.band_restore and self.band_restore.segment_seconds != self.segment_seconds:
                raise ParameterError(
                    f"the band restore was learnt on {self.band_restore.segment_seconds:g}-s "
                    f"windows; this table's rows are {self.segment_seconds:g}-s windows")
            return Rows(dataset.features.astype(np.float32), np.arange(len(dataset.features)), {})
        rows = featurize_audio_dataset(dataset, self.params, cache=cache, n_jobs=n_jobs,
                                       progress=progress)
        return Rows(self.audio_rows(rows.X), rows.track, rows.errors)

    def featurize_waveform(self, y: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
        y = to_rate(y, sr, FEATURE_SR)
        X = self.audio_rows(compute_features(y, self.params).astype(np.float32))
        return X, segment_times(len(y), FEATURE_SR, self.segment_seconds)

    def network_inputs(self, X: np.ndarray) -> np.ndarray:
        return log_variances(X)

    def augment(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if self.recording_maps:
            X = np.array(X, dtype=np.float32, copy=True)
            maps = list(self.recording_maps.values())
            recording = rng.integers(0, len(maps) + 1, len(X))  # 0: as recorded
            for index, recording_map in enumerate(maps, start=1):
                rows = recording == index
                X[rows] = recording_map.apply(X[rows])
        if not self.level_augment_db:
            return X
        return change_level(X, rng.uniform(-self.level_augment_db, self.level_augment_db, len(X)))

    def build(self, input_shape: tuple[int, ...], n_classes: int, **setting: Any) -> Any:
        return build_mlp(input_shape, n_classes, **{"dropout": self.dropout, **setting})


def learn_recording_maps(dataset: Dataset, copies: Mapping[str, Dataset], rows: np.ndarray, *,
                         segment_seconds: float = 30.0, cache: FeatureCache | None = None,
                         n_jobs: int = 1) -> dict[str, RecordingMap]:
    """A :class:`RecordingMap` per copy, from the summary features of ``rows`` of an audio
    ``dataset`` and of the same rows of each re-recorded copy.

    Parameters
    ----------
    dataset : Dataset
        An audio dataset.
    copies : dict of str to Dataset
        Row-for-row re-recordings of it (:func:`core.conditions.write_condition_copies`).
    rows : np.ndarray
        The manifest rows to learn from: training tracks only, so that nothing about the
        validation or test audio reaches the model.
    segment_seconds : float
        Window of the features (30 s: the rows of ``features_30_sec.csv``).

    Returns
    -------
    dict of str to RecordingMap
    """
    check_copies(dataset, copies)
    params = summary_params(segment_seconds)

    def features(data: Dataset) -> tuple[np.ndarray, np.ndarray]:
        found = featurize_audio_dataset(data.subset(rows), params, cache=cache, n_jobs=n_jobs,
                                        progress=False)
        return log_variances(found.X), found.track

    clean, tracks = features(dataset)
    maps = {}
    for name, copy in copies.items():
        recorded, recorded_tracks = features(copy)
        if not np.array_equal(tracks, recorded_tracks):  # a file that could not be read
            raise ValueError(f"the copy {name!r} does not give the same segments as the original")
        maps[name] = fit_recording_map(clean, recorded)
    return maps


def learn_band_restore(dataset: Dataset, rows: np.ndarray, *, max_hz: float,
                       segment_seconds: float = 30.0, cache: FeatureCache | None = None,
                       n_jobs: int = 1) -> BandRestore:
    """Full-band summary features from band-limited ones (:class:`BandRestore`), learnt on
    ``rows`` of an audio ``dataset`` recorded at 22.05 kHz.

    A network trained on a full-band feature table reads band-limited audio through it
    (:class:`MfccMlp`'s ``band_restore``), so that a song uploaded at 44.1 kHz gets the answer
    it gets at 22.05 kHz (docs/model-history.md, "Resampled uploads").

    Parameters
    ----------
    dataset : Dataset
        An audio dataset whose files carry the whole band (22.05 kHz, like the feature table's).
    rows : np.ndarray
        The manifest rows to learn from: training tracks only.
    max_hz : float
        The band limit (:data:`~core.features.BAND_LIMIT_HZ`).
    segment_seconds : float
        Window of the features (30 s: the rows of ``features_30_sec.csv``).

    Returns
    -------
    BandRestore
    """
    subset = dataset.subset(rows)
    full, limited = (featurize_audio_dataset(subset, summary_params(segment_seconds, limit),
                                             cache=cache, n_jobs=n_jobs, progress=False)
                     for limit in (None, max_hz))
    if not np.array_equal(full.track, limited.track):  # cannot happen: the same files, read twice
        raise ValueError("the band-limited features do not cover the same segments")
    return fit_band_restore(log_variances(limited.X), log_variances(full.X), max_hz=max_hz,
                            segment_seconds=segment_seconds)
