"""``qmcheck peers``: text, JSON and SARIF, exit codes, determinism, witnesses and the traffic
summary replayed by the concrete semantics, and the ``check`` step."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import z3

from qmcheck.model.formats.loader import load_host_spec
from qmcheck.model.semantics.negotiation import profile_options
from qmcheck.model.values.packet import packet_from_json
from qmcheck.properties.checks import peers as peers_checks
from qmcheck.properties.checks.peers import concrete_verdict
from qmcheck.properties.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = str(ROOT / "model" / "scenarios" / "default.yaml")
A, B = f"{SCENARIO}:hostA", f"{SCENARIO}:hostB"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def write(tmp_path: Path, name: str, source: str, destination: str) -> str:
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"host: {name}\npolicies:\n  - {{name: vpn, source: {source}, "
                    f"destination: {destination}, action: [ESP_AES128_HMAC_SHA1]}}\n")
    return str(path)


def replay_all(report: dict, hosts: dict[str, object]) -> int:
    """Replay every refutation's witness; return how many were replayed."""
    count = 0
    for r in report["results"]:
        if r["verdict"] != "refuted":
            continue
        i, resp = hosts[r["initiator"]], hosts[r["responder"]]
        packet = packet_from_json(r["witness"]["packet"])
        verdict = concrete_verdict(i, resp, packet, profile_options(r["profile"]))  # type: ignore[arg-type]
        assert r["property"] in verdict.failed, r
        count += 1
    return count


def test_default_scenario_refutations_replay(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "peers", A, B, "--profile", "all", "--format", "json")
    report = json.loads(out)
    assert code == 1 and report["command"] == "peers"
    hosts = {"hostA": load_host_spec(A), "hostB": load_host_spec(B)}
    assert replay_all(report, hosts) == report["summary"]["refuted"] > 0
    # both directions, every profile, every property has a verdict
    seen = {(r["property"], r["initiator"], r["profile"]) for r in report["results"]}
    assert len(seen) == 3 * 2 * 4


def test_output_is_deterministic_and_text_names_witnesses(capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    outs = [run(capsys, "peers", A, B, "--format", "json")[1] for _ in range(2)]
    assert outs[0] == outs[1]
    code, text, _ = run(capsys, "peers", A, B)
    assert code == 1 and "ERROR    peers.symmetry" in text and "witness: 10.1.1.1:" in text


def test_mirrored_hosts_hold_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = write(tmp_path, "a", "10.1.1.0/24", "10.2.2.0/24")
    b = write(tmp_path, "b", "10.2.2.0/24", "10.1.1.0/24")
    code, out, _ = run(capsys, "peers", a, b, "--format", "json")
    report = json.loads(out)
    assert code == 0 and report["summary"] == {"holds": 6, "refuted": 0, "unknown": 0}
    assert all(r["subject"] == [] for r in report["results"])


def test_summary_rows_replay(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = write(tmp_path, "a", "10.1.1.0/24", "10.2.2.0/24")
    b = write(tmp_path, "b", "10.2.2.0/24", "10.1.0.0/16")
    code, out, _ = run(capsys, "peers", a, b, "--summary", "--format", "json")
    report = json.loads(out)
    rows = [r for r in report["results"] if r["property"] == "peers.traffic"]
    hosts = {"a": load_host_spec(a), "b": load_host_spec(b)}
    outcomes = set()
    for r in rows:
        t = r["traffic"]
        v = concrete_verdict(hosts[t["initiator"]], hosts[t["responder"]],  # type: ignore[arg-type]
                             packet_from_json(t["example"]), profile_options(t["profile"]))
        assert v.outcome.initiator_policy.name == t["initiator_policy"]  # type: ignore[union-attr]
        assert (v.outcome.responder_policy.name if v.outcome.responder_policy else None
                ) == t["responder_policy"]
        outcomes.add((t["initiator"], t["outcome"]))
    # a's traffic is accepted; b's wider policy is refuted: hpux sends its prefix 10.1.0.0/16
    # as a subnet ID (ranges-exact, guide p.158), which a's /24 does not contain
    assert outcomes == {("a", "accepted"), ("b", "NO_PROPOSAL_CHOSEN")}
    code, text, _ = run(capsys, "peers", a, b, "--summary")
    assert code == 1
    assert "traffic summary" in text and "ESP_AES128_HMAC_SHA1" in text


def test_sarif_points_at_the_policy_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "peers", A, B, "--format", "sarif")
    sarif = json.loads(out)
    results = sarif["runs"][0]["results"]
    assert code == 1 and results
    for r in results:
        loc = r["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"]["uri"].endswith("default.yaml")
        assert loc["region"]["startLine"] > 1


def test_input_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "peers", str(tmp_path / "missing.yaml"), B)
    assert code == 2 and "no such file" in err
    code, _, err = run(capsys, "peers", A, B, "--timeout", "0")
    assert code == 2 and "--timeout" in err


def test_solver_timeout_is_unknown_exit_3(monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    class GivesUp(z3.Solver):
        def check(self, *assumptions: object) -> z3.CheckSatResult:
            return z3.unknown

    monkeypatch.setattr(peers_checks, "make_solver", lambda ctx, ms: GivesUp(ctx=ctx))
    code, out, _ = run(capsys, "peers", A, B, "--format", "json")
    report = json.loads(out)
    assert code == 3 and report["summary"]["refuted"] == 0 and report["summary"]["unknown"] > 0
    assert all(r["verdict"] == "unknown" for r in report["results"]
               if r["property"] != "peers.negotiation" or r["verdict"] != "holds")


def test_check_runs_peers_for_every_pair(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", "--format", "json")
    assert code == 1
    report = json.loads(out)
    peers = [r for r in report["results"] if r["property"].startswith("peers.")]
    assert {(r["initiator"], r["profile"]) for r in peers} == {
        (h, p) for h in ("hostA", "hostB") for p in ("hpux", "racoon", "strongswan",
                                                     "libreswan")}
    hosts = {"hostA": load_host_spec(A), "hostB": load_host_spec(B)}
    assert replay_all({"results": peers}, hosts) > 0


def test_jobs_give_the_same_report(capsys: pytest.CaptureFixture[str]) -> None:
    one = run(capsys, "peers", A, B, "--profile", "all", "--format", "json")
    two = run(capsys, "peers", A, B, "--profile", "all", "--format", "json", "--jobs", "2")
    assert one == two and one[0] == 1
