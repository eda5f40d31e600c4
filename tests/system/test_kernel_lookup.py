"""Differential test against the Linux kernel's XFRM policy lookup (issue 7, item 1).

Hypothesis draws random host policies (IPv4, IPv6 and both-family ones; PASS, DISCARD and
IPsec actions, transport and tunnel mode; mirrored and direction-specific ones; ties of
priority; several values per field; address and small port ranges).
Each set is translated by ``qmcheck.model.formats.xfrm_commands`` into ``ip xfrm policy add``
commands in namespace A; UDP, TCP and ICMP probes go out of A to B and in from B to A; what the
kernel does
is observed (delivered, EPERM on send, or silently held for an IPsec SA that does not exist)
and compared with the verdict of ``qmcheck lookup`` on the same policy file and packets.
"""

from __future__ import annotations

import contextlib
import errno
import io
import ipaddress
import json
import os
import random
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from qmcheck.model.formats.loader import load_host
from qmcheck.model.formats.xfrm_commands import to_xfrm_commands
from qmcheck.model.formats.xfrm_dump import load_xfrm_text
from qmcheck.model.semantics.lookup import lookup
from qmcheck.model.values.packet import make_packet
from qmcheck.model.values.policy import Host
from qmcheck.properties.cli.main import main
from tests.system.conftest import SUMMARY
from tests.system.netns import A4, A6, B4, B6, HostPair, run, skip_reason

pytestmark = pytest.mark.system

