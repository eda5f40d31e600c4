"""``qmcheck protocol`` on the generic engine: budgets, bad sizes, DOT, identical reruns."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from qmcheck.properties.cli.main import main


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_state_budget_gives_unknown_exit_3(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["protocol", "--profile", "hpux", "--loss", "--negotiations", "2",
                        "--property", "qm.agreement", "--max-states", "100", "--format", "json",
                        "--out", str(tmp_path)], capsys)
    assert code == 3
    result = json.loads(out)["results"][0]
    assert result["verdict"] == "unknown" and "state budget" in result["message"]


def test_memory_budget_compresses_then_gives_unknown(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["protocol", "--profile", "hpux", "--loss", "--reorder", "--negotiations", "2",
            "--timers", "patient", "--reduction", "none", "--property", "qm.agreement",
            "--format", "json", "--out", str(tmp_path)]
    code, out, _ = run([*base, "--max-memory", "3M"], capsys)
    assert code == 0  # compressed and spilled, still complete
    assert json.loads(out)["results"][0]["states"] == 115148
    base[base.index("2")] = "3"  # millions of states: a layer passes 1 MB
    code, out, _ = run([*base, "--max-memory", "1M"], capsys)
    assert code == 3
    assert "memory budget" in json.loads(out)["results"][0]["message"]


@pytest.mark.parametrize("size", ["lots", "12Q", "0", "²M"])
def test_bad_memory_size_is_a_one_line_input_error(size: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["protocol", "--max-memory", size], capsys)
    assert code == 2 and "max-memory" in err and len(err.strip().splitlines()) == 1


def normalized(out: str, folder: Path) -> str:
    """A JSON report without what differs between levels by design: the state and transition
    counts, the level's name, and the count in "proved over N states"."""
    report = json.loads(out.replace(str(folder), "DIR"))
    for r in report["results"]:
        for key in ("states", "transitions", "reduction"):
            r.pop(key, None)
            r.get("extra", {}).pop(key, None)
        r["message"] = re.sub(r"over \d+ states", "over N states", r["message"])
    return json.dumps(report, sort_keys=True)


def test_reductions_give_byte_identical_reports_and_traces(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Three levels and a rerun: the same report (but for the counts) and byte-identical
    counterexample files; a rerun at one level is byte-identical as a whole."""
    outs: list[str] = []
    files: list[dict[str, bytes]] = []
    for n, red in enumerate(("none", "symmetry", "full", "full")):
        folder = tmp_path / f"run{n}"
        code, out, _ = run(["protocol", "--profile", "racoon", "--loss", "--negotiations", "2",
                            "--timers", "patient", "--reduction", red, "--format", "json",
                            "--out", str(folder)], capsys)
        assert code == 1
        outs.append(out.replace(str(folder), "DIR"))
        files.append({p.name: p.read_bytes() for p in sorted(folder.iterdir())})
        assert normalized(out, folder) == normalized(outs[0].replace("DIR", str(folder)),
                                                     folder)
    assert files[0] and files[0] == files[1] == files[2] == files[3]
    assert outs[2] == outs[3]


def test_graph_dot_lists_the_explored_states(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    dot = tmp_path / "g.dot"
    code, out, _ = run(["protocol", "--profile", "hpux", "--timers", "patient", "--graph-dot",
                        str(dot), "--format", "json", "--property", "qm.agreement"], capsys)
    assert code == 0
    text = dot.read_text()
    states = json.loads(out)["results"][0]["states"]
    assert 0 < states < 2000  # below the drawing limit: every explored state is a node
    assert text.startswith("digraph states {") and text.count(" [label=\"I ") == states
