"""The traffic summary of two hosts: what will be protected, and how.

For each IPsec policy of the initiator, z3 enumerates every distinct outcome over the packets
whose first match it is: the responder's policy chosen from the selectors (or none), whether
the narrowed selectors still hold the packet, and the responder's own lookup. Each outcome is
a row: a region of the 5-tuple space (the initiator policy's packets that lead to it), the
policies on both sides, the agreed transform, and an example packet replayed concretely.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import z3

from qmcheck.model.encodings.z3_negotiation import PairEncoding, eq_const, region_terms
from qmcheck.model.quickmode.profiles import negotiation_options
from qmcheck.model.values.packet import Packet
from qmcheck.model.values.policy import Host
from qmcheck.properties.checks.peers import concrete_verdict, families
from qmcheck.properties.results import Result, format_packet_dict, table

MAX_ROWS_PER_POLICY = 16


@dataclass(frozen=True)
class Row:
    """One region: an initiator policy's packets with one outcome at the responder."""

    initiator: str
    responder: str
    profile: str
    initiator_policy: str
    traffic: str
    responder_policy: str | None
    outcome: str
    transform: str | None
    responder_lookup: str | None
    example: Packet
    complete: bool = True

    def to_json(self) -> dict[str, Any]:
        return {"initiator": self.initiator, "responder": self.responder,
                "profile": self.profile, "initiator_policy": self.initiator_policy,
                "traffic": self.traffic, "responder_policy": self.responder_policy,
                "outcome": self.outcome, "transform": self.transform,
                "responder_lookup": self.responder_lookup, "example": self.example.to_json(),
                "complete": self.complete}


def summary_rows(initiator: Host, responder: Host, profile: str,
                 timeout: float = 60.0) -> list[Row]:
    """Every (initiator policy, responder choice, responder lookup) region, in policy order."""
    options = negotiation_options(profile)
    rows: list[Row] = []
    for family in families(initiator, responder):
        enc = PairEncoding(initiator, responder, family, options)
        for n, policy in enumerate(enc.i_order):
            if not policy.action.is_ipsec:
                continue
            t = region_terms(enc, n)
            solver = z3.SolverFor("QF_BV", ctx=enc.ctx)  # incremental: one region, many rows
            solver.set("timeout", max(1, int(timeout * 1000)))
            solver.add(t.region)
            found = 0
            while True:
                answer = solver.check()
                if answer == z3.unsat:
                    break
                if answer != z3.sat or found == MAX_ROWS_PER_POLICY:
                    if found:  # more regions than shown, or the solver gave up
                        rows[-1] = _incomplete(rows[-1])
                    break
                model = solver.model()
                packet = enc.concrete(model)
                chosen = model.eval(t.chosen, model_completion=True).as_long()  # type: ignore[union-attr]
                look = model.eval(t.lookup, model_completion=True).as_long()  # type: ignore[union-attr]
                rows.append(_row(initiator, responder, profile, policy.describe(), packet,
                                 options))
                found += 1
                solver.add(z3.Not(z3.And(eq_const(t.chosen, chosen), eq_const(t.lookup, look))))
    return rows


def _incomplete(row: Row) -> Row:
    return Row(**{**row.__dict__, "complete": False})


def _row(initiator: Host, responder: Host, profile: str, traffic: str, packet: Packet,
         options: Any) -> Row:
    v = concrete_verdict(initiator, responder, packet, options)
    out = v.outcome
    status = out.status if out.covers_packet else "narrowed away"
    assert out.initiator_policy is not None
    return Row(initiator.name, responder.name, profile, out.initiator_policy.name,
               traffic.split(": ", 1)[1] if ": " in traffic else traffic,
               out.responder_policy.name if out.responder_policy else None, status,
               str(out.accepted) if out.accepted and out.covers_packet else None,
               v.responder_lookup.name if v.responder_lookup else None, out.packet)


def summary_results(rows: list[Row]) -> list[Result]:
    """The rows as report entries (property ``peers.traffic``, severity note)."""
    out = []
    for r in rows:
        how = f"protected with {r.transform}" if r.transform else f"not protected: {r.outcome}"
        out.append(Result("peers.traffic", "holds",
                          (r.initiator_policy, r.responder_policy or "-"), "note", "smt",
                          f"{r.initiator} -> {r.responder} ({r.profile}): {how}",
                          {"packet": r.example.to_json(),
                           "related": [x for x in (r.initiator_policy, r.responder_policy,
                                                   r.responder_lookup) if x]},
                          extra={"traffic": r.to_json()}))
    return out


def summary_text(rows: list[Row]) -> str:
    """The "what will be protected, how" table."""
    if not rows:
        return "traffic summary: no IPsec policy of either host applies to traffic between them\n"
    header = ["profile", "initiator", "policy", "its traffic", "responder policy", "outcome",
              "transform", "responder lookup", "example"]
    body = [[r.profile, f"{r.initiator}->{r.responder}", r.initiator_policy, r.traffic,
             r.responder_policy or "-", r.outcome + ("" if r.complete else " (+more)"),
             r.transform or "-", r.responder_lookup or "-",
             format_packet_dict(r.example.to_json())] for r in rows]
    return "traffic summary (what will be protected, how):\n" + "\n".join(
        table(body, header)) + "\n"
