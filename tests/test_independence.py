"""Block-local dependency for the stubborn sets (properties/engines/independence.py): what it
removes, what it must keep, and the wrong models that lose a refutation."""

from __future__ import annotations

from dataclasses import replace

import pytest

from qmcheck.model.quickmode.compiled import QMModel
from qmcheck.model.quickmode.options import QMOptions
from qmcheck.model.quickmode.system import QuickModeSystem
from qmcheck.model.transitions.system import Action, Part, Property, TransitionSystem, Variable
from qmcheck.properties.engines import independence
from qmcheck.properties.engines.bfs import Engine
from qmcheck.properties.engines.independence import refine
from qmcheck.properties.engines.stubborn import StubbornSets

ALL = frozenset({"p0", "p1", "p2"})


def steps_reading_everything() -> TransitionSystem:
    """Three counters whose steps declare that they read every counter (as the Quick Mode
    system declares whole-block reads): by read/write sets all dependent, by behaviour not."""
    return TransitionSystem(
        tuple(Variable(f"p{i}", 3) for i in range(3)), ({"p0": 0, "p1": 0, "p2": 0},),
        tuple(Action(f"step{i}", ALL, frozenset({f"p{i}"}),
                     lambda e, i=i: e[f"p{i}"] < 2, lambda e, i=i: {f"p{i}": e[f"p{i}"] + 1})
              for i in range(3)),
        (Property("no-deadlock", "no-deadlock", ()),))


def test_behaviour_makes_declared_reads_independent() -> None:
    system = steps_reading_everything()
    none = Engine(system, reduction="none").run()
    full = Engine(system, reduction="full").run()
    assert none.states == 27
    assert full.states == 7  # one counter after another, as with exact read sets
    assert none.findings["no-deadlock"].verdict == full.findings["no-deadlock"].verdict \
        == "refuted"
    # the read/write rule alone (no refinement) keeps every interleaving
    static = Engine(system, reduction="full")
    static.stubborn = StubbornSets(system, [])
    assert static.run().states == 27


def order_matters() -> TransitionSystem:
    """``a``: x += 1; ``b``: y := x. Both orders end in different states, and only b-then-a
    leaves y = 0, which the eventually property refutes."""
    vs = frozenset({"x", "y", "fa", "fb"})
    acts = (
        Action("a", vs, frozenset({"x", "fa"}), lambda e: e["fa"] == 0,
               lambda e: {"x": e["x"] + 1, "fa": 1}),
        Action("b", vs, frozenset({"y", "fb"}), lambda e: e["fb"] == 0,
               lambda e: {"y": e["x"], "fb": 1}),
    )
    goal = Property("y-set", "eventually", (Part(frozenset({"y"}), lambda e: e["y"] == 1),))
    return TransitionSystem(
        (Variable("x", 2), Variable("y", 2), Variable("fa", 2), Variable("fb", 2)),
        ({"x": 0, "y": 0, "fa": 0, "fb": 0},), acts, (goal,))


def test_actions_whose_orders_differ_stay_dependent() -> None:
    system = order_matters()
    engine = Engine(system, reduction="full")
    refined = refine(engine)
    assert refined.dependent[0] == 0b10 and refined.dependent[1] == 0b01
    assert engine.run().findings["y-set"].verdict == "refuted"
    assert Engine(system, reduction="none").run().findings["y-set"].verdict == "refuted"
    # the wrong model: a refinement that forgets the commutation check runs a before b only
    wrong = Engine(system, reduction="full")
    blind = replace(refined, dependent={0: 0, 1: 0}, live=[])
    wrong.stubborn = StubbornSets(system, [], blind)
    assert wrong.run().findings["y-set"].verdict == "holds"


def enabling_matters() -> TransitionSystem:
    """``a`` enables ``c``; ``b`` and ``c`` disable each other. Only a-then-c ends with z = 2.
    Declared reads make everything dependent; the enabling relation must survive (D2)."""
    vs = frozenset({"pa", "pc", "z", "fb"})
    acts = (
        Action("b", vs, frozenset({"z", "fb"}), lambda e: e["fb"] == 0 and e["pc"] == 0,
               lambda e: {"z": 1, "fb": 1}),
        Action("a", vs, frozenset({"pa"}), lambda e: e["pa"] == 0, lambda e: {"pa": 1}),
        Action("c", vs, frozenset({"z", "pc"}),
               lambda e: e["pa"] == 1 and e["pc"] == 0 and e["fb"] == 0,
               lambda e: {"z": 2, "pc": 1}),
    )
    goal = Property("z-one", "eventually", (Part(frozenset({"z"}), lambda e: e["z"] == 1),))
    return TransitionSystem(
        (Variable("pa", 2), Variable("pc", 2), Variable("z", 3), Variable("fb", 2)),
        ({"pa": 0, "pc": 0, "z": 0, "fb": 0},), acts, (goal,))


def test_enablers_come_from_behaviour() -> None:
    system = enabling_matters()
    engine = Engine(system, reduction="full")
    refined = refine(engine)
    assert refined.enablers[2] == 0b010  # only a turns c on
    verdicts = {lvl: Engine(system, reduction=lvl).run().findings["z-one"].verdict
                for lvl in ("none", "symmetry", "full")}
    assert set(verdicts.values()) == {"refuted"}  # a, c ends with z = 2
    # the wrong model: no enablers, so b's set leaves a out and runs b first, for good
    wrong = Engine(system, reduction="full")
    wrong.stubborn = StubbornSets(system, [], replace(refined, enablers={0: 0, 1: 0, 2: 0},
                                                      live=[]))
    assert wrong.run().findings["z-one"].verdict == "holds"


def test_one_configuration_per_quiet_local_value_gives_the_same_tables(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The shortcut (shared values skipped where no enabled action reads or writes them)
    changes the cost, not the tables, on the Quick Mode system with its shared allocators."""
    qs = QuickModeSystem(QMModel(QMOptions(profile="hpux", loss=True, max_losses=1,
                                           negotiations=2, timers="patient")))
    tables = []
    for shortcut in (True, False):
        monkeypatch.setattr(independence, "SHORTCUT", shortcut)
        r = independence.refine(Engine(qs.system, reduction="symmetry"))
        tables.append(((r.block_of, r.dependent, r.enablers, r.visible, r.live),
                       r.configurations))
    assert tables[0][0] == tables[1][0]
    assert tables[0][1] < tables[1][1]
    assert len(tables[0][0][0]) == len(qs.system.actions)  # both negotiations are refined