IMPORT_EXAMPLES = 40
EXAMPLES = int(os.environ.get("QMC_KERNEL_EXAMPLES", "200"))  # CI: at least 200
PROBES_PER_SET = 24
# Ranges and port ranges expand into many kernel policies (rarely over 200,000 for six host
# policies); sets past this bound are skipped, so that a run's length does not depend on luck.
MAX_COMMANDS = 2000
PORTS = (53, 80, 999, 1000, 1003, 1004, 5000)
POOL = {4: A4 + B4, 6: A6 + B6}
PREFIX_LENGTHS = {4: (8, 15, 16, 24, 31, 32), 6: (16, 31, 32, 48, 64, 127, 128)}
ACTIONS = ("PASS", "DISCARD", "ESP_AES128_HMAC_SHA1", "AH_SHA1")
ICMP = {4: "icmp", 6: "icmpv6"}
PROTO_NUMBER = {"tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58}

STATS: Counter[str] = Counter()


@pytest.fixture(scope="module")
def pair() -> Iterator[HostPair]:
    reason = skip_reason()
    if reason:
        SUMMARY.append(f"kernel differential tests skipped: {reason}")
        pytest.skip(reason)
    start = time.monotonic()
    with HostPair() as hp:
        yield hp
    SUMMARY.append(f"kernel differential test: {STATS['sets']} policy sets "
                   f"({STATS['policies one-way']} one-way and {STATS['policies tunnel']} "
                   f"tunnel policies), {STATS['probes']} probes, {STATS['disagreements']} "
                   f"disagreements; with the listing import test "
                   f"{time.monotonic() - start:.1f}s")
    SUMMARY.append("kernel probes: " + ", ".join(
        f"{k} {v}" for k, v in sorted(STATS.items()) if k[0] in "IUio"))


# -- strategies ------------------------------------------------------------------------------
@st.composite
def address_value(draw: st.DrawFn, family: int, side: tuple[str, ...]) -> str:
    """Mostly addresses of ``side`` (the host's own for the source field, the peer's for the
    destination), so that policies overlap on the probes."""
    kind = draw(st.sampled_from(("any", "single", "prefix", "prefix", "range")))
    if kind == "any":
        return "any"
    base = draw(st.sampled_from(side)) if draw(st.integers(0, 3)) else draw(
        st.sampled_from(POOL[family]))
    if kind == "single":
        return base
    if kind == "prefix":
        length = draw(st.sampled_from(PREFIX_LENGTHS[family]))
        return str(ipaddress.ip_network(f"{base}/{length}", strict=False))
    other = draw(st.sampled_from(POOL[family]))
    lo, hi = sorted((ipaddress.ip_address(base), ipaddress.ip_address(other)))
    return f"{lo}-{hi}"


@st.composite
def port_value(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(("any", "any", "single", "range")))
    if kind == "any":
        return "any"
    if kind == "single":
        return str(draw(st.sampled_from(PORTS)))
    return "1000-1003"


@st.composite
def policy(draw: st.DrawFn, index: int) -> dict[str, Any]:
    family = draw(st.sampled_from((4, 6, None)))
    out: dict[str, Any] = {"name": f"p{index}"}
    if draw(st.integers(0, 4)):  # mostly explicit and often equal priorities
        out["priority"] = draw(st.integers(1, 3))
    if family is not None:
        mine, theirs = (A4, B4) if family == 4 else (A6, B6)
        out["source"] = draw(st.lists(address_value(family, mine), min_size=1, max_size=2))
        out["destination"] = draw(st.lists(address_value(family, theirs), min_size=1,
                                           max_size=2))
        protos = ("any", "tcp", "udp", ICMP[family])
    else:
        protos = ("any", "tcp", "udp", "icmp")
    proto = draw(st.sampled_from(protos))
    out["protocol"] = proto
    if proto in ("tcp", "udp"):
        out["source-port"] = draw(port_value())
        out["destination-port"] = draw(port_value())
    out["action"] = draw(st.sampled_from(ACTIONS))
    # direction-specific policies (a kernel's lone dir out / dir in) and tunnel mode
    direction = draw(st.sampled_from(("both", "both", "out", "in")))
    if direction != "both":
        out["direction"] = direction
    if (family is not None and out["action"] not in ("PASS", "DISCARD")
            and draw(st.booleans())):
        out["tunnel"] = draw(st.sampled_from(B4 if family == 4 else B6))
    return out


@st.composite
def host_file(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(1, 6))
    return {"host": "A", "address": [A4[0], A6[0]],
            "default-action": draw(st.sampled_from(("PASS", "DISCARD"))),
            "policies": [draw(policy(i)) for i in range(n)]}


def probes(rng: random.Random) -> list[dict[str, Any]]:
    """Distinct probe packets, as seen by host A (``direction`` out: A -> B, in: B -> A)."""
    seen: set[tuple[Any, ...]] = set()
    out: list[dict[str, Any]] = []
    for _ in range(PROBES_PER_SET * 3):
        if len(out) == PROBES_PER_SET:
            break
        family = rng.choice((4, 6))
        direction = rng.choice(("out", "in"))
        mine, theirs = (A4, B4) if family == 4 else (A6, B6)
        src, dst = (rng.choice(mine), rng.choice(theirs)) if direction == "out" else (
            rng.choice(theirs), rng.choice(mine))
        proto = rng.choice(("tcp", "udp", ICMP[family]))
        sport = dport = 0
        if proto in ("tcp", "udp"):
            sport, dport = rng.choice(PORTS), rng.choice(PORTS)
        key = (family, direction, src, dst, proto, sport, dport)
        if key in seen:
            continue
        seen.add(key)
        out.append({"id": len(out) + 1, "family": family, "direction": direction, "src": src,
                    "dst": dst, "proto": PROTO_NUMBER[proto], "sport": sport, "dport": dport})
    return out


# -- the two sides -------------------------------------------------------------------------
def model_verdicts(policy_file: Path, batch: list[dict[str, Any]], tmp: Path) -> list[str]:
    """PASS, DISCARD or IPSEC for each probe, from ``qmcheck lookup --packets``."""
    packets = tmp / "packets.jsonl"
    packets.write_text("".join(json.dumps(
        {k: p[k] for k in ("src", "dst", "sport", "dport", "direction")} | {
            "protocol": p["proto"]}) + "\n" for p in batch))
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["lookup", str(policy_file), "--packets", str(packets), "--format", "json"])
    assert code == 0, buf.getvalue()
    results = json.loads(buf.getvalue())["results"]
    assert len(results) == len(batch)
    out = []
    for r in results:
        action = r["action"]
        out.append("PASS" if action in (None, "PASS") else
                   "DISCARD" if action == "DISCARD" else "IPSEC")
    return out


