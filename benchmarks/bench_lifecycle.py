"""The SA lifecycle's cost: states and seconds of the explicit engine per setting, measured in
one run (no targets are asserted here; numbers are printed).

    python benchmarks/bench_lifecycle.py [--rekeys 1,2] [--profiles hpux,racoon]
        [--timers patient] [--all-switches] [--collide] [--reduction none|symmetry|full]

The generic engine (properties/engines/bfs.py), at reduction level none unless told. Each line:
profile, setting, states, transitions, seconds, states/s. ``--all-switches`` turns on loss,
restart, delete notifications, DPD and INITIAL-CONTACT together (the largest graph).
``--collide`` measures rekey collisions instead (profiles whose rekey-by is both): reliable,
one loss without retransmission, one loss with the profile's retransmissions, and each
ratio to the same setting without the collision. Also prints CPU seconds and the load average.
"""

from __future__ import annotations

import argparse
import os
import time

from qmcheck.model.quickmode.compiled import QMModel
from qmcheck.model.quickmode.options import QMOptions
from qmcheck.model.quickmode.system import QuickModeSystem
from qmcheck.properties.engines import bfs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rekeys", default="1,2")
    parser.add_argument("--profiles", default="hpux,racoon,strongswan,libreswan")
    parser.add_argument("--timers", default="patient", choices=["eager", "patient"])
    parser.add_argument("--all-switches", action="store_true")
    parser.add_argument("--collide", action="store_true")
    parser.add_argument("--reduction", default="none", choices=["none", "symmetry", "full"])
    args = parser.parse_args()
    switches = [{}, {"loss": True}, {"restart": True, "dpd": True},
                {"loss": True, "delete_notify": True}]
    if args.all_switches:
        switches = [{"loss": True, "restart": True, "delete_notify": True, "dpd": True,
                     "initial_contact": True}]
    if args.collide:
        switches = [{"collide": True}, {"collide": True, "loss": True, "max_losses": 1,
                                        "retransmits": 0},
                    {"collide": True, "loss": True, "max_losses": 1}]
    print(f"load average {os.getloadavg()[0]:.2f}")
    print("profile setting states transitions seconds cpu-seconds states/s [ratio to no "
          "collision: states seconds]")
    for k in (int(x) for x in args.rekeys.split(",")):
        for profile in args.profiles.split(","):
            for extra in switches:
                opts = QMOptions(profile=profile, rekeys=k, timers=args.timers, **extra)
                states, line, wall = _measure(opts, args.reduction)
                if extra.get("collide"):
                    plain, _, plain_wall = _measure(opts.with_(collide=False), args.reduction)
                    line += f" {states / plain:.1f} {wall / max(plain_wall, 1e-9):.1f}"
                print(f"{profile} {line}", flush=True)
    print(f"load average {os.getloadavg()[0]:.2f}")


def _measure(opts: QMOptions, reduction: str) -> tuple[int, str, float]:
    """States, the printed figures and the wall seconds of one exploration."""
    start, cpu = time.perf_counter(), time.process_time()
    system = QuickModeSystem(QMModel(opts)).system
    ex = bfs.Engine(system, reduction=reduction).run()
    seconds, cpu_s = time.perf_counter() - start, time.process_time() - cpu
    return ex.states, (f"{opts.label()} {ex.states} {ex.transitions} {seconds:.2f} {cpu_s:.2f} "
                       f"{ex.states / max(seconds, 1e-9):,.0f}"), seconds


if __name__ == "__main__":
    main()
