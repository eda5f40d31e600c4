"""``qmcheck conflicts``: output formats, exit codes, byte-identical reports, input errors,
and witnesses that replay through ``qmcheck lookup``'s concrete semantics."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from qmcheck.model.formats.loader import load_host
from qmcheck.model.semantics.lookup import lookup
from qmcheck.model.values.packet import packet_from_json
from qmcheck.properties.cli.main import main

SITE = """\
host: gw
policies:
  - name: web-all
    priority: 10
    source: 10.1.1.0/24
    destination: 10.2.2.0/24
    protocol: tcp
    action: [ESP_AES128_HMAC_SHA1]
  - name: telnet-b
    priority: 20
    source: 10.1.1.1
    destination: 10.2.2.2
    destination-port: 23
    protocol: tcp
    action: DISCARD
  - name: half-a
    priority: 30
    source: 10.3.0.0/25
    destination: any
    protocol: udp
    action: PASS
  - name: half-b
    priority: 40
    source: 10.3.0.128/25
    destination: any
    protocol: udp
    action: PASS
  - name: all-udp
    priority: 50
    source: 10.3.0.0/24
    destination: any
    protocol: udp
    action: DISCARD
  - name: tie-1
    priority: 60
    source: 10.4.0.0/16
    destination: 10.5.0.0/16
    action: DISCARD
  - name: tie-2
    priority: 60
    source: 10.4.1.0/24
    destination: any
    action: [AH_SHA1]
"""

CLEAN = """\
host: clean
policies:
  - name: ssh
    source: 10.1.1.1
    destination: 10.2.2.0/24
    destination-port: 22
    protocol: tcp
    action: [ESP_AES128_HMAC_SHA1]
  - name: dns
    source: 10.1.1.1
    destination: 10.9.9.9
    destination-port: 53
    protocol: udp
    action: DISCARD
"""


@pytest.fixture()
def site(tmp_path: Path) -> Path:
    path = tmp_path / "site.yaml"
    path.write_text(SITE)
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["conflicts", "--no-progress", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_report_shape_and_witnesses_replay(site: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(site), "--format", "json")
    assert code == 1
    report = json.loads(out)
    assert report["command"] == "conflicts" and report["inputs"] == [str(site)]
    refuted = {(r["property"], tuple(r["subject"])) for r in report["results"]
               if r["verdict"] == "refuted"}
    assert ("policy.shadowed", ("telnet-b",)) in refuted
    assert ("policy.shadowed", ("all-udp",)) in refuted
    assert ("policy.determinism", ("tie-1", "tie-2")) in refuted
    host = load_host(str(site))
    lines = {p.name: p.line for p in host.policies}
    for r in report["results"]:
        assert r["seconds"] is None
        if r["verdict"] != "refuted":
            assert r["subject"] == []
            continue
        packet = packet_from_json(r["witness"]["packet"])
        hit = lookup(host, packet)
        if r["property"] == "policy.shadowed":
            (name,) = r["subject"]
            assert host.policy(name).matches(packet) and hit is not None and hit.name != name
            assert hit.action != host.policy(name).action
            assert r["location"] == {"file": str(site), "line": lines[name]}
        if r["property"] == "policy.determinism":
            assert hit is not None and hit.name in r["subject"]
    all_udp = next(r for r in report["results"] if r["subject"] == ["all-udp"])
    assert all_udp["witness"]["related"] == ["half-a", "half-b"]
    assert report["summary"]["refuted"] == len(refuted)


def test_reports_are_byte_identical(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for fmt in ("text", "json", "sarif"):
        first = run(capsys, str(site), "--format", fmt)
        second = run(capsys, str(site), "--format", fmt)
        assert first == second


def test_clean_file_holds_everything(tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "clean.yaml"
    path.write_text(CLEAN)
    code, out, _ = run(capsys, str(path), "--format", "json")
    report = json.loads(out)
    assert code == 0, out
    assert {r["property"] for r in report["results"]} == {
        "policy.determinism", "policy.shadowed", "policy.redundant", "policy.correlated",
        "policy.generalization", "policy.uncovered"}
    assert all(r["verdict"] == "holds" for r in report["results"])


def test_gap_without_default_is_a_warning(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "gap.yaml"
    path.write_text("default-action: none\n" + CLEAN.split("\n", 1)[1])
    code, out, _ = run(capsys, str(path), "--format", "json", "--property", "policy.uncovered")
    report = json.loads(out)
    gaps = [r for r in report["results"] if r["verdict"] == "refuted"]
    assert code == 0 and {r["severity"] for r in gaps} == {"warning"}
    host = load_host(str(path))
    for r in gaps:
        assert lookup(host, packet_from_json(r["witness"]["packet"])) is None


def test_text_output_and_property_filter(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(site), "--property", "policy.shadowed")
    assert code == 1
    assert "policy.shadowed" in out and "policy.correlated" not in out
    assert "covered by half-a, half-b" in out and "witness:" in out


def test_input_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("policies:\n  - name: x\n    source: 10.0.0.300\n    action: PASS\n")
    code, out, err = run(capsys, str(bad))
    assert code == 2 and out == "" and "bad.yaml:3" in err and "Traceback" not in err
    code, _, err = run(capsys, str(tmp_path / "missing.yaml"))
    assert code == 2 and "no such file" in err
    code, _, err = run(capsys, str(tmp_path / "bad.yaml"), "--timeout", "0")
    assert code == 2


def test_unknown_when_z3_times_out(site: Path, capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A solver that answers unknown gives verdicts unknown (exit 3), never holds."""
    import z3

    from qmcheck.model.encodings import smtlib_batches as policy_smt

    monkeypatch.setattr(policy_smt.BatchSolver, "hint", lambda self, q: None)
    monkeypatch.setattr(policy_smt, "_check", lambda solver, guards: z3.unknown)
    code, out, _ = run(capsys, str(site), "--format", "json", "--property", "policy.shadowed")
    report = json.loads(out)
    assert code == 3
    assert report["summary"]["holds"] == 0 and report["summary"]["unknown"] >= 1


