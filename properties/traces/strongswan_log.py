"""Parse a strongSwan charon file log into Quick Mode events (the observable side of a run).

The log needs the levels ``default = 1`` (ENC, NET), ``ike = 2``, ``chd = 2``, ``knl = 2`` and,
for SPI allocations by the kernel-libipsec plugin, ``esp = 2``; a ``time_format`` is optional.
Each event belongs to one Quick Mode negotiation, named by its message ID (``mid``):

===========  ===================================================================================
kind         log lines
===========  ===================================================================================
send         ``generating QUICK_MODE request M [ HASH SA ... ]`` (msg1), ``... response M`` (msg2),
             ``... request M [ HASH ]`` (msg3); ``sending retransmit N of request|response
             message ID M`` (the last message of M again); ``received retransmit of response
             ..., resending last request`` (msg3 again, after a recv of msg2)
recv         ``parsed QUICK_MODE request|response M [...]``; ``received retransmit of request
             with ID M, retransmitting response`` (msg1, then a send of msg2)
larval       ``allocated SPI S`` (the inbound SPI reserved, not usable yet)
install      ``adding inbound|outbound ESP SA`` with the following ``SPI 0x...`` line
delete       ``CHILD_SA NAME{N} state change: X => DESTROYING``
notify-send  ``generating INFORMATIONAL_V1 request ... [ HASH N(TYPE) ]`` after a Quick Mode
             message 1 (a rejection: NO_PROPOSAL_CHOSEN, INVALID_ID_INFORMATION, ...)
notify-recv  ``received TYPE error notify``
recv data    ``parsed ESP header with SPI S`` (kernel-libipsec, ``esp = 2``): a protected packet
             arrived for the negotiation that allocated S; ``data-dropped`` when the next line
             is ``inbound ESP packet does not belong to an installed SA`` (a black hole)
established  ``CHILD_SA NAME{N} established with SPIs I_i O_o and TS L === R`` (annotation)
give-up      ``giving up after N retransmits`` (annotation)
===========  ===================================================================================

Lines after the daemon starts shutting down are ignored (a shutdown deletes every SA; that is
outside the Quick Mode model). Events that carry no message ID in their line (SPI allocation,
SA installation, deletion, notifies) are attributed by thread: to the Quick Mode message the
same worker thread handles; failing that, to the host's latest Quick Mode negotiation.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from qmcheck.model.values.errors import InputError
from qmcheck.model.values.numbers import parse_int

_LINE = re.compile(r"^(?:(?P<time>\S+(?: \S+)*?) )?(?P<thread>\d+)\[(?P<group>[A-Z]+)\] "
                   r"(?P<text>.*)$")
_QM = re.compile(r"^(generating|parsed) QUICK_MODE (request|response) (\d+) \[ ?(.*?) ?\]$")
_INFO = re.compile(r"^generating INFORMATIONAL_V1 request \d+ \[ ?(.*?) ?\]$")
_RETRANSMIT = re.compile(r"^(?:sending )?retransmit (\d+) of (request|response) "
                         r"(?:with )?message ID (\d+)")
_DUP_RESPONSE = re.compile(r"^received retransmit of response with ID (\d+), resending last "
                           r"request")
_DUP_REQUEST = re.compile(r"^received retransmit of request with ID (\d+), retransmitting "
                          r"response")
_SPI = re.compile(r"^allocated SPI ([0-9a-fA-F]+)")
_ADD_SA = re.compile(r"^adding (inbound|outbound) (ESP|AH) SA")
_SA_SPI = re.compile(r"^\s*SPI 0x([0-9a-fA-F]+)")
#: A CHILD_SA state change (also read by strongswan_lifecycle for rekeys).
CHILD_STATE = re.compile(r"^CHILD_SA (\S+)\{(\d+)\} state change: (\S+) => (\S+)")
_ESTABLISHED = re.compile(r"^CHILD_SA (\S+)\{(\d+)\} established with SPIs (\S+)_i (\S+)_o "
                          r"and TS (.*) === (.*)$")
_NOTIFY = re.compile(r"^received (\S+) error notify")
_GIVE_UP = re.compile(r"^giving up after (\d+) retransmits")
_ESP_IN = re.compile(r"^parsed ESP header with SPI ([0-9a-fA-F]+)")
_ESP_NO_SA = re.compile(r"^inbound ESP packet does not belong to an installed SA")
_SHUTDOWN = re.compile(r"(SIG\w+ received, shutting down|signal of type SIG\w+ received)")
_NOTIFY_NAMES = {"NO_PROP": "NO_PROPOSAL_CHOSEN", "INVAL_ID": "INVALID_ID_INFORMATION",
                 "INVAL_SPI": "INVALID_SPI", "INVAL_PAYLOAD": "INVALID_PAYLOAD_TYPE"}


@dataclass(frozen=True)
class Event:
    """One observable step of a Quick Mode negotiation in one charon's log."""

    host: str
    line: int
    kind: str
    message: str = ""
    mid: int | None = None
    spi: str | None = None
    retransmit: bool = False
    detail: str = ""

    def label(self) -> tuple[str, str, str]:
        """(host, kind, message): what the trace-inclusion checker compares."""
        return (self.host, self.kind, self.message)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"host": self.host, "line": self.line, "kind": self.kind,
                               "message": self.message, "mid": self.mid}
        if self.spi:
            out["spi"] = self.spi
        if self.retransmit:
            out["retransmit"] = True
        if self.detail:
            out["detail"] = self.detail
        return out

    def __str__(self) -> str:
        extra = f" spi {self.spi}" if self.spi else ""
        extra += " (retransmit)" if self.retransmit else ""
        extra += f" {self.detail}" if self.detail else ""
        return f"{self.host}:{self.line} {self.kind} {self.message}{extra}".rstrip()


