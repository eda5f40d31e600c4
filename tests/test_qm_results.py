"""Headline qm.* results of the v2 model, each following from the profiles' operation lists
(docs/PROTOCOL.md states them with their sources)."""

from __future__ import annotations

import pytest

from qmcheck.model.quickmode.options import PROFILES, QMOptions
from qmcheck.properties.checks.protocol import check_protocol


def verdict(options: QMOptions, pid: str) -> str:
    return check_protocol(options, [pid]).results[0].verdict


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("timers", ["eager", "patient"])
def test_responder_installs_after_msg3_holds_everywhere(profile: str, timers: str) -> None:
    assert verdict(QMOptions(profile=profile, timers=timers),
                   "qm.responder-installs-after-msg3") == "holds"


@pytest.mark.parametrize("profile", PROFILES)
def test_responder_nothing_before_msg3_fails_only_for_libreswan(profile: str) -> None:
    expected = "refuted" if profile == "libreswan" else "holds"
    assert verdict(QMOptions(profile=profile), "qm.responder-nothing-before-msg3") == expected


@pytest.mark.parametrize("profile", PROFILES)
def test_esp_on_its_own_path_black_holes_without_any_fault(profile: str) -> None:
    """ESP sent right after the initiator installs can overtake message 3 (or the responder's
    install step): a black hole on a reliable network, except where R installs its inbound SA
    before message 2 (libreswan, ikev1_quick.c quick_inI1_outR1_tail)."""
    expected = "holds" if profile == "libreswan" else "refuted"
    assert verdict(QMOptions(profile=profile, timers="patient"), "qm.no-black-hole") == expected


@pytest.mark.parametrize(("profile", "expected"), [
    ("hpux", "holds"), ("racoon", "refuted"), ("strongswan", "refuted"),
    ("libreswan", "holds")])
def test_commit_bit_closes_the_black_hole_only_where_the_initiator_installs_inbound_early(
        profile: str, expected: str) -> None:
    """hpux (RFC 2408 3.1) installs I's inbound SA on message 2 and its outbound SA on
    CONNECTED; racoon installs both only on CONNECTED (quick_i3recv), so R's first ESP can find
    I's inbound entry larval; strongSwan ignores the bit."""
    opts = QMOptions(profile=profile, commit_bit=True, timers="patient")
    assert verdict(opts, "qm.no-black-hole") == expected


def test_eager_timers_orphan_without_loss_patient_timers_do_not() -> None:
    assert verdict(QMOptions(), "qm.no-orphan") == "refuted"
    assert verdict(QMOptions(timers="patient"), "qm.no-orphan") == "holds"


@pytest.mark.parametrize("profile", PROFILES)
def test_recovery_holds_for_the_built_in_profiles(profile: str) -> None:
    run = check_protocol(QMOptions(profile=profile), ["qm.recovery"])
    assert run.results[0].verdict == "holds"
    assert run.results[0].extra["timers"] == "patient"


def test_unbounded_loss_refutes_eventually_installed_but_not_recovery() -> None:
    run = check_protocol(QMOptions(loss=True, timers="patient"),
                         ["qm.eventually-installed", "qm.recovery"])
    got = {r.property: r.verdict for r in run.results}
    assert got == {"qm.eventually-installed": "refuted", "qm.recovery": "holds"}


@pytest.mark.parametrize("outcome", ["no-proposal-chosen", "invalid-id-information"])
def test_failure_outcomes_leave_nothing_behind(outcome: str) -> None:
    run = check_protocol(QMOptions(outcome=outcome, loss=True, timers="patient"),
                         ["qm.reachable-installed", "qm.no-larval-leak", "qm.no-orphan",
                          "qm.no-deadlock"])
    got = {r.property: r.verdict for r in run.results}
    assert got == {"qm.reachable-installed": "refuted", "qm.no-larval-leak": "holds",
                   "qm.no-orphan": "holds", "qm.no-deadlock": "holds"}


def test_racoon_give_up_is_clean_but_a_leaking_one_is_not() -> None:
    assert verdict(QMOptions(profile="racoon", loss=True), "qm.no-larval-leak") == "holds"
    assert verdict(QMOptions(profile="mutant-i-give-up-leaks", loss=True),
                   "qm.no-larval-leak") == "refuted"


@pytest.mark.parametrize("profile", PROFILES)
def test_two_negotiations_share_the_allocator_and_keep_spis_unique(profile: str) -> None:
    """Holds at the default level (stubborn sets with the allocators as shared variables)."""
    run = check_protocol(QMOptions(profile=profile, negotiations=2, timers="patient"),
                         ["qm.spi-unique", "qm.agreement"])
    assert {r.verdict for r in run.results} == {"holds"}
    assert run.exploration.complete and run.exploration.reduction == "full"


def test_simultaneous_initiation_keeps_spis_unique() -> None:
    opts = QMOptions(profile="strongswan", simultaneous=True, timers="patient")
    assert verdict(opts, "qm.spi-unique") == "holds"
    assert verdict(opts.with_(profile="mutant-constant-spi"), "qm.spi-unique") == "refuted"
