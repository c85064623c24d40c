"""The audio part of a file, without its tags: what identifies a song in a tagging database.

A song's ``content_hash`` is the sha256 of its audio data, so editing its tags (in GenreLab
or in any tag editor) keeps its identity and its predictions:

- mp3: the bytes between the ID3v2 tag(s) (and their zero padding) and an APEv2 / ID3v1 tag at
  the end;
- flac: the frames after the metadata blocks (and any ID3v2 tag before them);
- ogg (Vorbis, Opus, FLAC in Ogg): every packet but packet 1, the comment header (the pages
  around the packets may be renumbered when a tag writer grows the header);
- mp4 / m4a: the ``mdat`` boxes;
- anything else (wav, aiff, au): the whole file.

A file whose structure cannot be parsed (a corrupt one) is hashed whole: it gets an identity
all the same, and the decoder says later why it cannot be tagged.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = ["audio_digest", "audio_payload", "audio_span"]

_BLOCK = 1 << 20
_OGG = {".ogg", ".oga", ".opus"}


class _Unparsable(Exception):
    pass


def _id3v2_end(fh: BinaryIO, start: int = 0) -> int:
    """Offset just after any ID3v2 tags starting at ``start``."""
    while True:
        fh.seek(start)
        head = fh.read(10)
        if len(head) < 10 or head[:3] != b"ID3":
            return start
        size = 0
        for byte in head[6:10]:
            size = (size << 7) | (byte & 0x7F)
        start += 10 + size + (10 if head[5] & 0x10 else 0)


def _mp3_span(fh: BinaryIO, total: int) -> tuple[int, int]:
    start = _id3v2_end(fh)
    end = total
    while True:  # tags at the end, in either order: APEv2 before or after an ID3v1 tag
        if end - start >= 128:
            fh.seek(end - 128)
            if fh.read(3) == b"TAG":
                end -= 128
                continue
        if end - start >= 32:
            fh.seek(end - 32)
            footer = fh.read(32)
            if footer[:8] == b"APETAGEX":
                size, _, flags = struct.unpack("<III", footer[12:24])
                end -= size + (32 if flags & 0x80000000 else 0)
                continue
        break
    fh.seek(start)
    while start < end:  # a tag writer's padding after the tag is zeros; MPEG frames start 0xFF
        chunk = fh.read(min(4096, end - start))
        skipped = len(chunk) - len(chunk.lstrip(b"\0"))
        start += skipped
        if skipped < len(chunk) or not chunk:
            break
    if not 0 <= start <= end:
        raise _Unparsable
    return start, end


def _flac_span(fh: BinaryIO, total: int) -> tuple[int, int]:
    start = _id3v2_end(fh)
    fh.seek(start)
    if fh.read(4) != b"fLaC":
        raise _Unparsable
    pos = start + 4
    while True:
        fh.seek(pos)
        header = fh.read(4)
        if len(header) < 4:
            raise _Unparsable
        pos += 4 + int.from_bytes(header[1:4], "big")
        if header[0] & 0x80:
            if pos > total:
                raise _Unparsable
            return pos, total


def _mp4_spans(fh: BinaryIO, total: int) -> list[tuple[int, int]]:
    spans, pos = [], 0
    while pos + 8 <= total:
        fh.seek(pos)
        size, kind = struct.unpack(">I4s", fh.read(8))
        header = 8
        if size == 1:
            size, header = struct.unpack(">Q", fh.read(8))[0], 16
        elif size == 0:
            size = total - pos
        if size < header:
            raise _Unparsable
        if kind == b"mdat":
            spans.append((pos + header, min(total, pos + size)))
        pos += size
    if not spans:
        raise _Unparsable
    return spans


def audio_span(path: str | os.PathLike[str]) -> list[tuple[int, int]] | None:
    """Byte ranges ``[start, end)`` holding the audio of an mp3, flac or mp4 file; the whole
    file for other non-Ogg formats and for files whose structure cannot be parsed. None for
    Ogg files (their audio is packets, see :func:`audio_payload`)."""
    suffix = Path(path).suffix.lower()
    if suffix in _OGG:
        return None
    total = os.path.getsize(path)
    with open(path, "rb") as fh:
        try:
            if suffix == ".mp3":
                return [_mp3_span(fh, total)]
            if suffix == ".flac":
                return [_flac_span(fh, total)]
            if suffix in (".m4a", ".mp4", ".m4b"):
                return _mp4_spans(fh, total)
        except (_Unparsable, struct.error, OSError):
            pass
    return [(0, total)]


def _ogg_packets(path: str) -> list[bytes] | None:
    from mutagen.ogg import OggPage

    pages = []
    try:
        with open(path, "rb") as fh:
            while True:
                try:
                    pages.append(OggPage(fh))
                except EOFError:
                    break
    except Exception:  # mutagen's error for a page that is not one
        return None
    if not pages:
        return None
    serial = pages[0].serial
    packets = OggPage.to_packets([p for p in pages if p.serial == serial])
    return [p for i, p in enumerate(packets) if i != 1]  # packet 1: the comment header


def _chunks(path: str) -> Iterator[bytes]:
    """The audio data of a file, in blocks."""
    if Path(path).suffix.lower() in _OGG:
        packets = _ogg_packets(path)
        if packets is not None:
            for packet in packets:
                yield struct.pack(">I", len(packet)) + packet
            return
        spans = [(0, os.path.getsize(path))]
    else:
        spans = audio_span(path) or []
    with open(path, "rb") as fh:
        for start, end in spans:
            fh.seek(start)
            left = end - start
            while left > 0:
                block = fh.read(min(_BLOCK, left))
                if not block:
                    break
                left -= len(block)
                yield block


def audio_payload(path: str | os.PathLike[str]) -> bytes:
    """The audio data of a file as bytes (see the module docstring for what that is)."""
    return b"".join(_chunks(str(path)))


def audio_digest(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file's audio data: stays the same when only its tags change.

    Raises
    ------
    OSError
        The file cannot be read.
    """
    digest = hashlib.sha256()
    for block in _chunks(str(path)):
        digest.update(block)
    return digest.hexdigest()
