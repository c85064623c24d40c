"""The stakeholder report: a business-case calculator and its self-contained HTML export.

:func:`build_report` gathers everything a printed report must carry (a date, the model set
and each model's test split with counts, the findings, the business case's inputs with their
units and currency, the leakage caveat) into one :class:`Report`; :func:`report_html` writes it
as one HTML file (plotly.js inlined, charts sized for an A4 page) and
:func:`dashboard.report_pdf.report_pdf` as a multi-page PDF drawn with matplotlib. No
Streamlit here, and no browser engine is needed for either file.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard import figures
from dashboard.findings import LEAKAGE_CAVEAT, choose_best
from dashboard.findings import findings as report_findings
from dashboard.palette import display_name
from dashboard.tables import per_genre_table, percent_ci

#: Currencies offered by the Report page (ISO 4217 codes, printed after every amount).
CURRENCIES = ("EUR", "USD", "GBP", "CHF", "JPY", "SEK", "NOK", "DKK", "CAD", "AUD")

#: Why honest numbers are lower than the literature's (printed in every export).
LEAKAGE_NOTE = (
    "Many published GTZAN results (80-95% accuracy) split 3-second excerpts or songs at random, "
    "so excerpts of one song, or other songs by the same artist (often from the same album and "
    "recording session), sit on both sides of the split: a model can then recognise the "
    "recording or the artist instead of the genre, and the test measures memory. GenreLab keeps "
    "every song, and every artist where artists are known, on one side (an artist-disjoint "
    "split); test songs take no part in training or in choosing settings. Its numbers are "
    "therefore lower, and honest: they estimate how the models do on music they have never "
    "heard. Studies that re-ran published methods with artist filters (Flexer 2007) or on "
    "GTZAN without its repeated and mislabelled clips (Sturm 2013) also found clearly lower "
    "accuracies.")

#: Chart sizes in the export (CSS pixels): an A4 page holds 680 px between 14-mm margins.
PRINT_WIDTH = 680
_HEIGHTS = {"per_genre": 420, "confusion": 600, "savings": 360}


def review_default(entry: dict[str, Any]) -> float:
    """The share of songs a person checks, to start the calculator from: the songs an ensemble
    calls "uncertain" (measured on its test songs), else the model's error rate."""
    metrics = entry.get("metrics", {})
    if metrics.get("uncertain_share") is not None:
        return float(metrics["uncertain_share"])
    return 1.0 - float(metrics["track"]["accuracy"])


def errors_after_review(entry: dict[str, Any], review_share: float) -> tuple[float, int] | None:
    """The share of all songs still wrong after a person checks ``review_share`` of them (the
    least confident first, each check putting its song right), and on how many test songs that
    was measured; None where the saved metrics cannot tell.

    A model's saved per-song test answers give it for any share. An ensemble saves how many test
    songs it called "uncertain" and its accuracy on the others, which gives it for checking
    exactly those songs (``review_share`` within half a song, or half a percent, of its
    uncertain share).
    """
    metrics = entry.get("metrics", {})
    rows = [r for r in metrics.get("test_tracks") or [] if "confidence" in r]
    if rows:
        order = sorted(rows, key=lambda r: r["confidence"])
        checked = round(float(np.clip(review_share, 0, 1)) * len(order))
        wrong = sum(r["predicted"] != r["true"] for r in order[checked:])
        return wrong / len(order), len(order)
    n = int(metrics.get("track", {}).get("n") or 0)
    unsure, sure_right = metrics.get("uncertain_share"), metrics.get("accuracy_when_confident")
    near = max(0.5 / n, 0.005) if n else 0.0  # half a song, or the slider's whole percent
    if n and unsure is not None and sure_right is not None and abs(review_share - unsure) <= near:
        return (1.0 - unsure) * (1.0 - sure_right), n
    return None


