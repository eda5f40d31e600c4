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
    QMOptions(loss=True, reorder=True, negotiations=2),
    QMOptions(profile="racoon", loss=True, commit_bit=True, negotiations=2),
    QMOptions(profile="libreswan", reorder=True, duplicate=True, negotiations=2),
    QMOptions(profile="strongswan", loss=True, simultaneous=True),
], ids=lambda o: f"{o.profile}-{o.label()}")
def test_reductions_give_the_same_verdicts_as_full_interleaving(options: QMOptions) -> None:
    results = {mode: verdicts(*explore(options, mode)) for mode in ("reduced", "symmetry", "none")}
    assert results["reduced"] == results["symmetry"] == results["none"]


def test_reduction_keeps_every_local_state_of_every_negotiation() -> None:
    opts = QMOptions(profile="hpux", loss=True, negotiations=2)
    seen: dict[str, set[tuple[int, ...]]] = {}
    for mode in ("reduced", "none"):
        engine, ex = explore(opts, mode)
        seen[mode] = {c for s in ex.parents for c in s if len(c) > 8}
    # every non-final local state that full interleaving reaches, the reduced run reaches too
    engine, _ = explore(opts, "reduced")
    nonfinal = {c for c in seen["none"] if engine.infos[c].succ}
    assert nonfinal <= seen["reduced"]


def test_fingerprints_do_not_depend_on_construction_order() -> None:
    engine, _ = explore(QMOptions(loss=True, negotiations=3))
    model = engine.model
    s = model.init_states()[0]
    a = model.next_state(s, (0, "i_send_m1"))
    a = model.next_state(a, (1, "i_send_m1"))
    b = model.next_state(s, (2, "i_send_m1"))
    b = model.next_state(b, (0, "i_send_m1"))
    assert a != b
    assert engine.canonical(a) == engine.canonical(b)
    assert hash(engine.canonical(a)) == hash(engine.canonical(b))


def test_two_runs_are_identical() -> None:
    opts = QMOptions(profile="racoon", loss=True, reorder=True, negotiations=2)
    _, one = explore(opts)
    _, two = explore(opts)
    assert list(one.parents) == list(two.parents)
    assert one.first_bad == two.first_bad


def test_the_local_graph_is_acyclic_so_liveness_reads_terminal_states() -> None:
    engine, ex = explore(QMOptions(loss=True, duplicate=True, reorder=True))
    assert engine.acyclic and ex.local_acyclic and ex.reduced


def test_state_budget_makes_the_run_incomplete() -> None:
    engine = ExplicitEngine(QMModel(QMOptions(loss=True, negotiations=2)), max_states=50)
    ex = engine.explore()
    assert not ex.complete


def test_progress_reports_states_per_second() -> None:
    lines: list[str] = []
    engine = ExplicitEngine(QMModel(QMOptions(loss=True, reorder=True, negotiations=2)),
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

    engine = ExplicitEngine(QMModel(QMOptions(loss=True)))
    model = engine.model
    s = engine.canonical(model.next_state(model.init_states()[0], (0, "i_send_m1")))
    lose = model.action_index["lose_ir@0"]
    recv = model.action_index["r_recv_m1@0"]
    ex = Exploration()
    ex.graph = nx.DiGraph()
    ex.graph.add_edge(s, s, step=(0, lose))  # losing forever starves the receive: unfair
    assert fair_bad_cycle(ex, engine) is None
    ex.graph.add_edge(s, s, step=(0, recv))  # (a self-loop that takes the receive): fair
    assert fair_bad_cycle(ex, engine) == s
