"""Benchmark: the generic explicit engine, the legacy engine and SPIN on the same Quick Mode model.

Configuration (the issue's): hpux profile, lossy and reordering channels, at most 2
retransmissions, 1 to 3 negotiations, explored WITHOUT reductions by all three (raw speed):

- generic: properties/engines/bfs.py on the model as a generic transition system (packed-int
  states in a Python set; ``compressed`` rows force the numpy visited set by a small budget);
- legacy: properties/engines/explicit.py (tuples of tuples), ``por=False, symmetry=False``;
- SPIN 6.5: ``benchmarks/qm.pml`` end to end (spin -a, gcc -O2, pan) when spin and gcc exist.

Every run is a separate process; states/s is states over the exploration's own seconds (pan's
"elapsed time"), bytes/state is peak RSS over states (whole process, interpreter included).
Also printed: the generic engine with its reductions (symmetry, full). Ratios are computed
from the figures of this one run.

    python benchmarks/bench_protocol.py [--max-n 3] [--legacy-max-n 2] [--reduced-max-n 3]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

CHILD = r"""
import json, resource, sys, time
from qmcheck.model.quickmode.compiled import QMModel
from qmcheck.model.quickmode.options import QMOptions
n, engine, mode, budget = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
opts = QMOptions(profile="hpux", loss=True, reorder=True, retransmits=2, negotiations=n)
if engine == "legacy":
    from qmcheck.properties.engines.explicit import ExplicitEngine
    ex = ExplicitEngine(QMModel(opts), por=False, symmetry=False).explore()
    out = {"states": ex.states, "transitions": ex.transitions, "explore": ex.seconds,
           "complete": ex.complete, "stored_bytes": None, "verdicts": {}}
else:
    from qmcheck.properties.engines.bfs import Engine
    from qmcheck.properties.engines.quickmode_system import QuickModeSystem
    qs = QuickModeSystem(QMModel(opts))
    r = Engine(qs.system, reduction=mode, max_memory=int(budget) or None).run()
    out = {"states": r.states, "transitions": r.transitions, "explore": r.explore_seconds,
           "complete": r.complete, "stored_bytes": r.bytes_per_state,
           "packed": r.packed_bytes, "compressed": r.compressed,
           "verdicts": {k: f.verdict for k, f in r.findings.items()}}
