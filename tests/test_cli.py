"""The command line: lookup, negotiate and check, in text and JSON, with exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qmcheck.model.formats.loader import load_scenario
from qmcheck.model.semantics.lookup import lookup
from qmcheck.model.semantics.negotiation import negotiate, profile_options
from qmcheck.model.values.packet import packet_from_json
from qmcheck.properties.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = str(ROOT / "model" / "scenarios" / "default.yaml")
EXAMPLES = str(ROOT / "examples")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_lookup_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    args = ("lookup", f"{SCENARIO}:hostA", "--src", "10.1.1.1", "--dst", "10.2.2.2",
            "--protocol", "tcp", "--sport", "40000", "--dport", "23")
    code, out, _ = run(capsys, *args)
    assert code == 0 and "telnet-b  20        ESP_AES128_HMAC_SHA1/3600,ESP_3DES_HMAC_SHA1" in out
    code, out, _ = run(capsys, *args, "--format", "json")
    report = json.loads(out)
    assert report["command"] == "lookup" and report["summary"] == {"holds": 1, "refuted": 0,
                                                                  "unknown": 0}
    (result,) = report["results"]
    assert result["subject"] == ["telnet-b"]
    assert result["action"] == ["ESP_AES128_HMAC_SHA1/3600", "ESP_3DES_HMAC_SHA1"]
    assert result["witness"]["packet"] == {"src": "10.1.1.1", "dst": "10.2.2.2", "protocol": 6,
                                           "sport": 40000, "dport": 23, "direction": "out"}
    assert result["seconds"] is None


def test_lookup_packets_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = [
        {"src": "10.1.1.1", "dst": "10.2.2.2", "protocol": 17, "sport": 5353, "dport": 53},
        {"src": "10.2.2.2", "dst": "10.1.1.1", "protocol": "tcp", "sport": 80, "dport": 40000,
         "direction": "in"},
        {"src": "10.1.1.1", "dst": "10.2.2.9", "protocol": "tcp", "sport": 1, "dport": 21},
        {"src": "10.1.1.1", "dst": "10.2.2.2", "protocol": "icmp"},
    ]
    path = tmp_path / "packets.jsonl"
    path.write_text("# probes\n" + "\n".join(json.dumps(x) for x in lines) + "\n\n")
    code, out, _ = run(capsys, "lookup", f"{SCENARIO}:hostA", "--packets", str(path),
                       "--format", "json")
    assert code == 0
    results = json.loads(out)["results"]
    assert [r["subject"] for r in results] == [["dns"], ["web-b"], ["ftp-b"], ["all-b"]]
    assert [r["action"] for r in results][:3] == ["PASS", ["AH_SHA1"], "DISCARD"]
    host = load_scenario(None).hosts["hostA"]
    for r in results:  # replay through the concrete semantics
        assert lookup(host, packet_from_json(r["witness"]["packet"])).name == r["subject"][0]  # type: ignore[union-attr]


@pytest.mark.parametrize("content, line, fragment", [
    ('{"src": "10.1.1.1", "dst": "10.2.2.2"}\n{"src": "10.1.1.1", "dst": 5\n', 2,
     "not a JSON object"),
    ('{"src": "10.1.1.1", "dts": "10.2.2.2"}\n', 1, "unknown key 'dts'"),
    ('{"src": "10.1.1.1", "dst": "10.2.2.2", "protocol": "icmp", "dport": 7}\n', 1, "no ports"),
    ('{"src": "10.1.1.1", "dst": "2001:db8::1"}\n', 1, "different address families"),
])
def test_bad_packets_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str,
                          line: int, fragment: str) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(content)
    code, out, err = run(capsys, "lookup", f"{SCENARIO}:hostA", "--packets", str(path))
    assert code == 2 and out == ""
    assert err.startswith(f"qmcheck: error: {path}:{line}") and fragment in err


@pytest.mark.parametrize("argv, fragment", [
    (["--src", "10.1.1.1"], "--dst is required"),
    (["--src", "10.1.1.1", "--dst", "10.2.2.300"], "field '--dst'"),
    (["--src", "10.1.1.1", "--dst", "10.2.2.2", "--protocol", "tcp", "--dport", "70000"],
     "field '--dport'"),
    (["--src", "10.1.1.1", "--dst", "10.2.2.2", "--protocol", "bogus"], "unknown protocol"),
])
def test_bad_command_line_values(capsys: pytest.CaptureFixture[str], argv: list[str],
                                 fragment: str) -> None:
    code, _, err = run(capsys, "lookup", f"{SCENARIO}:hostA", *argv)
    assert code == 2 and fragment in err and "Traceback" not in err


def test_unknown_host_in_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "lookup", f"{SCENARIO}:hostC", "--src", "1.1.1.1",
                       "--dst", "2.2.2.2")
    assert code == 2 and "no host 'hostC'" in err


def test_negotiate(capsys: pytest.CaptureFixture[str]) -> None:
    base = ("negotiate", f"{SCENARIO}:hostA", f"{SCENARIO}:hostB", "--src", "10.1.1.1",
            "--dst", "10.2.2.2", "--protocol", "tcp", "--sport", "40000", "--dport", "23")
    code, out, _ = run(capsys, *base, "--format", "json")
    assert code == 0
    neg = json.loads(out)["results"][0]["negotiation"]
    assert neg["status"] == "accepted" and neg["responder_policy"] == "telnet-a"
    assert neg["message1"]["idcr"] == {"id": "ID_IPV4_ADDR", "address": "10.2.2.2",
                                       "protocol": 6, "port": 23}
    assert neg["accepted"] == "ESP_AES128_HMAC_SHA1/3600"
    code, out, _ = run(capsys, *base, "--profile", "strongswan")
    assert code == 0 and "accepts ESP_3DES_HMAC_SHA1" in out
    # the wider side initiates: the narrower responder's policy shares no transform
    code, out, _ = run(capsys, "negotiate", f"{EXAMPLES}/branch.yaml", f"{EXAMPLES}/office.yaml",
                       "--src", "192.0.2.10", "--dst", "198.51.100.5", "--protocol", "tcp",
                       "--dport", "443")
    assert code == 1 and "NO_PROPOSAL_CHOSEN" in out and "selects branch-other" in out
    code, out, _ = run(capsys, "negotiate", f"{EXAMPLES}/office.yaml", f"{EXAMPLES}/branch.yaml",
                       "--src", "198.51.100.5", "--dst", "192.0.2.10", "--protocol", "tcp",
                       "--sport", "443", "--dport", "50000")
    assert code == 0 and "branch selects to-office and accepts ESP_AES128_HMAC_SHA1" in out


def test_check_default_scenario_is_deterministic(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    code1, out1, _ = run(capsys, "check", "--format", "json", "--out", str(tmp_path / "a"))
    code2, out2, _ = run(capsys, "check", "--format", "json", "--out", str(tmp_path / "b"))
    assert out1.replace(str(tmp_path / "a"), "D") == out2.replace(str(tmp_path / "b"), "D")
    assert code1 == code2
    report = json.loads(out1)
    negotiations = [r for r in report["results"] if r["property"] == "negotiate"]
    assert negotiations, "the default scenario has traffic classes"
    sc = load_scenario(None)
    for r in negotiations:  # every reported outcome replays in the concrete semantics
        profile, i_name, r_name, _policy = r["subject"]
        packet = packet_from_json(r["witness"]["packet"])
        outcome = negotiate(sc.hosts[i_name], sc.hosts[r_name], packet, profile_options(profile))
        assert outcome.status == r["negotiation"]["status"]
        assert r["verdict"] == ("refuted" if outcome.status in (
            "INVALID_ID_INFORMATION", "NO_PROPOSAL_CHOSEN") else "holds")
