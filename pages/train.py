"""Train: pick a dataset, models and a split; training runs in the background with progress."""

import time
from pathlib import Path

import streamlit as st

from core.datasets import LAYOUTS
from core.models import FAMILIES
from core.registry import list_models
from core.splits import SPLIT_STRATEGIES
from dashboard.resources import model_sets, runs_dir
from dashboard.training import TrainingJob, weights_error
from dashboard.ui import model_label

st.title("Train")
st.caption("Models train in the background: other people keep classifying meanwhile. New model "
           "sets appear in the sidebar's model list and on the Compare page.")
shared = Path(__file__).resolve().parents[2] / "shared" / "data" / "gtzan" / "excerpts"
job: TrainingJob | None = st.session_state.get("train_job")

# Defaults set once per session: the form keeps what was typed, across page switches too
# (dashboard.ui.keep_widget_state).
for key, default in {"train_data": str(shared) if shared.is_dir() else "",
                     "train_layout": list(LAYOUTS)[0 if shared.is_dir() else 2],
                     "train_models": ["mlp", "cnn"], "train_split": "kfold", "train_epochs": 0,
                     "train_members": 0, "train_vgg_weights": "", "train_fine_tune": False,
                     "train_recordings": False,
                     "train_name": time.strftime("run-%Y%m%d-%H%M%S")}.items():
    st.session_state.setdefault(key, default)
if job is not None and not job.running and st.session_state["train_name"] == job.out.name:
    st.session_state["train_name"] = time.strftime("run-%Y%m%d-%H%M%S")  # don't overwrite it

# Not an st.form: a form's values reach the session only when submitted, so whatever was
# typed before a visit to another page would be lost.
with st.container(border=True):
    c1, c2 = st.columns([3, 1])
    data = c1.text_input("Dataset folder or feature table",
                         placeholder="/data/my-music (one folder per genre)", key="train_data")
    layout = c2.selectbox("Layout", list(LAYOUTS), key="train_layout")
    families = st.multiselect("Models", list(FAMILIES), format_func=model_label,
                              key="train_models")
    vgg_weights = ""
    if "vgg" in families:
        vgg_weights = st.text_input(
            "VGG transfer: ImageNet weights file (optional)", key="train_vgg_weights",
            placeholder="/data/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
            help="Empty: the shipped MSD VGG (from the musicnn package). A local "
                 "keras.applications VGG16 or ResNet50 weights file (include_top=False) trains "
                 "the ImageNet variant the research used; nothing is downloaded.").strip()
    fine_tune = False
    if "cnn" in families:
        fine_tune = st.checkbox(
            "mel-CNN: fine-tune musicnn's back-end", key="train_fine_tune",
            help="Off: a linear probe on the frozen pretrained network (seconds). On: musicnn's "
                 "top dense layers train with the genre layer, from the pretrained weights and "
                 "kept near them (L2-SP), three seeds averaged (about 30 s on 400 clips once "
                 "their musicnn features are computed and cached).")
    recordings = st.checkbox(
        "Also train on re-recorded copies (mp3, brighter and duller EQ, loud mastering)",
        key="train_recordings",
        help="Each training file is also re-recorded four ways and learnt from, so answers "
             "depend less on how a song was recorded, as in the bundled models. Audio folders "
             "only; training takes about five times as long, and the copies (four times the "
             "training audio) sit in a temporary folder while it runs.")
    c3, c4, c6, c5 = st.columns([2, 2, 2, 3])
    split = c3.selectbox("Split", list(SPLIT_STRATEGIES), key="train_split",
                         help="; ".join(f"{k}: {v}" for k, v in SPLIT_STRATEGIES.items()))
    epochs = c4.number_input("Max epochs (0 = default)", 0, 1000, key="train_epochs",
                             help="Early stopping on validation tracks usually ends sooner. "
                                  "0 keeps each model's default.")
    members = c6.number_input("Seeds averaged (0 = default)", 0, 10,
                              help="Networks trained with consecutive seeds and averaged into "
                                   "each model (default: MLP 5, fine-tuned or from-scratch CNN "
                                   "3, MFCC-CNN 3, others 1). 1 trains fastest; more are steadier.",
                              key="train_members")
    name = c5.text_input("Name of the model set", key="train_name")
    submitted = st.button("Start training", type="primary", key="train_start",
                          disabled=bool(job and job.running))

