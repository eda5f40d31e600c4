"""``qmcheck diff`` and ``qmcheck require`` on the command line: exit codes, the JSON shape,
SARIF locations, one-line input errors, deterministic output, nothing written."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from qmcheck.properties.cli.main import main

EX = Path(__file__).resolve().parents[1] / "examples"
OLD_SCENARIO = """hosts:
  hostA:
    address: 10.1.1.1
    policies:
      - {name: db, source: 10.1.1.1, destination: 10.2.2.2, destination-port: 5432,
         protocol: tcp, action: [ESP_AES128_HMAC_SHA1]}
  hostB:
    address: 10.2.2.2
    policies:
      - {name: db, source: 10.2.2.2, source-port: 5432, destination: 10.1.1.1,
         protocol: tcp, action: [ESP_AES128_HMAC_SHA1, ESP_3DES_HMAC_SHA1]}
protocol:
  profiles: [hpux]
"""


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_diff_exit_codes_and_formats(capsys: pytest.CaptureFixture[str]) -> None:
    old, new = str(EX / "hostA.batch"), str(EX / "diff" / "hostA-new.yaml")
    code, out, _ = run(capsys, "diff", old, new)
    assert code == 1
    assert out.splitlines()[0] == "verdict: REFUTED (exit 1)"
    assert "ERROR    diff.changed" in out
    assert "witness: 10.1.1.1:40000 -> 10.2.2.2:23 tcp out" in out
    code, out, _ = run(capsys, "diff", old, str(EX / "diff" / "hostA-renamed.yaml"))
    assert code == 0 and out.startswith("verdict: HOLDS (exit 0)")
    assert "HOLDS    diff.changed" in out
    code, out, _ = run(capsys, "diff", old, old, "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["command"] == "diff" and doc["summary"] == {"holds": 1, "refuted": 0,
                                                          "unknown": 0}


def test_diff_json_shape_and_sarif_lines(capsys: pytest.CaptureFixture[str]) -> None:
    old, new = str(EX / "hostA.batch"), str(EX / "diff" / "hostA-new.yaml")
    code, out, _ = run(capsys, "diff", old, new, "--format", "json")
    doc = json.loads(out)
    first = doc["results"][0]
    assert set(first) >= {"property", "subject", "verdict", "severity", "engine", "message",
                          "witness", "counterexample", "seconds", "size", "change"}
    assert first["subject"] == ["telnet-b", "telnet-to-b"]
    assert first["witness"]["packet"] == {"src": "10.1.1.1", "dst": "10.2.2.2",
                                          "protocol": 6, "sport": 40000, "dport": 23,
                                          "direction": "out"}
    code, out, _ = run(capsys, "diff", old, new, "--format", "sarif")
    assert code == 1
    results = json.loads(out)["runs"][0]["results"]
    lines = (EX / "diff" / "hostA-new.yaml").read_text().splitlines()
    telnet = results[0]["locations"][0]["physicalLocation"]
    assert telnet["artifactLocation"]["uri"].endswith("hostA-new.yaml")
    assert "telnet-to-b" in lines[telnet["region"]["startLine"] - 1]
    related = results[0]["relatedLocations"][0]["physicalLocation"]
    assert related["artifactLocation"]["uri"].endswith("hostA.batch")
    batch = (EX / "hostA.batch").read_text().splitlines()
    assert "telnet-b" in batch[related["region"]["startLine"] - 1]


def test_diff_equivalent_lists_renames(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "diff", str(EX / "hostA.batch"),
                       str(EX / "diff" / "hostA-renamed.yaml"), "--equivalent")
    assert code == 0
    assert "renamed telnet-b -> telnet: changes nothing" in out
    assert "renamed dns -> dns-out: changes nothing" in out


def test_diff_scenarios_report_negotiations(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    a, b = tmp_path / "old.yaml", tmp_path / "new.yaml"
    a.write_text(OLD_SCENARIO)
    b.write_text(OLD_SCENARIO.replace("ESP_AES128_HMAC_SHA1, ESP_3DES_HMAC_SHA1",
                                      "ESP_3DES_HMAC_SHA1"))
    code, out, _ = run(capsys, "diff", str(a), str(b), "--format", "json")
    assert code == 1
    results = json.loads(out)["results"]
    negotiation = [r for r in results if r["change"] == "negotiation"]
    assert {tuple(r["subject"]) for r in negotiation} == {("hpux", "hostA", "hostB"),
                                                          ("hpux", "hostB", "hostA")}
    ab = next(r for r in negotiation if r["subject"][1] == "hostA")
    assert ab["old"]["status"] == "accepted" and ab["new"]["status"] == "NO_PROPOSAL_CHOSEN"
    assert ab["witness"]["packet"]["dport"] == 5432
    code, out, _ = run(capsys, "diff", str(a), str(a))
    assert code == 0


def test_diff_input_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(OLD_SCENARIO)
    code, _, err = run(capsys, "diff", str(EX / "hostA.batch"), str(scenario))
    assert code == 2 and err.count("\n") == 1 and "FILE:HOST" in err
    code, _, err = run(capsys, "diff", str(EX / "hostA.batch"), f"{scenario}:hostA")
    assert code == 1
    bad = tmp_path / "bad.yaml"
    bad.write_text("host: x\npolicies:\n  - {name: a, source: 10.1.1.1, destination: 10.2.2.2,"
                   " action: [ESP_NOPE]}\n")
    code, _, err = run(capsys, "diff", str(EX / "hostA.batch"), str(bad))
    assert code == 2 and f"{bad}:3" in err and "Traceback" not in err
    code, _, err = run(capsys, "diff", str(EX / "hostA.batch"), str(tmp_path / "missing"))
    assert code == 2
    code, _, err = run(capsys, "diff", str(scenario), str(scenario), "--profile", "nope")
    assert code == 2 and "--profile" in err


def test_require_exit_codes_json_and_sarif(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    from qmcheck.model.formats.loader import DEFAULT_SCENARIO

    scenario = tmp_path / DEFAULT_SCENARIO
    scenario.write_text((Path(__file__).resolve().parents[1] / "model" / "scenarios"
                         / DEFAULT_SCENARIO).read_text())
    reqs = str(EX / "require" / "requirements.yaml")
    code, out, _ = run(capsys, "require", reqs, str(scenario), "--profile", "hpux")
    assert code == 1
    assert out.splitlines()[0] == "verdict: REFUTED (exit 1)"
    assert "ERROR    req.telnet-encrypted" in out
    assert "HOLDS    req.no-cleartext-db" in out
    code, out, _ = run(capsys, "require", reqs, str(scenario), "--format", "json")
    doc = json.loads(out)
    by = {r["property"]: r for r in doc["results"]}
    assert by["req.no-cleartext-db"]["verdict"] == "holds"
    assert by["req.telnet-encrypted"]["verdict"] == "refuted"
    assert by["req.telnet-encrypted"]["location"]["file"] == str(scenario)
    code, out, _ = run(capsys, "require", reqs, str(scenario), "--format", "sarif")
    sarif = json.loads(out)["runs"][0]["results"]
    lines = scenario.read_text().splitlines()
    for result in sarif:
        loc = result["locations"][0]["physicalLocation"]
        policy = result["properties"]["witness"]["related"][0]
        assert f"name: {policy}" in lines[loc["region"]["startLine"] - 1]
    only = tmp_path / "only.yaml"
    text = (EX / "require" / "requirements.yaml").read_text()
    only.write_text("requirements:\n" + text[text.index("  - name: no-cleartext-db"):])
    code, out, _ = run(capsys, "require", str(only), str(scenario))
    assert code == 0 and "131,072 packets" in out


def test_require_input_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(OLD_SCENARIO)
    req = tmp_path / "r.yaml"
    req.write_text("requirements:\n  - name: x\n    between: [hostA, hostZ]\n"
                   "    traffic: {protocol: tcp}\n    must: protect\n")
    code, _, err = run(capsys, "require", str(req), str(scenario))
    assert code == 2
    assert err.strip() == (f"qmcheck: error: {req}:3: field 'between': unknown host 'hostZ'; "
                           "did you mean 'hostB'?")
    req.write_text("requirements:\n  - name: x\n    between: [hostA, hostB]\n"
                   "    traffic: {source: 10.0.0.0/33}\n    must: protect\n")
    code, _, err = run(capsys, "require", str(req), str(scenario))
    assert code == 2 and f"{req}:4: field 'source'" in err


def test_output_is_deterministic_and_nothing_is_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = sorted(os.listdir(tmp_path))
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        outs = {run(capsys, "diff", str(EX / "hostA.batch"),
                    str(EX / "diff" / "hostA-new.yaml"), "--format", "sarif")[1]
                for _ in range(2)}
        outs2 = {run(capsys, "require", str(EX / "require" / "requirements.yaml"),
                     str(EX.parent / "model" / "scenarios" / "default.yaml"), "--format",
                     "json")[1] for _ in range(2)}
    finally:
        os.chdir(cwd)
    assert len(outs) == 1 and len(outs2) == 1
    assert sorted(os.listdir(tmp_path)) == before


def test_unknown_is_exit_3_never_holds(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import z3

    reqs = str(EX / "require" / "requirements.yaml")
    scenario = str(EX.parent / "model" / "scenarios" / "default.yaml")
    code, small, _ = run(capsys, "require", reqs, scenario, "--max-cells", "1", "--format",
                         "json")
    code2, large, _ = run(capsys, "require", reqs, scenario, "--format", "json")
    assert code == code2 == 1  # past the cell limit, z3 decides: the same verdicts

    def verdicts(text: str) -> list[tuple[str, str, str]]:
        return [(r["property"], r["verdict"], r["engine"]) for r in json.loads(text)["results"]]

    assert [v[:2] for v in verdicts(small)] == [v[:2] for v in verdicts(large)]
    assert {v[2] for v in verdicts(small)} == {"smt"}
    assert {v[2] for v in verdicts(large)} == {"concrete"}
    a, b = tmp_path / "old.yaml", tmp_path / "new.yaml"
    a.write_text(OLD_SCENARIO)
    b.write_text(OLD_SCENARIO.replace("5432", "5433"))
    code, small, _ = run(capsys, "diff", str(a), str(b), "--max-cells", "1", "--format", "json")
    code2, large, _ = run(capsys, "diff", str(a), str(b), "--format", "json")
    assert code == code2 == 1  # past the cell limit, z3 finds the same changes (no sizes)

    def found(text: str) -> set[tuple[str, ...]]:
        return {(*r["subject"], r["old"]["status"], r["new"]["status"])
                for r in json.loads(text)["results"] if r.get("change") == "negotiation"}

    assert found(small) == found(large) and found(small)
    assert {r["engine"] for r in json.loads(small)["results"]} == {"smt"}
    monkeypatch.setattr(z3.Solver, "check", lambda self, *args: z3.unknown)
    code, out, _ = run(capsys, "require", reqs, scenario, "--max-cells", "1")
    assert code == 3 and "UNKNOWN  req.telnet-encrypted" in out and "HOLDS" not in out
    code, out, _ = run(capsys, "diff", str(EX / "hostA.batch"),
                       str(EX / "diff" / "hostA-new.yaml"))
    assert code == 3 and "HOLDS" not in out and "REFUTED" not in out
    code, out, _ = run(capsys, "diff", str(EX / "hostA.batch"), str(EX / "hostA.batch"))
    assert code == 0  # nothing dirty: no question for z3
