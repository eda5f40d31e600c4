"""Run SPIN end to end on a generated model: ``spin -a``, ``gcc``, ``./pan``, each measured.

``run_spin`` writes the Promela of ``benchmarks/promela.py`` into a temporary folder, builds the
verifier and runs it, and returns the figures pan prints (states stored, transitions, state
vector bytes, memory) with the wall and CPU seconds of each phase and the set of properties
whose assertion pan reported violated. Used by benchmarks/bench_protocol.py and by the engine
agreement test (tests/test_spin_agreement.py).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.promela import CHECKED_IDS, flag, promela
from qmcheck.model.quickmode.options import QMOptions


def available() -> bool:
    """Both ``spin`` and ``gcc`` are on the PATH."""
    return bool(shutil.which("spin") and shutil.which("gcc"))


@dataclass
class Phase:
    """One measured child process."""

    wall: float
    cpu: float
    rss_kb: int


@dataclass
class SpinRun:
    """What one end-to-end SPIN run measured and found."""

    states: int = -1
    transitions: int = -1
    vector_bytes: int = 0
    memory_mb: float = 0.0
    state_mb: float = 0.0
    lower_bound: int = 0  # states stored by the last progress line (a run stopped early)
    complete: bool = False
    stopped: str = ""
    violated: frozenset[str] = frozenset()
    phases: dict[str, Phase] = field(default_factory=dict)

    @property
    def wall(self) -> float:
        return sum(p.wall for p in self.phases.values())

    @property
    def cpu(self) -> float:
        return sum(p.cpu for p in self.phases.values())

    @property
    def verify(self) -> Phase:
        return self.phases["pan"]

    @property
    def bytes_per_state(self) -> float:
        """pan's "actual memory usage for states" over states stored (the hash table, a
        fixed 8 bytes per slot, and the search stack are not counted)."""
        return self.state_mb * 2**20 / self.states if self.states > 0 else 0.0

    def verdicts(self) -> dict[str, str]:
        """holds / refuted per safety id; ``qm.reachable-installed`` holds when reached."""
        out: dict[str, str] = {}
        for pid in CHECKED_IDS:
            bad = pid in self.violated
            if pid == "qm.reachable-installed":
                out[pid] = "holds" if bad else "refuted"
            else:
                out[pid] = "refuted" if bad else "holds"
        return out


def measured(cmd: list[str], cwd: str, out_path: Path | None = None,
             timeout: float | None = None, *, keep_stderr: bool = True) -> tuple[Phase, int]:
    """Run ``cmd`` (stdout, and stderr unless not ``keep_stderr``, to ``out_path`` or
    discarded); its phase figures and exit code (-1: killed at ``timeout`` seconds)."""
    start = time.perf_counter()
    with open(out_path or os.devnull, "w", encoding="utf-8") as sink:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=sink,
                                stderr=subprocess.STDOUT if keep_stderr else subprocess.DEVNULL)
        deadline = None if timeout is None else start + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if deadline is not None and time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                status = -1
                break
            time.sleep(0.02)
    wall = time.perf_counter() - start
    code = -1 if status == -1 else os.waitstatus_to_exitcode(status)
    return Phase(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss), code


def run_spin(options: QMOptions, *, properties: bool = True, memlim_mb: int = 8192,
             optimize: str = "-O2", timeout: float | None = None, hash_bits: int = 22,
             workdir: str | None = None) -> SpinRun:
    """SPIN end to end on the model of ``options`` (exhaustive, no partial-order reduction:
    the model is one process, and pan stores every state exactly)."""
    run = SpinRun()
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        Path(tmp, "qm.pml").write_text(promela(options, properties=properties),
                                       encoding="utf-8")
        for name, cmd in (("spin -a", ["spin", "-a", "qm.pml"]),
                          ("gcc", ["gcc", optimize, "-w", "-DNOREDUCE", "-DSAFETY",
                                   f"-DMEMLIM={memlim_mb}", "-o", "pan", "pan.c"])):
            phase, code = measured(cmd, tmp)
            run.phases[name] = phase
            if code != 0:
                raise RuntimeError(f"{name} failed with exit code {code}")
        out = Path(tmp, "pan.out")
        phase, code = measured(["./pan", "-c0", "-m10000000", f"-w{hash_bits}"], tmp, out, timeout)
        run.phases["pan"] = phase
        text = out.read_text(encoding="utf-8", errors="replace")
    return parse(text, run, timed_out=code == -1)


def parse(text: str, run: SpinRun, *, timed_out: bool = False) -> SpinRun:
    """Fill ``run`` from pan's output."""
    def number(pattern: str) -> float:
        m = re.search(pattern, text)
        return float(m.group(1)) if m else -1

    run.states = int(number(r"(\d+) states, stored"))
    progress = re.findall(r"States=\s*([\d.e+]+)", text)
    run.lower_bound = int(float(progress[-1])) if progress else 0
    run.transitions = int(number(r"(\d+) transitions \("))
    run.vector_bytes = int(number(r"State-vector (\d+) byte"))
    run.memory_mb = number(r"([\d.]+)\s+total actual memory usage")
    run.state_mb = number(r"([\d.]+)\s+actual memory usage for states")
    by_flag = {flag(p): p for p in CHECKED_IDS}
    run.violated = frozenset(by_flag[f] for f in re.findall(r"assertion violated (\w+)", text)
                             if f in by_flag)
    if timed_out:
        run.stopped = "time budget"
    elif "pan: out of memory" in text or "error: max search depth too small" in text:
        run.stopped = "memory" if "out of memory" in text else "depth"
    run.complete = not run.stopped and run.states >= 0
    return run
