"""What the Classify page computes for one upload (pure apart from the models it is given)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.audio import check_extension, decode_audio
from core.config import AUDIO_EXTENSIONS, FEATURE_SR, HOP_LENGTH
from core.ensemble import Ensemble
from core.features import logmel
from core.models.base import GenreModel
from core.predict import Prediction, predict_decoded

#: Upload types offered in the browser (libsndfile reads them all).
UPLOAD_TYPES = [extension.lstrip(".") for extension in AUDIO_EXTENSIONS]
MAX_SPECTROGRAM_FRAMES = 1500


@dataclass
class Analysis:
    """One analysed upload: its waveform, a display spectrogram and every model's prediction."""

    key: str
    name: str
    data: bytes
    y: np.ndarray
    sr: int
    spectrogram: np.ndarray
    spectrogram_hop: int
    prediction: Prediction


def upload_key(name: str, data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16] + ":" + name


def analyse(models: dict[str, GenreModel], name: str, data: bytes, *,
            ensemble: Ensemble | None = None) -> Analysis:
    """Decode an upload in memory (never written to disk) and run every model on it.

    Raises
    ------
    AudioError
        The upload is not usable audio (the message says why).
    """
    check_extension(name)
    decoded = decode_audio(data, sr=FEATURE_SR, name=name)
    y = decoded.y
    prediction = predict_decoded(models, decoded, ensemble=ensemble)
    S = logmel(y, sr=FEATURE_SR, n_mels=96)
    pool = max(1, int(np.ceil(S.shape[1] / MAX_SPECTROGRAM_FRAMES)))
    if pool > 1:
        n = S.shape[1] // pool * pool
        S = S[:, :n].reshape(S.shape[0], -1, pool).max(axis=2)
    return Analysis(upload_key(name, data), name, data, y, FEATURE_SR, S, HOP_LENGTH * pool,
                    prediction)


def results_table(analyses: list[Analysis]) -> pd.DataFrame:
    """One row per file: the answer (the ensemble's genre, or "uncertain: closest to ..."), its
    confidence and top genre, then each model's genre and confidence (display names), agreement."""
    from dashboard.palette import display_name

    rows = []
    for a in analyses:
        p = a.prediction
        row: dict[str, object] = {"file": a.name, "duration (s)": round(p.duration_s, 1),
                                  "notes": " ".join(note.removeprefix(f"{a.name}: ")
                                                    for note in p.notes)}
        row["answer"] = p.verdict
        row["confidence"] = None if p.confidence is None else round(p.confidence, 2)
        row["ensemble's top genre"] = p.ensemble_genre
        for name, m in p.models.items():
            row[display_name(name)] = m.genre
            row[f"{display_name(name)} confidence"] = round(float(np.max(m.proba)), 2)
        for name in p.errors:
            row[display_name(name)] = "unavailable"
        row["models agree"] = p.agree
        rows.append(row)
    table = pd.DataFrame(rows)
    return table if table["notes"].any() else table.drop(columns="notes")


def top_k(genres: list[str], proba: np.ndarray, k: int = 3) -> list[tuple[str, float]]:
    order = np.argsort(proba)[::-1][:k]
    return [(genres[i], float(proba[i])) for i in order]
