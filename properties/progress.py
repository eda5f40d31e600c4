"""A rich progress bar on stderr for long runs: it appears only after a second of work, only
on a terminal, and never touches stdout (reports stay byte-identical)."""

from __future__ import annotations

import sys
import time
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
        self.tasks: dict[str, int] = {}

    def __enter__(self) -> LazyProgress:
        self.start = time.monotonic()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.progress is not None:
            self.progress.stop()

    def update(self, phase: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self.progress is None:
            if time.monotonic() - self.start < self.show_after:
                return
            self.progress = Progress(TextColumn("{task.description:>14}"), BarColumn(),
                                     MofNCompleteColumn(), TimeElapsedColumn(),
                                     console=self.console, transient=True)
            self.progress.start()
        task = self.tasks.get(phase)
        if task is None:
            task = self.tasks[phase] = self.progress.add_task(phase, total=total)
        self.progress.update(task, completed=done, total=total)  # type: ignore[arg-type]
