"""Benchmark of ``qmcheck conflicts`` (all ``policy.*`` properties of one host).

Seeded generated policy sets (``model/formats/generator.py``) of 100 .. 100,000 policies, from
one or both generator profiles: ``gateway`` (``generate_host``: prefixes, ranges, ports,
protocols, mixed actions, duplicates, exceptions, a few broad rules, 5% IPv6; ``--broad-share``
sets the share of broad rules) and ``dense`` (``generate_dense_host``: independent random
prefixes /12 to /32 and 10% ranges in 10.0.0.0/8, port ranges, four actions). For each
size: seconds per phase (and the properties each phase decides), seconds per property run
alone (sizes up to ``--alone-max``), the total, the number of findings and of z3 checks, the
growth exponent between sizes; medians over 5 runs up to 1,000 policies, 3 up to 10,000.
The same run measures the plain approach (one fresh z3 query per policy over all earlier
policies that overlap it: the shadowing check alone) at ``--plain-sizes``, extrapolates it to
10,000 and 100,000 policies with a power law through the measured points (or measures it,
if asked), and prints the ratio.

    python benchmarks/bench_conflicts.py                       # 100 .. 100,000
    python benchmarks/bench_conflicts.py --sizes 100,1000 --plain-sizes 500,1000
    python benchmarks/bench_conflicts.py --generator gateway,dense --broad-share 0.002 \
        --sizes 10000,100000 --plain-sizes "" --alone-max 0

Peak memory is the process's maximum resident set so far (it never decreases), printed after
each size.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import resource
import statistics
import sys
import time
from collections import Counter

import z3

from qmcheck.model.formats.generator import generate_dense_host, generate_host
from qmcheck.model.values.policy import Host
from qmcheck.properties.checks.policy import POLICY_PROPERTIES, analyse
from qmcheck.properties.checks.policy_plain import never_first

PHASES = {
    "index": "all",
    "first match": "shadowed, redundant, correlated, generalization",
    "cover sets": "shadowed, redundant (and which policies apply at all)",
    "redundancy": "redundant",
    "shadowing": "shadowed",
    "classify": "shadowed, redundant",
    "pairs": "correlated, generalization",
    "determinism": "determinism",
    "uncovered": "uncovered",
}


def generate(generator: str, size: int, seed: int, broad_share: float) -> Host:
    """A host of the named generator profile."""
    if generator == "dense":
        return generate_dense_host(size, seed)
    return generate_host(size, seed, broad_share=broad_share)


def plain_shadowing(host: Host) -> tuple[float, int]:
    """The plain approach (``properties/checks/policy_plain.py``): seconds, policies never first."""
    start = time.perf_counter()
    dead = never_first(host)
    return time.perf_counter() - start, len(dead)


def measure(size: int, seed: int, repeat: int, alone: bool, broad_share: float,
            generator: str = "gateway") -> dict[str, object]:
    host = generate(generator, size, seed, broad_share)
    totals, phase_runs, checks = [], [], 0
    findings: Counter[str] = Counter()
    cpus = []
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        analysis = analyse(host)
        totals.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
        phase_runs.append(analysis.seconds)
        checks = analysis.checks
        findings = Counter(f.property for f in analysis.findings if f.verdict == "refuted")
        unknown = sum(f.verdict == "unknown" for f in analysis.findings)
    phases = {k: statistics.median(run.get(k, 0.0) for run in phase_runs) for k in PHASES}
    per_property: dict[str, float] = {}
    if alone:
        for prop in POLICY_PROPERTIES:
            runs = []
            for _ in range(repeat):
                start = time.perf_counter()
                analyse(host, properties=(prop,))
                runs.append(time.perf_counter() - start)
            per_property[prop] = statistics.median(runs)
    return {"size": size, "generator": generator, "total": statistics.median(totals),
            "cpu": statistics.median(cpus),
            "phases": phases,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
            "alone": per_property, "findings": dict(sorted(findings.items())),
            "unknown": unknown, "checks": checks, "repeat": repeat}


def cpu_growth(a: dict[str, object], b: dict[str, object]) -> float:
    """The exponent e of CPU seconds ~ n^e between two rows (the machine is shared: CPU
    seconds vary less with the load than wall seconds)."""
    return (math.log(float(b["cpu"]) / float(a["cpu"]))  # type: ignore[arg-type]
            / math.log(int(b["size"]) / int(a["size"])))  # type: ignore[call-overload]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100,1000,2000,10000,100000")
    parser.add_argument("--plain-sizes", default="1000,2000")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--generator", default="gateway",
                        help="comma-separated generator profiles: gateway, dense")
    parser.add_argument("--broad-share", type=float, default=0.00005,
                        help="share of broad rules in the generated sets (denser overlap: "
                             "0.002)")
    parser.add_argument("--alone-max", type=int, default=10000,
                        help="run each property alone up to this size")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    plain_sizes = [int(s) for s in args.plain_sizes.split(",") if s]
    print(f"z3 {z3.get_version_string()}, python {sys.version.split()[0]}, seed {args.seed}, "
          f"broad share {args.broad_share}, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f}")
    all_rows: list[dict[str, object]] = []
    ratios: dict[str, dict[int, float]] = {}
    plain_all: dict[str, dict[int, float]] = {}
    for generator in args.generator.split(","):
        print(f"\n##### generator profile {generator}")
        plain = {}
        for size in plain_sizes:
            seconds, never = plain_shadowing(generate(generator, size, args.seed,
                                                      args.broad_share))
            plain[size] = seconds
            print(f"plain approach (shadowing only), {size} policies: {seconds:.2f} s, "
                  f"{never} never first", flush=True)
        rows = []
        for size in sizes:
            repeat = 5 if size <= 1000 else 3 if size <= 10000 else 1
            row = measure(size, args.seed, repeat, size <= args.alone_max, args.broad_share,
                          generator)
            rows.append(row)
            print(f"\n== {generator}, {size} policies: {row['total']:.2f} s total (median of "
                  f"{repeat}; CPU {row['cpu']:.2f} s), {row['checks']} z3 checks, unknown "
                  f"{row['unknown']}, peak memory {row['peak_mb']} MB, load average "
                  f"{os.getloadavg()[0]:.1f}", flush=True)
            print("   findings: " + ", ".join(f"{k.split('.')[1]} {v}" for k, v in
                                              row["findings"].items()))  # type: ignore[union-attr]
            for phase, seconds in row["phases"].items():  # type: ignore[union-attr]
                print(f"   phase {phase:12} {seconds:8.2f} s   ({PHASES[phase]})")
            for prop, seconds in row["alone"].items():  # type: ignore[union-attr]
                print(f"   alone {prop:24} {seconds:8.2f} s")
        if len(rows) >= 2:
            print("   growth: " + ", ".join(
                f"{a['size']}->{b['size']}: n^{math.log(float(b['total']) / float(a['total'])) / math.log(int(b['size']) / int(a['size'])):.2f}"  # type: ignore[call-overload]  # noqa: E501
                for a, b in itertools.pairwise(rows)))
            print("   growth in CPU seconds: " + ", ".join(
                f"{a['size']}->{b['size']}: n^{cpu_growth(a, b):.2f}"
                for a, b in itertools.pairwise(rows)))
        all_rows.extend(rows)
        plain_all[generator] = plain
        ours = {int(r["size"]): float(r["total"]) for r in rows}  # type: ignore[call-overload]
        ratios[generator] = {}
        if len(plain) >= 2:
            (n1, t1), (n2, t2) = sorted(plain.items())[-2:]
            exponent = math.log(t2 / t1) / math.log(n2 / n1)
            print(f"\nplain approach fit: t = {t2:.2f} s * (n / {n2}) ** {exponent:.2f}")
            for size in sorted(ours):
                estimate = plain.get(size, t2 * (size / n2) ** exponent)
                kind = "measured" if size in plain else "extrapolated"
                ratios[generator][size] = estimate / ours[size]
                print(f"   {size:>6} policies: plain {estimate:9.1f} s ({kind}), all "
                      f"properties {ours[size]:7.2f} s, ratio "
                      f"{ratios[generator][size]:7.1f}x")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"rows": all_rows, "plain": plain_all, "ratios": ratios}, out, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
