"""Batched z3 queries over host policies, written as SMT-LIB 2 text.

The predicates are the same as ``smt_encoding.policy_match`` (a test proves them equivalent),
but emitted as text, so that thousands of queries are built by string formatting and parsed by
z3 in C++ instead of through one Python API call per term. A query asks for a packet that some
policies match, others do not, and (optionally) whose first match in an ordered list of
policies has another action.

Two ways to a verdict, both z3's:
- a guess: a packet found cheaply on the index's boxes (``hint_point``) is substituted into
  the query's formula and z3 evaluates the ground formula (a whole chunk in one call); true
  makes the packet a witness and the verdict ``sat``; a wrong guess only sends the query on;
- a search: the queries of a chunk, each with its own packet variables under a guard literal,
  are asserted into one incremental QF_BV solver and checked one guard at a time (``sat``
  with the model's packet, ``unsat``, or ``unknown`` at the time limit).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import z3

from qmcheck.model.encodings.overlap_index import Box
from qmcheck.model.values.addresses import BITS, AddressFilter, AddressValue, Family
from qmcheck.model.values.packet import Packet
from qmcheck.model.values.policy import Policy
from qmcheck.model.values.protocols import PORT_PROTOCOLS, PortRange
from qmcheck.model.values.selectors import Selector, wildcard_selector

VAR_NAMES = ("l", "r", "lp", "rp", "pr")
CONTEXT_USES = 20
CHUNK_WEIGHT = 2000  # policy predicates per solver of the search
_VAR = re.compile(r"\b(lp|rp|pr|l|r)\b")


def _bv(value: int, bits: int) -> str:
    if bits % 4 == 0:
        return f"#x{value:0{bits // 4}x}"
    return f"#b{value:0{bits}b}"


def address_value_text(value: AddressValue, var: str, bits: int) -> str:
    if value.is_any:
        return "true"
    if value.lo == value.hi:
        return f"(= {var} {_bv(value.lo, bits)})"
    if value.kind == "prefix" and value.prefix_len is not None:
        host_bits = bits - value.prefix_len
        return (f"(= ((_ extract {bits - 1} {host_bits}) {var}) "
                f"{_bv(value.lo >> host_bits, value.prefix_len)})")
    return f"(and (bvule {_bv(value.lo, bits)} {var}) (bvule {var} {_bv(value.hi, bits)}))"


def address_filter_text(f: AddressFilter, var: str, bits: int) -> str:
    if f.is_any:
        return "true"
    parts = [address_value_text(v, var, bits) for v in f.values]
    return parts[0] if len(parts) == 1 else f"(or {' '.join(parts)})"


def port_text(ports: PortRange, var: str) -> str:
    if ports.is_any:
        return "true"
    if ports.is_single:
        return f"(= {var} {_bv(ports.lo, 16)})"
    return f"(and (bvule {_bv(ports.lo, 16)} {var}) (bvule {var} {_bv(ports.hi, 16)}))"


def policy_body_text(policy: Policy, family: Family) -> str:
    """The policy's match predicate over the variables l r lp rp pr (one family)."""
    if policy.family is not None and policy.family != family:
        return "false"
    bits = BITS[family]
    parts: list[str] = []
    if policy.protocol is not None:
        parts.append(f"(= pr {_bv(policy.protocol, 8)})")
    parts.append(port_text(policy.source_port, "lp"))
    parts.append(port_text(policy.destination_port, "rp"))
    if policy.family is not None:
        parts.append(address_filter_text(policy.source, "l", bits))
        parts.append(address_filter_text(policy.destination, "r", bits))
    parts = [p for p in parts if p != "true"]
    if not parts:
        return "true"
    return parts[0] if len(parts) == 1 else f"(and {' '.join(parts)})"


def selector_body_text(policy: Policy, family: Family) -> str:
    """The responder's strict containment of a selector pair (``negotiation.selectors_match``
    with ``wildcard="strict"``) over l r lp rp pr and the wildcard flags wl wr: local is
    IDcr, remote is IDci; port 0 and protocol 0 are the wildcards."""
    if policy.family is not None and policy.family != family:
        return "false"
    bits = BITS[family]
    parts: list[str] = []
    if policy.protocol is not None:
        parts.append(f"(= pr {_bv(policy.protocol, 8)})")
    for ports, var in ((policy.source_port, "lp"), (policy.destination_port, "rp")):
        if not ports.is_any:
            parts.append(f"(and (not (= {var} #x0000)) {port_text(ports, var)})")
    if policy.family is not None:
        for field_, var, flag in ((policy.source, "l", "wl"), (policy.destination, "r", "wr")):
            wild = "true" if field_.is_any else "false"
            parts.append(f"(ite {flag} {wild} {address_filter_text(field_, var, bits)})")
    if not parts:
        return "true"
    return parts[0] if len(parts) == 1 else f"(and {' '.join(parts)})"


