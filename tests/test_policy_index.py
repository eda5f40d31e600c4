"""The geometric index is sound: it never drops a pair of policies that share a packet, and
never rules out a containment that holds (checked by enumeration); the generator is seeded."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from qmcheck.model.encodings.overlap_index import boxes_meet, build_index
from qmcheck.model.formats.generator import generate_host, host_yaml
from qmcheck.model.values.policy import Host
from qmcheck.properties.checks.policy_bruteforce import universe
from tests.policy_strategies import policy_hosts


@settings(max_examples=120, deadline=None)
@given(policy_hosts(max_policies=7), st.sampled_from([4, 6]))
def test_index_keeps_every_overlap_and_containment(host: Host, family: int) -> None:
    ordered = [p for p in host.ordered() if not p.implicit]
    index = build_index(ordered, family)  # type: ignore[arg-type]
    packets = list(universe(host, family))  # type: ignore[arg-type]
    sets = [frozenset(k for k, x in enumerate(packets) if p.matches(x))
            for p in index.policies]
    for a, b in itertools.combinations(range(len(index.policies)), 2):
        if sets[a] & sets[b]:
            assert b in index.neighbours[a] and a in index.neighbours[b]
        for inner, outer in ((a, b), (b, a)):
            if sets[inner] <= sets[outer]:
                assert index.may_contain(outer, inner)
    for a, b in itertools.combinations(range(len(index.policies)), 2):  # and nothing more
        meet = any(boxes_meet(x, y) for x in index.boxes[a] for y in index.boxes[b])
        assert (b in index.neighbours[a]) == meet
    for pos in range(len(index.policies)):
        assert index.earlier(pos) + index.later(pos) == index.neighbours[pos]
        assert all(k < pos for k in index.earlier(pos))


def test_generator_is_seeded_and_loads_back() -> None:
    from qmcheck.model.formats.loader import load_text

    a, b, c = generate_host(400, seed=3), generate_host(400, seed=3), generate_host(400, seed=4)
    assert a.policies == b.policies and a.policies != c.policies
    assert len([p for p in a.policies if not p.implicit]) == 400
    loaded = load_text(host_yaml(a), "gen.yaml")
    assert isinstance(loaded, Host)
    key = lambda p: (p.name, p.priority, p.source, p.destination, p.action, p.family,  # noqa: E731
                     p.protocol, p.source_port, p.destination_port)
    assert [key(p) for p in loaded.policies] == [key(p) for p in a.policies]
    families = {p.family for p in a.policies}
    assert {4, 6} <= families
    actions = {str(p.action) for p in a.policies}
    assert {"PASS", "DISCARD"} <= actions and len(actions) >= 4


def _cells_reference(lo: int, hi: int, others: list[tuple[int, int]],
                     nice: tuple[int, ...] = (), inner: bool = False) -> list[int]:
    """``smtlib_batches._cells`` written out point by point: the cells of ``[lo, hi]`` are
    the maximal runs of points that every other interval holds alike."""
    reps: list[int] = []
    start = lo
    for x in range(lo, hi + 1):
        last = x == hi or any((a <= x <= b) != (a <= x + 1 <= b) for a, b in others)
        if last:
            rep = next((v for v in nice if start <= v <= x),
                       start + 1 if inner and start < x else start)
            reps.append(rep)
            start = x + 1
    return reps


@settings(max_examples=400, deadline=None)
@given(st.integers(0, 60), st.integers(0, 60),
       st.lists(st.tuples(st.integers(0, 70), st.integers(0, 20)), max_size=12),
       st.sampled_from([(), (6, 17, 1), (40, 3)]), st.booleans())
def test_cells_are_the_point_by_point_cells(lo: int, width: int,
                                            spans: list[tuple[int, int]],
                                            nice: tuple[int, ...], inner: bool) -> None:
    """The hint search's cells (one representative each) against the definition."""
    from qmcheck.model.encodings.smtlib_batches import _cells

    others = [(a, a + w) for a, w in spans]
    assert _cells(lo, lo + width, others, nice, inner) == _cells_reference(
        lo, lo + width, others, nice, inner)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["(m1 l r)", "(m22 l r)", "true"]), st.booleans()),
                max_size=8), st.booleans())
def test_ite_chain_is_the_nested_text(items: list[tuple[str, bool]], last: bool) -> None:
    """The first-match chain of a query, written in one pass, is the text built inside out
    (the z3 queries, so their models and witnesses, are unchanged)."""
    from qmcheck.model.encodings.smtlib_batches import _ite_chain

    expr = "true" if last else "false"
    for cond, value in reversed(items):
        expr = f"(ite {cond} {'true' if value else 'false'} {expr})"
    assert _ite_chain([c for c, _ in items], [v for _, v in items], last) == expr
