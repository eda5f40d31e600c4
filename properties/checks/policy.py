"""The ``policy.*`` properties of one host (docs/SPEC.md 4), decided by z3.

Definitions (P = the host's policies in search order, the implicit default last; first(x) = the
first policy of P matching packet x; an *effective* policy is first(x) for some x):
- shadowed(p): p is not effective and some packet of p goes to an earlier policy with another
  action; reported with a smallest set of earlier policies whose union covers p.
- redundant(p): p is not shadowed and removing p changes no packet's action (no match counts
  as an action of its own).
- generalization(i, j): i before j, both effective, different actions, match(i) is a subset of
  match(j).
- correlated(i, j): i before j, both effective, different actions, some packet has first match
  i and also matches j, and match(i) is not a subset of match(j).
- determinism(p, q): equal priority, and some packet matches both while no policy of a lower
  priority value matches it (so the file order picks its first match); or else some selector
  pair is contained in both and in no policy of a lower priority value (so the file order picks
  the responder's policy; strict wildcards as ``negotiation.selectors_match``). Error when the
  actions differ, warning when only the policy (its selectors) differs.
- uncovered: some packet matches no policy (only possible with ``default-action: none``).
The implicit default policy is never a subject: it is the fallback action of every packet.

Each family (IPv4, IPv6) is analysed on its own; a policy with both addresses ``any`` belongs
to both. The index (``model.policy_index``) prunes policies that cannot share a packet; every
verdict is a z3 answer (``model.policy_smt``), every witness is replayed by the concrete
semantics before it is reported, and a z3 timeout makes the verdict ``unknown``.
"""

from __future__ import annotations

import itertools
import time
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from qmcheck.model.encodings.overlap_index import FamilyIndex, build_index
from qmcheck.model.encodings.smtlib_batches import Answer, BatchSolver, Query
from qmcheck.model.semantics.lookup import first_match
from qmcheck.model.semantics.negotiation import responder_search, selectors_match
from qmcheck.model.semantics.witness import RegionIndex, natural_packet
from qmcheck.model.values.addresses import Family
from qmcheck.model.values.packet import Packet
from qmcheck.model.values.policy import Host, Policy
from qmcheck.model.values.selectors import Selector

POLICY_PROPERTIES = ("policy.determinism", "policy.shadowed", "policy.redundant",
                     "policy.correlated", "policy.generalization", "policy.uncovered")
MAX_COVER_ROUNDS = 64
# The phases whose work each property needs (shared phases count for each of them).
PHASES_OF: dict[str, tuple[str, ...]] = {
    "policy.determinism": ("index", "determinism"),
    "policy.shadowed": ("index", "first match", "cover sets", "shadowing", "classify"),
    "policy.redundant": ("index", "first match", "cover sets", "redundancy", "classify"),
    "policy.correlated": ("index", "first match", "cover sets", "pairs"),
    "policy.generalization": ("index", "first match", "cover sets", "pairs"),
    "policy.uncovered": ("index", "uncovered"),
}

Progress = Callable[[str, int, int], None]  # (phase, done, total)


@dataclass(frozen=True)
class Finding:
    """One refutation (or an unknown) of a ``policy.*`` property."""

    property: str
    subject: tuple[Policy, ...]
    verdict: str  # "refuted" | "unknown"
    severity: str
    message: str
    packet: Packet | None = None
    related: tuple[str, ...] = ()
    selectors: tuple[Selector, Selector] | None = None  # (IDci, IDcr), responder ties


@dataclass
class Analysis:
    """All findings for one host, with per-phase seconds and the number of z3 checks."""

    def property_seconds(self, prop: str) -> float:
        """Seconds of the phases the property needs (shared phases counted in full)."""
        return sum(self.seconds.get(phase, 0.0) for phase in PHASES_OF[prop])


    host: Host
    findings: list[Finding] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    checks: int = 0
    policies: int = 0
    never_first: set[str] = field(default_factory=set)  # proved never the first match


@dataclass
class _Family:
    index: FamilyIndex
    solver: BatchSolver
    gid: list[int]  # scope position -> global id
    pos: dict[int, int]  # global id -> scope position


