"""The results the issue requires, each checked on the explicit engine."""

from __future__ import annotations

import itertools

import pytest

from qmcheck.model.quickmode.options import PROFILES, QMOptions
from qmcheck.properties.checks.protocol import check_protocol
from qmcheck.properties.traces.counterexample import build_trace, concrete_steps, replay

FAULTS = [dict(zip(("loss", "duplicate", "reorder"), bits, strict=True))
          for bits in itertools.product((False, True), repeat=3)]


def verdict(options: QMOptions, pid: str) -> str:
    run = check_protocol(options, [pid])
    return run.results[0].verdict


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("faults", FAULTS, ids=lambda f: "+".join(k for k, v in f.items() if v)
                         or "reliable")
def test_responder_installs_after_msg3_holds_everywhere(profile: str,
                                                        faults: dict[str, bool]) -> None:
    assert verdict(QMOptions(profile=profile, **faults),
                   "qm.responder-installs-after-msg3") == "holds"


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("faults", FAULTS[::3], ids=str)
def test_responder_nothing_before_msg3_fails_only_for_libreswan(
        profile: str, faults: dict[str, bool]) -> None:
    expected = "refuted" if profile == "libreswan" else "holds"
    assert verdict(QMOptions(profile=profile, **faults),
                   "qm.responder-nothing-before-msg3") == expected


@pytest.mark.parametrize("profile", PROFILES)
def test_message_3_lost_until_the_responder_gives_up(profile: str) -> None:
    opts = QMOptions(profile=profile, loss=True)
    run = check_protocol(opts, ["qm.eventually-installed", "qm.no-orphan"])
    assert [r.verdict for r in run.results] == ["refuted", "refuted"]
    for result in run.results:
        assert "I done (in installed, out installed), R gave-up" in result.message
    # the no-orphan witness: I installed both, R never received message 3 and deleted
    engine_run = _trace(opts, "qm.no-orphan")
    last = engine_run["steps"][-1]["state"][0]
    assert last["I.inbound"] == "installed" and last["I.outbound"] == "installed"
    assert last["R.phase"] == "gave-up" and last["R.inbound"] == "deleted"
    actions = [s.get("action", "") for s in engine_run["steps"]]
    assert "i_recv_m2@0" in actions and not any(a.startswith("r_recv_m3") for a in actions)
    assert any(a.startswith("lose_") for a in actions)
    assert actions[-1] == "r_give_up"


def _trace(options: QMOptions, pid: str) -> dict[str, object]:
    from qmcheck.model.quickmode.compiled import QMModel
    from qmcheck.properties.engines.explicit import ExplicitEngine

    engine = ExplicitEngine(QMModel(options))
    ex = engine.explore()
    target = ex.first_bad.get(pid) or ex.bad_terminal
    assert target is not None
    trace = build_trace(engine.model, pid, "", concrete_steps(engine, ex, target))
    replay(trace)
    return trace


def test_without_loss_everything_installs_and_nothing_is_orphaned() -> None:
    for profile in PROFILES:
        run = check_protocol(QMOptions(profile=profile, reorder=True, duplicate=True),
                             ["qm.eventually-installed", "qm.no-orphan", "qm.no-deadlock"])
        assert {r.verdict for r in run.results} == {"holds"}


def test_mutant_installing_on_message_1_is_refuted_with_a_shortest_trace() -> None:
    opts = QMOptions(profile="mutant-install-msg1", loss=True, reorder=True)
    run = check_protocol(opts, ["qm.responder-installs-after-msg3"])
    assert run.results[0].verdict == "refuted"
    assert run.results[0].extra["trace_length"] == 2
    trace = _trace(opts, "qm.responder-installs-after-msg3")
    assert [s.get("action") for s in trace["steps"][1:]] == ["i_send_m1", "r_recv_m1@0"]


def test_a_proof_on_a_model_that_never_installs_is_vacuous() -> None:
    run = check_protocol(QMOptions(profile="mutant-never-install"))
    by_id = {r.property: r for r in run.results}
    assert by_id["qm.reachable-installed"].verdict == "refuted"
    proof = by_id["qm.responder-installs-after-msg3"]
    assert proof.verdict == "holds" and proof.extra["vacuous"] is True
    assert proof.message.startswith("VACUOUS")
    assert "vacuous" not in check_protocol(QMOptions()).results[0].extra


def test_commit_bit_moves_the_orphan_to_the_responder() -> None:
    opts = QMOptions(profile="hpux", loss=True, commit_bit=True)
    run = check_protocol(opts, ["qm.no-orphan", "qm.eventually-installed"])
    assert [r.verdict for r in run.results] == ["refuted", "refuted"]
    assert "I gave-up (in deleted, out deleted), R done (in installed, out installed)" \
        in run.results[0].message
    trace = _trace(opts, "qm.no-orphan")
    actions = [s.get("action", "") for s in trace["steps"]]
    assert "r_recv_m3@0" in actions and actions[-1] == "i_give_up"


def test_commit_bit_closes_the_reordering_black_hole_but_not_the_lossy_one() -> None:
    for profile in ("hpux", "strongswan"):
        assert verdict(QMOptions(profile=profile, reorder=True), "qm.no-black-hole") == "refuted"
        assert verdict(QMOptions(profile=profile, reorder=True, commit_bit=True),
                       "qm.no-black-hole") == "holds"
        assert verdict(QMOptions(profile=profile, loss=True, commit_bit=True),
                       "qm.no-black-hole") == "refuted"
    # Libreswan's early inbound SA avoids the reordering black hole without the commit bit
    assert verdict(QMOptions(profile="libreswan", reorder=True), "qm.no-black-hole") == "holds"
    # racoon installs after sending message 3: R's first packet can beat I's install
    assert verdict(QMOptions(profile="racoon"), "qm.no-black-hole") == "refuted"


@pytest.mark.parametrize("n", [2, 3, 4])
def test_several_negotiations_are_decided_completely(n: int) -> None:
    run = check_protocol(QMOptions(loss=True, reorder=True, negotiations=n))
    assert run.exploration.complete
    refuted = sorted(r.property for r in run.results if r.verdict == "refuted")
    assert refuted == ["qm.eventually-installed", "qm.no-black-hole", "qm.no-orphan"]
    assert all(r.verdict != "unknown" for r in run.results)


def test_simultaneous_initiation_keeps_spis_unique() -> None:
    run = check_protocol(QMOptions(loss=True, simultaneous=True, negotiations=2),
                         ["qm.spi-unique", "qm.responder-installs-after-msg3"])
    assert [r.verdict for r in run.results] == ["holds", "holds"]
    assert run.exploration.states > check_protocol(QMOptions(loss=True)).exploration.states


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("commit", [False, True])
def test_which_side_can_be_orphaned(profile: str, commit: bool) -> None:
    """Without the commit bit only the initiator can keep a lone pair; with it, only R."""
    from qmcheck.model.quickmode.compiled import QMModel
    from qmcheck.properties.engines.explicit import ExplicitEngine

    engine = ExplicitEngine(QMModel(QMOptions(profile=profile, loss=True, duplicate=True,
                                              reorder=True, commit_bit=commit)))
    idx = engine.model.layout.index
    sides = set()
    for local, info in engine.infos.items():
        if info.quiet and info.half:
            sides.add("I" if local[idx["iin"]] == local[idx["iout"]] == 2 else "R")
    assert sides == ({"R"} if commit else {"I"})
