"""One report shape for every command (docs/SPEC.md 7): results, summary, exit codes, renderings.

Reports are deterministic: the same input gives byte-identical output. Measured times are
therefore left out (``"seconds": null``) unless the user asks for them with ``--timings``.
"""

from __future__ import annotations

import json
import textwrap
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
EXIT_INTERNAL = 4

#: Severities, most severe first; ``--severity S`` shows findings of S and above.
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "note")
PLURAL = {"error": "errors", "warning": "warnings", "note": "notes"}


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
        """The JSON object of this result (docs/SPEC.md 7)."""
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

    @property
    def is_finding(self) -> bool:
        """A refutation: reported under its severity (error, warning or note)."""
        return self.verdict == "refuted"


@dataclass
class Report:
    """All results of one command run.

    ``min_severity`` and ``max_findings`` select which findings the renderings list (the
    summary, the finding counts and the exit code always count every result); ``files`` are
    the files the run wrote, named by every rendering.
    """

    command: str
    inputs: list[str]
    results: list[Result] = field(default_factory=list)
    # A command may render its text form itself (for example as a table).
    text_renderer: Callable[[Report], str] | None = field(default=None, repr=False)
    files: list[str] = field(default_factory=list)
    min_severity: Severity = "note"
    max_findings: int | None = None
    # Two-host reports: per host, the address sets analysed and why (docs/SPEC.md 8).
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

    def finding_counts(self) -> dict[str, int]:
        """Refutations per severity (every result, whatever the filters show)."""
        counts = {s: 0 for s in SEVERITIES}
        for r in self.results:
            if r.is_finding:
                counts[r.severity] += 1
        return counts

    def shown_results(self) -> list[Result]:
        """The results the renderings list: findings at or above ``min_severity``, at most
        ``max_findings`` of them (most severe first, then in report order); every result
        that holds or is unknown."""
        rank = SEVERITIES.index(self.min_severity)
        findings = [r for r in self.results
                    if r.is_finding and SEVERITIES.index(r.severity) <= rank]
        if self.max_findings is not None:
            findings = sorted(findings, key=lambda r: SEVERITIES.index(r.severity))
            findings = findings[:self.max_findings]
        keep = {id(r) for r in findings}
        return [r for r in self.results if not r.is_finding or id(r) in keep]

    def omitted(self) -> int:
        """How many findings the filters leave out."""
        return len(self.results) - len(self.shown_results())

    def exit_code(self) -> int:
        """0 all holds; 1 an error-severity refutation; 3 something unknown, nothing refuted."""
        if any(r.counts_as_failure() for r in self.results):
            return EXIT_REFUTED
        if any(r.verdict == "unknown" for r in self.results):
            return EXIT_UNKNOWN
        return EXIT_OK

    def verdict_word(self) -> str:
        """What the exit code says, in words: ``refuted`` (exit 1), ``unknown`` (exit 3),
        ``holds`` (exit 0, no finding at all) or ``passed`` (exit 0 with warnings or notes:
        some property of lower severity is refuted, so "holds" would not be true)."""
        code = self.exit_code()
        if code == EXIT_REFUTED:
            return "refuted"
        if code == EXIT_UNKNOWN:
            return "unknown"
        return "passed" if any(r.is_finding for r in self.results) else "holds"

    def headline(self) -> list[str]:
        """The verdict line and the counts line that every text rendering starts with."""
        s, f = self.summary(), self.finding_counts()
        omitted = self.omitted()
        counts = (f"{self.command}: {s['holds']} holds, {s['refuted']} refuted, "
                  f"{s['unknown']} unknown; findings: "
                  + ", ".join(f"{f[k]} {PLURAL[k] if f[k] != 1 else k}" for k in SEVERITIES))
        word = self.verdict_word()
        extra = " with warnings or notes only" if word == "passed" else ""
        lines = [f"verdict: {word.upper()} (exit {self.exit_code()}){extra}", counts]
        if omitted:
            why = [f"--severity {self.min_severity}"] if self.min_severity != "note" else []
            if self.max_findings is not None:
                why.append(f"--max-findings {self.max_findings}")
            lines.append(f"({omitted} findings not shown: {', '.join(why)})")
        return lines

    def files_lines(self) -> list[str]:
        """``wrote N files:`` and one path per line (nothing when nothing was written)."""
        if not self.files:
            return []
        return [f"wrote {len(self.files)} file{'s' if len(self.files) != 1 else ''}:",
                *(f"  {name}" for name in self.files)]

    def to_dict(self, *, timings: bool = False) -> dict[str, Any]:
        return {
            "qmcheck": __version__,
            "command": self.command,
            "inputs": list(self.inputs),
            **({} if self.scope is None else {"scope": self.scope}),
            **({} if self.pairs is None else {"pairs": self.pairs}),
            "results": [r.to_dict(timings=timings) for r in self.shown_results()],
            "summary": self.summary(),
            "findings": self.finding_counts(),
            "omitted": self.omitted(),
            "files": list(self.files),
        }

    def to_json(self, *, timings: bool = False) -> str:
        return json.dumps(self.to_dict(timings=timings), indent=2, sort_keys=False) + "\n"

    def to_text(self, *, timings: bool = False) -> str:
        """Verdict and counts first, then one block per result, column-aligned."""
        if self.text_renderer is not None:
            return self.text_renderer(self)
        lines: list[str] = self.headline()
        if self.scope is not None:
            lines.extend(fit(scope_line(self.scope), ""))
        for r in self.shown_results():
            subject = ",".join(r.subject) if r.subject else "-"
            word = r.severity if r.verdict == "refuted" else r.verdict
            lines.extend(fit(f"{word.upper():8} {r.property:38} {subject}".rstrip(), ""))
            for line in r.message.splitlines():
                lines.extend(fit(line, INDENT))
            if r.witness and "packet" in r.witness:
                lines.extend(fit(f"witness: {format_packet_dict(r.witness['packet'])}", INDENT))
            if r.counterexample:
                lines.extend(fit(f"counterexample: {r.counterexample}", INDENT))
            if timings and r.seconds is not None:
                lines.append(f"{INDENT}{r.engine}, {r.seconds:.3f} s")
        lines.extend(self.files_lines())
        return "\n".join(lines) + "\n"


WIDTH = 100
INDENT = " " * 9


def fit(text: str, indent: str) -> list[str]:
    """``text`` in lines of at most WIDTH columns, after ``indent`` (continuations indented
    two more columns); a text that fits stays one line."""
    if len(indent) + len(text) <= WIDTH:
        return [indent + text]
    return textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=indent + "  ",
                         break_on_hyphens=False) or [indent]


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
