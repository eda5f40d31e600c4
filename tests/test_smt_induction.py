"""k-induction, the auxiliary invariants, counterexamples to induction and the
any-number-of-negotiations results of the SMT engine, each checked against the explicit one."""

from __future__ import annotations

import dataclasses

import pytest

from qmcheck.model.encodings.z3_quickmode import LOCAL_IDS, SAFETY_IDS, QMEncoding
from qmcheck.model.quickmode.compiled import QMModel
from qmcheck.model.quickmode.expressions import evaluate, ne, var
from qmcheck.model.quickmode.options import PROFILES, QMOptions
from qmcheck.model.quickmode.state import R_DONE
from qmcheck.properties.checks.parameterized import (
    check_locality,
    parameterized_results,
    spi_allocation_is_injective,
)
from qmcheck.properties.checks.protocol import check_protocol
from qmcheck.properties.checks.protocol_smt import smt_check
from qmcheck.properties.engines.explicit import SUMMARY, ExplicitEngine
from qmcheck.properties.engines.invariants import (
    Invariant,
    candidates,
    houdini,
    inductiveness_report,
    report_text,
)
from qmcheck.properties.engines.smt import SmtEngine

CONFIGS = [
    QMOptions(profile="hpux"),
    QMOptions(profile="racoon", loss=True, commit_bit=True),
    QMOptions(profile="libreswan", duplicate=True, reorder=True),
    QMOptions(profile="strongswan", loss=True, simultaneous=True),
    QMOptions(profile="hpux", eager_timers=True, loss=True),
]


@pytest.mark.parametrize("options", CONFIGS, ids=lambda o: f"{o.profile}-{o.label()}")
def test_kept_invariants_hold_in_every_explicitly_reachable_component(options: QMOptions) -> None:
    model = QMModel(options)
    result = houdini(QMEncoding(model))
    assert result.kept, "no invariant survived"
    engine = ExplicitEngine(model)
    locals_ = [loc for loc in engine.infos if not (len(loc) > 1 and loc[1] == SUMMARY)]
    by_name = result.by_name()
    for name in result.kept:
        expr = by_name[name].expr
        for loc in locals_:
            env = dict(zip(model.layout.names, loc, strict=True))
            assert evaluate(expr, env), (name, model.layout.describe(loc))


def test_dropped_candidates_are_explained_and_a_false_one_is_dropped() -> None:
    opts = QMOptions(profile="hpux", loss=True)
    bogus = Invariant("bogus", "R is never done", ne(var("rp"), R_DONE))
    result = houdini(QMEncoding(QMModel(opts)), [*candidates(opts, every=True), bogus])
    assert "bogus" in result.dropped and result.why["bogus"].startswith("not preserved by")
    assert "r_recv_m3" in result.why["bogus"]
    # without loss, a side never gives up; with loss that candidate must go
    assert "i-never-gives-up" in result.dropped
    assert "i-never-gives-up" in houdini(QMEncoding(QMModel(QMOptions()))).kept


def test_inductiveness_report_covers_every_action_and_invariant() -> None:
    opts = QMOptions(profile="racoon", commit_bit=True)
    result = houdini(QMEncoding(QMModel(opts)))
    cells = inductiveness_report(result, include_dropped=True)
    actions = {a.id for a in QMModel(opts).action_list}
    assert {c.action for c in cells} == actions
    assert {c.invariant for c in cells} == set(result.kept) | set(result.dropped)
    kept = [c for c in cells if c.invariant in result.kept]
    assert all(c.status in ("preserved", "disabled") for c in kept)
    for name in result.dropped:
        if result.why[name] != "fails initiation":
            assert any(c.status == "broken" for c in cells if c.invariant == name), name
    text = report_text(opts)
    assert "transition x invariant" in text and "kept" in text


def test_without_invariants_a_counterexample_to_induction_is_a_real_two_state_step() -> None:
    opts = QMOptions(profile="hpux")
    model = QMModel(opts)
    check = smt_check(opts, ["qm.agreement", "qm.no-orphan"], use_invariants=False,
                      max_bound=6, max_k=3)
    explicit = {r.property: r.verdict for r in check_protocol(opts).results}
    for r in check.results:
        cti = r.extra["counterexample_to_induction"]
        before, after = tuple(map(tuple, cti["before"])), tuple(map(tuple, cti["after"]))
        assert not model.local_checks[r.property](before[0])
        assert model.local_checks[r.property](after[0])
        succ = {(model.action_list[a].id, new) for a, new in
                model.reference_successors(before[0])}
        assert (cti["action"], after[0]) in succ
        # without invariants the proof fails: unknown, never "holds"; no false refutation
        assert r.verdict == "unknown" and explicit[r.property] == "holds"
        assert "up to bound 6" in r.message and r.extra["bound"] == 6


def test_with_invariants_every_holding_safety_property_is_one_inductive() -> None:
    for profile in PROFILES:
        opts = QMOptions(profile=profile, loss=True, reorder=True)
        holding = [r.property for r in check_protocol(opts).results
                   if r.verdict == "holds" and r.property in SAFETY_IDS]
        run = SmtEngine(QMModel(opts)).run(holding)
        proved = {p: o.depth for p, o in run.outcomes.items() if o.status == "proved"}
        assert sorted(proved) == sorted(holding) and set(proved.values()) == {1}, proved


@pytest.mark.parametrize("options", [
    QMOptions(profile="hpux", loss=True),
    QMOptions(profile="racoon", commit_bit=True, reorder=True),
    QMOptions(profile="strongswan", loss=True, simultaneous=True),
    QMOptions(profile="mutant-never-install"),
], ids=lambda o: f"{o.profile}-{o.label()}")
def test_parameterized_verdicts_match_explicit_runs_for_several_n(options: QMOptions) -> None:
    any_n = {r.property: r for r in parameterized_results(options)}
    assert "qm.eventually-installed" not in any_n
    for n in (1, 2, 3):
        run = check_protocol(options.with_(negotiations=n))
        for r in run.results:
            if r.property in any_n:
                assert any_n[r.property].verdict == r.verdict, (n, r.property)
                if r.verdict == "refuted" and r.property in LOCAL_IDS:
                    assert any_n[r.property].extra["trace_length"] == r.extra["trace_length"]


def test_parameterized_assumptions_are_checked() -> None:
    model = QMModel(QMOptions())
    assert check_locality(model) == []
    action = model.action_list[0]
    leaky = dataclasses.replace(action, guard=var("other.ip"))
    model.action_list = (leaky, *model.action_list[1:])
    assert check_locality(model) == [f"{action.id} reads other.ip"]
    assert spi_allocation_is_injective()


def test_a_solver_that_gives_up_yields_unknown_never_holds(monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    import z3

    from qmcheck.properties.engines import smt as smt_engine

    monkeypatch.setattr(smt_engine, "solve", lambda solver, *fs: (z3.unknown, None))
    check = smt_check(QMOptions(profile="hpux"), ["qm.agreement", "qm.no-orphan"], max_bound=2)
    assert [r.verdict for r in check.results] == ["unknown", "unknown"]
    assert all("timed out" in r.message and r.extra["bound"] == 2 for r in check.results)