def policy_define_text(name: str, policy: Policy, family: Family,
                       selectors: bool = False) -> str:
    bits = BITS[family]
    if selectors:
        return (f"(define-fun {name} ((l (_ BitVec {bits})) (r (_ BitVec {bits})) "
                f"(lp (_ BitVec 16)) (rp (_ BitVec 16)) (pr (_ BitVec 8)) (wl Bool) (wr Bool)) "
                f"Bool {selector_body_text(policy, family)})")
    return (f"(define-fun {name} ((l (_ BitVec {bits})) (r (_ BitVec {bits})) "
            f"(lp (_ BitVec 16)) (rp (_ BitVec 16)) (pr (_ BitVec 8))) Bool "
            f"{policy_body_text(policy, family)})")


def well_formed_text(v: str) -> str:
    protos = " ".join(f"(= pr{v} {_bv(p, 8)})" for p in sorted(PORT_PROTOCOLS))
    return f"(or {protos} (and (= lp{v} #x0000) (= rp{v} #x0000)))"


@dataclass(frozen=True)
class Query:
    """A packet that matches every policy of ``pos``, none of ``neg``; and, with
    ``first_differs`` = (ordered policies, differs flags, fallback differs), the first policy
    of the list that matches it has ``differs`` True (or none matches and the fallback is
    True). Policies are positions in the batch's policy list."""

    pos: tuple[int, ...]
    neg: tuple[int, ...] = ()
    first_differs: tuple[tuple[int, ...], tuple[bool, ...], bool] | None = None


def query_holds(query: Query, policies: Sequence[Policy], packet: Packet) -> bool:
    """The concrete twin of a query: does ``packet`` satisfy it?"""
    if not all(policies[p].matches(packet) for p in query.pos):
        return False
    if any(policies[p].matches(packet) for p in query.neg):
        return False
    if query.first_differs is not None:
        order, differs, fallback = query.first_differs
        for p, d in zip(order, differs, strict=True):
            if policies[p].matches(packet):
                return d
        return fallback
    return True


def _in_box(point: tuple[int, ...], b: Box) -> bool:
    return (b[8] <= point[4] <= b[9] and b[2] <= point[1] <= b[3] and b[6] <= point[3] <= b[7]
            and b[4] <= point[2] <= b[5] and b[0] <= point[0] <= b[1])


def _box_query_holds(query: Query, boxes: Sequence[Sequence[Box]], point: tuple[int, ...]
                     ) -> bool:
    """``query_holds`` on the index's boxes (a guess only: z3 confirms it)."""
    loc, r, lp, rp, pr = point

    def inside(p: int) -> bool:  # _in_box over the policy's boxes, inlined: the hot loop
        for b in boxes[p]:
            if (b[8] <= pr <= b[9] and b[2] <= r <= b[3] and b[6] <= rp <= b[7]
                    and b[4] <= lp <= b[5] and b[0] <= loc <= b[1]):
                return True
        return False

    for p in query.pos:
        if not inside(p):
            return False
    for p in query.neg:
        if inside(p):
            return False
    if query.first_differs is not None:
        order, differs, fallback = query.first_differs
        for p, d in zip(order, differs, strict=True):
            if inside(p):
                return d
        return fallback
    return True


NICE_PROTOCOLS = (6, 17, 1)


def _cells(lo: int, hi: int, others: list[tuple[int, int]], nice: tuple[int, ...] = (),
           inner: bool = False) -> list[int]:
    """One representative of each cell that the other intervals cut ``[lo, hi]`` into (with
    ``inner``, the second value of a cell when it has one: a host, not a network address)."""
    starts = sorted({lo, *[olo for olo, _ in others if lo < olo <= hi],
                     *[ohi + 1 for _, ohi in others if lo <= ohi < hi]})
    ends = [s - 1 for s in starts[1:]]
    ends.append(hi)
    if nice:
        return [next((v for v in nice if start <= v <= end),
                     start + 1 if inner and start < end else start)
                for start, end in zip(starts, ends, strict=True)]
    if inner:
        return [start + 1 if start < end else start
                for start, end in zip(starts, ends, strict=True)]
    return starts


