"""The SMT engine agrees with the explicit engine over the results matrix.

For every profile (mutants included) x fault setting x property the SMT engine decides: the
same verdict; every BMC trace replays through ``QMModel.next_state`` and the counterexample
module's ``replay``, and its last state violates the property in the explicit semantics; and
the shortest counterexample lengths agree. For one negotiation the explicit engine's reductions
do not change distances (symmetry and partial-order reduction act on several components, and
dead-variable reduction only merges states without successors), so its BFS depth is the
unreduced shortest length; for several negotiations a local violation needs one negotiation
only and the reduced search keeps every path of one negotiation, so the lengths are equal too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from qmcheck.model.encodings.z3_quickmode import LOCAL_IDS
from qmcheck.model.quickmode.compiled import QMModel
from qmcheck.model.quickmode.options import MUTANTS, PROFILES, QMOptions
from qmcheck.properties.checks.protocol import check_protocol
from qmcheck.properties.checks.protocol_matrix import FAULT_KEYS, SETTINGS
from qmcheck.properties.checks.protocol_smt import smt_check
from qmcheck.properties.engines.smt import SMT_IDS
from qmcheck.properties.traces.counterexample import build_trace, replay

#: Every fault setting of the results matrix x every profile, the two mutants included.
CASES = [(name, profile) for name, _ in SETTINGS for profile in PROFILES + MUTANTS]


def options_of(name: str, profile: str, **more: Any) -> QMOptions:
    changes = dict(SETTINGS)[name]
    return QMOptions(profile=profile, **{k: changes.get(k, False) for k in FAULT_KEYS}, **more)


def violates(model: QMModel, pid: str, state: tuple[tuple[int, ...], ...]) -> bool:
    """The explicit semantics' verdict on the last state of a counterexample."""
    if pid in LOCAL_IDS:
        return any(model.local_checks[pid](c) for c in state)
    if pid == "qm.spi-unique":
        return bool(model.spi_collisions(state))
    if pid == "qm.no-deadlock":
        return not model.actions(state) and not all(model.quiescent_check(c) for c in state)
    if pid == "qm.reachable-installed":  # a witness: the goal is reached
        return any(model.goal_check(c) for c in state)
    raise AssertionError(pid)


def compare(options: QMOptions, tmp_path: Path | None = None) -> dict[str, tuple[str, str]]:
    explicit = {r.property: r for r in check_protocol(options).results}
    smt = smt_check(options, out_dir=tmp_path)
    model = QMModel(options)
    seen: dict[str, tuple[str, str]] = {}
    for r in smt.results:
        e = explicit[r.property]
        seen[r.property] = (e.verdict, r.verdict)
        assert r.verdict == e.verdict, (r.property, r.message, e.message)
        assert r.verdict != "unknown"
        if r.property in smt.traces:
            steps = smt.traces[r.property]
            assert violates(model, r.property, steps[-1][2])
            final = replay(build_trace(model, r.property, r.message, steps))
            assert final == steps[-1][2]
        if r.verdict == "refuted" and r.property != "qm.reachable-installed":
            assert r.extra["trace_length"] == e.extra["trace_length"], r.property
            assert len(smt.traces[r.property]) - 1 == r.extra["trace_length"]
        if r.verdict == "holds" and r.property != "qm.reachable-installed":
            assert r.extra["method"] == "k-induction" and r.extra["k"] >= 1
            assert bool(r.extra.get("vacuous")) == bool(e.extra.get("vacuous"))
    assert set(seen) == set(SMT_IDS)
    return seen


@pytest.mark.parametrize(("setting", "profile"), CASES, ids=[f"{s}-{p}" for s, p in CASES])
def test_smt_and_explicit_agree_on_the_matrix(setting: str, profile: str) -> None:
    compare(options_of(setting, profile))


@pytest.mark.parametrize("options", [
    QMOptions(profile="hpux", loss=True, negotiations=2),
    QMOptions(profile="racoon", commit_bit=True, negotiations=2),
    QMOptions(profile="strongswan", loss=True, simultaneous=True),
    QMOptions(profile="mutant-install-msg1", reorder=True, negotiations=2),
], ids=lambda o: f"{o.profile}-{o.label()}")
def test_agreement_with_several_negotiations(options: QMOptions) -> None:
    compare(options)


def test_refutations_are_found_and_saved(tmp_path: Path) -> None:
    seen = compare(options_of("loss", "libreswan"), tmp_path)
    refuted = sorted(p for p, (_, v) in seen.items() if v == "refuted")
    assert refuted == ["qm.no-black-hole", "qm.no-orphan", "qm.responder-nothing-before-msg3"]
    written = sorted(p.name for p in (tmp_path / "smt").glob("*.json"))
    assert len(written) == 3 and all(name.split("__")[0] in refuted for name in written)
