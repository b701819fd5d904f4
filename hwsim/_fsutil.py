"""Atomic output and the output-ownership rule: the one module through which hwsim writes.

Every file and directory hwsim writes is built beside its target, then renamed, so an error or a
kill leaves either the old output or the new one, never half of one.

The ownership rule (docs/cli.md): every directory hwsim writes carries the marker file ``MARKER``,
which lists every file hwsim wrote there, and a command replaces an existing directory only when
it is empty, or carries that marker and holds nothing but the files it lists and the build
products hwsim's own tools leave (``BUILD_PRODUCTS``): a directory of the user's own files, or
hwsim's output with a file of the user's added, is refused with one line, ``--force`` included. Creating a
new target is create-exclusive: the finished directory is renamed onto the target name, which
succeeds only while the target is absent or empty (POSIX ``rename``), so a directory created
meanwhile, or a concurrent run's output, is never replaced. A run killed between its two renames
leaves ``.NAME.<pid>.<random>.old`` (the old output) and ``.NAME.<pid>.<random>.tmp`` beside the
target; the next run recognizes them by name and by their writer's process being gone, puts the
old output back when the target is missing, and removes the rest.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from ._errors import HwsimError

#: The file that marks a directory as hwsim's own output (so a later run may replace it).
MARKER = ".hwsim-output"
_MARKER_TEXT = "This directory was written by hwsim; hwsim may replace it. Remove this file to keep it.\n"
#: The line of the marker after which the files hwsim wrote are listed, one relative path a line.
_FILES_LINE = "Files hwsim wrote here (any other file keeps the directory from being replaced):"
#: Folders that hwsim's own tools create inside its outputs (the exported testbench's simulator
#: build, Python caches): what lies under them may be replaced along with the output.
BUILD_PRODUCTS = frozenset({"sim_build", "__pycache__", ".pytest_cache"})


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def os_error(e: OSError, path: str | os.PathLike) -> HwsimError:
    """One line for a file-system error on an output path (read-only, busy, not a directory...)."""
    reasons = {
        errno.EROFS: "must be on a writable file system, not a read-only one",
        errno.EACCES: "must be writable, permission denied",
        errno.EPERM: "must be writable, operation not permitted",
        errno.ENOTDIR: "must lie in a directory, not under a file",
        errno.EEXIST: "must not exist as a file",
        errno.EISDIR: "must be a file, not a directory",
        errno.EBUSY: "must not be busy (a mount point or the working directory)",
        errno.ENOSPC: "needs free space, the device is full",
        errno.ENAMETOOLONG: "must have a shorter name",
    }
    why = reasons.get(e.errno, f"cannot be written ({e.strerror or str(e) or type(e).__name__})")
    return HwsimError(f"output {path} {why}")


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
    except OSError as e:
        raise os_error(e, parent) from None
    return parent


def make_dir(path: Path, what: str = "directory") -> Path:
    """``mkdir -p path`` with one-line errors (under a file, read-only, ...)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise HwsimError(f"{what} must be a directory, not a file: {path}") from None
    except OSError as e:
        raise os_error(e, path) from None
    return path


# -- ownership -------------------------------------------------------------------------------------


def owned(directory: Path) -> bool:
    """True when ``directory`` carries hwsim's marker."""
    return (directory / MARKER).is_file()


def write_marker(directory: Path) -> None:
    (directory / MARKER).write_text(_MARKER_TEXT, encoding="utf-8")


def _files(directory: Path) -> list[str]:
    """Every file (or link, or other non-directory) under ``directory``, relative, POSIX, sorted."""
    out = []
    for root, dirs, names in os.walk(directory):
        dirs.sort()
        base = Path(root).relative_to(directory)
        out += [(base / n).as_posix() for n in names]
        out += [(base / d).as_posix() for d in dirs if os.path.islink(os.path.join(root, d))]
    return sorted(out)


def seal(directory: Path) -> None:
    """Rewrite the marker of a finished output with the list of every file in it (the inventory
    that a later run checks before it replaces the directory)."""
    files = [f for f in _files(directory) if f != MARKER]
    (directory / MARKER).write_text(_MARKER_TEXT + _FILES_LINE + "\n" + "".join(f + "\n" for f in files), encoding="utf-8")


