"""Pure plotly figure builders: data in, figure out. No Streamlit here.

Colours come from plotly's qualitative palettes and the templates follow Streamlit's light or
dark theme (``theme="streamlit"`` in ``st.plotly_chart``), so charts read in both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.colors as pc
import plotly.express as px
import plotly.graph_objects as go

from dashboard.palette import colour as _colour
from dashboard.palette import display_name

#: Charts that are about no model in particular use this blue (models keep their own colours).
NEUTRAL = "#4A69BD"
#: Genres on maps and box plots: ten strong colours (D3's), none pale on a white page.
GENRE_COLOURS = px.colors.qualitative.D3

_LAYOUT = {"margin": {"l": 10, "r": 10, "t": 40, "b": 10}, "font": {"size": 13}}


def waveform(y: np.ndarray, sr: int, *, max_points: int = 4000) -> go.Figure:
    """Min/max envelope of a waveform against time in seconds."""
    hop = max(1, len(y) // max_points)
    n = len(y) // hop * hop
    frames = y[:n].reshape(-1, hop) if n else y[None, :]
    t = np.arange(len(frames)) * hop / sr
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=t, y=frames.max(axis=1), line={"width": 0.8, "color": NEUTRAL},
                             name="max", hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=t, y=frames.min(axis=1), line={"width": 0.8, "color": NEUTRAL},
                             fill="tonexty", name="min", hoverinfo="skip"))
    fig.update_layout(title="Waveform", xaxis_title="time (s)", yaxis_title="amplitude",
                      showlegend=False, height=220, **_LAYOUT)
    return fig


def _rgb_colorscale(colours: Sequence[str]) -> list[list[Any]]:
    """A plotly colorscale of ``rgb()`` stops from hex colours. Plotly.js draws the lowest stop
    of its own "Magma" (``#000004``) salmon-pink in a heatmap; ``rgb(0,0,4)`` is drawn black."""
    n = len(colours) - 1
    return [[i / n, "rgb({},{},{})".format(*(int(c[j:j + 2], 16) for j in (1, 3, 5)))]
            for i, c in enumerate(colours)]


#: Magma (black = quietest, pale yellow = loudest) as rgb() stops.
MAGMA = _rgb_colorscale(pc.sequential.Magma)


def spectrogram(S_db: np.ndarray, *, sr: int, hop_length: int, title: str = "Log-mel spectrogram",
                fmax: float | None = None) -> go.Figure:
    """A (n_mels, frames) dB spectrogram as a heatmap: time in seconds, frequency in Hz.

    Each mel band is drawn at its centre frequency (librosa's mel scale up to ``fmax``, default
    ``sr / 2``) on a logarithmic axis; the quietest level is drawn black, the loudest yellow.
    """
    import librosa

    n_mels = S_db.shape[0]
    freqs = librosa.mel_frequencies(n_mels=n_mels + 2, fmax=fmax or sr / 2)[1:-1]
    t = np.arange(S_db.shape[1]) * hop_length / sr
    fig = go.Figure(go.Heatmap(z=S_db, x=t, y=freqs, colorscale=MAGMA,
                               zmin=float(np.min(S_db)), zmax=float(np.max(S_db)),
                               colorbar={"title": "dB"},
                               hovertemplate="%{x:.2f} s, %{y:.0f} Hz: %{z:.1f} dB<extra></extra>"))
    ticks = [t for t in (50, 100, 250, 500, 1000, 2000, 4000, 8000, 16000)
             if freqs[0] <= t <= freqs[-1]]
    fig.update_layout(title=title, xaxis_title="time (s)", yaxis_title="frequency (Hz)",
                      yaxis={"type": "log", "tickvals": ticks,
                             "ticktext": [f"{t // 1000}k" if t >= 1000 else str(t) for t in ticks]},
                      height=280, **_LAYOUT)
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
        shown = display_name(name)
        fig.add_trace(go.Bar(y=genres, x=[probs.get(g, 0.0) for g in genres], name=shown,
                             orientation="h", marker_color=_colour(name, i),
                             hovertemplate="%{y}: %{x:.1%}<extra>" + shown + "</extra>"))
    fig.update_layout(title="Genre probabilities", barmode="group", xaxis_title="probability",
                      xaxis={"range": [0, 1], "tickformat": ".0%"},
                      yaxis={"autorange": "reversed"}, height=120 + 28 * len(genres),
                      legend={"orientation": "h", "y": -0.2}, **_LAYOUT)
    return fig


def timeline(segment_proba: np.ndarray, segment_times: np.ndarray, genres: Sequence[str], *,
             title: str) -> go.Figure:
    """Time x genre heatmap of segment probabilities, each segment drawn over its own seconds
    (a single 30-s window spans 0-30 s rather than a sliver around its centre)."""
    times = np.asarray(segment_times, dtype=float)
    edges = np.append(times[:, 0], times[-1, 1])  # bin edges: segment starts, then the last end
    fig = go.Figure(go.Heatmap(
        z=np.asarray(segment_proba).T, x=edges, y=list(genres), zmin=0, zmax=1,
        colorscale="Viridis", colorbar={"title": "p", "tickformat": ".0%"},
        hovertemplate="%{x:.1f} s, %{y}: %{z:.1%}<extra></extra>"))
    fig.update_layout(title=title, xaxis_title="time (s)", height=120 + 22 * len(genres),
                      yaxis={"autorange": "reversed"}, **_LAYOUT)  # genres top down, as on the card
    fig.update_xaxes(range=[float(edges[0]), float(edges[-1])])
    return fig


def per_genre_accuracy(table: pd.DataFrame, *, title: str | None = None, unit: str = "songs"
                       ) -> go.Figure:
    """Grouped bars from a long table with columns ``model``, ``genre``, ``recall``, ``support``.

    A genre without test songs gets no bar (never a 0% one) and a "no test songs" label; the
    hover gives each bar's count ("5 of 12 songs"). ``unit`` is what ``support`` counts
    (``songs`` or ``segments``); the default title names the level it implies.
    """
    if title is None:
        title = f"Per-genre accuracy ({'segment' if unit == 'segments' else 'track'} level)"
    fig = go.Figure()
    genres = list(dict.fromkeys(table["genre"])) if len(table) else []
    support = table["support"] if "support" in table else pd.Series(1, index=table.index)
    for i, (name, rows) in enumerate(table.groupby("model", sort=False)):
        rows = rows.set_index("genre").reindex(genres)
        n = support.loc[table["model"] == name].set_axis(
            table.loc[table["model"] == name, "genre"]).reindex(genres).fillna(0)
        recall = [None if k <= 0 else r for r, k in zip(rows["recall"], n, strict=True)]
        right = [0 if k <= 0 else round(r * k) for r, k in zip(rows["recall"], n, strict=True)]
        shown = display_name(str(name))
        fig.add_trace(go.Bar(
            x=genres, y=recall, name=shown, marker_color=_colour(str(name), i),
            customdata=np.stack([right, n.astype(int)], axis=1),
            hovertemplate=f"%{{x}}: %{{y:.0%}} (%{{customdata[0]}} of %{{customdata[1]}} {unit})<extra>"
                          + shown + "</extra>"))
    empty = sorted({g for g, k in zip(table.get("genre", []), support, strict=False) if k <= 0},
                   key=genres.index)
    if empty:
        fig.add_trace(go.Scatter(x=empty, y=[0.04] * len(empty), mode="text",
                                 text=[f"no test {unit}"] * len(empty), showlegend=False,
                                 textfont={"size": 12, "color": "#636E72"}, hoverinfo="skip"))
    fig.update_layout(title=title, barmode="group", xaxis_title="genre",
                      yaxis_title="accuracy (recall)", yaxis={"range": [0, 1.05], "tickformat": ".0%"},
                      legend_title_text="model", height=380, **_LAYOUT)
    return fig


def confusion(matrix: Sequence[Sequence[int]], genres: Sequence[str], *, normalise: bool,
              title: str, unit: str = "songs") -> go.Figure:
    """Confusion matrix heatmap: rows true genre (with its number of test ``unit``: songs or
    segments), columns predicted. A genre with none is a grey "no test songs" row, never 0%."""
    counts = np.asarray(matrix, dtype=float)
    totals = counts.sum(axis=1)
    share = counts / np.maximum(totals[:, None], 1)
    z = np.where(totals[:, None] > 0, share if normalise else counts, np.nan)
    text = [[f"no test {unit}" if totals[i] == 0 and j == len(genres) // 2 else
             "" if totals[i] == 0 or counts[i, j] == 0 else  # blank, not "0%": easier to read
             f"{v:.0%}" if normalise else f"{int(v)}"
             for j, v in enumerate(row)] for i, row in enumerate(z)]
    rows = [f"{g} ({int(n)})" for g, n in zip(genres, totals, strict=True)]
    custom = np.stack([counts, np.repeat(totals[:, None], len(genres), axis=1)], axis=-1)
    fig = go.Figure(go.Heatmap(
        z=z, x=list(genres), y=rows, colorscale="Blues", text=text, zmin=0,
        zmax=1 if normalise else None, texttemplate="%{text}", showscale=False,
        customdata=custom,
        hovertemplate="true %{y}, predicted %{x}: %{customdata[0]:.0f} of %{customdata[1]:.0f}"
                      "<extra></extra>"))
    fig.update_layout(title=title, xaxis_title="predicted genre",
                      yaxis_title=f"true genre (test {unit})", yaxis={"autorange": "reversed"},
                      height=460, plot_bgcolor="#EEEEEE", **_LAYOUT)
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
                                         name=f"{display_name(name)} "
                                              f"{'valid' if 'val' in key else 'train'}",
                                         line={"color": colour, "dash": dash}))
    fig.update_layout(title="Training curves", xaxis_title="epoch", yaxis_title="accuracy",
                      yaxis={"tickformat": ".0%"}, height=360, **_LAYOUT)
    return fig