@dataclass
class _State:
    host: str
    events: list[Event] = field(default_factory=list)
    thread_mid: dict[str, int] = field(default_factory=dict)
    open_request: dict[str, int] = field(default_factory=dict)
    pending: dict[str, list[Event]] = field(default_factory=dict)
    last_sent: dict[int, str] = field(default_factory=dict)
    child_mid: dict[str, int] = field(default_factory=dict)
    latest_mid: int | None = None
    pending_sa: tuple[str, int, int | None] | None = None
    spi_mid: dict[str, int] = field(default_factory=dict)
    last_data: dict[str, int] = field(default_factory=dict)

    def add(self, event: Event) -> None:
        self.events.append(event)
        if event.spi and event.mid is not None and event.kind in ("larval", "install"):
            self.spi_mid[event.spi] = event.mid
        if event.kind == "send":
            assert event.mid is not None
            self.last_sent[event.mid] = event.message

    def qm(self, thread: str, mid: int) -> None:
        self.thread_mid[thread] = mid
        self.latest_mid = mid
        for event in self.pending.pop(thread, []):
            self.add(_with_mid(event, mid))

    def mid_for(self, thread: str) -> int | None:
        return self.thread_mid.get(thread, self.latest_mid)


def _with_mid(event: Event, mid: int) -> Event:
    return Event(event.host, event.line, event.kind, event.message, mid, event.spi,
                 event.retransmit, event.detail)


MIN_LOG_SHARE = 0.9  # the share of non-blank lines that must be charon log lines


def _mid(text: str, line: int) -> int:
    """A message ID: ASCII digits, 32 bits."""
    try:
        return parse_int(text, 0, 2**32 - 1, "message ID")
    except InputError as e:
        raise e.located(line=line, field="message ID") from None


def check_charon_log(text: str, source: str) -> None:
    """Refuse text that is not a charon file log (a policy file, garbage, an empty file):
    at least one line, and nearly all lines, of the form ``[TIME ]THREAD[GROUP] message``."""
    lines = [(n, raw) for n, raw in enumerate(text.splitlines(), start=1) if raw.strip()]
    bad = [n for n, raw in lines if not _LINE.match(raw.rstrip())]
    if not lines:
        raise InputError("not a charon log: the file is empty", source=source, line=1)
    if bad and (len(bad) > (1 - MIN_LOG_SHARE) * len(lines) or bad[0] == lines[0][0]):
        raise InputError("not a charon log: the line is not of the form "
                         "'[TIME ]THREAD[GROUP] message'", source=source, line=bad[0])


def load_charon_log(text: str, host: str, source: str) -> list[Event]:
    """``parse_charon_log`` of a checked log (InputError naming the file and line)."""
    check_charon_log(text, source)
    try:
        return parse_charon_log(text, host)
    except InputError as e:
        raise e.located(source=source) from None


def charon_lines(text: str) -> Iterator[tuple[int, str, str]]:
    """(line number, thread, message) of each charon log line, up to the shutdown."""
    for number, raw in enumerate(text.splitlines(), start=1):
        m = _LINE.match(raw.rstrip())
        if not m:
            continue
        thread, body = m.group("thread"), m.group("text")
        if body.startswith("<") and "> " in body:  # ``ike_name = yes``: <conn|N> prefix
            body = body.split("> ", 1)[1]
        if _SHUTDOWN.search(body):
            return
        yield number, thread, body


def parse_charon_log(text: str, host: str) -> list[Event]:
    """The Quick Mode events of one charon log, in log order, each labelled with ``host``."""
    st = _State(host)
    for number, thread, body in charon_lines(text):
        if st.pending_sa is not None:
            direction, line_no, mid = st.pending_sa
            st.pending_sa = None
            spi = _SA_SPI.match(body)
            st.add(Event(host, line_no, "install", direction, mid,
                         spi.group(1).lower() if spi else None))
            if spi:
                continue
        _parse_line(st, number, thread, body)
    for thread, events in st.pending.items():
        for event in events:
            st.events.append(event if st.latest_mid is None else _with_mid(event, st.latest_mid))
        st.pending[thread] = []
    return st.events


