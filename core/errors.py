"""GenreLab's exception tree.

Every error a user can cause derives from :class:`GenreLabError`, so the CLI and the dashboard can
catch one type and show its message instead of a traceback.
"""

from __future__ import annotations


class GenreLabError(Exception):
    """Root of every error GenreLab raises on purpose."""


class ParameterError(GenreLabError, ValueError):
    """A parameter has an invalid value (the message names the parameter and the value)."""


class UsageError(ParameterError):
    """Command-line arguments that cannot go together or cannot be used as given (the CLI
    exits with code 2, as for arguments its parser refuses)."""


class AudioError(GenreLabError):
    """Audio could not be used: not audio, corrupt, empty, silent, too short or too long.

    Parameters
    ----------
    message : str
        What is wrong, in words a user understands.
    reason : str
        A short machine-readable tag: ``"not-audio"``, ``"corrupt"``, ``"empty"``, ``"silent"``,
        ``"too-short"``, ``"too-long"``, ``"non-finite"``, ``"unsupported"``, ``"missing"``.
    """

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class DatasetError(GenreLabError):
    """A dataset folder or table is missing, empty or laid out differently than declared."""


class ModelError(GenreLabError):
    """A model is missing, corrupt, incompatible with the data, or could not be loaded."""


class LibraryError(GenreLabError):
    """A library cannot be tagged as asked: a missing folder, a tagging database that is busy,
    unreadable or of another version, or tags that cannot be written or undone."""
