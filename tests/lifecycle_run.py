"""What a strongSwan rekey run (tests/system/scenarios.py ``REKEY``) must show, from the
sources (strongSwan 5.9.8, /work/notes/strongswan-lifecycle-sources.md): shared by the test of
the recorded logs and the system test of a fresh run.

Per rekey of pair k into pair k+1 (I: the side whose soft expiry fires; R: the other):
- I: soft expiry of k, k REKEYING, then the Quick Mode of k+1 (task_manager_v1.c
  ``queue_child_rekey``);
- I installs k+1 in and out on message 2, then k REKEYED and k's outbound SA removed, all before
  it sends message 3 (quick_mode.c ``install``, ``process_i``): from then on I sends on k+1;
- R: k REKEYING at message 1 (``check_for_rekeyed_child``); on message 3 installs k+1, k
  REKEYED, k's outbound SA removed (the same ``install``);
- k's inbound SAs stay until I's hard expiry of k: I closes k and sends a DELETE with its
  inbound SPI of k (quick_delete.c ``build_i``); R receives it for its outbound SPI of k, closes
  k and removes k's inbound SA (``process_r``). R never expires or deletes on its own.
"""

from __future__ import annotations

from qmcheck.model.quickmode.compiled import QMModel
from qmcheck.properties.traces.inclusion import Inclusion
from qmcheck.properties.traces.lifecycle_inclusion import (
    lifecycle_options,
    smallest_lifecycle_bound,
)
from qmcheck.properties.traces.strongswan_lifecycle import pairs
from qmcheck.properties.traces.strongswan_log import Event

Step = tuple[str, str, int]  # (kind, message, pair)


def in_order(events: list[Event], number: dict[int, int], steps: list[Step]) -> list[Event]:
    """The first events that match ``steps`` one after the other (a subsequence of the log);
    AssertionError naming the first step that has no match."""
    found: list[Event] = []
    k = 0
    for step in steps:
        while k < len(events) and (events[k].kind, events[k].message,
                                   number.get(events[k].mid, -1)) != step:
            k += 1
        assert k < len(events), f"{step} not found after {found[-1] if found else 'start'}"
        found.append(events[k])
        k += 1
    return found


def spi_of(events: list[Event], number: dict[int, int], direction: str, pair: int) -> str:
    """The SPI of the host's installed ``direction`` SA of ``pair``."""
    (spi,) = {e.spi for e in events if e.kind == "install" and e.message == direction
              and number.get(e.mid) == pair}
    assert spi is not None
    return spi


def check_rekey_run(i: list[Event], r: list[Event], rekeys: int) -> dict[str, int]:
    """Assert the facts of the module doc for the first ``rekeys`` rekeys; the counts."""
    number = pairs(i)
    assert len(number) >= rekeys + 1, f"{len(number)} Quick Modes for {rekeys} rekeys"
    assert pairs(r) == number, "both hosts see the same Quick Modes in the same order"
    for k in range(rekeys):
        n = k + 1
        in_order(i, number, [("expire", "soft", k), ("rekey", "start", k), ("send", "msg1", n),
                             ("recv", "msg2", n), ("install", "in", n), ("install", "out", n),
                             ("rekey", "done", k), ("remove", "out", k), ("send", "msg3", n)])
        in_order(r, number, [("recv", "msg1", n), ("rekey", "start", k), ("send", "msg2", n),
                             ("recv", "msg3", n), ("install", "in", n), ("install", "out", n),
                             ("rekey", "done", k), ("remove", "out", k)])
        # the old pair ends at I's hard expiry, with a delete notification that R acts on
        _, _, sent = in_order(i, number, [("remove", "out", k), ("expire", "hard", k),
                                          ("send", "delete", k)])
        assert sent.spi == spi_of(i, number, "in", k)
        got, _, removed = in_order(r, number, [("recv", "delete", k), ("delete", "", k),
                                               ("remove", "in", k)])
        assert got.spi == spi_of(r, number, "out", k) == sent.spi
        assert removed.spi == spi_of(r, number, "in", k)
    assert not [e for e in r if e.kind == "expire" or (e.kind, e.message) == ("send", "delete")]
    # the last echo went through the newest pair R had installed: I sent on it, R accepted it
    data = [e for e in r if e.kind == "recv" and e.message.startswith("data")]
    assert data and data[-1].message == "data"
    newest = [e for e in r if (e.kind, e.message) == ("install", "in") and e.line < data[-1].line]
    assert data[-1].spi == newest[-1].spi and number[newest[-1].mid] >= rekeys
    return {"pairs": len(number), "events_i": len(i), "events_r": len(r),
            "lifecycle_i": sum(1 for e in i if e.kind in ("expire", "rekey", "remove")
                               or e.message == "delete")}


def replay_life(result: Inclusion, rekeys: int) -> tuple[QMModel, tuple[int, ...]]:
    """Replay the witness path on the lifecycle model; the model and the last component."""
    model = QMModel(lifecycle_options(result.profile, rekeys, result.retransmits,
                                      result.eager_timers))
    state = model.init_states()[0]
    for step in result.path:
        state = model.next_state(state, (0, step))
    return model, state[0]


def check_black_hole(i: list[Event], r: list[Event]) -> Inclusion:
    """The rekey whose message 3 was lost (scenarios.py ``REKEY_MESSAGE3_LOST``): I installed
    the new pair and removed the old outbound SA before sending message 3; R never installed
    the new pair and dropped the echo I sent on it. The run is a path of the strongswan
    lifecycle model (one rekey) whose last state has the rekey black hole (``rbh``)."""
    number = pairs(i)
    in_order(i, number, [("expire", "soft", 0), ("install", "out", 1), ("remove", "out", 0),
                         ("send", "msg3", 1)])
    in_order(r, number, [("recv", "data", 0), ("recv", "msg1", 1), ("send", "msg2", 1)])
    assert not [e for e in r if e.kind == "install" and number.get(e.mid) == 1]
    dropped = [e for e in r if (e.kind, e.message) == ("recv", "data-dropped")]
    assert dropped and dropped[-1].spi == spi_of(i, number, "out", 1)
    result = smallest_lifecycle_bound(i, r, "strongswan", 1)
    assert result.included, result.blocked_at
    model, last = replay_life(result, 1)
    assert last[model.layout.index["rbh"]] == 1
    return result
