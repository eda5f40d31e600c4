"""Seeded generator of host pairs for the peers benchmark and scale tests.

Host A comes from ``qmcheck.model.formats.generator`` (the shared generator of large policy sets).
Host B is its mirror image (source and destination swapped, ports too), the usual way the
two ends of a crypto ACL are written, with a small share of the disagreements that break
real deployments: a policy missing on B, another action, another transform list.
"""

from __future__ import annotations

import random

from qmcheck.model.formats.generator import ACTIONS, generate_host
from qmcheck.model.values.policy import Host, Policy, default_policy


def mirror(policy: Policy, name: str) -> Policy:
    """The peer's policy for the same traffic: sides and ports swapped."""
    return Policy(name, policy.priority, policy.destination, policy.source, policy.action,
                  policy.family, policy.protocol, policy.destination_port,
                  policy.source_port, index=policy.index)


def generate_pair(count: int, seed: int = 0, *, mutate: float = 0.002) -> tuple[Host, Host]:
    """Hosts A and B with ``count`` policies each (plus their default policies); a share
    ``mutate`` of B's policies is dropped or changed."""
    a = generate_host(count, seed)
    rng = random.Random(seed + 1)
    policies: list[Policy] = []
    for p in a.policies:
        if p.implicit:
            continue
        q = mirror(p, p.name)
        roll = rng.random()
        if roll < mutate / 2:
            continue
        if roll < mutate:
            q = Policy(q.name, q.priority, q.source, q.destination,
                       rng.choice([x for x in ACTIONS if x != q.action]), q.family,
                       q.protocol, q.source_port, q.destination_port, index=q.index)
        policies.append(Policy(q.name, q.priority, q.source, q.destination, q.action,
                               q.family, q.protocol, q.source_port, q.destination_port,
                               index=len(policies)))
    policies.append(default_policy(len(policies)))
    b = Host(f"mirror-{count}-{seed}", tuple(policies))
    return Host(f"generated-{count}-{seed}", a.policies), b


def generate_independent_pair(count: int, seed: int = 0) -> tuple[Host, Host]:
    """Hosts A and B with ``count`` policies each, generated independently from the same
    address pools (B is the mirror of another seeded host): unlike ``generate_pair``, B's
    policies do not follow A's, so the regions of the two hosts overlap heavily."""
    a = generate_host(count, seed)
    other = generate_host(count, seed + 7919)
    policies: list[Policy] = [mirror(p, p.name) for p in other.policies if not p.implicit]
    policies.append(default_policy(len(policies)))
    b = Host(f"independent-{count}-{seed + 7919}", tuple(policies))
    return Host(f"generated-{count}-{seed}", a.policies), b
