"""Compare models: metrics, per-genre accuracy, confusion matrices, curves, mistakes."""

from pathlib import Path

import pandas as pd
import streamlit as st

from core.datasets import LAYOUTS
from core.registry import list_models
from core.splits import SPLIT_STRATEGIES
from dashboard import figures
from dashboard.leaderboard import (
    LEAKY_COMMAND,
    LEAKY_DESCRIPTION,
    SHOWN,
    leaderboard_for,
    published_frame,
)
from dashboard.leaderboard import column_config as leaderboard_columns
from dashboard.palette import display_name, readable
from dashboard.resources import BUNDLED_NAME, RESEARCH_NAME, model_sets
from dashboard.tables import (
    HELD_OUT,
    calibration_note,
    display_table,
    ensemble_row,
    evaluate_saved,
    load_saved,
    metrics_table,
    mistakes,
    per_genre_table,
    set_ensembles,
    tested_alike,
    with_evaluation,
)
from dashboard.ui import guard

st.title("Compare models")
sets = model_sets()
current = st.session_state.get("model_set", next(iter(sets)))
# The bundled set's leaderboard includes the research families trained on its split.
default_sets = [current, *([RESEARCH_NAME] if current == BUNDLED_NAME and RESEARCH_NAME in sets
                           else [])]
kept = [name for name in st.session_state.get("compare_sets", []) if name in sets]
if st.session_state.get("compare_sets_for") != current or "compare_sets" not in st.session_state:
    kept = default_sets  # first visit, or another set chosen in the sidebar since the last one
st.session_state["compare_sets_for"] = current
st.session_state["compare_sets"] = kept
chosen_sets = st.multiselect("Model sets", list(sets), key="compare_sets")
saved, ensembles = {}, {}
with guard("Reading saved models"):
    for set_name in chosen_sets:
        for folder in list_models(sets[set_name]):
            label = folder.name if len(chosen_sets) == 1 else f"{set_name}/{folder.name}"
            saved[label] = load_saved(folder)
    # Each set's ensemble, on its own test tracks: beside its members in the summary, the
    # per-genre chart and the confusion matrices (the leaderboard adds it by itself).
    ensembles = set_ensembles({s: sets[s] for s in chosen_sets})
if not saved:
    st.info("Choose at least one model set with saved models.")
    st.stop()
options = [*saved, *ensembles]
if (st.session_state.get("compare_model_options") != options
        or "compare_models" not in st.session_state):
    # Other sets chosen: their models (named afresh, with or without the set) all picked.
    st.session_state["compare_model_options"] = options
    st.session_state["compare_models"] = options
picked = st.multiselect("Models", options, key="compare_models", format_func=display_name)
saved = {k: v for k, v in saved.items() if k in picked}
# a set whose ensemble was offered and unpicked: the leaderboard leaves that ensemble out too
unpicked_sets = {Path(e["folder"]) for k, e in ensembles.items() if k not in picked}
ensembles = {k: v for k, v in ensembles.items() if k in picked}
if not saved:
    st.info("Pick at least one model folder: an ensemble is shown beside its models.")
    st.stop()

with st.expander("Evaluate these models on another dataset or split"):
    with st.form("compare_evaluate"):
        c1, c2 = st.columns([3, 1])
        data = c1.text_input("Dataset folder or feature table", key="compare_data")
        layout = c2.selectbox("Layout", list(LAYOUTS), key="compare_layout")
        c3, c4, c5 = st.columns(3)
        split = c3.selectbox("Test on", [HELD_OUT, *SPLIT_STRATEGIES], key="compare_split",
                             help="Held-out tracks: every track of the dataset that a model did "
                                  "not train on. A split: its test side, again without any track "
                                  "a model trained on.")
        fold = c4.number_input("Fold", 0, 9, key="compare_fold")  # starts at its minimum, 0
        seed = c5.number_input("Seed", 0, 10_000, key="compare_seed")
        run = st.form_submit_button("Evaluate")
    if run and not data.strip():
        st.error("Give the dataset's folder (or feature table) to evaluate on.")
    elif run:
        with guard("Evaluating"), st.spinner("Computing features and predictions..."):
            handle = st.session_state.get("yamnet_handle") or None
            st.session_state["compare_evaluation"] = evaluate_saved(
                saved, data, layout, None if split == HELD_OUT else split, int(fold),
                int(seed), handle, ensembles=ensembles)
    evaluation = st.session_state.get("compare_evaluation")
    if evaluation:
        for name, message in evaluation["errors"].items():
            st.warning(f"{display_name(name)} cannot be evaluated: {message}")
        for name, message in evaluation.get("warnings", {}).items():
            st.warning(f"{display_name(name)}: {message}", icon=":material/warning:")
        st.toggle(f"Show results on {evaluation['label']} instead of each model's own test split",
                  value=True, key="compare_use_evaluation")
evaluation = st.session_state.get("compare_evaluation")
if evaluation and st.session_state.get("compare_use_evaluation"):
    not_run = [display_name(n) for n in [*saved, *ensembles]
               if n not in evaluation["metrics"] and n not in evaluation["errors"]]
    if not_run:
        st.caption(f"Picked after this evaluation, so not shown on it: {', '.join(not_run)}; "
                   "press Evaluate again to include them.")
    saved = with_evaluation(saved, evaluation)
    ensembles = with_evaluation(ensembles, evaluation)  # each on its members' unseen tracks
    if not saved:
        st.info(f"None of the chosen models could be evaluated on {evaluation['label']} "
                "(see the warnings above); switch the toggle off to see their own test results.")
        st.stop()
