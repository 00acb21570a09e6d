"""Checks every input and output path passes before any work starts, and atomic writes."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ..errors import InputNotFound, InputTooLarge, OutputNotWritable, UnreadableMedia

# Beyond this an input is refused before it is read: no portrait or speech clip is this big, and decoding
# one would take minutes and gigabytes.
MAX_INPUT_BYTES = 512 * 1024 * 1024


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# mkstemp makes files only their owner can read; an output should get the permissions any new file gets.
_FILE_MODE = 0o666 & ~_umask()
_DIR_MODE = 0o777 & ~_umask()


def temp_beside(final: Path, suffix: str | None = None, directory: bool = False) -> Path:
    """A new hidden temporary file (or folder) next to ``final``, with the usual permissions, for an atomic
    write that ends in ``os.replace(temp, final)``."""
    parent = final.parent if str(final.parent) else Path(".")
    if directory:
        tmp = tempfile.mkdtemp(prefix=f".{final.name}-", dir=parent)
        os.chmod(tmp, _DIR_MODE)
        return Path(tmp)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.stem}-", suffix=final.suffix if suffix is None else suffix,
                               dir=parent)
    os.close(fd)
    os.chmod(tmp, _FILE_MODE)
    return Path(tmp)


def check_input(path: str | os.PathLike, what: str, max_bytes: int = MAX_INPUT_BYTES) -> Path:
    """The path as a Path if it is a readable regular file no bigger than ``max_bytes``."""
    p = Path(path)
    if not p.exists():
        raise InputNotFound(f"{what} not found: {p} (check the path and its spelling)")
    if not p.is_file():
        raise InputNotFound(f"{what} is not a file: {p}")
    if not os.access(p, os.R_OK):
        raise InputNotFound(f"{what} cannot be read (permission denied): {p}")
    size = p.stat().st_size
    if size == 0:
        raise UnreadableMedia(f"{what} is empty (0 bytes): {p}")
    if size > max_bytes:
        raise InputTooLarge(
            f"{what} is {size / 2**20:.0f} MiB, over the {max_bytes / 2**20:.0f} MiB limit: {p}"
            " (use a shorter or more compressed file)"
        )
    return p


def check_output(path: str | os.PathLike, what: str = "output") -> Path:
    """Fail early, before any work, if ``path`` cannot be written."""
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if p.is_dir():
        raise OutputNotWritable(f"{what} path is a directory: {p} (give a file name, e.g. {p / 'out.mp4'})")
    if not parent.is_dir():
        raise OutputNotWritable(f"{what} directory does not exist: {parent} (create it first)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputNotWritable(f"{what} directory is not writable: {parent}")
    return p


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block completes.

    On any exception (Ctrl-C included) the temporary file is removed and ``path`` is left as it was.
    """
    final = Path(path)
    tmp_path = temp_beside(final)
    try:
        yield tmp_path
        os.replace(tmp_path, final)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
