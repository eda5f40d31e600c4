"""The README's commands work as written: every line of its examples block runs (in a scratch
folder holding the checkout's model/ and examples/), with the venv's qmcheck on PATH."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def examples_block() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    marker = text.index("Examples (a test runs every line of this block")
    block = re.search(r"```sh\n(.*?)```", text[marker:], re.S)
    assert block is not None, "the README has an examples block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_examples_block_activates_the_venv_first() -> None:
    lines = examples_block()
    assert lines[0] == ". .venv/bin/activate"
    assert sum(line.startswith("qmcheck ") for line in lines) >= 8


def test_every_readme_example_runs(tmp_path: Path) -> None:
    for name in ("model", "examples"):
        (tmp_path / name).symlink_to(ROOT / name)
    bindir = Path(sys.executable).parent
    if not (bindir / "qmcheck").exists():
        pytest.skip(f"no qmcheck script beside {sys.executable}")
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    prelude: list[str] = []
    for line in examples_block():
        if line.startswith(". ") or line.startswith("source "):
            continue  # activating: PATH above plays its part (the venv may live elsewhere)
        if re.match(r"^[A-Z_]+=\S+$", line):
            prelude.append(line)
            continue
        script = "\n".join([*prelude, line])
        done = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode in (0, 1), f"{line}: exit {done.returncode}: {done.stderr}"
        assert "Traceback" not in done.stderr and "error" not in done.stderr, line
        if ">" not in line:
            assert done.stdout.strip(), f"{line}: no output"
    assert (tmp_path / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert (tmp_path / "cex").is_dir() and any((tmp_path / "cex").iterdir())
