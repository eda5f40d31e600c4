"""charon logs -> lifecycle events -> the lifecycle model, on the runs recorded by
tests/system/test_strongswan_lifecycle.py (strongSwan 5.9.8, two namespaces, kernel-libipsec;
the initiator's child: rekey_time 6 s, life_time 9 s, rand_time 0; and a rekey whose message 3
is lost). No root, no strongSwan."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qmcheck.model.quickmode.compiled import QMModel
from qmcheck.properties.cli.main import main
from qmcheck.properties.traces.inclusion import Inclusion
from qmcheck.properties.traces.lifecycle_inclusion import (
    check_lifecycle,
    lifecycle_options,
    observe,
    smallest_lifecycle_bound,
)
from qmcheck.properties.traces.strongswan_lifecycle import (
    is_lifecycle,
    lifecycle_events,
    pairs,
)
from qmcheck.properties.traces.strongswan_log import Event, parse_charon_log
from tests.lifecycle_run import check_black_hole, check_rekey_run

LOGS = Path(__file__).parent / "fixtures" / "strongswan"
REKEYS = 2


def text(role: str, run: str = "rekey") -> str:
    return (LOGS / f"{run}-{role}.log").read_text()


def doctored(role: str, move: str, before: str, nth: int) -> str:
    """The log with the first line containing ``move`` put just before the ``nth`` (from 0)
    of the remaining lines containing ``before``."""
    lines = text(role).splitlines()
    moved = lines.pop(next(n for n, line in enumerate(lines) if move in line))
    targets = [n for n, line in enumerate(lines) if before in line]
    lines.insert(targets[nth], moved)
    return "\n".join(lines) + "\n"


def test_quick_mode_events_are_unchanged() -> None:
    """The lifecycle events come on top: without them the Quick Mode parser's events remain."""
    for role, host in (("i", "I"), ("r", "R")):
        events = lifecycle_events(text(role), host)
        assert [e for e in events if not is_lifecycle(e)] == parse_charon_log(text(role), host)


def test_lifecycle_events_of_the_recorded_run() -> None:
    i, r = lifecycle_events(text("i"), "I"), lifecycle_events(text("r"), "R")
    counts = check_rekey_run(i, r, REKEYS)
    assert counts["pairs"] == 3
    number = pairs(i)
    life_i = [(e.kind, e.message, number[e.mid]) for e in i if is_lifecycle(e)]
    assert life_i == [("expire", "soft", 0), ("rekey", "start", 0), ("rekey", "done", 0),
                      ("remove", "out", 0), ("expire", "hard", 0), ("send", "delete", 0),
                      ("expire", "soft", 1), ("rekey", "start", 1), ("rekey", "done", 1),
                      ("remove", "out", 1), ("expire", "hard", 1), ("send", "delete", 1)]
    life_r = [(e.kind, e.message, number[e.mid]) for e in r if is_lifecycle(e)]
    assert life_r == [(k, m, p) for p in (0, 1) for k, m in (
        ("rekey", "start"), ("rekey", "done"), ("remove", "out"), ("recv", "delete"),
        ("remove", "in"))]


@pytest.mark.parametrize(("role", "move", "before", "nth"), [
    # I removes the old outbound SA before the rekey's SAs are installed
    ("i", "deleted outbound SAD entry", "adding inbound ESP SA", 1),
    # R switches to the new pair at message 1 of the rekey, not at message 3
    ("r", "REKEYING => REKEYED", "parsed QUICK_MODE request", 2),
    # I deletes (and announces) the old pair before the rekey
    ("i", "sending DELETE for", "creating rekey job", 0),
])
def test_doctored_logs_break_the_facts(role: str, move: str, before: str, nth: int) -> None:
    logs = {"i": text("i"), "r": text("r"), role: doctored(role, move, before, nth)}
    with pytest.raises(AssertionError):
        check_rekey_run(lifecycle_events(logs["i"], "I"), lifecycle_events(logs["r"], "R"),
                        REKEYS)


def move_block(log: str, first: str, last: str, before: str, nth: int) -> str:
    """The log with the lines from the first containing ``first`` to the next containing
    ``last`` put just before the ``nth`` (from 0) remaining line containing ``before``."""
    lines = log.splitlines()
    a = next(n for n, line in enumerate(lines) if first in line)
    b = next(n for n in range(a, len(lines)) if last in lines[n])
    block = lines[a:b + 1]
    del lines[a:b + 1]
    at = [n for n, line in enumerate(lines) if before in line][nth]
    return "\n".join(lines[:at] + block + lines[at:]) + "\n"


