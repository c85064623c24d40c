"""Pure plotly figure builders: data in, figure out. No Streamlit here.

Colours come from plotly's qualitative palettes and the templates follow Streamlit's light or
dark theme (``theme="streamlit"`` in ``st.plotly_chart``), so charts read in both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

MODEL_COLOURS = {"mlp": "#6C5CE7", "cnn": "#00B894", "yamnet": "#E17055", "ensemble": "#636E72"}
_LAYOUT = {"margin": {"l": 10, "r": 10, "t": 40, "b": 10}, "font": {"size": 13}}


def _colour(name: str, index: int) -> str:
    palette = px.colors.qualitative.Safe
    return MODEL_COLOURS.get(name, palette[index % len(palette)])


def waveform(y: np.ndarray, sr: int, *, max_points: int = 4000) -> go.Figure:
    """Min/max envelope of a waveform against time in seconds."""
    hop = max(1, len(y) // max_points)
    n = len(y) // hop * hop
    frames = y[:n].reshape(-1, hop) if n else y[None, :]
    t = np.arange(len(frames)) * hop / sr
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=t, y=frames.max(axis=1), line={"width": 0.8, "color": "#6C5CE7"},
                             name="max", hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=t, y=frames.min(axis=1), line={"width": 0.8, "color": "#6C5CE7"},
                             fill="tonexty", name="min", hoverinfo="skip"))
    fig.update_layout(title="Waveform", xaxis_title="time (s)", yaxis_title="amplitude",
                      showlegend=False, height=220, **_LAYOUT)
    return fig


def spectrogram(S_db: np.ndarray, *, sr: int, hop_length: int, title: str = "Log-mel spectrogram"
                ) -> go.Figure:
    """A (n_mels, frames) dB spectrogram as a heatmap (time in seconds, mel band index)."""
    t = np.arange(S_db.shape[1]) * hop_length / sr
    fig = go.Figure(go.Heatmap(z=S_db, x=t, colorscale="Magma", colorbar={"title": "dB"},
                               hovertemplate="%{x:.2f} s, band %{y}: %{z:.1f} dB<extra></extra>"))
    fig.update_layout(title=title, xaxis_title="time (s)", yaxis_title="mel band", height=280,
                      **_LAYOUT)
    return fig


def model_probabilities(probabilities: Mapping[str, Mapping[str, float]], *, top_k: int | None = None
                        ) -> go.Figure:
    """Grouped horizontal bars: each model's probability for each genre."""
    genres: list[str] = []
    for probs in probabilities.values():
        genres += [g for g in probs if g not in genres]
    if top_k:
        mean = {g: np.mean([p.get(g, 0.0) for p in probabilities.values()]) for g in genres}
        genres = sorted(genres, key=mean.get, reverse=True)[:top_k]
    fig = go.Figure()
    for i, (name, probs) in enumerate(probabilities.items()):
        fig.add_trace(go.Bar(y=genres, x=[probs.get(g, 0.0) for g in genres], name=name,
                             orientation="h", marker_color=_colour(name, i),
                             hovertemplate="%{y}: %{x:.1%}<extra>" + name + "</extra>"))
    fig.update_layout(title="Genre probabilities", barmode="group", xaxis_title="probability",
                      xaxis={"range": [0, 1], "tickformat": ".0%"},
                      yaxis={"autorange": "reversed"}, height=120 + 28 * len(genres),
                      legend={"orientation": "h", "y": -0.2}, **_LAYOUT)
    return fig


def timeline(segment_proba: np.ndarray, segment_times: np.ndarray, genres: Sequence[str], *,
             title: str) -> go.Figure:
    """Time x genre heatmap of segment probabilities (x = segment centre in seconds)."""
    centres = segment_times.mean(axis=1)
    fig = go.Figure(go.Heatmap(
        z=np.asarray(segment_proba).T, x=centres, y=list(genres), zmin=0, zmax=1,
        colorscale="Viridis", colorbar={"title": "p", "tickformat": ".0%"},
        hovertemplate="%{x:.1f} s, %{y}: %{z:.1%}<extra></extra>"))
    fig.update_layout(title=title, xaxis_title="time (s)", height=120 + 22 * len(genres), **_LAYOUT)
    return fig


