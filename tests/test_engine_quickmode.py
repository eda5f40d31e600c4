"""The generic engine on the Quick Mode model v2 (model/quickmode/system.py): manifest counts,
the three reduction levels against each other and against today's verdicts, replay of every
witness, and the shared allocators as dependencies of the stubborn sets."""

from __future__ import annotations

import csv
import dataclasses
import json
import random
from pathlib import Path

import pytest

from qmcheck.model.quickmode.compiled import QMModel
from qmcheck.model.quickmode.options import PROFILES, QMOptions
from qmcheck.model.quickmode.system import QuickModeSystem, parse_action
from qmcheck.model.transitions import semantics
from qmcheck.model.transitions.system import Part, Property, TransitionSystem
from qmcheck.properties.checks.protocol_matrix import DEFAULTS, SETTINGS
from qmcheck.properties.engines.bfs import REDUCTIONS, Engine, Search
from qmcheck.properties.engines.stubborn import StubbornSets
from qmcheck.properties.traces.counterexample import build_trace, replay

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = json.loads((ROOT / "tests" / "expected_state_counts.json").read_text())
MUTANTS = sorted(p.stem for p in (ROOT / "model" / "profiles" / "mutants").glob("*.yaml"))


def run(options: QMOptions, reduction: str, **kw: object) -> tuple[QuickModeSystem, Search]:
    qs = QuickModeSystem(QMModel(options))
    return qs, Engine(qs.system, reduction=reduction, **kw).run()  # type: ignore[arg-type]


@pytest.mark.parametrize("entry", MANIFEST["entries"], ids=lambda e: f"{e['reduction']}-" +
                         "-".join(f"{k}={v}" for k, v in sorted(e["options"].items())))
def test_counts_equal_the_manifest(entry: dict[str, object]) -> None:
    _, r = run(QMOptions(**entry["options"]), str(entry["reduction"]),  # type: ignore[arg-type]
               shortest_paths=False)
    assert r.complete
    assert (r.states, r.transitions) == (entry["states"], entry["transitions"])


@pytest.mark.parametrize("options", [
    QMOptions(loss=True, reorder=True, negotiations=2),
    QMOptions(profile="strongswan", simultaneous=True, duplicate=True, commit_bit=True),
    QMOptions(profile="mutant-constant-spi", loss=True, negotiations=2),
], ids=lambda o: f"{o.profile}-{o.label()}")
def test_system_semantics_equals_the_compiled_model(options: QMOptions) -> None:
    """On random walks the system's successors (semantics.py, from the declared read sets)
    are exactly the model's compiled successors (an undeclared read would raise)."""
    model = QMModel(options)
    qs = QuickModeSystem(model)
    rng = random.Random(11)
    for _ in range(60):
        env = dict(qs.system.initial[0])
        for _ in range(50):
            succ = semantics.successors(qs.system, env)
            state = qs.state_of(env)
            mine = sorted((parse_action(n), qs.state_of(e)) for n, e in succ)
            theirs = sorted(((c, model.action_list[a].id), t) for c, a, t in
                            model.successors(state))
            assert mine == theirs
            if not succ:
                break
            env = rng.choice(succ)[1]


def today() -> dict[tuple[str, str, str], str]:
    """The committed verdicts of docs/qm-matrix (property, profile, setting) -> verdict."""
    with (ROOT / "docs" / "qm-matrix" / "matrix.csv").open(encoding="utf-8") as f:
        return {(r["property"], r["profile"], r["setting"]): r["verdict"]
                for r in csv.DictReader(f)}


def check_witnesses(qs: QuickModeSystem, r: Search) -> None:
    """Every path replays in the generic semantics and in the model; the trace replays too."""
    for f in r.findings.values():
        if not f.path and not f.cycle:
            continue
        states = semantics.replay(qs.system, qs.system.initial[f.initial], f.path + f.cycle)
        steps = qs.steps(f.path + f.cycle)
        assert qs.state_of(states[-1]) == steps[-1][2]
        prop = next(p for p in qs.system.properties if p.id == f.property)
        hit = [semantics.test(part, states[-1]) for part in prop.parts]
        if prop.kind in ("always", "sometimes"):
            assert any(hit)
        elif not f.cycle:  # a terminal state that fails a part
            assert not semantics.successors(qs.system, states[-1]) and not all(hit)
        assert replay(build_trace(qs.model, f.property, "", steps)) == steps[-1][2]


