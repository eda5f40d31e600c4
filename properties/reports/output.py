"""Where a run may write: ``--out DIR``, ``--matrix DIR``, ``--graph-dot FILE``.

Nothing is written unasked, and nothing the user owns is overwritten: an output folder must be
new or empty (``--force`` lifts this), an output file must not exist (``--force`` again). Every
check happens before any work, so a bad path is a one-line input error (exit 2) and not a
traceback after a long run. ``Written`` lists the files a run created or changed, for the report.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from qmcheck.model.values.errors import InputError

COMMAND_LINE = "<command line>"


def _error(option: str, message: str) -> InputError:
    return InputError(message, source=COMMAND_LINE, field=option)


def _nearest_existing(path: Path) -> Path:
    current = path.absolute()
    while not current.exists() and current != current.parent:
        current = current.parent
    return current


def _check_creatable(path: Path, option: str) -> None:
    """``path`` does not exist: its nearest existing ancestor must be a writable folder."""
    base = _nearest_existing(path)
    if not base.is_dir():
        raise _error(option, f"cannot create {str(path)!r}: {str(base)!r} is not a folder")
    if not os.access(base, os.W_OK | os.X_OK):
        raise _error(option, f"cannot create {str(path)!r}: {str(base)!r} is not writable")


def output_dir(text: str | None, option: str = "--out", *, force: bool = False) -> Path | None:
    """The folder ``--out DIR`` names (None when not given), checked before any work.

    Refused (InputError): an empty name, an existing path that is not a folder (a file,
    /dev/null), a folder that cannot be created or written, and a folder that already holds
    files unless ``force``. A new folder is created here, so that a run never fails late.
    """
    if text is None:
        return None
    if not text.strip():
        raise _error(option, "the folder name is empty")
    path = Path(text)
    if path.exists() or path.is_symlink():
        if not path.is_dir():
            raise _error(option, f"{text!r} exists and is not a folder")
        if not os.access(path, os.W_OK | os.X_OK):
            raise _error(option, f"the folder {text!r} is not writable")
        if not force and any(path.iterdir()):
            raise _error(option, f"the folder {text!r} already holds files; choose a new or "
                                 "empty folder, or add --force to write into it")
        return path
    _check_creatable(path, option)
    try:
        path.mkdir(parents=True)
    except OSError as error:
        raise _error(option, f"cannot create the folder {text!r}: "
                             f"{error.strerror or error}") from None
    return path


def output_file(text: str | None, option: str, *, force: bool = False) -> Path | None:
    """A file an option names (None when not given): new, or replaced only with ``force``."""
    if text is None:
        return None
    if not text.strip():
        raise _error(option, "the file name is empty")
    path = Path(text)
    if path.exists() or path.is_symlink():
        if not path.is_file():
            raise _error(option, f"{text!r} exists and is not a regular file")
        if not force:
            raise _error(option, f"the file {text!r} already exists; add --force to replace it")
        if not os.access(path, os.W_OK):
            raise _error(option, f"the file {text!r} is not writable")
        return path
    parent = path.absolute().parent
    if not parent.is_dir():
        raise _error(option, f"cannot create {text!r}: the folder {str(parent)!r} does not exist")
    try:
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as error:
        raise _error(option, f"cannot create {text!r}: {error.strerror or error}") from None
    return path


@dataclass
class Written:
    """The files under some folders before a run, to name the ones the run wrote."""

    roots: list[Path]
    before: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.before = self._snapshot()

    def _snapshot(self) -> dict[str, int]:
        seen: dict[str, int] = {}
        for root in self.roots:
            if root.is_file():
                seen[str(root)] = root.stat().st_mtime_ns
            elif root.is_dir():
                for path in root.rglob("*"):
                    if path.is_file():
                        seen[str(path)] = path.stat().st_mtime_ns
        return seen

    def files(self) -> list[str]:
        """The files created or changed since the snapshot, sorted."""
        after = self._snapshot()
        return sorted(p for p, t in after.items() if self.before.get(p) != t)