safe = "".join(ch for ch in name if ch.isalnum() or ch in "-_") or "run"
if safe != name:
    c5.caption(f"Saved as **{safe}** (letters, digits, - and _ only).")
if submitted:
    if not data:
        st.error("Enter a dataset folder or feature table.")
    elif not Path(data).expanduser().exists():  # said now, not after the job has started
        st.error(f"Nothing is at {data}: give the folder of your collection (one folder per "
                 "genre) or a feature table's file.")
    elif existing := list_models(runs_dir() / safe):
        st.error(f"A model set named {safe} exists already ("
                 + ", ".join(model_label(p.name) for p in existing) + "): give this one "
                 "another name, so that one is kept as it is.")
    elif not families:
        st.error("Pick at least one model.")
    elif vgg_weights and (weights_problem := weights_error(vgg_weights)):
        st.error(weights_problem)
    elif layout == "features-csv" and recordings:
        st.error("Re-recorded copies are made from audio: a feature table has none. Untick "
                 "the re-recording option, or give a folder of audio files.")
    elif layout == "features-csv" and (audio_only := [f for f in families
                                                      if FAMILIES[f].needs_audio]):
        st.error("A feature table holds the 57 summary features, not audio: only "
                 + ", ".join(model_label(f) for f in FAMILIES if not FAMILIES[f].needs_audio)
                 + " can train on it. Remove " + " and ".join(model_label(f) for f in audio_only)
                 + ", or give a folder of audio files with another layout.")
    else:
        job = TrainingJob(data=data, layout=layout, families=list(families), split=split,
                          out=runs_dir() / safe, epochs=int(epochs) or None,
                          members=int(members) or None, weights=vgg_weights or None,
                          fine_tune=fine_tune, recordings=recordings,
                          yamnet_handle=st.session_state.get("yamnet_handle") or None).start()
        st.session_state["train_job"] = job


@st.fragment(run_every=1.0 if job is not None and job.running else None)
def show_progress() -> None:
    current: TrainingJob | None = st.session_state.get("train_job")
    if current is None:
        st.info("Nothing is training. Fill in the form and start.")
        return
    st.subheader(f"Model set {current.out.name}")
    for note in current.notes:
        st.warning(note[:1].upper() + note[1:])
    for family in current.families:
        if current.error and family not in current.results:  # the run stopped before it
            st.caption(f"{model_label(family)}: not trained")
            continue
        fraction = current.progress.get(family, 0.0)
        message = current.messages.get(family, f"{model_label(family)}: waiting")
        left = current.estimate(family)
        if left is not None:
            message += f" · about {left:.0f} s left" if left < 120 else f" · about {left / 60:.0f} min left"
        st.progress(fraction, text=message)  # messages already start with the model's name
        if family in current.results:
            (st.error if current.results[family].startswith("failed") else st.success)(
                f"{model_label(family)}: {current.results[family]}")
    if "ensemble" in current.results:
        (st.info if current.results["ensemble"].startswith("note") else st.success)(
            f"Ensemble: {current.results['ensemble']}")
    if current.error:
        st.error(f"Training failed: {current.error}")
    if current.running:
        c1, c2 = st.columns([4, 1])
        c1.caption(f"Running for {time.time() - current.started:.0f} s"
                   + (" (cancelling at the next epoch...)" if current.cancelled else "..."))
        c2.button("Cancel training", key="train_cancel", on_click=current.cancel,
                  disabled=current.cancelled)
    elif current.finished and st.session_state.get("train_job_shown") != current.out.name:
        st.session_state["train_job_shown"] = current.out.name
        st.rerun()


def _use_set(name: str) -> None:
    st.session_state["model_set"] = name


show_progress()
finished: TrainingJob | None = st.session_state.get("train_job")
if (finished is not None and not finished.running and finished.finished
        and finished.out.name in model_sets()):
    st.success(f"Model set **{finished.out.name}** is saved in {finished.out}.")
    c1, c2, c3 = st.columns(3)
    if c1.button("Compare its models", key="train_open_compare", on_click=_use_set,
                 args=(finished.out.name,)):
        st.switch_page("../pages/compare.py")
    if c2.button("Classify with it", key="train_open_classify", on_click=_use_set,
                 args=(finished.out.name,)):
        st.switch_page("../pages/classify.py")
    c3.caption("Both also select it in the sidebar's model list.")
