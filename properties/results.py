"""One report shape for every command (DESIGN.md 7): results, summary, exit codes, renderings.

Reports are deterministic: the same input gives byte-identical output. Measured times are
therefore left out (``"seconds": null``) unless the user asks for them with ``--timings``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from qmcheck.model import __version__

Verdict = Literal["holds", "refuted", "unknown"]
Severity = Literal["error", "warning", "note"]

EXIT_OK = 0
EXIT_REFUTED = 1
EXIT_INPUT = 2
EXIT_UNKNOWN = 3


@dataclass(frozen=True)
class Result:
    """One verdict about one property for one subject (a policy, a pair, a configuration).

    ``extra`` holds command-specific fields that are merged into the JSON object (for example
    ``action`` for ``lookup`` or ``states`` for ``protocol``); keys must not clash with the
    standard ones.
    """

    property: str
    verdict: Verdict
    subject: tuple[str, ...] = ()
    severity: Severity = "error"
    engine: str = "concrete"
    message: str = ""
    witness: dict[str, Any] | None = None
    counterexample: str | None = None
    seconds: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self, *, timings: bool = False) -> dict[str, Any]:
        """The JSON object of this result (DESIGN.md 7)."""
        out: dict[str, Any] = {
            "property": self.property,
            "subject": list(self.subject),
            "verdict": self.verdict,
            "severity": self.severity,
            "engine": self.engine,
            "message": self.message,
            "witness": self.witness,
            "counterexample": self.counterexample,
            "seconds": round(self.seconds, 6) if timings and self.seconds is not None else None,
        }
        for key, value in self.extra.items():
            if key in out:
                raise ValueError(f"extra key {key!r} clashes with a standard result field")
            out[key] = value
        return out

    def counts_as_failure(self) -> bool:
        """A refutation of severity error fails the run (exit code 1)."""
        return self.verdict == "refuted" and self.severity == "error"


@dataclass
class Report:
    """All results of one command run."""

    command: str
    inputs: list[str]
    results: list[Result] = field(default_factory=list)
    # A command may render its text form itself (for example as a table).
    text_renderer: Callable[[Report], str] | None = field(default=None, repr=False)
    # Two-host reports: per host, the address sets analysed and why (DESIGN.md 8).
    scope: dict[str, dict[str, Any]] | None = None
    # Reports on a network: how many host pairs were checked and skipped.
    pairs: dict[str, int] | None = None

    def add(self, result: Result) -> None:
        self.results.append(result)

    def extend(self, results: Iterable[Result]) -> None:
        self.results.extend(results)

    def summary(self) -> dict[str, int]:
        counts = {"holds": 0, "refuted": 0, "unknown": 0}
        for result in self.results:
            counts[result.verdict] += 1
        return counts

    def exit_code(self) -> int:
        """0 all holds; 1 an error-severity refutation; 3 something unknown, nothing refuted."""
        if any(r.counts_as_failure() for r in self.results):
            return EXIT_REFUTED
        if any(r.verdict == "unknown" for r in self.results):
            return EXIT_UNKNOWN
        return EXIT_OK

    def to_dict(self, *, timings: bool = False) -> dict[str, Any]:
        return {
            "qmcheck": __version__,
            "command": self.command,
            "inputs": list(self.inputs),
            **({} if self.scope is None else {"scope": self.scope}),
            **({} if self.pairs is None else {"pairs": self.pairs}),
            "results": [r.to_dict(timings=timings) for r in self.results],
            "summary": self.summary(),
        }

    def to_json(self, *, timings: bool = False) -> str:
        return json.dumps(self.to_dict(timings=timings), indent=2, sort_keys=False) + "\n"

    def to_text(self, *, timings: bool = False) -> str:
        """A plain, column-aligned rendering for terminals and logs."""
        if self.text_renderer is not None:
            return self.text_renderer(self)
        lines: list[str] = [] if self.scope is None else [scope_line(self.scope)]
        for r in self.results:
            subject = ",".join(r.subject) if r.subject else "-"
            head = f"{r.verdict.upper():8} {r.property:38} {subject}"
            if r.verdict == "refuted" and r.severity != "error":
                head += f"  [{r.severity}]"
            lines.append(head.rstrip())
            if r.message:
                lines.extend(f"         {line}" for line in r.message.splitlines())
            if r.witness and "packet" in r.witness:
                lines.append(f"         witness: {format_packet_dict(r.witness['packet'])}")
            if r.counterexample:
                lines.append(f"         counterexample: {r.counterexample}")
            if timings and r.seconds is not None:
                lines.append(f"         {r.engine}, {r.seconds:.3f} s")
        s = self.summary()
        lines.append(
            f"{self.command}: {s['holds']} holds, {s['refuted']} refuted, {s['unknown']} unknown"
        )
        return "\n".join(lines) + "\n"


def scope_line(scope: dict[str, dict[str, Any]]) -> str:
    """One line saying which address sets of each host were analysed, and why."""
    parts = [f"{name} {', '.join(entry['addresses'])} ({entry['reason']})"
             for name, entry in scope.items()]
    return "scope: " + "; ".join(parts)


def format_packet_dict(packet: dict[str, Any]) -> str:
    """``src:sport -> dst:dport proto P dir`` for a witness packet in JSON form."""
    src, dst = packet["src"], packet["dst"]
    if ":" in src:
        src, dst = f"[{src}]", f"[{dst}]"
    from qmcheck.model.values.protocols import protocol_text

    proto = protocol_text(packet["protocol"]) if packet["protocol"] else "0"
    return f"{src}:{packet['sport']} -> {dst}:{packet['dport']} {proto} {packet['direction']}"


def table(rows: list[list[str]], header: list[str]) -> list[str]:
    """Left-aligned columns; the last column is not padded."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    out = []
    for row in [header, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        out.append("  ".join([*cells, row[-1]]).rstrip())
    return out


def render(report: Report, fmt: str, *, timings: bool = False) -> str:
    """Render a report as ``text`` or ``json`` (SARIF is rendered by ``properties.sarif``)."""
    if fmt == "json":
        return report.to_json(timings=timings)
    if fmt == "text":
        return report.to_text(timings=timings)
    raise ValueError(f"unknown format {fmt!r}")
