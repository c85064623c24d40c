"""Find the songs of a library and identify each by its content.

A library is any set of folders (walked recursively) and files. Every file with an extension
GenreLab decodes (:data:`core.config.AUDIO_EXTENSIONS`) is a song to tag; every other file is
counted, never an error. Hidden files and folders (``.DS_Store``, macOS ``._song.mp3`` forks,
``.git``) are left out.

A song's identity is the sha256 of its audio data, tags left out
(:func:`core.library.payload.audio_digest`), so a renamed or moved file keeps its results, a copy
under another name is recognised as the same song, and editing a song's tags does not make it
a new song.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from core.config import AUDIO_EXTENSIONS
from core.errors import LibraryError
from core.library.payload import audio_digest

__all__ = ["FoundFile", "Walk", "content_hash", "hash_files", "walk_library"]


@dataclass(frozen=True)
class FoundFile:
    """One audio file found in a library.

    Attributes
    ----------
    path : str
        Absolute path (symbolic links in folders resolved, so one file has one path).
    size : int
        Size in bytes.
    mtime_ns : int
        Modification time in nanoseconds (with ``size``, tells whether a stored hash is current).
    """

    path: str
    size: int
    mtime_ns: int

    @property
    def format(self) -> str:
        """The extension without its dot, lower case (``mp3``, ``flac``...)."""
        return Path(self.path).suffix.lower().lstrip(".")


@dataclass
class Walk:
    """What a walk over a library found.

    Attributes
    ----------
    roots : list of str
        The absolute folders and files that were walked.
    audio : list of FoundFile
        Audio files, sorted by path.
    other : Counter
        Files that are not audio GenreLab reads, by extension (``""``: none).
    hidden : int
        Hidden files left out.
    unreadable : list of str
        Folders that could not be listed (permissions), with why.
    """

    roots: list[str]
    audio: list[FoundFile] = field(default_factory=list)
    other: Counter[str] = field(default_factory=Counter)
    hidden: int = 0
    unreadable: list[str] = field(default_factory=list)

    @property
    def n_other(self) -> int:
        return sum(self.other.values())


def _is_audio(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in AUDIO_EXTENSIONS


def walk_library(roots: Sequence[str | os.PathLike[str]]) -> Walk:
    """Walk folders recursively (and take files as they are) and sort what is found.

    Parameters
    ----------
    roots : sequence of paths
        Folders and/or files; relative paths are taken from the current folder.

    Returns
    -------
    Walk

    Raises
    ------
    LibraryError
        No roots, or a root that does not exist.
    """
    if not roots:
        raise LibraryError("give at least one folder or file to tag")
    resolved = []
    for root in roots:
        path = Path(root).expanduser()
        if not path.exists():
            raise LibraryError(f"{root}: no such folder or file")
        resolved.append(path.resolve())
    walk = Walk(roots=[str(p) for p in resolved])
    seen: set[str] = set()

    def consider(path: Path) -> None:
        key = str(path)
        if key in seen:
            return
        seen.add(key)
        if not _is_audio(path.name):
            walk.other[path.suffix.lower().lstrip(".")] += 1
            return
        try:
            stat = path.stat()
        except OSError as exc:
            walk.unreadable.append(f"{path}: {exc.strerror or exc}")
            return
        walk.audio.append(FoundFile(key, int(stat.st_size), int(stat.st_mtime_ns)))

    def on_error(exc: OSError) -> None:
        walk.unreadable.append(f"{exc.filename}: {exc.strerror or exc}")

    for root in resolved:
        if root.is_file():
            consider(root)
            continue
        for folder, dirs, files in os.walk(root, onerror=on_error):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            base = Path(folder)
            for name in files:
                if name.startswith("."):
                    walk.hidden += 1
                    continue
                path = base / name
                if path.is_symlink():
                    try:
                        target = path.resolve(strict=True)
                    except (OSError, RuntimeError) as exc:  # gone, or a loop of links
                        if _is_audio(name):  # said, not lost
                            walk.unreadable.append(f"{path}: a link that leads to no file ("
                                                   f"{getattr(exc, 'strerror', None) or exc})")
                        else:
                            walk.other[path.suffix.lower().lstrip(".")] += 1
                        continue
                    path = target
                if path.is_file():
                    consider(path)
    walk.audio.sort(key=lambda f: f.path)
    return walk


def content_hash(path: str | os.PathLike[str]) -> str:
    """The identity of a song in a tagging database: the sha256 of its audio data."""
    return audio_digest(path)


def hash_files(paths: Iterable[str], *, threads: int = 4) -> dict[str, str | OSError]:
    """Content hashes of many files, read by a few threads (hashlib releases the GIL).

    Returns
    -------
    dict of str to str or OSError
        Each path's hash, or the error that stopped it from being read.
    """

    def one(path: str) -> tuple[str, str | OSError]:
        try:
            return path, content_hash(path)
        except OSError as exc:
            return path, exc

    paths = list(paths)
    if len(paths) < 2 or threads <= 1:
        return dict(map(one, paths))
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return dict(pool.map(one, paths))