class _Analyser:
    def __init__(self, host: Host, timeout_ms: int, progress: Progress | None) -> None:
        ordered = host.ordered()
        self.host = host
        self.policies = [p for p in ordered if not p.implicit]
        self.default = next((p for p in ordered if p.implicit), None)
        self.timeout_ms = timeout_ms
        self.progress = progress
        self.analysis = Analysis(host, policies=len(self.policies))
        self.families: dict[Family, _Family] = {}
        n = len(self.policies)
        self.effective: list[Packet | None] = [None] * n  # a packet whose first match it is
        self.differs: list[Packet | None] = [None] * n  # first match here, removal matters
        self.shadow: list[Packet | None] = [None] * n  # packet of it, first match elsewhere
        self.unknown: list[bool] = [False] * n
        self.region: RegionIndex | None = None  # for natural witnesses, built on first use

    # ----------------------------------------------------------------------------------
    def timed(self, name: str, fn: Callable[[], None]) -> None:
        start = time.perf_counter()
        fn()
        self.analysis.seconds[name] = self.analysis.seconds.get(name, 0.0) + (
            time.perf_counter() - start)

    def solve(self, fam: _Family, queries: list[Query], phase: str, *,
              symbolic_too: bool = True) -> list[Answer]:
        total = len(queries)
        done = 0

        def tick(k: int) -> None:
            nonlocal done
            done += k
            if self.progress is not None:
                self.progress(phase, done, total)

        answers = fam.solver.solve(queries, tick, symbolic_too=symbolic_too)
        return answers

    def scope_families(self, p: Policy) -> list[_Family]:
        fams = (4, 6) if p.family is None else (p.family,)
        return [self.families[f] for f in fams if f in self.families]

    # ----------------------------------------------------------------------------------
    def build(self) -> None:
        named = {p.family for p in self.policies if p.family is not None}
        if any(p.family is None for p in self.policies):
            named |= {4, 6}
        for family in sorted(named):
            index = build_index(self.policies, family)  # type: ignore[arg-type]
            by_identity = {id(p): k for k, p in enumerate(self.policies)}
            gids = [by_identity[id(p)] for p in index.policies]
            solver = BatchSolver(family, index.policies, self.timeout_ms,  # type: ignore[arg-type]
                                 boxes=index.boxes)
            self.families[family] = _Family(index, solver, gids,  # type: ignore[index]
                                            {g: k for k, g in enumerate(gids)})

    def first_match_phase(self) -> None:
        """Guessed witnesses (z3-confirmed) of policies that apply somewhere and whose
        removal matters; the others go to the cover and redundancy phases."""
        for fam in self.families.values():
            idx = fam.index
            every = list(range(len(idx.policies)))
            answers = self.solve(fam, [self.removal_query(fam, j) for j in every],
                                 "first match", symbolic_too=False)
            rest = []
            for j, a in zip(every, answers, strict=True):
                g = fam.gid[j]
                if a.verdict == "sat":
                    self.differs[g] = self.effective[g] = self.replay_differs(a.packet, g)
                else:
                    rest.append(j)
            answers = self.solve(fam, [Query((j,), tuple(idx.earlier(j))) for j in rest],
                                 "first match", symbolic_too=False)
            for j, a in zip(rest, answers, strict=True):
                g = fam.gid[j]
                if a.verdict == "sat":
                    self.effective[g] = self.effective[g] or self.replay_first(a.packet, g)

    def removal_query(self, fam: _Family, j: int) -> Query:
        """A packet whose first match is ``j`` and whose action changes without ``j``."""
        idx = fam.index
        p = idx.policies[j]
        later = idx.later(j)
        fallback = self.default is None or self.default.action != p.action
        return Query((j,), tuple(idx.earlier(j)), (tuple(later), tuple(
            idx.policies[k].action != p.action for k in later), fallback))

    def redundancy_phase(self) -> None:
        """For effective policies without a witness yet: does removing them matter?"""
        for fam in self.families.values():
            todo = [j for j, g in enumerate(fam.gid)
                    if self.effective[g] is not None and self.differs[g] is None]
            answers = self.solve(fam, [self.removal_query(fam, j) for j in todo], "redundancy")
            for j, a in zip(todo, answers, strict=True):
                g = fam.gid[j]
                if a.verdict == "sat":
                    self.differs[g] = self.differs[g] or self.replay_differs(a.packet, g)
                self.unknown[g] |= a.verdict == "unknown"

    def shadow_phase(self, dead: list[int]) -> None:
        """For policies that never apply: does some of their traffic get another action?"""
        for fam in self.families.values():
            idx = fam.index
            mine = [fam.pos[g] for g in dead if g in fam.pos]
            queries = []
            for j in mine:
                earlier = idx.earlier(j)
                p = idx.policies[j]
                queries.append(Query((j,), (), (tuple(earlier), tuple(
                    idx.policies[k].action != p.action for k in earlier), False)))
            for j, a in zip(mine, self.solve(fam, queries, "shadowing"), strict=True):
                g = fam.gid[j]
                if a.verdict == "sat" and self.shadow[g] is None:
                    self.shadow[g] = self.replay_shadow(a.packet, g)
                self.unknown[g] |= a.verdict == "unknown"

    def local_first(self, g: int, packet: Packet) -> Policy | None:
        """The first match of ``packet`` among policy ``g`` and its earlier neighbours (the
        only policies that can match a packet of ``g``)."""
        fam = self.families[packet.family]
        j = fam.pos[g]
        for k in [*fam.index.earlier(j), j]:
            if fam.index.policies[k].matches(packet):
                return fam.index.policies[k]
        return None

    def next_match(self, g: int, packet: Packet) -> Policy | None:
        """The policy that would apply to a packet of ``g`` without ``g``."""
        fam = self.families[packet.family]
        for k in fam.index.later(fam.pos[g]):
            if fam.index.policies[k].matches(packet):
                return fam.index.policies[k]
        return self.default if self.default is not None and self.default.matches(packet) \
            else None

    def replay_first(self, packet: Packet | None, g: int) -> Packet:
        assert packet is not None
        hit = self.local_first(g, packet)
        if hit is not self.policies[g]:
            raise AssertionError(f"z3 witness {packet} does not first-match "
                                 f"{self.policies[g].name} (got {hit and hit.name})")
        return packet

    def replay_differs(self, packet: Packet | None, g: int) -> Packet:
        packet = self.replay_first(packet, g)
        nxt = self.next_match(g, packet)
        if nxt is not None and nxt.action == self.policies[g].action:
            raise AssertionError(f"z3 witness {packet}: removing {self.policies[g].name} "
                                 "changes nothing")
        return packet

    def replay_shadow(self, packet: Packet | None, g: int) -> Packet:
        assert packet is not None
        p = self.policies[g]
        hit = self.local_first(g, packet)
        if not p.matches(packet) or hit is None or hit.action == p.action or hit is p:
            raise AssertionError(f"z3 witness {packet} does not show {p.name} shadowed")
        return packet

    # ----------------------------------------------------------------------------------
    def cover_phase(self) -> dict[int, tuple[list[int], Packet | None, bool]]:
        """For every policy without a first-match witness yet: either a packet whose first
        match it is, or a smallest set of earlier policies whose union covers it. A loop of
        guesses and refutations: a smallest set hitting the sample packets is proposed, z3
        finds a packet of the policy outside it (a new sample) or proves it a cover. A
        sample that no earlier neighbour matches is a first-match witness."""
        todo = [g for g in range(len(self.policies)) if self.effective[g] is None]
        samples: dict[int, list[Packet]] = {g: [] for g in todo}
        cover: dict[int, list[int]] = {g: [] for g in todo}
        minimal: dict[int, bool] = {g: True for g in todo}
        candidates: dict[int, list[int]] = {}
        for g in todo:
            cands: set[int] = set()
            for fam in self.scope_families(self.policies[g]):
                cands.update(fam.gid[k] for k in fam.index.earlier(fam.pos[g]))
            candidates[g] = sorted(cands)
        done: dict[int, tuple[list[int], Packet | None, bool]] = {}
        active = list(todo)
        for round_ in range(MAX_COVER_ROUNDS + 1):
            if not active:
                break
            if round_ == MAX_COVER_ROUNDS:  # give up minimality, not the verdict
                for g in active:
                    cover[g], minimal[g] = candidates[g], False
            per_family: dict[Family, list[tuple[int, Query]]] = {}
            for g in active:
                chosen = set(cover[g])
                for fam in self.scope_families(self.policies[g]):
                    neg = tuple(fam.pos[h] for h in sorted(chosen) if h in fam.pos)
                    per_family.setdefault(fam.index.family, []).append(
                        (g, Query((fam.pos[g],), neg)))
            refuted: dict[int, Packet] = {}
            unknown: set[int] = set()
            for family, items in sorted(per_family.items()):
                answers = self.solve(self.families[family], [q for _, q in items], "cover sets")
                for (g, _), a in zip(items, answers, strict=True):
                    if a.verdict == "sat" and g not in refuted:
                        assert a.packet is not None and self.policies[g].matches(a.packet)
                        refuted[g] = a.packet
                    elif a.verdict == "unknown":
                        unknown.add(g)
            still = []
            for g in active:
                if g in refuted:
                    samples[g].append(refuted[g])
                    chosen_set = self.hitting_set(samples[g], candidates[g])
                    if chosen_set is None:  # no earlier policy matches it: g applies there
                        self.effective[g] = self.replay_first(refuted[g], g)
                        continue
                    cover[g] = chosen_set
                    still.append(g)
                elif g in unknown:
                    self.unknown[g] = True
                else:
                    first = samples[g][0] if samples[g] else None
                    done[g] = (cover[g], first, minimal[g])
            active = still
        return done

    def hitting_set(self, samples: list[Packet], candidates: list[int]) -> list[int] | None:
        """A smallest set of candidates such that every sample matches one of them (None if
        the last sample matches none)."""
        hits = {c: frozenset(k for k, x in enumerate(samples) if self.policies[c].matches(x))
                for c in candidates}
        useful = [c for c in candidates if hits[c]]
        if not any(len(samples) - 1 in hits[c] for c in useful):
            return None
        need = frozenset(range(len(samples)))
        for size in range(1, len(useful) + 1):
            if len(useful) > 24 and size > 3:
                break
            for combo in itertools.combinations(useful, size):
                if frozenset().union(*(hits[c] for c in combo)) == need:
                    return list(combo)
        chosen: list[int] = []  # greedy fallback for large candidate sets
        left = set(need)
        while left:
            best = max(useful, key=lambda c: (len(hits[c] & left), -c))
            chosen.append(best)
            left -= hits[best]
        return sorted(chosen)

    # ----------------------------------------------------------------------------------
    def pair_phase(self) -> None:
        """Correlated and generalization pairs among effective policies."""
        overlap: dict[tuple[int, int], Packet] = {}
        unknown_pairs: set[tuple[int, int]] = set()
        for fam in self.families.values():
            idx = fam.index
            items: list[tuple[tuple[int, int], Query]] = []
            for i, p in enumerate(idx.policies):
                gi = fam.gid[i]
                if self.effective[gi] is None:
                    continue
                earlier = idx.earlier(i)
                mine: frozenset[int] | None = None
                for j in idx.later(i):
                    gj = fam.gid[j]
                    if self.effective[gj] is None or idx.policies[j].action == p.action:
                        continue
                    if (gi, gj) in overlap:
                        continue
                    # a packet of both can only match policies that overlap both: the
                    # common earlier neighbours, ascending, from the shorter of the lists
                    theirs = idx.earlier(j)
                    if len(earlier) <= len(theirs):
                        near = idx.neighbour_set(j)
                        common = tuple(k for k in earlier if k in near)
                    else:
                        if mine is None:
                            mine = frozenset(earlier)
                        common = tuple(k for k in theirs[:bisect_left(theirs, i)]
                                       if k in mine)
                    items.append(((gi, gj), Query((i, j), common)))
            answers = self.solve(fam, [q for _, q in items], "pairs")
            for (pair, _), a in zip(items, answers, strict=True):
                if a.verdict == "sat" and pair not in overlap:
                    pk = a.packet
                    assert pk is not None
                    pi, pj = self.policies[pair[0]], self.policies[pair[1]]
                    if not (pi.matches(pk) and pj.matches(pk)):
                        raise AssertionError(f"z3 witness {pk} is not in {pi.name}, {pj.name}")
                    overlap[pair] = pk
                    unknown_pairs.discard(pair)
                elif a.verdict == "unknown" and pair not in overlap:
                    unknown_pairs.add(pair)
        contained = self.containment(sorted(overlap))
        for pair in sorted(overlap):
            pi, pj = self.policies[pair[0]], self.policies[pair[1]]
            if contained.get(pair) == "unknown":
                self.add("policy.generalization", (pi, pj), "unknown", "note",
                         f"z3 did not decide whether {pj.name} contains {pi.name}", None, ())
            elif contained.get(pair) == "yes":
                self.add("policy.generalization", (pi, pj), "refuted", "note",
                         f"{pj.name} ({pj.action}) contains all traffic of the earlier "
                         f"{pi.name} ({pi.action})", overlap[pair], (pi.name, pj.name))
            else:
                self.add("policy.correlated", (pi, pj), "refuted", "warning",
                         f"{pi.name} ({pi.action}) and the later {pj.name} ({pj.action}) "
                         f"partly overlap; their order decides this traffic",
                         overlap[pair], (pi.name, pj.name))
        for pair in sorted(unknown_pairs - set(overlap)):
            pi, pj = self.policies[pair[0]], self.policies[pair[1]]
            self.add("policy.correlated", (pi, pj), "unknown", "warning",
                     f"z3 did not decide whether {pi.name} and {pj.name} overlap", None, ())

    def containment(self, pairs: list[tuple[int, int]]) -> dict[tuple[int, int], str]:
        """For each (i, j): "yes" if match(i) is a subset of match(j), "no", or "unknown"."""
        verdict: dict[tuple[int, int], str] = {}
        per_family: dict[Family, list[tuple[tuple[int, int], Query]]] = {}
        for pair in pairs:
            gi, gj = pair
            fams = self.scope_families(self.policies[gi])
            verdict[pair] = "yes"
            for fam in fams:
                i = fam.pos[gi]
                j = fam.pos.get(gj)
                if j is None or not fam.index.may_contain(j, i):
                    verdict[pair] = "no"
                    break
            if verdict[pair] == "yes":
                for fam in fams:
                    per_family.setdefault(fam.index.family, []).append(
                        (pair, Query((fam.pos[gi],), (fam.pos[gj],))))
        for family, items in per_family.items():
            answers = self.solve(self.families[family], [q for _, q in items], "containment")
            for (pair, _), a in zip(items, answers, strict=True):
                if a.verdict == "sat":
                    verdict[pair] = "no"
                elif a.verdict == "unknown" and verdict[pair] == "yes":
                    verdict[pair] = "unknown"
        return verdict

    # ----------------------------------------------------------------------------------
    def determinism_phase(self) -> None:
        """Pairs of equal priority that are both the first match of a packet (the lookup
        depends on the file order), or else both contain a selector pair that no policy of a
        lower priority value contains (the responder's search depends on it; strict
        wildcards, as ``negotiation.selectors_match``)."""
        found: dict[tuple[int, int], Packet] = {}
        by_selectors: dict[tuple[int, int], tuple[Selector, Selector]] = {}
        unknown: set[tuple[int, int]] = set()
        for fam in self.families.values():
            idx = fam.index
            items: list[tuple[tuple[int, int], Query]] = []
            for i, p in enumerate(idx.policies):
                lower = None
                for j in idx.later(i):
                    q = idx.policies[j]
                    if q.priority != p.priority:
                        continue
                    if lower is None:
                        lower = tuple(k for k in idx.earlier(i)
                                      if idx.policies[k].priority < p.priority)
                    items.append(((fam.gid[i], fam.gid[j]), Query((i, j), lower)))
            answers = self.solve(fam, [q for _, q in items], "determinism")
            rest = []
            for (pair, q), a in zip(items, answers, strict=True):
                if a.verdict == "sat" and pair not in found:
                    assert a.packet is not None
                    found[pair] = a.packet
                elif a.verdict == "unknown":
                    unknown.add(pair)
                elif a.verdict == "unsat":
                    rest.append((pair, q))
            if rest:
                sel = BatchSolver(fam.index.family, idx.policies, self.timeout_ms,
                                  selectors=True)
                answers = sel.solve([q for _, q in rest])
                self.analysis.checks += sel.checks
                for (pair, _), a in zip(rest, answers, strict=True):
                    if a.verdict == "sat" and pair not in by_selectors:
                        assert a.selectors is not None
                        by_selectors[pair] = a.selectors
                    elif a.verdict == "unknown":
                        unknown.add(pair)
        for pair in sorted(set(found) | set(by_selectors)):
            p, q = self.policies[pair[0]], self.policies[pair[1]]
            same = p.action == q.action
            picks = ("the policy (same action, different selectors)" if same
                     else f"the action ({p.action} or {q.action})")
            severity = "warning" if same else "error"
            if pair in found:
                pk = found[pair]
                hit = self.local_first(pair[0], pk)
                if hit is None or hit.priority != p.priority or not (p.matches(pk)
                                                                     and q.matches(pk)):
                    raise AssertionError(f"z3 witness {pk} does not show {p.name}/{q.name} "
                                         "tied")
                self.add("policy.determinism", (p, q), "refuted", severity,
                         f"{p.name} and {q.name} have the same priority {p.priority} and both "
                         f"match this traffic first: the file order picks {picks}", pk,
                         (p.name, q.name))
                continue
            idci, idcr = by_selectors[pair]
            hit = responder_search(self.host, idci, idcr, "strict")
            if (hit is None or hit.priority != p.priority
                    or not selectors_match(p, idci, idcr, "strict")
                    or not selectors_match(q, idci, idcr, "strict")):
                raise AssertionError(f"z3 selectors {idci}, {idcr} do not show {p.name}/"
                                     f"{q.name} tied")
            self.analysis.findings.append(Finding(
                "policy.determinism", (p, q), "refuted", severity,
                f"{p.name} and {q.name} have the same priority {p.priority} and both contain "
                f"the selectors IDci {idci}, IDcr {idcr} before any other policy: as a "
                f"responder, the file order picks {picks}", None, (p.name, q.name),
                (idci, idcr)))
        for pair in sorted(unknown - set(found) - set(by_selectors)):
            p, q = self.policies[pair[0]], self.policies[pair[1]]
            self.add("policy.determinism", (p, q), "unknown", "error",
                     f"z3 did not decide whether {p.name} and {q.name} tie", None, ())

    # ----------------------------------------------------------------------------------
    def uncovered_phase(self) -> None:
        for family in (4, 6):
            fam = self.families.get(family)  # type: ignore[call-overload]
            if self.default is not None:
                continue
            if fam is None:  # no policy of this family: z3 still gives the witness
                solver = BatchSolver(family, [], self.timeout_ms,  # type: ignore[arg-type]
                                     boxes=[])
                answer = solver.solve([Query(())])[0]
            else:
                every = tuple(range(len(fam.index.policies)))
                answer = self.solve(fam, [Query((), every)], "uncovered")[0]
            if answer.verdict == "sat":
                assert answer.packet is not None
                if first_match(self.policies, answer.packet) is not None:
                    raise AssertionError(f"z3 witness {answer.packet} is matched")
                self.add("policy.uncovered", (), "refuted", "warning",
                         f"some IPv{family} packets match no policy "
                         "(default-action: none)" if fam is not None else
                         f"no policy matches any IPv{family} packet (default-action: none)",
                         answer.packet, ())
            elif answer.verdict == "unknown":
                self.add("policy.uncovered", (), "unknown", "warning",
                         f"z3 did not decide whether every IPv{family} packet is matched",
                         None, ())

    # ----------------------------------------------------------------------------------
    def classify(self, covers: dict[int, tuple[list[int], Packet | None, bool]]) -> None:
        for g, p in enumerate(self.policies):
            if self.effective[g] is None:
                if self.unknown[g] or g not in covers:
                    self.add("policy.shadowed", (p,), "unknown", "error",
                             f"z3 did not decide whether {p.name} is ever the first match",
                             None, ())
                    continue
                self.analysis.never_first.add(p.name)
                cover, sample, minimal = covers[g]
                names = tuple(self.policies[c].name for c in cover)
                by = ", ".join(names) + ("" if minimal else " (not minimised)")
                if self.shadow[g] is not None:
                    self.add("policy.shadowed", (p,), "refuted", "error",
                             f"{p.name} is never the first match; covered by {by}; some of "
                             f"its traffic gets another action than {p.action}",
                             self.shadow[g], names)
                else:
                    self.add("policy.redundant", (p,), "refuted", "warning",
                             f"{p.name} is never the first match; covered by {by}, all with "
                             f"its action {p.action}", sample, names)
            elif self.differs[g] is None:
                if self.unknown[g]:
                    self.add("policy.redundant", (p,), "unknown", "warning",
                             f"z3 did not decide whether removing {p.name} matters", None, ())
                    continue
                packet = self.effective[g]
                assert packet is not None
                nxt = self.next_match(g, packet)
                if nxt is None or nxt.action != p.action:
                    raise AssertionError(f"{p.name}: removal changes {packet}")
                self.add("policy.redundant", (p,), "refuted", "warning",
                         f"removing {p.name} changes no packet's action: where it applies, "
                         f"the next matching policy has the same action {p.action}",
                         packet, (nxt.name,))

    def add(self, prop: str, subject: tuple[Policy, ...], verdict: str, severity: str,
            message: str, packet: Packet | None, related: tuple[str, ...]) -> None:
        if packet is not None:
            packet = self.natural(packet, subject)
        self.analysis.findings.append(Finding(prop, subject, verdict, severity, message,
                                              packet, related))

    def natural(self, packet: Packet, subject: tuple[Policy, ...]) -> Packet:
        """The witness moved to a natural packet of its region (``semantics.witness``)."""
        if self.region is None:
            self.region = RegionIndex(self.policies)
        own = self.host.addresses
        return natural_packet(packet, self.region, subject,
                              src_addresses=own if packet.direction == "out" else (),
                              dst_addresses=own if packet.direction == "in" else ())

    def run(self, wanted: set[str]) -> Analysis:
        self.timed("index", self.build)
        covers: dict[int, tuple[list[int], Packet | None, bool]] = {}
        if wanted & {"policy.shadowed", "policy.redundant", "policy.correlated",
                     "policy.generalization"}:
            self.timed("first match", self.first_match_phase)

            def cover_step() -> None:
                covers.update(self.cover_phase())

            self.timed("cover sets", cover_step)
            if wanted & {"policy.shadowed", "policy.redundant"}:
                self.timed("redundancy", self.redundancy_phase)
                self.timed("shadowing", lambda: self.shadow_phase(sorted(covers)))
                self.timed("classify", lambda: self.classify(covers))
        if wanted & {"policy.correlated", "policy.generalization"}:
            self.timed("pairs", self.pair_phase)
        if "policy.determinism" in wanted:
            self.timed("determinism", self.determinism_phase)
        if "policy.uncovered" in wanted:
            self.timed("uncovered", self.uncovered_phase)
        self.analysis.findings = [f for f in self.analysis.findings if f.property in wanted]
        self.analysis.checks += sum(f.solver.checks for f in self.families.values())
        return self.analysis


