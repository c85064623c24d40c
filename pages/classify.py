"""Classify: upload or record audio and see every model's genre prediction side by side."""

import streamlit as st

from core.errors import GenreLabError
from dashboard import figures
from dashboard.classify import UPLOAD_TYPES, analyse, results_table, top_k, upload_key
from dashboard.palette import readable
from dashboard.resources import explanations_for, model_sets, models_for, song_card_for
from dashboard.ui import guard, model_label


def show_explanations(found: dict, analysis: object) -> None:
    """Each model's explanation: its sentence, then its evidence as a chart or a list."""
    names = [n for n in found if n != "ensemble"] + (["ensemble"] if "ensemble" in found else [])
    for name in names:
        for ex in found[name]:
            st.markdown(f"**{model_label(name)}** · {readable(ex.summary, found)}")
            if ex.kind == "features":
                st.plotly_chart(figures.feature_pushes(
                    ex.items, genre=ex.genre,
                    title=f"{model_label(name)}: what pushed it towards {ex.genre}"),
                    theme="streamlit", key=f"explain_{name}_features")
            elif ex.kind == "regions":
                fig = figures.spectrogram(analysis.spectrogram, sr=analysis.sr,  # type: ignore[attr-defined]
                                          hop_length=analysis.spectrogram_hop,  # type: ignore[attr-defined]
                                          title=f"{model_label(name)} heard {ex.genre}")
                st.plotly_chart(figures.occlusion_regions(fig, ex.items), theme="streamlit",
                                key=f"explain_{name}_regions")
            elif ex.kind == "contributions" and ex.items:
                st.plotly_chart(figures.contributions(ex.items, genre=ex.genre,
                                                      runner_up=ex.items[0]["runner_up"]),
                                theme="streamlit", key="explain_ensemble")
                stacked = analysis.prediction.ensemble_method == "stacked"  # type: ignore[attr-defined]
                st.caption("Bars to the right pushed the ensemble towards its answer, bars to "
                           "the left towards the runner-up; their sum is how far apart the two "
                           "are (" + ("weights learnt on songs no model trained on" if stacked
                                      else "a geometric mean: every model weighs alike") + ").")


st.title("Classify a song")
limit_mb = st.get_option("server.maxUploadSize")
# A page switch drops the uploader's files (Streamlit forgets widgets it did not draw); the
# songs are kept in the session, so coming back shows them again. The widget's key is absent
# only after such a switch: an emptied uploader still has its (empty) state.
came_back = "uploads" not in st.session_state and "recording" not in st.session_state
uploads = st.file_uploader(
    f"Upload songs ({', '.join(UPLOAD_TYPES)}; up to {limit_mb} MB each)",
    type=UPLOAD_TYPES, accept_multiple_files=True, key="uploads")
recording = st.audio_input("...or record a clip with your microphone", key="recording")

# The uploader is drawn first: a cold server takes a while to load the models.
model_set = model_sets()[st.session_state.get("model_set", next(iter(model_sets())))]
loaded = models_for(model_set, st.session_state.get("yamnet_handle") or None)
for name, message in loaded.errors.items():
    st.warning(f"**{model_label(name)}** is unavailable: {message}")
if loaded.genre_note:
    st.warning(loaded.genre_note[:1].upper() + loaded.genre_note[1:])
for name, model in loaded.models.items():
    for message in model.warnings_:
        st.warning(f"**{model_label(name)}**: {message}")
if not loaded.models:
    st.error("No model could be loaded. Train one on the Train page or pick another model set.")
    st.stop()

items = []
kept = st.session_state.setdefault("classify_files", [])
for upload in uploads or []:
    if upload.size > limit_mb * 1024 * 1024:
        st.error(f"{upload.name}: {upload.size / 1e6:.0f} MB is over the upload limit of "
                 f"{limit_mb} MB; trim the file or convert it to mp3.")
    else:
        items.append((upload.name, upload.getvalue()))
if recording is not None:
    items.append(("recording.wav", recording.getvalue()))
if items or not came_back:
    st.session_state["classify_files"] = items
elif kept:
    items = list(kept)
    c1, c2 = st.columns([4, 1])
    c1.caption(f"Showing the {len(items)} song{'s' if len(items) != 1 else ''} you added before "
               f"({', '.join(n for n, _ in items)}); upload again to replace them.")
    if c2.button("Clear songs", key="classify_clear"):
        st.session_state["classify_files"] = []
        st.rerun()
if not items:
    st.info("Upload one or more songs to see how each model hears them. Every model predicts "
            "3-second (mel-CNN, YAMNet) or 30-second (MFCC-MLP) segments; a song's genre is the "
            "mean of its segments' probabilities.")
    st.stop()

results = st.session_state.setdefault("analyses", {})
analyses = []
failed = 0
progress = st.progress(0.0, text="Classifying...") if len(items) > 1 else None
for i, (name, data) in enumerate(items):
    key = f"{model_set}|{st.session_state.get('yamnet_handle')}|{upload_key(name, data)}"
    if key not in results:
        try:
            with st.spinner(f"Classifying {name}..."):
                results[key] = analyse(loaded.models, name, data, ensemble=loaded.ensemble)
        except GenreLabError as exc:
            message = str(exc)  # audio errors already start with the file's name
            st.error(message if message.startswith(name) else f"{name}: {message}")
            failed += 1
    if key in results:
        analyses.append(results[key])
    if progress is not None:
        text = f"Classified {len(analyses)} of {len(items)}"
        if failed:
            text += f"; {failed} could not be read (listed below)"
        progress.progress((i + 1) / len(items), text=text)
if not analyses:
    st.stop()

