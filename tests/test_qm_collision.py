"""Rekey collisions (issue 12, model/quickmode/collision.py), the #1896 class with a
collision, lifetimes of 0 and the liveness ids under --restart."""

from __future__ import annotations

from collections import deque
from pathlib import Path

import pytest

from qmcheck.model.quickmode import collision
from qmcheck.model.quickmode.compiled import QMModel
from qmcheck.model.quickmode.expressions import eq, ite, var
from qmcheck.model.quickmode.options import QMOptions
from qmcheck.model.quickmode.state import INSTALLED, LARVAL
from qmcheck.model.values.errors import InputError
from qmcheck.properties.checks.protocol import check_protocol
from qmcheck.properties.checks.protocol_smt import smt_check
from qmcheck.properties.cli.main import main
from qmcheck.properties.traces.counterexample import load_trace, replay

COLLIDE = {"rekeys": 1, "timers": "patient", "collide": True}
#: One lost message fails an exchange (no retransmission): the #1896 setting.
ONE_LOSS = {**COLLIDE, "loss": True, "max_losses": 1, "retransmits": 0}
#: The same without data packets (the SAs alone decide qm.rekey-keeps-outbound): 40 times
#: fewer states, as in properties/checks/mutants.py and docs/PROTOCOL.md.
NO_DATA = {**ONE_LOSS, "esp": 0}
MUTANT = "mutant-strongswan-collision-defer-out"
PID = "qm.rekey-keeps-outbound"


def _states(model: QMModel, limit: int = 60_000) -> list[tuple]:
    start = model.init_states()[0]
    seen = {start}
    queue = deque([start])
    while queue:
        s = queue.popleft()
        for _, _, t in model.successors(s):
            if t not in seen:
                seen.add(t)
                queue.append(t)
        assert len(seen) < limit, "the graph did not fit the test's limit"
    return sorted(seen)


