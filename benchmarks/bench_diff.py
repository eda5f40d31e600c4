"""Benchmark of ``qmcheck diff`` on one host: two versions of a seeded generated policy set
(``model/formats/generator.py``) where a few policies changed.

The edit: ``--changes`` policies get another action, one is renamed, one moves before an
overlapping neighbour, one is removed and one is added. For each size: the seconds of the
diff itself (index, dirty policies, z3 queries, sizes, witnesses), of the whole command
(loading both YAML files and writing the JSON report), the regions found, the dirty policies
and z3 queries; and, at ``--baseline-sizes``, the same diff without pruning by unchanged
policies (every policy dirty), with the ratio measured in this run.

    python benchmarks/bench_diff.py                     # 1,000 and 10,000 policies
    python benchmarks/bench_diff.py --sizes 10000 --baseline-sizes 500
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import random
import sys
import tempfile
import time
from pathlib import Path

from qmcheck.model.formats.generator import generate_host, host_yaml
from qmcheck.model.values.policy import Host, Policy
from qmcheck.model.values.transforms import DISCARD, PASS, parse_action
from qmcheck.properties.checks.deploy.diff import diff_hosts
from qmcheck.properties.cli.main import main

ESP = parse_action(["ESP_AES256_HMAC_SHA2_256"])


def edited(host: Host, changes: int, seed: int) -> Host:
    """A copy of ``host`` with a few edits (see the module text)."""
    rnd = random.Random(seed)
    policies: list[Policy] = [p for p in host.policies if not p.implicit]
    for k in rnd.sample(range(len(policies)), changes):
        p = policies[k]
        action = PASS if p.action != PASS else DISCARD
        policies[k] = dataclasses.replace(p, action=ESP if rnd.random() < 0.3 else action)
    k = rnd.randrange(len(policies))
    policies[k] = dataclasses.replace(policies[k], name=policies[k].name + "-renamed")
    k = rnd.randrange(1, len(policies))
    policies[k - 1], policies[k] = policies[k], policies[k - 1]  # a move
    del policies[rnd.randrange(len(policies))]
    extra = dataclasses.replace(policies[rnd.randrange(len(policies))], name="added",
                                action=DISCARD)
    policies.insert(rnd.randrange(len(policies)), extra)
    priority = 0
    out = []
    for index, p in enumerate(policies):
        priority += 10
        out.append(dataclasses.replace(p, priority=priority, index=index))
    out += [dataclasses.replace(p, index=len(out)) for p in host.policies if p.implicit]
    return Host(host.name, tuple(out), default_action=host.default_action)


def measure(size: int, changes: int, seed: int, baseline: bool) -> None:
    old = generate_host(size, seed)
    old = Host(old.name, tuple(dataclasses.replace(p, priority=10 * (k + 1))
                               if not p.implicit else p
                               for k, p in enumerate(old.ordered())),
               default_action=old.default_action)
    new = edited(old, changes, seed + 1)
    start = time.perf_counter()
    d = diff_hosts(old, new)
    seconds = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        a, b = Path(tmp, "old.yaml"), Path(tmp, "new.yaml")
        a.write_text(host_yaml(old))
        b.write_text(host_yaml(new))
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            code = main(["diff", str(a), str(b), "--format", "json"])
        command = time.perf_counter() - start
    print(f"{size:>7,} policies, {changes} changed actions + rename, move, removal, addition:"
          f" diff {seconds:6.2f} s, whole command {command:6.2f} s (exit {code}); "
          f"{len(d.regions)} regions, {d.dirty} dirty policies, {d.queries} z3 queries")
    if baseline:
        start = time.perf_counter()
        full = diff_hosts(old, new, all_dirty=True)
        plain = time.perf_counter() - start
        same = {(id(r.old), id(r.new)) for r in full.regions} == {
            (id(r.old), id(r.new)) for r in d.regions}
        print(f"{'':>7}  without pruning by unchanged policies: {plain:6.2f} s, "
              f"{full.queries} z3 queries; ratio {plain / seconds:5.1f}x; same regions: {same}")


def run(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--baseline-sizes", default="1000")
    parser.add_argument("--changes", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    base = {int(x) for x in args.baseline_sizes.split(",") if x}
    for size in [int(x) for x in args.sizes.split(",")]:
        measure(size, args.changes, args.seed, size in base)


if __name__ == "__main__":
    run(sys.argv[1:])
