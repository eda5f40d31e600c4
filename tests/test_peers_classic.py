"""Classic crypto-ACL cases: mirrored ACLs agree; with non-mirrored ones, the side with the
narrower policy can initiate, the wider side is rejected (INVALID_ID_INFORMATION)."""

from __future__ import annotations

import pytest

from qmcheck.model.formats.loader import load_text
from qmcheck.model.semantics.negotiation import PROFILE_OPTIONS, negotiate
from qmcheck.model.values.addresses import address_text
from qmcheck.model.values.policy import Host
from qmcheck.properties.checks.peers import check_direction, concrete_verdict


def host(name: str, source: str, destination: str, default: str = "PASS") -> Host:
    text = (f"host: {name}\ndefault-action: {default}\npolicies:\n  - {{name: {name}-vpn, "
            f"source: {source}, destination: {destination}, action: [ESP_AES128_HMAC_SHA1]}}\n")
    return load_text(text, f"{name}.yaml")  # type: ignore[return-value]


NARROW = host("narrow", "10.1.1.0/24", "10.2.2.0/24")
WIDE = host("wide", "10.2.2.0/24", "10.1.0.0/16")
MIRROR = host("mirror", "10.2.2.0/24", "10.1.1.0/24")


def failures(i: Host, r: Host, profile: str, prop: str) -> list:
    rep = check_direction(i, r, profile)
    assert all(f.verdict == "refuted" for f in rep.findings)
    return [f for f in rep.findings if f.prop == prop]


@pytest.mark.parametrize("profile", sorted(PROFILE_OPTIONS))
def test_mirrored_acls_hold_everywhere(profile: str) -> None:
    for i, r in ((NARROW, MIRROR), (MIRROR, NARROW)):
        rep = check_direction(i, r, profile)
        assert rep.findings == [], (profile, rep.findings)


@pytest.mark.parametrize("profile", sorted(PROFILE_OPTIONS))
def test_narrower_side_initiates_accepted(profile: str) -> None:
    assert failures(NARROW, WIDE, profile, "peers.negotiation") == []


@pytest.mark.parametrize("profile", sorted(PROFILE_OPTIONS))
@pytest.mark.parametrize("default", ["none", "PASS"])
def test_wider_side_initiates_rejected(profile: str, default: str) -> None:
    narrow = host("narrow", "10.1.1.0/24", "10.2.2.0/24", default)
    (f,) = failures(WIDE, narrow, profile, "peers.negotiation")
    assert f.packet is not None and f.policy == "wide-vpn"
    out = negotiate(WIDE, narrow, f.packet, PROFILE_OPTIONS[profile])
    if profile == "strongswan":
        # the wide side proposes its configured subnets (initiator-ids: policy); charon
        # narrows them to the narrow side's, which do not hold the packet
        assert out.status == "accepted" and not out.covers_packet, out.reason
    else:
        # no policy at all for the selectors, or only the default PASS policy
        assert out.status == ("INVALID_ID_INFORMATION" if default == "none"
                              else "NO_PROPOSAL_CHOSEN")
    # the witness goes to the part of the wide policy the narrow side does not have
    assert not address_text(4, f.packet.dst).startswith("10.1.1.")
    assert "peers.negotiation" in concrete_verdict(WIDE, narrow, f.packet,
                                                   PROFILE_OPTIONS[profile]).failed
    # and the narrow side protects nothing of it: an asymmetry too
    assert failures(WIDE, narrow, profile, "peers.symmetry")


def test_no_common_transform_is_no_proposal_chosen() -> None:
    other = load_text("host: other\npolicies:\n  - {name: o, source: 10.2.2.0/24, "
                      "destination: 10.1.1.0/24, action: [AH_SHA1]}\n", "o.yaml")
    (f,) = failures(NARROW, other, "hpux", "peers.negotiation")  # type: ignore[arg-type]
    out = negotiate(NARROW, other, f.packet, PROFILE_OPTIONS["hpux"])  # type: ignore[arg-type]
    assert out.status == "NO_PROPOSAL_CHOSEN" and out.responder_policy is not None
