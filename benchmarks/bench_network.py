"""Benchmark of ``qmcheck check`` on networks: S sites of H hosts (a gateway, a server, clients;
model/formats/network_generator.py), one site with a transform mismatch.

    .venv/bin/python -m benchmarks.bench_network [SITES ...] [--hosts H] [--full]

Prints, per size, the hosts, the host pairs (total, checked, skipped), the seconds of the pair
planning and of the peers.* step over the checked pairs (hpux profile, both directions), the
refutations found, and the ratio of checked to all pairs (the work the planning saves).
``--full`` also times the whole ``qmcheck check`` (every step, one qm.* setting).
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path

from qmcheck.model.formats.loader import load_text
from qmcheck.model.formats.network_generator import network_yaml
from qmcheck.model.values.policy import Scenario
from qmcheck.properties.checks.pairs import plan_pairs
from qmcheck.properties.cli.main import main as qmcheck_main
from qmcheck.properties.cli.peers import check_step


def measure(sites: int, hosts: int, full: bool) -> str:
    text = network_yaml(sites, hosts, mismatch=(min(3, sites),))
    scenario = load_text(text, "network.yaml")
    assert isinstance(scenario, Scenario)
    started = time.perf_counter()
    plan = plan_pairs(dict(scenario.hosts))
    planned = time.perf_counter() - started
    started = time.perf_counter()
    results = check_step(scenario, argparse.Namespace(engine="smt"))
    peers = time.perf_counter() - started
    refuted = sum(r.verdict == "refuted" for r in results)
    line = (f"{len(scenario.hosts):5d} hosts  pairs {plan.total:6d} total "
            f"{len(plan.checked):5d} checked {len(plan.skipped):6d} skipped  "
            f"plan {planned:6.2f} s  peers {peers:7.2f} s  refuted {refuted:3d}  "
            f"checked/total {len(plan.checked) / max(1, plan.total):.3f}")
    if full:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "network.yaml"
            path.write_text(text)
            started = time.perf_counter()
            with redirect_stdout(io.StringIO()):
                code = qmcheck_main(["check", str(path), "--format", "json", "--out",
                                     str(Path(tmp) / "cx")])
            line += f"  check {time.perf_counter() - started:7.2f} s (exit {code})"
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sites", nargs="*", type=int, default=[10])
    parser.add_argument("--hosts", type=int, default=4, help="hosts per site besides the "
                        "gateway (default 4: 50 hosts for 10 sites)")
    parser.add_argument("--full", action="store_true", help="also time the whole check")
    args = parser.parse_args()
    for sites in args.sites:
        print(measure(sites, args.hosts, args.full), flush=True)


if __name__ == "__main__":
    main()
