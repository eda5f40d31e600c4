"""``qmcheck protocol --engine smt|all`` and ``qmcheck check`` with both engines."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from qmcheck.properties.checks.protocol_smt import check_step, merge
from qmcheck.properties.cli.main import main
from qmcheck.properties.results import Result
from qmcheck.properties.traces.counterexample import load_trace, replay


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_smt_engine_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["protocol", "--profile", "hpux", "--timers", "patient", "--engine",
                        "smt", "--format", "json", "--out", str(tmp_path)], capsys)
    assert code == 1
    results = json.loads(out)["results"]
    assert "qm.no-black-hole" in {r["property"] for r in results if r["verdict"] == "refuted"}
    assert {r["engine"] for r in results} == {"smt"}
    assert "qm.eventually-installed" not in {r["property"] for r in results}
    for r in results:
        if r["verdict"] == "refuted" and r["property"] != "qm.reachable-installed":
            assert r["method"] == "bmc" and "shortest counterexample" in r["message"]
            replay(load_trace(r["counterexample"]))
        if r["verdict"] == "holds" and r["property"] != "qm.reachable-installed":
            assert r["method"] == "k-induction" and r["k"] >= 1
    assert all(Path(r["counterexample"]).parent.name == "smt"
               for r in results if r["counterexample"])


def test_both_engines_merge_and_agree(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["protocol", "--profile", "racoon", "--commit-bit", "--timers", "patient",
            "--engine", "all", "--property", "qm.no-black-hole",
            "qm.responder-installs-after-msg3", "qm.eventually-installed", "--format", "json",
            "--out", str(tmp_path), "--force"]
    code, out, _ = run(argv, capsys)
    results = json.loads(out)["results"]
    assert len(results) == 3
    merged = [r for r in results if r["engine"] == "explicit+smt"]
    assert len(merged) == 2  # every property but the liveness one
    assert all(r.get("engines_agree", True) for r in merged)
    assert all("smt: " in r["message"] and "explicit (" in r["message"] for r in merged)
    assert code == 1  # racoon: black hole even with the commit bit
    assert run(argv, capsys)[1] == out  # byte-identical without --timings


def test_any_number_of_negotiations(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["protocol", "--profile", "strongswan", "--engine", "smt",
                        "--timers", "patient", "--property", "qm.responder-installs-after-msg3",
                        "--negotiations", "any", "--format", "json"], capsys)
    results = json.loads(out)["results"]
    assert code == 0 and results
    assert all(r["subject"][1].endswith("N=any") and r["parameterized"] for r in results)
    code, _, err = run(["protocol", "--negotiations", "any"], capsys)
    assert code == 2 and "--engine smt" in err


def test_merge_flags_a_disagreement_and_trusts_the_trace() -> None:
    e = Result("qm.no-orphan", "holds", ("hpux", "loss,R=2,N=1"), engine="explicit",
               message="proved over 9 states")
    s = Result("qm.no-orphan", "refuted", ("hpux", "loss,R=2,N=1"), engine="smt",
               message="shortest counterexample: 9 steps", counterexample="x.json",
               extra={"method": "bmc", "trace_length": 9})
    m = merge(e, s)
    assert m.verdict == "refuted" and not m.extra["engines_agree"]
    assert "ENGINES DISAGREE" in m.message and m.counterexample == "x.json"
    # an engine that cannot decide gives way to the one that did (unknown is no verdict)
    u = merge(e, Result("qm.no-orphan", "unknown", e.subject, engine="smt", message="?"))
    assert u.verdict == "holds" and u.extra["engines_agree"] and "smt: ?" in u.message


def test_check_step_smt_alone_covers_the_scenario_setting(tmp_path: Path) -> None:
    scenario = argparse.Namespace(protocol={"profiles": ["hpux"], "loss": True,
                                            "timers": "patient"}, source="scenario.yaml")
    args = argparse.Namespace(engine="smt", out=str(tmp_path))
    results = check_step(scenario, args)
    assert {r.subject for r in results} == {("hpux", "loss,timers=patient,R=profile,N=1")}
    verdicts = {r.property: r.verdict for r in results}
    assert verdicts["qm.no-orphan"] == "refuted"
    assert verdicts["qm.responder-installs-after-msg3"] == "holds"