def test_collide_needs_a_rekey_and_a_profile_where_both_sides_rekey(
        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(InputError) as info:
        QMOptions(profile="strongswan", collide=True)
    assert info.value.field == "collide"
    assert main(["protocol", "--profile", "strongswan", "--collide"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "collide needs rekeys" in err and "Traceback" not in err
    # racoon: only the phase 2 initiator rekeys (pfkey.c pk_recvexpire): no second exchange
    plain = QMModel(QMOptions(profile="racoon", rekeys=1, timers="patient"))
    racoon = QMModel(QMOptions(profile="racoon", **COLLIDE))
    assert racoon.layout.names == plain.layout.names
    assert len(_states(racoon)) == len(_states(plain))
    strong = QMModel(QMOptions(profile="strongswan", **COLLIDE))
    assert "r_rekey" in {a.name for a in strong.action_list}


def test_bad_collision_keys_name_file_line_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "mine.yaml"
    bad.write_text("profile: mine\nbased-on: strongswan\nlifecycle:\n  rekey-by: anyone\n")
    with pytest.raises(InputError) as info:
        QMModel(QMOptions(profile=str(bad), **COLLIDE))
    assert info.value.line == 4 and info.value.field == "lifecycle.rekey-by"
    bad.write_text("profile: mine\nbased-on: strongswan\nlifecycle:\n  collision: both\n")
    with pytest.raises(InputError) as info:
        QMModel(QMOptions(profile=str(bad), **COLLIDE))
    assert info.value.line == 4 and info.value.field == "lifecycle.collision"


@pytest.mark.parametrize("profile", ["strongswan", "libreswan"])
def test_collision_steps_equal_the_reference_semantics_and_rank_grows(profile: str) -> None:
    model = QMModel(QMOptions(profile=profile, **COLLIDE))
    idx = model.layout.index
    states = _states(model)
    names: set[str] = set()
    for n, s in enumerate(states):
        succ = model.local_successors(s[0], s[-1])
        if n % 5 == 0:  # the interpreter on a fifth of the states (it is slow)
            assert sorted(succ) == sorted(model.reference_successors(s[0], s[-1]))
        for a, t, _ in succ:
            names.add(model.action_list[a].name)
            assert model.rank(t) > model.rank(s[0]), model.action_list[a].name
    assert {"i_rekey", "r_rekey", "y_i_recv_m2", "y_r_recv_m3"} <= names

    def pairs(local: tuple) -> int:  # new pairs installed on both hosts
        x = all(local[idx[e]] == INSTALLED for e in ("iin", "iout", "rin", "rout"))
        y = all(local[idx[e]] == INSTALLED for e in ("yiin", "yiout", "yrin", "yrout"))
        return int(x) + int(y)

    # keep-both: the collision leaves two new pairs (one redundant, the #1945 pile-up), and
    # never more than two
    assert max(pairs(s[0]) for s in states) == 2


def test_each_host_sends_on_the_pair_it_installed_last() -> None:
    model = QMModel(QMOptions(profile="strongswan", **COLLIDE))
    idx = model.layout.index
    send = model.action_index["i_send_esp"]
    seen = set()
    for s in _states(model):
        local = s[0]
        if not (local[idx["iout"]] == local[idx["yrout"]] == INSTALLED):
            continue
        for a, t, _ in model.local_successors(local, s[-1]):
            if a == send:
                spi = local[idx["yros"]] if local[idx["nwi"]] == 1 else local[idx["ios"]]
                assert t[idx["ei"]] == spi + 1
                seen.add(local[idx["nwi"]])
    assert seen == {0, 1}  # both orders of installation happen


def test_spi_uniqueness_covers_the_colliding_exchange(monkeypatch: pytest.MonkeyPatch) -> None:
    """The colliding rekey allocates from the other host's allocator (roles swapped). A model
    that forgets the swap takes host R's SPIs for host I's inbound SA and is caught by
    qm.spi-unique; the right one holds."""
    opts = QMOptions(profile="strongswan", **COLLIDE)
    model = QMModel(opts)
    assert not any(model.spi_collisions(s) for s in _states(model))
    real = collision.ymap

    def unswapped(layout):  # type: ignore[no-untyped-def]
        out = real(layout)
        out["role"] = ite(eq(var("role"), 0), 0, 1)
        return out

    monkeypatch.setattr(collision, "ymap", unswapped)
    result = check_protocol(opts, ["qm.spi-unique"]).results[0]
    assert result.verdict == "refuted", result.message
    # the z3 encoding's own spi_collision (colliding entries included) agrees: same length
    length = result.extra["trace_length"]
    smt = smt_check(opts, ["qm.spi-unique"], max_bound=length, max_k=0, use_invariants=False)
    assert smt.results[0].verdict == "refuted"
    assert smt.results[0].extra["trace_length"] == length
    assert QMModel(opts).spi_collisions(smt.traces["qm.spi-unique"][-1][2])


def test_larval_leak_of_the_colliding_exchange_is_caught(tmp_path: Path) -> None:
    """qm.no-larval-leak reads the colliding exchange too: a responder that leaks its larval
    SA when it gives up (strongSwan with mutant-r-give-up-leaks' rule) leaves one inside R's
    rekey, where I is the responder."""
    leaky = tmp_path / "leaky.yaml"
    leaky.write_text("profile: leaky\nbased-on: strongswan\nresponder:\n  give-up: []\n")
    model = QMModel(QMOptions(profile=str(leaky), **ONE_LOSS))
    idx = model.layout.index
    leak = model.local_checks["qm.no-larval-leak"]
    inside_y = [s for s in _states(model) if s[0][idx["yrin"]] == LARVAL and leak(s[0])
                and s[0][idx["rin"]] != LARVAL and s[0][idx["iin"]] != LARVAL]
    assert inside_y


def test_1896_with_a_collision_is_found_on_the_mutant_and_absent_on_strongswan(
        tmp_path: Path) -> None:
    """The host that answers the peer's colliding rekey while its own runs registers the new
    outbound SA for the end of its own rekey; one lost message fails its own rekey, and once
    its old pair is gone it has the new inbound SA and no outbound SA at all. strongSwan
    installs both SAs of the answered rekey on message 3 (quick_mode.c process_r -> install;
    check_for_rekeyed_child accepts a CHILD_REKEYING old SA), so the setting holds there."""
    opts = QMOptions(profile=MUTANT, **NO_DATA)
    bad = check_protocol(opts, [PID], out_dir=tmp_path).results[0]
    good = check_protocol(opts.with_(profile="strongswan"), [PID]).results[0]
    assert (bad.verdict, good.verdict) == ("refuted", "holds"), good.message
    trace = load_trace(bad.counterexample)
    actions = [s["action"] for s in trace["steps"][1:]]
    assert "r_rekey" in actions and sum(a.startswith("lose_") for a in actions) == 1
    assert any(a.startswith("y_") for a in actions)
    final = replay(trace)
    model = QMModel(opts)
    idx = model.layout.index
    local = final[0]
    assert model.local_checks[PID](local)
    assert local[idx["yrin"]] == INSTALLED and local[idx["ydf"]] == 1
    assert INSTALLED not in (local[idx["iout"]], local[idx["yrout"]])
    # BMC finds a refutation of the same shortest length
    length = bad.extra["trace_length"]
    smt = smt_check(opts, [PID], max_bound=length, max_k=0, use_invariants=False)
    assert smt.results[0].verdict == "refuted"
    assert smt.results[0].extra["trace_length"] == length
    assert model.local_checks[PID](smt.traces[PID][-1][2][0])


def test_keeps_outbound_also_kills_the_deferred_responder_without_a_collision() -> None:
    opts = QMOptions(profile="mutant-strongswan-deferred-out", rekeys=1, timers="patient",
                     loss=True, max_losses=1, delete_notify=True)
    assert check_protocol(opts, [PID]).results[0].verdict == "refuted"
    assert check_protocol(opts.with_(profile="strongswan"), [PID]).results[0].verdict == "holds"


def test_lifetime_zero_means_no_rekey_and_no_expiry(capsys: pytest.CaptureFixture[str]) -> None:
    opts = QMOptions(profile="racoon", rekeys=1, timers="patient", restart=True)
    never = opts.with_(no_expiry=True)
    events = {a.event for a in QMModel(never).action_list}
    assert not events & {"rekey", "expire"} and "restart" in events
    assert "lifetime=0" in never.label() and "no_expiry" not in opts.to_dict()
    # a lasting orphan never reaches a hard expiry: qm.orphan-heals cannot fail, qm.no-orphan
    # reports it
    verdicts = {pid: check_protocol(never, [pid]).results[0].verdict
                for pid in ("qm.orphan-heals", "qm.no-orphan")}
    assert verdicts == {"qm.orphan-heals": "holds", "qm.no-orphan": "refuted"}
    assert check_protocol(opts, ["qm.orphan-heals"]).results[0].verdict == "refuted"
    # a scenario's transforms with lifetimes 0/0: its run has no rekey (hpux refutes
    # qm.rekey-no-black-hole when it rekeys)
    for scenario, code in (("lifetime-zero", 0), ("class-outcomes", 1)):
        assert main(["protocol", "--scenario", f"tests/fixtures/scenarios/{scenario}.yaml",
                     "--rekeys", "1", "--timers", "patient", "--property",
                     "qm.rekey-no-black-hole"]) == code
        out = capsys.readouterr().out
        assert ("K=1,lifetime=0" in out) == (code == 0)


def test_liveness_ids_are_not_decided_with_restart(capsys: pytest.CaptureFixture[str]) -> None:
    opts = QMOptions(profile="libreswan", rekeys=1, timers="patient", restart=True)
    ids = [r.property for r in check_protocol(
        opts, ["qm.eventually-installed", "qm.recovery", "qm.orphan-heals"]).results]
    assert ids == ["qm.orphan-heals"]
    assert main(["protocol", "--profile", "libreswan", "--restart", "--property",
                 "qm.recovery"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not decided with --restart" in err
