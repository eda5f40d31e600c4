"""Importing ``ip xfrm policy`` listings, and exporting host policies to ``ip xfrm`` commands.

tests/fixtures/xfrm-site.txt and xfrm-site-stats.txt are the kernel's own listings (plain and
``ip -s``) of tests/fixtures/xfrm-site.yaml loaded with qmcheck.model.formats.xfrm_commands;
the system test tests/system/test_kernel_lookup.py does the same for random policy sets.
"""

from __future__ import annotations

from itertools import product
from pathlib import Path

import pytest

from qmcheck.model.formats.loader import load_host
from qmcheck.model.formats.xfrm_commands import to_xfrm_commands
from qmcheck.model.formats.xfrm_dump import load_xfrm_text, looks_like_xfrm
from qmcheck.model.semantics.lookup import lookup
from qmcheck.model.values.errors import InputError
from qmcheck.model.values.packet import Packet, make_packet
from qmcheck.model.values.policy import Host
from qmcheck.properties.cli.main import main

FIXTURES = Path(__file__).parent / "fixtures"
ADDRESSES = {4: ("10.1.0.1", "10.1.7.7", "10.2.0.1", "10.2.3.3", "10.3.0.1"),
             6: ("fd00:1::1", "fd00:1::9", "fd00:2::1", "fd00:2::5", "fd00:3::1")}
PROTOCOLS = {4: ("tcp", "udp", "icmp"), 6: ("tcp", "udp", "icmpv6")}


def universe() -> list[Packet]:
    out = []
    for family, addrs in ADDRESSES.items():
        for src, dst, proto, direction in product(addrs, addrs, PROTOCOLS[family],
                                                  ("out", "in")):
            ports = [(0, 0)] if proto.startswith("icmp") else [(53, 443), (443, 53), (1, 2)]
            for sport, dport in ports:
                out.append(make_packet(src, dst, proto, sport, dport, direction))
    return out


def action(host: Host, packet: Packet) -> str | list[str]:
    policy = lookup(host, packet)
    return "PASS" if policy is None else policy.action.to_json()


@pytest.mark.parametrize("listing", ["xfrm-site.txt", "xfrm-site-stats.txt"])
def test_kernel_listing_gives_the_original_lookups(listing: str) -> None:
    original = load_host(str(FIXTURES / "xfrm-site.yaml"))
    imported = load_host(str(FIXTURES / listing))
    packets = universe()
    assert len(packets) > 400
    assert [action(original, p) for p in packets] == [action(imported, p) for p in packets]


def test_fixture_listing_is_what_the_exporter_loads() -> None:
    """The fixture was made from these commands (each host policy: dir out + mirrored dir in)."""
    commands = to_xfrm_commands(load_host(str(FIXTURES / "xfrm-site.yaml")))
    assert len(commands) == 10
    listing = (FIXTURES / "xfrm-site.txt").read_text()
    assert listing.count("\n\tdir ") == len(commands)


PAIR = ("src 10.1.0.0/16 dst 10.2.0.0/16 \n\tdir out priority 5 ptype main \n"
        "src 10.2.0.0/16 dst 10.1.0.0/16 \n\tdir in priority 5 ptype main \n")
BLOCK = ("src 10.1.0.1/32 dst 10.2.0.1/32 \n\tdir out action block priority 5 ptype main \n"
         "src 10.2.0.1/32 dst 10.1.0.1/32 \n\tdir in action block priority 5 ptype main \n")


def test_equal_priorities_plain_listing_is_newest_first() -> None:
    packet = make_packet("10.1.0.1", "10.2.0.1", "udp", 1, 2)
    # listed newest first: in BLOCK + PAIR, PAIR was inserted first and wins
    assert action(load_xfrm_text(BLOCK + PAIR, "x"), packet) == "PASS"
    assert action(load_xfrm_text(PAIR + BLOCK, "x"), packet) == "DISCARD"


def test_equal_priorities_with_indexes_follow_insertion() -> None:
    packet = make_packet("10.1.0.1", "10.2.0.1", "udp", 1, 2)
    first = PAIR.replace("priority 5", "index 9 priority 5")
    later = BLOCK.replace("priority 5", "index 17 priority 5")
    assert action(load_xfrm_text(later + first, "x"), packet) == "PASS"
    assert action(load_xfrm_text(first + later, "x"), packet) == "PASS"


