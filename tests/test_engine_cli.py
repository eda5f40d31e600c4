"""``qmcheck protocol`` on the generic engine: budgets, bad sizes, DOT, identical reruns."""

from __future__ import annotations

import json
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


@pytest.mark.skip(reason="the generic engine's adapter targets the v1 Quick Mode model; wiring "
                         "v2 is open (issue 11)")
def test_memory_budget_compresses_then_gives_unknown(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["protocol", "--profile", "hpux", "--loss", "--reorder", "--negotiations", "2",
            "--reduction", "none", "--property", "qm.agreement", "--format", "json",
            "--out", str(tmp_path)]
    code, out, _ = run([*base, "--max-memory", "3M"], capsys)
    assert code == 0  # compressed and spilled, still complete
    assert json.loads(out)["results"][0]["states"] == 67081
    base[base.index("2")] = "3"  # 17.4 million states: a layer passes 1 MB
    code, out, _ = run([*base, "--max-memory", "1M"], capsys)
    assert code == 3
    assert "memory budget" in json.loads(out)["results"][0]["message"]


@pytest.mark.parametrize("size", ["lots", "12Q", "0", "²M"])
def test_bad_memory_size_is_a_one_line_input_error(size: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["protocol", "--max-memory", size], capsys)
    assert code == 2 and "max-memory" in err and len(err.strip().splitlines()) == 1


@pytest.mark.skip(reason="the generic engine's adapter targets the v1 Quick Mode model; wiring "
                         "v2 is open (issue 11)")
def test_reductions_give_byte_identical_verdict_lines_and_reruns(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outs = {}
    for n, red in enumerate(("none", "symmetry", "full", "full")):
        code, out, _ = run(["protocol", "--profile", "racoon", "--loss", "--negotiations", "2",
                            "--reduction", red, "--format", "json", "--out",
                            str(tmp_path / f"run{n}")], capsys)
        assert code == 1
        results = json.loads(out)["results"]
        verdicts = [(r["property"], r["verdict"]) for r in results]
        outs.setdefault("verdicts", verdicts)
        assert verdicts == outs["verdicts"]
        if red == "full":
            outs.setdefault("full", []).append(out.replace(str(tmp_path / f"run{n}"), ""))
    assert outs["full"][0] == outs["full"][1]


@pytest.mark.skip(reason="the generic engine's adapter targets the v1 Quick Mode model; wiring "
                         "v2 is open (issue 11)")
def test_graph_dot_lists_the_explored_states(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    dot = tmp_path / "g.dot"
    code, _, _ = run(["protocol", "--profile", "hpux", "--loss", "--graph-dot", str(dot),
                      "--out", str(tmp_path)], capsys)
    assert code == 1
    text = dot.read_text()
    # 235 states: the manifest count of hpux + loss at reduction full (dead blocks merged)
    assert text.startswith("digraph states {") and text.count(" [label=\"I ") == 235