def _inventory(directory: Path) -> set[str] | None:
    """The files the marker lists; for a marker without a list (hwsim before the list existed),
    the files of the export manifest beside it; None when neither says."""
    try:
        text = (directory / MARKER).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    head, sep, tail = text.partition(_FILES_LINE + "\n")
    if sep:
        return set(tail.splitlines())
    try:
        import json

        man = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
        return {"manifest.json", *man["files"]}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def foreign_file(directory: Path) -> str | None:
    """The first file under an owned ``directory`` that hwsim did not write there (neither in its
    marker's list nor under a ``BUILD_PRODUCTS`` folder), or None when every file is hwsim's."""
    listed = _inventory(directory)
    for rel in _files(directory):
        if rel == MARKER or BUILD_PRODUCTS.intersection(rel.split("/")[:-1]):
            continue
        if listed is None or rel not in listed:
            return rel
    return None


def _refuse_foreign(directory: Path, given: str, what: str, tail: str) -> None:
    rel = foreign_file(directory)
    if rel is not None:
        raise HwsimError(
            f"{what} {given} holds {rel}, which hwsim did not write there; hwsim replaces only its own "
            f"output, --force included: {tail}"
        )


def _absolute(target: str | os.PathLike) -> Path:
    return Path(os.path.abspath(target))


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stale_re(name: str) -> re.Pattern:
    # ".NAME.<pid>.<random>.tmp|old" (this module), or ".NAME.<random>.tmp|old" (before pids were recorded)
    return re.compile(rf"^\.{re.escape(name)}\.(?:(?P<pid>\d+)\.)?[A-Za-z0-9_]{{8}}\.(?P<kind>tmp|old)$")


def recover(target: str | os.PathLike) -> None:
    """Clean what a killed run left beside ``target``: restore the old output when the target is
    missing, remove temporary and superseded copies. Entries of a live run are left alone."""
    t = _absolute(target)
    parent = t.parent
    if not parent.is_dir():
        return
    pat = _stale_re(t.name)
    try:
        entries = sorted(parent.iterdir())
    except OSError:
        return
    stale = []
    for e in entries:
        m = pat.match(e.name)
        if m is None or _alive(int(m["pid"]) if m["pid"] else None):
            continue
        stale.append((m["kind"], e))
    # the old output first: it goes back when the target is missing
    for kind, e in sorted(stale, key=lambda ke: ke[0] != "old"):
        try:
            if kind == "old" and e.is_dir() and not os.path.lexists(t):
                src = e / "x" if (e / "x").is_dir() and not owned(e) else e  # the pre-pid layout kept it in x/
                if owned(src):
                    os.rename(src, t)
                    if src != e:
                        shutil.rmtree(e, ignore_errors=True)
                    continue
            if e.is_dir() and not e.is_symlink():
                shutil.rmtree(e, ignore_errors=True)
            else:
                e.unlink()
        except OSError:
            pass  # best effort: a read-only parent is reported by the write that follows


