"""``diff.changed`` between two versions of a scenario: the host pairs whose negotiation
outcome differs for some traffic (accepted with another transform, INVALID_ID_INFORMATION,
NO_PROPOSAL_CHOSEN, no negotiation at all).

Decided exactly over the cells of ``checks.deploy.cells`` (both versions of both hosts cut the
packet space; inside a cell the outcome is constant), each cell's representative negotiated by the
concrete semantics on both versions. Cells with the same pair of outcomes and the same
policies form one region, with the most natural representative as its witness and the summed
packet count as its size. A partition past the cell limit leaves the pair ``unknown``.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field

from qmcheck.model.quickmode.profiles import negotiation_options
from qmcheck.model.semantics.negotiation import Outcome, negotiate
from qmcheck.model.values.packet import Packet
from qmcheck.model.values.policy import Host
from qmcheck.properties.checks.deploy.cells import (
    DEFAULT_LIMIT,
    TooManyCells,
    cells,
    families,
    plainness,
)
from qmcheck.properties.checks.deploy.diff import content


def outcome_key(o: Outcome) -> Hashable:
    """What a negotiation achieves: its status and the accepted transform."""
    return (o.status, str(o.accepted) if o.accepted is not None else None)


def outcome_text(o: Outcome) -> str:
    if o.status == "accepted":
        return f"accepted {o.accepted}"
    if o.status == "not-protected":
        return "no negotiation"
    return o.status


@dataclass
class NegotiationRegion:
    """Packets of ``initiator`` toward ``responder`` whose outcome changed."""

    initiator: str
    responder: str
    profile: str
    old: Outcome
    new: Outcome
    size: int | None  # None: found by z3 (``negotiation_smt``), not counted

    @property
    def packet(self) -> Packet:
        return self.new.packet


@dataclass
class PairDiff:
    """The changed regions of one ordered host pair under one profile (``unknown`` set when
    the partition was too large)."""

    initiator: str
    responder: str
    profile: str
    regions: list[NegotiationRegion] = field(default_factory=list)
    unknown: str | None = None
    cells: int = 0


def _names(o: Outcome) -> tuple[str | None, str | None]:
    return (o.initiator_policy.name if o.initiator_policy else None,
            o.responder_policy.name if o.responder_policy else None)


def _same(a: Host, b: Host) -> bool:
    return [content(p) for p in a.ordered()] == [content(p) for p in b.ordered()]


def diff_pair(old_i: Host, old_r: Host, new_i: Host, new_r: Host, profile: str,
              limit: int = DEFAULT_LIMIT) -> PairDiff:
    """Where the outcome of I's negotiations toward R differs between the versions."""
    out = PairDiff(new_i.name, new_r.name, profile)
    opts = negotiation_options(profile)
    if _same(old_i, new_i) and _same(old_r, new_r):
        return out  # the same policies in the same order: the same outcome for every packet
    groups: dict[Hashable, NegotiationRegion] = {}
    try:
        for family in families([old_i, old_r, new_i, new_r]):
            for cell in cells([old_i, new_i], [old_r, new_r], family, limit=limit):
                out.cells += 1
                a = negotiate(old_i, old_r, cell.packet, opts)
                b = negotiate(new_i, new_r, cell.packet, opts)
                if outcome_key(a) == outcome_key(b):
                    continue
                key = (outcome_key(a), outcome_key(b), _names(a), _names(b))
                if key in groups:
                    group = groups[key]
                    group.size = (group.size or 0) + cell.size
                    if plainness(cell.packet) < plainness(group.packet):
                        group.old, group.new = a, b  # a more natural witness
                else:
                    groups[key] = NegotiationRegion(out.initiator, out.responder, profile, a,
                                                    b, cell.size)
    except TooManyCells as e:
        out.unknown = str(e)
        return out
    out.regions = list(groups.values())
    return out


def replay(region: NegotiationRegion, old_i: Host, old_r: Host, new_i: Host,
           new_r: Host) -> None:
    """The witness negotiates differently on the two versions (AssertionError otherwise)."""
    opts = negotiation_options(region.profile)
    a = negotiate(old_i, old_r, region.packet, opts)
    b = negotiate(new_i, new_r, region.packet, opts)
    if outcome_key(a) == outcome_key(b) or outcome_key(a) != outcome_key(region.old):
        raise AssertionError(f"negotiation diff witness {region.packet} does not replay")