def test_priority_zero_is_renumbered_in_order() -> None:
    text = PAIR.replace("priority 5", "priority 0") + BLOCK.replace("priority 5", "priority 1")
    host = load_xfrm_text(text, "x")
    assert {p.name: p.priority for p in host.policies if not p.implicit} == {
        "xfrm-L1": 1, "xfrm-L5": 2}
    packet = make_packet("10.1.0.1", "10.2.0.1", "udp", 1, 2)
    assert action(host, packet) == "PASS"


def test_templates_fwd_and_socket_policies() -> None:
    text = ("src 0.0.0.0/0 dst 0.0.0.0/0 \n\tsocket in priority 0 ptype main \n"
            "src 10.1.0.0/16 dst 10.2.0.0/16 proto tcp dport 443 \n\tdir out priority 3 "
            "ptype main \n\ttmpl src 0.0.0.0 dst 0.0.0.0\n\t\tproto esp reqid 1 mode transport\n"
            "src 10.2.0.0/16 dst 10.1.0.0/16 proto tcp sport 443 \n\tdir in priority 3 "
            "ptype main \n\ttmpl src 0.0.0.0 dst 0.0.0.0\n\t\tproto esp reqid 1 mode transport\n"
            "src 10.2.0.0/16 dst 10.1.0.0/16 \n\tdir fwd priority 3 ptype main \n")
    assert looks_like_xfrm(text)
    host = load_xfrm_text(text, "x")
    assert [p.name for p in host.policies if not p.implicit] == ["xfrm-L3"]
    assert action(host, make_packet("10.1.0.1", "10.2.0.1", "tcp", 1000, 443)) == [
        "ESP_AES128_HMAC_SHA1"]


@pytest.mark.parametrize(("text", "line", "field"), [
    ("src 10.1.0.0/16 dst 10.2.0.0/16 dev eth0\n\tdir out priority 1 ptype main\n", 1, "dev"),
    ("src 10.1.0.0/16 dst 10.2.0.0/16 proto icmp type 8 code 0\n\tdir out ptype main\n", 1,
     "type"),
    ("src 10.1.0.0/16 dst 10.2.0.0/16\n\tdir out priority 1 ptype sub\n", 2, "ptype"),
    ("src 10.1.0.0/16 dst 10.2.0.0/16\n\tdir out priority 1 ptype main\n\tmark 0x1/0xfg\n", 3,
     "mark"),
    ("src 10.1.0.0/16 dst 10.2.0.0/16\n\tdir out priority 1 ptype main\n\tif_id -1\n", 3,
     "if_id"),
    ("src 10.1.0.0/16 dst 10.2.0.0/16\n\tdir out priority 1 ptype main\n\tif_id\n", 3,
     "if_id"),
    ("src 10.1.0.0/16 dst 10.2.0.0/16\n\tdir out ptype main\n\ttmpl src :: dst ::\n"
     "\t\tproto comp reqid 0 mode transport\n", 4, "tmpl"),
    ("src 10.1.0.0/16 dst 10.2.0.0/16\n", 1, "dir"),
])
def test_errors_name_the_line_and_field(text: str, line: int, field: str) -> None:
    with pytest.raises(InputError) as e:
        load_xfrm_text(text, "policies.txt")
    assert (e.value.source, e.value.line, e.value.field) == ("policies.txt", line, field)


