"""The SA lifecycle's cost: states and seconds of the explicit engine per setting, measured in
one run (no targets are asserted here; numbers are printed).

    python benchmarks/bench_lifecycle.py [--rekeys 1,2] [--profiles hpux,racoon]
        [--timers patient] [--all-switches] [--reduction none|symmetry|full]

The generic engine (properties/engines/bfs.py), at reduction level none unless told. Each line:
profile, setting, states, transitions, seconds, states/s. ``--all-switches`` turns on loss,
restart, delete notifications, DPD and INITIAL-CONTACT together (the largest graph).
"""

from __future__ import annotations

import argparse
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
    parser.add_argument("--reduction", default="none", choices=["none", "symmetry", "full"])
    args = parser.parse_args()
    switches = [{}, {"loss": True}, {"restart": True, "dpd": True},
                {"loss": True, "delete_notify": True}]
    if args.all_switches:
        switches = [{"loss": True, "restart": True, "delete_notify": True, "dpd": True,
                     "initial_contact": True}]
    print("profile setting states transitions seconds states/s")
    for k in (int(x) for x in args.rekeys.split(",")):
        for profile in args.profiles.split(","):
            for extra in switches:
                opts = QMOptions(profile=profile, rekeys=k, timers=args.timers, **extra)
                start = time.perf_counter()
                system = QuickModeSystem(QMModel(opts)).system
                ex = bfs.Engine(system, reduction=args.reduction).run()
                seconds = time.perf_counter() - start
                print(f"{profile} {opts.label()} {ex.states} {ex.transitions} {seconds:.2f} "
                      f"{ex.states / max(seconds, 1e-9):,.0f}", flush=True)


if __name__ == "__main__":
    main()
