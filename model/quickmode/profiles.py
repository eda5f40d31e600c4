"""Implementation profiles: when each side touches its SA database (docs/SPEC.md 3, the profile
table)."""

from __future__ import annotations

from dataclasses import dataclass

from qmcheck.model.quickmode.state import ABSENT, INSTALLED, LARVAL


@dataclass(frozen=True)
class Profile:
    """SA database effects of one implementation, as (inbound, outbound) entry states.

    ``i_msg1``: the initiator's entries when it sends message 1. ``r_msg1``: the responder's
    entries when it processes message 1 (and builds message 2). ``i_install_after_msg3``: the
    initiator sends message 3 first and installs in a separate, later step (racoon); otherwise
    it installs both entries and then sends message 3 in one step. ``r_msg3``: the responder's
    entries after message 3. ``row`` is the docs/SPEC.md table row, for the mapping document.
    """

    name: str
    i_msg1: tuple[int, int]
    r_msg1: tuple[int, int]
    i_install_after_msg3: bool
    r_msg3: tuple[int, int]
    row: str


PROFILE_TABLE: dict[str, Profile] = {
    "hpux": Profile(
        "hpux", (LARVAL, LARVAL), (LARVAL, LARVAL), False, (INSTALLED, INSTALLED),
        "both entries larval (inbound with SPI, outbound without) | outbound gets R's SPI, "
        "both installed | SPI reserved, both larval | both installed"),
    "racoon": Profile(
        "racoon", (LARVAL, ABSENT), (LARVAL, ABSENT), True, (INSTALLED, INSTALLED),
        "larval inbound | sends msg3, then inbound updated + outbound added | larval inbound | "
        "inbound updated + outbound added"),
    "strongswan": Profile(
        "strongswan", (LARVAL, ABSENT), (LARVAL, ABSENT), False, (INSTALLED, INSTALLED),
        "larval inbound | both installed, then msg3 sent | nothing; larval inbound when msg2 "
        "is built | both installed"),
    "libreswan": Profile(
        "libreswan", (LARVAL, ABSENT), (INSTALLED, ABSENT), False, (INSTALLED, INSTALLED),
        "larval inbound | both installed, then msg3 sent | inbound INSTALLED before msg2 | "
        "outbound installed"),
    "mutant-install-msg1": Profile(
        "mutant-install-msg1", (LARVAL, LARVAL), (INSTALLED, INSTALLED), False,
        (INSTALLED, INSTALLED), "mutant: the responder installs both SAs on message 1"),
    "mutant-never-install": Profile(
        "mutant-never-install", (LARVAL, LARVAL), (LARVAL, LARVAL), False, (LARVAL, LARVAL),
        "mutant: the responder never installs (makes every proof vacuous)"),
}
