"""The fast paths of ``peers`` (concrete pre-search of witnesses, replay on hosts cut down
by the index) against the simple path (z3 for every item, replay on the whole hosts): the
same findings on random generated host pairs, and the same concrete verdict per packet."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.peer_pairs import generate_independent_pair, generate_pair
from qmcheck.model.encodings.z3_negotiation import PairEncoding
from qmcheck.model.semantics.lookup import lookup
from qmcheck.model.semantics.negotiation import PROFILE_OPTIONS
from qmcheck.model.values.packet import Packet
from qmcheck.model.values.policy import Host
from qmcheck.properties.checks import peers
from qmcheck.properties.checks.peers import Replayer, check_direction, concrete_verdict

PROFILES = sorted(PROFILE_OPTIONS)


def findings(a: Host, b: Host, profile: str) -> set[tuple[str, str, str, str]]:
    rep = check_direction(a, b, profile)
    options = PROFILE_OPTIONS[profile]
    for f in rep.findings:  # every witness replays on the whole hosts, in its region
        assert f.verdict == "refuted" and f.packet is not None
        detail = concrete_verdict(a, b, f.packet, options)
        assert f.prop in detail.failed
        owner = (lookup(a, f.packet) if f.side == "I"
                 else lookup(b, f.packet.as_seen_by_peer()))
        assert owner is not None and owner.name == f.policy
    return {(f.prop, f.side, f.policy, f.verdict) for f in rep.findings}


def pair(kind: str, count: int, seed: int) -> tuple[Host, Host]:
    return (generate_independent_pair if kind == "independent" else generate_pair)(count, seed)


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(["independent", "mirrored"]), st.integers(20, 70),
       st.integers(0, 10_000), st.sampled_from(PROFILES))
def test_fast_and_simple_paths_find_the_same(kind: str, count: int, seed: int, profile: str
                                            ) -> None:
    a, b = pair(kind, count, seed)
    original = peers.INDEXED_REPLAY
    try:
        peers.INDEXED_REPLAY = 10**9  # simple: every item to z3, replay on whole hosts
        simple = findings(a, b, profile)
        peers.INDEXED_REPLAY = 0  # fast: pre-search, cut-down hosts
        fast = findings(a, b, profile)
    finally:
        peers.INDEXED_REPLAY = original
    assert fast == simple


def test_independent_pairs_do_refute() -> None:
    """The workload exercises the pre-search: it finds refutations, on both sides."""
    a, b = pair("independent", 60, 3)
    original = peers.INDEXED_REPLAY
    try:
        peers.INDEXED_REPLAY = 0
        found = findings(a, b, "hpux")
    finally:
        peers.INDEXED_REPLAY = original
    assert {side for _, side, _, _ in found} == {"I", "R"}


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(["independent", "mirrored"]), st.integers(0, 1000),
       st.sampled_from(PROFILES), st.data())
def test_cut_down_replay_is_the_whole_replay(kind: str, seed: int, profile: str,
                                             data: st.DataObject) -> None:
    """Random packets (inside policies' boxes, or anywhere), with and without a region
    hint (right or wrong): the same verdict as on the whole hosts."""
    a, b = pair(kind, 40, seed)
    options = PROFILE_OPTIONS[profile]
    enc = PairEncoding(a, b, 4, options)
    fast = Replayer(enc, a, b, options, concrete_verdict, indexed=True)
    policies = [p for p in a.policies + b.policies if p.family == 4]
    for _ in range(8):
        p = data.draw(st.sampled_from(policies))
        src = data.draw(st.sampled_from([p.source.values[0].lo, p.destination.values[0].lo,
                                         p.source.values[0].hi]))
        dst = data.draw(st.sampled_from([p.destination.values[0].lo, p.source.values[0].lo,
                                         p.destination.values[0].hi]))
        proto = p.protocol if p.protocol is not None else data.draw(st.sampled_from([6, 17, 1]))
        ports = proto in (6, 17)
        sport = data.draw(st.sampled_from([0, p.source_port.lo, p.destination_port.hi])
                          ) if ports else 0
        dport = data.draw(st.sampled_from([0, p.destination_port.lo, p.source_port.hi])
                          ) if ports else 0
        packet = Packet(4, src, dst, proto, sport, dport, "out")
        side = data.draw(st.sampled_from(["I", "R"]))
        order = enc.i_order if side == "I" else enc.r_order
        hint = data.draw(st.one_of(st.none(), st.tuples(st.just(side),
                                                        st.integers(0, len(order) - 1))))
        whole = concrete_verdict(a, b, packet, options)
        cut = fast(packet, hint)
        assert cut == whole
        assert fast.initiator_first(packet, hint) is whole.initiator_policy


def test_the_search_knows_every_property() -> None:
    from qmcheck.properties.checks import peers_search

    assert peers_search.PROPERTIES == peers.PROPERTIES


@pytest.mark.parametrize("kind", ["independent", "mirrored"])
def test_pairs_are_seeded(kind: str) -> None:
    assert pair(kind, 30, 5) == pair(kind, 30, 5)


def test_fast_path_reports_are_the_same_with_jobs() -> None:
    """Byte-identical results (witnesses included) in one process and in two, twice."""
    import json

    from qmcheck.properties.checks.peers import peers_results

    a, b = pair("independent", 80, 11)
    original = peers.INDEXED_REPLAY
    try:
        peers.INDEXED_REPLAY = 0
        runs = [json.dumps([r.to_dict() for r in peers_results(a, b, ["hpux", "strongswan"],
                                                               jobs=jobs)])
                for jobs in (1, 2, 1)]
    finally:
        peers.INDEXED_REPLAY = original
    assert runs[0] == runs[1] == runs[2] and '"refuted"' in runs[0]
