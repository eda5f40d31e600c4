"""Witnesses for road warriors: a ``dynamic`` selector whose IKE address or virtual IP is not
known is any address (symbolic). Every witness the tool prints for such a host is natural
(docs/SPEC.md 4: a host address, not 0.0.0.0/0.0.0.1, a network or a broadcast address; and
a packet between two hosts, not from a host to itself), the same in text and JSON, and the
concrete semantics replay it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qmcheck.model.formats.loader import load_host
from qmcheck.model.semantics.lookup import first_match, lookup
from qmcheck.model.semantics.negotiation import PROFILE_OPTIONS
from qmcheck.model.semantics.witness import is_host_address
from qmcheck.model.values.packet import Packet, make_packet
from qmcheck.properties.checks.deploy.diff import treatment
from qmcheck.properties.checks.peers import concrete_verdict
from qmcheck.properties.cli.main import main

CORPUS = Path(__file__).parent / "fixtures" / "swanctl-corpus"

# a road warrior (dynamic local_ts: the virtual IP, symbolic) whose inbound policy is bound to
# a mark: only its outbound half is a host policy, so policy.mirrored has a finding
ONE_WAY_RW = """connections {
   home {
      remote_addrs = moon.strongswan.org
      vips = 0.0.0.0
      children {
         home {
            remote_ts  = 10.1.0.0/16
            mark_in = 5
         }
      }
   }
}
"""


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[dict, str]:
    main([*argv, "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    main(argv)
    return report, capsys.readouterr().out


def _packets(report: dict) -> list[Packet]:
    return [make_packet(**r["witness"]["packet"]) for r in report["results"]
            if r["verdict"] == "refuted" and (r.get("witness") or {}).get("packet")]


def _natural(packet: Packet) -> bool:
    return (is_host_address(packet.family, packet.src)
            and is_host_address(packet.family, packet.dst) and packet.src != packet.dst)


def test_mirrored_witness_of_a_road_warrior_is_natural(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "rw.conf"
    path.write_text(ONE_WAY_RW)
    report, text = _run(["conflicts", str(path)], capsys)
    mirrored = [r for r in report["results"]
                if r["property"] == "policy.mirrored" and r["verdict"] == "refuted"]
    assert mirrored
    host = load_host(str(path))
    for r in mirrored:
        packet = make_packet(**r["witness"]["packet"])
        assert _natural(packet) and packet.protocol != 0, packet
        assert f"witness: {packet}" in text
        out, back = lookup(host, packet), lookup(host, packet.reversed())
        assert (out is not None and out.action.is_ipsec) != (back is not None
                                                              and back.action.is_ipsec)


def test_uncovered_witness_is_between_two_hosts(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report, text = _run(["conflicts", str(CORPUS / "rw-client.conf")], capsys)
    packets = _packets(report)
    assert packets and all(_natural(p) for p in packets), packets
    host = load_host(str(CORPUS / "rw-client.conf"))
    for p in packets:
        assert f"witness: {p}" in text
        assert lookup(host, p) is None  # uncovered: default-action none, no policy matches


def test_diff_witness_of_a_symbolic_peer_is_natural(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "rw.conf"
    path.write_text(ONE_WAY_RW)
    new = CORPUS / "rw-client.conf"
    report, text = _run(["diff", str(path), str(new)], capsys)
    packets = _packets(report)
    assert packets and all(_natural(p) for p in packets), packets
    old_host, new_host = load_host(str(path)), load_host(str(new))
    for p in packets:
        assert f"{p}" in text
        got = (first_match(old_host.ordered(), p), first_match(new_host.ordered(), p))
        assert treatment(got[0]) != treatment(got[1])


def test_peers_witnesses_with_a_symbolic_road_warrior_are_natural(
        capsys: pytest.CaptureFixture[str]) -> None:
    server, client = str(CORPUS / "rw-server.conf"), str(CORPUS / "rw-client.conf")
    report, text = _run(["peers", server, client, "--profile", "strongswan"], capsys)
    packets = _packets(report)
    assert packets and all(_natural(p) for p in packets), packets
    hosts = {"rw-server": load_host(server), "rw-client": load_host(client)}
    for r in report["results"]:
        if r["verdict"] != "refuted":
            continue
        packet = make_packet(**r["witness"]["packet"])
        assert f"witness: {packet}" in text
        verdict = concrete_verdict(hosts[r["initiator"]], hosts[r["responder"]], packet,
                                   PROFILE_OPTIONS["strongswan"])
        assert r["property"] in verdict.failed, (r["property"], packet)