def class_balance(counts: pd.Series) -> go.Figure:
    """Tracks per genre."""
    fig = px.bar(x=counts.index, y=counts.values, labels={"x": "genre", "y": "tracks"})
    fig.update_traces(marker_color=NEUTRAL)
    fig.update_layout(title="Class balance", height=320, **_LAYOUT)
    return fig


def feature_distribution(frame: pd.DataFrame, feature: str) -> go.Figure:
    """Box plot of one feature per genre (``frame`` has ``label`` and ``feature`` columns)."""
    fig = px.box(frame, x="label", y=feature, color="label", points="outliers",
                 color_discrete_sequence=GENRE_COLOURS)
    fig.update_layout(title=f"{feature} by genre", showlegend=False, height=380,
                      xaxis_title="genre", **_LAYOUT)
    return fig


def embedding_map(points: pd.DataFrame, *, title: str, highlight: pd.DataFrame | None = None
                  ) -> go.Figure:
    """2-D scatter of ``x``, ``y`` coloured by ``label``; hover names the ``track``; the axes are
    titled from ``points.attrs["axes"]`` where :func:`dashboard.explore.project` set it."""
    x_title, y_title = points.attrs.get("axes", ("component 1", "component 2"))
    fig = px.scatter(points, x="x", y="y", color="label", hover_name="track",
                     labels={"x": x_title, "y": y_title, "label": "genre"}, opacity=0.8,
                     color_discrete_sequence=GENRE_COLOURS)
    if highlight is not None and len(highlight):
        fig.add_trace(go.Scatter(x=highlight["x"], y=highlight["y"], mode="markers+text",
                                 text=highlight["track"], textposition="top center",
                                 marker={"symbol": "star", "size": 18, "color": "#D63031",
                                         "line": {"width": 1, "color": "white"}},
                                 name="your song"))
    fig.update_layout(title=title, height=520, **_LAYOUT)
    return fig


