"""``diff.changed``: z3 regions against enumeration over small universes, sizes against the
exact cells, equivalences, and the negotiation diff of scenarios against enumeration."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Hashable

from hypothesis import given, settings
from hypothesis import strategies as st

from qmcheck.model.formats.loader import load_host, load_scenario
from qmcheck.model.semantics.lookup import first_match
from qmcheck.model.semantics.negotiation import negotiate, profile_options
from qmcheck.model.values.policy import Host, Policy
from qmcheck.properties.checks.deploy.cells import cells
from qmcheck.properties.checks.deploy.diff import (
    box_size,
    diff_hosts,
    region_size,
    replay,
    treatment,
)
from qmcheck.properties.checks.deploy.negotiation_diff import diff_pair, outcome_key
from qmcheck.properties.checks.deploy.negotiation_diff import replay as replay_negotiation
from qmcheck.properties.checks.policy_bruteforce import universe
from tests.policy_strategies import ACTIONS, policy_hosts


def _mirrored(p: Policy) -> Policy:
    return dataclasses.replace(p, source=p.destination, destination=p.source,
                               source_port=p.destination_port,
                               destination_port=p.source_port)


@st.composite
def versions(draw: st.DrawFn, max_policies: int = 5, families: tuple[int, ...] = (4, 6)
             ) -> tuple[Host, Host]:
    """A host and an edited copy: renames, new priorities (reorders), changed actions,
    removed policies and policies of another host added."""
    old = draw(policy_hosts(max_policies=max_policies, families=families))
    extra = draw(policy_hosts(max_policies=2, families=families, default=False))
    policies: list[Policy] = []
    for p in old.policies:
        if p.implicit:
            continue
        edit = draw(st.sampled_from(["keep", "keep", "rename", "priority", "action", "drop"]))
        if edit == "drop":
            continue
        if edit == "rename":
            p = dataclasses.replace(p, name=f"{p.name}-renamed")
        elif edit == "priority":
            p = dataclasses.replace(p, priority=draw(st.integers(1, 5)) * 10)
        elif edit == "action":
            from qmcheck.model.values.transforms import parse_action

            p = dataclasses.replace(p, action=parse_action(draw(st.sampled_from(ACTIONS))))
        policies.append(p)
    for p in extra.policies:
        policies.append(dataclasses.replace(p, name=f"{p.name}-new"))
    policies = [dataclasses.replace(p, index=k) for k, p in enumerate(policies)]
    default = draw(st.sampled_from([old.default_action, "PASS", "DISCARD", None]))
    if default is not None:
        from qmcheck.model.values.policy import default_policy
        from qmcheck.model.values.transforms import DISCARD, PASS

        policies.append(default_policy(len(policies), PASS if default == "PASS" else DISCARD))
    return old, Host("h", tuple(policies), source="<new>", default_action=default)


def brute_regions(old: Host, new: Host) -> dict[tuple[int, int], int]:
    """(id of old first match, id of new first match) -> exact packet count, by cells."""
    out: dict[tuple[int, int], int] = {}
    for family in (4, 6):
        for cell in cells([old, new], [], family):  # type: ignore[arg-type]
            a = first_match(old.ordered(), cell.packet)
            b = first_match(new.ordered(), cell.packet)
            if treatment(a) != treatment(b):
                key = (id(a), id(b))
                out[key] = out.get(key, 0) + cell.size
    return out


def brute_pairs(old: Host, new: Host) -> set[tuple[int, int]]:
    """The same pairs by the conflicts checker's universe (another cell representative)."""
    both = Host("both", old.policies + new.policies)
    out = set()
    for family in (4, 6):
        for x in universe(both, family):  # type: ignore[arg-type]
            a, b = first_match(old.ordered(), x), first_match(new.ordered(), x)
            if treatment(a) != treatment(b):
                out.add((id(a), id(b)))
    return out


@settings(max_examples=150, deadline=None)
@given(versions())
def test_regions_agree_with_enumeration(pair: tuple[Host, Host]) -> None:
    old, new = pair
    d = diff_hosts(old, new)
    assert all(r.verdict == "refuted" for r in d.regions)
    got = {(id(r.old), id(r.new)): r.size for r in d.regions}
    expected = brute_regions(old, new)
    assert set(got) == set(expected) == brute_pairs(old, new)
    for key, size in got.items():
        assert size is None or size == expected[key]
    for r in d.regions:
        replay(d, r)


