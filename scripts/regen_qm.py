"""Regenerate everything derived from the Quick Mode model (run after an intended change).

    python scripts/regen_qm.py [--skip-matrix]

Writes tests/expected_state_counts.json (exact counts), counterexamples/fixtures/ (traces the
tests replay byte for byte), docs/qm-matrix/ (the results matrix), docs/PROTOCOL.md,
docs/MAPPING.md and docs/MUTANTS.md (the kill table); docs/PROTOCOL.md ends with the SA
lifecycle's section (properties/checks/lifecycle_matrix.py).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from qmcheck.model.quickmode.compiled import QMModel
from qmcheck.model.quickmode.options import PROFILES, QMOptions
from qmcheck.model.quickmode.system import QuickModeSystem
from qmcheck.properties.checks.lifecycle_matrix import lifecycle_markdown, run_lifecycle_matrix
from qmcheck.properties.checks.mutants import kill_markdown, kill_table
from qmcheck.properties.checks.protocol import check_protocol
from qmcheck.properties.checks.protocol_docs import mapping_markdown, protocol_markdown
from qmcheck.properties.checks.protocol_matrix import run_matrix, write_matrix
from qmcheck.properties.engines.bfs import REDUCTIONS, Engine

ROOT = Path(__file__).resolve().parent.parent

#: The manifest's configurations (option changes), each at every reduction level.
MANIFEST: list[dict[str, Any]] = (
    [{"profile": p, **f} for p in PROFILES for f in (
        {}, {"loss": True}, {"loss": True, "reorder": True}, {"duplicate": True},
        {"commit_bit": True}, {"timers": "patient"}, {"loss": True, "timers": "patient"},
        {"commit_bit": True, "timers": "patient"})]
    + [{"profile": p, "negotiations": 2, "timers": "patient"} for p in ("hpux", "racoon")]
    + [{"profile": "strongswan", "simultaneous": True, "timers": "patient"},
       {"profile": "mutant-constant-spi", "negotiations": 2, "timers": "patient"},
       {"profile": "hpux", "negotiations": 3, "timers": "patient"}]
)

#: The committed counterexamples: (property, options).
FIXTURES: list[tuple[str, dict[str, Any]]] = [
    ("qm.no-black-hole", {"profile": "racoon", "timers": "patient"}),
    ("qm.no-black-hole", {"profile": "racoon", "commit_bit": True, "timers": "patient"}),
    ("qm.no-orphan", {"profile": "hpux"}),
    ("qm.no-orphan", {"profile": "hpux", "loss": True, "commit_bit": True,
                      "timers": "patient"}),
    ("qm.responder-nothing-before-msg3", {"profile": "libreswan"}),
    ("qm.responder-installs-after-msg3", {"profile": "mutant-r-install-at-m1"}),
    ("qm.recovery", {"profile": "mutant-no-resend-m3"}),
    ("qm.spi-unique", {"profile": "mutant-constant-spi", "negotiations": 2,
                       "timers": "patient"}),
    ("qm.initiator-nothing-before-msg2", {"profile": "mutant-i-install-at-m1"}),
]


def manifest() -> dict[str, Any]:
    entries = []
    for changes in MANIFEST:
        system = QuickModeSystem(QMModel(QMOptions(**changes))).system
        for level in REDUCTIONS:
            run = Engine(system, reduction=level, shortest_paths=False).run()
            entries.append({"options": changes, "reduction": level, "states": run.states,
                            "transitions": run.transitions})
    return {"comment": "Exact state and transition counts of the generic explicit engine on "
                       "the Quick Mode model v2 at each reduction level (TLC-style manifest); "
                       "tests/test_engine_quickmode.py checks them. Regenerate with "
                       "scripts/regen_qm.py, only for an intended model or engine change.",
            "entries": entries}


def fixtures(directory: Path) -> None:
    for path in directory.glob("qm.*"):
        path.unlink()
    for pid, changes in FIXTURES:
        run = check_protocol(QMOptions(**changes), [pid], out_dir=directory)
        if run.results[0].verdict != "refuted":
            raise SystemExit(f"fixture {pid} {changes} is not refuted")


def main(argv: list[str]) -> int:
    (ROOT / "tests" / "expected_state_counts.json").write_text(
        json.dumps(manifest(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    fixtures(ROOT / "counterexamples" / "fixtures")
    (ROOT / "docs" / "MAPPING.md").write_text(mapping_markdown(), encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        kills = kill_table(Path(tmp))
    (ROOT / "docs" / "MUTANTS.md").write_text(kill_markdown(kills), encoding="utf-8")
    if "--skip-matrix" not in argv:
        runs = run_matrix(out_dir=None)
        write_matrix(runs, ROOT / "docs" / "qm-matrix")
        life = lifecycle_markdown(run_lifecycle_matrix())  # the SA lifecycle (~25 s)
        (ROOT / "docs" / "PROTOCOL.md").write_text(protocol_markdown(runs, life),
                                                   encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
