"""k-induction, the auxiliary invariants, counterexamples to induction and the
any-number-of-negotiations results of the SMT engine, each checked against the explicit one."""

from __future__ import annotations

import dataclasses

import pytest

from qmcheck.model.encodings.z3_quickmode import LOCAL_IDS, SAFETY_IDS, QMEncoding
from qmcheck.model.quickmode.compiled import QMModel
from qmcheck.model.quickmode.expressions import evaluate, ne, var
from qmcheck.model.quickmode.options import QMOptions
from qmcheck.model.quickmode.state import R_DONE
from qmcheck.model.quickmode.system import QuickModeSystem
from qmcheck.properties.checks.parameterized import (
    check_allocations,
    check_locality,
    check_shared,
    parameterized_results,
)
from qmcheck.properties.checks.protocol import check_protocol
from qmcheck.properties.checks.protocol_smt import smt_check
from qmcheck.properties.engines.bfs import Engine
from qmcheck.properties.engines.invariants import (
    Invariant,
    candidates,
    houdini,
    inductiveness_report,
    report_text,
)
from qmcheck.properties.engines.smt import SmtEngine

# The v2 model is bigger: a few configurations keep CI time reasonable.
CONFIGS = [
    QMOptions(profile="hpux", timers="patient"),
    QMOptions(profile="racoon", commit_bit=True, timers="patient"),
    QMOptions(profile="strongswan", simultaneous=True, timers="patient"),
]


@pytest.mark.parametrize("options", CONFIGS, ids=lambda o: f"{o.profile}-{o.label()}")
def test_kept_invariants_hold_in_every_explicitly_reachable_component(options: QMOptions) -> None:
    model = QMModel(options)
    result = houdini(QMEncoding(model))
    assert result.kept, "no invariant survived"
    qs = QuickModeSystem(model)
    engine = Engine(qs.system, reduction="symmetry", build_graph=True, shortest_paths=False)
    search = engine.run()
    assert search.complete
    states = [qs.state_of(engine.packing.unpack(s)) for s in search.graph.nodes]
    pairs = {(loc, s[-1]) for s in states for loc in s[:-1]}
    by_name = result.by_name()
    names = model.layout.names + model.layout.shared_names
    for name in result.kept:
        expr = by_name[name].expr
        for loc, kern in pairs:
            env = dict(zip(names, loc + kern, strict=True))
            assert evaluate(expr, env), (name, model.layout.describe(loc))


def test_dropped_candidates_are_explained_and_a_false_one_is_dropped() -> None:
    opts = QMOptions(profile="hpux", loss=True, timers="patient")
    bogus = Invariant("bogus", "R is never done", ne(var("rp"), R_DONE))
    every = [i for i in candidates(opts, every=True) if not i.name.startswith("mined")]
    result = houdini(QMEncoding(QMModel(opts)), [*every, bogus])
    assert "bogus" in result.dropped and result.why["bogus"].startswith("not preserved by")
    assert "r_m3_1_install-out" in result.why["bogus"]
    # without loss, a side never gives up; with loss that candidate must go
    assert "i-never-gives-up" in result.dropped


def test_inductiveness_report_covers_every_action_and_invariant() -> None:
    opts = QMOptions(profile="racoon", commit_bit=True, timers="patient")
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
    opts = QMOptions(profile="hpux", timers="patient")
    model = QMModel(opts)
    check = smt_check(opts, ["qm.agreement", "qm.no-orphan"], use_invariants=False,
                      max_bound=6, max_k=3)
    explicit = {r.property: r.verdict for r in check_protocol(opts).results}
    for r in check.results:
        cti = r.extra["counterexample_to_induction"]
        before, after = tuple(map(tuple, cti["before"])), tuple(map(tuple, cti["after"]))
        assert not model.local_checks[r.property](before[0])
        assert model.local_checks[r.property](after[0])
        succ = {(model.action_list[a].id, new) for a, new, _ in
                model.reference_successors(before[0], before[-1])}
        assert (cti["action"], after[0]) in succ
        # without invariants the proof fails: unknown, never "holds"; no false refutation
        assert r.verdict == "unknown" and explicit[r.property] == "holds"
        assert "up to bound 6" in r.message and r.extra["bound"] == 6


def test_what_k_induction_proves_holds_in_the_explicit_engine() -> None:
    """Soundness: a property the SMT engine proves is never refuted by the explicit one; and
    completeness here: with the mined invariants and the kernel floor, every safety property
    the explicit engine proves on hpux (patient timers) is proved by k-induction."""
    opts = QMOptions(profile="hpux", timers="patient")
    explicit = {r.property: r.verdict for r in check_protocol(opts).results}
    run = SmtEngine(QMModel(opts)).run([p for p in SAFETY_IDS])
    proved = [p for p, o in run.outcomes.items() if o.status == "proved"]
    assert "qm.responder-installs-after-msg3" in proved
    assert all(explicit[p] == "holds" for p in proved)
    assert all(explicit[p] == "refuted" for p, o in run.outcomes.items() if o.status == "cex")
    assert sorted(proved) == sorted(p for p in SAFETY_IDS if explicit[p] == "holds")


def test_parameterized_verdicts_match_explicit_runs_for_several_n() -> None:
    opts = QMOptions(profile="libreswan", timers="patient")
    ids = ["qm.responder-installs-after-msg3", "qm.responder-nothing-before-msg3",
           "qm.spi-unique", "qm.no-black-hole"]
    any_n = {r.property: r for r in parameterized_results(opts, ids)}
    assert any_n["qm.no-black-hole"].verdict == "unknown"  # needs A5, not checked
    for n in (1, 2):
        for r in check_protocol(opts.with_(negotiations=n), ids).results:
            if any_n[r.property].verdict != "unknown":
                assert any_n[r.property].verdict == r.verdict, (n, r.property)
                if r.verdict == "refuted" and r.property in LOCAL_IDS:
                    assert any_n[r.property].extra["trace_length"] == r.extra["trace_length"]


def test_parameterized_assumptions_are_checked_and_mutants_break_them() -> None:
    model = QMModel(QMOptions())
    assert check_locality(model) == [] and check_shared(model) == []
    assert check_allocations(model) == []
    action = model.action_list[0]
    leaky = dataclasses.replace(action, guard=var("other.ip"))
    peeking = dataclasses.replace(action, guard=var("kA"))
    model.action_list = (leaky, *model.action_list[1:])
    assert check_locality(model) == [f"{action.id} reads other.ip"]
    model.action_list = (peeking, *model.action_list[1:])
    assert check_shared(model) == [f"{action.id}'s guard reads kA"]
    constant = QMModel(QMOptions(profile="mutant-constant-spi"))
    assert check_allocations(constant)
    any_n = parameterized_results(QMOptions(profile="mutant-constant-spi", timers="patient"),
                                  ["qm.spi-unique"])
    assert any_n[0].verdict == "refuted" and "A3 fails" in any_n[0].message


def test_a_solver_that_gives_up_yields_unknown_never_holds(monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    import z3

    from qmcheck.properties.engines import smt as smt_engine

    monkeypatch.setattr(smt_engine, "solve", lambda solver, *fs: (z3.unknown, None))
    check = smt_check(QMOptions(profile="hpux", timers="patient"),
                      ["qm.agreement", "qm.no-orphan"], max_bound=2)
    assert [r.verdict for r in check.results] == ["unknown", "unknown"]
    assert all("timed out" in r.message and r.extra["bound"] == 2 for r in check.results)
