"""Seeded networks of sites for tests and benchmarks (``qmcheck check`` on N hosts).

Each site ``k`` (1..sites) has a gateway ``gw-k`` (address ``192.0.2.k``, protecting
``10.k.0.0/16``) with tunnel policies to the next and the previous gateway of a ring, a
server ``srv-k`` (``10.k.0.1``) and clients ``cl-k-j`` (``10.k.0.(j+1)``) that protect their
traffic to the server in transport mode; the server's policy names its clients as an address
range, which HP-UX replaces by the packet's address in message 1 (a /24 prefix would be sent
as a subnet ID that no client's policy contains: guide p.158). ``mismatch`` names sites whose
server proposes
another transform than its clients (a real failure for the checks to find). The result is
the YAML text of a scenario, loaded by the ordinary loader.
"""

from __future__ import annotations

ESP = "ESP_AES128_HMAC_SHA2_256"
OTHER = "ESP_AES256_HMAC_SHA1"


def network_yaml(sites: int, hosts_per_site: int, mismatch: tuple[int, ...] = (),
                 profiles: tuple[str, ...] = ("hpux",)) -> str:
    """A scenario of ``sites`` gateways and ``hosts_per_site`` hosts (one server) per site."""
    if not 1 <= sites <= 254 or not 1 <= hosts_per_site <= 250:
        raise ValueError("sites 1..254, hosts per site 1..250")
    lines = ["hosts:"]
    for k in range(1, sites + 1):
        lines += [f"  gw-{k}:", f"    address: [192.0.2.{k}]", f"    protects: [10.{k}.0.0/16]",
                  "    policies:"]
        peers = sorted({(k % sites) + 1, ((k - 2) % sites) + 1} - {k})
        for m in peers:
            lines += [f"      - {{name: to-{m}, source: 10.{k}.0.0/16, "
                      f"destination: 10.{m}.0.0/16, tunnel: 192.0.2.{m}, action: [{ESP}]}}"]
        lines += [f"      - {{name: lan, source: 10.{k}.0.0/16, destination: 10.0.0.0/8, "
                  "action: DISCARD}"]
        server_action = OTHER if k in mismatch else ESP
        lines += [f"  srv-{k}:", f"    address: 10.{k}.0.1", "    policies:",
                  f"      - {{name: clients, source: 10.{k}.0.1, "
                  f"destination: 10.{k}.0.2-10.{k}.0.{max(2, hosts_per_site)}, "
                  "protocol: tcp, source-port: 443, "
                  f"action: [{server_action}]}}"]
        for j in range(1, hosts_per_site):
            lines += [f"  cl-{k}-{j}:", f"    address: 10.{k}.0.{j + 1}", "    policies:",
                      f"      - {{name: server, source: 10.{k}.0.{j + 1}, "
                      f"destination: 10.{k}.0.1, protocol: tcp, destination-port: 443, "
                      f"action: [{ESP}]}}"]
    lines += ["protocol:", f"  profiles: [{', '.join(profiles)}]", "  loss: false"]
    return "\n".join(lines) + "\n"