def savings(table: pd.DataFrame, *, currency: str = "") -> go.Figure:
    """Bars comparing human and machine cost per year (``who``, ``cost`` in ``currency``)."""
    unit = f" ({currency})" if currency else ""
    fig = px.bar(table, x="who", y="cost", text_auto=",.0f", color="who",
                 color_discrete_sequence=["#B2BEC3", NEUTRAL])
    fig.update_traces(textposition="outside", cliponaxis=False,
                      hovertemplate="%{x}: %{y:,.0f}" + unit + " per year<extra></extra>")
    fig.update_layout(title=f"Yearly cost of tagging{unit}", showlegend=False,
                      yaxis_title=f"cost per year{unit}", xaxis_title="how songs are tagged",
                      height=320, **_LAYOUT)
    return fig


def genre_distribution(counts: pd.DataFrame) -> go.Figure:
    """Stacked bars: songs per genre, split by how sure the answer is (``genre``, ``answer``,
    ``songs``; ``answer`` is e.g. confident / needs review / reviewed by a person)."""
    order = (counts.groupby("genre")["songs"].sum().sort_values(ascending=False).index.tolist()
             if len(counts) else [])
    colours = {"confident": "#6C5CE7", "needs review": "#FDCB6E", "reviewed by a person": "#00B894"}
    fig = px.bar(counts, x="genre", y="songs", color="answer", category_orders={"genre": order},
                 color_discrete_map=colours, text_auto=True)
    fig.update_layout(title="Songs per genre", xaxis_title="", yaxis_title="songs", height=340,
                      legend_title_text="", **_LAYOUT)
    fig.update_yaxes(tickformat="d", rangemode="tozero")  # whole songs: no 0.2-0.8 ticks
    if len(counts) and counts.groupby("genre")["songs"].sum().max() < 10:
        fig.update_yaxes(dtick=1)
    return fig


