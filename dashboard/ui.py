"""Small Streamlit helpers shared by the pages."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import streamlit as st

from core.errors import GenreLabError

log = logging.getLogger("genrelab.dashboard")

#: Widget values kept when the user switches pages and comes back (forms and choices; not
#: buttons, uploads or choices whose options change between visits).
KEPT_WIDGETS = ("train_data", "train_layout", "train_models", "train_split", "train_epochs",
                "train_members", "train_name", "train_vgg_weights", "train_fine_tune",
                "train_recordings",
                "compare_data", "compare_layout", "compare_split",
                "compare_fold", "compare_seed", "compare_level", "compare_normalise",
                "compare_sets", "compare_models",
                "report_currency", "report_songs_per_year", "report_human_seconds",
                "report_human_cost", "report_machine_cost")


def keep_widget_state(keys: tuple[str, ...] = KEPT_WIDGETS) -> None:
    """Keep the values of widgets that another page does not draw (call on every run).

    Streamlit deletes a widget's value at the end of a run that did not draw it; copying the
    value onto itself turns it into ordinary session state, which survives, and the widget
    picks it up again when its page is drawn.
    """
    for key in keys:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


@contextlib.contextmanager
def guard(action: str) -> Iterator[None]:
    """Show any failure inside the block as ``st.error`` (never a traceback); the page goes on.

    GenreLab's own errors are shown as they are; anything unexpected is logged with its
    traceback on the server and summarised for the user.
    """
    try:
        yield
    except GenreLabError as exc:
        st.error(f"{action} failed: {exc}")
    except Exception as exc:  # the page must survive anything
        log.exception("unexpected error while %s", action)
        st.error(f"{action} failed unexpectedly ({type(exc).__name__}: {exc}). The rest of the "
                 "page still works; check the server log for details.")


def model_label(name: str) -> str:
    """A model's display name (see :mod:`dashboard.palette`)."""
    from dashboard.palette import display_name

    return display_name(name)
