"""Benchmark of ``qmcheck peers``: two generated hosts of N policies each, both directions.

    python -m benchmarks.bench_peers [N ...] [--workload W,...] [--profile P] [--repeat R]
                                     [--jobs J]

Two workloads (``benchmarks/peer_pairs.py``): ``mirrored``, host B the mirror image of host A
with a few disagreements (the usual two ends of a crypto ACL), and ``independent``, A and B
generated independently from the same address pools, so that their regions overlap heavily
and most IPsec policies have refutations. Prints, per workload and size, the median seconds
over R runs (encoding + solving, both directions, all three properties; ``--jobs 2`` runs the
two directions in two processes), the CPU seconds of this process and its workers, the
number of regions, solver checks and refutations (each confirmed by the concrete semantics),
the growth exponent from the previous size (t ~ n^e), the ratio to the 30-second target, the
peak resident memory so far (this process or a worker; it never decreases) and the load
average when the size finished (the machine is shared: compare CPU seconds across runs).
Up to ``--baseline-max`` policies, the same run also measures the simple path (every item to
z3, witnesses replayed on the whole hosts: ``peers.INDEXED_REPLAY`` out of reach) and prints
the ratio of its seconds to the fast path's.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import statistics
import time

from benchmarks.peer_pairs import generate_independent_pair, generate_pair
from qmcheck.properties.checks import peers
from qmcheck.properties.checks.peers import run_directions

TARGET_SECONDS = 30.0
WORKLOADS = {"mirrored": generate_pair, "independent": generate_independent_pair}


def measure(workload: str, count: int, profile: str, seed: int, jobs: int
            ) -> tuple[float, float, list[float], int, int, int]:
    """(wall seconds, CPU seconds, per-direction seconds, regions, checks, refutations)."""
    a, b = WORKLOADS[workload](count, seed)
    cpu0 = sum(os.times()[:4])
    started = time.perf_counter()
    per, regions, queries, refuted = [], 0, 0, 0
    for rep in run_directions([(a, b, profile), (b, a, profile)], jobs=jobs):
        per.append(rep.seconds)
        regions += rep.regions
        queries += rep.queries
        refuted += sum(1 for f in rep.findings if f.verdict == "refuted")
        assert all(f.verdict == "refuted" for f in rep.findings), "unconfirmed or unknown"
    wall = time.perf_counter() - started
    return wall, sum(os.times()[:4]) - cpu0, per, regions, queries, refuted


def peak_mb() -> int:
    """The largest resident set so far of this process or of one of its workers (MB)."""
    return max(resource.getrusage(who).ru_maxrss
               for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) // 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[1000, 2000, 4000, 10000])
    parser.add_argument("--workload", default="mirrored,independent",
                        help="comma-separated: " + ", ".join(WORKLOADS))
    parser.add_argument("--profile", default="hpux")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (directions)")
    parser.add_argument("--baseline-max", type=int, default=2000,
                        help="measure the simple path side by side up to this size")
    args = parser.parse_args()
    print(f"peers benchmark, profile {args.profile}, seed {args.seed}, jobs {args.jobs}, "
          f"median of {args.repeat} run(s), {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f}")
    for workload in args.workload.split(","):
        print(f"\n{workload} pairs")
        print(f"{'policies':>9} {'seconds':>9} {'cpu s':>8} {'A->B':>8} {'B->A':>8} "
              f"{'regions':>8} {'checks':>7} {'refuted':>8} {'growth':>7} {'vs 30 s':>8} "
              f"{'peak MB':>8} {'load':>5}")
        previous: tuple[int, float] | None = None
        for n in args.sizes:
            runs = [measure(workload, n, args.profile, args.seed, args.jobs)
                    for _ in range(args.repeat)]
            total = statistics.median(r[0] for r in runs)
            cpu = statistics.median(r[1] for r in runs)
            a_b = statistics.median(r[2][0] for r in runs)
            b_a = statistics.median(r[2][1] for r in runs)
            _, _, _, regions, queries, refuted = runs[0]
            growth = (f"{math.log(total / previous[1]) / math.log(n / previous[0]):>7.2f}"
                      if previous else f"{'-':>7}")
            previous = (n, total)
            print(f"{n:>9} {total:>9.2f} {cpu:>8.2f} {a_b:>8.2f} {b_a:>8.2f} {regions:>8} "
                  f"{queries:>7} {refuted:>8} {growth} {total / TARGET_SECONDS:>7.2f}x "
                  f"{peak_mb():>8} {os.getloadavg()[0]:>5.1f}", flush=True)
            if n <= args.baseline_max:
                fast_limit = peers.INDEXED_REPLAY
                peers.INDEXED_REPLAY = 1 << 62
                try:
                    simple = [measure(workload, n, args.profile, args.seed, args.jobs)
                              for _ in range(args.repeat)]
                finally:
                    peers.INDEXED_REPLAY = fast_limit
                s_total = statistics.median(r[0] for r in simple)
                s_cpu = statistics.median(r[1] for r in simple)
                print(f"{'simple':>9} {s_total:>9.2f} {s_cpu:>8.2f}   (simple path; fast path "
                      f"{s_total / total:.1f}x faster, {s_cpu / cpu:.1f}x less CPU; "
                      f"refuted {simple[0][5]})", flush=True)


if __name__ == "__main__":
    main()
