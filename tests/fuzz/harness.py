"""Run the command line in-process or in a bounded subprocess, and check the outcome class.

Every outcome must be exit 0, 1, 2 or 3 (never 4, an internal error, nor a traceback); an
input error (2) is one line ``qmcheck: error: ...``. ``FUZZ`` holds the hypothesis settings:
a fixed-seed share by default (CI), a longer random run with ``QMCHECK_FUZZ_EXAMPLES=N``.
"""

from __future__ import annotations

import io
import os
import resource
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, settings

from qmcheck.properties.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
LONG_RUN = int(os.environ.get("QMCHECK_FUZZ_EXAMPLES", "0") or 0)


def fuzz_settings(examples: int) -> settings:
    """``examples`` derandomized examples (CI), or ``QMCHECK_FUZZ_EXAMPLES`` random ones."""
    return settings(max_examples=LONG_RUN or examples, derandomize=not LONG_RUN, deadline=None,
                    database=None, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


@dataclass
class Outcome:
    """Exit code and captured output of one run."""

    code: int
    out: str
    err: str

    def check(self) -> None:
        """The promises of docs/RELIABILITY.md that hold for every input."""
        assert self.code in (0, 1, 2, 3), f"exit {self.code}: {self.err[-2000:]}"
        assert "Traceback" not in self.err, self.err[-2000:]
        if self.code == 2:
            lines = self.err.strip("\n").split("\n")
            errors = [line for line in lines if line.startswith("qmcheck: error: ")]
            assert len(errors) == 1 and errors[0] == lines[-1], self.err[-2000:]
            assert len(errors[0]) < 700, errors[0][:200]
        assert "\x1b" not in self.err and "\x00" not in self.err
        assert "\x1b" not in self.out and "\x00" not in self.out


def run_cli(*argv: str) -> Outcome:
    """``qmcheck ARGV`` in this process, output captured."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return Outcome(code, out.getvalue(), err.getvalue())


def run_bounded(*argv: str, memory_mb: int = 1536, seconds: float = 60.0,
                env: dict[str, str] | None = None) -> Outcome:
    """``qmcheck ARGV`` in a subprocess with an address-space limit and a timeout."""

    def limit() -> None:  # pragma: no cover - runs in the child
        size = memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (size, size))

    code = "import sys; from qmcheck.properties.cli.main import main; sys.exit(main())"
    proc = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True,
                          timeout=seconds, preexec_fn=limit, check=False,
                          env={**os.environ, **(env or {})}, errors="replace")
    return Outcome(proc.returncode, proc.stdout, proc.stderr)
