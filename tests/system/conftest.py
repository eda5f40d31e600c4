"""System tests: print why they were skipped, and their figures, at the end of the run."""

from __future__ import annotations

import pytest

#: Lines the system tests add (skip reasons, figures); printed in the terminal summary.
SUMMARY: list[str] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for line in dict.fromkeys(SUMMARY):
        terminalreporter.write_line(f"[system] {line}")
