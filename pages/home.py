"""Home: what GenreLab is, which models are loaded (with their card metrics), where to start."""

import pandas as pd
import streamlit as st

from core.registry import list_models
from dashboard.resources import model_sets
from dashboard.tables import (
    calibration_note,
    display_table,
    ensemble_entry,
    ensemble_row,
    load_saved,
    metrics_table,
    tested_alike,
)
from dashboard.ui import guard

st.title("GenreLab")
st.markdown(
    "A music-genre classification lab. Upload a song and compare how three model families "
    "hear it, evaluate them honestly, and train on your own collection.\n\n"
    "- **MFCC-MLP**: a dense network on the 57 GTZAN summary features (chroma, RMS, spectral "
    "shape, zero crossings, harmonic/percussive energy, tempo, 20 MFCCs)\n"
    "- **mel-CNN**: musicnn, a convolutional network pretrained on the Million Song Dataset's "
    "tags, reads mel spectrograms of 3-second segments; a linear head learns your genres from "
    "it (or its top layers are fine-tuned to them; its tags also answer zero-shot; a CNN "
    "trained from scratch is the baseline)\n"
    "- **YAMNet**: Google's pretrained audio model (shipped, works offline); a softmax head "
    "learns your genres from its embeddings, or its AudioSet genre classes answer zero-shot\n"
    "- **Ensemble**: the three, and YAMNet's zero-shot answer (which never heard the training "
    "songs), combined with weights and temperatures learnt on songs the models never trained "
    "on (for the bundled set, each song also re-recorded: mp3, other EQ, loud mastering, so a "
    "model that breaks when a song is recorded differently gets less say); when it is unsure "
    "it says so"
)

name = st.session_state.get("model_set", next(iter(model_sets())))
folder = model_sets()[name]
st.subheader(f"Loaded models: {name}")
with guard("Reading the model cards"):
    saved = {p.name: load_saved(p) for p in list_models(folder)}
    if saved:
        table = metrics_table(saved)
        ensemble = ensemble_entry(folder)  # read once
        if ensemble is not None:
            table = pd.concat([table, pd.DataFrame([ensemble_row(ensemble)])], ignore_index=True)
        columns = ["model", "zero-shot", "split", "test tracks", "accuracy", "95% CI",
                   "macro-F1", "ECE"]
        if not table["zero-shot"].any():
            columns.remove("zero-shot")
        groups = tested_alike({**saved, **({"ensemble": ensemble} if ensemble else {})})
        splits = table["split"].unique()
        if len(groups) == 1 and len(splits) == 1:  # one test split for all: say it once
            columns.remove("split")
            st.caption(f"Every model tested on the same {table['test tracks'].iloc[0]} held-out "
                       f"tracks: {splits[0]}")
        elif len(groups) > 1:
            st.warning("These models were tested on different tracks: compare their accuracies "
                       "with care.", icon=":material/warning:")
        st.dataframe(display_table(table, columns), hide_index=True, width="stretch")
        st.caption("Held-out test tracks only, split by track and artist; 95% "
                   "intervals over the test tracks; ECE: expected calibration error (0 = a "
                   "model's confidence matches how often it is right). Honest GTZAN accuracy "
                   "tops out near 80% in the literature; above 90% usually means leakage."
                   + calibration_note({**saved, **({"ensemble": ensemble} if ensemble else {})}))
        for model, entry in saved.items():
            card = entry["folder"] / "MODEL_CARD.md"
            if card.is_file():
                with st.expander(f"Model card: {entry['metadata']['display_name']} ({model})"):
                    st.markdown(card.read_text())
        ensemble_card = folder / "ENSEMBLE_CARD.md"
        if ensemble_card.is_file():
            with st.expander("Model card: Ensemble"):
                st.markdown(ensemble_card.read_text())
    else:
        st.info("This model set is empty.")

st.subheader("Where to start")
START_HERE = (
    ("classify", "Classify a song", "headphones",
     "Upload audio and see every model's prediction along the song."),
    ("compare", "Compare models", "bar_chart",
     "Accuracy, per-genre results and confusion matrices side by side."),
    ("train", "Train on your music", "model_training", "GTZAN, FMA, or any folder per genre."),
    ("library", "Tag a library", "library_music",
     "Review what `python -m core tag` wrote; corrections train the next set."),
    ("report", "Present the results", "description", "Findings, business case, HTML or PDF export."),
)
for column, (page, label, icon, caption) in zip(st.columns(len(START_HERE)), START_HERE, strict=True):
    with column:
        st.page_link(f"../pages/{page}.py", label=label, icon=f":material/{icon}:")
        st.caption(caption)
