"""Address, port, protocol and transform values: parsing, errors and exact set operations."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qmcheck.model.values.addresses import AddressValue, parse_address_value
from qmcheck.model.values.errors import InputError
from qmcheck.model.values.intervals import IntervalSet
from qmcheck.model.values.protocols import PortRange, parse_port, parse_protocol
from qmcheck.model.values.transforms import parse_action, parse_transform


def test_address_kinds() -> None:
    single = parse_address_value("10.1.1.1")
    assert (single.kind, single.lo, single.hi) == ("single", 0x0A010101, 0x0A010101)
    prefix = parse_address_value("10.2.2.0/24")
    assert (prefix.kind, prefix.lo, prefix.hi) == ("prefix", 0x0A020200, 0x0A0202FF)
    rng = parse_address_value("10.1.1.1-10.1.1.3")
    assert (rng.kind, rng.hi - rng.lo) == ("range", 2)
    assert parse_address_value("0.0.0.0/0").is_any
    assert parse_address_value("::/0").is_any and parse_address_value("::/0").family == 6
    v6 = parse_address_value("2001:db8::/32")
    assert v6.family == 6 and v6.hi - v6.lo == 2**96 - 1


@pytest.mark.parametrize("text, fragment", [
    ("10.1.1.300", "not an IPv4 or IPv6 address"),
    ("10.1.1.0/33", "too long for IPv4"),
    ("2001:db8::/129", "too long for IPv6"),
    ("10.1.1.9-10.1.1.3", "reversed"),
    ("10.1.1.1-2001:db8::1", "mixes IPv4 and IPv6"),
    ("224.0.0.1", "multicast"),
    ("255.255.255.255", "broadcast"),
    ("10.1.1.0/x", "not a number"),
])
def test_impossible_addresses(text: str, fragment: str) -> None:
    with pytest.raises(InputError, match=fragment):
        parse_address_value(text)


@given(st.integers(0, 32), st.integers(0, 2**32 - 1))
@settings(max_examples=200, deadline=None)
def test_prefix_matches_ipaddress(length: int, address: int) -> None:
    text = f"{ipaddress.IPv4Address(address)}/{length}"
    try:
        value = parse_address_value(text)
    except InputError:
        assert length == 32 and (ipaddress.IPv4Address(address).is_multicast
                                 or address == 2**32 - 1)
        return
    network = ipaddress.ip_network(text, strict=False)
    assert (value.lo, value.hi) == (int(network.network_address), int(network.broadcast_address))


spans = st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60)), max_size=6)


def members(s: IntervalSet) -> set[int]:
    return {x for lo, hi in s.spans for x in range(lo, hi + 1)}


@given(spans, spans)
@settings(max_examples=300, deadline=None)
def test_interval_set_laws(a_spans: list[tuple[int, int]], b_spans: list[tuple[int, int]]
                           ) -> None:
    a, b = IntervalSet.of(a_spans), IntervalSet.of(b_spans)
    ma = {x for lo, hi in a_spans for x in range(lo, hi + 1)}
    mb = {x for lo, hi in b_spans for x in range(lo, hi + 1)}
    assert members(a) == ma
    assert members(a.union(b)) == ma | mb
    assert members(a.intersection(b)) == ma & mb
    assert members(a.difference(b)) == ma - mb
    assert a.intersects(b) == bool(ma & mb)
    assert a.issubset(b) == (ma <= mb)
    assert a.size() == len(ma)
    assert all(a.contains(x) == (x in ma) for x in range(-1, 62))
    # normalized: sorted, disjoint, not adjacent
    for (lo1, hi1), (lo2, _) in zip(a.spans, a.spans[1:], strict=False):
        assert lo1 <= hi1 < lo2 - 1
    assert a.union(b) == b.union(a) and a.intersection(b) == b.intersection(a)


@given(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))
@settings(max_examples=100, deadline=None)
def test_address_value_contains_is_interval(lo: int, x: int) -> None:
    value = AddressValue(4, "range", lo, min(lo + 1000, 2**32 - 1))
    assert value.contains(4, x) == (value.lo <= x <= value.hi)
    assert not value.contains(6, x)


def test_ports_and_protocols() -> None:
    assert parse_port("any").is_any and parse_port(0).is_any
    assert parse_port("23") == PortRange(23, 23)
    assert parse_port("1000-2000") == PortRange(1000, 2000)
    assert parse_port("telnet") == PortRange(23, 23)
    assert parse_protocol("tcp") == 6 and parse_protocol("ICMPV6") == 58
    assert parse_protocol("any") is None and parse_protocol("0") is None
    assert parse_protocol("50") == 50
    for bad, fragment in (("70000", "out of range"), ("9-3", "reversed"), ("http2", "not a port")):
        with pytest.raises(InputError, match=fragment):
            parse_port(bad)
    with pytest.raises(InputError, match="unknown protocol"):
        parse_protocol("tpc")
    with pytest.raises(InputError, match="out of range"):
        parse_protocol("256")


def test_transform_names_and_lifetimes() -> None:
    t = parse_transform("ESP_AES128_HMAC_SHA1/3600")
    assert (t.kind, t.esp_enc, t.esp_auth, t.lifetime_seconds) == ("ESP", "AES128", "SHA1", 3600)
    assert str(t) == "ESP_AES128_HMAC_SHA1/3600"
    assert parse_transform("AH_SHA2_256").ah_auth == "SHA2_256"
    nested = parse_transform("AH_MD5+ESP_3DES_HMAC_SHA1/600/5120")
    assert nested.kind == "AH+ESP" and nested.lifetime_kbytes == 5120
    assert parse_transform("ESP_DES").esp_auth is None
    assert parse_transform("esp_aes256_hmac_sha2_512").name == "ESP_AES256_HMAC_SHA2_512"
    assert parse_transform("ESP_AES128_HMAC_SHA1/0/0").lifetime_seconds == 0


@pytest.mark.parametrize("text, fragment", [
    ("ESP_AES129_HMAC_SHA1", "unknown transform 'ESP_AES129_HMAC_SHA1'; did you mean"),
    ("ESP_NULL", "ESP_NULL needs an HMAC"),
    ("ESP_AES128_HMAC_SHA1/599", "out of range"),
    ("ESP_AES128_HMAC_SHA1/3600/100", "out of range"),
    ("ESP_AES128_HMAC_SHA1/4294967295", "out of range"),
    ("ESP_AES128_HMAC_SHA1/1h", "not a number"),
    ("GRE_FOO", "unknown transform"),
    ("ESP_3DES+AH_MD5", r"nested transform is AH_<auth>\+ESP_"),
])
def test_bad_transforms(text: str, fragment: str) -> None:
    with pytest.raises(InputError, match=fragment):
        parse_transform(text)


def test_transform_list_limits() -> None:
    esp = [f"ESP_{e}_HMAC_{a}" for e in ("DES", "3DES", "AES128", "AES192", "AES256")
           for a in ("MD5", "SHA1", "SHA2_256", "SHA2_384", "SHA2_512")]
    assert len(parse_action(esp).transforms) == 25
    with pytest.raises(InputError, match="at most 25"):
        parse_action([*esp, "ESP_NULL_HMAC_MD5"])
    with pytest.raises(InputError, match="at most 2"):
        parse_action(["AH_MD5", "AH_SHA1", "AH_SHA2_256"])
    with pytest.raises(InputError, match="mixes"):
        parse_action(["AH_MD5", "ESP_3DES_HMAC_SHA1"])
    with pytest.raises(InputError, match="at most 1"):
        parse_action(["AH_MD5+ESP_3DES", "AH_SHA1+ESP_3DES"])
    with pytest.raises(InputError, match="listed twice"):
        parse_action(["ESP_3DES_HMAC_SHA1", "ESP_3DES_HMAC_SHA1/3600"])
    assert parse_action("PASS").verdict == "PASS"
    assert parse_action(["discard"]).verdict == "DISCARD"
    with pytest.raises(InputError, match="cannot be combined"):
        parse_action(["PASS", "AH_MD5"])