def hint_point(query: Query, boxes: Sequence[Sequence[Box]], limit: int = 12,
               top: int = (1 << 32) - 1) -> tuple[int, ...] | None:
    """A point (local, remote, lport, rport, protocol) satisfying the query on the boxes,
    searched over the cells of the boxes involved (at most ``limit`` tries)."""
    order = query.first_differs[0] if query.first_differs is not None else ()
    combos: Iterable[tuple[Box, ...]]
    if query.pos:
        combos = itertools.islice(itertools.product(*(boxes[p] for p in query.pos)), 16)
    else:  # the whole packet space of the family
        combos = [((0, top, 0, top, 0, 65535, 0, 65535, 0, 255),)]
    # the same for every combination: the boxes whose bounds cut the cells
    others = [b for p in itertools.chain(query.neg[:16], order[:16]) for b in boxes[p]]
    spans = [[(b[k], b[k + 1]) for b in others] for k in range(0, 10, 2)]
    for combo in combos:
        inter = list(combo[0])
        for b in combo[1:]:
            inter = [max(inter[k], b[k]) if k % 2 == 0 else min(inter[k], b[k])
                     for k in range(10)]
        if any(inter[k] > inter[k + 1] for k in range(0, 10, 2)):
            continue
        dims = [_cells(inter[k], inter[k + 1], spans[k // 2],
                       NICE_PROTOCOLS if k == 8 else (), inner=k < 4)
                for k in range(0, 10, 2)]
        tried = 0
        for point in itertools.product(*dims):
            if point[4] not in PORT_PROTOCOLS and (point[2] or point[3]):
                continue
            tried += 1
            if _box_query_holds(query, boxes, point):
                return point
            if tried >= limit:
                break
    return None


@dataclass
class Answer:
    """``sat`` with a witness packet, ``unsat``, ``unknown`` (timeout) or ``skipped``."""

    verdict: str
    packet: Packet | None = None
    selectors: tuple[Selector, Selector] | None = None  # (IDci, IDcr) in selector mode


@dataclass
class BatchSolver:
    """Decides many independent queries over one family's policies, ``batch`` at a time."""

    family: Family
    policies: Sequence[Policy]
    timeout_ms: int = 10_000
    batch: int = 100
    boxes: Sequence[Sequence[Box]] | None = None
    selectors: bool = False  # variables are a selector pair, predicates strict containment
    checks: int = 0
    stats: dict[str, int] = field(default_factory=dict)  # unguessed and symbolic answers
    _defs: dict[int, str] = field(default_factory=dict)
    _templates: dict[int, str] = field(default_factory=dict)
    _ctx: z3.Context | None = None
    _ctx_uses: int = 0

    def _context(self) -> z3.Context:
        """A z3 context of its own, renewed every ``CONTEXT_USES`` chunks: z3 slows down as
        a context accumulates the declarations of many parsed queries (and so would every
        later z3 user of the process, with the main context)."""
        if self._ctx is None or self._ctx_uses >= CONTEXT_USES:
            self._ctx = z3.Context()
            self._ctx_uses = 0
        self._ctx_uses += 1
        return self._ctx

    def _define(self, pos: int) -> str:
        text = self._defs.get(pos)
        if text is None:
            text = policy_define_text(f"m{pos}", self.policies[pos], self.family,
                                      self.selectors)
            self._defs[pos] = text
        return text

    def _query_text(self, k: int, q: Query, used: set[int]) -> str:
        bits = BITS[self.family]
        v = f"_{k}"
        args = f"l{v} r{v} lp{v} rp{v} pr{v}"
        decl = (f"(declare-const l{v} (_ BitVec {bits}))(declare-const r{v} (_ BitVec {bits}))"
                f"(declare-const lp{v} (_ BitVec 16))(declare-const rp{v} (_ BitVec 16))"
                f"(declare-const pr{v} (_ BitVec 8))(declare-const g{v} Bool)")
        parts = [well_formed_text(v)]
        if self.selectors:
            args += f" wl{v} wr{v}"
            decl += f"(declare-const wl{v} Bool)(declare-const wr{v} Bool)"
        for p in q.pos:
            used.add(p)
            parts.append(f"(m{p} {args})")
        for p in q.neg:
            used.add(p)
            parts.append(f"(not (m{p} {args}))")
        if q.first_differs is not None:
            order, differs, fallback = q.first_differs
            used.update(order)
            parts.append(_ite_chain([f"(m{p} {args})" for p in order], differs, fallback))
        return f"{decl}(assert (=> g{v} (and {' '.join(parts)})))"

    def hint(self, q: Query) -> Packet | None:
        """A concrete packet that satisfies the query, if a cheap search finds one."""
        if self.boxes is None or self.selectors:
            return None
        point = hint_point(q, self.boxes, top=(1 << BITS[self.family]) - 1)
        if point is None:
            return None
        local, remote, lport, rport, proto = point
        return Packet(self.family, local, remote, proto, lport, rport, "out")

    def solve(self, queries: Sequence[Query],
              progress: Callable[[int], None] | None = None, *, symbolic_too: bool = True
              ) -> list[Answer]:
        """Decide every query; answers in the same order. With ``symbolic_too`` False, only
        guessed packets are confirmed and the other queries are answered ``skipped``."""
        answers: list[Answer | None] = [None] * len(queries)
        hinted: list[tuple[int, Packet]] = []
        symbolic: list[int] = []
        for k, q in enumerate(queries):
            h = self.hint(q)
            if h is None:
                symbolic.append(k)
                self.stats["unhinted"] = self.stats.get("unhinted", 0) + 1
            else:
                hinted.append((k, h))
        for start in range(0, len(hinted), self.batch * 10):
            part = hinted[start:start + self.batch * 10]
            confirmed = self._confirm([queries[k] for k, _ in part], [h for _, h in part])
            for (k, h), ok in zip(part, confirmed, strict=True):
                if ok:
                    answers[k] = Answer("sat", h)
                else:  # z3 disagrees with the guess: decide it symbolically
                    symbolic.append(k)
            if progress is not None:
                progress(len(part))
        symbolic.sort()
        if not symbolic_too:
            if progress is not None:
                progress(len(symbolic))
            return [a if a is not None else Answer("skipped") for a in answers]
        # Chunks of similar queries: a few huge ones (a broad rule's long lists) would slow
        # down every check of a chunk they share with small ones.
        symbolic.sort(key=lambda k: (_size(queries[k]), k))
        part: list[int] = []
        weight = 0
        for k in [*symbolic, -1]:
            size = _size(queries[k]) if k >= 0 else 0
            if part and (k < 0 or len(part) >= self.batch or weight + size > CHUNK_WEIGHT):
                for j, a in zip(part, self._solve_chunk([queries[j] for j in part]),
                                strict=True):
                    answers[j] = a
                if progress is not None:
                    progress(len(part))
                part, weight = [], 0
            if k >= 0:
                part.append(k)
                weight += size
        return [a if a is not None else Answer("unknown") for a in answers]

    def _confirm(self, chunk: Sequence[Query], hints: Sequence[Packet]) -> list[bool]:
        """z3 evaluates each query's formula on its guessed packet (true: a witness). The
        formulas are ground, so z3's rewriter decides them without a search; all of a chunk
        are decided at once, one by one only if some guess is wrong."""
        bodies = [self._ground_text(q, h) for q, h in zip(chunk, hints, strict=True)]
        self.checks += 1
        ctx = self._context()
        whole = z3.parse_smt2_string(f"(assert (and true {' '.join(bodies)}))", ctx=ctx)
        if z3.is_true(z3.simplify(whole[0])):
            return [True] * len(chunk)
        parsed = z3.parse_smt2_string("\n".join(f"(assert {b})" for b in bodies), ctx=ctx)
        return [z3.is_true(z3.simplify(e)) for e in parsed]

    def _template(self, pos: int) -> str:
        text = self._templates.get(pos)
        if text is None:
            body = policy_body_text(self.policies[pos], self.family)
            text = _VAR.sub(lambda m: "{" + m.group(1) + "}", body)
            self._templates[pos] = text
        return text

    def _ground_text(self, q: Query, hint: Packet) -> str:
        """The query's formula with the packet's values in place of the variables."""
        bits = BITS[self.family]
        local, remote, lport, rport = hint.local_remote()
        values = {"l": _bv(local, bits), "r": _bv(remote, bits), "lp": _bv(lport, 16),
                  "rp": _bv(rport, 16), "pr": _bv(hint.protocol, 8)}
        wf = hint.protocol in PORT_PROTOCOLS or (lport == 0 and rport == 0)
        parts = ["true" if wf else "false"]
        parts.extend(self._template(p).format(**values) for p in q.pos)
        parts.extend(f"(not {self._template(p).format(**values)})" for p in q.neg)
        if q.first_differs is not None:
            order, differs, fallback = q.first_differs
            # The list ends at the first policy the guess falls in (by the boxes); what
            # follows is replaced by false, so a wrong cut can only fail the confirmation.
            point = (local, remote, lport, rport, hint.protocol)
            cut = len(order)
            if self.boxes is not None:
                for k, p in enumerate(order):
                    if any(_in_box(point, b) for b in self.boxes[p]):
                        cut = k + 1
                        break
            parts.append(_ite_chain([self._template(p).format(**values) for p in order[:cut]],
                                    differs[:cut], fallback and cut == len(order)))
        return f"(and {' '.join(parts)})"

    def _solve_chunk(self, chunk: Sequence[Query]) -> list[Answer]:
        """Queries whose guess failed are mostly unsatisfiable: one incremental solver holds
        the chunk, and each query is checked under its own guard."""
        used: set[int] = set()
        bodies = [self._query_text(k, q, used) for k, q in enumerate(chunk)]
        text = "\n".join(self._define(p) for p in sorted(used)) + "\n" + "\n".join(bodies)
        ctx = self._context()
        solver = z3.SolverFor("QF_BV", ctx=ctx)
        solver.set("timeout", self.timeout_ms)
        solver.from_string(text)
        answers = []
        for k in range(len(chunk)):
            self.checks += 1
            answers.append(self._single(solver, z3.Bool(f"g_{k}", ctx), k))
        return answers

    def _single(self, solver: z3.Solver, guard: z3.BoolRef, k: int) -> Answer:
        result = _check(solver, [guard])
        key = f"symbolic-{result}"
        self.stats[key] = self.stats.get(key, 0) + 1
        if result == z3.sat:
            model = solver.model()
            bits = BITS[self.family]
            values = {}
            for name, width in (("l", bits), ("r", bits), ("lp", 16), ("rp", 16), ("pr", 8)):
                value = model.eval(z3.BitVec(f"{name}_{k}", width, solver.ctx),
                                   model_completion=True)
                values[f"{name}_{k}"] = value.as_long()  # type: ignore[attr-defined]
            if self.selectors:
                flags = [z3.is_true(model.eval(z3.Bool(f"{n}_{k}", solver.ctx),
                                               model_completion=True)) for n in ("wl", "wr")]
                return Answer("sat", selectors=self._selectors(values, k, *flags))
            return Answer("sat", self._packet(values, k))
        return Answer("unsat" if result == z3.unsat else "unknown")

    def _selectors(self, values: dict[str, int], k: int, wl: bool, wr: bool
                   ) -> tuple[Selector, Selector]:
        """(IDci, IDcr) from a model: IDcr is the local side, IDci the remote one."""
        get = lambda name: values.get(f"{name}_{k}", 0)  # noqa: E731
        fam, proto = self.family, get("pr")

        def side(address: int, port: int, wild: bool) -> Selector:
            if wild:
                return wildcard_selector(fam, proto, port)
            return Selector(fam, "addr", address, address, proto, port)

        return side(get("r"), get("rp"), wr), side(get("l"), get("lp"), wl)

    def _packet(self, values: dict[str, int], k: int) -> Packet:
        get = lambda name: values.get(f"{name}_{k}", 0)  # noqa: E731
        return Packet(self.family, get("l"), get("r"), get("pr"), get("lp"), get("rp"), "out")


def _ite_chain(conditions: Sequence[str], values: Sequence[bool], last: bool) -> str:
    """``(ite c1 v1 (ite c2 v2 ... last))`` written in one pass (building it inside out
    copied the growing text once per condition: quadratic in a broad rule's long lists)."""
    word = {True: "true", False: "false"}
    head = "".join(f"(ite {c} {word[v]} " for c, v in zip(conditions, values, strict=True))
    return f"{head}{word[last]}{')' * len(conditions)}"


def _size(query: Query) -> int:
    """How many policy predicates a query mentions."""
    order = query.first_differs[0] if query.first_differs is not None else ()
    return len(query.pos) + len(query.neg) + len(order)


def _check(solver: z3.Solver, guards: Sequence[z3.BoolRef]) -> z3.CheckSatResult:
    """``solver.check(*guards)`` without the per-argument conversions of the Python API."""
    n = len(guards)
    arr = (z3.Ast * n)()
    for k, g in enumerate(guards):
        arr[k] = g.as_ast()
    ctx = solver.ctx
    result = z3.Z3_solver_check_assumptions(ctx.ref(), solver.solver, n, arr)
    return z3.CheckSatResult(result)