@dataclass(frozen=True)
class BusinessCase:
    """Inputs of the calculator (all editable on the Report page).

    Attributes
    ----------
    songs_per_year : int
        Songs that need a genre tag each year.
    human_seconds_per_song : float
        Time a person needs to listen to and tag one song, in seconds.
    human_cost_per_hour : float
        Loaded hourly cost of that person, in ``currency``.
    machine_songs_per_hour : float
        Songs GenreLab tags per machine hour.
    machine_cost_per_hour : float
        Hourly cost of the machine, in ``currency``.
    review_share : float in [0, 1]
        Share of songs a person still checks (e.g. where the models disagree).
    currency : str
        ISO 4217 code of every amount (e.g. ``"EUR"``).
    errors_left : tuple of (float, int), optional
        :func:`errors_after_review`: the share of all songs still wrong after that check, and
        the number of test songs it was measured on (None: not known for this share).
    """

    songs_per_year: int = 100_000
    human_seconds_per_song: float = 90.0
    human_cost_per_hour: float = 30.0
    machine_songs_per_hour: float = 1800.0
    machine_cost_per_hour: float = 0.5
    review_share: float = 0.2
    currency: str = "EUR"
    errors_left: tuple[float, int] | None = None

    def results(self) -> dict[str, float]:
        """Yearly hours and cost for people alone and for GenreLab plus review, and the savings."""
        human_hours = self.songs_per_year * self.human_seconds_per_song / 3600
        human_cost = human_hours * self.human_cost_per_hour
        machine_hours = self.songs_per_year / max(self.machine_songs_per_hour, 1e-9)
        review_hours = human_hours * self.review_share
        assisted_cost = (machine_hours * self.machine_cost_per_hour
                         + review_hours * self.human_cost_per_hour)
        return {
            "human_hours": human_hours,
            "human_cost": human_cost,
            "machine_hours": machine_hours,
            "review_hours": review_hours,
            "assisted_hours": machine_hours + review_hours,
            "assisted_cost": assisted_cost,
            "hours_saved": human_hours - review_hours,
            "money_saved": human_cost - assisted_cost,
        }

    def money(self, amount: float) -> str:
        """``"48,187 EUR"``: an amount in the case's currency, to the unit."""
        return f"{amount:,.0f} {self.currency}"

    def inputs(self, measured: dict[str, Any] | None = None) -> list[tuple[str, str, str]]:
        """Every input as ``(name, value with its unit, where it comes from)``.

        Parameters
        ----------
        measured : dict, optional
            :func:`dashboard.library.measurements` of the open tagging database, whose
            throughput and review share the page started from.
        """
        typed = "typed in"
        source = (f"measured: run {measured['run_id']} of {measured['database']}, "
                  f"{measured['songs']} songs, {measured['workers']} {measured['engine']} worker(s)"
                  if measured else typed)
        return [
            ("Songs per year", f"{self.songs_per_year:,} songs", typed),
            ("Human time per song", f"{self.human_seconds_per_song:g} s", typed),
            ("Human cost per hour", f"{self.human_cost_per_hour:,.2f} {self.currency}/h", typed),
            ("Machine songs per hour", f"{self.machine_songs_per_hour:,.0f} songs/h", source),
            ("Machine cost per hour", f"{self.machine_cost_per_hour:,.2f} {self.currency}/h", typed),
            ("Share still checked by a person", f"{self.review_share:.0%}",
             source if measured else "typed in (starts at the share the ensemble calls "
                                     "uncertain, else the best model's error rate)"),
        ]

    def outcome(self) -> list[tuple[str, str]]:
        """The results as ``(name, value with its unit)``, the saving last."""
        r = self.results()
        return [
            ("People only: hours / cost per year",
             f"{r['human_hours']:,.0f} h / {self.money(r['human_cost'])}"),
            ("GenreLab + review: hours / cost per year",
             f"{r['assisted_hours']:,.0f} h / {self.money(r['assisted_cost'])} "
             f"({r['machine_hours']:,.1f} machine h + {r['review_hours']:,.0f} review h)"),
            ("Person-hours saved per year",  # machine hours cost money, not people's time
             f"{r['hours_saved']:,.0f} h ({r['human_hours']:,.0f} h - {r['review_hours']:,.0f} h "
             "review)"),
            ("Songs still wrongly tagged after review, per year", self.left_wrong()),
            ("Money saved per year", self.money(r["money_saved"])),
        ]

    def left_wrong(self) -> str:
        """``"10,078 songs (10% of 129 test songs)"``: measured on the test songs, the least
        confident checked first; or that it is not measured for this share."""
        if self.errors_left is None:
            return "not measured for this review share"
        share, n = self.errors_left
        return f"{share * self.songs_per_year:,.0f} songs ({share:.0%} of {n} test songs)"


@dataclass(frozen=True)
class ModelLine:
    """One model of the set as the report lists it."""

    model: str
    dataset: str
    split: str
    test_tracks: int
    accuracy: str
    macro_f1: float
    compared: bool


