"""Cached resources shared by all sessions: loaded models and saved model sets.

``st.cache_resource`` objects are shared across sessions, so what is cached here is read-only
(models predict under a per-model lock, see :class:`core.models.base.GenreModel`).
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from core.predict import BUNDLED_MODELS, ModelSet, load_models, warm_up
from core.registry import list_models

ROOT = Path(__file__).resolve().parents[1]
BUNDLED_NAME = "Bundled defaults"
#: The research's other families, trained on the bundled set's split (tools/build_leaderboard_models.py).
RESEARCH_MODELS = ROOT / "assets" / "leaderboard"
RESEARCH_NAME = "Research families"


def runs_dir() -> Path:
    """Where the Train page saves model sets (``GENRELAB_RUNS_DIR``, else ``runs/``)."""
    return Path(os.environ.get("GENRELAB_RUNS_DIR", ROOT / "runs"))


def model_sets() -> dict[str, Path]:
    """Saved model sets by display name: the bundled defaults, the research families trained on
    the same split (when shipped), then each trained run."""
    sets = {BUNDLED_NAME: BUNDLED_MODELS}
    if list_models(RESEARCH_MODELS):
        sets[RESEARCH_NAME] = RESEARCH_MODELS
    root = runs_dir()
    if root.is_dir():
        for run in sorted(root.iterdir(), reverse=True):
            if run.is_dir() and list_models(run):
                sets[run.name] = run
    return sets


@st.cache_resource(show_spinner="Loading models...")
def get_models(directory: str, yamnet_handle: str | None = None, _version: float = 0.0
               ) -> ModelSet:
    """Models of one folder, loaded once, warmed up and shared (``_version`` busts the cache)."""
    loaded = load_models(directory, yamnet_handle=yamnet_handle)
    warm_up(loaded.models)
    return loaded


def folder_version(directory: Path) -> float:
    """Latest modification time of a model set's models and ensemble (so retrained sets reload)."""
    times = [p.stat().st_mtime for p in [*directory.glob("*/metadata.json"),
                                         *directory.glob("ensemble.json")]]
    return max(times, default=0.0)


def models_for(directory: Path, yamnet_handle: str | None = None) -> ModelSet:
    return get_models(str(directory), yamnet_handle or None, folder_version(directory))


@st.cache_data(show_spinner=False, max_entries=64)
def explanations_for(key: str, _models: dict, _analysis: object, _ensemble: object = None
                     ) -> dict:
    """Explanations of one analysed upload (:func:`core.explain.explain_prediction`), computed
    once per ``key`` (model set, YAMNet handle and the upload's content hash) and shared."""
    from core.explain import explain_prediction

    return explain_prediction(_models, _analysis.prediction, _analysis.y, _analysis.sr,  # type: ignore[attr-defined]
                              ensemble=_ensemble)  # type: ignore[arg-type]


@st.cache_data(show_spinner=False, max_entries=32)
def song_card_for(key: str, _analysis: object, model_set: str, _explanations: dict | None,
                  fmt: str, explained: bool | None = None) -> bytes:
    """The song card of one upload (:func:`dashboard.song_card.song_card`), drawn once per
    upload, model set, format and whether explanations are on it."""
    from dashboard.song_card import song_card

    return song_card(_analysis, model_set=model_set, explanations=_explanations, fmt=fmt)
