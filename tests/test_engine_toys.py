"""The generic engine on toy systems: hand-derived counts, replayed witnesses, sound POR."""

from __future__ import annotations

from dataclasses import replace

import pytest

from qmcheck.model.transitions import semantics
from qmcheck.model.transitions.system import Action, TransitionSystem, Variable
from qmcheck.properties.engines.bfs import REDUCTIONS, Engine, Search, graph_dot
from tests.toy_systems import buggy_mutex, shared_counter, token_ring


def run(system: TransitionSystem, reduction: str = "none", **kw: object) -> Search:
    return Engine(system, reduction=reduction, **kw).run()  # type: ignore[arg-type]


@pytest.mark.parametrize("n", [2, 3, 5])
def test_token_ring_has_2n_states_and_2n_transitions(n: int) -> None:
    r = run(token_ring(n))
    assert (r.states, r.transitions) == (2 * n, 2 * n)
    assert {f.verdict for f in r.findings.values()} == {"holds"}
    assert r.acyclic is False  # the ring is one cycle: fairness was checked on the graph


def test_token_ring_symmetry_with_a_renamed_token_halves_the_ring() -> None:
    assert run(token_ring(2, symmetric=True), "symmetry").states == 2
    assert run(token_ring(2, symmetric=True), "none").states == 4


@pytest.mark.parametrize("reduction, states, transitions", [
    ("none", 13, 14), ("symmetry", 8, 9)])
def test_shared_counter_counts(reduction: str, states: int, transitions: int) -> None:
    r = run(shared_counter(symmetric=True), reduction)
    assert (r.states, r.transitions) == (states, transitions)


@pytest.mark.parametrize("reduction, states, transitions", [
    ("none", 9, 16), ("symmetry", 6, 9)])
def test_buggy_mutex_counts(reduction: str, states: int, transitions: int) -> None:
    r = run(buggy_mutex(symmetric=True), reduction)
    assert (r.states, r.transitions) == (states, transitions)


def replay_final(system: TransitionSystem, initial: int, path: tuple[str, ...]) -> dict[str, int]:
    return semantics.replay(system, system.initial[initial], path)[-1]


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_counterexamples_are_shortest_and_replay(reduction: str) -> None:
    system = buggy_mutex(symmetric=True)
    f = run(system, reduction).findings["mutex"]
    assert f.verdict == "refuted" and len(f.path) == 4
    final = replay_final(system, f.initial, f.path)
    assert final["pc0"] == 2 and final["pc1"] == 2
    counter = shared_counter(symmetric=True)
    g = run(counter, reduction).findings["final-two"]
    final = replay_final(counter, g.initial, g.path)
    assert g.verdict == "refuted" and (final["pc0"], final["pc1"], final["x"]) == (2, 2, 1)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_liveness_needs_fairness_and_the_lasso_replays(reduction: str) -> None:
    fair = run(buggy_mutex(symmetric=True), reduction).findings["zero-enters"]
    assert fair.verdict == "holds"
    system = buggy_mutex(symmetric=True, fair_try=False)
    f = run(system, reduction).findings["zero-enters"]
    assert f.verdict == "refuted" and f.cycle
    states = semantics.replay(system, system.initial[f.initial], f.path + f.cycle)
    loop = states[len(f.path):]
    assert loop[0] == loop[-1]  # the cycle returns to where it started
    assert all(s["pc0"] != 2 for s in loop)  # and process 0 never enters on it
    # every fair action enabled on the loop is taken on it
    taken = set(f.cycle)
    fair_names = {a.name for a in system.actions if a.fair}
    enabled = {n for s in loop for n, _ in semantics.successors(system, s)}
    assert enabled & fair_names <= taken


def test_stubborn_sets_stay_sound_when_components_share_a_variable() -> None:
    """Naive independence ("writers share nothing": run one at a time) loses the lost update."""
    counter = shared_counter()
    # only the terminal-state property: no visibility condition forces full expansion
    system = replace(counter, properties=tuple(p for p in counter.properties
                                               if p.id == "ends-at-two"))
    real = Engine(system, reduction="full")
    assert real.run().findings["ends-at-two"].verdict == "refuted"
    naive = Engine(system, reduction="full")
    stub = naive.stubborn
    assert stub is not None
    own = [0b0011, 0b0011, 0b1100, 0b1100]  # read0 write0 | read1 write1
    stub.conflicts = [c & own[i] for i, c in enumerate(stub.conflicts)]
    stub.enablers = [c & own[i] for i, c in enumerate(stub.enablers)]
    stub.cache.clear()
    missed = naive.run()
    assert missed.findings["ends-at-two"].verdict == "holds"  # the bug the real POR finds
    assert missed.states < real.run().states


def test_partial_order_reduction_removes_interleavings_of_independent_processes() -> None:
    ring = token_ring(3)
    procs = TransitionSystem(
        tuple(Variable(f"p{i}", 3) for i in range(3)), ({"p0": 0, "p1": 0, "p2": 0},),
        tuple(Action(f"step{i}", frozenset({f"p{i}"}), frozenset({f"p{i}"}),
                     lambda e, i=i: e[f"p{i}"] < 2, lambda e, i=i: {f"p{i}": e[f"p{i}"] + 1})
              for i in range(3)), ring.properties[2:])
    assert run(procs, "none").states == 27
    full = run(procs, "full")
    assert full.states == 7  # one process after another: 1 + 2 + 2 + 2
    assert full.findings["no-deadlock"].verdict == "refuted"  # the end state is terminal


def test_budgets_give_unknown_never_holds() -> None:
    r = run(token_ring(5), max_states=3)
    assert not r.complete and r.stopped == "max-states"
    assert r.findings["mutex"].verdict == "unknown"


def test_memory_budget_compresses_with_identical_results() -> None:
    system = shared_counter()
    plain = run(system)
    tight = run(system, max_memory=1200)
    assert tight.compressed and not plain.compressed
    assert (tight.states, tight.transitions) == (plain.states, plain.transitions)
    assert {k: (f.verdict, f.path) for k, f in tight.findings.items()} == {
        k: (f.verdict, f.path) for k, f in plain.findings.items()}
    assert tight.bytes_per_state < plain.bytes_per_state


def test_memory_budget_too_small_for_one_layer_is_unknown() -> None:
    r = run(token_ring(3), max_memory=10)
    assert not r.complete and r.stopped == "max-memory"
    assert {f.verdict for f in r.findings.values()} == {"unknown"}


def test_runs_are_deterministic_and_dot_lists_every_state() -> None:
    a = run(buggy_mutex(), "none", build_graph=True)
    b = run(buggy_mutex(), "none", build_graph=True)
    engine = Engine(buggy_mutex(), reduction="none", build_graph=True)
    dot = graph_dot(engine.run(), engine)
    assert graph_dot(a, engine) == graph_dot(b, engine) == dot
    assert dot.count("[label=\"pc0=") == 9 and dot.count(" -> ") == 16


def test_an_undeclared_read_is_an_error_not_a_silent_value() -> None:
    bad = TransitionSystem(
        (Variable("x", 2), Variable("y", 2)), ({"x": 0, "y": 0},),
        (Action("sneaky", frozenset({"x"}), frozenset({"x"}), lambda e: e["y"] == 0,
                lambda e: {"x": 1}),))
    with pytest.raises(ValueError, match="undeclared"):
        run(bad)