@dataclass(frozen=True)
class Report:
    """Everything an exported report shows (see :func:`build_report`)."""

    model_set: str
    created: datetime
    best: str
    models: list[ModelLine]
    findings: list[str]
    per_genre: pd.DataFrame
    confusion: list[list[int]]
    genres: list[str]
    case: BusinessCase = field(default_factory=BusinessCase)
    measured: dict[str, Any] | None = None

    @property
    def title(self) -> str:
        return f"GenreLab report: {self.model_set}"

    @property
    def date(self) -> str:
        """``"5 November 2026, 14:03"``."""
        return f"{self.created.day} {self.created:%B %Y, %H:%M}"

    @property
    def best_line(self) -> ModelLine:
        return next(m for m in self.models if m.model == display_name(self.best))

    @property
    def tested_apart(self) -> list[str]:
        """Display names of the models tested on other songs than the best model."""
        return [m.model for m in self.models if not m.compared]

    def split_note(self) -> str:
        """One sentence on which songs the models were tested on."""
        best = self.best_line
        if not self.tested_apart:
            return (f"All {len(self.models)} models were tested on the same {best.test_tracks} "
                    f"songs ({best.split}), none of which they trained on.")
        return (f"Models were tested on different songs: {', '.join(self.tested_apart)} on other "
                f"songs than {best.model} ({best.test_tracks} songs, {best.split}), so the best "
                "model is chosen only among models tested alike, and their numbers do not compare.")

    def headline(self) -> dict[str, str]:
        result = self.case.results()
        best = self.best_line
        return {"Best model": best.model,
                "Accuracy on unseen songs": f"{best.accuracy} of {best.test_tracks} songs",
                "Macro-F1": f"{best.macro_f1:.2f}",
                "Person-hours saved / year": f"{result['hours_saved']:,.0f} h",
                "Money saved / year": self.case.money(result["money_saved"])}

    def figures(self, *, printed: bool = False) -> list[go.Figure]:
        """The report's plotly charts: per-genre accuracy, the best model's confusion matrix, the
        yearly cost (``printed``: the export's longer titles, for a page-wide chart)."""
        share = " (share of each true genre's test songs)" if printed else ""
        result = self.case.results()
        cost = pd.DataFrame({"who": ["people only", "GenreLab + review"],
                             "cost": [result["human_cost"], result["assisted_cost"]]})
        return [figures.per_genre_accuracy(self.per_genre),
                figures.confusion(self.confusion, self.genres, normalise=True,
                                  title=f"Where {display_name(self.best)} goes wrong{share}"),
                figures.savings(cost, currency=self.case.currency)]


def build_report(model_set: str, scored: dict[str, dict[str, Any]], *,
                 case: BusinessCase | None = None, measured: dict[str, Any] | None = None,
                 now: datetime | None = None) -> Report:
    """The report of a model set's evaluated models.

    Parameters
    ----------
    model_set : str
        Its name (printed).
    scored : dict
        :func:`dashboard.tables.load_saved` entries with track-level metrics (and the
        ensemble's :func:`dashboard.tables.ensemble_entry`), at least one.
    case : BusinessCase, optional
        The business case's inputs (default: :class:`BusinessCase`'s).
    measured : dict, optional
        Measurements of the tagging database the case's throughput came from.
    now : datetime, optional
        The date printed (default: now).

    Raises
    ------
    ValueError
        ``scored`` is empty.
    """
    if not scored:
        raise ValueError("no evaluated models to report on")
    best, alike, left_out = choose_best(scored)
    track = scored[best]["metrics"]["track"]
    datasets = {name: _dataset(entry) for name, entry in scored.items()}
    known = next((d for d in datasets.values() if d), "n/a")
    lines = []
    for name, entry in scored.items():
        m = entry["metrics"]["track"]
        lines.append(ModelLine(
            model=display_name(name),
            dataset=datasets[name] or (known if name == "ensemble" else "n/a"),  # its members'
            split=str(entry.get("info", {}).get("split", {}).get("name", "")) or "n/a",
            test_tracks=int(m["n"]), accuracy=percent_ci(m), macro_f1=float(m["macro_f1"]),
            compared=name in alike))
    found = [f for f in report_findings(scored, best, alike, left_out) if f != LEAKAGE_CAVEAT]
    return Report(model_set=model_set, created=now or datetime.now(), best=best, models=lines,
                  findings=found, per_genre=per_genre_table({k: scored[k] for k in alike}),
                  confusion=track["confusion"], genres=list(scored[best]["metadata"]["genres"]),
                  case=case or BusinessCase(), measured=measured)


def _dataset(entry: dict[str, Any]) -> str:
    dataset = entry.get("info", {}).get("dataset", "")
    return str(dataset.get("name", "") if isinstance(dataset, dict) else dataset)


def _for_print(fig: go.Figure, height: int) -> go.Figure:
    """A copy of a dashboard figure that fits an A4 page with room for its axis titles and tick
    labels (the dashboard's tight margins clip them outside Streamlit)."""
    fig = go.Figure(fig)
    fig.update_layout(margin={"l": 90, "r": 30, "t": 60, "b": 90}, width=PRINT_WIDTH,
                      height=height, template="plotly_white", font={"size": 13},
                      title={"x": 0.02, "xanchor": "left"})
    fig.update_xaxes(automargin=True, title_standoff=12)
    fig.update_yaxes(automargin=True, title_standoff=12)
    return fig


