"""The SA lifecycle of real strongSwan (issue 12): two charons with short child lifetimes on the
initiator rekey twice and delete each old pair at its hard expiry; the logs show what the
strongswan profile says (tests/lifecycle_run.py). ``QMC_SAVE_LOGS=DIR`` keeps the two logs
(how tests/fixtures/strongswan/rekey-*.log were recorded)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from qmcheck.model.quickmode.compiled import QMModel
from qmcheck.model.quickmode.options import MAX_REKEYS
from qmcheck.properties.traces.lifecycle_inclusion import (
    check_lifecycle,
    lifecycle_options,
    smallest_lifecycle_bound,
)
from qmcheck.properties.traces.strongswan_lifecycle import lifecycle_events, pairs
from tests.lifecycle_run import check_black_hole, check_rekey_run, spi_of
from tests.system.conftest import SUMMARY
from tests.system.netns import skip_reason
from tests.system.scenarios import (
    REKEY,
    REKEY_MESSAGE3_LOST,
    Run,
    installed_children,
    run_rekey_message3_lost,
    run_scenario,
)
from tests.system.strongswan import charon_skip_reason

pytestmark = pytest.mark.system


@pytest.fixture(scope="module")
def rekey_run() -> Iterator[Run]:
    reason = skip_reason() or charon_skip_reason()
    if reason:
        SUMMARY.append(f"strongSwan lifecycle run skipped: {reason}")
        pytest.skip(reason)
    run = run_scenario(REKEY)
    if save := os.environ.get("QMC_SAVE_LOGS"):
        for role, text in (("i", run.log_i), ("r", run.log_r)):
            (Path(save) / f"{REKEY.name}-{role}.log").write_text(text)
    yield run


def test_rekey_run_shows_the_profile_lifecycle(rekey_run: Run) -> None:
    assert rekey_run.initiate_rc == 0 and rekey_run.ping is True
    i = lifecycle_events(rekey_run.log_i, "I")
    r = lifecycle_events(rekey_run.log_r, "R")
    counts = check_rekey_run(i, r, REKEY.rekeys)
    SUMMARY.append(f"strongSwan rekey run: {rekey_run.seconds:.1f}s, {counts['pairs']} pairs, "
                   f"{counts['events_i']} + {counts['events_r']} events "
                   f"({counts['lifecycle_i']} lifecycle events on I)")


def test_rekey_run_is_a_path_of_the_lifecycle_model(rekey_run: Run) -> None:
    """The fresh run is a path of the strongswan profile's lifecycle model (delete
    notifications on) with as many rekeys as it shows, and not with one fewer."""
    i = lifecycle_events(rekey_run.log_i, "I")
    r = lifecycle_events(rekey_run.log_r, "R")
    rekeys = sum(1 for e in i if (e.kind, e.message) == ("expire", "soft"))
    assert REKEY.rekeys <= rekeys <= MAX_REKEYS
    result = smallest_lifecycle_bound(i, r, "strongswan", rekeys)
    assert result.included, f"not a path; stuck at {result.blocked_at}"
    model = QMModel(lifecycle_options("strongswan", rekeys, result.retransmits,
                                      result.eager_timers))
    state = model.init_states()[0]
    for step in result.path:  # the witness replays
        state = model.next_state(state, (0, step))
    assert not check_lifecycle(i, r, "strongswan", rekeys - 1).included
    SUMMARY.append(f"rekey run: a path of the strongswan lifecycle model (--rekeys {rekeys}, "
                   f"retransmission bound {result.retransmits}, {result.states} search states): "
                   f"{' '.join(result.path)}")


@pytest.fixture(scope="module")
def black_hole_run() -> Iterator[Run]:
    reason = skip_reason(need=("nft",)) or charon_skip_reason()
    if reason:
        pytest.skip(reason)
    run = run_rekey_message3_lost()
    if save := os.environ.get("QMC_SAVE_LOGS"):
        for role, text in (("i", run.log_i), ("r", run.log_r)):
            (Path(save) / f"{REKEY_MESSAGE3_LOST.name}-{role}.log").write_text(text)
    yield run


def test_rekey_black_hole_is_real(black_hole_run: Run) -> None:
    """The rekey's message 3 lost: I sends on the new pair, R drops the echo; the run is a path
    of the strongswan lifecycle model that ends in a qm.rekey-no-black-hole violation."""
    run = black_hole_run
    i = lifecycle_events(run.log_i, "I")
    r = lifecycle_events(run.log_r, "R")
    assert run.ping is False and run.dropped >= 1
    result = check_black_hole(i, r)
    SUMMARY.append(f"rekey with message 3 lost: {run.seconds:.1f}s, a path of the strongswan "
                   f"lifecycle model ending in rbh = 1 (bound {result.retransmits}): "
                   f"{' '.join(result.path)}")


def test_swanctl_lists_the_newest_pair(rekey_run: Run) -> None:
    """charon's own view at the end (``swanctl --list-sas`` over vici) agrees with the log
    extraction: each side has one INSTALLED CHILD_SA, the newest pair its log shows installed,
    with the same SPIs; the old pairs are gone."""
    number = pairs(lifecycle_events(rekey_run.log_i, "I"))
    for role, host, log in (("i", "I", rekey_run.log_i), ("r", "R", rekey_run.log_r)):
        events = lifecycle_events(log, host)
        newest = max(number[e.mid] for e in events if e.kind == "install" and e.mid in number)
        expected = (spi_of(events, number, "in", newest), spi_of(events, number, "out", newest))
        assert installed_children(rekey_run.list_sas[role]) == [expected], role
