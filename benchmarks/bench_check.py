"""Benchmark of ``qmcheck check``: wall seconds and peak memory (RSS) of the whole command, as
a user runs it, for the built-in scenario and the clean example, against the targets (5 s and
300 MB for the built-in scenario on a 2-core machine).

Each run is a fresh process (``python -m qmcheck.properties.cli.main`` equivalent: the console
script), measured with ``os.wait4`` (its own peak RSS, not its siblings'). Medians over
``--repeat`` runs; the ratios are median / target.

    python benchmarks/bench_check.py                 # 5 runs each
    python benchmarks/bench_check.py --repeat 3 --engine all   # qm.* on both engines
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 5.0
TARGET_MB = 300.0


def qmcheck_command() -> list[str]:
    """The console script beside this interpreter, else the module through the interpreter."""
    script = Path(sys.executable).parent / "qmcheck"
    if script.exists():
        return [str(script)]
    found = shutil.which("qmcheck")
    if found:
        return [found]
    return [sys.executable, "-c", "from qmcheck.properties.cli.main import run; run()"]


def measure(argv: list[str]) -> tuple[float, float, int]:
    """(seconds, peak RSS in MB, exit code) of one run of ``argv``."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    rss_mb = usage.ru_maxrss / 1024  # Linux: kilobytes
    return seconds, rss_mb, proc.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per scenario (default 5)")
    parser.add_argument("--engine", default="auto", choices=["auto", "explicit", "smt", "all"],
                        help="the engine option of qmcheck check (default: auto, its default)")
    args = parser.parse_args()
    base = qmcheck_command()
    cases = [("built-in scenario", []), ("examples/clean.yaml", [str(ROOT / "examples" /
                                                                      "clean.yaml")])]
    print(f"qmcheck check, --engine {args.engine}, median of {args.repeat} runs, "
          f"{os.cpu_count()} cores")
    print(f"{'scenario':22} {'exit':>4} {'seconds':>8} {'peak MB':>8} "
          f"{'s/target':>8} {'MB/target':>9}")
    for label, extra in cases:
        runs = [measure([*base, "check", *extra, "--engine", args.engine, "--no-progress"])
                for _ in range(args.repeat)]
        seconds = statistics.median(r[0] for r in runs)
        mb = statistics.median(r[1] for r in runs)
        codes = sorted({r[2] for r in runs})
        print(f"{label:22} {','.join(map(str, codes)):>4} {seconds:8.2f} {mb:8.1f} "
              f"{seconds / TARGET_SECONDS:8.2f} {mb / TARGET_MB:9.2f}")
    print(f"targets: {TARGET_SECONDS:g} s and {TARGET_MB:g} MB for the built-in scenario "
          "(ratios below 1 meet them)")


if __name__ == "__main__":
    main()
