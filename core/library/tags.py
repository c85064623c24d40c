"""Write genres into the files' own tags with mutagen, and put the old values back.

Fields written (only with ``--write-tags``):

=============  ==================  =======================================================
container      genre               confidence comment (``--comment``)
=============  ==================  =======================================================
mp3 (ID3v2)    ``TCON``            ``COMM`` with description ``GenreLab`` (the user's own
                                   comment, with an empty description, is left alone)
flac, ogg      Vorbis ``GENRE``    Vorbis ``GENRELAB``
m4a, mp4       ``©gen``            freeform ``----:org.genrelab:comment``
=============  ==================  =======================================================

wav, aiff and au files carry no standard genre tag and are left alone (counted as skipped).
GenreLab decodes no m4a (libsndfile reads no AAC), so a library tag run never reaches one; the
MP4 fields are written only for files given to :func:`write_changes` directly.

Safety: tags are written into a copy beside the file; the copy replaces the file (one rename)
only after its audio data (:func:`core.library.payload.audio_payload`: MPEG frames between the
tags, FLAC frames after the metadata blocks, every Ogg packet but the comment header) is
checked to be byte for byte the original's. A crash leaves the old file or the new one, never half of either.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.atomic import temporary_prefix
from core.errors import LibraryError
from core.library.payload import audio_payload

__all__ = ["COMMENT_FIELDS", "GENRE_FIELDS", "TagChange", "genre_tag_value",
           "plan_changes", "read_fields", "tag_format", "write_changes"]

#: Container -> the field a genre goes into.
GENRE_FIELDS = {"id3": "TCON", "vorbis": "GENRE", "mp4": "\xa9gen"}
#: Container -> the field the confidence comment goes into.
COMMENT_FIELDS = {"id3": "COMM:GenreLab:eng", "vorbis": "GENRELAB",
                  "mp4": "----:org.genrelab:comment"}
_FORMATS = {".mp3": "id3", ".flac": "vorbis", ".ogg": "vorbis", ".oga": "vorbis",
            ".opus": "vorbis", ".m4a": "mp4", ".mp4": "mp4", ".m4b": "mp4"}
#: How genres of the bundled (GTZAN) set are spelled in tags.
_SPELLING = {"hiphop": "Hip-Hop"}


@dataclass(frozen=True)
class TagChange:
    """One field of one file: its value before and after (None: the field is absent)."""

    path: str
    tag_format: str
    field: str
    old: tuple[str, ...] | None
    new: tuple[str, ...] | None

    def describe(self) -> str:
        def show(value: tuple[str, ...] | None) -> str:
            return "(none)" if value is None else " / ".join(repr(v) for v in value)

        return f"{self.path}: {self.field} {show(self.old)} -> {show(self.new)}"


def tag_format(path: str | os.PathLike[str]) -> str | None:
    """``id3``, ``vorbis`` or ``mp4`` by the file's extension; None where no genre tag exists."""
    return _FORMATS.get(Path(path).suffix.lower())


def genre_tag_value(genre: str) -> str:
    """How a model's genre label is written into a tag: ``rock`` -> ``Rock``,
    ``hiphop`` -> ``Hip-Hop``; a label with capitals is kept as it is."""
    if genre in _SPELLING:
        return _SPELLING[genre]
    return genre.title() if genre == genre.lower() else genre


# ---------------------------------------------------------------- reading and writing fields
def _open(path: str, fmt: str) -> Any:
    """The mutagen object whose ``tags`` hold the fields (created empty when absent)."""
    import mutagen
    from mutagen.id3 import ID3, ID3NoHeaderError

    try:
        if fmt == "id3":
            try:
                return ID3(path)
            except ID3NoHeaderError:
                return ID3()
        handle = mutagen.File(path)
    except mutagen.MutagenError as exc:
        raise LibraryError(f"{path}: cannot read its tags ({exc})") from None
    if handle is None:
        raise LibraryError(f"{path}: mutagen does not recognise the file")
    if handle.tags is None:
        handle.add_tags()
    return handle


def _get(obj: Any, fmt: str, field: str) -> tuple[str, ...] | None:
    if fmt == "id3":
        frames = obj.getall(field)
        return tuple(str(t) for f in frames for t in f.text) if frames else None
    tags = obj.tags
    if fmt == "vorbis":
        values = tags.get(field)
        return tuple(str(v) for v in values) if values else None
    values = tags.get(field)
    if not values:
        return None
    return tuple(v.decode("utf-8", "replace") if isinstance(v, bytes | bytearray) else str(v)
                 for v in values)