def test_unpaired_policy_loads_with_its_direction(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """A real dump's lone ``dir out`` policy is kept, for outbound packets only."""
    lone = tmp_path / "out-only.txt"
    lone.write_text(BLOCK + PAIR.split("src 10.2")[0])
    host = load_host(str(lone))
    first = host.policy("xfrm-L5")
    assert first.direction == "out" and host.policy("xfrm-L1").direction == "both"
    out = make_packet("10.1.0.2", "10.2.0.1", "udp", 1, 2)
    assert lookup(host, out) is first
    assert lookup(host, make_packet("10.2.0.1", "10.1.0.2", "udp", 2, 1, "in")) is not first
    assert main(["lookup", str(lone), "--src", "10.1.0.2", "--dst", "10.2.0.1"]) == 0
    assert "xfrm-L5" in capsys.readouterr().out


def test_tunnel_templates_keep_their_end_points() -> None:
    text = ("src 10.1.0.0/16 dst 10.2.0.0/16 \n\tdir out priority 3 ptype main \n"
            "\ttmpl src 198.51.100.1 dst 203.0.113.1\n\t\tproto esp reqid 1 mode tunnel\n"
            "src 10.2.0.0/16 dst 10.1.0.0/16 \n\tdir in priority 3 ptype main \n"
            "\ttmpl src 203.0.113.1 dst 198.51.100.1\n\t\tproto esp reqid 1 mode tunnel\n"
            "src 10.2.0.0/16 dst 10.1.0.0/16 \n\tdir fwd priority 3 ptype main \n"
            "\ttmpl src 203.0.113.1 dst 198.51.100.1\n\t\tproto esp reqid 1 mode tunnel\n")
    host = load_xfrm_text(text, "gw.txt")
    (policy,) = [p for p in host.policies if not p.implicit]
    assert policy.direction == "both" and policy.tunnel == (4, 0xCB007101)
    assert host.notes and "dir fwd" in host.notes[0]
    # a mismatching inbound end point is no mirror: two one-way policies
    other = load_xfrm_text(text.replace("tmpl src 203.0.113.1 dst 198.51.100.1\n\t\tproto "
                                        "esp reqid 1 mode tunnel\nsrc 10.2.0.0/16 dst "
                                        "10.1.0.0/16 \n\tdir fwd",
                                        "tmpl src 203.0.113.9 dst 198.51.100.1\n\t\tproto "
                                        "esp reqid 1 mode tunnel\nsrc 10.2.0.0/16 dst "
                                        "10.1.0.0/16 \n\tdir fwd", 1), "gw.txt")
    assert sorted(p.direction for p in other.policies if not p.implicit) in (
        ["in", "out"], ["both"])


def test_inconsistent_tie_order_loads_as_one_way_policies() -> None:
    """Equal priorities in one order for out and another for in: nothing is paired, and each
    direction keeps the kernel's order."""
    def pol(src: str, dst: str, d: str, idx: int, act: str) -> str:
        return (f"src {src} dst {dst} \n\tdir {d} priority 5 index {idx} ptype main \n"
                + ("\ttmpl src 0.0.0.0 dst 0.0.0.0\n\t\tproto esp reqid 1 mode transport\n"
                   if act == "esp" else ""))
    text = (pol("10.1.0.0/16", "10.2.0.0/16", "out", 1, "esp")
            + pol("10.1.0.0/24", "10.2.0.0/24", "out", 2, "pass")
            + pol("10.2.0.0/24", "10.1.0.0/24", "in", 3, "pass")
            + pol("10.2.0.0/16", "10.1.0.0/16", "in", 4, "esp"))
    host = load_xfrm_text(text, "x")
    assert {p.direction for p in host.policies if not p.implicit} == {"out", "in"}
    assert action(host, make_packet("10.1.0.1", "10.2.0.1")) == ["ESP_AES128_HMAC_SHA1"]
    assert action(host, make_packet("10.2.0.1", "10.1.0.1", direction="in")) == "PASS"


def test_exporter_mirrors_expands_and_deduplicates() -> None:
    host = load_host(str(FIXTURES / "xfrm-site.yaml"))
    commands = to_xfrm_commands(host)
    assert commands[0] == ("xfrm policy add src 10.1.0.0/16 dst 10.2.0.1/32 proto 17 dport 53 "
                           "dir out priority 5 action allow")
    assert commands[1] == ("xfrm policy add src 10.2.0.1/32 dst 10.1.0.0/16 proto 17 sport 53 "
                           "dir in priority 5 action allow")
    assert "tmpl proto esp mode transport level required" in commands[2]


def _verdicts(args: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, set[str]]:
    import json

    main([*args, "--format", "json"])
    out: dict[str, set[str]] = {}
    for r in json.loads(capsys.readouterr().out)["results"]:
        out.setdefault(r["property"], set()).add(r["verdict"])
    return out


def test_conflicts_reads_the_listing_and_agrees_with_the_source(
        capsys: pytest.CaptureFixture[str]) -> None:
    """``qmcheck conflicts`` on the kernel's listing gives, property by property, the verdicts it
    gives on the YAML file the policies came from (names differ, findings do not)."""
    source = _verdicts(["conflicts", str(FIXTURES / "xfrm-site.yaml")], capsys)
    for listing in ("xfrm-site.txt", "xfrm-site-stats.txt"):
        assert _verdicts(["conflicts", str(FIXTURES / listing)], capsys) == source
    assert source["policy.determinism"] == {"refuted"}


def test_peers_reads_listings(capsys: pytest.CaptureFixture[str]) -> None:
    listing = str(FIXTURES / "xfrm-site.txt")
    verdicts = _verdicts(["peers", listing, listing], capsys)
    assert "peers.negotiation" in verdicts


def test_exporter_expansions_and_default_discard(tmp_path: Path) -> None:
    text = """\
host: x
default-action: DISCARD
policies:
  - name: both
    action: PASS
  - name: ranged
    source: [10.1.0.1-10.1.0.6, 10.1.0.9]
    destination: 10.2.0.0/16
    protocol: tcp
    destination-port: 1000-1002
    action: DISCARD
  - name: same-selector-later
    priority: 5
    action: DISCARD
"""
    (tmp_path / "x.yaml").write_text(text)
    commands = to_xfrm_commands(load_host(str(tmp_path / "x.yaml")))
    # 'both' (any/any, both families) and the default DISCARD have the selector of
    # 'same-selector-later' (priority 5, searched first): the kernel takes one, the first
    assert [c for c in commands if "src 0.0.0.0/0 dst 0.0.0.0/0 dir out" in c] == [
        "xfrm policy add src 0.0.0.0/0 dst 0.0.0.0/0 dir out priority 5 action block"]
    assert len([c for c in commands if "src ::/0 dst ::/0" in c]) == 2
    ranged = [c for c in commands if "dst 10.2.0.0/16" in c]
    # 10.1.0.1-10.1.0.6 is 10.1.0.1/32, 10.1.0.2/31, 10.1.0.4/31, 10.1.0.6/32; plus 10.1.0.9
    assert len(ranged) == 5 * 3
    bad = text.replace("1000-1002", "1000-2000")
    (tmp_path / "y.yaml").write_text(bad)
    with pytest.raises(InputError) as e:
        to_xfrm_commands(load_host(str(tmp_path / "y.yaml")))
    assert e.value.field == "destination-port"


@pytest.mark.parametrize("listing", ["xfrm-mark-ifid.txt", "xfrm-mark-ifid-stats.txt"])
def test_marked_and_interface_policies_are_left_out_with_notes(
        listing: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The kernel's own listing (iproute2 6.1, tests/fixtures/xfrm-mark-ifid*.txt: policies
    added with ``mark 0x1 mask 0xff``, ``if_id 5``, ``mark 0x2 if_id 0x7`` and one unmarked
    pair): an unmarked packet never hits a marked or interface-bound policy in the kernel
    (xfrm_policy_match), so only the unmarked pair is a host policy; each one left out is a
    note naming its line, mark and if_id."""
    path = str(FIXTURES / listing)
    host = load_host(path)
    kept = [p for p in host.policies if not p.implicit]
    assert [(str(p.source), str(p.destination), p.direction) for p in kept] == [
        ("10.1.1.1", "10.9.9.9", "both")]
    notes = [n for n in host.notes if "left out" in n]
    assert len(notes) == 5
    assert sum("mark 0x1/0xff" in n for n in notes) == 2
    assert sum("if_id 0x5" in n for n in notes) == 2
    assert sum("mark 0x2/0xffffffff and if_id 0x7" in n for n in notes) == 1
    # what the kernel does with an unmarked packet into the marked tunnel's subnets: no IPsec
    assert action(host, make_packet("10.1.0.1", "10.2.0.1", "tcp", 1000, 443)) == "PASS"
    assert main(["conflicts", path, "--format", "json"]) in (0, 1)
    err = capsys.readouterr().err
    assert err.count("qmcheck: note: ") == 5 and "Traceback" not in err


def test_a_zero_mark_applies_to_unmarked_packets() -> None:
    """``mark 0/0xff`` matches a packet whose mark is 0 (0 & 0xff == 0): kept."""
    text = ("src 10.1.0.0/16 dst 10.2.0.0/16\n\tdir out priority 1 ptype main\n"
            "\tmark 0/0xff\n\ttmpl src 0.0.0.0 dst 0.0.0.0\n\t\tproto esp reqid 0 mode transport\n")
    host = load_xfrm_text(text, "x")
    assert [p.name for p in host.policies if not p.implicit] == ["xfrm-L1"]
    assert not host.notes
