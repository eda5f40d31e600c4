"""The ``selectors:`` rules of a profile (initiator IDs, responder, narrowing, wildcards,
proposal order) as the concrete semantics and the z3 encoding implement them.

Profiles are data: each variant below is a profile file ``based-on`` a built-in one with one
rule changed, read through model/quickmode/profiles.py like every command reads it. For every
rule: the z3 encoding (peers.*) agrees with brute force over the concrete semantics on random
host pairs, and a fixed host pair whose outcome the rule changes (the wrong rule is a mutant
that the test kills).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qmcheck.model.formats.loader import load_text
from qmcheck.model.formats.swanctl_conf import load_swanctl_text
from qmcheck.model.quickmode.profiles import negotiation_options
from qmcheck.model.semantics.negotiation import PROFILE_OPTIONS, negotiate
from qmcheck.model.values.addresses import parse_address_value
from qmcheck.model.values.packet import make_packet
from qmcheck.model.values.policy import Host
from qmcheck.model.values.protocols import PortRange
from qmcheck.model.values.selectors import INITIATOR_IDS, derive_selector
from qmcheck.properties.checks.peers import check_direction
from tests.peers_oracle import brute_force
from tests.strategies import hosts
from tests.test_peers_differential import named

VARIANT_DIR = Path(tempfile.mkdtemp(prefix="qmcheck-profile-rules-"))
#: (base profile, selectors key, value): one rule changed from the base profile's.
CHANGES: tuple[tuple[str, str, str], ...] = (
    *[(base, "initiator-ids", rule) for base in ("hpux", "strongswan") for rule in INITIATOR_IDS],
    ("hpux", "responder", "best-score"), ("strongswan", "responder", "first-match"),
    ("hpux", "narrowing", "true"), ("strongswan", "narrowing", "false"),
    ("hpux", "wildcards", "lenient"), ("hpux", "wildcards", "ports"),
    ("hpux", "proposal-order", "responder"), ("libreswan", "protocol", "contain"),
)


def variant(base: str, key: str, value: str) -> str:
    """The path of a profile file: ``base`` with ``selectors.key`` set to ``value``."""
    path = VARIANT_DIR / f"{base}-{key}-{value}.yaml"
    if not path.exists():
        path.write_text(f"profile: {base}-{key}-{value}\nbased-on: {base}\n"
                        f"selectors:\n  {key}: {value}\n", encoding="utf-8")
    return str(path)


def host(text: str, name: str) -> Host:
    loaded = load_text(text, f"{name}.yaml")
    assert isinstance(loaded, Host)
    return loaded


def test_built_in_rows_and_variants_read_through_the_profile_files() -> None:
    for name, options in PROFILE_OPTIONS.items():
        assert negotiation_options(name) == options
    assert PROFILE_OPTIONS["hpux"].initiator_ids == "ranges-exact"
    for name in ("racoon", "strongswan", "libreswan"):
        assert PROFILE_OPTIONS[name].initiator_ids == "policy", name
    for base, key, value in CHANGES:
        opts = negotiation_options(variant(base, key, value))
        field = {"initiator-ids": "initiator_ids", "responder": "responder_rule",
                 "wildcards": "wildcard", "proposal-order": "proposal_order",
                 "protocol": "protocol_rule"}.get(key, key)
        got = getattr(opts, field)
        assert str(got).lower() == value, (base, key, got)


@pytest.mark.parametrize(("value", "rule", "kind", "span"), [
    ("10.2.2.0/24", "ranges-exact", "subnet", (0x0A020200, 0x0A0202FF)),
    ("10.2.2.0/24", "packet-exact", "addr", (0x0A020207, 0x0A020207)),
    ("10.2.2.0/24", "policy", "subnet", (0x0A020200, 0x0A0202FF)),
    ("10.2.2.1-10.2.2.9", "ranges-exact", "addr", (0x0A020207, 0x0A020207)),
    ("10.2.2.1-10.2.2.9", "packet-exact", "addr", (0x0A020207, 0x0A020207)),
    ("10.2.2.1-10.2.2.9", "policy", "range", (0x0A020201, 0x0A020209)),
    ("10.2.2.7", "policy", "addr", (0x0A020207, 0x0A020207)),
])
def test_derive_selector_per_rule(value: str, rule: str, kind: str, span: tuple[int, int]
                                  ) -> None:
    """The seed (guide p.158): ranges become the packet's address, prefixes stay subnets."""
    sel = derive_selector(parse_address_value(value), 4, 0x0A020207, PortRange(0, 65535), 0,
                          None, rule)  # type: ignore[arg-type]
    assert (sel.kind, (sel.lo, sel.hi)) == (kind, span)


# -- every rule: z3 agrees with the concrete semantics ----------------------------------------

@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(hosts(family=4, max_policies=3), hosts(family=4, max_policies=3),
       st.sampled_from(CHANGES))
def test_z3_agrees_with_the_concrete_semantics_per_rule(a: Host, b: Host,
                                                        change: tuple[str, str, str]) -> None:
    path = variant(*change)
    a, b = named(a, "a"), named(b, "b")
    report = check_direction(a, b, path)
    options = negotiation_options(path)
    smt = {(f.prop, f.side, f.policy) for f in report.findings}
    for f in report.findings:
        assert f.verdict == "refuted" and f.packet is not None
    assert smt == brute_force(a, b, options), (change, [p.describe() for p in a.ordered()],
                                               [p.describe() for p in b.ordered()])


# -- every rule changes an outcome: the wrong rule is a killed mutant --------------------------