@settings(max_examples=60, deadline=None)
@given(policy_hosts(max_policies=6), st.randoms(use_true_random=False))
def test_renames_and_reorders_of_disjoint_policies_change_nothing(host: Host, rnd) -> None:
    explicit = [p for p in host.policies if not p.implicit]
    renamed = [dataclasses.replace(p, name=f"x-{p.name}") for p in explicit]
    new = Host("h", tuple(renamed) + tuple(p for p in host.policies if p.implicit),
               default_action=host.default_action)
    d = diff_hosts(host, new)
    assert d.regions == []
    assert len(d.renamed) == len(explicit)
    # a reversed order changes nothing exactly when the enumeration finds nothing
    rev = [dataclasses.replace(p, priority=1000 - 10 * k, index=k)
           for k, p in enumerate(explicit)]
    new2 = Host("h", tuple(rev) + tuple(p for p in host.policies if p.implicit),
                default_action=host.default_action)
    d2 = diff_hosts(host, new2)
    assert bool(d2.regions) == bool(brute_regions(host, new2))
    from qmcheck.properties.checks.deploy.diff import content

    before = [content(p) for p in host.ordered() if not p.implicit]
    after = [content(p) for p in new2.ordered() if not p.implicit]
    if not d2.regions:
        assert bool(d2.moved) == (before != after)


def test_region_size_against_enumeration_of_small_boxes() -> None:
    rnd = __import__("random").Random(7)
    for _ in range(200):
        def box() -> tuple[int, ...]:
            out: list[int] = []
            for top in (3, 3, 2, 2, 20):
                lo = rnd.randint(0, top)
                out += [lo, rnd.randint(lo, top)]
            return tuple(out)

        pos = [[box() for _ in range(rnd.randint(1, 2))] for _ in range(rnd.randint(1, 2))]
        neg = [box() for _ in range(rnd.randint(0, 3))]

        def inside(b: tuple[int, ...], pt: tuple[int, ...]) -> bool:
            return all(b[2 * k] <= pt[k] <= b[2 * k + 1] for k in range(5))

        count = 0
        for pt in itertools.product(range(4), range(4), range(3), range(3), range(21)):
            if pt[4] not in (6, 17, 132) and (pt[2] or pt[3]):
                continue  # ports only for protocols with ports
            if all(any(inside(b, pt) for b in g) for g in pos) and not any(
                    inside(b, pt) for b in neg):
                count += 1
        assert region_size(pos, neg) == count  # type: ignore[arg-type]
    assert box_size((0, 0, 0, 0, 0, 65535, 0, 65535, 0, 255)) == 3 * 65536 ** 2 + 253


def test_example_change_and_witnesses() -> None:
    old = load_host("examples/hostA.batch")
    new = load_host("examples/diff/hostA-new.yaml")
    d = diff_hosts(old, new)
    kinds = {(r.old.name if r.old else None, r.new.name if r.new else None): r.kind
             for r in d.regions}
    assert kinds == {("telnet-b", "telnet-to-b"): "transforms",
                     ("web-b", "web-b"): "transforms", ("ftp-b", "all-b"): "action",
                     ("ftp-b", "default"): "action"}
    for r in d.regions:
        replay(d, r)
        assert r.packet is not None and r.packet.src == 0x0A010101  # the host's address
        assert r.packet.protocol == 6


def test_renamed_example_is_equivalent() -> None:
    d = diff_hosts(load_host("examples/hostA.batch"), load_host("examples/diff/hostA-renamed.yaml"))
    assert d.regions == []
    assert {(p.name, q.name) for p, q in d.renamed} == {("dns", "dns-out"), ("telnet-b", "telnet")}


def test_a_reorder_of_overlapping_policies_is_found() -> None:
    old = load_host("examples/hostA.batch")
    ftp, telnet = old.policy("ftp-b"), old.policy("telnet-b")
    swapped = [dataclasses.replace(p, priority=15) if p is ftp else p for p in old.policies]
    d = diff_hosts(old, Host("hostA", tuple(swapped), old.addresses))
    sizes = {(r.old.name, r.new.name): r.size for r in d.regions}
    assert sizes == {(telnet.name, ftp.name): 65536,  # one address pair, port 23, any sport
                     ("web-b", ftp.name): 256 * 65536}  # 10.2.2.0/24, port 80


# ---------------------------------------------------------------------------------------
# scenarios: negotiation outcomes


def brute_negotiation(old: tuple[Host, Host], new: tuple[Host, Host], profile: str
                      ) -> set[Hashable]:
    both = Host("both", tuple(p for h in (old[0], new[0]) for p in h.policies)
                + tuple(_mirrored(p) for h in (old[1], new[1]) for p in h.policies))
    opts = profile_options(profile)
    out = set()
    for family in (4, 6):
        for x in universe(both, family):  # type: ignore[arg-type]
            a, b = negotiate(*old, x, opts), negotiate(*new, x, opts)
            if outcome_key(a) != outcome_key(b):
                out.add((outcome_key(a), outcome_key(b)))
    return out


