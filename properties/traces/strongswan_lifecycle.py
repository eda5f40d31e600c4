"""The SA lifecycle in a charon log: rekeys, expiries, delete notifications (issue 12).

``lifecycle_events`` adds these events to the Quick Mode events of ``strongswan_log`` (which it
leaves unchanged), in log order. Every event names the Quick Mode negotiation (message ID,
``mid``) that created the pair it concerns, so one pair has the same ``mid`` on both hosts;
``pairs`` numbers them in order (0: the first pair, 1: its rekey, ...). strongSwan 5.9.8, IKEv1,
kernel-libipsec (the sources of each line: /work/notes/strongswan-lifecycle-sources.md and
docs/CONFORMANCE.md):

=============  =================================================================================
kind message   log lines
=============  =================================================================================
expire soft    ``creating rekey job for CHILD_SA ESP/0xS/ADDR`` (kernel_handler.c ``expire``)
expire hard    ``creating delete job for CHILD_SA ESP/0xS/ADDR`` (same function, ``hard``)
rekey start    ``CHILD_SA N{k} state change: INSTALLED => REKEYING`` (task_manager_v1.c
               ``queue_child_rekey`` on the rekeying side; quick_mode.c
               ``check_for_rekeyed_child`` on the other, at message 1)
rekey done     ``CHILD_SA N{k} state change: REKEYING => REKEYED`` (quick_mode.c ``install``,
               after the new pair is installed)
remove out     ``deleted outbound SAD entry with SPI S`` (child_sa.c ``remove_outbound`` or
               ``destroy``, logged by libipsec ``ipsec_sa_mgr.c del_sa``)
remove in      ``deleted inbound SAD entry with SPI S`` (same)
send delete    ``sending DELETE for ESP CHILD_SA with SPI S`` (quick_delete.c ``build_i``)
recv delete    ``received DELETE for ESP CHILD_SA with SPI S`` (quick_delete.c ``process_r``;
               S is the sender's inbound SPI, our outbound one)
=============  =================================================================================

A hard expiry removes the expiring inbound SA inside libipsec without a log line
(``ipsec_sa_mgr.c sa_expired``); the ``delete`` event (``=> DESTROYING``) of the Quick Mode
parser follows it. A line whose SPI or CHILD_SA belongs to no known pair has ``mid`` None.
"""

from __future__ import annotations

import re

from qmcheck.properties.traces.strongswan_log import (
    CHILD_STATE,
    Event,
    charon_lines,
    negotiations,
    parse_charon_log,
)

_EXPIRE = re.compile(r"^creating (rekey|delete) job for CHILD_SA \w+/0x([0-9a-fA-F]+)/")
_ESTABLISHED = re.compile(r"^CHILD_SA (\S+)\{(\d+)\} established with SPIs ([0-9a-fA-F]+)_i "
                          r"([0-9a-fA-F]+)_o")
_SAD_DELETED = re.compile(r"^deleted (in|out)bound SAD entry with SPI ([0-9a-fA-F]+)")
_DELETE = re.compile(r"^(sending|received) DELETE for \w+ CHILD_SA with SPI ([0-9a-fA-F]+)")
_REKEY_STATES = {("INSTALLED", "REKEYING"): "start", ("REKEYING", "REKEYED"): "done"}


def lifecycle_events(text: str, host: str) -> list[Event]:
    """The Quick Mode events of ``parse_charon_log`` and the lifecycle events of the table, in
    log order, each labelled with ``host``."""
    qm = parse_charon_log(text, host)
    spi_mid = {e.spi: e.mid for e in qm if e.spi and e.mid is not None
               and e.kind in ("larval", "install")}
    child_mid: dict[str, int] = {}
    extra: list[Event] = []
    for number, _thread, body in charon_lines(text):
        if event := _lifecycle_line(host, number, body, spi_mid, child_mid):
            extra.append(event)
    return sorted(qm + extra, key=lambda e: e.line)


def _lifecycle_line(host: str, number: int, body: str, spi_mid: dict[str, int | None],
                    child_mid: dict[str, int]) -> Event | None:
    if m := _ESTABLISHED.match(body):
        mid = spi_mid.get(m.group(3).lower())
        if mid is not None:
            child_mid[f"{m.group(1)}{{{m.group(2)}}}"] = mid
        return None
    if m := _EXPIRE.match(body):
        spi = m.group(2).lower()
        return Event(host, number, "expire", "soft" if m.group(1) == "rekey" else "hard",
                     spi_mid.get(spi), spi)
    if m := CHILD_STATE.match(body):
        step = _REKEY_STATES.get((m.group(3), m.group(4)))
        child = f"{m.group(1)}{{{m.group(2)}}}"
        if step is None:
            return None
        return Event(host, number, "rekey", step, child_mid.get(child), detail=child)
    if m := _SAD_DELETED.match(body):
        spi = m.group(2).lower()
        return Event(host, number, "remove", m.group(1), spi_mid.get(spi), spi)
    if m := _DELETE.match(body):
        spi = m.group(2).lower()
        kind = "send delete" if m.group(1) == "sending" else "recv delete"
        verb, message = kind.split()
        return Event(host, number, verb, message, spi_mid.get(spi), spi)
    return None


def pairs(initiator: list[Event]) -> dict[int, int]:
    """Message ID -> pair number (0 for the first Quick Mode, 1 for its rekey, ...), in the
    order the initiator's log names them."""
    return {mid: k for k, mid in enumerate(negotiations(initiator))}


def is_lifecycle(event: Event) -> bool:
    """An event of the table above (not of the Quick Mode parser)."""
    return event.kind in ("expire", "rekey", "remove") or event.message == "delete"
