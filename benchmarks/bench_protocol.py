"""Benchmark: qmcheck's explicit engine against SPIN 6.5 on the same Quick Mode configuration.

Configuration (the issue's): hpux profile, lossy and reordering channels, at most 2
retransmissions of messages 1 and 2, message 3 resent only on a duplicate message 2, a side gives
up after its retransmissions; 1 to 4 negotiations. SPIN runs ``benchmarks/qm.pml`` end to end
(spin -a, gcc, pan) when ``spin`` and ``gcc`` are on the PATH; otherwise the issue's reference
figures are printed. Every run is a separate process, so peak RSS is per run.

Quick Mode model v2 (issue 11): qmcheck now explores the daemon + kernel model (one operation
per step, ESP on its own path, shared SPI allocators; patient timers here, so that N >= 2
stays within reach of full interleaving: partial-order reduction is off for a model with shared
state until the generic engine lands). ``benchmarks/qm.pml`` still encodes the v1 semantics
(atomic receive-and-install, one FIFO for data and IKE): the SPIN column is NOT the same model
and the printed ratio is only indicative until qm.pml is rewritten (issue 11 item 11, open).

    python benchmarks/bench_protocol.py [--max-n 4] [--spin-max-n 3] [--unreduced-max-n 2]
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
REFERENCE = {  # the SPIN 6.5 figures on a machine like this one
    1: "2.4 s", 2: "-", 3: "4.2 s, 1.7 million states",
    4: "92 million states stored in 250 s, stopped at the 16 GB memory limit",
}

CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from qmcheck.model.quickmode.options import QMOptions
from qmcheck.properties.checks.protocol import check_protocol
from qmcheck.model.quickmode.compiled import QMModel
from qmcheck.properties.engines.explicit import ExplicitEngine
n, mode = int(sys.argv[1]), sys.argv[2]
opts = QMOptions(profile="hpux", loss=True, reorder=True, retransmits=2, negotiations=n,
                 timers="patient")
if mode == "reduced":
    run = check_protocol(opts)
    ex = run.exploration
    verdicts = {r.property: r.verdict for r in run.results}
else:
    eng = ExplicitEngine(QMModel(opts), por=False, symmetry=(mode == "symmetry"))
    ex = eng.explore()
    verdicts = {}
wall = time.perf_counter() - t0
print(json.dumps({"states": ex.states, "transitions": ex.transitions, "explore": ex.seconds,
                  "wall": wall, "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "complete": ex.complete, "verdicts": verdicts}))
"""


def run_measured(cmd: list[str], cwd: str | None = None) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (KiB) and stdout of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed with exit code {proc.returncode}")
    return time.perf_counter() - start, usage.ru_maxrss, out


def ours(n: int, mode: str) -> dict[str, float]:
    wall, rss, out = run_measured([sys.executable, "-c", CHILD, str(n), mode])
    data = json.loads(out)
    data["rss_kb"] = max(rss, data["rss_kb"])
    data["wall"] = wall  # end to end, interpreter start-up and imports included
    return data


def spin(n: int) -> dict[str, float] | None:
    """SPIN end to end (spin -a, gcc, pan) on qm.pml with N negotiations."""
    if not (shutil.which("spin") and shutil.which("gcc")):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(HERE / "qm.pml", tmp)
        t1, r1, _ = run_measured(["spin", "-a", f"-DN={n}", "qm.pml"], cwd=tmp)
        t2, r2, _ = run_measured(["gcc", "-O2", "-w", "-DMEMLIM=16384", "-o", "pan", "pan.c"],
                                 cwd=tmp)
        t3, r3, out = run_measured(["./pan", "-m1000000"], cwd=tmp)
    m = re.search(r"(\d+) states, stored", out)
    return {"states": int(m.group(1)) if m else -1, "wall": t1 + t2 + t3, "verify": t3,
            "rss_kb": max(r1, r2, r3), "complete": "error" not in out.lower()
            or "errors: 0" in out}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--max-n", type=int, default=4, help="negotiations for qmcheck (1..N)")
    ap.add_argument("--spin-max-n", type=int, default=3, help="negotiations for SPIN (1..N)")
    ap.add_argument("--unreduced-max-n", type=int, default=2,
                    help="also explore without reductions up to this N")
    args = ap.parse_args()
    print("Quick Mode, hpux profile, loss + reorder, 2 retransmissions")
    print(f"{'engine':34} {'N':>2} {'states':>12} {'seconds':>8} {'states/s':>10} "
          f"{'peak RSS':>10}")
    results: dict[tuple[str, int], dict[str, float]] = {}
    for n in range(1, args.max_n + 1):
        for mode in ("reduced", "symmetry", "none"):
            if mode != "reduced" and n > args.unreduced_max_n:
                continue
            d = ours(n, mode)
            results[(mode, n)] = d
            name = {"reduced": "qmcheck (symmetry+POR+dead vars)",
                    "symmetry": "qmcheck (symmetry only)", "none": "qmcheck (no reduction)"}[mode]
            rate = d["states"] / d["explore"] if d["explore"] else 0.0
            print(f"{name:34} {n:>2} {d['states']:>12,} {d['wall']:>8.2f} {rate:>10,.0f} "
                  f"{d['rss_kb'] / 1024:>8.0f} MB")
    have_spin = shutil.which("spin") is not None
    for n in range(1, args.spin_max_n + 1):
        s = spin(n)
        if s is None:
            break
        results[("spin", n)] = s
        rate = s["states"] / s["verify"] if s["verify"] else 0.0
        print(f"{'SPIN 6.5 (spin -a + gcc + pan)':34} {n:>2} {s['states']:>12,} "
              f"{s['wall']:>8.2f} {rate:>10,.0f} {s['rss_kb'] / 1024:>8.0f} MB")
    print()
    if not have_spin:
        print("spin not found: the issue's reference figures for SPIN 6.5 on this exchange:")
    else:
        print("for context, the issue's reference figures for SPIN 6.5 (its own Promela model):")
    for n, text in REFERENCE.items():
        print(f"  N={n}: {text}")
    print()
    for n in range(1, args.max_n + 1):
        ours_s = results[("reduced", n)]["wall"]
        if ("spin", n) in results:
            ratio = results[("spin", n)]["wall"] / ours_s
            print(f"N={n}: SPIN end to end / qmcheck end to end = {ratio:.1f}x")
        verdicts = results[("reduced", n)].get("verdicts", {})
        if verdicts:
            refuted = sorted(k for k, v in verdicts.items() if v == "refuted")
            print(f"N={n}: qmcheck decided all {len(verdicts)} qm.* properties "
                  f"(refuted: {', '.join(refuted)})")


if __name__ == "__main__":
    main()
