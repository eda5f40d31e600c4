"""charon logs -> Quick Mode events -> trace inclusion, on logs recorded by the system test.

tests/fixtures/strongswan/ holds the logs (trimmed of configuration dumps) and swanctl.conf
files of tests/system/scenarios.py, recorded between two network namespaces with strongSwan
5.9.8. These tests need neither root nor strongSwan; the system tests repeat them on fresh runs.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from qmcheck.model.formats.swanctl_conf import load_swanctl_text
from qmcheck.model.quickmode.compiled import QMModel
from qmcheck.model.quickmode.options import PROFILES, QMOptions
from qmcheck.model.semantics.negotiation import negotiate, profile_options
from qmcheck.model.values.packet import make_packet
from qmcheck.properties.traces.inclusion import check_inclusion, smallest_bound
from qmcheck.properties.traces.strongswan_log import (
    Event,
    negotiations,
    of_negotiation,
    outcome,
    parse_charon_log,
)

LOGS = Path(__file__).parent / "fixtures" / "strongswan"
RUNS = ("success", "narrower", "no-proposal", "disjoint", "message3-lost", "message2-lost-once",
        "message2-crossed-timers")


def load(run: str) -> tuple[list[Event], list[Event]]:
    i_all = parse_charon_log((LOGS / f"{run}-i.log").read_text(), "I")
    r_all = parse_charon_log((LOGS / f"{run}-r.log").read_text(), "R")
    (mid,) = negotiations(i_all)
    return of_negotiation(i_all, mid), of_negotiation(r_all, mid)


def labels(events: list[Event]) -> list[str]:
    return [f"{e.kind} {e.message}".strip() for e in events]


def test_parser_reads_a_successful_run() -> None:
    i, r = load("success")
    assert labels(i) == ["larval in", "send msg1", "recv msg2", "install in", "install out",
                         "established", "send msg3", "recv data"]
    assert labels(r) == ["recv msg1", "larval in", "send msg2", "recv msg3", "install in",
                         "install out", "established", "recv data"]
    # SPIs cross-match: I's inbound is R's outbound and the other way round
    spi = {(e.host, e.message): e.spi for e in i + r if e.kind == "install"}
    assert spi[("I", "in")] == spi[("R", "out")] and spi[("I", "out")] == spi[("R", "in")]
    assert next(e for e in i if e.kind == "larval").spi == spi[("I", "in")]


def test_parser_reads_retransmissions_and_give_up() -> None:
    i, r = load("message3-lost")
    assert labels(i).count("send msg3") == 3 and labels(i).count("recv msg2") == 3
    assert [e.retransmit for e in r if e.kind == "send"] == [False, True, True]
    assert labels(r)[-2:] == ["give-up", "delete"]


def test_parser_ignores_the_shutdown() -> None:
    text = (LOGS / "success-i.log").read_text()
    tail = ("1 00[DMN] SIGTERM received, shutting down\n"
            "1 05[CHD] CHILD_SA net{1} state change: INSTALLED => DESTROYING\n")
    assert parse_charon_log(text + tail, "I") == parse_charon_log(text, "I")


@pytest.mark.parametrize("run", RUNS)
def test_recorded_runs_are_paths_of_the_strongswan_model(run: str) -> None:
    i, r = load(run)
    result = smallest_bound(i, r, "strongswan")
    assert result.included, result.blocked_at
    model = QMModel(QMOptions(profile="strongswan", loss=True, retransmits=result.retransmits,
                              timers="eager" if result.eager_timers else "patient"))
    state = model.init_states()[0]
    for step in result.path:  # the witness replays
        state = model.next_state(state, (0, step))


def test_lost_message3_run_is_a_real_black_hole() -> None:
    """The witness path of the run ends in a state where the model's qm.no-black-hole fails:
    the ESP packet that charon dropped ("does not belong to an installed SA")."""
    i, r = load("message3-lost")
    assert "data-dropped" in labels(r)[3]
    result = smallest_bound(i, r)
    model = QMModel(QMOptions(profile="strongswan", loss=True, retransmits=result.retransmits,
                              timers="eager" if result.eager_timers else "patient"))
    state = model.init_states()[0]
    for step in result.path:
        state = model.next_state(state, (0, step))
    assert state[0][model.layout.index["bh"]] == 1
    assert model.local_checks["qm.no-black-hole"](state[0])


def test_crossed_timers_need_eager_timers() -> None:
    """A recorded run where I's retransmission of message 1 and R's of message 2 crossed: no
    bound includes it under the model's default timers (a timer fires only when nothing is in
    flight); with eager timers it is a path."""
    i, r = load("message2-crossed-timers")
    assert not any(check_inclusion(i, r, "strongswan", b).included for b in range(5))
    result = smallest_bound(i, r)
    assert result.included and result.eager_timers


def test_retransmission_bound_is_the_smallest() -> None:
    i, r = load("message3-lost")
    assert smallest_bound(i, r).retransmits == 2
    assert not check_inclusion(i, r, "strongswan", 1).included


def test_profiles_with_other_sa_timing_reject_the_run() -> None:
    i, r = load("success")
    verdicts = {p: smallest_bound(i, r, p).included for p in PROFILES}
    assert verdicts == {"hpux": False, "racoon": False, "strongswan": True, "libreswan": False}


def _swap(events: list[Event], a: str, b: str) -> list[Event]:
    out = list(events)
    ia = next(k for k, e in enumerate(out) if f"{e.kind} {e.message}" == a)
    ib = next(k for k, e in enumerate(out) if f"{e.kind} {e.message}" == b)
    out[ia], out[ib] = out[ib], out[ia]
    return out


def test_mutated_traces_are_rejected_or_change_profile() -> None:
    i, r = load("success")
    # I sends message 3 before installing: racoon's order, not strongSwan's
    racoon_i = _swap(_swap(i, "install in", "send msg3"), "install out", "install in")
    racoon_i = [e for e in racoon_i if e.kind != "established"]
    assert labels(racoon_i)[2:] == ["recv msg2", "send msg3", "install in", "install out",
                                    "recv data"]
    assert not smallest_bound(racoon_i, r, "strongswan").included
    assert smallest_bound(racoon_i, r, "racoon").included
    # R installs its inbound SA before message 3: Libreswan's timing
    libre_r = [r[0], replace(r[1], kind="install"), r[2], r[3], r[5], r[6], r[7]]
    assert labels(libre_r) == ["recv msg1", "install in", "send msg2", "recv msg3",
                               "install out", "established", "recv data"]
    assert not smallest_bound(i, libre_r, "strongswan").included
    assert smallest_bound(i, libre_r, "libreswan").included
    # a lost event: no profile includes it
    missing = [e for e in r if e.kind != "recv" or e.message != "msg3"]
    assert not any(smallest_bound(i, missing, p).included for p in PROFILES)


@pytest.mark.parametrize("run", ["success", "narrower", "no-proposal", "disjoint"])
def test_outcome_matches_the_model(run: str) -> None:
    i, r = load(run)
    initiator = load_swanctl_text((LOGS / f"{run}-i.conf").read_text(), f"{run}-i.conf")
    responder = load_swanctl_text((LOGS / f"{run}-r.conf").read_text(), f"{run}-r.conf")
    packet = make_packet("10.10.1.1", "10.10.2.1", "udp", 4000, 5000)
    model = negotiate(initiator, responder, packet, profile_options("strongswan"))
    assert outcome(i, r) == model.status, model.reason


def test_trace_command(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from qmcheck.properties.cli.main import main

    logs = [str(LOGS / "message3-lost-i.log"), str(LOGS / "message3-lost-r.log")]
    assert main(["trace", *logs, "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)["results"][0]
    assert result["verdict"] == "holds" and result["inclusion"]["retransmits"] == 2
    assert main(["trace", *logs, "--profile", "libreswan"]) == 1
    capsys.readouterr()
    assert main(["trace", str(LOGS / "missing.log"), logs[1]]) == 2


@pytest.mark.parametrize("run", ["success", "narrower", "no-proposal", "disjoint"])
def test_outcome_agrees_with_qmcheck_peers(run: str, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from qmcheck.properties.cli.main import main
    from tests.system.scenarios import peers_agree

    i, r = load(run)
    main(["peers", str(LOGS / f"{run}-i.conf"), str(LOGS / f"{run}-r.conf"), "--profile",
          "strongswan", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    peers_agree(outcome(i, r), i, report, f"{run}-i")


def test_parser_reads_other_log_formats() -> None:
    """Syslog-style time stamps and ``ike_name = yes`` prefixes give the same events."""
    text = (LOGS / "success-i.log").read_text()
    other = "\n".join(
        "Nov 28 01:00:00 host charon: " + line.split(" ", 1)[1].replace("] ", "] <peer|1> ", 1)
        for line in text.splitlines())
    assert parse_charon_log(other, "I") == parse_charon_log(text, "I")