_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;max-width:760px;
margin:2em auto;padding:0 1em;color:#2d3436;font-size:15px;line-height:1.45}
h1{margin-bottom:.1em}h2{margin-top:1.6em;border-bottom:1px solid #dfe6e9;padding-bottom:.2em}
.meta{color:#636e72;margin-top:0}
.kpis{display:flex;gap:.6em;flex-wrap:wrap;margin:1em 0}
.kpi{background:#f1f2f6;border-radius:8px;padding:.6em 1em;font-size:.9em}
.kpi b{display:block;font-size:1.35em}
table{border-collapse:collapse;width:100%;font-size:.9em;margin:.6em 0}
th,td{text-align:left;padding:.35em .5em;border-bottom:1px solid #dfe6e9;vertical-align:top}
th{background:#f1f2f6}.num{text-align:right;white-space:nowrap}
.note{background:#fff7e6;border-left:4px solid #e17055;padding:.5em .8em}
.chart{margin:1.2em 0;width:680px}
.total td{font-weight:bold}
@page{size:A4;margin:14mm}
@media print{body{margin:0;max-width:none;padding:0;font-size:12.5px}
.chart,table,.kpis,.note,li{break-inside:avoid}h2{break-after:avoid}.kpi{border:1px solid #dfe6e9}}
"""


def _table(head: list[str], rows: list[list[str]], numeric: set[int] = frozenset(),
           total: bool = False) -> str:
    cells = ["<table><thead><tr>", *(f"<th{' class=num' if j in numeric else ''}>{html.escape(h)}</th>"
                                     for j, h in enumerate(head)), "</tr></thead>"]
    for i, row in enumerate(rows):
        last = total and i == len(rows) - 1
        cells.append("<tr class='total'>" if last else "<tr>")
        cells += [f"<td{' class=num' if j in numeric else ''}>{html.escape(v)}</td>"
                  for j, v in enumerate(row)]
        cells.append("</tr>")
    return "".join([*cells, "</table>"])


def report_html(report: Report) -> str:
    """One self-contained HTML page (plotly.js inlined once) that reads on screen and prints.

    Charts are fixed at :data:`PRINT_WIDTH` pixels with margins for their axis titles and
    genre names, so the page prints on A4 as it shows; nothing is fetched from the network.
    """
    case = report.case
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(report.title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(report.title)}</h1>",
        f"<p class='meta'>Generated on {html.escape(report.date)} by GenreLab · amounts in "
        f"{html.escape(case.currency)}</p><div class='kpis'>",
        *(f"<div class='kpi'>{html.escape(k)}<b>{html.escape(v)}</b></div>"
          for k, v in report.headline().items()),
        "</div><h2>Models and their test songs</h2>",
        _table(["model", "dataset", "test split", "test songs", "accuracy (95% CI)", "macro-F1",
                "compared"],
               [[m.model, m.dataset, m.split, str(m.test_tracks), m.accuracy, f"{m.macro_f1:.2f}",
                 "yes" if m.compared else "no: other test songs"] for m in report.models],
               numeric={3, 5}),
        f"<p{' class=note' if report.tested_apart else ''}>{html.escape(report.split_note())}</p>",
        "<h2>Findings</h2><ul>",
        *(f"<li>{html.escape(f)}</li>" for f in report.findings),
        "</ul>",
    ]
    charts = report.figures(printed=True)
    for i, (fig, kind) in enumerate(zip(charts, _HEIGHTS, strict=True)):
        if kind == "savings":
            parts += ["<h2>Business case</h2>",
                      "<p>What tagging the catalogue costs by hand, and with GenreLab plus a "
                      "person checking a share of the songs. Inputs:</p>",
                      _table(["input", "value", "source"], [list(r) for r in case.inputs(
                          report.measured)], numeric={1}),
                      _table(["result", "value"], [list(r) for r in case.outcome()], numeric={1},
                             total=True)]
        div = _for_print(fig, _HEIGHTS[kind]).to_html(
            full_html=False, include_plotlyjs="inline" if i == 0 else False,
            config={"displaylogo": False, "responsive": False})
        parts.append(f"<div class='chart' data-chart='{kind}'>{div}</div>")
    parts += ["<h2>Why these numbers are lower than published ones</h2>",
              f"<p>{html.escape(LEAKAGE_NOTE)}</p>",
              f"<p><small>GenreLab · model set {html.escape(report.model_set)} · "
              f"{html.escape(report.date)}</small></p></body></html>"]
    return "\n".join(parts)
