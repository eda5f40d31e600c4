"""The generic engine on the current Quick Mode model: manifest counts, verdicts, replay."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qmcheck.model.quickmode.compiled import QMModel
from qmcheck.model.quickmode.options import PROFILES, QMOptions
from qmcheck.model.transitions import semantics
from qmcheck.properties.checks.protocol_matrix import SETTINGS
from qmcheck.properties.engines.bfs import REDUCTIONS, Engine, Search
from qmcheck.properties.engines.explicit import ExplicitEngine
from qmcheck.properties.engines.quickmode_system import QuickModeSystem
from qmcheck.properties.traces.counterexample import build_trace, replay

pytestmark = pytest.mark.skip(reason="the generic engine's adapter targets the v1 Quick Mode "
                              "model; wiring v2 is open (issue 11)")

MANIFEST = json.loads((Path(__file__).parent / "expected_state_counts.json").read_text())
#: the manifest's "none" and "symmetry" counts are those of the plain product; its "reduced"
#: counts (the legacy engine's POR + dead variables) are those of reduction "full": stubborn
#: sets with the started-first choice and dead-block summaries reach exactly the same states
LEVEL = {"none": "none", "symmetry": "symmetry", "reduced": "full"}


def run(options: QMOptions, reduction: str, **kw: object) -> tuple[QuickModeSystem, Search]:
    qs = QuickModeSystem(QMModel(options))
    return qs, Engine(qs.system, reduction=reduction, **kw).run()  # type: ignore[arg-type]


@pytest.mark.parametrize("entry", MANIFEST["entries"], ids=lambda e: f"{e['reduction']}-" +
                         "-".join(f"{k}={v}" for k, v in sorted(e["options"].items())))
def test_counts_equal_the_manifest(entry: dict[str, object]) -> None:
    level = LEVEL[str(entry["reduction"])]
    _, r = run(QMOptions(**entry["options"]), level)  # type: ignore[arg-type]
    assert r.complete
    assert (r.states, r.transitions) == (entry["states"], entry["transitions"])


def old_verdicts(options: QMOptions) -> dict[str, str]:
    """The old engine's verdicts (symmetry only: its plain BFS)."""
    engine = ExplicitEngine(QMModel(options), por=False, symmetry=True)
    ex = engine.explore()
    out = {pid: ("refuted" if pid in ex.first_bad else "holds")
           for pid in (*QuickModeSystem.LOCAL, "qm.spi-unique")}
    out["qm.no-deadlock"] = "refuted" if ex.deadlock is not None else "holds"
    out["qm.eventually-installed"] = "refuted" if ex.bad_terminal is not None else "holds"
    out["qm.reachable-installed"] = "holds" if ex.goal_state is not None else "refuted"
    return out


SUBSET = [QMOptions(profile=p, **flags) for p in PROFILES for _, flags in SETTINGS]


@pytest.mark.parametrize("options", SUBSET, ids=lambda o: f"{o.profile}-{o.label()}")
def test_three_reductions_agree_with_each_other_and_the_old_engine(options: QMOptions) -> None:
    verdicts = {red: {k: f.verdict for k, f in run(options, red)[1].findings.items()}
                for red in REDUCTIONS}
    assert verdicts["none"] == verdicts["symmetry"] == verdicts["full"] == old_verdicts(options)


@pytest.mark.parametrize("options", [
    QMOptions(profile="hpux", loss=True, reorder=True, negotiations=2),
    QMOptions(profile="racoon", loss=True, commit_bit=True, negotiations=2),
    QMOptions(profile="strongswan", loss=True, simultaneous=True),
], ids=lambda o: f"{o.profile}-{o.label()}")
def test_reductions_agree_with_several_negotiations(options: QMOptions) -> None:
    verdicts = {red: {k: f.verdict for k, f in run(options, red)[1].findings.items()}
                for red in REDUCTIONS}
    assert verdicts["none"] == verdicts["symmetry"] == verdicts["full"] == old_verdicts(options)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_every_counterexample_replays_in_the_model_and_in_the_generic_semantics(
        reduction: str) -> None:
    options = QMOptions(profile="hpux", loss=True, reorder=True, negotiations=2)
    qs, r = run(options, reduction)
    refuted = [f for f in r.findings.values() if f.verdict == "refuted"]
    assert refuted
    for f in refuted:
        states = semantics.replay(qs.system, qs.system.initial[f.initial], f.path)
        steps = qs.steps(f.path)
        assert qs.state_of(states[-1]) == steps[-1][2]
        trace = build_trace(qs.model, f.property, "", steps)
        assert replay(trace) == steps[-1][2]


def test_spilled_visited_set_gives_the_same_run() -> None:
    options = QMOptions(profile="hpux", loss=True, reorder=True, negotiations=2)
    _, plain = run(options, "none")
    _, tight = run(options, "none", max_memory=3_000_000)
    assert tight.compressed and tight.spilled and tight.complete
    assert (tight.states, tight.transitions) == (plain.states, plain.transitions)
    assert {k: (f.verdict, f.path) for k, f in tight.findings.items()} == {
        k: (f.verdict, f.path) for k, f in plain.findings.items()}
    assert tight.bytes_per_state < 0.5 * plain.bytes_per_state


def test_two_runs_are_identical() -> None:
    options = QMOptions(profile="racoon", loss=True, reorder=True, negotiations=2)
    one = run(options, "full")[1]
    two = run(options, "full")[1]
    assert (one.states, one.transitions, one.findings) == (two.states, two.transitions,
                                                           two.findings)
