"""Users' files. Reading: a regular file, of bounded size, in UTF-8, with every error naming
the file. Writing: the path is checked before any work starts, and the file is written beside
its target and renamed into place, so a failure never leaves half a file behind and never
truncates a good file that was there before."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

PLOT_SUFFIXES = (".png", ".svg", ".pdf")  # what the plot writers (Matplotlib) write


class OutputPathError(ValueError):
    """An output path that cannot be written; the message names the option and the path."""


def read_text(path: Path, limit_bytes: int, error: type[ValueError]) -> str:
    """The whole text of a regular file of at most `limit_bytes`; anything else (a folder, a
    device, a missing, huge, unreadable or binary file) raises `error` naming the file."""
    if not path.exists():
        raise error(f"{path}: no such file")
    if not path.is_file():
        kind = "a folder" if path.is_dir() else "not a regular file"
        raise error(f"{path}: is {kind}; give a file")
    try:
        size = path.stat().st_size
        if size > limit_bytes:
            raise error(f"{path}: {size:,} bytes is more than the {limit_bytes:,} allowed")
        data = path.read_bytes()
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc.strerror}") from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(
            f"{path}: not UTF-8 text (byte {exc.start} is 0x{data[exc.start]:02x}); "
            "is it a binary file?"
        ) from exc


def check_output_path(path: Path, option: str, suffixes: tuple[str, ...] = ()) -> Path:
    """Refuse, before computing anything, a path that is a folder, whose suffix is not one of
    `suffixes` (when given), or that cannot be created (see `check_folder`)."""
    if path.is_dir():
        raise OutputPathError(f"{option}: {path} is a folder; give a file path")
    if suffixes and path.suffix.lower() not in suffixes:
        raise OutputPathError(
            f"{option}: {path} must end in {' or '.join(suffixes)}, got {path.suffix or 'none'!r}"
        )
    check_folder(path.parent, option)
    return path


def check_folder(folder: Path, option: str) -> Path:
    """A folder to write into: missing folders are created when the file is written, so the
    nearest one that exists must be a writable folder (not a file)."""
    existing = folder if str(folder) else Path(".")
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise OutputPathError(f"{option}: {existing} is a file, so {folder} cannot be a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputPathError(f"{option}: folder {existing} is not writable")
    return folder


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside `path` for a writer that takes a file name (Matplotlib, DuckDB);
    renamed onto `path` when the block ends without an error, removed otherwise."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    """Write `text` to a temporary file beside `path`, then rename it into place."""
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")
