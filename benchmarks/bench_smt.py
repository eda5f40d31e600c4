"""Benchmark: k-induction proofs of the qm.* safety properties, and the explicit engine on the
same configurations, measured in one run (medians of --repeat runs; the machine is noisy).

For each profile and fault setting of the results matrix (one negotiation, R=2):
- ``prove``: the SMT engine proves every safety property that holds there (Houdini search for
  the auxiliary invariants, base case, inductive step); which properties hold is decided by a
  full SMT run first (BMC + k-induction), timed as ``decide``;
- ``explicit``: the explicit engine decides every property (``check_protocol``).
The target: all proofs for every profile in under 10 s in total.

    python benchmarks/bench_smt.py [--repeat 3] [--settings reliable,loss] [--profiles hpux]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from qmcheck.model.encodings.z3_quickmode import SAFETY_IDS
from qmcheck.model.quickmode.compiled import QMModel
from qmcheck.model.quickmode.options import PROFILES, QMOptions
from qmcheck.properties.checks.protocol import check_protocol
from qmcheck.properties.checks.protocol_matrix import DEFAULTS, SETTINGS
from qmcheck.properties.checks.protocol_smt import smt_check
from qmcheck.properties.engines.smt import SmtEngine

TARGET_SECONDS = 10.0


def median_seconds(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times: list[float] = []
    value: Any = None
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--settings", default=",".join(n for n, _ in SETTINGS))
    parser.add_argument("--profiles", default=",".join(PROFILES))
    args = parser.parse_args()
    settings = [(n, c) for n, c in SETTINGS if n in args.settings.split(",")]
    profiles = args.profiles.split(",")
    rows: list[tuple[str, str, int, int, float, float, float]] = []
    print(f"{'setting':24} {'profile':11} {'proved':>6} {'max k':>5} {'prove s':>8} "
          f"{'decide s':>8} {'explicit s':>10}")
    for name, changes in settings:
        for profile in profiles:
            opts = QMOptions(profile=profile,
                             **{k: changes.get(k, v) for k, v in DEFAULTS.items()})
            decide_s, check = median_seconds(lambda o=opts: smt_check(o), 1)
            holding = [r.property for r in check.results
                       if r.property in SAFETY_IDS and r.verdict == "holds"]
            prove_s, run = median_seconds(
                lambda o=opts, h=holding: SmtEngine(QMModel(o)).run(h), args.repeat)
            ks = [run.outcomes[p].depth for p in holding if run.outcomes[p].status == "proved"]
            if len(ks) != len(holding):
                raise SystemExit(f"{profile} {name}: not every holding property was proved")
            explicit_s, _ = median_seconds(lambda o=opts: check_protocol(o), args.repeat)
            rows.append((name, profile, len(ks), max(ks, default=0), prove_s, decide_s,
                         explicit_s))
            print(f"{name:24} {profile:11} {len(ks):6} {max(ks, default=0):5} {prove_s:8.3f} "
                  f"{decide_s:8.3f} {explicit_s:10.3f}", flush=True)
    prove = sum(r[4] for r in rows)
    decide = sum(r[5] for r in rows)
    explicit = sum(r[6] for r in rows)
    proofs = sum(r[2] for r in rows)
    print()
    print(f"configurations: {len(rows)}; safety proofs by k-induction: {proofs} "
          f"(max k = {max((r[3] for r in rows), default=0)})")
    default = sum(r[4] for r in rows if r[0] == "reliable")
    if any(r[0] == "reliable" for r in rows):
        print(f"proofs, default setting (reliable), every profile: {default:.2f} s")
    print(f"proofs, every setting and profile: {prove:.2f} s "
          f"(target < {TARGET_SECONDS:.0f} s: {'met' if prove < TARGET_SECONDS else 'MISSED'})")
    print(f"SMT decide (BMC + k-induction, every property): {decide:.2f} s")
    print(f"explicit engine, same configurations: {explicit:.2f} s")
    print(f"ratio proofs / explicit: {prove / explicit:.1f}x; "
          f"decide / explicit: {decide / explicit:.1f}x")


if __name__ == "__main__":
    main()
