"""Explore data: class balance, feature distributions, spectrograms, a 2-D map of the tracks."""

import tempfile
from pathlib import Path

import streamlit as st

from core.audio import load_audio
from core.config import FEATURE_SR
from core.datasets import LAYOUTS
from core.features import SUMMARY_COLUMNS, logmel
from core.synth import make_demo_dataset
from dashboard import figures
from dashboard.classify import UPLOAD_TYPES
from dashboard.explore import (
    dataset_embeddings,
    dataset_features,
    load,
    project,
    upload_embedding,
    upload_features,
)
from dashboard.ui import guard

st.title("Explore data")
shared = Path(__file__).resolve().parents[2] / "shared" / "data" / "gtzan" / "excerpts"
st.session_state.setdefault("explore_path", str(shared) if shared.is_dir() else "")
st.session_state.setdefault("explore_layout", "gtzan" if shared.is_dir() else "folders")

if st.button("Use a synthetic demo dataset", help="Generated tones and rhythms, no download"):
    folder = st.session_state.setdefault("demo_dir", tempfile.mkdtemp(prefix="genrelab-demo-"))
    make_demo_dataset(Path(folder))
    st.session_state["explore_path"], st.session_state["explore_layout"] = folder, "folders"
c1, c2 = st.columns([3, 1])
path = c1.text_input("Dataset folder or feature table", key="explore_path",
                     placeholder="/data/gtzan/genres_original")
layout = c2.selectbox("Layout", list(LAYOUTS), key="explore_layout",
                      help="; ".join(f"{k}: {v}" for k, v in LAYOUTS.items()))
if not path:
    st.info("Enter the folder of a dataset (GTZAN, FMA, or one folder per genre) or a Kaggle "
            "feature table, or try the synthetic demo dataset.")
    st.stop()

dataset = None
with guard("Loading the dataset"):
    dataset = load(path, layout)
if dataset is None:
    st.stop()
m = dataset.manifest
st.caption(f"{dataset.name}: {m['track_id'].nunique()} tracks, {len(dataset.genres)} genres, "
           f"{m['group'].nunique()} artist/track groups")
for warning in dataset.warnings:
    st.caption(f"Note: {warning}")
st.plotly_chart(figures.class_balance(m.groupby("label")["track_id"].nunique()),
                theme="streamlit")

n_tracks = int(m["track_id"].nunique())
if n_tracks <= 20:  # a small collection: all of it, no slider to move
    limit = n_tracks
    st.caption(f"All {n_tracks} tracks are analysed.")
else:
    limit = st.slider("Tracks to analyse", 20, max(20, min(1000, n_tracks)),
                      min(200, n_tracks), step=1 if n_tracks < 1000 else 20, key="explore_limit",
                      help="Summary features are computed once and cached on disk.")
table = None
with guard("Computing features"):
    table = dataset_features(path, layout, limit)
if table is None or table.empty:
    st.stop()

st.subheader("Feature distributions")
feature = st.selectbox("Feature", SUMMARY_COLUMNS, index=SUMMARY_COLUMNS.index("spectral_centroid_mean"),
                       key="explore_feature")
st.plotly_chart(figures.feature_distribution(table, feature), theme="streamlit")

if m["path"].astype(bool).any():
    st.subheader("Example spectrogram")
    genre = st.selectbox("Genre", dataset.genres, key="explore_genre")
    with guard("Drawing the spectrogram"):
        example = m[m["label"] == genre].iloc[0]
        y = load_audio(example["path"], sr=FEATURE_SR, duration=10.0)
        st.plotly_chart(figures.spectrogram(logmel(y, sr=FEATURE_SR), sr=FEATURE_SR,
                                            hop_length=512, title=f"{example['track_id']}"),
                        theme="streamlit")

st.subheader("Map of the tracks")
c1, c2 = st.columns(2)
source = c1.radio("Features", ["Summary features", "YAMNet embeddings"], horizontal=True,
                  key="explore_source",
                  help="The 57 summary features (variances as logs), or YAMNet's mean embedding.")
method = c2.radio("Projection", ["PCA", "t-SNE"], horizontal=True, key="explore_method")
song = st.file_uploader("Place a song on the map (PCA only)", type=UPLOAD_TYPES,
                        key="explore_song")
handle = st.session_state.get("yamnet_handle") or None
with guard("Drawing the map"):
    summary = source == "Summary features"
    points_table = table if summary else dataset_embeddings(path, layout, limit, handle)
    extra = None
    if song is not None and method == "PCA":
        with guard(f"Placing {song.name}"):  # a bad song is refused; the map is still drawn
            extra = (upload_features(song.name, song.getvalue()) if summary
                     else upload_embedding(song.name, song.getvalue(), handle))
    points, placed = project(points_table, method, extra, summary=summary)
    if placed is not None:
        placed["track"] = song.name
    st.plotly_chart(figures.embedding_map(points, title=f"{method} of {source.replace('Summary', 'summary')}",
                                          highlight=placed), theme="streamlit")
    if song is not None and method != "PCA":
        st.caption("t-SNE cannot place new points; switch to PCA to see your song.")
