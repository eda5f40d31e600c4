"""Resource budgets of explorations (issue 13): past them a run stops with "unknown", never an
out-of-memory kill. Set once by the command line (``--max-states``, ``--max-memory``)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
AVAILABLE_SHARE = 0.8  # default memory budget: this share of the memory available at start


@dataclass
class Budget:
    """Limits set by the command line; None: the defaults."""

    max_states: int | None = None
    max_memory: int | None = None  # bytes of resident memory of the whole process


BUDGET = Budget()


def set_budget(max_states: int | None = None, max_memory_mb: int | None = None) -> None:
    """Set the budgets of the following explorations (None: the defaults)."""
    BUDGET.max_states = max_states
    BUDGET.max_memory = None if max_memory_mb is None else max_memory_mb * 2**20


def resident_bytes() -> int:
    """The process's resident memory now (Linux /proc; elsewhere its peak)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def available_bytes() -> int | None:
    """Memory available to new allocations (MemAvailable of /proc/meminfo), if known."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def memory_budget() -> int:
    """The memory budget: ``--max-memory``, else most of what is available now."""
    if BUDGET.max_memory is not None:
        return BUDGET.max_memory
    available = available_bytes()
    if available is None:
        return 2**62
    return resident_bytes() + int(available * AVAILABLE_SHARE)


def stderr_progress(message: str) -> None:
    """Progress lines for long runs."""
    print(f"qmcheck: {message}", file=sys.stderr, flush=True)
