"""The dense generator profile (``generate_dense_host``): seeded, as specified, and the z3
checks agree with brute force and replay on small dense hosts."""

from __future__ import annotations

from collections import Counter

import pytest

from qmcheck.model.formats.generator import DENSE_ACTIONS, generate_dense_host
from tests.test_policy_checks import compare


def test_dense_hosts_are_seeded() -> None:
    assert generate_dense_host(200, 3) == generate_dense_host(200, 3)
    assert generate_dense_host(200, 3) != generate_dense_host(200, 4)


def test_dense_profile_is_as_specified() -> None:
    host = generate_dense_host(3000, 1)
    policies = [p for p in host.policies if not p.implicit]
    assert len(policies) == 3000 and host.policies[-1].implicit
    values = [v for p in policies for v in (*p.source.values, *p.destination.values)]
    kinds = Counter(v.kind for v in values)
    assert 0.07 < kinds["range"] / len(values) < 0.13
    lengths = {v.prefix_len for v in values if v.kind in ("prefix", "single")}
    assert min(lengths) == 12 and max(lengths) == 32
    assert {p.action for p in policies} == set(DENSE_ACTIONS) and len(DENSE_ACTIONS) == 4
    assert any(not p.destination_port.is_any and not p.destination_port.is_single
               for p in policies)
    assert all(p.family == 4 for p in policies)


@pytest.mark.parametrize("seed", range(6))
def test_small_dense_hosts_agree_with_brute_force(seed: int) -> None:
    """In a pool of 2 ** 21 addresses, 9 policies overlap (the comparison is not vacuous)."""
    analysis = compare(generate_dense_host(9, seed, pool_bits=21))
    assert analysis.findings or seed != 0