MATRIX = [(name, p) for name, _ in SETTINGS for p in PROFILES]


@pytest.mark.parametrize(("setting", "profile"), MATRIX, ids=lambda x: str(x))
def test_three_levels_agree_on_every_profile_and_setting(setting: str, profile: str) -> None:
    """Same verdicts and the same witness paths at none, symmetry and full, each replayed;
    the verdicts are today's (docs/qm-matrix, written before the engine change)."""
    changes = dict(SETTINGS)[setting]
    options = QMOptions(profile=profile, **{k: changes.get(k, v) for k, v in DEFAULTS.items()})
    found = {}
    for level in REDUCTIONS:
        qs, r = run(options, level)
        assert r.complete
        check_witnesses(qs, r)
        found[level] = {k: (f.verdict, f.initial, f.path, f.cycle)
                        for k, f in r.findings.items()}
    assert found["none"] == found["symmetry"] == found["full"]
    committed = today()
    for pid, (verdict, *_) in found["full"].items():
        assert committed[(pid, profile, setting)] == verdict, pid


@pytest.mark.parametrize("options", [
    QMOptions(profile="hpux", loss=True, negotiations=2, timers="patient"),
    QMOptions(profile="racoon", commit_bit=True, negotiations=2, timers="patient"),
    QMOptions(profile="libreswan", reorder=True, negotiations=2, timers="patient"),
    QMOptions(profile="strongswan", simultaneous=True, timers="patient"),
    QMOptions(profile="mutant-constant-spi", negotiations=2, timers="patient"),
    QMOptions(profile="hpux", negotiations=3, timers="patient"),
], ids=lambda o: f"{o.profile}-{o.label()}")
def test_levels_agree_with_several_negotiations(options: QMOptions) -> None:
    found = {}
    sizes = {}
    for level in REDUCTIONS:
        qs, r = run(options, level)
        check_witnesses(qs, r)
        found[level] = {k: (f.verdict, f.path) for k, f in r.findings.items()}
        sizes[level] = r.states
    assert found["none"] == found["symmetry"] == found["full"]
    assert sizes["full"] < sizes["symmetry"] <= sizes["none"]


def blind(system: TransitionSystem, shared: tuple[str, ...]) -> TransitionSystem:
    """The wrong model of dependence: the shared allocators are left out of every read set,
    write set and guard set, so allocations of different negotiations look independent."""
    drop = frozenset(shared)
    acts = tuple(dataclasses.replace(a, reads=a.reads - drop, writes=a.writes - drop,
                                     guard_reads=a.enabled_by - drop) for a in system.actions)
    return dataclasses.replace(system, actions=acts)


@pytest.mark.parametrize("profile", PROFILES)
def test_shared_allocator_dependence_keeps_an_order_refutation(profile: str) -> None:
    """Simultaneous initiation: host A allocates for its initiator (negotiation 0) and for its
    responder (negotiation 1) from one allocator, so which one gets SPI 1 depends on the order.
    "Message 1 of negotiation 0 carries SPI 2" is reachable (plain BFS). Stubborn sets that
    treat the allocations as independent run negotiation 0 to its message 1 first and lose the
    refutation; the real sets (a write of kA conflicts with every access of kA) keep it."""
    qs = QuickModeSystem(QMModel(QMOptions(profile=profile, simultaneous=True,
                                           timers="patient")))
    order = Property("responder-allocated-first", "always",
                     (Part(frozenset({"n0.m1s"}), lambda e: e["n0.m1s"] == 2),))
    system = dataclasses.replace(qs.system, properties=(order,))
    verdict = {}
    for level in ("none", "full", "blind"):
        engine = Engine(system, reduction="full" if level == "blind" else level)
        if level == "blind":
            engine.stubborn = StubbornSets(blind(system, qs.shared), [order.parts[0].reads])
        verdict[level] = engine.run().findings[order.id]
    assert verdict["none"].verdict == verdict["full"].verdict == "refuted"
    assert verdict["none"].path == verdict["full"].path
    assert verdict["blind"].verdict == "holds"


