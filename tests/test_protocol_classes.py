"""A scenario's hosts drive the protocol runs: per traffic class, the negotiation under the
profile decides whether the run explores success, NO_PROPOSAL_CHOSEN or
INVALID_ID_INFORMATION (``check`` and ``protocol --scenario``)."""

from __future__ import annotations

import json

import pytest

from qmcheck.model.formats.loader import load_scenario
from qmcheck.model.quickmode.profiles import negotiation_options
from qmcheck.model.semantics.negotiation import negotiate
from qmcheck.model.values.packet import packet_from_json
from qmcheck.properties.checks.protocol_classes import (
    QM_OUTCOME,
    runs_needed,
    scenario_classes,
)
from qmcheck.properties.cli.main import main

SCENARIO = "tests/fixtures/scenarios/class-outcomes.yaml"
EXPECTED = {("hostA", "telnet-b"): "installed", ("hostB", "telnet-a"): "installed",
            ("hostA", "web-b"): "no-proposal-chosen", ("hostB", "web-a"): "no-proposal-chosen",
            ("hostA", "syslog-b"): "invalid-id-information"}


def test_class_outcomes_replay_on_the_negotiation_semantics() -> None:
    scenario = load_scenario(SCENARIO)
    classes = scenario_classes(scenario, ["hpux"])
    assert {(c.initiator, c.policy): c.outcome for c in classes} == EXPECTED
    for c in classes:
        out = negotiate(scenario.hosts[c.initiator], scenario.hosts[c.responder], c.packet,
                        negotiation_options(c.profile))
        assert out.initiator_policy is not None and out.initiator_policy.name == c.policy
        assert QM_OUTCOME[out.status] == c.outcome
    assert runs_needed(classes) == [("hpux", "installed"), ("hpux", "no-proposal-chosen"),
                                    ("hpux", "invalid-id-information")]


def per_class(results: list[dict]) -> dict[tuple[str, str], dict[str, str]]:  # type: ignore[type-arg]
    """(initiator, policy) -> property -> verdict, from the classes each result lists."""
    out: dict[tuple[str, str], dict[str, str]] = {}
    for r in results:
        for c in r.get("classes", []):
            assert c["outcome"] == r["outcome"] == r["options"]["outcome"]
            assert c["profile"] == r["subject"][0]
            out.setdefault((c["initiator"], c["policy"]), {})[r["property"]] = r["verdict"]
    return out


def check_each_class(results: list[dict]) -> None:  # type: ignore[type-arg]
    """Each class's run is the one its outcome asks for: a failed negotiation installs
    nothing (qm.reachable-installed refuted), a successful one does."""
    table = per_class(results)
    assert set(table) == set(EXPECTED)
    for key, outcome in EXPECTED.items():
        installs = table[key]["qm.reachable-installed"]
        assert installs == ("holds" if outcome == "installed" else "refuted"), key
    # the packet each class lists replays to its outcome
    scenario = load_scenario(SCENARIO)
    for r in results:
        for c in r.get("classes", []):
            out = negotiate(scenario.hosts[c["initiator"]], scenario.hosts[c["responder"]],
                            packet_from_json(c["packet"]), negotiation_options(c["profile"]))
            assert QM_OUTCOME[out.status] == c["outcome"]


def test_check_runs_the_protocol_per_class(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", SCENARIO, "--engine", "explicit", "--format", "json"]) == 1
    results = [r for r in json.loads(capsys.readouterr().out)["results"]
               if r["property"].startswith("qm.")]
    check_each_class(results)
    assert main(["check", SCENARIO, "--engine", "explicit"]) == 1
    text = capsys.readouterr().out
    section = text.split("protocol run per traffic class")[1].split("\n\n")[0]
    lines = [line for line in section.splitlines()[1:] if not line.startswith("    ")]
    assert len(lines) == len(EXPECTED) and all(len(line) <= 100 for line in text.splitlines())
    for line in lines:  # verdict first
        assert line.split()[0] in ("HOLDS", "ERROR", "WARNING", "NOTE", "UNKNOWN"), line
    assert any("syslog-b: invalid-id-information" in line for line in lines)


def test_protocol_with_a_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["protocol", "--scenario", SCENARIO, "--timers", "patient", "--property",
            "qm.reachable-installed", "qm.no-black-hole"]
    assert main([*argv, "--format", "json"]) == 1
    results = json.loads(capsys.readouterr().out)["results"]
    check_each_class(results)
    assert main([*argv, "--outcome", "installed"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--outcome does not combine with --scenario" in err


def test_runs_without_a_scenario_keep_the_outcome_option(capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    argv = ["protocol", "--profile", "hpux", "--property", "qm.reachable-installed",
            "--format", "json"]
    for outcome, verdict in (("installed", "holds"), ("no-proposal-chosen", "refuted")):
        main([*argv, "--outcome", outcome])
        (r,) = json.loads(capsys.readouterr().out)["results"]
        assert r["verdict"] == verdict and "classes" not in r


def test_engines_agree_per_class(capsys: pytest.CaptureFixture[str]) -> None:
    """The explicit engine and z3 (BMC, k-induction) give the same verdict for every class's
    run, failure outcomes included."""
    assert main(["protocol", "--scenario", SCENARIO, "--engine", "all", "--timers", "patient",
                 "--property", "qm.reachable-installed", "--format", "json"]) == 1
    results = json.loads(capsys.readouterr().out)["results"]
    assert {r["outcome"] for r in results} == set(EXPECTED.values())
    for r in results:
        assert r["engine"] == "explicit+smt" and r["engines_agree"] is True, r
    check_each_class(results)