def kernel_verdicts(hp: HostPair, batch: list[dict[str, Any]]) -> list[str]:
    """What the kernel did with each probe: PASS (delivered), DISCARD (the send failed with
    EPERM: a block policy) or IPSEC (held: the send succeeded, nothing arrived); inbound, a
    probe that did not arrive is DISCARD-or-IPSEC, written BLOCKED."""
    verdicts: dict[int, str] = {}
    for direction, sender, receiver in (("out", hp.agent_a, hp.agent_b),
                                        ("in", hp.agent_b, hp.agent_a)):
        group = [p for p in batch if p["direction"] == direction]
        if not group:
            continue
        sent = {r["id"]: r["errno"] for r in sender.call(op="send", probes=group)["results"]}
        seen = receiver.call(op="collect", idle=0.05, limit=2.0)["seen"]
        arrived = {tuple(s[:6]) if s[6] is None else ("id", s[6]) for s in seen}
        for p in group:
            key = (("id", p["id"]) if p["proto"] != 6 else
                   (p["family"], p["src"], p["dst"], p["proto"], p["sport"], p["dport"]))
            code = sent[p["id"]]
            if direction == "in":
                assert code == 0, f"the sender B has no policies, yet {p} failed: {code}"
                verdicts[p["id"]] = "PASS" if key in arrived else "BLOCKED"
            elif key in arrived:
                assert code == 0
                verdicts[p["id"]] = "PASS"
            else:
                verdicts[p["id"]] = "DISCARD" if code == errno.EPERM else "IPSEC"
    return [verdicts[p["id"]] for p in batch]


def comparable(model: str, direction: str) -> str:
    return "BLOCKED" if direction == "in" and model != "PASS" else model


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
@given(host=host_file(), seed=st.integers(0, 2**32 - 1))
def test_kernel_lookup_agrees_with_model(pair: HostPair, tmp_path: Path, host: dict[str, Any],
                                         seed: int) -> None:
    policy_file = tmp_path / "host.yaml"
    policy_file.write_text(yaml.safe_dump(host, sort_keys=False))
    commands = to_xfrm_commands(load_host(str(policy_file)))
    assume(len(commands) <= MAX_COMMANDS)
    pair.load_policies(commands)
    batch = probes(random.Random(seed))
    model = model_verdicts(policy_file, batch, tmp_path)
    kernel = kernel_verdicts(pair, batch)
    STATS["sets"] += 1
    STATS["probes"] += len(batch)
    STATS["policies one-way"] += sum("direction" in p for p in host["policies"])
    STATS["policies tunnel"] += sum("tunnel" in p for p in host["policies"])
    STATS.update(f"IPv{p['family']}" for p in batch)
    STATS.update(f"{p['direction']} {k}" for p, k in zip(batch, kernel, strict=True))
    wrong = [(p, m, k) for p, m, k in zip(batch, model, kernel, strict=True)
             if comparable(m, p["direction"]) != k]
    STATS["disagreements"] += len(wrong)
    assert not wrong, (
        "kernel and model disagree:\n" + policy_file.read_text() + "\n".join(commands) + "\n"
        + "\n".join(f"{p}: model {m}, kernel {k}" for p, m, k in wrong))


def _action(host: Host, probe: dict[str, Any]) -> str | list[str]:
    packet = make_packet(probe["src"], probe["dst"], probe["proto"], probe["sport"],
                         probe["dport"], probe["direction"])
    policy = lookup(host, packet)
    return "PASS" if policy is None else policy.action.to_json()


@settings(max_examples=IMPORT_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
@given(host=host_file(), seed=st.integers(0, 2**32 - 1))
def test_importing_the_kernel_listing_keeps_every_lookup(pair: HostPair, tmp_path: Path,
                                                         host: dict[str, Any], seed: int) -> None:
    """``ip xfrm policy`` and ``ip -s xfrm policy`` output of the loaded policies, imported by
    qmcheck.model.formats.xfrm_dump, gives every probe the action of the original host policies."""
    policy_file = tmp_path / "host.yaml"
    policy_file.write_text(yaml.safe_dump(host, sort_keys=False))
    original = load_host(str(policy_file))
    commands = to_xfrm_commands(original)
    assume(len(commands) <= MAX_COMMANDS)
    pair.load_policies(commands)
    batch = probes(random.Random(seed))
    for options in ([], ["-s"]):
        listing = run(["ip", "-n", pair.a, *options, "xfrm", "policy"]).stdout
        imported = load_xfrm_text(listing, "kernel")
        wrong = [p for p in batch if _action(original, p) != _action(imported, p)]
        assert not wrong, (policy_file.read_text() + listing + "\n".join(
            f"{p}: original {_action(original, p)}, imported {_action(imported, p)}"
            for p in wrong))
