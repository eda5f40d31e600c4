"""Options of the Quick Mode model: profile, faults, bounds, commit bit, negotiations."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from qmcheck.model.values.errors import InputError

#: The implementation profiles of docs/SPEC.md 3, in table order.
PROFILES: tuple[str, ...] = ("hpux", "racoon", "strongswan", "libreswan")
#: Deliberately wrong responders, for testing that the checker can refute.
MUTANTS: tuple[str, ...] = ("mutant-install-msg1", "mutant-never-install")
ALL_PROFILES: tuple[str, ...] = PROFILES + MUTANTS

MAX_RETRANSMITS = 6
MAX_NEGOTIATIONS = 8
MAX_DUPLICATES = 4


@dataclass(frozen=True)
class QMOptions:
    """One configuration of the exchange.

    ``retransmits`` bounds the retransmissions of message 1 (by I), message 2 (by R) and, with the
    commit bit, of message 3 while I waits for CONNECTED; after that many a side gives up.
    ``max_duplicates`` bounds how many copies the network may make per negotiation (only with
    ``duplicate``). ``simultaneous`` adds, for each negotiation started by host A, one started by
    host B for the same traffic. ``capacity`` is the number of slots per channel direction and
    negotiation (0: large enough that no send ever finds it full). Timers fire only when
    nothing of the negotiation is in flight (timeouts longer than a round trip), unless
    ``eager_timers``: then a timer may fire at any time (a delay longer than the timeout).
    """

    profile: str = "hpux"
    loss: bool = False
    duplicate: bool = False
    reorder: bool = False
    retransmits: int = 2
    commit_bit: bool = False
    negotiations: int = 1
    simultaneous: bool = False
    max_duplicates: int = 1
    capacity: int = 0
    eager_timers: bool = False

    def __post_init__(self) -> None:
        src = "<command line>"
        if self.profile not in ALL_PROFILES:
            raise InputError(
                f"unknown profile {self.profile!r} (expected one of {', '.join(ALL_PROFILES)})",
                source=src, field="profile")
        checks = (
            ("retransmits", self.retransmits, 0, MAX_RETRANSMITS),
            ("negotiations", self.negotiations, 1, MAX_NEGOTIATIONS),
            ("max_duplicates", self.max_duplicates, 0, MAX_DUPLICATES),
            ("capacity", self.capacity, 0, 32),
        )
        for name, value, lo, hi in checks:
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise InputError(f"{name} must be an integer from {lo} to {hi}, got {value!r}",
                                 source=src, field=name)

    @property
    def slots(self) -> int:
        """Channel slots per direction and negotiation."""
        if self.capacity:
            return self.capacity
        dups = self.max_duplicates if self.duplicate else 0
        return 2 * (self.retransmits + 1) + 2 * dups + 1

    @property
    def components(self) -> int:
        """Number of negotiation components in the state."""
        return self.negotiations * (2 if self.simultaneous else 1)

    def label(self) -> str:
        """A short, stable name of the fault setting, e.g. ``loss+reorder,R=2,N=1``."""
        faults = [n for n, on in (("loss", self.loss), ("dup", self.duplicate),
                                  ("reorder", self.reorder), ("commit", self.commit_bit),
                                  ("simultaneous", self.simultaneous),
                                  ("eager-timers", self.eager_timers)) if on]
        head = "+".join(faults) if faults else "reliable"
        return f"{head},R={self.retransmits},N={self.negotiations}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_(self, **changes: Any) -> QMOptions:
        return replace(self, **changes)


def options_from_mapping(data: dict[str, Any], *, source: str = "<scenario>") -> QMOptions:
    """Options from a scenario's ``protocol:`` mapping (keys as the command-line options)."""
    known = {f for f in QMOptions.__dataclass_fields__}
    aliases = {"commit-bit": "commit_bit", "max-duplicates": "max_duplicates"}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        name = aliases.get(key, key)
        if name not in known:
            raise InputError(f"unknown protocol option {key!r}", source=source, field=key)
        kwargs[name] = value
    try:
        return QMOptions(**kwargs)
    except InputError as error:
        raise InputError(error.message, source=source, field=error.field) from None
