"""Measure how many real ``swanctl.conf`` files load: loaded / refused / crashed, and a
histogram of refusal reasons and of the notes (features left unmodelled).

Usage::

    python -m benchmarks.swanctl_corpus DIR_OR_FILE... [--list] [--threshold 0.95]

Every ``swanctl.conf`` under each directory is loaded (``load_host``, as the command line
does). A refusal is an ``InputError`` (exit 2 on the command line); anything else is a crash
(exit 4). The real corpus is strongSwan's test suite: ``git archive HEAD testing/tests`` of
github.com/strongswan/strongswan, every ``testing/tests/**/hosts/*/etc/swanctl/swanctl.conf``
(882 files at commit 3b902ea5). Exit status: 0 when the load rate reaches ``--threshold`` and
nothing crashes, else 1.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter
from pathlib import Path

from qmcheck.model.formats.loader import load_host
from qmcheck.model.values.errors import InputError


def corpus_files(roots: list[str]) -> list[Path]:
    """Every ``swanctl.conf`` under the roots (a file root is taken as is), sorted."""
    files: list[Path] = []
    for root in roots:
        path = Path(root)
        files.extend([path] if path.is_file() else sorted(path.rglob("swanctl.conf")))
    return sorted(set(files))


def reason_of(message: str) -> str:
    """A refusal message without the quoted values, so that alike refusals count together."""
    return re.sub(r"'[^']*'", "'…'", re.sub(r"\d+", "N", message))


def measure(files: list[Path]) -> tuple[list[Path], dict[Path, str], dict[Path, str], Counter]:
    """Load each file: the loaded ones, the refused (file -> message), the crashed
    (file -> exception) and a count of the notes' features."""
    loaded: list[Path] = []
    refused: dict[Path, str] = {}
    crashed: dict[Path, str] = {}
    notes: Counter[str] = Counter()
    for path in files:
        try:
            host = load_host(str(path))
        except InputError as e:
            refused[path] = f"{e.field or '-'}: {e.message}"
            continue
        except Exception as e:  # a crash is what is being counted
            crashed[path] = f"{type(e).__name__}: {e}"
            continue
        loaded.append(path)
        for note in getattr(host, "notes", ()):
            notes[reason_of(note.split(": ", 1)[-1])] += 1
    return loaded, refused, crashed, notes


def main(argv: list[str] | None = None) -> int:
    """Print the figures; see the module doc."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("roots", nargs="+")
    parser.add_argument("--list", action="store_true", help="list every refused file")
    parser.add_argument("--threshold", type=float, default=0.95)
    args = parser.parse_args(argv)
    files = corpus_files(args.roots)
    if not files:
        print("no swanctl.conf files found", file=sys.stderr)
        return 1
    wall, cpu = time.perf_counter(), time.process_time()
    loaded, refused, crashed, notes = measure(files)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    total = len(files)
    print(f"files {total}  loaded {len(loaded)} ({len(loaded) / total:.1%})  "
          f"refused {len(refused)}  crashed {len(crashed)}")
    print(f"wall {wall:.2f} s  cpu {cpu:.2f} s  load average "
          + " ".join(Path('/proc/loadavg').read_text().split()[:3])
          if Path("/proc/loadavg").exists() else f"wall {wall:.2f} s  cpu {cpu:.2f} s")
    reasons = Counter(reason_of(message) for message in refused.values())
    if reasons:
        print("refusal reasons:")
        for reason, count in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])):
            print(f"  {count:4d}  {reason}")
    if notes:
        print("notes (unmodelled features) on loaded files:")
        for reason, count in sorted(notes.items(), key=lambda kv: (-kv[1], kv[0])):
            print(f"  {count:4d}  {reason}")
    for path, error in sorted(crashed.items()):
        print(f"CRASH {path}: {error}")
    if args.list:
        for path, message in sorted(refused.items()):
            print(f"refused {path}: {message}")
    ok = not crashed and len(loaded) / total >= args.threshold
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
