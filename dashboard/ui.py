"""Small Streamlit helpers shared by the pages."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import streamlit as st

from core.errors import GenreLabError

log = logging.getLogger("genrelab.dashboard")


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
    return {"mlp": "MFCC-MLP", "cnn": "mel-CNN", "yamnet": "YAMNet"}.get(name, name)
