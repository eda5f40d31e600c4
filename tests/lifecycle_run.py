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
