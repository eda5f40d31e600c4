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
        ]
        if self.retransmits is not None:
            checks.append(("retransmits", self.retransmits, 0, MAX_RETRANSMITS))
        for name, value, lo, hi in checks:
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise InputError(f"{name} must be an integer from {lo} to {hi}, got {value!r}",
                                 source=src, field=name)

    @property
    def eager(self) -> bool:
        """Timers may fire while messages are in flight."""
        return self.timers == "eager"

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
        head = "+".join(faults) if faults else "reliable"
        r = "profile" if self.retransmits is None else str(self.retransmits)
        return f"{head},timers={self.timers},R={r},N={self.negotiations}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_(self, **changes: Any) -> QMOptions:
        return replace(self, **changes)


ALIASES: dict[str, str] = {"commit-bit": "commit_bit", "max-duplicates": "max_duplicates",
                           "max-losses": "max_losses"}


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
