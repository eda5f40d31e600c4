"""Trace inclusion: is an observed Quick Mode run (two charon logs) a path of the model?

Each model step of one negotiation produces observable events on the initiator (I) and the
responder (R), derived from the step itself: the message it receives, the SA database entries it
changes (an inbound entry becoming larval: ``larval in``, an entry becoming installed:
``install in|out``, entries becoming deleted: one ``delete``), then the message it sends; in that
order, which is the order charon logs them. In the v2 model every operation of a profile's
list is its own step, so each step produces at most one SA event. Network steps (loss) produce
nothing; an ESP packet is observed where it arrives (``recv data``, or ``recv data-dropped`` when
the receiving kernel has no installed inbound SA of its SPI: the model's black hole), its
sending is not logged. A run is
included when some path of the model produces exactly I's events and R's events, each in its
log's order (the interleaving between the two hosts is free: the logs have no common clock).
The search is a breadth-first search over (model state, position in I's events, position in
R's events), so it ends; it also yields the witness path.

Abstractions (the model has no error notifications), applied and reported:
- R receives message 1 and answers with an error notify (NO_PROPOSAL_CHOSEN,
  INVALID_ID_INFORMATION): R keeps no state, which the model produces by losing message 1; both
  events are removed from R's trace.
- I receives that notify: removed; its consequence, I deleting its larval entry, stays and is
  the model's give-up. The model lets I give up only after its retransmissions, strongSwan gives
  up at once, so such runs need the retransmission bound 0 (``smallest_bound`` reports it).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from qmcheck.model.quickmode.compiled import QMModel
from qmcheck.model.quickmode.options import QMOptions
from qmcheck.model.quickmode.state import (
    ABSENT,
    DELETED,
    INSTALLED,
    IR_MESSAGES,
    LARVAL,
    RI_MESSAGES,
)
from qmcheck.properties.traces.strongswan_log import Event

Label = tuple[str, str, str]
OBSERVABLE = ("send", "recv", "larval", "install", "delete")


@dataclass
class Inclusion:
    """The verdict for one run and one model configuration."""

    profile: str
    retransmits: int
    included: bool
    eager_timers: bool = False  # the model's timers were eager (else patient)
    path: list[str] = field(default_factory=list)
    matched: tuple[int, int] = (0, 0)
    blocked_at: list[str] = field(default_factory=list)
    abstractions: list[str] = field(default_factory=list)
    states: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"profile": self.profile, "retransmits": self.retransmits,
                "eager_timers": self.eager_timers, "included": self.included, "path": self.path,
                "matched": list(self.matched), "blocked_at": self.blocked_at,
                "abstractions": self.abstractions, "states": self.states}


def abstract(initiator: list[Event], responder: list[Event],
             observable: tuple[str, ...] = OBSERVABLE
             ) -> tuple[list[Label], list[Label], list[str]]:
    """The labels of both hosts' events of the kinds ``observable`` after the documented
    abstractions."""
    notes: list[str] = []
    r_events = list(responder)
    r_out: list[Event] = []
    for e in r_events:
        if e.kind == "notify-send" and r_out and r_out[-1].label() == (e.host, "recv", "msg1"):
            r_out.pop()
            notes.append(f"{e.host} rejected message 1 with {e.message} (line {e.line}): "
                         "mapped to the loss of message 1")
            continue
        r_out.append(e)
    i_out: list[Event] = []
    for e in initiator:
        if e.kind == "notify-recv":
            notes.append(f"{e.host} received {e.message} (line {e.line}): no model step; its "
                         "give-up follows")
            continue
        i_out.append(e)
    i_labels = [("I", e.kind, e.message) for e in i_out if e.kind in observable]
    r_labels = [("R", e.kind, e.message) for e in r_out if e.kind in observable]
    return i_labels, r_labels, notes


def step_events(model: QMModel, before: tuple[int, ...], after: tuple[int, ...],
                action_index: int) -> list[Label]:
    """The observable events of one step of one negotiation component (role 0)."""
    action = model.action_list[action_index]
    if action.actor == "net":
        return []
    idx = model.layout.index
    out: list[Label] = []
    if action.event == "esp":
        if not action.name.endswith("recv_esp"):
            return []  # kernel-libipsec does not log outbound ESP
        flight, inbound, spi = ("ei", "rin", "ris") if action.actor == "R" else \
            ("er", "iin", "iis")
        ok = before[idx[inbound]] == INSTALLED and before[idx[flight]] == before[idx[spi]] + 1
        return [(action.actor, "recv", "data" if ok else "data-dropped")]
    if action.event in ("recv", "drop"):  # a dropped message was received first
        out.append((action.actor, "recv", action.message.split()[0]))
    for host, entries in (("I", ("iin", "iout")), ("R", ("rin", "rout"))):
        deleted = False
        for name in entries:
            old, new = before[idx[name]], after[idx[name]]
            if old == new:
                continue
            direction = "in" if name.endswith("in") else "out"
            if new == LARVAL and old == ABSENT:
                out.append((host, "larval", direction))
            elif new == INSTALLED:
                out.append((host, "install", direction))
            elif new == DELETED:
                deleted = True
        if deleted:
            out.append((host, "delete", ""))
    sent = _sent(model, before, after, action.actor)
    if sent:
        out.append((action.actor, "send", sent))
    return out


def _sent(model: QMModel, before: tuple[int, ...], after: tuple[int, ...], actor: str) -> str:
    """The message the actor put into its outgoing channel in this step, if any."""
    layout = model.layout
    get = layout.ir if actor == "I" else layout.ri
    names = IR_MESSAGES if actor == "I" else RI_MESSAGES
    old = sorted(x for x in get(before) if x)
    new = sorted(x for x in get(after) if x)
    for x in old:
        if x in new:
            new.remove(x)
    return names[new[0]].split()[0] if new else ""


def check_inclusion(initiator: list[Event], responder: list[Event], profile: str = "strongswan",
                    retransmits: int = 2, *, commit_bit: bool = False,
                    eager_timers: bool = False) -> Inclusion:
    """Is the run a path of the model (one negotiation, message loss on)?"""
    i_obs, r_obs, notes = abstract(initiator, responder)
    model = QMModel(QMOptions(profile=profile, loss=True, retransmits=retransmits,
                              commit_bit=commit_bit,
                              timers="eager" if eager_timers else "patient"))
    result = Inclusion(profile, retransmits, False, eager_timers, abstractions=notes)
    return search(model, i_obs, r_obs, step_events, result)


StepEvents = Callable[[QMModel, tuple[int, ...], tuple[int, ...], int], list[Label]]


def search(model: QMModel, i_obs: list[Label], r_obs: list[Label], events_of: StepEvents,
           result: Inclusion) -> Inclusion:
    """Breadth-first search of (model state, position in I's labels, position in R's labels)
    for a path whose steps (``events_of``: the labels of one step) produce both label lists;
    fills in ``result`` (verdict, witness path or where it got stuck, states)."""
    init = model.init_states()[0]
    start = (init[0], init[-1], 0, 0)
    parent: dict[tuple[Any, Any, int, int],
                 tuple[tuple[Any, Any, int, int], str] | None] = {start: None}
    queue = deque([start])
    best = (0, 0)
    goal = None
    while queue:
        node = queue.popleft()
        local, kernel, ii, ri = node
        if ii + ri > sum(best):
            best = (ii, ri)
        if ii == len(i_obs) and ri == len(r_obs):
            goal = node
            break
        for a, new, kern in model.local_successors(local, kernel):
            events = events_of(model, local, new, a)
            i_ev = [e for e in events if e[0] == "I"]
            r_ev = [e for e in events if e[0] == "R"]
            if i_obs[ii:ii + len(i_ev)] != i_ev or r_obs[ri:ri + len(r_ev)] != r_ev:
                continue
            nxt = (new, kern, ii + len(i_ev), ri + len(r_ev))
            if nxt not in parent:
                parent[nxt] = (node, model.action_list[a].id)
                queue.append(nxt)
    result.included = goal is not None
    result.states = len(parent)
    if goal is not None:
        steps: list[str] = []
        node = goal
        while parent[node] is not None:
            prev, action_id = parent[node]  # type: ignore[misc]
            steps.append(action_id)
            node = prev
        result.path = list(reversed(steps))
        result.matched = (len(i_obs), len(r_obs))
    else:
        result.matched = best
        result.blocked_at = [" ".join(x for x in lab if x) for lab in
                             (i_obs[best[0]:best[0] + 1] + r_obs[best[1]:best[1] + 1])]
    return result


def smallest_bound(initiator: list[Event], responder: list[Event], profile: str = "strongswan",
                   max_retransmits: int = 4) -> Inclusion:
    """The verdict for the most restrictive model that includes the run: patient timers (a
    timer fires only when what it waits for can no longer arrive) before eager timers (the
    model's default), and the smallest retransmission bound; the last verdict tried when none
    does."""
    result = check_inclusion(initiator, responder, profile, 0)
    for eager in (False, True):
        for bound in range(max_retransmits + 1):
            result = check_inclusion(initiator, responder, profile, bound, eager_timers=eager)
            if result.included:
                return result
    return result
