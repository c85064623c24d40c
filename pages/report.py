"""Report: a stakeholder summary with a business-case calculator, exportable as HTML and PDF."""

from dataclasses import replace

import numpy as np
import pandas as pd
import streamlit as st

from core.registry import list_models
from dashboard.findings import choose_best
from dashboard.findings import findings as report_findings
from dashboard.library import measurements_for
from dashboard.palette import display_name
from dashboard.report import (
    CURRENCIES,
    BusinessCase,
    build_report,
    errors_after_review,
    report_html,
    review_default,
)
from dashboard.report_pdf import report_pdf
from dashboard.resources import model_sets
from dashboard.tables import ensemble_entry, load_saved, percent_ci
from dashboard.ui import guard

st.title("Report")
name = st.session_state.get("model_set", next(iter(model_sets())))
saved = {}
with guard("Reading saved models"):
    saved = {p.name: load_saved(p) for p in list_models(model_sets()[name])}
scored = {k: v for k, v in saved.items() if v.get("metrics", {}).get("track")}
ensemble = ensemble_entry(model_sets()[name])
if ensemble is not None and scored:  # the answer users get, tested on the same files
    scored["ensemble"] = ensemble
if not scored:
    st.info("No evaluated models in this model set yet.")
    st.stop()

best_name, alike, left_out = choose_best(scored)  # only among models tested on the same songs
best = scored[best_name]
track = best["metrics"]["track"]
genres = best["metadata"]["genres"]
st.subheader(f"Model set: {name}")
k1, k2, k3 = st.columns(3)
k1.metric("Best model", display_name(best_name),
          help=f"The most accurate of {len(alike)} model(s) tested on the same {track['n']} songs.")
k2.metric("Accuracy on unseen songs", f"{track['accuracy']:.0%}",
          help="95% interval over the test songs in the caption below.")
k3.metric("Macro-F1", f"{track['macro_f1']:.2f}")
st.caption(f"{display_name(best_name)}: {percent_ci(track)} of {track['n']} test songs "
           f"({best.get('info', {}).get('split', {}).get('name', 'its test split')}).")
if left_out:
    st.warning(f"{', '.join(display_name(m) for m in left_out)} were tested on other songs than "
               f"{display_name(best_name)}; the best model is chosen only among models tested "
               "alike.", icon=":material/warning:")
models_slot = st.container()  # filled below, once the report (with its business case) is built
findings = report_findings(scored, best_name, alike, left_out)
st.subheader("Findings")
for finding in findings:
    st.markdown(f"- {finding}")

charts_slot = st.container()

st.subheader("Business case")
st.caption("Edit the inputs: what tagging a catalogue costs by hand, and with GenreLab plus a "
           "human check of a share of the songs.")
measured = measurements_for(st.session_state.get("library_db"))
if measured:
    st.caption(f"Machine songs per hour and the share checked by a person are measured on "
               f"{measured['database']} (Library page): run {measured['run_id']} tagged "
               f"{measured['songs_per_second']:.2f} songs/s on {measured['workers']} "
               f"{measured['engine']} worker(s) ({measured['realtime_factor']:.0f}x real time), "
               f"and {measured['review_share']:.0%} of its {measured['songs']} songs were unsure "
               "or disagreeing.")
else:
    st.caption("Machine songs per hour and the review share are typed-in defaults; open a tagging "
               "database on the Library page to use measured ones.")
# Typed-in inputs keep their values across page switches (dashboard.ui.KEPT_WIDGETS); the
# measured ones follow the open tagging database.
for key, default in {"report_currency": CURRENCIES[0], "report_songs_per_year": 100_000,
                     "report_human_seconds": 90.0, "report_human_cost": 30.0,
                     "report_machine_cost": 0.5}.items():
    st.session_state.setdefault(key, default)
currency = st.columns(3)[0].selectbox(
    "Currency", CURRENCIES, key="report_currency",
    help="Printed after every amount, on the page and in the exports.")