def per_genre_accuracy(table: pd.DataFrame) -> go.Figure:
    """Grouped bars from a long table with columns ``model``, ``genre``, ``recall``."""
    fig = px.bar(table, x="genre", y="recall", color="model", barmode="group",
                 color_discrete_map=MODEL_COLOURS, labels={"recall": "accuracy (recall)"})
    fig.update_layout(title="Per-genre accuracy (track level)", yaxis={"range": [0, 1],
                      "tickformat": ".0%"}, height=380, **_LAYOUT)
    return fig


def confusion(matrix: Sequence[Sequence[int]], genres: Sequence[str], *, normalise: bool,
              title: str) -> go.Figure:
    """Confusion matrix heatmap: rows true genre, columns predicted."""
    counts = np.asarray(matrix, dtype=float)
    z = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1) if normalise else counts
    text = [[f"{v:.0%}" if normalise else f"{int(v)}" for v in row] for row in z]
    fig = go.Figure(go.Heatmap(
        z=z, x=list(genres), y=list(genres), colorscale="Blues", text=text,
        texttemplate="%{text}", showscale=False,
        hovertemplate="true %{y}, predicted %{x}: %{text}<extra></extra>"))
    fig.update_layout(title=title, xaxis_title="predicted", yaxis_title="true",
                      yaxis={"autorange": "reversed"}, height=420, **_LAYOUT)
    return fig


def training_curves(histories: Mapping[str, Mapping[str, Sequence[float]]]) -> go.Figure:
    """Training and validation accuracy per epoch for each model."""
    fig = go.Figure()
    for i, (name, history) in enumerate(histories.items()):
        colour = _colour(name, i)
        for key, dash in (("accuracy", "solid"), ("val_accuracy", "dash")):
            if history.get(key):
                values = history[key]
                fig.add_trace(go.Scatter(x=np.arange(1, len(values) + 1), y=values,
                                         name=f"{name} {'valid' if 'val' in key else 'train'}",
                                         line={"color": colour, "dash": dash}))
    fig.update_layout(title="Training curves", xaxis_title="epoch", yaxis_title="accuracy",
                      yaxis={"tickformat": ".0%"}, height=360, **_LAYOUT)
    return fig


def class_balance(counts: pd.Series) -> go.Figure:
    """Tracks per genre."""
    fig = px.bar(x=counts.index, y=counts.values, labels={"x": "genre", "y": "tracks"})
    fig.update_traces(marker_color="#6C5CE7")
    fig.update_layout(title="Class balance", height=320, **_LAYOUT)
    return fig


def feature_distribution(frame: pd.DataFrame, feature: str) -> go.Figure:
    """Box plot of one feature per genre (``frame`` has ``label`` and ``feature`` columns)."""
    fig = px.box(frame, x="label", y=feature, color="label", points="outliers")
    fig.update_layout(title=f"{feature} by genre", showlegend=False, height=380,
                      xaxis_title="genre", **_LAYOUT)
    return fig


def embedding_map(points: pd.DataFrame, *, title: str, highlight: pd.DataFrame | None = None
                  ) -> go.Figure:
    """2-D scatter of ``x``, ``y`` coloured by ``label``; hover names the ``track``."""
    fig = px.scatter(points, x="x", y="y", color="label", hover_name="track",
                     labels={"x": "component 1", "y": "component 2"}, opacity=0.8)
    if highlight is not None and len(highlight):
        fig.add_trace(go.Scatter(x=highlight["x"], y=highlight["y"], mode="markers+text",
                                 text=highlight["track"], textposition="top center",
                                 marker={"symbol": "star", "size": 18, "color": "#D63031",
                                         "line": {"width": 1, "color": "white"}},
                                 name="your song"))
    fig.update_layout(title=title, height=520, **_LAYOUT)
    return fig


def savings(table: pd.DataFrame) -> go.Figure:
    """Bars comparing human and machine cost per year (``who``, ``cost``)."""
    fig = px.bar(table, x="who", y="cost", text_auto=".3s", color="who",
                 color_discrete_sequence=["#B2BEC3", "#6C5CE7"])
    fig.update_layout(title="Yearly cost of tagging", showlegend=False, yaxis_title="cost",
                      xaxis_title="", height=320, **_LAYOUT)
    return fig
