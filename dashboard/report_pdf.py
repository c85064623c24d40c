"""The report as a multi-page A4 PDF, drawn with matplotlib (pure wheels, no browser engine).

The same :class:`dashboard.report.Report` as the HTML export: title and date, headline,
the models with their test splits and counts, findings, the per-genre accuracy and confusion
charts redrawn with matplotlib, the business case's inputs with units and currency, and the
leakage caveat. Every page carries a footer with the model set, the date and the page number.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dashboard.palette import colour, display_name
from dashboard.report import LEAKAGE_NOTE, Report

PAGE = (8.27, 11.69)  # A4 portrait, inches
MARGIN = 0.75  # inches
_GREY = "#636E72"
_INK = "#2D3436"


class _Pages:
    """Flows text, tables and charts down A4 pages, starting a new page when one is full."""

    def __init__(self, footer: str) -> None:
        from matplotlib.figure import Figure

        self._figure_class = Figure
        self.footer = footer
        self.pages: list[Any] = []
        self.y = 0.0
        self._new()

    @property
    def fig(self) -> Any:
        return self.pages[-1]

    def _new(self) -> None:
        self.pages.append(self._figure_class(figsize=PAGE))
        self.y = MARGIN

    def _room(self, height: float) -> None:
        if self.y + height > PAGE[1] - MARGIN - 0.2 and self.y > MARGIN + 0.01:
            self._new()

    def _at(self, y: float) -> float:
        return 1 - y / PAGE[1]

    def new_page(self) -> None:
        if self.y > MARGIN + 0.01:
            self._new()

    def space(self, inches: float) -> None:
        self.y += inches

    def text(self, text: str, *, size: float = 10, weight: str = "normal", color: str = _INK,
             indent: float = 0.0, bullet: str = "", keep: float = 0.0) -> None:
        """A paragraph wrapped to the page width (``keep``: inches that must follow on its page)."""
        width_pt = (PAGE[0] - 2 * MARGIN - indent - (0.18 if bullet else 0)) * 72
        chars = max(20, int(width_pt / (size * 0.53)))
        lines = textwrap.wrap(text, chars) or [""]
        line = size * 1.4 / 72
        self._room(line * min(len(lines), 2) + keep)  # never a lone first line at a page's end
        while lines:
            fit = max(1, int((PAGE[1] - MARGIN - 0.2 - self.y) / line))
            part, lines = lines[:fit], lines[fit:]
            x = (MARGIN + indent) / PAGE[0]
            if bullet:
                self.fig.text(x, self._at(self.y), bullet, fontsize=size, color=color, va="top")
                x += 0.18 / PAGE[0]
                bullet = ""
            self.fig.text(x, self._at(self.y), "\n".join(part), fontsize=size, weight=weight,
                          color=color, va="top", linespacing=1.4)
            self.y += line * len(part) + size * 0.35 / 72
            if lines:
                self._new()

    def heading(self, text: str, *, keep: float = 0.8) -> None:
        self.space(0.12)
        self.text(text, size=14, weight="bold", keep=keep)
        self.space(0.02)

    def kpis(self, items: dict[str, str], *, size: float = 11) -> None:
        """A row of grey boxes, each a label over its value."""
        width = (PAGE[0] - 2 * MARGIN) / len(items)
        chars = max(8, int((width - 0.2) * 72 / (size * 0.6)))
        values = {k: textwrap.wrap(v, chars) or [""] for k, v in items.items()}
        height = 0.25 + size * 1.3 / 72 * max(len(v) for v in values.values()) + 0.1
        labels = {k: textwrap.wrap(k, max(8, int((width - 0.2) * 72 / (8 * 0.58)))) for k in items}
        shift = 8 * 1.3 / 72 * (max(len(v) for v in labels.values()) - 1)
        height += shift
        self._room(height)
        for i, (label, lines) in enumerate(values.items()):
            x = MARGIN + i * width
            self.fig.patches.append(_rect(self.fig, x + 0.03, self.y, width - 0.06, height))
            self.fig.text((x + 0.1) / PAGE[0], self._at(self.y + 0.07), "\n".join(labels[label]),
                          fontsize=8, color=_GREY, va="top", linespacing=1.3)
            self.fig.text((x + 0.1) / PAGE[0], self._at(self.y + 0.27 + shift), "\n".join(lines),
                          fontsize=size, weight="bold", color=_INK, va="top", linespacing=1.3)
        self.y += height + 0.15

    def table(self, head: Sequence[str], rows: Sequence[Sequence[str]], widths: Sequence[float],
              *, size: float = 8.5, bold_last: bool = False) -> None:
        """Columns of ``widths`` inches (each cell wrapped to fit), a grey header row."""
        line = size * 1.35 / 72

        def wrapped(row: Sequence[str]) -> list[list[str]]:
            return [textwrap.wrap(str(v), max(4, int((w - 0.08) * 72 / (size * 0.6)))) or [""]
                    for v, w in zip(row, widths, strict=True)]

        def height_of(row: Sequence[str]) -> float:
            return line * max(len(c) for c in wrapped(row)) + 0.08

        def draw(row: Sequence[str], *, header: bool = False, bold: bool = False) -> None:
            cells = wrapped(row)
            height = height_of(row)
            self._room(height)
            if header:
                self.fig.patches.append(_rect(self.fig, MARGIN, self.y - 0.03, sum(widths), height))
            x = MARGIN
            for cell, w in zip(cells, widths, strict=True):
                self.fig.text((x + 0.04) / PAGE[0], self._at(self.y), "\n".join(cell),
                              fontsize=size, va="top", weight="bold" if header or bold else "normal",
                              color=_INK, linespacing=1.35)
                x += w
            self.y += height
            self.fig.add_artist(_line(self.fig, MARGIN, sum(widths), self.y - 0.03))

        self._room(sum(height_of(r) for r in [head, *rows]))  # a table stays on one page
        draw(head, header=True)
        for i, row in enumerate(rows):
            draw(row, bold=bold_last and i == len(rows) - 1)
        self.space(0.1)

    def chart(self, height: float, draw: Callable[[Any], None], *, left: float = 1.3,
              bottom: float = 1.0) -> None:
        """An axes ``height`` inches tall with ``left``/``bottom`` inches kept for tick labels."""
        self._room(height)
        ax = self.fig.add_axes([(MARGIN + left) / PAGE[0], self._at(self.y + height - bottom),
                                (PAGE[0] - 2 * MARGIN - left - 0.1) / PAGE[0],
                                (height - 0.4 - bottom) / PAGE[1]])
        draw(ax)
        self.y += height + 0.15

    def finish(self) -> list[Any]:
        for i, fig in enumerate(self.pages, 1):
            fig.text(MARGIN / PAGE[0], 0.45 / PAGE[1], self.footer, fontsize=8, color=_GREY)
            fig.text(1 - MARGIN / PAGE[0], 0.45 / PAGE[1], f"page {i} of {len(self.pages)}",
                     fontsize=8, color=_GREY, ha="right")
        return self.pages


def _rect(fig: Any, x: float, y: float, w: float, h: float) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle((x / PAGE[0], 1 - (y + h) / PAGE[1]), w / PAGE[0], h / PAGE[1],
                     transform=fig.transFigure, facecolor="#F1F2F6", edgecolor="none", zorder=-1)


def _line(fig: Any, x: float, w: float, y: float) -> Any:
    from matplotlib.lines import Line2D

    return Line2D([x / PAGE[0], (x + w) / PAGE[0]], [1 - y / PAGE[1]] * 2, color="#DFE6E9",
                  linewidth=0.6, transform=fig.transFigure)


def _percent(ax: Any) -> None:
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")


def _per_genre(report: Report) -> Callable[[Any], None]:
    table = report.per_genre

    def draw(ax: Any) -> None:
        genres = list(dict.fromkeys(table["genre"]))
        models = list(dict.fromkeys(table["model"]))
        width = 0.8 / max(len(models), 1)
        x = np.arange(len(genres))
        for k, name in enumerate(models):
            rows = table[table["model"] == name].set_index("genre").reindex(genres)
            support = rows["support"].fillna(0).to_numpy()
            recall = np.where(support > 0, rows["recall"].fillna(0).to_numpy(), np.nan)
            ax.bar(x - 0.4 + width * (k + 0.5), recall, width, color=colour(name, k),
                   label=display_name(name))
        empty = [i for i, g in enumerate(genres)
                 if table.loc[table["genre"] == g, "support"].max() <= 0]
        for i in empty:
            ax.text(i, 0.03, "no test songs", rotation=90, ha="center", va="bottom", fontsize=8,
                    color=_GREY)
        ax.set_xticks(x, genres, rotation=35, ha="right", fontsize=9)
        ax.set_ylim(0, 1.05)
        _percent(ax)
        ax.set_xlabel("genre", fontsize=10)
        ax.set_ylabel("accuracy (recall)", fontsize=10)
        ax.set_title("Per-genre accuracy on the test songs", loc="left", fontsize=12,
                     fontweight="bold")
        ax.grid(axis="y", color="#DFE6E9", linewidth=0.6)
        ax.set_axisbelow(True)
        ax.legend(fontsize=8, frameon=False, ncols=min(len(models), 4), loc="upper left",
                  bbox_to_anchor=(0, -0.28))

    return draw


def _confusion(report: Report) -> Callable[[Any], None]:
    counts = np.asarray(report.confusion, dtype=float)
    totals = counts.sum(axis=1)
    share = np.where(totals[:, None] > 0, counts / np.maximum(totals[:, None], 1), np.nan)
    genres = report.genres

    def draw(ax: Any) -> None:
        import matplotlib as mpl

        cmap = mpl.colormaps["Blues"].copy()
        cmap.set_bad("#E9ECEF")
        ax.imshow(np.ma.masked_invalid(share), cmap=cmap, vmin=0, vmax=1, aspect="auto")
        for i in range(len(genres)):
            if totals[i] == 0:
                ax.text((len(genres) - 1) / 2, i, "no test songs", ha="center", va="center",
                        fontsize=8, color=_GREY)
                continue
            for j in range(len(genres)):
                if counts[i, j]:
                    ax.text(j, i, f"{share[i, j]:.0%}", ha="center", va="center", fontsize=7.5,
                            color="white" if share[i, j] > 0.55 else _INK)
        ax.set_xticks(range(len(genres)), genres, rotation=40, ha="right", fontsize=9)
        ax.set_yticks(range(len(genres)), [f"{g} ({int(n)})" for g, n in zip(genres, totals,
                                                                                strict=True)],
                      fontsize=9)
        ax.set_xlabel("predicted genre", fontsize=10)
        ax.set_ylabel("true genre (test songs)", fontsize=10)
        ax.set_title(f"Where {display_name(report.best)} goes wrong (share of each true genre)",
                     loc="left", fontsize=12, fontweight="bold")

    return draw


def _savings(report: Report) -> Callable[[Any], None]:
    case = report.case
    result = case.results()

    def draw(ax: Any) -> None:
        who = ["people only", "GenreLab + review"]
        cost = [result["human_cost"], result["assisted_cost"]]
        bars = ax.bar(who, cost, color=["#B2BEC3", "#4A69BD"], width=0.5)
        for bar, value in zip(bars, cost, strict=True):
            ax.text(bar.get_x() + bar.get_width() / 2, value, case.money(value), ha="center",
                    va="bottom", fontsize=9)
        ax.set_ylim(0, max(max(cost), 1) * 1.18)
        ax.yaxis.set_major_formatter(lambda v, _: f"{v:,.0f}")
        ax.set_xlabel("how songs are tagged", fontsize=10)
        ax.set_ylabel(f"cost per year ({case.currency})", fontsize=10)
        ax.set_title(f"Yearly cost of tagging ({case.currency})", loc="left", fontsize=12,
                     fontweight="bold")
        ax.grid(axis="y", color="#DFE6E9", linewidth=0.6)
        ax.set_axisbelow(True)

    return draw


def report_pages(report: Report) -> list[Any]:
    """The report's pages as matplotlib figures (A4 portrait), for :func:`report_pdf` or PNGs."""
    pages = _Pages(f"GenreLab · model set {report.model_set} · {report.date}")
    pages.text(report.title, size=20, weight="bold")
    pages.text(f"Generated on {report.date} · amounts in {report.case.currency}", size=10,
               color=_GREY)
    pages.space(0.1)
    pages.kpis(report.headline())
    pages.heading("Models and their test songs")
    columns = {"model": 0.85, "dataset": 1.45, "test split": 1.45, "test songs": 0.5,
               "accuracy (95% CI)": 1.3, "macro F1": 0.5, "compared": 0.72}
    rows = [{"model": m.model, "dataset": m.dataset, "test split": m.split,
             "test songs": str(m.test_tracks), "accuracy (95% CI)": m.accuracy,
             "macro F1": f"{m.macro_f1:.2f}", "compared": "yes" if m.compared else
             "no: other test songs"} for m in report.models]
    for common in ("dataset", "test split"):  # said once above the table when all share it
        if len({r[common] for r in rows}) == 1:
            pages.text(f"{common.capitalize()}: {rows[0][common]}", size=9.5)
            spare = columns.pop(common)
            columns["dataset" if common == "test split" and "dataset" in columns else "model"] += spare
    pages.table(list(columns), [[r[c] for c in columns] for r in rows], list(columns.values()),
                size=8)
    pages.text(report.split_note(), size=9.5, color="#D63031" if report.tested_apart else _INK)
    pages.heading("Findings")
    for finding in report.findings:
        pages.text(finding, size=10, bullet="•")
    pages.heading("Why these numbers are lower than published ones", keep=0.5)
    pages.text(LEAKAGE_NOTE, size=9.5)
    # both charts fit one page under a line or two run over from page 1 (3 pages in all)
    pages.heading("Per-genre accuracy and mistakes", keep=4.0)
    pages.chart(4.0, _per_genre(report), left=0.7, bottom=1.35)
    pages.chart(4.7, _confusion(report), left=1.35, bottom=1.0)
    pages.new_page()
    pages.heading("Business case", keep=2.5)
    pages.text("What tagging the catalogue costs by hand, and with GenreLab plus a person "
               "checking a share of the songs.", size=10)
    pages.table(["input", "value", "source"], [list(r) for r in report.case.inputs(report.measured)],
                [2.2, 1.5, 3.0], size=9)
    pages.table(["result", "value"], [list(r) for r in report.case.outcome()], [2.9, 3.8], size=9,
                bold_last=True)
    pages.chart(3.4, _savings(report), left=1.0, bottom=0.7)
    return pages.finish()


def report_pdf(report: Report) -> bytes:
    """The report as a multi-page A4 PDF (see :func:`report_pages`)."""
    from matplotlib.backends.backend_pdf import PdfPages

    buffer = io.BytesIO()
    with PdfPages(buffer, metadata={"Title": report.title, "Creator": "GenreLab",
                                    "CreationDate": report.created}) as pdf:
        for page in report_pages(report):
            pdf.savefig(page)
    return buffer.getvalue()


def report_png_pages(report: Report, *, dpi: int = 100) -> list[bytes]:
    """Each page of the report as a PNG image (a preview of the PDF)."""
    out = []
    for page in report_pages(report):
        buffer = io.BytesIO()
        page.savefig(buffer, format="png", dpi=dpi, facecolor="white")
        out.append(buffer.getvalue())
    return out
