"""``diff.changed`` for one host (docs/SPEC.md 4 and 7): the packets whose treatment differs
between two versions of the host's policies, as regions, decided by z3.

The treatment of a packet is what its first match does with it: PASS, DISCARD, no match, or
IPsec with a transform list *and* the policy's selectors (its address, port and protocol
fields: they become the negotiation's IDs, so the chosen policy matters there; its name and
priority do not). A region is the set of packets whose first match is policy ``a`` in the old
version and ``b`` in the new one, where the treatments of ``a`` and ``b`` differ; ``a`` or
``b`` may be the fallback (the implicit default policy, or no match).

Only *dirty* policies can bound a region: a policy of one version with no policy of equal
content in the other, or one whose set of earlier overlapping unchanged policies differs
between the versions (a reorder). If a packet's treatment differs, its first match in one of
the versions is dirty (the first matches differ in content; if both are unchanged, they
overlap and their order flipped). The overlap index over both versions gives each dirty
policy the few policies it can share packets with, so 10,000-policy versions with a few
changes cost a few small z3 queries. Each witness is made natural (a host address, TCP, the
policy's ports) by optional constraints z3 keeps when it can, and replayed on both versions
by the concrete lookup. A region's size is counted exactly by box arithmetic (or left out
past a budget). A z3 timeout makes the region ``unknown``, never "no change".
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import z3

from qmcheck.model.encodings.overlap_index import Box, build_index, policy_boxes
from qmcheck.model.encodings.z3_policies import SymPacket, fresh_packet, policy_match
from qmcheck.model.semantics.lookup import first_match
from qmcheck.model.semantics.witness import is_host_address, natural_packet
from qmcheck.model.values.addresses import Family, max_address
from qmcheck.model.values.packet import Packet
from qmcheck.model.values.policy import Host, Policy
from qmcheck.model.values.protocols import PORT_PROTOCOLS

EPHEMERAL = 40000
COMMON_PORTS = (22, 80, 443, 21, 23, 25, 53, 500, 5432, 3306)
SIZE_BUDGET = 20000  # boxes kept while counting a region; past it the size is left out


def content(p: Policy) -> Hashable:
    """What a policy does, without its name, priority and file position."""
    def values(f: object) -> tuple[tuple[int, str, int, int], ...]:
        return tuple((v.family, v.kind, v.lo, v.hi) for v in f.values)  # type: ignore[attr-defined]

    return (p.family, values(p.source), values(p.destination), p.source_port,
            p.destination_port, p.protocol, p.action)


def treatment(p: Policy | None) -> Hashable:
    """The treatment a first match gives a packet (None: no policy matches)."""
    if p is None:
        return ("none",)
    if not p.action.is_ipsec:
        return (p.action.verdict,)
    return ("IPSEC", content(p))


def change_kind(a: Policy | None, b: Policy | None) -> str:
    """``action`` (PASS/DISCARD/IPsec/no match), ``transforms`` or ``policy`` (selectors)."""
    va = a.action.verdict if a is not None else "none"
    vb = b.action.verdict if b is not None else "none"
    if va != vb:
        return "action"
    assert a is not None and b is not None
    return "transforms" if a.action != b.action else "policy"


@dataclass(frozen=True)
class Region:
    """Packets with first match ``old`` before and ``new`` after (None: no match)."""

    old: Policy | None
    new: Policy | None
    verdict: str  # refuted | unknown
    packet: Packet | None = None
    size: int | None = None

    @property
    def kind(self) -> str:
        return change_kind(self.old, self.new)


@dataclass
class HostDiff:
    """All regions of one host, the renames and reorders that change nothing, and figures."""

    old: Host
    new: Host
    regions: list[Region] = field(default_factory=list)
    renamed: list[tuple[Policy, Policy]] = field(default_factory=list)
    moved: list[tuple[Policy, Policy]] = field(default_factory=list)
    dirty: int = 0
    queries: int = 0


# ---------------------------------------------------------------------------------------
# region sizes by box arithmetic


def _meet(a: Box, b: Box) -> Box | None:
    out = []
    for k in range(0, 10, 2):
        lo, hi = max(a[k], b[k]), min(a[k + 1], b[k + 1])
        if lo > hi:
            return None
        out += [lo, hi]
    return tuple(out)  # type: ignore[return-value]


def _subtract(a: Box, b: Box) -> list[Box]:
    """``a`` minus ``b`` as disjoint boxes."""
    if _meet(a, b) is None:
        return [a]
    out: list[Box] = []
    rest = list(a)
    for k in range(0, 10, 2):
        lo, hi = rest[k], rest[k + 1]
        if lo < b[k]:
            piece = list(rest)
            piece[k + 1] = b[k] - 1
            out.append(tuple(piece))  # type: ignore[arg-type]
        if hi > b[k + 1]:
            piece = list(rest)
            piece[k] = b[k + 1] + 1
            out.append(tuple(piece))  # type: ignore[arg-type]
        rest[k], rest[k + 1] = max(lo, b[k]), min(hi, b[k + 1])
    return out


def box_size(b: Box) -> int:
    """Well-formed packets in a box: ports only for TCP, UDP and SCTP (else both 0)."""
    addresses = (b[1] - b[0] + 1) * (b[3] - b[2] + 1)
    with_ports = sum(1 for p in PORT_PROTOCOLS if b[8] <= p <= b[9])
    without = (b[9] - b[8] + 1) - with_ports
    ports = (b[5] - b[4] + 1) * (b[7] - b[6] + 1)
    zero = 1 if b[4] == 0 and b[6] == 0 else 0
    return addresses * (with_ports * ports + without * zero)


def region_size(positive: Sequence[Sequence[Box]], negative: Sequence[Box],
                budget: int = SIZE_BUDGET) -> int | None:
    """Packets in the intersection of the unions ``positive`` minus the union ``negative``
    (None when the pieces exceed ``budget``)."""
    def disjoint(group: Sequence[Box]) -> list[Box]:
        out: list[Box] = []
        for b in group:
            new = [b]
            for done in out:
                new = [x for piece in new for x in _subtract(piece, done)]
            out.extend(new)
        return out

    pieces = disjoint(positive[0]) if positive else []
    for group in positive[1:]:
        pieces = [m for p in pieces for b in disjoint(group) if (m := _meet(p, b)) is not None]
    for n in negative:
        pieces = [x for p in pieces for x in _subtract(p, n)]
        if len(pieces) > budget:
            return None
    return sum(box_size(p) for p in pieces)


def full_box(family: Family) -> Box:
    top = max_address(family)
    return (0, top, 0, top, 0, 65535, 0, 65535, 0, 255)


# ---------------------------------------------------------------------------------------
# the z3 side


class _Family:
    """One address family: both versions in one overlap index, one z3 solver."""

    def __init__(self, family: Family, old: list[Policy], new: list[Policy],
                 timeout_ms: int) -> None:
        self.family = family
        self.side: list[tuple[int, int]] = [
            (s, k) for s, ps in ((0, old), (1, new)) for k, p in enumerate(ps)
            if p.family in (None, family)]
        self.at = {sk: n for n, sk in enumerate(self.side)}
        self.index = build_index([*old, *new], family)
        self.policies = self.index.policies
        self.solver = z3.Solver()
        self.solver.set("timeout", timeout_ms)
        self.sp: SymPacket = fresh_packet(family)
        self.solver.add(self.sp.well_formed())
        self._match: dict[int, z3.BoolRef] = {}

    def match(self, n: int) -> z3.BoolRef:
        if n not in self._match:
            self._match[n] = policy_match(self.policies[n], self.sp)
        return self._match[n]

    def neighbours(self, n: int, side: int, before: bool = False) -> list[int]:
        """Neighbours of scope position ``n`` in version ``side`` (only those searched
        before it, with ``before``)."""
        return [m for m in self.index.neighbours[n]
                if self.side[m][0] == side and (not before or m < n)]


def _natural(fam: _Family, a: Policy | None, b: Policy | None,
             own: list[int]) -> z3.ModelRef:
    """Keep the constraints that make a witness look like a real packet while satisfiable;
    the solver is at a satisfiable point (one push level is used)."""
    sp, s = fam.sp, fam.solver
    named = [p for p in (a, b) if p is not None]
    prefs: list[z3.BoolRef] = []
    if all(p.protocol is None for p in named):
        prefs.append(z3.Or(sp.protocol == 6, sp.protocol == 17))
        prefs.append(sp.protocol == 6)
    if own:
        prefs.append(z3.Or(*[sp.local == x for x in own]))
    for p in named:
        if not p.destination_port.is_any:
            prefs.append(sp.rport == p.destination_port.lo)
    if named and all(not p.source_port.is_any and p.destination_port.is_any for p in named):
        prefs.append(sp.rport == EPHEMERAL)  # a server's reply: the client's port
    prefs.append(z3.Or(*[sp.rport == x for x in COMMON_PORTS]))
    prefs.append(z3.Or(sp.lport == 0, sp.lport == EPHEMERAL))
    prefs.append(sp.lport == EPHEMERAL)
    bits = 8 if fam.family == 4 else 16
    for var in (sp.local, sp.remote):
        prefs.append(z3.Extract(bits - 1, 0, var) != 0)
    for pref in prefs:
        s.push()
        s.add(pref)
        kept = s.check() == z3.sat
        s.pop()
        if kept:
            s.add(pref)  # keep it (inside the caller's push level)
    # the smallest value of each field, in order: the same witness on every run
    for var in (sp.protocol, sp.local, sp.remote, sp.lport, sp.rport):
        s.check()
        value = s.model().eval(var, model_completion=True).as_long()  # type: ignore[union-attr]
        lo = 0
        s.push()
        s.add(z3.ULT(var, value))
        lower = s.check() == z3.sat
        s.pop()
        if lower:
            hi = value - 1
            while lo < hi:
                mid = (lo + hi) // 2
                s.push()
                s.add(z3.ULE(var, mid))
                if s.check() == z3.sat:
                    hi = min(mid, s.model().eval(var, model_completion=True).as_long())  # type: ignore[union-attr]
                else:
                    lo = mid + 1
                s.pop()
            value = lo
        s.add(var == value)
    s.check()
    return s.model()


def diff_hosts(old: Host, new: Host, timeout_ms: int = 10_000, *,
               all_dirty: bool = False) -> HostDiff:
    """Every region whose treatment differs between two versions of a host (``all_dirty``:
    no pruning by unchanged policies, the baseline of ``benchmarks/bench_diff.py``)."""
    out = HostDiff(old, new)
    olds = [p for p in old.ordered() if not p.implicit]
    news = [p for p in new.ordered() if not p.implicit]
    fallback = (next((p for p in old.ordered() if p.implicit), None),
                next((p for p in new.ordered() if p.implicit), None))
    # unchanged policies: equal content, matched in search order
    pending: dict[Hashable, list[int]] = {}
    for j, q in enumerate(news):
        pending.setdefault(content(q), []).append(j)
    o2n: dict[int, int] = {}
    for i, p in enumerate(olds):
        bucket = pending.get(content(p))
        if bucket:
            o2n[i] = bucket.pop(0)
    n2o = {j: i for i, j in o2n.items()}
    dirty = [set(range(len(olds))) - set(o2n), set(range(len(news))) - set(n2o)]
    fams = sorted({p.family for p in [*olds, *news] if p.family is not None}
                  | ({4, 6} if any(p.family is None for p in [*olds, *news]) else set())) or [4]
    if treatment(fallback[0]) != treatment(fallback[1]):
        fams = [4, 6]  # the fallback's packets of both families change
    families = {f: _Family(f, olds, news, timeout_ms) for f in fams}  # type: ignore[arg-type]
    for fam in families.values():
        for i, j in o2n.items():
            if (0, i) not in fam.at:
                continue
            a, b = fam.at[(0, i)], fam.at[(1, j)]
            before_old = {fam.side[m][1] for m in fam.neighbours(a, 0, True)
                          if fam.side[m][1] in o2n}
            before_new = {n2o[fam.side[m][1]] for m in fam.neighbours(b, 1, True)
                          if fam.side[m][1] in n2o}
            if before_old != before_new:
                dirty[0].add(i)
                dirty[1].add(j)
    if all_dirty:
        dirty = [set(range(len(olds))), set(range(len(news)))]
    out.dirty = len(dirty[0]) + len(dirty[1])
    own = sorted({a for h in (old, new) for _, a in h.addresses})
    for fam in families.values():
        own_f = [a for h in (old, new) for f, a in h.addresses if f == fam.family]
        pairs: list[tuple[int | None, int | None]] = []
        seen: set[tuple[int | None, int | None]] = set()
        for side in (0, 1):
            for k in sorted(dirty[side]):
                n = fam.at.get((side, k))
                if n is None:
                    continue
                for m in [*fam.neighbours(n, 1 - side), None]:
                    pair = (n, m) if side == 0 else (m, n)
                    if pair not in seen:
                        seen.add(pair)
                        pairs.append(pair)
        if treatment(fallback[0]) != treatment(fallback[1]):
            pairs.append((None, None))
        for a, b in pairs:
            region = _solve(fam, a, b, fallback, own_f or own)
            out.queries += 1
            if region is not None:
                out.regions.append(region)
    merged: dict[tuple[int, int], Region] = {}
    for r in out.regions:  # a family-neutral pair can give one region per family
        key = (id(r.old), id(r.new))
        first = merged.get(key)
        if first is None or first.verdict == "unknown":
            merged[key] = r
        elif r.verdict == "refuted":
            size = None if first.size is None or r.size is None else first.size + r.size
            merged[key] = Region(first.old, first.new, "refuted", first.packet, size)
    out.regions = list(merged.values())
    _equivalences(out, olds, news, o2n, dirty)
    out.regions.sort(key=lambda r: (r.new.order_key if r.new else (2**62, 0),
                                    r.old.order_key if r.old else (2**62, 0)))
    return out


def _solve(fam: _Family, a: int | None, b: int | None,
           fallback: tuple[Policy | None, Policy | None], own: list[int]) -> Region | None:
    pa = fam.policies[a] if a is not None else fallback[0]
    pb = fam.policies[b] if b is not None else fallback[1]
    if treatment(pa) == treatment(pb):
        return None
    pos = [n for n in (a, b) if n is not None]
    # a policy that matches a packet of the region overlaps every policy of ``pos``
    near = [fam.index.neighbour_set(n) for n in pos]
    negs: list[int] = []
    for n, side in ((a, 0), (b, 1)):
        if n is not None:
            cands = fam.neighbours(n, side, True)
        else:
            other = b if side == 0 else a
            cands = (fam.neighbours(other, side) if other is not None
                     else [m for m, (s, _) in enumerate(fam.side) if s == side])
        negs += [m for m in cands if all(m in nb for nb in near)]
    s = fam.solver
    s.push()
    try:
        s.add(*[fam.match(n) for n in pos], *[z3.Not(fam.match(m)) for m in negs])
        answer = s.check()
        if answer == z3.unsat:
            return None
        if answer != z3.sat:
            return Region(pa, pb, "unknown")
        model = _natural(fam, pa if a is not None else None, pb if b is not None else None,
                         own)
        packet = _host_addresses(fam, fam.sp.concrete(model), [p for p in (pa, pb) if p])
    finally:
        s.pop()
    boxes = [policy_boxes(fam.policies[n], fam.family) for n in pos] or [[full_box(fam.family)]]
    size = region_size(boxes, [x for m in negs for x in policy_boxes(fam.policies[m],
                                                                     fam.family)])
    return Region(pa, pb, "refuted", packet, size)


def _host_addresses(fam: _Family, packet: Packet, focus: list[Policy]) -> Packet:
    """A witness whose address is no host address (``0.0.0.1`` where a field is any, e.g. a
    road warrior's symbolic peer) moved to one in the same cell of every policy of both
    versions (witness.natural_packet), so its first matches, hence the region, stay."""
    if all(is_host_address(packet.family, a) for a in (packet.src, packet.dst)):
        return packet
    return natural_packet(packet, fam.policies, focus)


def replay(diff: HostDiff, region: Region) -> None:
    """The concrete lookup on both versions gives the region's first matches and
    different treatments (an AssertionError otherwise: a bug)."""
    assert region.packet is not None
    got = (first_match(diff.old.ordered(), region.packet),
           first_match(diff.new.ordered(), region.packet))
    if got != (region.old, region.new) or treatment(got[0]) == treatment(got[1]):
        raise AssertionError(f"diff witness {region.packet} replays as "
                             f"{[p.name if p else None for p in got]}")


def _equivalences(out: HostDiff, olds: list[Policy], news: list[Policy],
                  o2n: dict[int, int], dirty: list[set[int]]) -> None:
    """Renamed policies (same content, another name) and moved ones (outside a longest run
    of unchanged policies that kept their relative order) that are in no region."""
    in_regions = {id(p) for r in out.regions for p in (r.old, r.new) if p is not None}
    kept = _longest_increasing([o2n[i] for i in sorted(o2n)])
    for k, i in enumerate(sorted(o2n)):
        p, q = olds[i], news[o2n[i]]
        if id(p) in in_regions or id(q) in in_regions:
            continue
        if p.name != q.name:
            out.renamed.append((p, q))
        if k not in kept:
            out.moved.append((p, q))


def _longest_increasing(values: list[int]) -> set[int]:
    """Positions of a longest increasing subsequence of ``values`` (the policies that kept
    their relative order; the others moved)."""
    tails: list[int] = []  # position of the smallest tail of each length
    back: list[int] = [-1] * len(values)
    for k, v in enumerate(values):
        lo, hi = 0, len(tails)
        while lo < hi:
            mid = (lo + hi) // 2
            if values[tails[mid]] < v:
                lo = mid + 1
            else:
                hi = mid
        back[k] = tails[lo - 1] if lo else -1
        if lo == len(tails):
            tails.append(k)
        else:
            tails[lo] = k
    out: set[int] = set()
    k = tails[-1] if tails else -1
    while k >= 0:
        out.add(k)
        k = back[k]
    return out
