"""People's answers: the review queue, and a training manifest made of what they confirmed.

The queue puts first the songs where a person's minute is worth most: the ensemble is unsure
*and* the models disagree, then either of the two, then the rest, least confident first. Each
song (content) appears once, however many copies the library holds.

:func:`export_manifest` writes the reviewed songs as a manifest CSV (``path,label,track_id,
artist``) that ``python -m core train --layout manifest`` reads, so the next model set learns
from the corrections. Copies of one song are one row (one track), so they can never sit on both
sides of a split.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from core.atomic import write_text_atomic
from core.errors import LibraryError

__all__ = ["MANIFEST_FIELDS", "export_manifest", "manifest_rows", "needs_review", "review_queue",
           "review_share"]

MANIFEST_FIELDS = ("path", "label", "track_id", "artist", "source", "confidence")


def _flag(series: pd.Series, default: bool) -> pd.Series:
    return series.astype("boolean").fillna(default).astype(bool)


def needs_review(frame: pd.DataFrame) -> pd.Series:
    """Whether each tagged row is uncertain or its models disagree (boolean per row)."""
    return _flag(frame["uncertain"], False) | ~_flag(frame["agree"], True)


def _tagged(frame: pd.DataFrame) -> pd.DataFrame:
    ok = frame["genre"].notna() & frame["error_reason"].isna()
    return frame[ok].drop_duplicates("content_hash")


def review_share(frame: pd.DataFrame) -> float:
    """Share of tagged songs (distinct contents) that need a person: uncertain or disagreeing."""
    tagged = _tagged(frame)
    return float(needs_review(tagged).mean()) if len(tagged) else 0.0


def review_queue(frame: pd.DataFrame, *, include_reviewed: bool = False) -> pd.DataFrame:
    """Tagged songs in review order: unsure and disagreeing first, then unsure or disagreeing,
    then the rest; least confident first within each. Reviewed songs are left out unless
    ``include_reviewed``.

    Parameters
    ----------
    frame : pd.DataFrame
        The ``library`` view (:meth:`core.library.store.TagStore.library`).

    Returns
    -------
    pd.DataFrame
        The same columns plus ``priority`` (2: both, 1: one of the two, 0: neither).
    """
    tagged = _tagged(frame)
    if not include_reviewed:
        tagged = tagged[tagged["reviewed_genre"].isna()]
    uncertain = _flag(tagged["uncertain"], False)
    disagree = ~_flag(tagged["agree"], True)
    queue = tagged.assign(priority=uncertain.astype(int) + disagree.astype(int))
    return queue.sort_values(["priority", "confidence", "path"], ascending=[False, True, True],
                             kind="stable").reset_index(drop=True)


def manifest_rows(frame: pd.DataFrame, *, include_confident: bool = False,
                  min_confidence: float = 0.0) -> pd.DataFrame:
    """The manifest's rows: every reviewed song with the person's genre, and, with
    ``include_confident``, songs whose models agree and whose ensemble is sure (at least
    ``min_confidence``) with the ensemble's genre (``source`` says which)."""
    songs = frame.drop_duplicates("content_hash")
    reviewed = songs[songs["reviewed_genre"].notna()]
    parts = [pd.DataFrame({"path": reviewed["path"], "label": reviewed["reviewed_genre"],
                           "track_id": reviewed["content_hash"].str[:16], "artist": "",
                           "source": "person:" + reviewed["review_action"].astype(str),
                           "confidence": np.nan})]
    if include_confident:
        tagged = _tagged(songs)
        tagged = tagged[tagged["reviewed_genre"].isna()]
        sure = tagged[~needs_review(tagged) & (tagged["confidence"] >= min_confidence)]
        parts.append(pd.DataFrame({"path": sure["path"], "label": sure["genre"],
                                   "track_id": sure["content_hash"].str[:16], "artist": "",
                                   "source": "model", "confidence": sure["confidence"]}))
    rows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=MANIFEST_FIELDS)
    return rows[list(MANIFEST_FIELDS)].sort_values("path").reset_index(drop=True)


def export_manifest(frame: pd.DataFrame, target: str | os.PathLike[str], *,
                    include_confident: bool = False, min_confidence: float = 0.0) -> pd.DataFrame:
    """Write the training manifest CSV (see :func:`manifest_rows`) atomically; returns it.

    Raises
    ------
    LibraryError
        Nothing to export (no song reviewed, and no confident ones asked for).
    """
    rows = manifest_rows(frame, include_confident=include_confident,
                         min_confidence=min_confidence)
    if rows.empty:
        raise LibraryError("nothing to export yet: confirm or correct some songs in the review "
                           "queue first" + ("" if include_confident else
                                            ", or include the confident answers"))
    write_text_atomic(target, rows.to_csv(index=False))
    return rows
