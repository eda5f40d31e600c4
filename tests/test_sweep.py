"""The sweep-line explorer (properties/engines/sweep.py) against the plain BFS at level none:
the same states, transitions, verdicts and witnesses on the built-in profiles, fault settings and
mutants; engine mutants that the comparison catches; the fallbacks (broken rank, hash collisions)
and the budgets (never ``holds`` past them)."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qmcheck.model.quickmode.compiled import QMModel
from qmcheck.model.quickmode.options import PROFILES, QMOptions
from qmcheck.model.quickmode.system import QuickModeSystem
from qmcheck.model.transitions.system import (
    Action,
    Measure,
    Part,
    Property,
    TransitionSystem,
    Variable,
)
from qmcheck.properties.engines import sweep, tables
from qmcheck.properties.engines.bfs import Engine, Search
from tests.test_engine_quickmode import MUTANTS

SETTINGS = (("reliable", {}), ("loss+patient", {"loss": True, "timers": "patient"}),
            ("commit+patient", {"commit_bit": True, "timers": "patient"}),
            ("dup", {"duplicate": True}))
#: N = 2 with patient timers only (eager timers at N = 2: millions of states, minutes each)
PATIENT2 = (("patient", {"timers": "patient"}),
            ("loss+reorder+patient", {"loss": True, "reorder": True, "timers": "patient"}))


def both(system: TransitionSystem, **kw: Any) -> tuple[Search, Search]:
    """The sweep's run and the BFS's run of ``system`` at level none."""
    fast = Engine(system, reduction="none", **kw).run()
    slow = Engine(system, reduction="none", sweep=False, **kw).run()
    return fast, slow


def summary(r: Search) -> tuple[object, ...]:
    return (r.states, r.transitions, r.complete,
            {k: (f.verdict, f.initial, f.path, f.cycle, f.state) for k, f in r.findings.items()})


def qm(options: QMOptions) -> TransitionSystem:
    return QuickModeSystem(QMModel(options)).system


@pytest.mark.parametrize("n,setting", [(1, s) for s in SETTINGS] + [(2, s) for s in PATIENT2],
                         ids=lambda x: x[0] if isinstance(x, tuple) else str(x))
@pytest.mark.parametrize("profile", PROFILES)
def test_sweep_equals_bfs(profile: str, setting: tuple[str, dict[str, Any]], n: int) -> None:
    fast, slow = both(qm(QMOptions(profile=profile, negotiations=n, **setting[1])))
    assert (fast.engine, slow.engine) == ("sweep", "bfs")
    assert summary(fast) == summary(slow)


@pytest.mark.parametrize("profile", MUTANTS)
def test_mutants_get_the_same_answers(profile: str) -> None:
    fast, slow = both(qm(QMOptions(profile=profile, loss=True, timers="patient")))
    assert fast.engine == "sweep"
    assert summary(fast) == summary(slow)


def test_the_sweep_decides_lifecycle_faults_and_recovery() -> None:
    from qmcheck.properties.checks.protocol import recovery_options

    for options in (QMOptions(rekeys=1, timers="patient"),
                    QMOptions(profile="racoon", loss=True, duplicate=True, reorder=True),
                    recovery_options(QMOptions(profile="racoon"))):
        fast, slow = both(qm(options))
        assert fast.engine == "sweep"
        assert summary(fast) == summary(slow)


SYSTEM = QMOptions(profile="hpux", loss=True, reorder=True, negotiations=2, timers="patient")


@pytest.mark.parametrize("mutant", ["no-dedupe", "highest-rank-first"])
def test_the_comparison_catches_engine_mutants(mutant: str, monkeypatch: Any) -> None:
    """A sweep that keeps duplicates, or that expands a rank before its predecessors, counts
    states more than once (a tree of paths: capped by a state budget here): the differential
    test above would fail."""
    system = qm(QMOptions(profile="hpux", loss=True, timers="patient"))
    slow = Engine(system, reduction="none", sweep=False).run()
    if mutant == "no-dedupe":
        monkeypatch.setattr(sweep, "dedupe", lambda a: a)
    else:
        monkeypatch.setattr(sweep.Sweep, "_next_rank", lambda self: max(self.buckets))
    fast = Engine(system, reduction="none", max_states=20 * slow.states,
                  shortest_paths=False).run()
    assert fast.engine == "sweep"
    assert fast.states > slow.states


def test_a_broken_rank_falls_back_to_the_bfs() -> None:
    qs = QuickModeSystem(QMModel(SYSTEM))
    wrong = tuple(dataclasses.replace(m, value=lambda env, v=m.value: -v(env))
                  for m in qs.system.ranks)
    engine = Engine(dataclasses.replace(qs.system, ranks=wrong), reduction="none")
    got = engine.run()
    assert engine.rank_terms is None and got.engine == "bfs"
    fast = Engine(qs.system, reduction="none").run()
    assert fast.engine == "sweep"
    assert summary(got) == summary(fast)


def counter(limit: int, step_rank: int) -> TransitionSystem:
    """x counts up to ``limit`` by 1 or 2; its rank is ``x`` (``step_rank`` 0: a constant rank,
    which the first step breaks). Terminal states are ``x`` = limit (bad if odd)."""
    def up(k: int) -> Action:
        return Action(f"up{k}", frozenset({"x"}), frozenset({"x"}),
                      lambda e, k=k: e["x"] + k <= limit, lambda e, k=k: {"x": e["x"] + k})
    return TransitionSystem(
        (Variable("x", limit + 1),), ({"x": 0},), (up(1), up(2)),
        (Property("even-end", "no-deadlock", (Part(frozenset({"x"}), lambda e: e["x"] % 2 == 0),)),
         Property("reach", "sometimes", (Part(frozenset({"x"}), lambda e: e["x"] == 3),))),
        ranks=(Measure(frozenset({"x"}), lambda e: step_rank * e["x"]),))


@pytest.mark.parametrize("limit", [4, 5])
def test_a_toy_with_a_rank_and_one_without(limit: int) -> None:
    fast, slow = both(counter(limit, 1))
    assert fast.engine == "sweep" and summary(fast) == summary(slow)
    assert fast.states == limit + 1
    verdict = fast.findings["even-end"].verdict
    assert verdict == ("holds" if limit % 2 == 0 else "refuted")
    flat = Engine(counter(limit, 0), reduction="none").run()  # rank 0 everywhere: broken
    assert flat.engine == "bfs" and summary(flat) == summary(slow)


def test_memory_budget_is_unknown_never_holds() -> None:
    r = Engine(qm(SYSTEM), reduction="none", max_memory=2_000).run()
    assert r.engine == "sweep" and not r.complete and r.stopped == "max-memory"
    verdicts = {f.verdict for f in r.findings.values()}
    assert verdicts <= {"unknown", "refuted"} and "unknown" in verdicts


def test_state_budget_is_unknown_never_holds() -> None:
    r = Engine(qm(SYSTEM), reduction="none", max_states=500).run()
    assert r.engine == "sweep" and not r.complete and r.stopped == "max-states"
    assert "holds" not in {f.verdict for f in r.findings.values()}


def test_spilled_buckets_give_the_same_run() -> None:
    fast, slow = both(qm(SYSTEM))
    peak = int(fast.bytes_per_state * fast.states)
    tight = Engine(qm(SYSTEM), reduction="none", max_memory=peak).run()
    assert tight.engine == "sweep" and tight.spilled and not fast.spilled
    assert summary(tight) == summary(slow)


def test_waiting_buckets_deduplicated_often_give_the_same_run(monkeypatch: Any) -> None:
    init = sweep.Sweep.__init__

    def tight(self: sweep.Sweep, engine: Any) -> None:
        init(self, engine)
        self.slack = 1  # deduplicate a bucket at every second arrival
    monkeypatch.setattr(sweep.Sweep, "__init__", tight)
    fast, slow = both(qm(SYSTEM))
    assert fast.engine == "sweep" and summary(fast) == summary(slow)


def test_hash_collisions_fall_back_and_agree(monkeypatch: Any) -> None:
    """With a hash that sends every key to one value the sweep cannot tell keys apart: it
    detects it and the BFS answers."""
    monkeypatch.setattr(tables, "row_hash", lambda cols, n: np.zeros(n, dtype=np.uint64))
    fast, slow = both(qm(QMOptions(loss=True, timers="patient")))
    assert fast.engine == "bfs"
    assert summary(fast) == summary(slow)


rows = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 2**64 - 1)), max_size=40)


@settings(max_examples=60, deadline=None)
@given(rows, st.booleans())
def test_dedupe_keeps_each_row_once(data: list[tuple[int, int]], collide: bool) -> None:
    a = np.array(data, dtype=np.uint64).reshape(len(data), 2)
    if collide:  # every hash equal: the exact path
        real = tables.row_hash
        tables.row_hash = lambda cols, n: np.zeros(n, dtype=np.uint64)  # type: ignore[assignment]
        try:
            got = tables.dedupe(a)
        finally:
            tables.row_hash = real
    else:
        got = tables.dedupe(a)
    assert sorted(map(tuple, got.tolist())) == sorted(set(map(tuple, a.tolist())))