shown = {**saved, **ensembles}  # what the summary, the chart and the matrices show
groups = tested_alike(shown)
if len(groups) > 1:
    described = "; ".join(
        " and ".join(display_name(n) for n in group) + " on "
        + shown[group[0]].get("info", {}).get("split", {}).get("name", "?")
        + f" ({shown[group[0]].get('metrics', {}).get('track', {}).get('n', '?')} tracks)"
        for group in groups)
    st.warning(f"These models were tested on different tracks ({described}): their numbers are "
               "not directly comparable.", icon=":material/warning:")
level = st.radio("Level", ["track", "segment"], horizontal=True, key="compare_level",
                 help="Track level averages each track's segment probabilities.")
unit = "segments" if level == "segment" else "songs"

st.subheader("Summary")
table = metrics_table(saved, level)
if ensembles and level == "track":  # an ensemble answers per track only
    table = pd.concat([table, pd.DataFrame([{**ensemble_row(e), "model": n}
                                            for n, e in ensembles.items()])], ignore_index=True)
count = "test segments" if level == "segment" else "test tracks"
summary = display_table(table,
                        ["model", "split", count, "accuracy", "macro-F1", "ECE",
                         "ROC-AUC", "size (MB)", "parameters", "train time (s)",
                         "inference (ms/clip)"])
if "split" in summary and summary["split"].nunique() == 1:  # one split: say it once, not per row
    st.caption(f"Every model tested on the same split: {summary['split'].iloc[0]}")
    summary = summary.drop(columns="split")
st.dataframe(summary, hide_index=True, width="stretch",
             column_config={"split": st.column_config.TextColumn(width="medium"),
                            "parameters": st.column_config.NumberColumn(format="localized")})
st.caption(("Accuracy over the test tracks' 3-s segments, each counted on its own; no interval "
            "is given, since segments of one track are not independent samples (one over them "
            "would be too narrow); the track level has intervals"
            if level == "segment" else
            "Accuracy over the test tracks, each track answered from all its segments, with its "
            "95% interval")
           + "; ECE: expected calibration error (0 = confidence matches how often the model is "
           "right); n/a: not measured for that model." + calibration_note(shown, level))

st.subheader("Leaderboard")
with guard("Building the leaderboard"):
    board, board_notes, reference = leaderboard_for(
        saved, {s: sets[s] for s in chosen_sets if Path(sets[s]) not in unpicked_sets},
        prefixed=len(chosen_sets) > 1)
    st.caption(f"Every model as saved, on its own held-out test tracks (reference: "
               f"{reference.get('split') or 'unknown split'}, {reference.get('test_tracks')} "
               "tracks); rows tested on other tracks are marked not comparable, never ranked "
               "beside the others.")
    for note in board_notes:
        st.warning(readable(note, saved), icon=":material/warning:")
    if board["split"].nunique() == 1:  # said once in the caption above
        board = board.drop(columns="split")
    st.dataframe(board, hide_index=True, width="stretch", column_config=leaderboard_columns(),
                 placeholder="n/a",
                 column_order=[c for c in SHOWN if c in board.columns])
    st.caption(f"ms/segment: the network alone on precomputed inputs, per input row (features "
               f"and pretrained encoders excluded); ms/3 s, end to end: decoded audio to "
               f"probabilities, everything included, per 3 s of audio (n/a where not "
               f"measured: `leaderboard --timing`; segment accuracy is n/a for an ensemble, "
               f"which answers per track). Leaky protocol: segment-level accuracy on "
               f"{LEAKY_DESCRIPTION}; '-' where not computed (`{LEAKY_COMMAND}`), n/a where it "
               "does not apply.")
    st.markdown("**Published figures**, each on its own protocol:")
    st.table(published_frame().set_index("model"))  # a static table: its notes wrap

with guard("Drawing per-genre accuracy"):
    st.plotly_chart(figures.per_genre_accuracy(per_genre_table(shown, level), unit=unit),
                    theme="streamlit")

st.subheader("Confusion matrix")
c1, c2 = st.columns([3, 1])
matrix_of = c1.selectbox("Model", list(shown), key="compare_confusion_model",
                         format_func=display_name)
normalise = c2.toggle("Normalise rows", value=True, key="compare_normalise")
entry = shown[matrix_of]
metrics = entry.get("metrics", {}).get(level)
with guard(f"Drawing {display_name(matrix_of)}'s confusion matrix"):
    if metrics:
        st.plotly_chart(figures.confusion(
            metrics["confusion"], entry["metadata"]["genres"], normalise=normalise,
            title=f"{display_name(matrix_of)}: true genre against predicted "
                  f"({'share of each row' if normalise else unit})", unit=unit),
            theme="streamlit")
    else:
        st.caption(f"{display_name(matrix_of)}: no saved test metrics"
                   + (" at segment level (it answers per track)" if matrix_of in ensembles
                      else ""))

histories = {n: e.get("history", {}) for n, e in saved.items() if e.get("history")}
if histories:
    with guard("Drawing training curves"):
        st.plotly_chart(figures.training_curves(histories), theme="streamlit")

st.subheader("Test clips a model gets wrong")
name = st.selectbox("Model", list(saved), key="compare_mistakes_model", format_func=display_name)
wrong = mistakes(saved[name])
if wrong.empty:
    st.caption("No per-track test predictions were saved for this model.")
else:
    st.dataframe(wrong[["track_id", "true", "predicted", "confidence"]], hide_index=True,
                 width="stretch",
                 column_config={"confidence": st.column_config.NumberColumn(format="percent")})
    clip = st.selectbox("Play", wrong["track_id"], key="compare_play")
    path = Path(wrong.set_index("track_id").loc[clip, "path"])
    if path.is_file():
        st.audio(str(path))
    else:
        st.caption("The audio of this clip is not on this machine.")
