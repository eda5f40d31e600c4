"""The swanctl.conf importer against the policies charon really installs.

charon (kernel-netlink, no kernel-libipsec) installs the trap and shunt policies of a
swanctl.conf into the kernel's XFRM database. Both importers must then describe the same host:
``import_swanctl`` on the configuration and ``import_xfrm`` on ``ip -s xfrm policy`` give the
same priorities for the same selectors, and the same verdict for every probe packet.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from itertools import product

import pytest

from qmcheck.model.formats.swanctl_conf import load_swanctl_text
from qmcheck.model.formats.xfrm_dump import load_xfrm_text
from qmcheck.model.semantics.lookup import lookup
from qmcheck.model.values.packet import Packet, make_packet
from qmcheck.model.values.policy import Host, Policy
from tests.system.conftest import SUMMARY
from tests.system.netns import run, skip_reason
from tests.system.strongswan import IKE, PLUGINS_KERNEL_POLICIES, CharonPair, charon_skip_reason

pytestmark = pytest.mark.system

#: (name, local_ts, remote_ts, mode): overlapping selectors across the three policy classes.
CHILDREN = (
    ("dns-pass", "10.1.0.0/16[udp/53]", "10.2.0.0/16", "pass"),
    ("web", "10.1.0.0/16", "10.2.0.0/16[tcp/443]", "tunnel"),
    ("lan", "10.1.0.0/16", "10.2.0.0/16", "tunnel"),
    ("host-drop", "10.1.1.1", "10.2.0.0/16", "drop"),
    ("all-drop", "10.0.0.0/8", "0.0.0.0/0", "drop"),
    ("icmp-pass", "10.1.2.0-10.1.2.255", "10.2.0.0/16[icmp]", "pass"),
    ("ports", "10.1.0.0/16[tcp/1000-1003]", "10.2.9.0/24", "tunnel"),
    ("v6", "fd00:1::/48", "fd00:2::/48", "tunnel"),
    ("v6-ike-pass", "fd00:1::/48[udp/500]", "fd00:2::/48", "pass"),
    ("transport", "10.99.0.0/24[tcp]", "10.99.0.0/16", "transport"),
    ("transport-none", "10.1.0.0/16", "10.2.0.0/16[udp]", "transport"),
)
ADDRESSES = {4: ("10.1.0.5", "10.1.1.1", "10.1.2.7", "10.2.0.9", "10.2.9.9", "10.3.0.1",
                 "10.200.0.1", IKE["i"], IKE["r"]),
             6: ("fd00:1::5", "fd00:2::9", "fd00:3::1")}
PORTS = (53, 443, 500, 1000, 7)


def conf() -> str:
    children = "".join(
        f"      {name} {{\n        local_ts = {lts}\n        remote_ts = {rts}\n"
        f"        mode = {mode}\n        start_action = trap\n      }}\n"
        for name, lts, rts, mode in CHILDREN)
    return (f"connections {{\n  peer {{\n    version = 1\n    local_addrs = {IKE['i']}\n"
            f"    remote_addrs = {IKE['r']}\n    children {{\n{children}    }}\n  }}\n}}\n")


@pytest.fixture(scope="module")
def listing() -> Iterator[str]:
    reason = skip_reason() or charon_skip_reason()
    if reason:
        SUMMARY.append(f"strongSwan policy import test skipped: {reason}")
        pytest.skip(reason)
    text = conf()
    with CharonPair(text, text, plugins=PLUGINS_KERNEL_POLICIES) as pair:
        deadline = time.monotonic() + 10
        out = ""
        while time.monotonic() < deadline:
            out = run(["ip", "-n", pair.i.namespace, "-s", "xfrm", "policy"]).stdout
            if out.count("dir out") >= len(CHILDREN) - 1:  # transport-none installs nothing
                break
            time.sleep(0.2)
        yield out


def _key(p: Policy) -> tuple[object, ...]:
    intervals = tuple((v.lo, v.hi) for f in (p.source, p.destination) for v in f.values)
    return (intervals, p.protocol, str(p.source_port), str(p.destination_port))


def _verdict(host: Host, packet: Packet) -> str:
    policy = lookup(host, packet)
    return "PASS" if policy is None else policy.action.verdict


def test_priorities_are_the_ones_charon_installs(listing: str) -> None:
    configured = load_swanctl_text(conf(), "swanctl.conf")
    kernel = load_xfrm_text(listing, "ip-xfrm-policy")
    installed = {_key(p): p.priority for p in kernel.policies if not p.implicit}
    compared = 0
    for p in configured.policies:
        key = _key(p)
        if p.name == "peer.ports":  # iproute2 prints the masked port range as its first port
            key = (key[0], p.protocol, "1000", "any")
        assert installed.get(key) == p.priority, (p.describe(),
                                                  sorted(installed.items(), key=str))
        compared += 1
    SUMMARY.append(f"swanctl import vs charon's kernel policies: {compared} priorities equal")


def test_both_importers_give_the_same_verdicts(listing: str) -> None:
    configured = load_swanctl_text(conf(), "swanctl.conf")
    kernel = load_xfrm_text(listing, "ip-xfrm-policy")
    packets = []
    for family, addrs in ADDRESSES.items():
        for src, dst, proto, direction in product(addrs, addrs, ("tcp", "udp", "icmp"),
                                                  ("out", "in")):
            if proto == "icmp" and family == 6:
                proto = "icmpv6"
            ports = [(0, 0)] if proto.startswith("icmp") else list(product(PORTS, PORTS))
            packets += [make_packet(src, dst, proto, s, d, direction) for s, d in ports]
    wrong = [p for p in packets if _verdict(configured, p) != _verdict(kernel, p)]
    SUMMARY.append(f"swanctl import vs charon's kernel policies: {len(packets)} packets, "
                   f"{len(wrong)} different verdicts")
    assert not wrong, [(str(p), _verdict(configured, p), _verdict(kernel, p))
                       for p in wrong[:10]]
