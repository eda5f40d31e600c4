"""``--profile NAME|PATH`` on negotiate, peers, check and protocol: one profile file, read
through model/quickmode/profiles.py, decides the negotiation everywhere; a bad path or a bad
file is one line naming the file (and line and key), exit 2, nothing else printed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qmcheck.properties.cli.main import main

S = "model/scenarios/default.yaml"
NARROWER = [f"tests/fixtures/strongswan/narrower-{side}.conf" for side in "ir"]
FIRST_MATCH = ("profile: sw-first-match\nbased-on: strongswan\nselectors:\n"
               "  responder: first-match\n  narrowing: false\n")
BAD = "profile: bad\nbased-on: strongswan\nselectors:\n  initiator-ids: exact\n"


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "first.yaml").write_text(FIRST_MATCH, encoding="utf-8")
    (tmp_path / "bad.yaml").write_text(BAD, encoding="utf-8")
    return {"first": str(tmp_path / "first.yaml"), "bad": str(tmp_path / "bad.yaml"),
            "missing": str(tmp_path / "missing.yaml")}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def negotiate_args(profile: str) -> list[str]:
    return ["negotiate", *NARROWER, "--src", "10.10.1.1", "--dst", "10.10.2.1", "--profile",
            profile, "--format", "json"]


def test_negotiate_reads_a_profile_file(capsys: pytest.CaptureFixture[str],
                                        files: dict[str, str]) -> None:
    """The recorded strongSwan 'responder narrower' run succeeds under strongswan; the same
    file with first-match containment (a wrong-rule mutant) gives INVALID_ID_INFORMATION."""
    code, out, _ = run(capsys, *negotiate_args("strongswan"))
    (result,) = json.loads(out)["results"]
    assert code == 0 and result["negotiation"]["status"] == "accepted"
    assert result["negotiation"]["message1"]["idci"]["id"] == "ID_IPV4_ADDR_SUBNET"
    assert result["negotiation"]["message2"]["idci"]["address"] == "10.10.1.1"
    code, out, _ = run(capsys, *negotiate_args(files["first"]))
    (result,) = json.loads(out)["results"]
    assert code == 1 and result["negotiation"]["status"] == "INVALID_ID_INFORMATION"


def test_peers_reads_a_profile_file(capsys: pytest.CaptureFixture[str],
                                    files: dict[str, str]) -> None:
    code, out, _ = run(capsys, "peers", *NARROWER, "--profile", files["first"], "--format",
                       "json")
    report = json.loads(out)
    refuted = {r["property"] for r in report["results"] if r["verdict"] == "refuted"}
    assert code == 1 and "peers.negotiation" in refuted
    messages = [r["message"] for r in report["results"] if r["property"] == "peers.negotiation"]
    assert any("INVALID_ID_INFORMATION" in m for m in messages)
    assert any(files["first"] in m for m in messages)  # the profile named in each result


def test_check_profile_replaces_the_scenarios(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", "--profile", "racoon", "--engine", "explicit",
                       "--format", "json")
    profiles = {r["subject"][0] for r in json.loads(out)["results"]
                if r["property"].startswith("qm.") or r["property"] == "negotiate"}
    assert code == 1 and profiles == {"racoon"}


@pytest.mark.parametrize("command", [
    ["negotiate", f"{S}:hostA", f"{S}:hostB", "--src", "10.1.1.1", "--dst", "10.2.2.2"],
    ["peers", f"{S}:hostA", f"{S}:hostB"],
    ["check"],
    ["protocol"],
])
def test_bad_profile_is_one_line_exit_2(capsys: pytest.CaptureFixture[str],
                                        files: dict[str, str], command: list[str]) -> None:
    for key, expect in (("bad", ":4: field 'selectors.initiator-ids'"),
                        ("missing", ": field 'profile': no such profile file")):
        code, out, err = run(capsys, *command, "--profile", files[key])
        assert code == 2 and out == "", (command, key)
        assert err.count("\n") == 1 and files[key] + expect in err, err
    code, out, err = run(capsys, *command, "--profile", "nosuch")
    assert code == 2 and out == "" and err.count("\n") == 1 and "unknown profile" in err


@pytest.mark.parametrize("command", [
    ["diff", "examples/hostA.batch", "examples/diff/hostA-new.yaml"],
    ["require", "examples/require/requirements.yaml", S],
])
def test_diff_and_require_read_profile_files(capsys: pytest.CaptureFixture[str],
                                             files: dict[str, str], command: list[str]) -> None:
    code, out, err = run(capsys, *command, "--profile", files["bad"])
    assert code == 2 and out == "" and err.count("\n") == 1
    assert files["bad"] + ":4: field 'selectors.initiator-ids'" in err
    code, out, err = run(capsys, *command, "--profile", files["missing"])
    assert code == 2 and out == "" and files["missing"] + ": field '--profile'" in err
    assert run(capsys, *command, "--profile", files["first"])[0] in (0, 1)