c1, c2, c3 = st.columns(3)
case = BusinessCase(
    songs_per_year=c1.number_input("Songs per year", 1, 100_000_000, step=1000,
                                   key="report_songs_per_year"),
    human_seconds_per_song=c2.number_input("Human seconds per song", 1.0, 3600.0,
                                           key="report_human_seconds"),
    human_cost_per_hour=c3.number_input(f"Human cost per hour ({currency}/h)", 0.0, 1000.0,
                                        key="report_human_cost"),
    machine_songs_per_hour=c1.number_input(
        "Machine songs per hour", 1.0, 1e7,
        float(np.clip(measured["songs_per_hour"], 1.0, 1e7)) if measured else 1800.0),
    machine_cost_per_hour=c2.number_input(f"Machine cost per hour ({currency}/h)", 0.0, 1000.0,
                                          key="report_machine_cost"),
    review_share=c3.slider("Share still checked by a person (%)", 0, 100,
                           round(100 * float(np.clip(measured["review_share"] if measured
                                                         else review_default(best), 0, 1))),
                           help="Songs a person still listens to: the unsure or disagreeing "
                                "ones. Starts at the share the ensemble calls uncertain on its "
                                "test songs (else the best model's error rate), or at the share "
                                "measured on the open tagging database.") / 100,
    currency=currency,
)
case = replace(case, errors_left=errors_after_review(best, case.review_share))
result = case.results()
m1, m2, m3 = st.columns(3)
m1.metric("Person-hours saved per year", f"{result['hours_saved']:,.0f}",
          help="Hours of people's work: people alone, minus the review they still do. Machine "
               "hours are counted in the money, not here.")
m2.metric("Money saved per year", case.money(result["money_saved"]),
          help="People only, minus machine time and the people who still check the review share.")
m3.metric("Machine hours per year", f"{result['machine_hours']:,.1f}")
st.caption(f"Songs still wrongly tagged after review: {case.left_wrong()}, measured on the test "
           "songs with the least confident checked first. The saving assumes a person's check "
           "puts every song it covers right; the songs nobody checks keep the machine's "
           "mistakes, and checking a share of the songs corrects only the mistakes among them.")
st.caption(f"People only: {result['human_hours']:,.0f} h and {case.money(result['human_cost'])} a "
           f"year. GenreLab + review: {result['assisted_hours']:,.0f} h "
           f"({result['machine_hours']:,.1f} machine h + {result['review_hours']:,.0f} review h) "
           f"and {case.money(result['assisted_cost'])} a year.")
business_chart_slot = st.container()
report = build_report(name, scored, case=case, measured=measured)  # once per run
models_slot.dataframe(pd.DataFrame([
    {"model": m.model, "test split": m.split, "test songs": m.test_tracks,
     "accuracy (95% CI)": m.accuracy, "macro-F1": f"{m.macro_f1:.2f}",
     "compared": "yes" if m.compared else "no: other test songs"}
    for m in report.models]), hide_index=True)
with charts_slot, guard("Drawing the charts"):
    per_genre_chart, confusion_chart, business_chart = report.figures()
    left, right = st.columns(2)
    left.plotly_chart(per_genre_chart, theme="streamlit")
    right.plotly_chart(confusion_chart, theme="streamlit")
    business_chart_slot.plotly_chart(business_chart, theme="streamlit")

st.subheader("Export")
st.caption("One self-contained file to hand on or print: the date, the models with their test "
           "songs, the findings, the charts, the business case's inputs and the leakage caveat. "
           "Neither needs a browser engine to make.")
e1, e2, _ = st.columns([1, 1, 3])
e1.download_button("Export report (HTML)", lambda: report_html(report).encode(),
                   "genrelab_report.html", "text/html", key="report_export_html",
                   icon=":material/download:")
e2.download_button("Export report (PDF)", lambda: report_pdf(report), "genrelab_report.pdf",
                   "application/pdf", key="report_export_pdf", icon=":material/picture_as_pdf:")
