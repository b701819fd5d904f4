"""Atomic output: every file and directory hwsim writes is built beside its target, then renamed.

An error or a kill therefore leaves either the old output or the new one, never half of one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from ._errors import HwsimError


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def make_parent(target: Path) -> Path:
    """Create the parent directories of an output ``target`` (like ``mkdir -p``) and return the
    parent; a parent that cannot be a directory is bad input."""
    parent = target.parent if str(target.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise HwsimError(f"output's parent must be a directory, not a file: {parent}") from None
    except PermissionError:
        raise HwsimError(f"output's parent must be writable, permission denied: {parent}") from None
    return parent


def sibling_tmp_dir(target: Path) -> Path:
    """A new empty directory next to ``target`` to build it in, with the mode a plain ``mkdir``
    would give (``mkdtemp`` makes 0700, which would leave the renamed result private)."""
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"))
    os.chmod(tmp, 0o777 & ~_umask())
    return tmp


def replace_dir(src: Path, dst: Path) -> None:
    """Rename the finished ``src`` to ``dst``. An existing ``dst`` is moved aside first and deleted
    after the rename; if the rename fails, the old ``dst`` is put back."""
    if not dst.exists():
        os.replace(src, dst)
        return
    old = Path(tempfile.mkdtemp(dir=dst.parent, prefix=f".{dst.name}.", suffix=".old"))
    os.replace(dst, old / "x")  # the old directory leaves dst's name in one rename
    try:
        os.replace(src, dst)
    except BaseException:
        os.replace(old / "x", dst)
        shutil.rmtree(old, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)


def atomic_write(path: Path, write: Callable[[str], None]) -> None:
    """Call ``write(tmp_name)`` on a temporary file beside ``path``, then rename it over ``path``.

    The caller checks that the directory exists (and raises its own domain error) beforehand.
    """
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