def _set(obj: Any, fmt: str, field: str, value: tuple[str, ...] | None) -> None:
    if fmt == "id3":
        from mutagen.id3 import COMM, TCON

        obj.delall(field)
        if value is not None:
            if field == "TCON":
                obj.add(TCON(encoding=3, text=list(value)))
            else:
                _, desc, lang = field.split(":")
                obj.add(COMM(encoding=3, lang=lang, desc=desc, text=list(value)))
        return
    tags = obj.tags
    if value is None:
        if field in tags:
            del tags[field]
        return
    if fmt == "mp4" and field.startswith("----"):
        from mutagen.mp4 import MP4FreeForm

        tags[field] = [MP4FreeForm(v.encode("utf-8")) for v in value]
    else:
        tags[field] = list(value)


def _save(obj: Any, fmt: str, path: str) -> None:
    if fmt == "id3":
        if not obj.keys():  # nothing left (an undo of a file that had no tag): no empty tag
            from mutagen.id3 import delete

            delete(path, delete_v1=False, delete_v2=True)
            return
        # Keep an ID3v2.4 tag at 2.4; write new and older tags as 2.3, which every player reads.
        version = 4 if getattr(obj, "filename", None) and obj.version[1] == 4 else 3
        obj.save(path, v2_version=version)
    else:
        obj.save(path)


def _required_format(path: str | os.PathLike[str]) -> str:
    """The tag format of ``path``; LibraryError when its kind of file has no genre tag."""
    fmt = tag_format(path)
    if fmt is None:
        raise LibraryError(f"{path}: no genre tag in {Path(path).suffix or 'this'} files")
    return fmt


def read_fields(path: str | os.PathLike[str], fields: Sequence[str]) -> dict[str, tuple[str, ...] | None]:
    """Current values of tag fields of one file (None: absent).

    Raises
    ------
    LibraryError
        The file has no genre tag format, or its tags cannot be read.
    """
    fmt = _required_format(path)
    obj = _open(str(path), fmt)
    return {field: _get(obj, fmt, field) for field in fields}


def plan_changes(path: str | os.PathLike[str], genre: str, *, comment: str | None = None
                 ) -> list[TagChange]:
    """The field changes that would write ``genre`` (and ``comment``) into ``path``; fields
    that already hold the value are left out (so a second run changes nothing).

    Raises
    ------
    LibraryError
        The file has no genre tag format, or its tags cannot be read.
    """
    fmt = _required_format(path)
    wanted = {GENRE_FIELDS[fmt]: (genre_tag_value(genre),)}
    if comment is not None:
        wanted[COMMENT_FIELDS[fmt]] = (comment,)
    current = read_fields(path, list(wanted))
    return [TagChange(str(path), fmt, field, current[field], value)
            for field, value in wanted.items() if current[field] != value]


def write_changes(path: str | os.PathLike[str],
                  values: dict[str, tuple[str, ...] | None]) -> None:
    """Set (or, with None, remove) tag fields of one file, leaving its audio data untouched.

    Raises
    ------
    LibraryError
        The tags cannot be written, or writing them would change the audio data (the file is
        then left exactly as it was).
    """
    import mutagen

    path = str(path)
    fmt = _required_format(path)
    folder = os.path.dirname(os.path.abspath(path))
    tmp = None
    try:  # the copy is the same kind of file; a name near the limit gets a shorter copy's name
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=temporary_prefix(os.path.basename(path)),
                                   suffix=f".tagging{Path(path).suffix[:16]}")
        os.close(fd)
        shutil.copy2(path, tmp)
        obj = _open(tmp, fmt)
        for field, value in values.items():
            _set(obj, fmt, field, value)
        _save(obj, fmt, tmp)
        if audio_payload(tmp) != audio_payload(path):
            raise LibraryError(f"{path}: writing tags would have changed its audio data; the "
                               "file was left as it was")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except LibraryError:
        raise
    except (mutagen.MutagenError, OSError) as exc:
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise LibraryError(f"{path}: cannot write its tags ({detail})") from None
    except Exception as exc:  # one odd file must never stop a run over a whole library
        raise LibraryError(f"{path}: cannot write its tags ({type(exc).__name__}: {exc})"
                           ) from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
