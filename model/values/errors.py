"""Input errors: every bad input is reported with its file, line and field, never a traceback."""

from __future__ import annotations

from qmcheck.model.values.text import safe_message


class InputError(Exception):
    """A problem in user input: a file, a command-line value, a packet.

    ``source`` is the file name (or ``"<command line>"``), ``line`` is 1-based, ``field`` is the
    key or option at fault. The command line prints ``str(error)`` (one line: escaped, long
    values cut) and exits with code 2.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.source = source
        self.line = line
        self.field = field

    def located(self, *, source: str | None = None, line: int | None = None,
                field: str | None = None) -> InputError:
        """Return a copy with missing location parts filled in."""
        return InputError(
            self.message,
            source=self.source or source,
            line=self.line if self.line is not None else line,
            field=self.field or field,
        )

    def __str__(self) -> str:
        where = self.source or ""
        if self.line is not None:
            where = f"{where}:{self.line}" if where else f"line {self.line}"
        parts = [p for p in (where, f"field '{self.field}'" if self.field else "") if p]
        prefix = ": ".join(parts)
        return safe_message(f"{prefix}: {self.message}" if prefix else self.message)
