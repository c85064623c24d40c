"""Atomic writes (a reader sees the old content or the new, never a half-written file or folder)
and file checksums."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

#: Bytes a file name may have on common file systems (ext4, APFS, NTFS in UTF-16 units).
NAME_MAX = 255


def temporary_prefix(name: str, *, room: int = 40) -> str:
    """``".<name>."``, the name cut short (on a character boundary) so that a temporary file
    or folder named from it, with up to ``room`` more bytes (random part, suffix), still fits
    in :data:`NAME_MAX` bytes: a target whose own name is near the limit gets a shorter
    temporary name instead of "File name too long"."""
    encoded = name.encode("utf-8", "surrogateescape")[:max(1, NAME_MAX - room - 2)]
    return f".{encoded.decode('utf-8', 'ignore') or '_'}."


@contextlib.contextmanager
def atomic_path(target: str | Path, *, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it replaces ``target`` in one step.

    The temporary file lives in the same folder so that :func:`os.replace` is atomic. On any
    exception the temporary file is removed and ``target`` is left untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=temporary_prefix(target.name),
                               suffix=suffix + ".tmp")
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, replacement_mode(target, 0o666))  # mkstemp's 0600 is for temporary files
    try:
        yield tmp_path
        with open(tmp_path, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_bytes_atomic(target: str | Path, data: bytes) -> None:
    """Write ``data`` to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(target: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``target`` atomically."""
    write_bytes_atomic(target, text.encode("utf-8"))


def replace_dir_atomic(target: str | Path, fill: Callable[[Path], None]) -> None:
    """Build a folder with ``fill(tmp_dir)`` and swap it in for ``target``.

    The new folder is complete before it takes ``target``'s name; the old folder is renamed aside
    first and deleted only after the swap, so a crash at any point leaves a loadable ``target``
    (the old one, or the new one) plus at most a stray hidden folder.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp_dir = Path(tempfile.mkdtemp(dir=target.parent, prefix=temporary_prefix(target.name) + "new."))
    os.chmod(tmp_dir, replacement_mode(target, 0o777))  # mkdtemp's 0700 likewise
    try:
        fill(tmp_dir)
        _fsync_tree(tmp_dir)
        if target.exists():
            old = Path(tempfile.mkdtemp(dir=target.parent,
                                        prefix=temporary_prefix(target.name) + "old."))
            old.rmdir()
            os.replace(target, old)
            try:
                os.replace(tmp_dir, target)
            except BaseException:
                os.replace(old, target)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp_dir, target)
    finally:
        if tmp_dir.exists():
            shutil.rmtree(tmp_dir, ignore_errors=True)


def process_umask() -> int:
    """The process's umask, read without changing it where Linux allows (``/proc``)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore at once
    os.umask(mask)
    return mask


def replacement_mode(target: Path, default: int) -> int:
    """Permission bits for what replaces ``target``: its own where it exists, else ``default``
    less the umask, as ``open`` or ``mkdir`` would give a new file or folder (not the owner-only
    bits of a temporary one, which would hide a saved model or report from the user's group)."""
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        return default & ~process_umask()


def _fsync_tree(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB blocks (models, encoders, wheels)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