def _check_writable(directory: Path, given: str) -> None:
    """Refuse a read-only file system up front, before a command spends minutes on its work."""
    try:
        read_only = bool(os.statvfs(directory).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        return
    if read_only:
        raise os_error(OSError(errno.EROFS, "Read-only file system"), given)


def prepare_output_dir(target: str | os.PathLike, *, force: bool | None, what: str = "output directory") -> Path:
    """The up-front checks of an output directory, before anything is built; returns it absolute.

    ``force`` is the command's ``--force``: ``False`` refuses any existing target ("pass --force"),
    ``True`` allows replacing one, ``None`` is for commands that replace their own output without
    asking (report, check --report, demo). In every case only an empty directory or one carrying
    ``MARKER`` may be replaced. Stale leftovers of a killed run are recovered first.
    """
    given = str(target)
    t = _absolute(target)
    cwd = Path.cwd()
    if t == Path(t.anchor) or t == cwd or t in cwd.parents:
        raise HwsimError(f"{what} must not be the current directory or one that contains it, not {given!r}")
    make_parent(t)
    _check_writable(t.parent, given)
    recover(t)
    if not os.path.lexists(t):
        return t
    if t.is_symlink() or not t.is_dir():
        raise HwsimError(f"{what} must be a directory, not a file: {given}")
    try:
        empty = not any(t.iterdir())
    except OSError as e:
        raise os_error(e, given) from None
    if not (empty or owned(t)):
        raise HwsimError(
            f"{what} {given} holds files hwsim did not write (no {MARKER}); hwsim replaces only its own "
            "output, --force included: remove it or choose another directory"
        )
    if not empty:
        _refuse_foreign(t, given, what, "move that file or choose another directory")
    if force is False:
        raise HwsimError(f"{what} {given} exists; pass --force to replace it")
    return t


def sibling_tmp_dir(target: Path) -> Path:
    """A new directory next to ``target`` to build it in, already carrying the marker, with the
    mode a plain ``mkdir`` would give (``mkdtemp`` makes 0700, which would leave the result private)."""
    t = _absolute(target)
    try:
        tmp = Path(tempfile.mkdtemp(dir=t.parent, prefix=f".{t.name}.{os.getpid()}.", suffix=".tmp"))
        os.chmod(tmp, 0o777 & ~_umask())
        write_marker(tmp)
    except OSError as e:
        raise os_error(e, target) from None
    return tmp


def replace_dir(src: Path, dst: Path, *, force: bool | None = None) -> None:
    """Publish the finished ``src`` (from ``sibling_tmp_dir``) as ``dst``, create-exclusively.

    ``src`` is renamed onto ``dst``, which succeeds only while ``dst`` is absent or empty. An
    existing ``dst`` carrying the marker (and ``force`` not False) is first renamed aside to
    ``.NAME.<pid>.<random>.old``, then deleted; when the second rename fails it is put back.
    Anything else at ``dst`` is refused and left as it is. ``src`` is removed on any failure.
    """
    dst = _absolute(dst)
    try:
        seal(src)
        try:
            os.rename(src, dst)
            return
        except OSError as e:
            if e.errno == errno.ENOTDIR and os.path.lexists(dst):
                raise HwsimError(f"output directory {dst} must be a directory, not a file; it was left as it is") from None
            if e.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise os_error(e, dst) from None
        # dst is a non-empty directory: ours to replace?
        if force is False:
            raise HwsimError(f"output directory {dst} appeared while it was being written; it was left as it is")
        if not owned(dst):
            raise HwsimError(
                f"output directory {dst} holds files hwsim did not write (no {MARKER}); it was left as it is"
            )
        _refuse_foreign(dst, str(dst), "output directory", "it was left as it is")
        old = Path(tempfile.mkdtemp(dir=dst.parent, prefix=f".{dst.name}.{os.getpid()}.", suffix=".old"))
        try:
            os.rename(dst, old)  # onto the empty directory mkdtemp made: the old output leaves in one rename
        except OSError as e:
            os.rmdir(old)
            raise os_error(e, dst) from None
        try:
            os.rename(src, dst)
        except OSError as e:
            try:
                os.rename(old, dst)
            except OSError:
                pass  # dst was taken meanwhile: the old output stays in .old, recovered by the next run
            raise os_error(e, dst) from None
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(src, ignore_errors=True)
        raise


def write_dir(target: Path, files: dict[str, str], *, force: bool | None = None) -> None:
    """Build ``target`` from ``files`` (relative name -> text) in a sibling temporary directory, then
    publish it with ``replace_dir`` (the ownership rule applies); nothing is left behind on failure."""
    tmp = sibling_tmp_dir(target)
    try:
        for name, text in files.items():
            (tmp / name).write_text(text, encoding="utf-8")
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise os_error(e, target) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    replace_dir(tmp, target, force=force)  # removes tmp itself when it fails


def atomic_write(path: Path, write: Callable[[str], None]) -> None:
    """Call ``write(tmp_name)`` on a temporary file beside ``path``, then rename it over ``path``.

    The caller checks that the directory exists (and raises its own domain error) beforehand.
    File-system errors (read-only, a directory in the way, ...) become one-line ``HwsimError``s.
    """
    directory = path.parent if str(path.parent) else Path(".")
    if os.path.isdir(path):
        raise HwsimError(f"output {path} must be a file, not a directory")
    recover(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
    except OSError as e:
        raise os_error(e, path) from None
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(e, OSError):
            raise os_error(e, path) from None
        raise
