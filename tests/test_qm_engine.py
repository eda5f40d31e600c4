"""The explicit engine: exact state counts, reductions that agree, canonical fingerprints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qmcheck.model.quickmode.compiled import QMModel
from qmcheck.model.quickmode.options import QMOptions
from qmcheck.properties.engines.explicit import ExplicitEngine, Exploration

MANIFEST = json.loads((Path(__file__).parent / "expected_state_counts.json").read_text())


def explore(options: QMOptions, mode: str = "reduced") -> tuple[ExplicitEngine, Exploration]:
    engine = ExplicitEngine(QMModel(options), por=(mode == "reduced"),
                            symmetry=(mode != "none"))
    return engine, engine.explore()


@pytest.mark.parametrize("entry", MANIFEST["entries"],
                         ids=lambda e: f"{e['reduction']}-" + "-".join(
                             f"{k}={v}" for k, v in sorted(e["options"].items())))
def test_state_counts_match_the_manifest(entry: dict[str, object]) -> None:
    _, ex = explore(QMOptions(**entry["options"]), str(entry["reduction"]))  # type: ignore[arg-type]
    assert ex.complete
    assert (ex.states, ex.transitions, ex.local_states) == (
        entry["states"], entry["transitions"], entry["local_states"])


def verdicts(engine: ExplicitEngine, ex: Exploration) -> dict[str, object]:
    goal_all_terminal = ex.bad_terminal is None
    return {"bad": sorted(ex.first_bad), "goal": ex.goal_state is not None,
            "eventually": goal_all_terminal, "deadlock": ex.deadlock is not None}


@pytest.mark.parametrize("options", [
    QMOptions(loss=True, negotiations=2, timers="patient"),
    QMOptions(profile="racoon", commit_bit=True, negotiations=2, timers="patient"),
    QMOptions(profile="libreswan", reorder=True, negotiations=2, timers="patient"),
    QMOptions(profile="strongswan", simultaneous=True, timers="patient"),
    QMOptions(profile="mutant-constant-spi", negotiations=2, timers="patient"),
], ids=lambda o: f"{o.profile}-{o.label()}")
def test_reductions_give_the_same_verdicts_as_full_interleaving(options: QMOptions) -> None:
    results = {mode: verdicts(*explore(options, mode)) for mode in ("reduced", "symmetry", "none")}
    assert results["reduced"] == results["symmetry"] == results["none"]


def test_shared_kernel_state_turns_partial_order_reduction_off() -> None:
    """Negotiations share the hosts' SPI allocators: the engine's partial-order reduction
    (which assumes independent components) would be unsound, so it falls back to symmetry."""
    engine, ex = explore(QMOptions(negotiations=2, timers="patient"), "reduced")
    assert engine.generic and not engine.reduced and not ex.reduced
    _, sym = explore(QMOptions(negotiations=2, timers="patient"), "symmetry")
    assert (ex.states, ex.transitions) == (sym.states, sym.transitions)


def test_fingerprints_do_not_depend_on_construction_order() -> None:
    engine = ExplicitEngine(QMModel(QMOptions(loss=True, negotiations=3)))
    model = engine.model
    s = model.init_states()[0]
    a = model.next_state(s, (0, "i_start"))
    a = model.next_state(a, (1, "i_start"))
    b = model.next_state(s, (2, "i_start"))
    b = model.next_state(b, (0, "i_start"))
    assert a != b
    assert engine.canonical(a) == engine.canonical(b)
    assert hash(engine.canonical(a)) == hash(engine.canonical(b))


def test_two_runs_are_identical() -> None:
    opts = QMOptions(profile="racoon", loss=True, reorder=True, negotiations=2,
                     timers="patient")
    _, one = explore(opts)
    _, two = explore(opts)
    assert list(one.parents) == list(two.parents)
    assert one.first_bad == two.first_bad


def test_the_model_is_acyclic_so_liveness_reads_terminal_states() -> None:
    """Declared by the model's rank (tests/test_qm_model.py checks every step raises it)."""
    engine, ex = explore(QMOptions(loss=True, duplicate=True, reorder=True))
    assert engine.acyclic and ex.local_acyclic


def test_state_budget_makes_the_run_incomplete() -> None:
    engine = ExplicitEngine(QMModel(QMOptions(loss=True, negotiations=2)), max_states=50)
    ex = engine.explore()
    assert not ex.complete


def test_progress_reports_states_per_second() -> None:
    lines: list[str] = []
    engine = ExplicitEngine(QMModel(QMOptions(loss=True, negotiations=2, timers="patient")),
                            por=False, progress=lines.append, progress_every=0.0)
    engine.explore()
    assert lines and "states/s" in lines[0]


def test_graph_is_built_only_on_request_and_fair_cycle_check_runs() -> None:
    from qmcheck.properties.engines.explicit import fair_bad_cycle

    engine = ExplicitEngine(QMModel(QMOptions(loss=True)), build_graph=True)
    ex = engine.explore()
    assert ex.graph is not None and ex.graph.number_of_nodes() == ex.states
    assert fair_bad_cycle(ex, engine) is None  # acyclic: no cycle at all
    _, plain = explore(QMOptions(loss=True))
    assert plain.graph is None


def test_fair_cycle_needs_every_enabled_protocol_action_taken() -> None:
    import networkx as nx

    from qmcheck.properties.engines.explicit import fair_bad_cycle

    engine = ExplicitEngine(QMModel(QMOptions(loss=True, timers="patient")))
    model = engine.model
    s = model.init_states()[0]
    for step in ("i_start", "i_start_0_larval-in", "i_start_1_larval-out",
                 "i_start_2_send-m1"):
        s = model.next_state(s, (0, step))
    s = engine.canonical(s)
    lose = model.action_index["lose_ir@0"]
    recv = model.action_index["r_recv_m1@0"]
    ex = Exploration()
    ex.graph = nx.DiGraph()
    ex.graph.add_edge(s, s, step=(0, lose))  # losing forever starves the receive: unfair
    assert fair_bad_cycle(ex, engine) is None
    ex.graph.add_edge(s, s, step=(0, recv))  # (a self-loop that takes the receive): fair
    assert fair_bad_cycle(ex, engine) == s
