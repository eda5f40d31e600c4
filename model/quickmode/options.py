"""Options of the Quick Mode model: profile, faults, timers, bounds, commit bit, negotiations."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from qmcheck.model.values.errors import InputError

#: The built-in implementation profiles of docs/SPEC.md 3, in table order (model/profiles/*.yaml).
PROFILES: tuple[str, ...] = ("hpux", "racoon", "strongswan", "libreswan")

MAX_RETRANSMITS = 6
MAX_NEGOTIATIONS = 8
MAX_DUPLICATES = 4
MAX_REKEYS = 3
#: The lifecycle's switches (QMOptions fields) and their short names in labels.
LIFECYCLE_SWITCHES: tuple[tuple[str, str], ...] = (
    ("delete_notify", "delete"), ("dpd", "dpd"), ("initial_contact", "ic"),
    ("restart", "restart"), ("collide", "collide"))
TIMERS: tuple[str, ...] = ("eager", "patient")
OUTCOMES: tuple[str, ...] = ("installed", "no-proposal-chosen", "invalid-id-information")


@dataclass(frozen=True)
class QMOptions:
    """One configuration of the exchange.

    ``profile`` is a built-in profile name, a mutant name (model/profiles/mutants) or the path
    of a profile file. ``retransmits`` (None: the profile's) bounds the retransmissions of
    message 1 (by I), message 2 (by R) and, with the commit bit, of message 3; after that many a
    side gives up. ``max_losses`` bounds the messages the network loses per negotiation (0: no
    bound). ``max_duplicates`` bounds the copies per negotiation (only with ``duplicate``).
    ``simultaneous`` adds, for each negotiation started by host A, one started by host B for the
    same traffic. ``capacity`` is the number of IKE slots per channel direction and negotiation
    (0: large enough that no send finds it full). ``timers``: ``eager`` (a timer may fire while
    messages are in flight) or ``patient`` (only when what it waits for can no longer arrive).
    ``esp``: protected packets each kernel sends per negotiation and direction. ``outcome``: what
    the responder's policy lookup gives for message 1 (docs/SPEC.md 3 step 2).

    The SA lifecycle (docs/SPEC.md 3 "After Quick Mode", model/quickmode/lifecycle.py):
    ``rekeys`` bounds the rekeys explored per pair (0: the lifecycle is off unless a mechanism
    is on); ``delete_notify``, ``dpd`` and ``initial_contact`` switch the mechanisms on (each
    used only where the profile's ``lifecycle:`` section says the daemon has it); ``restart``
    adds the fault: one host loses its SA database and daemon state, once per pair;
    ``collide`` lets the pair's responder also reach its soft expiry and start its own rekey of
    the same pair (a rekey collision, model/quickmode/collision.py; only where the profile's
    ``rekey-by`` is ``both``; needs ``rekeys`` >= 1). ``no_expiry``: the negotiated transform
    has lifetimes of 0 (seconds and kilobytes: RFC 2407 4.5 leaves a lifetime out = no limit
    here), so no SA ever reaches a soft or hard expiry: no rekey, no collision, no expiry of
    old or orphan pairs (set from a scenario's transforms, or its ``no-expiry`` key).
    """

    profile: str = "hpux"
    loss: bool = False
    duplicate: bool = False
    reorder: bool = False
    retransmits: int | None = None
    commit_bit: bool = False
    negotiations: int = 1
    simultaneous: bool = False
    max_duplicates: int = 1
    capacity: int = 0
    timers: str = "eager"
    max_losses: int = 0
    esp: int = 1
    outcome: str = "installed"
    rekeys: int = 0
    delete_notify: bool = False
    dpd: bool = False
    initial_contact: bool = False
    restart: bool = False
    collide: bool = False
    no_expiry: bool = False

    def __post_init__(self) -> None:
        src = "<command line>"
        if not isinstance(self.profile, str) or not self.profile:
            raise InputError("profile must be a name or a file path", source=src,
                             field="profile")
        for name, value, allowed in (("timers", self.timers, TIMERS),
                                     ("outcome", self.outcome, OUTCOMES)):
            if value not in allowed:
                raise InputError(f"{name} must be one of {', '.join(allowed)}, got {value!r}",
                                 source=src, field=name)
        checks = [
            ("negotiations", self.negotiations, 1, MAX_NEGOTIATIONS),
            ("max_duplicates", self.max_duplicates, 0, MAX_DUPLICATES),
            ("capacity", self.capacity, 0, 32),
            ("max_losses", self.max_losses, 0, 4),
            ("esp", self.esp, 0, 3),
            ("rekeys", self.rekeys, 0, MAX_REKEYS),
        ]
        if self.retransmits is not None:
            checks.append(("retransmits", self.retransmits, 0, MAX_RETRANSMITS))
        for name, value, lo, hi in checks:
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise InputError(f"{name} must be an integer from {lo} to {hi}, got {value!r}",
                                 source=src, field=name)
        if self.collide and self.rekeys < 1:
            raise InputError("collide needs rekeys >= 1 (a collision is two rekeys of one "
                             "pair)", source=src, field="collide")

    @property
    def eager(self) -> bool:
        """Timers may fire while messages are in flight."""
        return self.timers == "eager"

    @property
    def lifecycle(self) -> bool:
        """The SA lifecycle is part of the model (rekeys, a mechanism or the restart fault)."""
        return self.rekeys > 0 or any(getattr(self, f) for f, _ in LIFECYCLE_SWITCHES)

    @property
    def components(self) -> int:
        """Number of negotiation components in the state."""
        return self.negotiations * (2 if self.simultaneous else 1)

    def label(self) -> str:
        """A short, stable name of the setting, e.g. ``loss+reorder,timers=eager,R=2,N=1``."""
        faults = [n for n, on in (("loss", self.loss), ("dup", self.duplicate),
                                  ("reorder", self.reorder), ("commit", self.commit_bit),
                                  ("simultaneous", self.simultaneous)) if on]
        if self.loss and self.max_losses:
            faults[0] = f"loss<={self.max_losses}"
        if self.outcome != "installed":
            faults.append(self.outcome)
        faults += [short for f, short in LIFECYCLE_SWITCHES if getattr(self, f)]
        head = "+".join(faults) if faults else "reliable"
        r = "profile" if self.retransmits is None else str(self.retransmits)
        tail = f",K={self.rekeys}" if self.lifecycle else ""
        if self.no_expiry:
            tail += ",lifetime=0"
        return f"{head},timers={self.timers},R={r},N={self.negotiations}{tail}"

    def to_dict(self) -> dict[str, Any]:
        """The fields; the lifecycle's only when it is on (so reports without it are
        unchanged)."""
        out = asdict(self)
        if not self.lifecycle:
            for name in ("rekeys", *(f for f, _ in LIFECYCLE_SWITCHES)):
                del out[name]
        for name in ("collide", "no_expiry"):  # new fields: only when on (outputs unchanged)
            if not out.get(name, True):
                del out[name]
        return out

    def with_(self, **changes: Any) -> QMOptions:
        return replace(self, **changes)


ALIASES: dict[str, str] = {"commit-bit": "commit_bit", "max-duplicates": "max_duplicates",
                           "max-losses": "max_losses", "delete-notify": "delete_notify",
                           "initial-contact": "initial_contact", "no-expiry": "no_expiry"}


def options_from_mapping(data: dict[str, Any], *, source: str = "<scenario>") -> QMOptions:
    """Options from a scenario's ``protocol:`` mapping (keys as the command-line options)."""
    known = {f for f in QMOptions.__dataclass_fields__}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        name = ALIASES.get(key, key)
        if name not in known:
            raise InputError(f"unknown protocol option {key!r}", source=source, field=key)
        kwargs[name] = value
    try:
        return QMOptions(**kwargs)
    except InputError as error:
        raise InputError(error.message, source=source, field=error.field) from None
