"""Cached data work behind the Explore page."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from sklearn.preprocessing import StandardScaler

from core.audio import load_audio
from core.cache import FeatureCache
from core.config import FEATURE_SR
from core.datasets import Dataset, load_dataset
from core.extract import extract_many
from core.features import SUMMARY_COLUMNS, FeatureParams, summary_features
from core.models.mlp import log_variances


@st.cache_data(show_spinner="Reading the dataset...", max_entries=8)
def load(path: str, layout: str) -> Dataset:
    return load_dataset(path, layout)


def _first_per_genre(dataset: Dataset, limit: int) -> np.ndarray:
    """Rows of the first ``limit // n_genres`` tracks of each genre (every row when ``limit``
    covers the dataset)."""
    if limit >= dataset.manifest["track_id"].nunique():
        return dataset.manifest.index.to_numpy()
    per_genre = max(1, limit // len(dataset.genres))
    return dataset.manifest.groupby("label", group_keys=False).head(per_genre).index.to_numpy()


@st.cache_data(show_spinner="Computing summary features (cached on disk)...", max_entries=8)
def dataset_features(path: str, layout: str, limit: int) -> pd.DataFrame:
    """Summary features of up to ``limit`` tracks (stratified by genre), one row per track."""
    dataset = load(path, layout)
    m = dataset.manifest
    rows = _first_per_genre(dataset, limit)
    if dataset.features is not None:
        X = dataset.features[rows]
    else:
        result = extract_many(m["path"].iloc[rows].tolist(), FeatureParams(kind="summary"),
                              cache=FeatureCache(), n_jobs=0, progress=False)
        keep = [i for i, f in enumerate(result.features) if f is not None]
        rows = rows[keep]
        X = np.stack([result.features[i][0] for i in keep]) if keep else np.empty((0, 57))
    table = pd.DataFrame(X, columns=list(SUMMARY_COLUMNS))
    table.insert(0, "track", m["track_id"].iloc[rows].to_numpy())
    table.insert(1, "label", m["label"].iloc[rows].to_numpy())
    return table


@st.cache_data(show_spinner="Computing YAMNet embeddings (cached on disk)...", max_entries=8)
def dataset_embeddings(path: str, layout: str, limit: int, handle: str | None) -> pd.DataFrame:
    """Mean YAMNet embedding of up to ``limit`` tracks (stratified by genre), one row per track."""
    from core.models import YamnetEmbedding
    from core.models.yamnet import mean_embedding

    dataset = load(path, layout)
    subset = dataset.subset(_first_per_genre(dataset, limit))
    found = YamnetEmbedding(handle=handle).featurize_dataset(subset, cache=FeatureCache(),
                                                             n_jobs=1, progress=False)
    tracks = np.unique(found.track)
    X = np.stack([mean_embedding(found.X[found.track == t]) for t in tracks])
    table = pd.DataFrame(X)
    table.insert(0, "track", subset.manifest["track_id"].iloc[tracks].to_numpy())
    table.insert(1, "label", subset.manifest["label"].iloc[tracks].to_numpy())
    return table


def upload_embedding(name: str, data: bytes, handle: str | None) -> np.ndarray:
    """Mean YAMNet embedding of an uploaded song (first 30 s), in memory."""
    from core.config import YAMNET_SR
    from core.models import YamnetEmbedding
    from core.models.yamnet import mean_embedding

    y = load_audio(data, sr=YAMNET_SR, duration=30.0, name=name)
    rows, _ = YamnetEmbedding(handle=handle).featurize_waveform(y, YAMNET_SR)
    return mean_embedding(rows)[None]


def upload_features(name: str, data: bytes) -> np.ndarray:
    """Whole-clip summary features of an uploaded song (first 30 s), in memory."""
    y = load_audio(data, sr=FEATURE_SR, duration=30.0, name=name)
    return summary_features(y, sr=FEATURE_SR)[None, :]


def project(table: pd.DataFrame, method: str, extra: np.ndarray | None = None, *,
            summary: bool = True) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """2-D coordinates of the tracks (and of ``extra`` rows, PCA only).

    ``table`` has ``track``, ``label`` and feature columns; summary features have their variance
    columns turned into logarithms first. Everything is standardised.
    """
    X = table.drop(columns=["track", "label"]).to_numpy(dtype=float)
    if summary:
        X = log_variances(X)
        extra = None if extra is None else log_variances(extra)
    scaler = StandardScaler().fit(X)
    Z = scaler.transform(X)
    placed = None
    if method == "PCA":
        pca = PCA(n_components=2, random_state=0).fit(Z)
        xy = pca.transform(Z)
        if extra is not None:
            e = pca.transform(scaler.transform(extra))
            placed = pd.DataFrame({"x": e[:, 0], "y": e[:, 1]})
    else:
        perplexity = float(min(30, max(2, len(Z) // 4)))
        xy = TSNE(n_components=2, perplexity=perplexity, random_state=0, init="pca").fit_transform(Z)
    points = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "label": table["label"],
                           "track": table["track"]})
    points.attrs["axes"] = (  # what each axis is, for the chart's titles
        tuple(f"PC{i + 1} ({share:.0%} of the variance)"
              for i, share in enumerate(pca.explained_variance_ratio_))
        if method == "PCA" else ("t-SNE 1 (no unit: only neighbours matter)", "t-SNE 2"))
    return points, placed
