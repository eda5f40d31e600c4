"""Trace inclusion for the SA lifecycle: is a strongSwan run with rekeys (two charon logs) a
path of the lifecycle model (model/quickmode/lifecycle.py)?

The logs' events are those of ``strongswan_lifecycle.lifecycle_events``; each pair's Quick
Mode events are compared as in ``inclusion`` (the model's rekey starts a fresh exchange in the
same component). The lifecycle's labels:

=====================  ==========================================  ============================
label                  log (strongswan_lifecycle)                  model step
=====================  ==========================================  ============================
``expire soft``        ``creating rekey job``                      the rekey (event ``rekey``)
``expire hard``        ``creating delete job``                     a hard expiry (``expire``)
``send delete``        ``sending DELETE for ... CHILD_SA``         a step that puts a delete
                                                                   notification in flight
``recv delete``        ``received DELETE for ... CHILD_SA``        its receipt
``recv data``          ``parsed ESP header`` with an SPI of the    accepted by the current
                       newest pair the host has started            pair's inbound SA
``recv data-old``      the same, an SPI of an older pair           accepted by the old pair's
``recv data-dropped``  ``... does not belong to an installed SA``  dropped (the black hole)
=====================  ==========================================  ============================

Abstractions (reported): the rekeying side's and the other side's ``REKEYING``/``REKEYED``
state changes and the removal of the old pair's outbound SA are not compared (the model's
kernel sends on the newest installed outbound SA, so the switch is the new pair's ``install
out``; tests/lifecycle_run.py checks their order on the logs); the ``=> DESTROYING`` of an old
pair and the removal of its inbound SA are part of its hard expiry or of the receipt of its
delete notification.
"""

from __future__ import annotations

from dataclasses import replace

from qmcheck.model.quickmode.compiled import QMModel
from qmcheck.model.quickmode.lifecycle import FLIGHT, LIVE
from qmcheck.model.quickmode.options import QMOptions
from qmcheck.model.quickmode.state import INSTALLED
from qmcheck.properties.traces.inclusion import (
    OBSERVABLE,
    Inclusion,
    Label,
    abstract,
    search,
    step_events,
)
from qmcheck.properties.traces.strongswan_log import Event

#: Lifecycle option values of the model for strongSwan's runs: delete notifications on; DPD,
#: INITIAL-CONTACT and restarts are not part of the recorded runs.
STRONGSWAN_MECHANISMS = {"delete_notify": True}
_IGNORED = ("rekey", "remove")


def observe(events: list[Event]) -> tuple[list[Event], list[str]]:
    """The events the lifecycle model is compared on, and the abstractions applied."""
    order: dict[int, int] = {}
    newest = -1
    out: list[Event] = []
    dropped: dict[str, int] = {}
    for e in events:
        if e.mid is not None and e.mid not in order and e.kind not in ("expire", *_IGNORED):
            order[e.mid] = len(order)
        k = order.get(e.mid, -1) if e.mid is not None else -1
        if e.kind in _IGNORED or (e.kind == "delete" and k < newest):
            key = f"{e.kind} {e.message}".strip() if e.kind != "delete" else "old pair deleted"
            dropped[key] = dropped.get(key, 0) + 1
            continue
        newest = max(newest, k)
        if (e.kind, e.message) == ("recv", "data") and 0 <= k < newest:
            e = replace(e, message="data-old")
        out.append(e)
    notes = [f"{n} x '{key}' not compared (part of another step or not modelled)"
             for key, n in sorted(dropped.items())]
    return out, notes


def lifecycle_step_events(model: QMModel, before: tuple[int, ...], after: tuple[int, ...],
                          action_index: int) -> list[Label]:
    """The labels of one step of the lifecycle model (role 0)."""
    action = model.action_list[action_index]
    idx = model.layout.index
    if action.event == "esp" and action.name.endswith("recv_esp"):
        flight, inbound, spi, old, old_spi = (
            ("ei", "rin", "ris", "or", "ori") if action.actor == "R"
            else ("er", "iin", "iis", "oi", "oii"))
        sent = before[idx[flight]]
        if before[idx[inbound]] == INSTALLED and sent == before[idx[spi]] + 1:
            return [(action.actor, "recv", "data")]
        if before[idx[old]] == LIVE and sent == before[idx[old_spi]] + 1:
            return [(action.actor, "recv", "data-old")]
        return [(action.actor, "recv", "data-dropped")]
    out: list[Label] = []
    if action.event == "rekey":
        out.append((action.actor, "expire", "soft"))
    elif action.event == "expire":
        out.append((action.actor, "expire", "hard"))
    out += step_events(model, before, after, action_index)
    for note, sender in (("dni", "I"), ("dnr", "R")):
        if before[idx[note]] != FLIGHT and after[idx[note]] == FLIGHT:
            out.append((sender, "send", "delete"))
    return out


def lifecycle_options(profile: str, rekeys: int, retransmits: int, eager_timers: bool = False,
                      mechanisms: dict[str, bool] | None = None) -> QMOptions:
    """The model options the check uses (message loss on), for replaying its witness."""
    return QMOptions(profile=profile, loss=True, retransmits=retransmits, rekeys=rekeys,
                     timers="eager" if eager_timers else "patient",
                     **(STRONGSWAN_MECHANISMS if mechanisms is None else mechanisms))


def check_lifecycle(initiator: list[Event], responder: list[Event], profile: str = "strongswan",
                    rekeys: int = 1, retransmits: int = 0, *, eager_timers: bool = False,
                    mechanisms: dict[str, bool] | None = None) -> Inclusion:
    """Is the run (both hosts' ``lifecycle_events``) a path of the lifecycle model with at most
    ``rekeys`` rekeys, message loss on, and the ``mechanisms`` (QMOptions switches)?"""
    i_ev, i_notes = observe(initiator)
    r_ev, r_notes = observe(responder)
    i_obs, r_obs, notes = abstract(i_ev, r_ev, (*OBSERVABLE, "expire"))
    options = lifecycle_options(profile, rekeys, retransmits, eager_timers, mechanisms)
    result = Inclusion(profile, retransmits, False, eager_timers,
                       abstractions=[f"I: {n}" for n in i_notes] + [f"R: {n}" for n in r_notes]
                       + notes)
    return search(QMModel(options), i_obs, r_obs, lifecycle_step_events, result)


def smallest_lifecycle_bound(initiator: list[Event], responder: list[Event],
                             profile: str = "strongswan", rekeys: int = 1,
                             max_retransmits: int = 2) -> Inclusion:
    """As ``inclusion.smallest_bound``, for the lifecycle model with ``rekeys``."""
    result = check_lifecycle(initiator, responder, profile, rekeys, 0)
    for eager in (False, True):
        for bound in range(max_retransmits + 1):
            result = check_lifecycle(initiator, responder, profile, rekeys, bound,
                                     eager_timers=eager)
            if result.included:
                return result
    return result
