"""Train: pick a dataset, models and a split; training runs in the background with progress."""

import time
from pathlib import Path

import streamlit as st

from core.datasets import LAYOUTS
from core.splits import SPLIT_STRATEGIES
from dashboard.resources import runs_dir
from dashboard.training import TrainingJob
from dashboard.ui import model_label

st.title("Train")
st.caption("Models train in the background: other people keep classifying meanwhile. New model "
           "sets appear in the sidebar's model list and on the Compare page.")
shared = Path(__file__).resolve().parents[2] / "shared" / "data" / "gtzan" / "excerpts"
job: TrainingJob | None = st.session_state.get("train_job")

with st.form("train_form"):
    c1, c2 = st.columns([3, 1])
    data = c1.text_input("Dataset folder or feature table",
                         value=str(shared) if shared.is_dir() else "",
                         placeholder="/data/my-music (one folder per genre)", key="train_data")
    layout = c2.selectbox("Layout", list(LAYOUTS), index=0 if shared.is_dir() else 2,
                          key="train_layout")
    families = st.multiselect("Models", ["mlp", "cnn", "yamnet"], default=["mlp", "cnn"],
                              format_func=model_label, key="train_models")
    c3, c4, c6, c5 = st.columns([2, 2, 2, 3])
    split = c3.selectbox("Split", list(SPLIT_STRATEGIES), index=list(SPLIT_STRATEGIES).index("kfold"),
                         help="; ".join(f"{k}: {v}" for k, v in SPLIT_STRATEGIES.items()))
    epochs = c4.number_input("Max epochs (0 = default)", 0, 1000, 0, key="train_epochs",
                             help="Early stopping on validation tracks usually ends sooner. "
                                  "0 keeps each model's default.")
    members = c6.number_input("Seeds averaged (0 = default)", 0, 10, 0,
                              help="Networks trained with consecutive seeds and averaged into "
                                   "each model (default: MLP 5, CNN 3, YAMNet 3). 1 trains "
                                   "fastest; more are steadier.", key="train_members")
    name = c5.text_input("Name of the model set", value=time.strftime("run-%Y%m%d-%H%M%S"),
                         key="train_name")
    submitted = st.form_submit_button("Start training", disabled=bool(job and job.running))

if submitted:
    safe = "".join(ch for ch in name if ch.isalnum() or ch in "-_") or "run"
    if not data:
        st.error("Enter a dataset folder or feature table.")
    elif not families:
        st.error("Pick at least one model.")
    else:
        job = TrainingJob(data=data, layout=layout, families=list(families), split=split,
                          out=runs_dir() / safe, epochs=int(epochs) or None,
                          members=int(members) or None,
                          yamnet_handle=st.session_state.get("yamnet_handle") or None).start()
        st.session_state["train_job"] = job


@st.fragment(run_every=1.0 if job is not None and job.running else None)
def show_progress() -> None:
    current: TrainingJob | None = st.session_state.get("train_job")
    if current is None:
        st.info("Nothing is training. Fill in the form and start.")
        return
    st.subheader(f"Model set {current.out.name}")
    for family in current.families:
        fraction = current.progress.get(family, 0.0)
        st.progress(fraction, text=f"{model_label(family)}: "
                    f"{current.messages.get(family, 'waiting')}")
        if family in current.results:
            (st.error if current.results[family].startswith("failed") else st.success)(
                f"{model_label(family)}: {current.results[family]}")
    if "ensemble" in current.results:
        (st.info if current.results["ensemble"].startswith("note") else st.success)(
            f"Ensemble: {current.results['ensemble']}")
    if current.error:
        st.error(f"Training failed: {current.error}")
    if current.running:
        st.caption(f"Running for {time.time() - current.started:.0f} s...")
    elif current.finished and st.session_state.get("train_job_shown") != current.out.name:
        st.session_state["train_job_shown"] = current.out.name
        st.rerun()


show_progress()
