"""charon logs -> lifecycle events, on the rekey run recorded by
tests/system/test_strongswan_lifecycle.py (strongSwan 5.9.8, two namespaces, kernel-libipsec;
the initiator's child: rekey_time 6 s, life_time 9 s, rand_time 0). No root, no strongSwan."""

from __future__ import annotations

from pathlib import Path

import pytest

from qmcheck.properties.traces.strongswan_lifecycle import (
    is_lifecycle,
    lifecycle_events,
    pairs,
)
from qmcheck.properties.traces.strongswan_log import parse_charon_log
from tests.lifecycle_run import check_rekey_run

LOGS = Path(__file__).parent / "fixtures" / "strongswan"
REKEYS = 2


def text(role: str) -> str:
    return (LOGS / f"rekey-{role}.log").read_text()


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
