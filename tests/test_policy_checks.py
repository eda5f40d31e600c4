"""Differential tests of the ``policy.*`` checks (z3) against the brute-force evaluator.

Every finding must be real and every real conflict must be found; every witness is replayed
through the concrete lookup; cover sets are covers and as small as possible."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from qmcheck.model.semantics.lookup import first_match, lookup_order
from qmcheck.model.semantics.negotiation import responder_search, selectors_match
from qmcheck.model.values.packet import Packet
from qmcheck.model.values.policy import Host, Policy
from qmcheck.properties.checks.policy import POLICY_PROPERTIES, Analysis, analyse
from qmcheck.properties.checks.policy_bruteforce import brute_force, universe
from tests.policy_strategies import policy_hosts


def _action(policies: list[Policy], packet: Packet) -> object:
    hit = first_match(policies, packet)
    return None if hit is None else hit.action


def replay(host: Host, analysis: Analysis) -> None:
    """Each refutation's witness shows the finding under the concrete semantics."""
    ordered = list(host.ordered())
    by_name = {p.name: p for p in ordered}
    for f in analysis.findings:
        assert f.verdict == "refuted", f
        if f.selectors is not None:  # a tie of the responder's selector search
            p, q = f.subject
            idci, idcr = f.selectors
            assert f.property == "policy.determinism" and p.priority == q.priority
            assert selectors_match(p, idci, idcr, "strict")
            assert selectors_match(q, idci, idcr, "strict")
            hit = responder_search(host, idci, idcr, "strict")
            assert hit is not None and hit.priority == p.priority
            continue
        x = f.packet
        assert x is not None, f
        hit = first_match(ordered, x)
        if f.property == "policy.shadowed":
            (p,) = f.subject
            assert p.matches(x) and hit is not None and hit is not p
            assert hit.action != p.action
            cover = [by_name[n] for n in f.related]
            assert all(q.order_key < p.order_key for q in cover)
            assert all(any(q.matches(y) for q in cover)
                       for fam in (4, 6) for y in universe(host, fam) if p.matches(y))
        elif f.property == "policy.redundant":
            (p,) = f.subject
            without = [q for q in ordered if q is not p]
            assert p.matches(x) and _action(ordered, x) == _action(without, x)
        elif f.property == "policy.correlated":
            i, j = f.subject
            assert hit is i and j.matches(x) and i.action != j.action
        elif f.property == "policy.generalization":
            i, j = f.subject
            assert i.matches(x) and j.matches(x) and i.action != j.action
        elif f.property == "policy.determinism":
            p, q = f.subject
            a = lookup_order(ordered, x, {p.name: -2, q.name: -1})
            b = lookup_order(ordered, x, {q.name: -2, p.name: -1})
            assert a is p and b is q
        elif f.property == "policy.uncovered":
            assert hit is None


def compare(host: Host) -> Analysis:
    analysis = analyse(host)
    replay(host, analysis)
    truth = brute_force(host)
    for prop in POLICY_PROPERTIES:
        if prop == "policy.uncovered":
            found = {f.packet.family for f in analysis.findings  # type: ignore[union-attr]
                     if f.property == prop}
            assert found == truth.uncovered, (prop, found, truth.uncovered)
            continue
        found_subjects = {tuple(p.name for p in f.subject) for f in analysis.findings
                          if f.property == prop}
        assert found_subjects == truth.subjects[prop], (prop, found_subjects,
                                                        truth.subjects[prop])
    for f in analysis.findings:
        if f.property == "policy.shadowed" or (f.property == "policy.redundant"
                                               and f.subject[0].name in truth.min_cover):
            assert len(f.related) == truth.min_cover[f.subject[0].name], f
    return analysis


@settings(max_examples=250, deadline=None)
@given(policy_hosts())
def test_checks_agree_with_brute_force(host: Host) -> None:
    compare(host)


@settings(max_examples=100, deadline=None)
@given(policy_hosts(max_policies=8, families=(4,), default=False))
def test_checks_agree_without_default(host: Host) -> None:
    compare(host)


