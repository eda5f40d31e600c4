"""Marks and XFRM interfaces against the Linux kernel: policies bound to a mark or an ``if_id``
never apply to an unmarked packet that passes no XFRM interface (net/xfrm/xfrm_policy.c,
xfrm_policy_match), so the importer leaves them out (model/formats/xfrm_dump.py).

Each random policy set of test_kernel_lookup is loaded into namespace A together with a decoy
per kernel policy: the same selector and direction, priority 0 (searched first), ``action
block``, and ``mark 0x1 mask 0xff``, ``if_id 7`` or both. If the kernel applied a decoy, every
probe it matches would be blocked. The ``ip xfrm policy`` listing is imported and each probe's
model verdict compared with what the kernel does."""

from __future__ import annotations

import random
import re
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
from tests.system.conftest import SUMMARY
from tests.system.netns import HostPair, run, skip_reason
from tests.system.test_kernel_lookup import (
    MAX_COMMANDS,
    comparable,
    host_file,
    kernel_verdicts,
    model_verdicts,
    probes,
)

pytestmark = pytest.mark.system

EXAMPLES = 30
BINDINGS = ("mark 0x1 mask 0xff", "if_id 7", "mark 0x2 mask 0xffffffff if_id 0x9")
STATS: Counter[str] = Counter()


@pytest.fixture(scope="module")
def pair() -> Iterator[HostPair]:
    reason = skip_reason()
    if reason:
        SUMMARY.append(f"kernel mark test skipped: {reason}")
        pytest.skip(reason)
    start = time.monotonic()
    with HostPair() as hp:
        yield hp
    SUMMARY.append(f"kernel mark test: {STATS['sets']} policy sets with {STATS['decoys']} "
                   f"marked or if_id decoys, {STATS['probes']} probes, "
                   f"{STATS['disagreements']} disagreements; {time.monotonic() - start:.1f}s")


def decoy(command: str, n: int) -> str:
    """A block policy with the command's selector and direction, searched first, bound to a
    mark or an XFRM interface."""
    head = re.match(r"^(xfrm policy add .*? dir (?:in|out))\b", command)
    assert head is not None, command
    return f"{head.group(1)} priority 0 action block {BINDINGS[n % len(BINDINGS)]}"


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
@given(host=host_file(), seed=st.integers(0, 2**32 - 1))
def test_marked_decoys_change_no_verdict(pair: HostPair, tmp_path: Path, host: dict[str, Any],
                                         seed: int) -> None:
    policy_file = tmp_path / "host.yaml"
    policy_file.write_text(yaml.safe_dump(host, sort_keys=False))
    commands = to_xfrm_commands(load_host(str(policy_file)))
    assume(len(commands) <= MAX_COMMANDS // 2)
    decoys = [decoy(c, n) for n, c in enumerate(commands)]
    pair.load_policies([*commands, *decoys])
    listing = run(["ip", "-n", pair.a, "xfrm", "policy"]).stdout
    imported = load_xfrm_text(listing, "kernel")
    assert sum("left out" in note for note in imported.notes) == len(decoys)
    dump = tmp_path / "kernel.txt"
    dump.write_text(listing)
    batch = probes(random.Random(seed))
    model = model_verdicts(dump, batch, tmp_path)
    kernel = kernel_verdicts(pair, batch)
    STATS["sets"] += 1
    STATS["decoys"] += len(decoys)
    STATS["probes"] += len(batch)
    wrong = [(p, m, k) for p, m, k in zip(batch, model, kernel, strict=True)
             if comparable(m, p["direction"]) != k]
    STATS["disagreements"] += len(wrong)
    assert not wrong, ("kernel and model disagree:\n" + listing + "\n".join(
        f"{p}: model {m}, kernel {k}" for p, m, k in wrong))
