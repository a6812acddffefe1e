"""Atomic file writes: a reader sees the old file or the new one, never a half-written one."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = [
    "DestinationError",
    "check_destination",
    "usual_mode",
    "write_atomically",
    "write_text_atomically",
]


def usual_mode(folder: bool) -> int:
    """The mode ``open()`` (0666) or ``mkdir()`` (0777) would give under the current umask.

    ``tempfile`` creates private files (0600) and folders (0700); anything renamed into
    place from there is given this mode first, so that it looks like any other file.

    >>> usual_mode(folder=True) & 0o700
    448
    """
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if folder else 0o666) & ~umask


class DestinationError(ValueError):
    """A path that cannot be written: the message is one line naming the option and the path."""


def _existing_ancestor(path: Path) -> Path:
    for parent in [path, *path.parents]:
        if parent.exists() or parent.is_symlink():
            return parent
    return Path(".")


def check_destination(path: str | os.PathLike, option_name: str, folder: bool = False) -> Path:
    """Check, writing nothing, that ``path`` can be written: a file (``folder=False``) or a folder.

    Raises :class:`DestinationError` with one line naming ``option_name`` when ``path`` is a
    folder where a file is asked for (or the reverse), lies under a file, or lies where this
    process cannot create files (checked by creating and removing one empty temporary file in
    the nearest existing folder, since permission bits do not bind every user).

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> check_destination(folder / "new" / "report.json", "--json").name
    'report.json'
    >>> try:
    ...     check_destination(folder, "--json")
    ... except DestinationError as err:
    ...     print(err)
    --json must be a file path; ... is a folder
    """
    target = Path(path)
    if folder and target.exists() and not target.is_dir():
        raise DestinationError(f"{option_name} must be a folder; {target} is a file")
    if not folder and target.is_dir():
        raise DestinationError(f"{option_name} must be a file path; {target} is a folder")
    ancestor = _existing_ancestor(target)
    if not ancestor.is_dir() and ancestor != target:
        raise DestinationError(f"{option_name} cannot be written: {ancestor} is a file, not a folder")
    where = ancestor if ancestor.is_dir() else ancestor.parent
    try:
        with tempfile.NamedTemporaryFile(dir=where, prefix=".ropelab-write-check."):
            pass
    except OSError as err:
        raise DestinationError(f"{option_name} cannot be written: files cannot be created in {where} "
                               f"({err.strerror or err})") from None
    if target.is_file() and not os.access(target, os.W_OK):
        raise DestinationError(f"{option_name} must be a file ropelab can write to; {target} is read-only")
    return target


def write_atomically(path: str | os.PathLike, write: Callable[[Path], None], option_name: str = "destination") -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it over ``path``.

    The destination is checked first (:func:`check_destination`; a :class:`DestinationError`
    names ``option_name``). The rename is atomic on POSIX file systems because source and
    target share a directory. If ``write`` raises, the temporary file is removed and ``path``
    is left untouched.

    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> write_atomically(target, lambda tmp: tmp.write_text("hello")).read_text()
    'hello'
    """
    target = check_destination(path, option_name)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    # mkstemp creates the file private (0600); give it the mode a plain open() would.
    tmp.chmod(usual_mode(folder=False))
    try:
        write(tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def write_text_atomically(path: str | os.PathLike, text: str, option_name: str = "destination") -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (:func:`write_atomically`)."""
    return write_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"), option_name)