out["rss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps(out))
"""


def run_measured(cmd: list[str], cwd: str | None = None) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (KiB) and stdout of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(f"{cmd[0]} failed with exit code {code}")
    return time.perf_counter() - start, usage.ru_maxrss, out


def ours(n: int, engine: str, mode: str = "none", budget: int = 0) -> dict[str, object]:
    wall, rss, out = run_measured([sys.executable, "-c", CHILD, str(n), engine, mode,
                                   str(budget)])
    data = json.loads(out)
    data["rss_kb"] = max(rss, int(data["rss_kb"]))
    data["wall"] = wall
    return data


def spin(n: int) -> dict[str, object] | None:
    """SPIN end to end (spin -a, gcc, pan) on qm.pml with N negotiations."""
    if not (shutil.which("spin") and shutil.which("gcc")):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(HERE / "qm.pml", tmp)
        t1, _, _ = run_measured(["spin", "-a", f"-DN={n}", "qm.pml"], cwd=tmp)
        t2, _, _ = run_measured(["gcc", "-O2", "-w", "-DMEMLIM=16384", "-o", "pan", "pan.c"],
                                cwd=tmp)
        t3, rss, out = run_measured(["./pan", "-m1000000"], cwd=tmp)
    states = re.search(r"(\d+) states, stored", out)
    trans = re.search(r"(\d+) transitions", out)
    elapsed = re.search(r"pan: elapsed time ([\d.e+]+) seconds", out)
    return {"states": int(states.group(1)) if states else -1,
            "transitions": int(trans.group(1)) if trans else -1,
            "explore": float(elapsed.group(1)) if elapsed else t3,
            "wall": t1 + t2 + t3, "rss_kb": rss}


def line(name: str, n: int, d: dict[str, object]) -> str:
    states = int(d["states"])  # type: ignore[arg-type]
    explore = float(d["explore"])  # type: ignore[arg-type]
    rate = states / explore if explore > 0 else 0.0
    rss = int(d["rss_kb"]) * 1024  # type: ignore[arg-type]
    stored = d.get("stored_bytes")
    stored_txt = f"{float(stored):>8.0f}" if stored is not None else f"{'-':>8}"  # type: ignore[arg-type]
    return (f"{name:34} {n:>2} {states:>12,} {explore:>8.2f} {rate:>10,.0f} "
            f"{rss / max(1, states):>9.0f} {stored_txt} {rss / 2**20:>8.0f}")


def rate(d: dict[str, object]) -> float:
    return int(d["states"]) / max(1e-9, float(d["explore"]))  # type: ignore[arg-type]


def per_state(d: dict[str, object]) -> float:
    return int(d["rss_kb"]) * 1024 / max(1, int(d["states"]))  # type: ignore[arg-type]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--max-n", type=int, default=3, help="negotiations, 1..N (default 3)")
    ap.add_argument("--legacy-max-n", type=int, default=2,
                    help="legacy engine up to this N (N=3 takes minutes and ~3 GB)")
    ap.add_argument("--reduced-max-n", type=int, default=3,
                    help="generic engine with symmetry / full reduction up to this N")
    args = ap.parse_args()
    print("Quick Mode, hpux profile, loss + reorder, 2 retransmissions; no reduction unless said")
    print(f"{'engine':34} {'N':>2} {'states':>12} {'seconds':>8} {'states/s':>10} "
          f"{'RSS B/st':>9} {'set B/st':>8} {'peak MB':>8}")
    rows: dict[tuple[str, int], dict[str, object]] = {}
    for n in range(1, args.max_n + 1):
        rows[("generic", n)] = d = ours(n, "generic")
        print(line("generic (packed ints, Python set)", n, d), flush=True)
        if n <= 2:
            rows[("compressed", n)] = d = ours(n, "generic", "none", 3 * 2**20)
            print(line("generic (numpy visited set)", n, d), flush=True)
        if n <= args.legacy_max_n:
            rows[("legacy", n)] = d = ours(n, "legacy")
            print(line("legacy (tuples of tuples)", n, d), flush=True)
        s = spin(n)
        if s is not None:
            rows[("spin", n)] = s
            print(line("SPIN 6.5 (pan, no reduction)", n, s), flush=True)
    for n in range(1, args.reduced_max_n + 1):
        for mode in ("symmetry", "full"):
            d = ours(n, "generic", mode)
            print(line(f"generic, reduction {mode}", n, d), flush=True)
    print()
    print("set B/st: bytes per state of the visited set and BFS layers as held at the end "
          "(estimate); RSS B/st: peak RSS / states.")
    for n in range(1, args.max_n + 1):
        g = rows[("generic", n)]
        parts = []
        if ("spin", n) in rows:
            sp = rows[("spin", n)]
            parts.append(f"generic/SPIN states/s = {rate(g) / rate(sp):.2f}x, "
                         f"RSS bytes/state SPIN/generic = {per_state(sp) / per_state(g):.2f}x")
        if ("legacy", n) in rows:
            lg = rows[("legacy", n)]
            parts.append(f"generic/legacy states/s = {rate(g) / rate(lg):.2f}x, "
                         f"RSS bytes/state legacy/generic = {per_state(lg) / per_state(g):.2f}x")
        if ("compressed", n) in rows:
            c = rows[("compressed", n)]
            parts.append(f"set bytes/state Python set/numpy = "
                         f"{float(g['stored_bytes']) / float(c['stored_bytes']):.1f}x")  # type: ignore[arg-type]
        print(f"N={n}: " + "; ".join(parts))


if __name__ == "__main__":
    main()
