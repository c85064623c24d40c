"""A song card: one upload's result on one page, as a PNG image or a PDF page.

Drawn with matplotlib (pure wheels, no browser engine), so it works on any machine: the
answer of every model and of the ensemble with its confidence, the genre probabilities, the
genres along the song, and the explanations when they were computed.
"""

from __future__ import annotations

import io
import textwrap
from datetime import date
from typing import Any

import numpy as np

from dashboard.palette import colour, display_name, readable

PAGE = (11.69, 8.27)  # A4 landscape, inches
NOTE_WIDTH = 48  # characters of a grey line under an answer before it wraps


def answer_lines(prediction: Any) -> list[tuple[str, str, str, str]]:
    """The card's answers: ``(who, genre, grey note, colour key)`` per line, ensemble first.

    An uncertain ensemble reads "uncertain", with the genres it is closest to (and a genre
    outside the trained ones that YAMNet hears) in full in its note, never cut short.
    """
    p = prediction
    lines = []
    if p.ensemble is not None:
        verdict, detail = p.verdict or "", f"confidence {p.confidence:.0%}"
        if p.uncertain:
            verdict, detail = "uncertain", f"{verdict.removeprefix('uncertain: ')}; {detail}"
        lines.append(("Ensemble", verdict, detail, "ensemble"))
    for name, m in p.models.items():
        lines.append((display_name(name), m.genre, f"p = {float(np.max(m.proba)):.0%}", name))
    for name, message in p.errors.items():
        lines.append((display_name(name), "unavailable", message[:40], name))
    return lines


def song_card(analysis: Any, *, model_set: str, explanations: dict[str, list[Any]] | None = None,
              fmt: str = "png", today: date | None = None) -> bytes:
    """The card of one analysed upload (:class:`dashboard.classify.Analysis`).

    Parameters
    ----------
    analysis : dashboard.classify.Analysis
    model_set : str
        Name of the model set that answered (printed on the card).
    explanations : dict, optional
        :func:`core.explain.explain_prediction`'s result, printed as sentences.
    fmt : {"png", "pdf"}
    today : datetime.date, optional
        The date printed (default: today).

    Returns
    -------
    bytes
        The PNG image (150 dpi) or the one-page PDF.

    Raises
    ------
    ValueError
        ``fmt`` is neither ``png`` nor ``pdf``.
    """
    if fmt not in ("png", "pdf"):
        raise ValueError(f"fmt must be 'png' or 'pdf', got {fmt!r}")
    from matplotlib.figure import Figure

    p = analysis.prediction
    fig = Figure(figsize=PAGE)
    fig.subplots_adjust(left=0.06, right=0.97, top=0.85, bottom=0.06)
    grid = fig.add_gridspec(3, 2, height_ratios=[1.25, 1.0, 0.9], width_ratios=[1, 1.3],
                            hspace=0.55, wspace=0.3)
    when = (today or date.today()).isoformat()
    fig.suptitle(f"{analysis.name}", x=0.06, y=0.97, ha="left", fontsize=18, fontweight="bold")
    fig.text(0.06, 0.925, f"{p.duration_s:.0f} s · model set: {model_set} · GenreLab · {when}",
             fontsize=10, color="#636E72")
    for i, note in enumerate(p.notes):  # e.g. a file that ends before its header says
        note = note.removeprefix(f"{analysis.name}: ")
        fig.text(0.06, 0.9 - 0.02 * i, textwrap.shorten(note[:1].upper() + note[1:], 150),
                 fontsize=9, color="#D63031")

    # The answers
    ax = fig.add_subplot(grid[0, 0])
    ax.axis("off")
    lines = answer_lines(p)
    ax.set_title("Answers", loc="left", fontsize=12, fontweight="bold")
    y = 0.9
    for i, (label, genre, note, key) in enumerate(lines):
        note_lines = textwrap.wrap(note, NOTE_WIDTH) or [""]
        ax.text(0.0, y, label, fontsize=11, color=colour(key), fontweight="bold",
                transform=ax.transAxes, va="center")
        ax.text(0.33, y, textwrap.shorten(genre, 34), fontsize=13 if i == 0 else 11,
                fontweight="bold" if i == 0 else "normal", transform=ax.transAxes, va="center")
        ax.text(0.33, y - 0.05, "\n".join(note_lines), fontsize=9, color="#636E72",
                transform=ax.transAxes, va="top", linespacing=1.3)
        y -= 0.2 + 0.075 * (len(note_lines) - 1)  # a wrapped note pushes the next answer down
    if not p.agree and p.models:
        ax.text(0.0, y, "The models disagree.", fontsize=9, color="#D63031",
                transform=ax.transAxes)

    # Probabilities of the 5 most likely genres
    ax = fig.add_subplot(grid[0, 1])
    probs = {n: dict(zip(m.genres, m.proba, strict=True)) for n, m in p.models.items()}
    if p.ensemble is not None:
        probs["ensemble"] = dict(zip(p.genres, p.ensemble, strict=True))
    genres = sorted({g for d in probs.values() for g in d},
                    key=lambda g: -np.mean([d.get(g, 0.0) for d in probs.values()]))[:5]
    height = 0.8 / max(len(probs), 1)
    for k, (name, d) in enumerate(probs.items()):
        ax.barh(np.arange(len(genres)) + k * height, [d.get(g, 0.0) for g in genres], height,
                color=colour(name, k), label=display_name(name))
    ax.set_yticks(np.arange(len(genres)) + 0.4 - height / 2, genres)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.set_xlabel("probability")
    ax.set_title("Genre probabilities (5 most likely)", loc="left", fontsize=12,
                 fontweight="bold")
    ax.legend(fontsize=8, loc="lower right", frameon=False)

    # Along the song: the model with the finest segments
    ax = fig.add_subplot(grid[1, :])
    if p.models:
        name, m = max(p.models.items(), key=lambda kv: len(kv[1].segment_proba))
        times = np.asarray(m.segment_times)
        edges = np.append(times[:, 0], times[-1, 1])
        mesh = ax.pcolormesh(edges, np.arange(len(m.genres) + 1),
                             np.asarray(m.segment_proba).T, vmin=0, vmax=1, cmap="viridis")
        ax.set_yticks(np.arange(len(m.genres)) + 0.5, m.genres, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("time (s)")
        ax.set_title(f"Along the song: {display_name(name)}'s genre per segment", loc="left",
                     fontsize=12, fontweight="bold")
        bar = fig.colorbar(mesh, ax=ax, pad=0.01, fraction=0.03)
        bar.set_label("probability")

    # Why
    ax = fig.add_subplot(grid[2, :])
    ax.axis("off")
    ax.set_title("Why this genre", loc="left", fontsize=12, fontweight="bold")
    sentences = []
    if explanations:
        for name, found in explanations.items():
            for ex in found:
                sentences.append(f"{display_name(name)}: {readable(ex.summary, p.models)}")
    else:
        sentences.append("Explanations were not computed (press \"Explain the answers\" on the "
                         "Classify page before downloading the card).")
    text = "\n".join(textwrap.fill(s, 170, subsequent_indent="    ") for s in sentences)
    ax.text(0.0, 0.95, text, fontsize=8.5, va="top", transform=ax.transAxes, wrap=True)

    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=150, metadata=None if fmt == "png" else
                {"Title": f"GenreLab song card: {analysis.name}", "Creator": "GenreLab"})
    return buffer.getvalue()