def without(log: str, pattern: str) -> str:
    return "\n".join(line for line in log.splitlines() if pattern not in line) + "\n"


def lifecycle_check(log_i: str, log_r: str, profile: str = "strongswan",
                    rekeys: int = REKEYS) -> Inclusion:
    return check_lifecycle(lifecycle_events(log_i, "I"), lifecycle_events(log_r, "R"), profile,
                           rekeys)


def replay(result: Inclusion, rekeys: int) -> None:
    """The witness path is a path of the lifecycle model (replayed step by step)."""
    model = QMModel(lifecycle_options(result.profile, rekeys, result.retransmits,
                                      result.eager_timers))
    state = model.init_states()[0]
    for step in result.path:
        state = model.next_state(state, (0, step))


def test_recorded_run_is_a_path_of_the_lifecycle_model() -> None:
    """Two rekeys, each old pair ended by I's hard expiry and a delete notification: a path
    of the strongswan profile's lifecycle model with --rekeys 2, not with --rekeys 1."""
    i, r = lifecycle_events(text("i"), "I"), lifecycle_events(text("r"), "R")
    result = smallest_lifecycle_bound(i, r, "strongswan", REKEYS)
    assert result.included, result.blocked_at
    replay(result, REKEYS)
    assert result.path.count("i_rekey") == REKEYS
    assert result.path.count("i_old_expire") == result.path.count("r_recv_delete") == REKEYS
    one = check_lifecycle(i, r, "strongswan", 1)
    assert not one.included and one.blocked_at[0] == "I expire soft"


def test_old_pair_deleted_before_the_new_outbound_sa_is_rejected() -> None:
    """I's hard expiry of the old pair (and its delete notification) moved before the
    rekey's outbound SA is installed: the model expires an old pair only after the rekey."""
    log_i = move_block(text("i"), "creating delete job", "sending DELETE for",
                       "adding outbound ESP SA", 1)
    result = lifecycle_check(log_i, text("r"))
    assert not result.included and "I expire hard" in result.blocked_at


def test_delete_right_after_the_rekey_is_a_profile_row() -> None:
    """A DELETE of the old pair without its hard expiry (strongSwan with delete_rekeyed = yes):
    rejected by the strongswan profile (delete-old: at-expiry), included by the same profile
    with delete-old: after-rekey; so the check reads that row."""
    log_i = without(text("i"), "creating delete job")
    result = lifecycle_check(log_i, text("r"))
    assert not result.included and result.blocked_at[0] == "I send delete"
    profile = Path(__file__).parent / "fixtures" / "strongswan" / "delete-rekeyed.yaml"
    other = lifecycle_check(log_i, text("r"), str(profile))
    assert other.included, other.blocked_at
    assert other.path.count("i_delete_old") == REKEYS


def test_trace_command_checks_the_lifecycle(capsys: pytest.CaptureFixture[str]) -> None:
    """``qmcheck trace --rekeys N``: the whole run at once; without it each Quick Mode alone,
    and the rekeys' old pairs' deletions are outside the Quick Mode model."""
    logs = [str(LOGS / "rekey-i.log"), str(LOGS / "rekey-r.log")]
    assert main(["trace", *logs, "--rekeys", "2"]) == 0
    assert "lifecycle model (--rekeys 2)" in capsys.readouterr().out
    assert main(["trace", *logs, "--rekeys", "1"]) == 1
    assert "no step explains I expire soft" in capsys.readouterr().out
    assert main(["trace", *logs, "--format", "json"]) == 1
    messages = [r["message"] for r in json.loads(capsys.readouterr().out)["results"]
                if r["verdict"] == "refuted"]
    assert messages and all(m.endswith("check the whole run with --rekeys N") for m in messages)
    assert main(["trace", str(LOGS / "success-i.log"), str(LOGS / "success-r.log")]) == 0
    assert "--rekeys" not in capsys.readouterr().out
    assert main(["trace", *logs, "--rekeys", "9"]) == 2
    capsys.readouterr()
    # the responder's log as the initiator's: it started no Quick Mode, nothing to check
    assert main(["trace", logs[1], logs[1], "--rekeys", "1"]) == 3
    assert "nothing to check" in capsys.readouterr().out