def test_check_runs_conflicts_for_every_host(capsys: pytest.CaptureFixture[str]) -> None:
    from qmcheck.model.formats.loader import load_scenario
    from qmcheck.properties.cli.conflicts import check_step

    scenario = load_scenario(None)
    results = check_step(scenario, None)  # type: ignore[arg-type]
    hosts = {r.subject[0] for r in results}
    assert hosts == set(scenario.hosts)
    assert {r.property for r in results} >= {"policy.shadowed", "policy.determinism"}
    explicit = argparse.Namespace(engine="explicit")
    assert check_step(scenario, explicit) == []


def test_progress_bar_only_after_a_second_and_only_when_enabled() -> None:
    import io

    from rich.console import Console

    from qmcheck.properties.reports.progress import LazyProgress

    quiet = LazyProgress(enabled=False, show_after=0)
    quiet.update("first match", 1, 2)
    assert quiet.progress is None
    slow = LazyProgress(enabled=True, show_after=3600)
    slow.update("first match", 1, 2)
    assert slow.progress is None  # a fast run never shows a bar
    with LazyProgress(enabled=True, show_after=0) as shown:
        shown.console = Console(file=io.StringIO(), force_terminal=True)
        shown.update("first match", 1, 2)
        shown.update("first match", 2, 2)
        assert shown.progress is not None
        assert shown.progress.tasks[0].completed == 2


def test_busy_bar_for_one_long_call() -> None:
    import io
    import time

    from rich.console import Console

    from qmcheck.properties.reports.progress import LazyProgress

    with LazyProgress(enabled=True, show_after=60) as patient:
        patient.console = Console(file=io.StringIO(), force_terminal=True)
        with patient.busy("quick"):
            pass
        assert patient.progress is None  # done before the delay: nothing shown
    with LazyProgress(enabled=True, show_after=0.05) as progress:
        progress.console = Console(file=io.StringIO(), force_terminal=True)
        with progress.busy("loading"):
            deadline = time.monotonic() + 10
            while "loading" not in progress.tasks and time.monotonic() < deadline:
                time.sleep(0.02)
        assert progress.progress is not None and "loading" in progress.tasks
