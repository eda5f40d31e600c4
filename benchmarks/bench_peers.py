"""Benchmark of ``qmcheck peers``: two generated hosts of N policies each, both directions.

    /work/venv/bin/python -m benchmarks.bench_peers [N ...] [--profile P] [--repeat R] [--jobs J]

Prints, per size, the median seconds over R runs (encoding + solving, both directions, all
three properties), the number of regions and solver queries, the refutations found (each
confirmed by the concrete semantics), and the ratio to the 30-second target.
"""

from __future__ import annotations

import argparse
import statistics
import time

from benchmarks.peer_pairs import generate_pair
from qmcheck.properties.checks.peers import run_directions

TARGET_SECONDS = 30.0


def measure(count: int, profile: str, seed: int, jobs: int
            ) -> tuple[float, list[float], int, int, int]:
    """(total seconds, per-direction seconds, regions, queries, refutations)."""
    a, b = generate_pair(count, seed)
    started = time.perf_counter()
    per, regions, queries, refuted = [], 0, 0, 0
    for rep in run_directions([(a, b, profile), (b, a, profile)], jobs=jobs):
        per.append(rep.seconds)
        regions += rep.regions
        queries += rep.queries
        refuted += sum(1 for f in rep.findings if f.verdict == "refuted")
        assert all(f.verdict == "refuted" for f in rep.findings), "unconfirmed or unknown"
    return time.perf_counter() - started, per, regions, queries, refuted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[1000, 3000, 10000])
    parser.add_argument("--profile", default="hpux")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (directions)")
    args = parser.parse_args()
    print(f"peers benchmark, profile {args.profile}, seed {args.seed}, jobs {args.jobs}, "
          f"median of {args.repeat} run(s)")
    print(f"{'policies':>9} {'seconds':>9} {'A->B':>8} {'B->A':>8} {'regions':>8} "
          f"{'queries':>8} {'refuted':>8} {'vs 30 s':>8}")
    for n in args.sizes:
        runs = [measure(n, args.profile, args.seed, args.jobs) for _ in range(args.repeat)]
        total = statistics.median(r[0] for r in runs)
        a_b = statistics.median(r[1][0] for r in runs)
        b_a = statistics.median(r[1][1] for r in runs)
        _, _, regions, queries, refuted = runs[0]
        print(f"{n:>9} {total:>9.2f} {a_b:>8.2f} {b_a:>8.2f} {regions:>8} {queries:>8} "
              f"{refuted:>8} {total / TARGET_SECONDS:>7.2f}x", flush=True)


if __name__ == "__main__":
    main()
