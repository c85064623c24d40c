"""Report: a stakeholder summary with a business-case calculator, exportable as HTML."""

import numpy as np
import pandas as pd
import streamlit as st

from core.registry import list_models
from dashboard import figures
from dashboard.report import BusinessCase, report_html
from dashboard.resources import model_sets
from dashboard.tables import ensemble_entry, load_saved, per_genre_table, top_confusions
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

best_name = max(scored, key=lambda k: scored[k]["metrics"]["track"]["accuracy"])
best = scored[best_name]
track = best["metrics"]["track"]
genres = best["metadata"]["genres"]
st.subheader(f"Model set: {name}")
k1, k2, k3 = st.columns(3)
k1.metric("Best model", best["metadata"]["display_name"])
k2.metric("Accuracy on unseen songs", f"{track['accuracy']:.0%}")
k3.metric("Macro-F1", f"{track['macro_f1']:.2f}")

recall = {g: v["recall"] for g, v in track["per_genre"].items() if v["support"] > 0}
easiest, hardest = max(recall, key=recall.get), min(recall, key=recall.get)
findings = [
    f"{best['metadata']['display_name']} names the right genre for {track['accuracy']:.0%} of "
    f"{track['n']} songs it never saw in training (chance: {1 / len(genres):.0%}).",
    f"Easiest genre: {easiest} ({recall[easiest]:.0%} correct); hardest: {hardest} "
    f"({recall[hardest]:.0%}).",
    *(f"{share:.0%} of {a} songs are mistaken for {b}." for a, b, share in
      top_confusions(track["confusion"], genres)),
    "Numbers come from songs (and artists) kept out of training; results above 90% on GTZAN "
    "usually mean the same song leaked into training and test.",
]
st.subheader("Findings")
for finding in findings:
    st.markdown(f"- {finding}")

charts = []
with guard("Drawing the charts"):
    charts = [figures.per_genre_accuracy(per_genre_table(scored)),
              figures.confusion(track["confusion"], genres, normalise=True,
                                title=f"Where {best['metadata']['display_name']} goes wrong")]
    left, right = st.columns(2)
    left.plotly_chart(charts[0], theme="streamlit")
    right.plotly_chart(charts[1], theme="streamlit")

st.subheader("Business case")
st.caption("Edit the inputs: what tagging a catalogue costs by hand, and with GenreLab plus a "
           "human check of a share of the songs.")
c1, c2, c3 = st.columns(3)
case = BusinessCase(
    songs_per_year=c1.number_input("Songs per year", 1, 100_000_000, 100_000, step=1000),
    human_seconds_per_song=c2.number_input("Human seconds per song", 1.0, 3600.0, 90.0),
    human_cost_per_hour=c3.number_input("Human cost per hour", 0.0, 1000.0, 30.0),
    machine_songs_per_hour=c1.number_input("Machine songs per hour", 1.0, 1e7, 1800.0),
    machine_cost_per_hour=c2.number_input("Machine cost per hour", 0.0, 1000.0, 0.5),
    review_share=c3.slider("Share still checked by a person", 0.0, 1.0,
                           float(np.clip(1 - track["accuracy"], 0, 1))),
)
result = case.results()
m1, m2, m3 = st.columns(3)
m1.metric("Hours saved per year", f"{result['hours_saved']:,.0f}")
m2.metric("Money saved per year", f"{result['money_saved']:,.0f}")
m3.metric("Machine hours per year", f"{result['machine_hours']:,.1f}")
cost_chart = figures.savings(pd.DataFrame({"who": ["people only", "GenreLab + review"],
                                           "cost": [result["human_cost"],
                                                    result["assisted_cost"]]}))
st.plotly_chart(cost_chart, theme="streamlit")

headline = {"Best model": best["metadata"]["display_name"],
            "Accuracy": f"{track['accuracy']:.0%}", "Macro-F1": f"{track['macro_f1']:.2f}",
            "Hours saved / year": f"{result['hours_saved']:,.0f}",
            "Money saved / year": f"{result['money_saved']:,.0f}"}
page = report_html(f"GenreLab report: {name}", findings, [*charts, cost_chart], headline)
st.download_button("Export report (HTML)", page.encode(), "genrelab_report.html", "text/html")