def test_recorded_rekey_black_hole() -> None:
    """The rekey's message 3 lost: R dropped the echo I sent on the new pair, and the run is a
    path of the model ending in the rekey black hole (``qm.rekey-no-black-hole``'s bad
    state); without the loss of message 3 in the log (R receiving it) it is not."""
    log_i, log_r = text("i", "rekey-message3-lost"), text("r", "rekey-message3-lost")
    result = check_black_hole(lifecycle_events(log_i, "I"), lifecycle_events(log_r, "R"))
    assert "lose_ir@0" in result.path and result.path.index("i_rekey") < result.path.index(
        "lose_ir@0")
    # doctored: R accepts the echo on the SPI it has only allocated: no model path does
    fixed = log_r.replace("inbound ESP packet does not belong to an installed SA", "")
    doctored = smallest_lifecycle_bound(lifecycle_events(log_i, "I"),
                                        lifecycle_events(fixed, "R"), "strongswan", 1)
    assert not doctored.included and "R recv data" in doctored.blocked_at


def test_checker_refutes_what_the_black_hole_run_shows(
        capsys: pytest.CaptureFixture[str]) -> None:
    """The recorded run reaches the bad state of qm.rekey-no-black-hole (above); the model
    checker must refute the property for the same setting (strongswan, loss, one rekey)."""
    code = main(["protocol", "--profile", "strongswan", "--loss", "--rekeys", "1",
                 "--delete-notify", "--property", "qm.rekey-no-black-hole", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    verdicts = {r["property"]: r["verdict"] for r in report["results"]}
    assert verdicts == {"qm.rekey-no-black-hole": "refuted"}


def test_observation_drops_only_the_old_pairs_steps() -> None:
    """What the lifecycle check leaves out: the rekey state changes, SA removals and the old
    pairs' deletions; a current pair's deletion (R's give-up in the lost-message-3 run) and
    everything else stays."""
    i = lifecycle_events(text("i"), "I")
    kept, notes = observe(i)
    assert [e for e in i if e not in kept] == [
        e for e in i if e.kind in ("rekey", "remove") or e.kind == "delete"]
    assert len([e for e in i if e.kind == "delete"]) == REKEYS
    assert f"{REKEYS} x 'old pair deleted' not compared (part of another step or not " \
           "modelled)" in notes
    r_lost = lifecycle_events(text("r", "message3-lost"), "R")
    kept_r, _ = observe(r_lost)
    assert kept_r == r_lost and [e.kind for e in kept_r].count("delete") == 1


def test_an_echo_on_the_old_pair_during_the_rekey() -> None:
    """Synthetic logs: after R has seen the rekey's message 1, an echo arrives on the old
    pair's SPI (I sent it before its switch): ``data-old``, a path of the model; the same echo
    on the new pair's SPI, which R has not installed, is not."""
    def run(host: str, steps: list[tuple[str, str, int]]) -> list[Event]:
        return [Event(host, n, kind, message, mid) for n, (kind, message, mid) in
                enumerate(steps, start=1)]

    qm_i = [("larval", "in"), ("send", "msg1"), ("recv", "msg2"), ("install", "in"),
            ("install", "out"), ("send", "msg3")]
    qm_r = [("recv", "msg1"), ("larval", "in"), ("send", "msg2"), ("recv", "msg3"),
            ("install", "in"), ("install", "out")]
    i = run("I", [(k, m, 1) for k, m in qm_i] + [("recv", "data", 1), ("expire", "soft", 1)]
            + [(k, m, 2) for k, m in qm_i[:2]])
    r_steps = [(k, m, 1) for k, m in qm_r] + [("recv", "data", 1), ("recv", "msg1", 2),
                                               ("recv", "data", 1)]
    old = check_lifecycle(i, run("R", r_steps), "strongswan", 1)
    assert old.included, old.blocked_at
    assert observe(run("R", r_steps))[0][-1].message == "data-old"
    new = check_lifecycle(i, run("R", [*r_steps[:-1], ("recv", "data", 2)]), "strongswan", 1)
    assert not new.included and "R recv data" in new.blocked_at