@settings(max_examples=20, deadline=None)
@given(policy_hosts(max_policies=5), st.sampled_from(POLICY_PROPERTIES))
def test_single_property_runs_report_only_that_property(host: Host, prop: str) -> None:
    alone = analyse(host, properties=(prop,))
    every = analyse(host)
    assert all(f.property == prop for f in alone.findings)
    assert ({(f.subject, f.message) for f in alone.findings}
            == {(f.subject, f.message) for f in every.findings if f.property == prop})


def test_union_cover_found_where_pairwise_checks_see_nothing() -> None:
    """A policy covered only by the union of two earlier ones (pairwise checkers miss it)."""
    from qmcheck.model.formats.loader import load_text

    host = load_text(
        "policies:\n"
        "  - {name: low, source: 10.0.0.0/25, destination: 10.9.0.0/16, action: PASS}\n"
        "  - {name: high, source: 10.0.0.128/25, destination: 10.9.0.0/16, action: PASS}\n"
        "  - {name: all, source: 10.0.0.0/24, destination: 10.9.0.0/16, action: DISCARD}\n",
        "union.yaml")
    analysis = compare(host)  # type: ignore[arg-type]
    (shadow,) = [f for f in analysis.findings if f.property == "policy.shadowed"]
    assert shadow.subject[0].name == "all" and shadow.related == ("low", "high")


def test_selector_tie_without_packet_tie() -> None:
    """Two lower policies split the ports between them, so no packet reaches the tied pair;
    a selector with the port wildcard still does (the responder's search is order-bound)."""
    from qmcheck.model.formats.loader import load_text

    host = load_text(
        "policies:\n"
        "  - {name: low, priority: 10, source: 10.0.0.1, destination: 10.0.0.2,\n"
        "     protocol: tcp, destination-port: 0-100, action: PASS}\n"
        "  - {name: high, priority: 10, source: 10.0.0.1, destination: 10.0.0.2,\n"
        "     protocol: tcp, destination-port: 101-65535, action: PASS}\n"
        "  - {name: esp, priority: 20, source: 10.0.0.1, destination: 10.0.0.2,\n"
        "     protocol: tcp, action: [ESP_AES128_HMAC_SHA1]}\n"
        "  - {name: ah, priority: 20, source: 10.0.0.1, destination: 10.0.0.2,\n"
        "     protocol: tcp, action: [AH_SHA1]}\n", "ties.yaml")
    analysis = compare(host)  # type: ignore[arg-type]
    ties = {tuple(p.name for p in f.subject): f for f in analysis.findings
            if f.property == "policy.determinism"}
    assert set(ties) == {("esp", "ah")}
    assert ties[("esp", "ah")].selectors is not None and ties[("esp", "ah")].packet is None
    assert ties[("esp", "ah")].selectors[0].port == 0


def test_never_first_agrees_with_the_plain_engine() -> None:
    """On a generated set (too large for enumeration) the batched checks and the plain
    one-query-per-policy engine find the same policies that are never the first match."""
    from qmcheck.model.formats.generator import generate_host
    from qmcheck.properties.checks.policy_plain import never_first

    for seed in (11, 12):
        host = generate_host(250, seed=seed)
        analysis = analyse(host, properties=("policy.shadowed", "policy.redundant"))
        assert analysis.never_first == never_first(host)
        assert analysis.never_first  # the comparison is not vacuous
        shadowed = {f.subject[0].name for f in analysis.findings
                    if f.property == "policy.shadowed"}
        assert shadowed <= analysis.never_first


def test_generated_host_witnesses_replay() -> None:
    """A generated set of a few hundred policies: every witness replays concretely."""
    from qmcheck.model.formats.generator import generate_host

    host = generate_host(300, seed=7)
    analysis = analyse(host)
    assert {f.property for f in analysis.findings} >= {"policy.shadowed", "policy.redundant",
                                                       "policy.correlated"}
    ordered = list(host.ordered())
    for f in analysis.findings:
        assert f.packet is not None
        if f.property == "policy.shadowed":
            (p,) = f.subject
            hit = first_match(ordered, f.packet)
            assert p.matches(f.packet) and hit is not None and hit.action != p.action
        elif f.property == "policy.correlated":
            i, j = f.subject
            assert first_match(ordered, f.packet) is i and j.matches(f.packet)
