"""SARIF 2.1.0 output: the structure code-scanning views need, each finding at its policy's
line in the input file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qmcheck.model.formats.loader import load_host
from qmcheck.properties.catalogue import BY_ID
from qmcheck.properties.cli.main import main
from qmcheck.properties.reports.sarif import to_sarif
from qmcheck.properties.results import Report, Result
from tests.test_conflicts_cli import SITE

LEVELS = {"none", "note", "warning", "error"}
KINDS = {"notApplicable", "pass", "fail", "review", "open", "informational"}


def check_structure(log: dict) -> None:  # type: ignore[type-arg]
    """The parts of the SARIF 2.1.0 schema that consumers rely on."""
    assert log["version"] == "2.1.0" and "sarif-2.1.0" in log["$schema"]
    assert isinstance(log["runs"], list) and log["runs"]
    for run in log["runs"]:
        driver = run["tool"]["driver"]
        assert driver["name"] == "qmcheck" and isinstance(driver["version"], str)
        rules = driver["rules"]
        ids = [r["id"] for r in rules]
        assert len(ids) == len(set(ids))
        for rule in rules:
            assert rule["shortDescription"]["text"]
            assert rule["defaultConfiguration"]["level"] in LEVELS
        for res in run["results"]:
            assert res["ruleId"] == ids[res["ruleIndex"]]
            assert res["level"] in LEVELS and res["kind"] in KINDS
            assert isinstance(res["message"]["text"], str) and res["message"]["text"]
            for loc in res.get("locations", []) + res.get("relatedLocations", []):
                physical = loc["physicalLocation"]
                assert isinstance(physical["artifactLocation"]["uri"], str)
                if "region" in physical:
                    assert physical["region"]["startLine"] >= 1


def test_conflicts_sarif_points_at_policy_lines(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(SITE)
    code = main(["conflicts", "--no-progress", str(path), "--format", "sarif"])
    log = json.loads(capsys.readouterr().out)
    assert code == 1
    check_structure(log)
    host = load_host(str(path))
    text_lines = SITE.splitlines()
    results = log["runs"][0]["results"]
    assert results
    for res in results:
        assert res["kind"] == "fail"
        assert res["ruleId"] in BY_ID
        subject = res["properties"]["subject"]
        (loc,) = res["locations"]
        line = loc["physicalLocation"]["region"]["startLine"]
        # the result's line is the (last) subject policy's entry in the file
        assert line == host.policy(subject[-1]).line
        assert f"name: {subject[-1]}" in text_lines[line - 1]
        assert loc["physicalLocation"]["artifactLocation"]["uri"] == "file://" + str(path)
        assert res["properties"]["witness"]["packet"]["direction"] == "out"
    shadow = next(r for r in results if r["properties"]["subject"] == ["all-udp"])
    related = [loc["message"]["text"] for loc in shadow["relatedLocations"]]
    assert related == ["half-a", "half-b"]
    levels = {r["ruleId"]: r["level"] for r in results}
    assert levels["policy.shadowed"] == "error" and levels["policy.correlated"] == "warning"


def test_generic_report_without_locations() -> None:
    """Any report renders: results without a location fall back to the input file; holds
    results are left out; unknowns are open results."""
    report = Report("peers", ["a.yaml", "b.yaml"], [
        Result("peers.symmetry", "holds"),
        Result("peers.negotiation", "refuted", ("x",), "error", "smt", "fails",
               {"packet": {"src": "10.0.0.1"}, "related": []}),
        Result("peers.consistency", "unknown", ("y",), "error", "smt", "timeout"),
    ])
    log = json.loads(to_sarif(report))
    check_structure(log)
    results = log["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == ["peers.negotiation", "peers.consistency"]
    assert [r["kind"] for r in results] == ["fail", "open"]
    assert results[1]["level"] == "none"
    for r in results:
        assert r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "a.yaml"
