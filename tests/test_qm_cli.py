"""``qmcheck protocol`` and ``qmcheck show`` on the command line: exit codes, formats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qmcheck.properties.cli.main import main


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_reliable_libreswan_with_patient_timers_holds(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["protocol", "--profile", "libreswan", "--timers", "patient",
                        "--out", str(tmp_path)], capsys)
    assert code == 1  # qm.responder-nothing-before-msg3 (inbound installed before message 2)
    assert "protocol: 12 holds, 1 refuted, 0 unknown" in out
    assert "timers=patient" in out


def test_every_report_names_the_timers(tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["protocol", "--profile", "hpux", "--format", "json",
                        "--property", "qm.no-orphan", "--out", str(tmp_path)], capsys)
    report = json.loads(out)
    assert code == 1 and report["results"][0]["timers"] == "eager"


def test_a_profile_file_is_read_and_its_errors_name_file_line_and_key(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "mine.yaml"
    good.write_text("profile: mine\nbased-on: libreswan\nresponder:\n  m1: [larval-in, "
                    "send-m2]\n  m3: [install-in, install-out]\n")
    code, out, _ = run(["protocol", "--profile", str(good), "--timers", "patient",
                        "--property", "qm.responder-nothing-before-msg3", "--out",
                        str(tmp_path / "out")], capsys)
    assert code == 0 and "HOLDS" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text("profile: bad\nbased-on: hpux\ninitiator:\n  m2: [install-in, jump]\n")
    code, _, err = run(["protocol", "--profile", str(bad)], capsys)
    assert code == 2
    assert f"{bad}:4: field 'initiator.m2'" in err and "jump" in err
    assert "Traceback" not in err
    cyc = tmp_path / "cyc.yaml"
    cyc.write_text("profile: cyc\nbased-on: " + str(cyc) + "\n")
    code, _, err = run(["protocol", "--profile", str(cyc)], capsys)
    assert code == 2 and "cycle" in err


def test_undecided_lifecycle_properties_are_not_reported(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # ids no engine decides yet are listed by the catalogue, never reported (docs/SPEC.md 4)
    code, _, err = run(["protocol", "--profile", "hpux", "--property", "qm.orphan-heals",
                        "--out", str(tmp_path)], capsys)
    assert code == 2 and "qm.orphan-heals" in err


def test_loss_refutes_and_writes_counterexamples(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["protocol", "--loss", "--format", "json", "--out", str(tmp_path)],
                       capsys)
    assert code == 1
    report = json.loads(out)
    assert report["command"] == "protocol"
    refuted = [r for r in report["results"] if r["verdict"] == "refuted"]
    assert refuted and all(r["counterexample"] for r in refuted)
    assert all(r["seconds"] is None for r in report["results"])
    for r in refuted:
        code, text, _ = run(["show", r["counterexample"]], capsys)
        assert code == 0 and text.startswith("counterexample to")


def test_json_is_byte_identical(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["protocol", "--profile", "racoon", "--loss", "--reorder", "--negotiations", "2",
            "--timers", "patient", "--format", "json", "--out", str(tmp_path), "--force"]
    assert run(argv, capsys)[1] == run(argv, capsys)[1]


def test_budget_exhausted_is_unknown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["protocol", "--profile", "hpux", "--negotiations", "2", "--max-states",
                        "5", "--property", "qm.responder-installs-after-msg3",
                        "--out", str(tmp_path)], capsys)
    assert code == 3 and "UNKNOWN" in out


@pytest.mark.parametrize("argv", [
    ["protocol", "--profile", "openbsd"],
    ["protocol", "--negotiations", "-1"],
    ["protocol", "--negotiations", "x"],
    ["protocol", "--retransmits", "-2"],
    ["protocol", "--timers", "lazy"],
    ["protocol", "--profile", "/nonexistent/profile.yaml"],
    ["protocol", "--property", "qm.nothing"],
    ["show", "/nonexistent/trace.json"],
])
def test_bad_values_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(argv, capsys)
    assert code == 2
    assert err.startswith("qmcheck: error:") and "Traceback" not in err


def test_show_formats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(["protocol", "--profile", "hpux", "--loss", "--property", "qm.no-orphan",
         "--out", str(tmp_path)], capsys)
    path = str(tmp_path / "qm.no-orphan__hpux__loss-timers-eager-R-profile-N-1.json")
    assert run(["show", path, "--format", "mermaid"], capsys)[1].startswith("sequenceDiagram")
    assert run(["show", path, "--format", "dot"], capsys)[1].startswith("digraph")
    code, out, _ = run(["show", path, "--format", "json"], capsys)
    assert code == 0 and json.loads(out)["results"][0]["property"] == "qm.no-orphan"
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2")
    assert run(["show", str(bad)], capsys)[0] == 2


def test_matrix_writes_markdown_and_csv(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    # One profile (the cheapest): the whole matrix's verdicts are checked at every reduction
    # level by tests/test_engine_quickmode.py against docs/qm-matrix.
    code, _, _ = run(["protocol", "--profile", "libreswan", "--matrix", str(tmp_path / "m"),
                      "--out", str(tmp_path / "c")], capsys)
    assert code == 1
    md = (tmp_path / "m" / "matrix.md").read_text()
    csv = (tmp_path / "m" / "matrix.csv").read_text().splitlines()
    # libreswan installs inbound at message 1 (docs/PROFILES.md): refuted in every setting
    assert md.count("| `qm.responder-nothing-before-msg3` | **refuted** |") == 13
    assert csv[0].startswith("property,profile,setting")
    assert len(csv) == 1 + 13 * 1 * 13  # decided properties x profiles x settings
    assert all(",libreswan," in row for row in csv[1:])


def test_graph_dot_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dot = tmp_path / "g.dot"
    code, _, _ = run(["protocol", "--profile", "hpux", "--timers", "patient", "--property",
                      "qm.responder-installs-after-msg3", "--graph-dot", str(dot),
                      "--out", str(tmp_path)], capsys)
    assert code == 0
    text = dot.read_text()
    manifest = json.loads((Path(__file__).parent / "expected_state_counts.json").read_text())
    entry = next(e for e in manifest["entries"] if e["reduction"] == "full"
                 and e["options"] == {"profile": "hpux", "timers": "patient"})
    assert text.startswith("digraph states {") and f" {entry['states']} states" in text
    assert text.count(" -> ") == entry["transitions"]  # the manifest's patient hpux entry


def test_catalogue_ids_are_those_of_design_md() -> None:
    """The catalogue lists exactly the property ids of docs/SPEC.md 4, in its order."""
    import re

    from qmcheck.properties import catalogue
    from qmcheck.properties.checks.protocol import QM_IDS, SEMANTICS

    spec = Path(__file__).resolve().parents[1] / "docs" / "SPEC.md"
    text = spec.read_text(encoding="utf-8")
    section = text[text.index("## 4. Properties"):text.index("## 5. Engines")]
    listed = re.findall(r"^- `((?:policy|peers|qm)\.[a-z0-9-]+)`", section, re.M)
    assert [p.id for p in catalogue.CATALOGUE] == listed
    decided = [i for i in listed if i.startswith("qm.") and catalogue.BY_ID[i].engines]
    assert list(QM_IDS) == decided  # ids no engine decides yet are listed, never reported
    # every qm.* id is decided now; the lifecycle's only in runs with the lifecycle on
    assert not [p.id for p in catalogue.CATALOGUE if p.kind == "protocol" and not p.engines]
    assert set(catalogue.LIFECYCLE_IDS) <= set(QM_IDS)
    assert {SEMANTICS[p.flavour] for p in catalogue.CATALOGUE if p.kind == "protocol"} == {
        "always", "eventually", "sometimes"}


def test_reduction_option_changes_counts_not_verdicts(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reports = {}
    for reduction in ("full", "symmetry", "none"):
        code, out, _ = run(["protocol", "--profile", "strongswan", "--loss", "--negotiations",
                            "2", "--timers", "patient", "--reduction", reduction,
                            "--format", "json",
                            "--out", str(tmp_path / reduction)], capsys)
        assert code == 1
        reports[reduction] = json.loads(out)["results"]
    verdicts = {k: [r["verdict"] for r in v] for k, v in reports.items()}
    assert verdicts["full"] == verdicts["symmetry"] == verdicts["none"]
    states = {k: v[0]["states"] for k, v in reports.items()}
    # stubborn sets with the shared allocators as dependencies reduce below symmetry alone
    assert states["full"] < states["symmetry"] < states["none"]
    assert reports["full"][0]["reduction"] == "full"
    for reduction in ("full", "symmetry", "none"):
        for r in reports[reduction]:
            if r["counterexample"]:
                assert run(["show", r["counterexample"]], capsys)[0] == 0


def test_repeated_property_options_add_up(capsys: pytest.CaptureFixture[str]) -> None:
    """``--property A --property B`` decides both (a repeated option used to keep the last)."""
    code = main(["protocol", "--profile", "hpux", "--property", "qm.spi-unique",
                 "--property", "qm.agreement", "--format", "json"])
    assert code == 0
    results = json.loads(capsys.readouterr().out)["results"]
    assert sorted(r["property"] for r in results) == ["qm.agreement", "qm.spi-unique"]