@settings(max_examples=25, deadline=None)
@given(versions(max_policies=3, families=(4,)), versions(max_policies=3, families=(4,)),
       st.sampled_from(["hpux", "racoon", "strongswan", "libreswan"]))
def test_negotiation_diff_agrees_with_enumeration(ia: tuple[Host, Host], rb: tuple[Host, Host],
                                                  profile: str) -> None:
    old = (dataclasses.replace(ia[0], name="I"), dataclasses.replace(rb[0], name="R"))
    new = (dataclasses.replace(ia[1], name="I"), dataclasses.replace(rb[1], name="R"))
    pair = diff_pair(old[0], old[1], new[0], new[1], profile)
    assert pair.unknown is None
    got = {(outcome_key(r.old), outcome_key(r.new)) for r in pair.regions}
    assert got == brute_negotiation(old, new, profile)
    for r in pair.regions:
        replay_negotiation(r, old[0], old[1], new[0], new[1])


def test_scenario_transform_change_is_a_negotiation_change() -> None:
    sc = load_scenario(None)
    a, b = sc.hosts["hostA"], sc.hosts["hostB"]
    telnet = b.policy("telnet-a")
    from qmcheck.model.values.transforms import parse_action

    b2 = Host("hostB", tuple(dataclasses.replace(p, action=parse_action(
        ["ESP_AES256_HMAC_SHA2_256"])) if p is telnet else p for p in b.policies), b.addresses)
    pair = diff_pair(a, b, a, b2, "hpux")
    statuses = {(outcome_key(r.old)[0], outcome_key(r.new)[0]) for r in pair.regions}
    assert ("accepted", "NO_PROPOSAL_CHOSEN") in statuses
    for r in pair.regions:
        replay_negotiation(r, a, b, a, b2)


@settings(max_examples=40, deadline=None)
@given(policy_hosts(max_policies=6))
def test_a_host_and_its_yaml_dump_do_not_differ(host: Host) -> None:
    from qmcheck.model.formats.loader import load_text
    from qmcheck.model.formats.yaml_dump import dump_host

    again = load_text(dump_host(host), "dump.yaml")
    assert isinstance(again, Host)
    assert diff_hosts(host, again).regions == []


@settings(max_examples=40, deadline=None)
@given(versions(max_policies=3, families=(4,)), versions(max_policies=3, families=(4,)),
       st.sampled_from(["hpux", "racoon", "strongswan", "libreswan"]))
def test_negotiation_engines_agree(ia: tuple[Host, Host], rb: tuple[Host, Host],
                                   profile: str) -> None:
    """Cells (exact enumeration) and z3 find the same outcome changes, policies included."""
    from qmcheck.properties.checks.deploy.negotiation_smt import diff_pair_smt

    old = (dataclasses.replace(ia[0], name="I"), dataclasses.replace(rb[0], name="R"))
    new = (dataclasses.replace(ia[1], name="I"), dataclasses.replace(rb[1], name="R"))
    cells_diff = diff_pair(old[0], old[1], new[0], new[1], profile)
    smt = diff_pair_smt(old[0], old[1], new[0], new[1], profile)
    assert not smt.unknown
    got = {(outcome_key(r.old), outcome_key(r.new),
            (r.old.initiator_policy.name if r.old.initiator_policy else None,
             r.old.responder_policy.name if r.old.responder_policy else None),
            (r.new.initiator_policy.name if r.new.initiator_policy else None,
             r.new.responder_policy.name if r.new.responder_policy else None))
           for r in cells_diff.regions}
    assert set(smt.regions) == got


def test_one_move_reports_one_policy() -> None:
    from qmcheck.properties.checks.deploy.diff import _longest_increasing

    assert _longest_increasing([1, 2, 3, 0]) == {0, 1, 2}
    assert _longest_increasing([3, 0, 1, 2]) == {1, 2, 3}
    assert _longest_increasing([]) == set()
    old = load_host("examples/hostA.batch")
    dns = old.policy("dns")  # overlaps nothing else of hostA: moving it changes nothing
    moved = [dataclasses.replace(p, priority=45) if p is dns else p for p in old.policies]
    d = diff_hosts(old, Host("hostA", tuple(moved), old.addresses))
    assert d.regions == [] and [(p.name, q.name) for p, q in d.moved] == [("dns", "dns")]
