"""The SMT-LIB text encoding and the batched solver agree with ``smt_encoding`` and with
plain z3 queries (engines that answer the same question must agree)."""

from __future__ import annotations

import z3
from hypothesis import given, settings
from hypothesis import strategies as st

from qmcheck.model.encodings.overlap_index import build_index
from qmcheck.model.encodings.smtlib_batches import (
    BatchSolver,
    Query,
    policy_define_text,
    query_holds,
)
from qmcheck.model.encodings.z3_policies import fresh_packet, policy_match
from qmcheck.model.values.policy import Host
from tests.policy_strategies import policy_hosts


@settings(max_examples=60, deadline=None)
@given(policy_hosts(max_policies=4), st.sampled_from([4, 6]))
def test_text_predicate_equals_policy_match(host: Host, family: int) -> None:
    """z3 proves the text predicate and ``policy_match`` equivalent for every packet."""
    pkt = fresh_packet(family)  # type: ignore[arg-type]
    decls = {"l": pkt.local, "r": pkt.remote, "lp": pkt.lport, "rp": pkt.rport,
             "pr": pkt.protocol}
    for policy in host.policies:
        text = policy_define_text("m", policy, family)  # type: ignore[arg-type]
        parsed = z3.parse_smt2_string(f"{text}\n(assert (m l r lp rp pr))", decls=decls)[0]
        solver = z3.Solver()
        solver.add(parsed != policy_match(policy, pkt))
        assert solver.check() == z3.unsat, policy


@st.composite
def host_and_queries(draw: st.DrawFn) -> tuple[Host, int, list[Query]]:
    host = draw(policy_hosts(max_policies=5))
    family = draw(st.sampled_from([4, 6]))
    n = len(build_index(list(host.ordered()), family).policies)  # type: ignore[arg-type]
    if n == 0:
        return host, family, []
    pick = st.lists(st.integers(0, n - 1), max_size=3, unique=True)
    queries = []
    for _ in range(draw(st.integers(1, 6))):
        pos = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=2, unique=True))
        neg = [k for k in draw(pick) if k not in pos]
        order = draw(pick)
        differs = draw(st.lists(st.booleans(), min_size=len(order), max_size=len(order)))
        first = (tuple(order), tuple(differs), draw(st.booleans())) if draw(
            st.booleans()) else None
        queries.append(Query(tuple(pos), tuple(neg), first))
    return host, family, queries


@settings(max_examples=80, deadline=None)
@given(host_and_queries())
def test_batch_answers_match_single_z3_queries(case: tuple[Host, int, list[Query]]) -> None:
    """Each batched answer equals a fresh z3 query built with ``policy_match``; each witness
    satisfies the query under the concrete semantics."""
    host, family, queries = case
    index = build_index(list(host.ordered()), family)  # type: ignore[arg-type]
    batch = BatchSolver(family, index.policies, boxes=index.boxes, batch=3)  # type: ignore[arg-type]
    answers = batch.solve(queries)
    plain = BatchSolver(family, index.policies, batch=2)  # type: ignore[arg-type]
    unguessed = plain.solve(queries)
    for q, a, b in zip(queries, answers, unguessed, strict=True):
        pkt = fresh_packet(family)  # type: ignore[arg-type]
        s = z3.Solver()
        s.add(pkt.well_formed())
        s.add(*[policy_match(index.policies[p], pkt) for p in q.pos])
        s.add(*[z3.Not(policy_match(index.policies[p], pkt)) for p in q.neg])
        if q.first_differs is not None:
            order, differs, fallback = q.first_differs
            expr = z3.BoolVal(fallback)
            for p, d in zip(reversed(order), reversed(differs), strict=True):
                expr = z3.If(policy_match(index.policies[p], pkt), z3.BoolVal(d), expr)
            s.add(expr)
        result = s.check()
        assert result != z3.unknown
        expected = "sat" if result == z3.sat else "unsat"
        assert a.verdict == expected == b.verdict
        for answer in (a, b):
            if answer.verdict == "sat":
                assert answer.packet is not None
                assert query_holds(q, index.policies, answer.packet)
