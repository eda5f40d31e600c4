"""The results matrix: qm.* properties x profiles x fault settings, as Markdown and CSV.

``protocol_results(mapping)`` is what ``qmcheck check`` calls with a scenario's ``protocol:``
mapping; ``matrix_markdown`` / ``matrix_csv`` render the runs for papers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from qmcheck.model.quickmode.options import PROFILES, QMOptions, options_from_mapping
from qmcheck.model.quickmode.profiles import load_profile
from qmcheck.model.quickmode.scenario_options import check_protocol_section
from qmcheck.model.values.errors import InputError
from qmcheck.properties.checks.protocol import QM_IDS, ProtocolRun, check_protocol
from qmcheck.properties.results import Result

#: The fault settings of the matrix, in column order: (name, option changes).
SETTINGS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("reliable", {}),
    ("patient", {"timers": "patient"}),
    ("loss+patient", {"loss": True, "timers": "patient"}),
    ("commit+patient", {"commit_bit": True, "timers": "patient"}),
    ("reorder", {"reorder": True}),
    ("dup", {"duplicate": True}),
    ("loss", {"loss": True}),
    ("loss+reorder", {"loss": True, "reorder": True}),
    ("loss+dup+reorder", {"loss": True, "duplicate": True, "reorder": True}),
    ("commit", {"commit_bit": True}),
    ("commit+reorder", {"commit_bit": True, "reorder": True}),
    ("loss+commit", {"loss": True, "commit_bit": True}),
    ("loss+dup+reorder+commit",
     {"loss": True, "duplicate": True, "reorder": True, "commit_bit": True}),
)
#: What ``qmcheck check`` runs when a scenario names no setting: the v2 model with both
#: engines is too slow for the whole matrix in one check (``protocol --matrix`` runs it).
CHECK_SETTINGS: tuple[tuple[str, dict[str, Any]], ...] = (("patient", {"timers": "patient"}),)
FAULT_KEYS = ("loss", "duplicate", "reorder", "commit_bit")
#: Values of the setting keys when a setting does not name them.
DEFAULTS: dict[str, Any] = {"loss": False, "duplicate": False, "reorder": False,
                            "commit_bit": False, "timers": "eager"}


def run_matrix(profiles: Sequence[str] = PROFILES,
               settings: Sequence[tuple[str, dict[str, Any]]] = SETTINGS,
               base: QMOptions | None = None, property_ids: Sequence[str] | None = None,
               out_dir: Path | None = None) -> list[tuple[str, ProtocolRun]]:
    """Every (setting, profile) run, settings outermost."""
    base = base or QMOptions()
    runs: list[tuple[str, ProtocolRun]] = []
    for name, changes in settings:
        for profile in profiles:
            opts = base.with_(profile=profile, **{k: changes.get(k, v) for k, v in
                                                  DEFAULTS.items()})
            runs.append((name, check_protocol(opts, property_ids, out_dir=out_dir)))
    return runs


def matrix_rows(runs: Sequence[tuple[str, ProtocolRun]]) -> list[dict[str, Any]]:
    """One row per property, profile and setting."""
    rows: list[dict[str, Any]] = []
    for name, run in runs:
        for r in run.results:
            rows.append({"property": r.property, "profile": run.options.profile,
                         "setting": name, "retransmits": run.options.retransmits,
                         "negotiations": run.options.negotiations, "verdict": r.verdict,
                         "vacuous": bool(r.extra.get("vacuous", False)),
                         "states": run.exploration.states,
                         "transitions": run.exploration.transitions})
    return rows


def matrix_csv(runs: Sequence[tuple[str, ProtocolRun]]) -> str:
    """The rows as CSV (long format, one verdict per line)."""
    buf = io.StringIO()
    rows = matrix_rows(runs)
    fields = ["property", "profile", "setting", "retransmits", "negotiations", "verdict",
              "vacuous", "states", "transitions"]
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def matrix_markdown(runs: Sequence[tuple[str, ProtocolRun]]) -> str:
    """One table: a row per property, a column per (setting, profile); state counts below."""
    settings = list(dict.fromkeys(name for name, _ in runs))
    profiles = list(dict.fromkeys(run.options.profile for _, run in runs))
    cell: dict[tuple[str, str, str], str] = {}
    states: dict[tuple[str, str], int] = {}
    ids: list[str] = []
    for name, run in runs:
        states[(name, run.options.profile)] = run.exploration.states
        for r in run.results:
            mark = {"holds": "holds", "refuted": "**refuted**", "unknown": "unknown"}[r.verdict]
            if r.extra.get("vacuous"):
                mark = "vacuous"
            cell[(r.property, name, run.options.profile)] = mark
            if r.property not in ids:
                ids.append(r.property)
    ids = [p for p in QM_IDS if p in ids]
    lines: list[str] = []
    for name in settings:
        any_run = next(run for n, run in runs if n == name)
        lines.append(f"### {name} (R={any_run.options.retransmits}, "
                     f"N={any_run.options.negotiations})")
        lines.append("")
        lines.append("| property | " + " | ".join(profiles) + " |")
        lines.append("|---|" + "---|" * len(profiles))
        for pid in ids:
            lines.append(f"| `{pid}` | " + " | ".join(
                cell.get((pid, name, p), "-") for p in profiles) + " |")
        lines.append("| states | " + " | ".join(
            str(states.get((name, p), "-")) for p in profiles) + " |")
        lines.append("")
    return "\n".join(lines)


def scenario_plan(mapping: Mapping[str, Any] | None, source: str = "<scenario>",
                  settings: Sequence[tuple[str, dict[str, Any]]] = CHECK_SETTINGS
                  ) -> tuple[list[str], QMOptions, Sequence[tuple[str, dict[str, Any]]]]:
    """Profiles, base options and fault settings that a ``protocol:`` mapping asks for: the
    one setting it names when it sets a fault option, else ``settings``."""
    data = check_protocol_section(mapping, None, source)
    profiles = data.pop("profiles", list(PROFILES))
    for p in profiles:
        try:
            load_profile(str(p))  # a built-in name, a mutant name or a profile file
        except InputError as error:
            raise InputError(error.message, source=source,
                             field="protocol.profiles") from None
    base = options_from_mapping(data, source=source)
    if {k.replace("-", "_") for k in data} & (set(FAULT_KEYS) | {"timers"}):
        settings = [("scenario", {k: getattr(base, k) for k in DEFAULTS})]
    return profiles, base, settings


def protocol_results(mapping: Mapping[str, Any] | None = None, *, out_dir: Path | None = None,
                     source: str = "<scenario>",
                     settings: Sequence[tuple[str, dict[str, Any]]] = CHECK_SETTINGS
                     ) -> list[Result]:
    """The qm.* results for a scenario's ``protocol:`` mapping (what ``qmcheck check`` shows).

    ``profiles`` (list, one name, or a profile file path; default all four) selects the
    profiles. If the mapping sets a fault option (loss, duplicate, reorder, commit-bit) or
    timers, that one setting is checked; otherwise every setting of ``settings``
    (``CHECK_SETTINGS`` by default: patient timers). Other keys are QMOptions fields
    (retransmits, negotiations, ...). Subjects are ``(profile, setting label)``.
    """
    profiles, base, settings = scenario_plan(mapping, source, settings)
    runs = run_matrix(profiles, settings, base, None, out_dir)
    return [r for _, run in runs for r in run.results]


def write_matrix(runs: Sequence[tuple[str, ProtocolRun]], directory: Path) -> list[Path]:
    """Write ``matrix.md`` and ``matrix.csv`` into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    md = directory / "matrix.md"
    md.write_text(matrix_markdown(runs) + "\n", encoding="utf-8")
    cs = directory / "matrix.csv"
    cs.write_text(matrix_csv(runs), encoding="utf-8")
    return [md, cs]
