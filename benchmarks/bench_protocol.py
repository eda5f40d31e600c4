"""Benchmark: qmcheck against SPIN on the same Quick Mode model v2, side by side in one run.

SPIN runs the Promela that benchmarks/promela.py generates from the model's own action
expressions (one ``d_step`` per action and negotiation), so both tools explore the same
transition system: with qmcheck's reductions off SPIN stores exactly qmcheck's states
(tests/test_spin_agreement.py checks the counts and the verdicts). Both sides check the same
safety properties (pan: assertions, ``-c0`` so the search is complete).

Configuration: hpux profile, loss and reordering, at most 2 retransmissions, patient timers, N
negotiations sharing each host's SPI allocator. End to end means: SPIN ``spin -a`` + ``gcc -O2``
+ ``./pan``; qmcheck the ``qmcheck protocol`` command in a fresh process (interpreter start-up,
imports, every verdict and counterexample). Each side gets a wall-clock budget per run; a run
over budget is killed and printed as such. Figures: states stored, wall and CPU seconds, states
per second of the search proper (pan's run; qmcheck's exploration seconds), bytes per state
(SPIN: pan's memory for states over states; qmcheck: peak RSS above a one-state run, over
states, so it counts everything Python holds), and the ratios SPIN / qmcheck. The machine is
shared: the load average is printed before and after.

qmcheck runs twice per N: ``full`` (every reduction) and ``none`` (no reduction: the sweep-line
explorer properties/engines/sweep.py, vectorized, no visited set; the same states as SPIN). At N4
only ``full`` runs unless ``--n4-none`` (the sweep did not finish the 97.7 million states there
in 600 s). ``none`` decides the properties SPIN checks (the same question on the same states);
``full`` decides every property, qm.recovery included (a second search in its own loss
configuration).

    python -m benchmarks.bench_protocol                 # N = 1, 2 (a few minutes at most)
    python -m benchmarks.bench_protocol --max-n 3 --budget 900
    python -m benchmarks.bench_protocol --n4 --budget 600   # N = 4, smaller configuration
    python -m benchmarks.bench_protocol --reliable --max-n 3  # N = 1..3, that configuration
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from benchmarks.promela import CHECKED_IDS
from benchmarks.spin_run import available, measured, run_spin
from qmcheck.model.quickmode.options import QMOptions
from qmcheck.properties.checks.protocol import DECIDED_IDS, applicable

BENCH = {"profile": "hpux", "loss": True, "reorder": True, "retransmits": 2,
         "timers": "patient"}
#: The N = 4 configuration: no faults, patient timers (docs/SMT-ENGINE.md: the setting whose
#: proofs carry over to any N), so that both sides can finish at N = 4.
N4 = {"profile": "hpux", "timers": "patient"}


@dataclass
class Row:
    """One measured run of one side."""

    tool: str
    n: int
    states: int
    wall: float
    cpu: float
    search: float
    bytes_per_state: float
    verdicts: dict[str, str]
    note: str = ""

    @property
    def rate(self) -> float:
        return self.states / self.search if self.search > 0 and self.states > 0 else 0.0


def cli_args(config: dict[str, object], n: int, reduction: str,
             properties: tuple[str, ...] = ()) -> list[str]:
    args = ["protocol", "--profile", str(config["profile"]), "--negotiations", str(n),
            "--timers", str(config["timers"]), "--reduction", reduction, "--format", "json",
            "--timings", "--max-states", "1000000000", "--no-progress"]
    for flag in ("loss", "reorder", "duplicate"):
        if config.get(flag):
            args.append(f"--{flag}")
    if config.get("retransmits") is not None:
        args += ["--retransmits", str(config["retransmits"])]
    if properties:
        args += ["--property", *properties]
    return args


def qmcheck_row(config: dict[str, object], n: int, reduction: str, budget: float,
                baseline_kb: int, properties: tuple[str, ...] = ()) -> Row:
    """``qmcheck protocol`` end to end in a fresh process."""
    exe = str(Path(sys.executable).with_name("qmcheck"))
    name = f"qmcheck ({reduction})"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp, "out.json")
        phase, code = measured([exe, *cli_args(config, n, reduction, properties)], tmp, out,
                               budget,
                              keep_stderr=False)
        if code not in (0, 1, 3):
            return Row(name, n, -1, phase.wall, phase.cpu, 0, 0, {},
                       f"over the {budget:.0f} s budget" if code == -1 else f"exit {code}")
        data = json.loads(out.read_text(encoding="utf-8"))
    res = data["results"]
    states = max(r.get("states") or 0 for r in res)
    search = max(r.get("seconds") or 0 for r in res)
    extra = max(phase.rss_kb - baseline_kb, 0) * 1024
    verdicts = {r["property"]: r["verdict"] for r in res}
    return Row(name, n, states, phase.wall, phase.cpu, search,
               extra / states if states else 0, verdicts)


def spin_row(config: dict[str, object], n: int, budget: float, memlim_mb: int) -> Row:
    opts = QMOptions(negotiations=n, **config)  # type: ignore[arg-type]
    bits = 27 if n >= 3 else 22
    run = run_spin(opts, timeout=budget, memlim_mb=memlim_mb, hash_bits=bits)
    note = "" if run.complete else f"stopped: {run.stopped or 'incomplete'}"
    if not run.complete and run.lower_bound:
        note += f", more than {run.lower_bound:,} states stored by then"
    return Row("SPIN (spin -a + gcc + pan)", n, run.states, run.wall, run.cpu,
               run.verify.wall, run.bytes_per_state, run.verdicts() if run.complete else {}, note)


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def print_rows(rows: list[Row]) -> None:
    print(f"{'tool':28} {'N':>2} {'states':>12} {'wall s':>8} {'CPU s':>8} {'search s':>8} "
          f"{'states/s':>10} {'B/state':>8}  note")
    for r in rows:
        states = f"{r.states:,}" if r.states >= 0 else "-"
        print(f"{r.tool:28} {r.n:>2} {states:>12} {r.wall:>8.2f} {r.cpu:>8.2f} "
              f"{r.search:>8.2f} {r.rate:>10,.0f} {r.bytes_per_state:>8.0f}  {r.note}")


def ratios(rows: list[Row]) -> None:
    spin = {r.n: r for r in rows if r.tool.startswith("SPIN")}
    for r in rows:
        s = spin.get(r.n)
        if r.tool.startswith("SPIN") or s is None or r.states < 0 or s.states < 0:
            continue
        rate = f"{r.rate / s.rate:.2f}" if s.rate else "-"
        bps = f"{r.bytes_per_state / s.bytes_per_state:.2f}" if s.bytes_per_state else "-"
        print(f"N={r.n} {r.tool}: SPIN/qmcheck end to end wall {s.wall / r.wall:.2f}x, CPU "
              f"{s.cpu / r.cpu:.2f}x; qmcheck/SPIN states/s {rate}, bytes/state {bps}; "
              f"states qmcheck/SPIN {r.states / s.states:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--max-n", type=int, default=2, help="negotiations 1..N (default 2)")
    ap.add_argument("--unreduced-max-n", type=int, default=3,
                    help="qmcheck without reductions up to this N (default 3)")
    ap.add_argument("--n4-none", action="store_true",
                    help="at N = 4 run qmcheck without reductions too (slow)")
    ap.add_argument("--n4", action="store_true",
                    help="N = 4 only, on the N4 configuration (hpux, reliable, patient)")
    ap.add_argument("--reliable", action="store_true",
                    help="N = 1..--max-n on the N4 configuration (no faults) instead")
    ap.add_argument("--budget", type=float, default=300.0,
                    help="wall seconds per run and side (default 300)")
    ap.add_argument("--memlim", type=int, default=8192, help="pan's memory limit in MB")
    args = ap.parse_args()
    if not available():
        print("spin or gcc not on the PATH: nothing to compare")
        return
    config = N4 if args.n4 or args.reliable else BENCH
    ns = range(4, 5) if args.n4 else range(1, args.max_n + 1)
    label = QMOptions(**config).label().rsplit(",N=", 1)[0]  # type: ignore[arg-type]
    print(f"Quick Mode v2, {label} (profile {config['profile']}), "
          f"N = {ns[0]}..{ns[-1]}, budget {args.budget:.0f} s per run; load average "
          f"{loadavg()}")
    baseline = measured([sys.executable, "-c", "import qmcheck.properties.checks.protocol"],
                        ".")[0].rss_kb
    rows: list[Row] = []
    for n in ns:
        first = len(rows)
        # qm.recovery is decided on its own configuration (loss, one loss per negotiation):
        # at N = 3 it has more than 30 million states (1.1 million without loss), so at N = 4
        # it is left out and every other property is decided
        # without reductions qmcheck decides what SPIN checks (the same question, the same
        # states: the raw comparison); level full decides every property, qm.recovery too
        # (its own loss configuration, bigger than the run SPIN makes)
        props = tuple(p for p in applicable(DECIDED_IDS, QMOptions(negotiations=n, **config))
                      if p in CHECKED_IDS)  # type: ignore[arg-type]
        if n <= args.unreduced_max_n and (n < 4 or args.n4_none):
            rows.append(qmcheck_row(config, n, "none", args.budget, baseline, props))
            print_rows(rows[-1:])
            sys.stdout.flush()
        rows.append(qmcheck_row(config, n, "full", args.budget, baseline, ()))
        rows.append(spin_row(config, n, args.budget, args.memlim))
        print_rows(rows[first:])
        sys.stdout.flush()
    print()
    print_rows(rows)
    print()
    ratios(rows)
    for r in rows:
        s = next((x for x in rows if x.n == r.n and x.tool.startswith("SPIN")), None)
        if r.tool.startswith("SPIN") or s is None or not s.verdicts or not r.verdicts:
            continue
        differ = sorted(p for p, v in s.verdicts.items() if r.verdicts.get(p) != v)
        print(f"N={r.n} {r.tool}: verdicts of the {len(s.verdicts)} properties SPIN checks "
              + ("agree" if not differ else f"DIFFER on {', '.join(differ)}"))
    agree = [f"N={r.n}" for r in rows if r.tool == "qmcheck (none)" and any(
        s.n == r.n and s.tool.startswith("SPIN") and s.states == r.states for s in rows)]
    print(f"same states, SPIN and qmcheck without reductions: {', '.join(agree) or 'none'}")
    print(f"load average at the end: {loadavg()}")


if __name__ == "__main__":
    main()