def test_the_declared_rank_replaces_the_acyclicity_search() -> None:
    qs, r = run(QMOptions(loss=True, duplicate=True, reorder=True), "full")
    assert r.acyclic and qs.system.ranks


def test_a_wrong_rank_is_caught_and_the_verdicts_stay() -> None:
    """A rank that some step lowers: the engine notices, forgets it and finds the same."""
    qs = QuickModeSystem(QMModel(QMOptions(loss=True, timers="patient")))
    wrong = tuple(dataclasses.replace(m, value=lambda env, v=m.value: -v(env))
                  for m in qs.system.ranks)
    bad = dataclasses.replace(qs.system, ranks=wrong)
    good = Engine(qs.system, reduction="full").run()
    engine = Engine(bad, reduction="full")
    got = engine.run()
    assert engine.rank_terms is None
    assert {k: f.verdict for k, f in got.findings.items()} == {
        k: f.verdict for k, f in good.findings.items()}


def test_spilled_visited_set_gives_the_same_run() -> None:
    options = QMOptions(profile="hpux", loss=True, negotiations=2, timers="patient")
    _, plain = run(options, "none", sweep=False)  # the BFS's visited set (sweep: test_sweep)
    _, tight = run(options, "none", max_memory=3_000_000, sweep=False)
    assert tight.compressed and tight.spilled and tight.complete
    assert (tight.states, tight.transitions) == (plain.states, plain.transitions)
    assert {k: (f.verdict, f.path) for k, f in tight.findings.items()} == {
        k: (f.verdict, f.path) for k, f in plain.findings.items()}
    assert tight.bytes_per_state < 0.5 * plain.bytes_per_state


def test_two_runs_are_identical() -> None:
    options = QMOptions(profile="racoon", loss=True, reorder=True, negotiations=2,
                        timers="patient")
    one = run(options, "full")[1]
    two = run(options, "full")[1]
    assert (one.states, one.transitions, one.findings) == (two.states, two.transitions,
                                                           two.findings)


def test_state_budget_is_unknown_never_holds() -> None:
    _, r = run(QMOptions(loss=True, negotiations=2), "full", max_states=200)
    assert not r.complete
    assert {f.verdict for f in r.findings.values()} <= {"unknown", "refuted"}
    assert "unknown" in {f.verdict for f in r.findings.values()}


@pytest.mark.parametrize("profile", MUTANTS)
def test_mutants_get_the_same_verdicts_at_every_level(profile: str) -> None:
    options = QMOptions(profile=profile, loss=True, timers="patient")
    found = {level: {k: (f.verdict, f.path) for k, f in run(options, level)[1].findings.items()}
             for level in REDUCTIONS}
    assert found["none"] == found["symmetry"] == found["full"]


def test_representatives_do_not_depend_on_construction_order() -> None:
    """Symmetry: starting negotiations in another order gives the same representative."""
    qs = QuickModeSystem(QMModel(QMOptions(loss=True, negotiations=3)))
    engine = Engine(qs.system, reduction="symmetry")
    env = dict(qs.system.initial[0])
    one = semantics.replay(qs.system, env, ["n0:i_start", "n1:i_start"])[-1]
    two = semantics.replay(qs.system, env, ["n2:i_start", "n0:i_start"])[-1]
    assert one != two
    pack = engine.packing.pack
    assert engine.canon(pack(one)) == engine.canon(pack(two))


def test_progress_reports_states_per_second() -> None:
    lines: list[str] = []
    qs = QuickModeSystem(QMModel(QMOptions(loss=True, negotiations=2, timers="patient")))
    Engine(qs.system, reduction="none", progress=lines.append, progress_every=0.0).run()
    assert lines and "states/s" in lines[0]
