"""The one way this package writes files: atomically, with the user's umask, into checked locations.

- :func:`atomic_write` writes through a temporary sibling file and renames it over the target;
  :func:`write_text` and :func:`write_json` build on it. JSON is strict: NaN or infinity raise
  (they are not JSON) instead of writing a file other tools cannot read.
- :func:`staged_dir` builds a whole output folder as a hidden temporary sibling and renames it into
  place when complete; on any failure or interruption the sibling is removed.
- :func:`prepare_output_dir` / :func:`prepare_output_file` check an output location *before* any
  long work starts and create missing parent folders (as users expect of ``--out``); they return
  the folders they created so a failed run can remove them again (:func:`remove_created`).

Temporary files and folders made by ``tempfile`` are private (0600 / 0700); every one published here
gets the mode an ordinary ``open``/``mkdir`` would have given it under the current umask.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from .errors import InputError


def current_umask() -> int:
    """The process umask (read without changing it for longer than one call)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def publish_mode(path: str | os.PathLike, *, directory: bool = False) -> None:
    """Give ``path`` the mode a plain create would: 0666 (file) or 0777 (folder) minus the umask."""
    os.chmod(path, (0o777 if directory else 0o666) & ~current_umask())


def atomic_write(path: str | os.PathLike, write: Callable[[str], Any]) -> Path:
    """Call ``write(temp_path)``, then rename the temp file over ``path``; nothing is left on failure."""
    path = Path(path)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(temp)
        publish_mode(temp)
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
    return path


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically."""
    return atomic_write(path, lambda temp: Path(temp).write_text(text))


def write_json(path: str | os.PathLike, payload: Any) -> Path:
    """Write ``payload`` as indented JSON atomically; non-finite numbers raise ValueError (strict JSON)."""
    text = json.dumps(payload, indent=2, allow_nan=False) + "\n"
    return write_text(path, text)


@contextmanager
def staged_dir(out: str | os.PathLike, *, replace: bool = False) -> Iterator[Path]:
    """Yield a hidden temporary sibling of ``out``; on success it becomes ``out``.

    ``out`` must not exist, or be an empty folder, unless ``replace``: then an existing ``out`` is
    removed only after the new folder is complete. On failure (interruption included) the sibling is
    deleted and ``out`` is untouched.
    """
    out = Path(out)
    temp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        yield temp
        publish_mode(temp, directory=True)
        _swap_in(temp, out, replace=replace)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


def _swap_in(temp: Path, out: Path, *, replace: bool) -> None:
    old = None
    if out.is_dir() and replace and any(out.iterdir()):
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        out.rename(old)
    elif out.is_dir():
        out.rmdir()  # empty (checked up front)
    os.replace(temp, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _missing_parents(path: Path) -> list[Path]:
    """The ancestors of ``path`` that do not exist yet, outermost first."""
    missing = []
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise InputError(f"{parent} is a file, not a folder")
            break
        missing.append(parent)
    return missing[::-1]


def _make_folders(folders: list[Path], flag: str, path: Path) -> list[Path]:
    created = []
    try:
        for folder in folders:
            folder.mkdir()
            created.append(folder)
    except OSError as exc:
        remove_created(created)
        raise InputError(f"{flag} {path}: cannot create the folder {folder} ({exc.strerror})") from None
    return created


def _check_writable(folder: Path, flag: str, path: Path) -> None:
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"{flag} {path}: the folder {folder} is not writable")


def prepare_output_dir(out: str | os.PathLike, *, flag: str = "--out", allow_existing: bool = False) -> list[Path]:
    """Check the output folder ``out`` before work starts; create its missing parents.

    ``out`` must not exist or be an empty folder (``allow_existing``: any folder, whose entries the
    caller replaces). Returns the parent folders created, outermost first.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{flag} {out}: is a file; expected a folder")
    if out.is_dir() and not allow_existing and any(out.iterdir()):
        raise InputError(f"{flag} {out}: already exists and is not empty; choose a new folder")
    created = _make_folders(_missing_parents(out), flag, out)
    _check_writable(out if out.is_dir() else out.parent, flag, out)
    return created


def prepare_output_file(path: str | os.PathLike, *, flag: str) -> list[Path]:
    """Check an output file location before work starts; create its missing parent folders.

    An existing folder at ``path`` is refused (a file is replaced atomically at the end). Returns the
    parent folders created.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{flag} {path}: is a folder; expected a file path")
    created = _make_folders(_missing_parents(path), flag, path)
    _check_writable(path.parent, flag, path)
    return created


@contextmanager
def removed_on_failure(folders: list[Path]) -> Iterator[None]:
    """Remove ``folders`` (made by a ``prepare_output_*`` call) again if the block fails or is interrupted."""
    try:
        yield
    except BaseException:
        remove_created(folders)
        raise


def remove_created(folders: list[Path]) -> None:
    """Remove folders made by :func:`prepare_output_dir` / :func:`prepare_output_file` if still empty."""
    for folder in reversed(folders):
        try:
            folder.rmdir()
        except OSError:
            break
