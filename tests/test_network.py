"""``qmcheck check`` on a network of 50 hosts (10 sites: a gateway, a server and three clients
each; model/formats/network_generator.py): the pairs that can exchange protected traffic are
checked, the others skipped and counted, and the one real failure (site 3's server proposes
another transform) is found with a witness the concrete semantics replays."""

from __future__ import annotations

import argparse
import json
from itertools import combinations
from pathlib import Path

import pytest

from qmcheck.model.formats.loader import load_text
from qmcheck.model.formats.network_generator import network_yaml
from qmcheck.model.semantics.negotiation import PROFILE_OPTIONS
from qmcheck.model.values.packet import make_packet
from qmcheck.model.values.policy import Scenario
from qmcheck.properties.checks.pairs import can_exchange, plan_pairs
from qmcheck.properties.checks.peers import concrete_verdict
from qmcheck.properties.cli.main import main
from qmcheck.properties.cli.peers import check_step


def scenario() -> Scenario:
    sc = load_text(network_yaml(10, 4, mismatch=(3,)), "net.yaml")
    assert isinstance(sc, Scenario) and len(sc.hosts) == 50
    return sc


def expected_pairs() -> set[tuple[str, str]]:
    ring = {(f"gw-{k}", f"gw-{k % 10 + 1}") for k in range(1, 11)}
    local = {(f"srv-{k}", f"cl-{k}-{j}") for k in range(1, 11) for j in range(1, 4)}
    return {tuple(sorted(p)) for p in ring | local}  # type: ignore[misc]


def test_pairs_that_can_exchange_are_exactly_the_ring_and_the_sites() -> None:
    sc = scenario()
    plan = plan_pairs(dict(sc.hosts))
    assert plan.total == 1225
    assert {tuple(sorted(p)) for p in plan.checked} == expected_pairs()
    assert len(plan.skipped) == 1225 - 40
    # a skipped pair has no IPsec policy toward the other on either side (tunnels to a
    # third gateway of the network excepted); without the network, gateways tunnel to anyone
    for a, b in plan.skipped[:200]:
        others = tuple(v for n, h in sc.hosts.items() if n not in (a, b)
                       for v in h.address_values)
        assert not can_exchange(sc.hosts[a], sc.hosts[b], others)
    assert can_exchange(sc.hosts["gw-1"], sc.hosts["srv-2"])


def test_peers_on_fifty_hosts_find_the_one_mismatch() -> None:
    sc = scenario()
    args = argparse.Namespace(engine="smt")
    results = check_step(sc, args)
    pairs = {(r.extra["initiator"], r.extra["responder"]) for r in results}
    assert {tuple(sorted(p)) for p in pairs} == expected_pairs()
    bad = [r for r in results if r.verdict != "holds"]
    assert bad and all(r.verdict == "refuted" for r in bad)
    assert {r.extra["initiator"] for r in bad} <= {"srv-3", "cl-3-1", "cl-3-2", "cl-3-3"}
    for r in bad:
        assert r.witness is not None
        pkt = make_packet(**r.witness["packet"])
        i, resp = sc.hosts[r.extra["initiator"]], sc.hosts[r.extra["responder"]]
        assert r.property in concrete_verdict(i, resp, pkt, PROFILE_OPTIONS["hpux"]).failed


def test_check_report_counts_pairs_and_states_the_scope(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "small.yaml"
    path.write_text(network_yaml(3, 2))
    main(["check", str(path), "--engine", "smt", "--format", "json", "--out",
          str(tmp_path / "cx")])
    report = json.loads(capsys.readouterr().out)
    assert report["pairs"] == {"total": 36, "checked": 6, "skipped": 30}  # 9 hosts
    assert report["scope"]["gw-1"] == {"addresses": ["10.1.0.0/16"],
                                       "reason": "protected subnets"}
    assert report["scope"]["srv-1"]["reason"] == "own addresses"
    hosts = {h for r in report["results"] if "initiator" in r for h in (r["initiator"],
                                                                         r["responder"])}
    assert len(list(combinations(sorted(hosts), 2))) >= 6