def _parse_line(st: _State, number: int, thread: str, body: str) -> None:
    host = st.host
    if m := _QM.match(body):
        verb, kind, mid, payloads = m.group(1), m.group(2), _mid(m.group(3), number), m.group(4)
        has_sa = " SA " in f" {payloads} "
        message = "msg2" if kind == "response" else ("msg1" if has_sa else "msg3")
        st.qm(thread, mid)
        if verb == "generating":
            st.add(Event(host, number, "send", message, mid))
            st.open_request.pop(thread, None)
        else:
            st.add(Event(host, number, "recv", message, mid))
            if message == "msg1":
                st.open_request[thread] = mid
        return
    if m := _RETRANSMIT.match(body):
        mid = _mid(m.group(3), number)
        st.add(Event(host, number, "send", st.last_sent.get(mid, "?"), mid, retransmit=True,
                     detail=f"retransmit {m.group(1)}"))
        return
    if m := _DUP_RESPONSE.match(body):
        mid = _mid(m.group(1), number)
        st.add(Event(host, number, "recv", "msg2", mid, retransmit=True))
        st.add(Event(host, number, "send", "msg3", mid, retransmit=True))
        return
    if m := _DUP_REQUEST.match(body):
        mid = _mid(m.group(1), number)
        st.add(Event(host, number, "recv", "msg1", mid, retransmit=True))
        st.add(Event(host, number, "send", "msg2", mid, retransmit=True))
        return
    if m := _ESP_IN.match(body):
        spi = m.group(1).lower()
        st.last_data[thread] = len(st.events)
        st.add(Event(host, number, "recv", "data", st.spi_mid.get(spi), spi))
        return
    if _ESP_NO_SA.match(body) and thread in st.last_data:
        k = st.last_data.pop(thread)
        e = st.events[k]
        st.events[k] = Event(e.host, e.line, e.kind, "data-dropped", e.mid, e.spi,
                             detail="no installed SA: a black hole")
        return
    if m := _SPI.match(body):
        event = Event(host, number, "larval", "in", spi=m.group(1).lower())
        if thread in st.open_request:
            st.add(_with_mid(event, st.open_request[thread]))
        else:
            st.pending.setdefault(thread, []).append(event)
        return
    if m := _ADD_SA.match(body):
        st.pending_sa = ("in" if m.group(1) == "inbound" else "out", number,
                         st.mid_for(thread))
        return
    if m := _INFO.match(body):
        notify = re.search(r"N\((\w+)\)", m.group(1))
        if notify and thread in st.open_request:
            name = _NOTIFY_NAMES.get(notify.group(1), notify.group(1))
            st.add(Event(host, number, "notify-send", name, st.open_request.pop(thread)))
        return
    if m := _NOTIFY.match(body):
        st.add(Event(host, number, "notify-recv", m.group(1), st.latest_mid))
        return
    if m := CHILD_STATE.match(body):
        child = f"{m.group(1)}{{{m.group(2)}}}"
        if thread in st.thread_mid:
            st.child_mid.setdefault(child, st.thread_mid[thread])
        if m.group(4) == "DESTROYING":
            st.add(Event(host, number, "delete", "", st.child_mid.get(child, st.latest_mid),
                         detail=f"{child} from {m.group(3)}"))
        return
    if m := _ESTABLISHED.match(body):
        child = f"{m.group(1)}{{{m.group(2)}}}"
        mid = st.child_mid.get(child, st.mid_for(thread))
        st.add(Event(host, number, "established", "", mid,
                     detail=f"SPIs {m.group(3)}_i {m.group(4)}_o TS {m.group(5)} === "
                            f"{m.group(6)}"))
        return
    if m := _GIVE_UP.match(body):
        st.add(Event(host, number, "give-up", "", st.latest_mid,
                     detail=f"after {m.group(1)} retransmits"))


def negotiations(events: list[Event]) -> list[int]:
    """The Quick Mode message IDs of the events, in order of first appearance."""
    seen: list[int] = []
    for e in events:
        if e.mid is not None and e.mid not in seen:
            seen.append(e.mid)
    return seen


def of_negotiation(events: list[Event], mid: int) -> list[Event]:
    return [e for e in events if e.mid == mid]


def outcome(initiator: list[Event], responder: list[Event]) -> str:
    """The negotiation's outcome as ``qmcheck peers`` names it: ``accepted`` when the initiator
    established the CHILD_SA, else the error notify the responder sent or the initiator got,
    else ``incomplete``."""
    if any(e.kind == "established" for e in initiator):
        return "accepted"
    for e in (*responder, *initiator):
        if e.kind in ("notify-send", "notify-recv"):
            return e.message
    return "incomplete"
