"""strongSwan trace inclusion (issue 7, item 2): real IKEv1 Quick Mode runs between two charons
are paths of the model's state graph under the strongswan profile, and their outcomes are the
ones the model computes for the same swanctl.conf files."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qmcheck.model.quickmode.compiled import QMModel
from qmcheck.model.quickmode.options import PROFILES, QMOptions
from qmcheck.properties.cli.main import main
from qmcheck.properties.traces.inclusion import Inclusion, smallest_bound
from qmcheck.properties.traces.strongswan_log import (
    Event,
    negotiations,
    of_negotiation,
    outcome,
    parse_charon_log,
)
from tests.system.conftest import SUMMARY
from tests.system.netns import skip_reason
from tests.system.scenarios import (
    MESSAGE2,
    MESSAGE3,
    SCENARIOS,
    Run,
    agreed_range,
    message_udp_length,
    peers_agree,
    run_scenario,
)
from tests.system.strongswan import INNER, charon_skip_reason

pytestmark = pytest.mark.system
NAMES = [s.name for s in SCENARIOS]


@pytest.fixture(scope="module")
def runs() -> Iterator[dict[str, Run]]:
    reason = skip_reason(need=("nft",)) or charon_skip_reason()
    if reason:
        SUMMARY.append(f"strongSwan scenarios skipped: {reason}")
        pytest.skip(reason)
    out: dict[str, Run] = {}
    lengths: dict[str, int] = {}
    for scenario in SCENARIOS:  # "success" first: it measures messages 2 and 3
        out[scenario.name] = run_scenario(scenario, lengths)
        if scenario.name == "success":
            lengths["msg2"] = message_udp_length(out["success"].log_r, MESSAGE2)
            lengths["msg3"] = message_udp_length(out["success"].log_i, MESSAGE3)
    SUMMARY.append("strongSwan scenarios: " + ", ".join(
        f"{n} {r.seconds:.1f}s" for n, r in out.items()))
    yield out


def events(run: Run) -> tuple[list[Event], list[Event]]:
    """Both hosts' events of the run's only Quick Mode negotiation."""
    i_all = parse_charon_log(run.log_i, "I")
    r_all = parse_charon_log(run.log_r, "R")
    mids = negotiations(i_all)
    assert len(mids) == 1, f"expected one Quick Mode negotiation, got {mids}"
    return of_negotiation(i_all, mids[0]), of_negotiation(r_all, mids[0])


def replay(result: Inclusion) -> None:
    """The witness path is a path of the model (replayed step by step)."""
    model = QMModel(QMOptions(profile=result.profile, loss=True,
                              retransmits=result.retransmits,
                              timers="eager" if result.eager_timers else "patient"))
    state = model.init_states()[0]
    for step in result.path:
        state = model.next_state(state, (0, step))


@pytest.mark.parametrize("name", NAMES)
def test_run_is_a_path_of_the_strongswan_model(runs: dict[str, Run], name: str) -> None:
    i_ev, r_ev = events(runs[name])
    result = smallest_bound(i_ev, r_ev, "strongswan")
    assert result.included, (
        f"{name}: not a path of the strongswan model; stuck at {result.blocked_at}\n"
        + "\n".join(map(str, i_ev + r_ev)))
    replay(result)
    timers = ", eager timers" if result.eager_timers else ""
    SUMMARY.append(f"{name}: a path of the strongswan model (retransmission bound "
                   f"{result.retransmits}{timers}): {' '.join(result.path)}")


def test_data_flows_after_success(runs: dict[str, Run]) -> None:
    for name in ("success", "narrower"):
        run = runs[name]
        i_ev, r_ev = events(run)
        assert run.ping is True
        assert [e.message for e in r_ev if e.kind == "recv"][-1] == "data"
        assert [e.message for e in i_ev if e.kind == "recv"][-1] == "data"


def test_message2_lost_once_run_shows_the_fault(runs: dict[str, Run]) -> None:
    """The first message 2 was dropped: I retransmitted message 1 (on its timer), R answered
    the duplicate with message 2 again (not on its own, later, timer), and the pair was
    installed on both sides after all."""
    run = runs["message2-lost-once"]
    i_ev, r_ev = events(run)
    assert run.dropped == 1 and run.initiate_rc == 0
    assert [(e.retransmit, e.detail) for e in i_ev if e.kind == "send" and e.message == "msg1"
            ][:2] == [(False, ""), (True, "retransmit 1")]
    assert [(e.kind, e.message, e.retransmit, e.detail) for e in r_ev
            if e.message in ("msg1", "msg2")][:4] == [
        ("recv", "msg1", False, ""), ("send", "msg2", False, ""),
        ("recv", "msg1", True, ""), ("send", "msg2", True, "")]
    assert {e.message for e in r_ev if e.kind == "install"} == {"in", "out"}


def test_message3_lost_run_shows_the_fault(runs: dict[str, Run]) -> None:
    """The fault really happened: message 3 was dropped, the responder never installed and
    gave up, the initiator kept its installed pair (an orphan, as the model predicts)."""
    run = runs["message3-lost"]
    i_ev, r_ev = events(run)
    assert run.dropped >= 1
    assert not [e for e in r_ev if e.kind == "install"]
    assert [e for e in r_ev if e.kind == "delete"]
    assert {e.message for e in i_ev if e.kind == "install"} == {"in", "out"}
    # I's echo reached R before R had an inbound SA: the model's black hole, really
    assert run.ping is False
    assert [e for e in r_ev if e.kind == "recv" and e.message == "data-dropped"]
    result = smallest_bound(i_ev, r_ev, "strongswan")
    sends = [e for e in r_ev if e.kind == "send" and e.message == "msg2" and e.retransmit]
    assert result.retransmits == len(sends)


def qmcheck_json(*args: str) -> tuple[int, dict[str, Any]]:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(list(args))
    return code, json.loads(buf.getvalue())


@pytest.mark.parametrize("name", NAMES)
def test_outcome_matches_qmcheck_negotiate(runs: dict[str, Run], name: str,
                                           tmp_path: Path) -> None:
    """The same swanctl.conf files, given to ``qmcheck negotiate --profile strongswan`` for
    traffic between the inner addresses: same outcome, and when the child is established the
    same agreed (narrowed) selectors."""
    run = runs[name]
    i_ev, r_ev = events(run)
    observed = outcome(i_ev, r_ev)
    conf_i, conf_r = tmp_path / "initiator.conf", tmp_path / "responder.conf"
    conf_i.write_text(run.conf_i)
    conf_r.write_text(run.conf_r)
    code, report = qmcheck_json("negotiate", str(conf_i), str(conf_r), "--src", INNER["i"],
                                "--dst", INNER["r"], "--protocol", "udp", "--sport", "4000",
                                "--dport", "5000", "--profile", "strongswan", "--format", "json")
    negotiation = report["results"][0]["negotiation"]
    assert observed == negotiation["status"], f"{name}: {negotiation['reason']}"
    assert (run.initiate_rc == 0) == (code == 0)
    if observed == "accepted":
        established = next(e for e in i_ev if e.kind == "established")
        ts_local, ts_remote = established.detail.split(" TS ")[1].split(" === ")
        agreed = negotiation["message2"]
        assert agreed_range(agreed["idci"]["address"]) == agreed_range(ts_local)
        assert agreed_range(agreed["idcr"]["address"]) == agreed_range(ts_remote)


@pytest.mark.parametrize("name", NAMES)
def test_outcome_agrees_with_qmcheck_peers(runs: dict[str, Run], name: str,
                                           tmp_path: Path) -> None:
    run = runs[name]
    i_ev, r_ev = events(run)
    conf_i, conf_r = tmp_path / "initiator.conf", tmp_path / "responder.conf"
    conf_i.write_text(run.conf_i)
    conf_r.write_text(run.conf_r)
    _, report = qmcheck_json("peers", str(conf_i), str(conf_r), "--profile", "strongswan",
                             "--format", "json")
    peers_agree(outcome(i_ev, r_ev), i_ev, report, "initiator")


def test_profiles_that_include_the_runs(runs: dict[str, Run]) -> None:
    """Which profiles include which runs: strongswan includes all; each other profile's SA
    timing differs observably, so it rejects at least the successful run."""
    table: dict[str, dict[str, bool]] = {}
    for name, run in runs.items():
        i_ev, r_ev = events(run)
        table[name] = {p: smallest_bound(i_ev, r_ev, p).included for p in PROFILES}
    SUMMARY.append("inclusion by profile: " + "; ".join(
        f"{n}: " + ",".join(p for p, ok in row.items() if ok) for n, row in table.items()))
    assert all(row["strongswan"] for row in table.values())
    for profile in PROFILES:
        if profile != "strongswan":
            assert not table["success"][profile], profile