def feature_pushes(items: Sequence[Mapping[str, object]], *, genre: str, title: str) -> go.Figure:
    """Horizontal bars: how much each feature group pushed a model towards ``genre``
    (items of :func:`core.explain.explain_mlp`: ``group``, ``word``, ``push``)."""
    rows = sorted(items, key=lambda i: float(i["push"]))  # type: ignore[arg-type]
    pushes = [float(i["push"]) for i in rows]  # type: ignore[arg-type]
    fig = go.Figure(go.Bar(
        x=pushes, y=[f"{i['group']}: {i['word']}" for i in rows], orientation="h",
        marker_color=["#00A383" if v > 0 else "#B2BEC3" for v in pushes],
        hovertemplate="%{y}: %{x:+.1%}<extra></extra>"))
    fig.update_layout(title=title, xaxis_title=f"change in its {genre} probability (points)",
                      xaxis={"tickformat": "+.0%", "zeroline": True}, height=120 + 30 * len(rows),
                      **_LAYOUT)
    return fig


def occlusion_regions(fig: go.Figure, regions: Sequence[Mapping[str, float]], *, top: int = 6
                      ) -> go.Figure:
    """Outline the ``top`` regions of :func:`core.explain.explain_cnn` on a :func:`spectrogram`
    (thicker and more opaque where silencing the region lowers the genre's probability more)."""
    fig = go.Figure(fig)
    chosen = [r for r in regions if r["drop"] > 0][:top]
    strongest = max((r["drop"] for r in chosen), default=1.0) or 1.0
    for r in chosen:
        strength = r["drop"] / strongest
        fig.add_shape(type="rect", x0=r["start_s"], x1=r["end_s"], y0=max(r["low_hz"], 20.0),
                      y1=r["high_hz"], line={"color": "#00E5FF", "width": 1 + 3 * strength},
                      fillcolor="rgba(0,229,255,0.15)", opacity=0.4 + 0.6 * strength)
    fig.update_layout(title=(fig.layout.title.text or "") + " · outlined: regions that drove it")
    return fig


def contributions(items: Sequence[Mapping[str, object]], *, genre: str, runner_up: str
                  ) -> go.Figure:
    """Each model's push of the ensemble towards ``genre`` rather than ``runner_up`` (items of
    :func:`core.explain.explain_ensemble`), in the model's own colour."""
    names = [str(i["model"]) for i in items]
    values = [float(i["contribution"]) for i in items]  # type: ignore[arg-type]
    fig = go.Figure(go.Bar(
        x=values, y=[f"{display_name(n)} (chose {i['chose']})" for n, i in zip(names, items,
                                                                             strict=True)],
        orientation="h", marker_color=[_colour(n, k) for k, n in enumerate(names)],
        hovertemplate="%{y}: %{x:+.2f}<extra></extra>"))
    fig.update_layout(title=f"Ensemble: each model's push towards {genre} over {runner_up}",
                      xaxis_title=f"weighted log-odds, {genre} vs {runner_up}",
                      yaxis={"autorange": "reversed"}, height=140 + 34 * len(items), **_LAYOUT)
    return fig