I_HEAD = "host: i\naddress: 10.1.1.1\npolicies:\n  - {name: p, source: 10.1.1.1, "
I_PREFIX = host(I_HEAD + "destination: 10.2.2.0/24, action: [ESP_AES128_HMAC_SHA1]}\n", "i")
I_RANGE = host(I_HEAD + "destination: 10.2.2.1-10.2.2.9, action: [ESP_AES128_HMAC_SHA1]}\n",
               "i")
R_SINGLE = host("host: r\naddress: 10.2.2.7\ndefault-action: none\npolicies:\n  - {name: q,"
                " source: 10.2.2.7, destination: 10.1.1.1, action: [ESP_AES128_HMAC_SHA1]}\n",
                "r")
PKT = make_packet("10.1.1.1", "10.2.2.7", "udp", 1000, 2000)


def status(i: Host, r: Host, profile: str) -> tuple[str, bool]:
    """The concrete status and whether z3 (peers.negotiation) finds a failure."""
    out = negotiate(i, r, PKT, negotiation_options(profile))
    z3_fails = any(f.prop == "peers.negotiation" for f in check_direction(i, r, profile).findings)
    return out.status, z3_fails


@pytest.mark.parametrize(("initiator", "accepted_under"), [
    (I_PREFIX, {"packet-exact"}),                  # a prefix stays a subnet ID
    (I_RANGE, {"packet-exact", "ranges-exact"}),   # a range becomes the packet's address
])
def test_initiator_ids_rule_changes_the_outcome(initiator: Host, accepted_under: set[str]
                                                ) -> None:
    for rule in INITIATOR_IDS:
        got, z3_fails = status(initiator, R_SINGLE, variant("hpux", "initiator-ids", rule))
        want = "accepted" if rule in accepted_under else "INVALID_ID_INFORMATION"
        assert got == want, rule
        assert z3_fails == (rule not in accepted_under), rule


def test_responder_and_narrowing_rules_change_the_outcome() -> None:
    """strongSwan's best score with narrowing accepts a policy that merely overlaps; first
    match (containment) does not."""
    assert status(I_PREFIX, R_SINGLE, "strongswan") == ("accepted", False)
    mutant = variant("strongswan", "responder", "first-match")
    assert status(I_PREFIX, R_SINGLE, mutant)[0] == "INVALID_ID_INFORMATION"
    no_narrowing = negotiate(I_PREFIX, R_SINGLE, PKT,
                             negotiation_options(variant("strongswan", "narrowing", "false")))
    narrowed = negotiate(I_PREFIX, R_SINGLE, PKT, negotiation_options("strongswan"))
    assert no_narrowing.narrowed is None and narrowed.narrowed is not None
    assert str(narrowed.narrowed[1]) == "10.2.2.7"


def test_wildcard_rule_changes_the_outcome() -> None:
    i = host("host: i\naddress: 10.1.1.1\npolicies:\n  - {name: p, source: 10.1.1.1,"
             " destination: 10.2.2.7, protocol: udp, action: [ESP_AES128_HMAC_SHA1]}\n", "i")
    r = host("host: r\naddress: 10.2.2.7\ndefault-action: none\npolicies:\n  - {name: q,"
             " source: 10.2.2.7, destination: 10.1.1.1, protocol: udp, source-port: 2000,"
             " action: [ESP_AES128_HMAC_SHA1]}\n", "r")
    strict = status(i, r, "hpux")
    ports = status(i, r, variant("hpux", "wildcards", "ports"))
    assert strict == ("INVALID_ID_INFORMATION", True) and ports == ("accepted", False)


def test_proposal_order_rule_changes_the_transform() -> None:
    i = host("host: i\npolicies:\n  - {name: p, source: 10.1.1.1, destination: 10.2.2.7,"
             " action: [ESP_AES128_HMAC_SHA1, ESP_3DES_HMAC_SHA1]}\n", "i")
    r = host("host: r\npolicies:\n  - {name: q, source: 10.2.2.7, destination: 10.1.1.1,"
             " action: [ESP_3DES_HMAC_SHA1, ESP_AES128_HMAC_SHA1]}\n", "r")
    mine = negotiate(i, r, PKT, negotiation_options("hpux")).accepted
    theirs = negotiate(i, r, PKT, negotiation_options(variant("hpux", "proposal-order",
                                                              "responder"))).accepted
    assert (mine.name, theirs.name) == ("ESP_AES128_HMAC_SHA1", "ESP_3DES_HMAC_SHA1")  # type: ignore[union-attr]


# -- the strongSwan cases of the issue ------------------------------------------------------

def gateway(n: int) -> Host:
    other = 3 - n
    text = (f"connections {{\n gw {{\n  version = 1\n  local_addrs = 2001:db8::{n}\n"
            f"  remote_addrs = 2001:db8::{other}\n  children {{\n   net {{\n"
            f"    local_ts = fec{n}::/16\n    remote_ts = ::/0\n"
            "    esp_proposals = aes128-sha1\n   }\n  }\n }\n}\n")
    return load_swanctl_text(text, f"gw{n}.conf")


def test_issue_14_gateways_negotiate_under_strongswan() -> None:
    """local_ts fec1::/16, remote_ts ::/0 against local_ts fec2::/16, remote_ts ::/0."""
    a, b = gateway(1), gateway(2)
    assert a.name != b.name
    for i, r in ((a, b), (b, a)):
        assert check_direction(i, r, "strongswan").findings == []
    out = negotiate(a, b, make_packet("fec1::5", "fec2::7", "tcp", 40000, 22),
                    negotiation_options("strongswan"))
    assert out.succeeded and out.covers_packet and out.message1 is not None
    assert out.message1.idci.kind == "subnet"  # the child's local_ts as configured
    mutant = variant("strongswan", "responder", "first-match")
    assert any(f.prop == "peers.negotiation" for f in check_direction(a, b, mutant).findings)