table = results_table(analyses)
if len(analyses) > 1:
    st.subheader("Results")
    st.dataframe(table, hide_index=True, width="stretch")
download = table.to_csv(index=False).encode()
st.download_button("Download results as CSV", download, "genrelab_results.csv", "text/csv",
                   help="One row per song: the answer, its confidence, each model's genre.")
if len(analyses) > 1:
    chosen = st.selectbox("Show details for", [a.name for a in analyses], key="detail")
    analysis = next(a for a in analyses if a.name == chosen)
else:
    analysis = analyses[0]

prediction = analysis.prediction
st.subheader(analysis.name)
st.audio(analysis.data)
for note in prediction.notes:
    st.warning(note)
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
            if p.extras.get("zero_shot") is not None:
                zero, zero_p = top_k(p.genres, p.extras["zero_shot"], 1)[0]
                unmapped = p.extras.get("zero_shot_unmapped") or []
                st.caption(f"Zero-shot, from its own genre classes: {zero} {zero_p:.0%}"
                           + (f" (no class for {', '.join(unmapped)})" if unmapped else ""))
            n = len(p.segment_proba)
            st.caption(f"Answered from {n} window{'s' if n != 1 else ''} of the song; took "
                       f"{p.seconds:.2f} s")
    # the set's models that gave no answer: not loaded, or failed on this file
    silent = sorted((set(loaded.errors) - {"ensemble"}) | set(prediction.errors))
    if prediction.ensemble is not None:
        with columns[-1]:
            st.metric("Ensemble", "Uncertain" if prediction.uncertain else prediction.ensemble_genre)
            if prediction.ensemble_method == "stacked":
                st.caption(f"calibrated confidence {prediction.confidence:.0%} (weights and "
                           "temperatures learnt on songs no model trained on)")
            else:  # nothing calibrated it: say why
                members = loaded.ensemble.folders if loaded.ensemble is not None else []
                missing = [n for n in silent if n in members]
                why = (f"{', '.join(model_label(n) for n in missing)} did not answer" if missing
                       else "its fitted ensemble could not be used (see above)"
                       if "ensemble" in loaded.errors else "this model set has no fitted ensemble")
                st.caption(f"confidence {prediction.confidence:.0%}, not calibrated: a geometric "
                           f"mean of the models' answers ({why})")
            if prediction.uncertain:
                st.warning(prediction.verdict.capitalize()
                           + (f"; below the {prediction.threshold:.0%} at which its answers were "
                              "more often right than wrong on validation songs"
                              if prediction.confidence < prediction.threshold else ""))
            if prediction.agree and silent:
                n = len(prediction.models)
                st.success(f"The {n} model{'s' if n != 1 else ''} that answered agree")
            elif prediction.agree:
                st.success("All models agree")
            else:
                st.warning("The models disagree")
    probabilities = {model_label(n): dict(zip(p.genres, p.proba, strict=True))
                     for n, p in prediction.models.items()}
    if prediction.ensemble is not None:
        probabilities["Ensemble"] = dict(zip(prediction.genres, prediction.ensemble, strict=True))
    st.plotly_chart(figures.model_probabilities(probabilities, top_k=5), theme="streamlit")

st.subheader("Why this genre")
explain_key = f"{model_set}|{st.session_state.get('yamnet_handle')}|{analysis.key}"
explained = st.session_state.setdefault("explanations", {})
if explain_key not in explained:
    st.caption("Which sounds, regions of the spectrogram and tags drove each model, and how "
               "much each model moved the ensemble. Takes a few seconds.")
    if st.button("Explain the answers", key="classify_explain", icon=":material/lightbulb:"):
        with guard("Explaining the answers"), st.spinner("Explaining..."):
            explained[explain_key] = explanations_for(explain_key, loaded.models, analysis,
                                                      loaded.ensemble)
        st.rerun()  # draw the page again without the button
if explain_key in explained:
    with guard("Showing the explanations"):
        show_explanations(explained[explain_key], analysis)

with guard("Making the song card"):
    card_name = analysis.name.rsplit(".", 1)[0] + "-genrelab"
    set_name = st.session_state.get("model_set", "")
    c1, c2, c3 = st.columns([1, 1, 3])
    c1.download_button("Song card (PNG)", lambda: song_card_for(explain_key, analysis, set_name,
                                                                explained.get(explain_key), "png",
                                                                explain_key in explained),
                       f"{card_name}.png", "image/png", key="classify_card_png")
    c2.download_button("Song card (PDF)", lambda: song_card_for(explain_key, analysis, set_name,
                                                                explained.get(explain_key), "pdf",
                                                                explain_key in explained),
                       f"{card_name}.pdf", "application/pdf", key="classify_card_pdf")
    c3.caption("One page to hand on: every model's answer, the probabilities, the genres along "
               "the song and, once computed, the explanations.")

with guard("Drawing the audio"):
    left, right = st.columns(2)
    left.plotly_chart(figures.waveform(analysis.y, analysis.sr), theme="streamlit")
    right.plotly_chart(figures.spectrogram(analysis.spectrogram, sr=analysis.sr,
                                           hop_length=analysis.spectrogram_hop),
                       theme="streamlit")

st.subheader("Along the song")
with guard("Drawing the timelines"):
    # The models with the finest segments first: a 30-s window model is one flat stripe
    along = sorted(prediction.models.items(), key=lambda item: -len(item[1].segment_proba))
    tabs = st.tabs([model_label(n) for n, _ in along])
    for tab, (name, p) in zip(tabs, along, strict=True):
        with tab:
            st.plotly_chart(figures.timeline(p.segment_proba, p.segment_times, p.genres,
                                             title=f"{model_label(name)}: genre per segment"),
                            theme="streamlit")
