"""Classify: upload or record audio and see every model's genre prediction side by side."""

import streamlit as st

from core.errors import GenreLabError
from dashboard import figures
from dashboard.classify import UPLOAD_TYPES, analyse, results_table, top_k, upload_key
from dashboard.resources import model_sets, models_for
from dashboard.ui import guard, model_label

st.title("Classify a song")
limit_mb = st.get_option("server.maxUploadSize")
uploads = st.file_uploader(
    f"Upload songs ({', '.join(UPLOAD_TYPES)}; up to {limit_mb} MB each)",
    type=UPLOAD_TYPES, accept_multiple_files=True, key="uploads")
recording = st.audio_input("...or record a clip with your microphone", key="recording")

# The uploader is drawn first: a cold server takes a while to load the models.
model_set = model_sets()[st.session_state.get("model_set", next(iter(model_sets())))]
loaded = models_for(model_set, st.session_state.get("yamnet_handle") or None)
for name, message in loaded.errors.items():
    st.warning(f"Model **{name}** is unavailable: {message}")
for name, model in loaded.models.items():
    for message in model.warnings_:
        st.warning(f"Model **{name}**: {message}")
if not loaded.models:
    st.error("No model could be loaded. Train one on the Train page or pick another model set.")
    st.stop()

items = []
for upload in uploads or []:
    if upload.size > limit_mb * 1024 * 1024:
        st.error(f"{upload.name}: {upload.size / 1e6:.0f} MB is over the upload limit of "
                 f"{limit_mb} MB; trim the file or convert it to mp3.")
    else:
        items.append((upload.name, upload.getvalue()))
if recording is not None:
    items.append(("recording.wav", recording.getvalue()))
if not items:
    st.info("Upload one or more songs to see how each model hears them. Every model predicts "
            "3-second (mel-CNN, YAMNet) or 30-second (MFCC-MLP) segments; a song's genre is the "
            "mean of its segments' probabilities.")
    st.stop()

results = st.session_state.setdefault("analyses", {})
analyses = []
progress = st.progress(0.0, text="Classifying...") if len(items) > 1 else None
for i, (name, data) in enumerate(items):
    key = f"{model_set}|{st.session_state.get('yamnet_handle')}|{upload_key(name, data)}"
    if key not in results:
        try:
            with st.spinner(f"Classifying {name}..."):
                results[key] = analyse(loaded.models, name, data, ensemble=loaded.ensemble)
        except GenreLabError as exc:
            st.error(f"{name}: {exc}")
            continue
    analyses.append(results[key])
    if progress is not None:
        progress.progress((i + 1) / len(items), text=f"Classified {i + 1} of {len(items)}")
if not analyses:
    st.stop()

if len(analyses) > 1:
    st.subheader("Results")
    table = results_table(analyses)
    st.dataframe(table, hide_index=True, width="stretch")
    st.download_button("Download results as CSV", table.to_csv(index=False).encode(),
                       "genrelab_results.csv", "text/csv")
    chosen = st.selectbox("Show details for", [a.name for a in analyses], key="detail")
    analysis = next(a for a in analyses if a.name == chosen)
else:
    analysis = analyses[0]

prediction = analysis.prediction
st.subheader(analysis.name)
st.audio(analysis.data)
for name, message in prediction.errors.items():
    st.warning(f"{model_label(name)} could not classify this file: {message}")

with guard("Showing the predictions"):
    columns = st.columns(len(prediction.models) + (1 if prediction.ensemble is not None else 0))
    for column, (name, p) in zip(columns, prediction.models.items(), strict=False):
        with column:
            best, prob = top_k(p.genres, p.proba, 1)[0]
            st.metric(model_label(name), best)
            st.caption(" · ".join(f"{g} {v:.0%}" for g, v in top_k(p.genres, p.proba, 3)))
            if p.extras.get("heard"):
                st.caption("Heard: " + ", ".join(f"{tag} {score:.2f}"
                                                 for tag, score in p.extras["heard"][:4]))
            n = len(p.segment_proba)
            st.caption(f"{n} segment{'s' if n != 1 else ''} in {p.seconds:.2f} s")
    if prediction.ensemble is not None:
        with columns[-1]:
            st.metric("Ensemble", "Uncertain" if prediction.uncertain else prediction.ensemble_genre)
            rule = ("weights and temperatures learnt on validation tracks"
                    if prediction.ensemble_method == "stacked" else "geometric mean")
            st.caption(f"calibrated confidence {prediction.confidence:.0%} ({rule})")
            if prediction.uncertain:
                st.warning(prediction.verdict.capitalize()
                           + (f"; below the {prediction.threshold:.0%} at which its answers were "
                              "more often right than wrong on validation songs"
                              if prediction.confidence < prediction.threshold else ""))
            if prediction.agree:
                st.success("All models agree")
            else:
                st.warning("The models disagree")
    probabilities = {model_label(n): dict(zip(p.genres, p.proba, strict=True))
                     for n, p in prediction.models.items()}
    if prediction.ensemble is not None:
        probabilities["Ensemble"] = dict(zip(prediction.genres, prediction.ensemble, strict=True))
    st.plotly_chart(figures.model_probabilities(probabilities, top_k=5), theme="streamlit")

with guard("Drawing the audio"):
    left, right = st.columns(2)
    left.plotly_chart(figures.waveform(analysis.y, analysis.sr), theme="streamlit")
    right.plotly_chart(figures.spectrogram(analysis.spectrogram, sr=analysis.sr,
                                           hop_length=analysis.spectrogram_hop),
                       theme="streamlit")

st.subheader("Along the song")
with guard("Drawing the timelines"):
    tabs = st.tabs([model_label(n) for n in prediction.models])
    for tab, (name, p) in zip(tabs, prediction.models.items(), strict=True):
        with tab:
            st.plotly_chart(figures.timeline(p.segment_proba, p.segment_times, p.genres,
                                             title=f"{model_label(name)}: genre per segment"),
                            theme="streamlit")