def analyse(host: Host, *, properties: tuple[str, ...] = POLICY_PROPERTIES,
            timeout_ms: int = 10_000, progress: Progress | None = None) -> Analysis:
    """Decide the ``policy.*`` properties of one host (see the module docstring). A host
    with direction-specific policies is analysed per direction (``analyse_directions``)."""
    if host.directional:
        return analyse_directions(host, properties=properties, timeout_ms=timeout_ms,
                                  progress=progress)
    return _Analyser(host, timeout_ms, progress).run(set(properties))


def analyse_directions(host: Host, *, properties: tuple[str, ...] = POLICY_PROPERTIES,
                       timeout_ms: int = 10_000, progress: Progress | None = None) -> Analysis:
    """The properties of a host with direction-specific policies (docs/SPEC.md 2): the kernel
    looks outbound and inbound packets up in separate policy lists, so each direction's view
    (``Host.view``) is analysed on its own and every finding names its direction, with a
    witness packet of that direction. A selector-pair tie only counts inbound (the responder
    searches the policies that apply to inbound traffic); a finding of both views is
    reported once (outbound first)."""
    out = Analysis(host)
    real = {p.name: p for p in host.policies}
    seen: set[tuple[str, tuple[str, ...]]] = set()
    never: dict[str, int] = {}
    for direction in ("out", "in"):
        view = host.view(direction)
        part = _Analyser(view, timeout_ms, progress).run(set(properties))
        out.checks += part.checks
        out.policies = max(out.policies, part.policies)
        for phase, secs in part.seconds.items():
            out.seconds[phase] = out.seconds.get(phase, 0.0) + secs
        for name in part.never_first:
            never[name] = never.get(name, 0) + 1
        for f in part.findings:
            if f.selectors is not None and direction == "out":
                continue
            key = (f.property, tuple(p.name for p in f.subject))
            if key in seen:
                continue
            seen.add(key)
            packet = f.packet
            if packet is not None and packet.direction != direction:
                packet = packet.reversed()
            word = "outbound" if direction == "out" else "inbound"
            out.findings.append(replace(
                f, subject=tuple(real.get(p.name, p) for p in f.subject), packet=packet,
                message=f"{word} traffic: {f.message}"))
    # never the first match: in every direction the policy applies to
    out.never_first = {n for n, c in never.items()
                       if c == (1 if real.get(n) is not None and real[n].direction != "both"
                                else 2)}
    return out


def finding_key(f: Finding) -> tuple[Any, ...]:
    return (POLICY_PROPERTIES.index(f.property), tuple(p.order_key for p in f.subject),
            f.message)
