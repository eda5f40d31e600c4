"""A rich progress bar on stderr for long runs: it appears only after a second of work, only
on a terminal, and never touches stdout (reports stay byte-identical)."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

SHOW_AFTER = 1.0


class LazyProgress:
    """``update(phase, done, total)`` from any loop; a bar per phase once a second has passed.

    Use as a context manager; ``enabled=False`` (or a non-terminal stderr) makes it silent.
    """

    def __init__(self, enabled: bool | None = None, show_after: float = SHOW_AFTER) -> None:
        self.console = Console(file=sys.stderr)
        self.enabled = self.console.is_terminal if enabled is None else enabled
        self.show_after = show_after
        self.start = time.monotonic()
        self.progress: Progress | None = None
        self.tasks: dict[str, int] = {}  # phase -> rich task id
        self._lock = threading.RLock()

    def __enter__(self) -> LazyProgress:
        self.start = time.monotonic()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        with self._lock:
            if self.progress is not None:
                self.progress.stop()

    @contextmanager
    def busy(self, phase: str) -> Iterator[None]:
        """An indeterminate bar for one long call (e.g. loading a file), shown once it has
        run for ``show_after`` seconds."""
        if not self.enabled:
            yield
            return
        timer = threading.Timer(self.show_after, self._pulse, args=(phase,))
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()
            with self._lock:
                task = self.tasks.get(phase)
                if task is not None and self.progress is not None:
                    self.progress.update(task, total=1, completed=1)

    def _pulse(self, phase: str) -> None:
        with self._lock:
            self._start()
            assert self.progress is not None
            if phase not in self.tasks:
                self.tasks[phase] = self.progress.add_task(phase, total=None, status="")

    def _start(self) -> None:
        if self.progress is None:
            self.progress = Progress(TextColumn("{task.description:>14}"), BarColumn(),
                                     MofNCompleteColumn(), TimeElapsedColumn(),
                                     TextColumn("{task.fields[status]}"),
                                     console=self.console, transient=True)
            self.progress.start()

    def update(self, phase: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        with self._lock:
            if self.progress is None:
                if time.monotonic() - self.start < self.show_after:
                    return
                self._start()
            assert self.progress is not None
            task = self.tasks.get(phase)
            if task is None:
                task = self.tasks[phase] = self.progress.add_task(phase, total=total, status="")
            self.progress.update(task, completed=done, total=total)  # type: ignore[arg-type]

    def note(self, phase: str, text: str) -> None:
        """A status text beside the phase's bar (for example states/s of an exploration)."""
        if not self.enabled:
            return
        with self._lock:
            task = self.tasks.get(phase)
            if task is not None and self.progress is not None:
                self.progress.update(task, status=text)  # type: ignore[arg-type]
