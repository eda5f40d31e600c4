"""qmcheck check: it checks the user's input (policies, pairs, the protocol runs they drive),
writes nothing unasked, refuses unsafe output paths, and prints the verdict first."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from qmcheck.model.formats.loader import load_scenario
from qmcheck.properties.cli.main import main
from qmcheck.properties.traces.counterexample import load_trace, replay

ROOT = Path(__file__).resolve().parents[1]
CLEAN = str(ROOT / "examples" / "clean.yaml")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_clean_scenario_exits_0_and_checks_only_its_profile(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "check", CLEAN, "--format", "json")
    assert code == 0, out
    report = json.loads(out)
    assert report["summary"]["refuted"] == 0 and report["summary"]["holds"] > 0
    qm = [r for r in report["results"] if r["property"].startswith("qm.")]
    assert qm and {tuple(r["subject"]) for r in qm} == {
        ("hpux", "commit,timers=patient,R=profile,N=1")}
    assert all(r["pairs"] == ["hostA -> hostB", "hostB -> hostA"] for r in qm)
    assert {r["property"].split(".")[0] for r in report["results"]} == {
        "negotiate", "policy", "peers", "qm"}
    assert list(tmp_path.iterdir()) == [], "nothing is written without --out"
    assert report["files"] == []


def test_protocol_runs_follow_the_pairs(capsys: pytest.CaptureFixture[str],
                                        tmp_path: Path) -> None:
    # no pair protects anything: there is no Quick Mode to check
    plain = tmp_path / "plain.yaml"
    plain.write_text("hosts:\n  a:\n    policies:\n      - {name: p, source: 10.0.0.1, "
                     "destination: 10.0.0.2, action: PASS}\n  b:\n    policies:\n"
                     "      - {name: q, source: 10.0.0.2, destination: 10.0.0.1, action: PASS}\n"
                     "protocol: {profiles: [racoon], loss: true}\n", encoding="utf-8")
    code, out, _ = run(capsys, "check", str(plain), "--format", "json")
    report = json.loads(out)
    assert not [r for r in report["results"] if r["property"].startswith("qm.")]
    # the scenario's own fault options and profile are the run checked
    scen = tmp_path / "lossy.yaml"
    scen.write_text(Path(CLEAN).read_text(encoding="utf-8").replace(
        "profiles: [hpux]", "profiles: [strongswan]\n  loss: true"), encoding="utf-8")
    code, out, _ = run(capsys, "check", str(scen), "--format", "json", "--engine", "explicit")
    report = json.loads(out)
    qm = [r for r in report["results"] if r["property"].startswith("qm.")]
    assert {tuple(r["subject"]) for r in qm} == {
        ("strongswan", "loss+commit,timers=patient,R=profile,N=1")}
    assert code == 1 and any(r["verdict"] == "refuted" for r in qm)


def test_protocol_matrix_only_on_request(capsys: pytest.CaptureFixture[str],
                                         tmp_path: Path) -> None:
    from qmcheck.properties.checks.protocol_matrix import SETTINGS

    # a scenario that names no setting (clean.yaml names one: commit bit, patient timers)
    plain = tmp_path / "plain.yaml"
    plain.write_text("\n".join(line for line in Path(CLEAN).read_text(encoding="utf-8")
                               .splitlines() if not line.startswith(("  commit-bit",
                                                                     "  timers"))),
                     encoding="utf-8")
    _, out, _ = run(capsys, "check", str(plain), "--format", "json", "--engine", "explicit",
                       "--protocol-matrix")
    qm = [r for r in json.loads(out)["results"] if r["property"].startswith("qm.")]
    # every fault setting, one profile
    assert len({tuple(r["subject"]) for r in qm}) == len(SETTINGS)


def test_counterexamples_only_with_out_and_named(capsys: pytest.CaptureFixture[str],
                                                 tmp_path: Path) -> None:
    out_dir = tmp_path / "cex"
    code, out, _ = run(capsys, "check", "--engine", "explicit", "--format", "json",
                       "--out", str(out_dir))
    report = json.loads(out)
    on_disk = sorted(str(p) for p in out_dir.rglob("*") if p.is_file())
    assert on_disk and report["files"] == on_disk
    refuted = [r for r in report["results"] if r["property"].startswith("qm.")
               and r["verdict"] == "refuted"]
    assert refuted
    for r in refuted:  # every counterexample written replays in the concrete semantics
        assert r["counterexample"] in on_disk
        trace = load_trace(r["counterexample"])
        replay(trace)  # raises when a step is not enabled or a state differs
    # the folder now holds files: a second run refuses (exit 2) unless --force
    code, _, err = run(capsys, "check", "--engine", "explicit", "--out", str(out_dir))
    assert code == 2 and "--out" in err and "--force" in err and len(err.splitlines()) == 1
    code, text, _ = run(capsys, "check", "--engine", "explicit", "--out", str(out_dir),
                        "--force")
    assert code == 1 and "wrote " in text and on_disk[0] in text


@pytest.mark.parametrize("target", ["", "/dev/null", "FILE", "/proc/qmcheck-nowhere/x"])
def test_bad_out_is_a_clean_input_error(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                        target: str) -> None:
    if target == "FILE":
        target = str(tmp_path / "f.txt")
        Path(target).write_text("mine\n", encoding="utf-8")
    code, out, err = run(capsys, "check", CLEAN, "--out", target)
    assert code == 2 and out == "" and err.startswith("qmcheck: error: <command line>")
    assert "'--out'" in err and len(err.splitlines()) == 1
    if target.endswith("f.txt"):
        assert Path(target).read_text(encoding="utf-8") == "mine\n"


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_unwritable_out(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    code, _, err = run(capsys, "check", CLEAN, "--out", str(locked / "x"))
    assert code == 2 and "not writable" in err


def test_text_verdict_first_fits_100_columns_and_names_severities(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check")
    lines = out.splitlines()
    assert lines[1] == "verdict: REFUTED (exit 1)" and code == 1
    assert max(len(line) for line in lines) <= 100
    assert "errors (" in out and "warnings (" in out and "notes (" in out
    assert "REFUTED " not in out.replace("verdict: REFUTED", "")
    code, js, _ = run(capsys, "check", "--format", "json")
    report = json.loads(js)
    s, f = report["summary"], report["findings"]
    assert f"check: {s['holds']} holds, {s['refuted']} refuted, {s['unknown']} unknown" in out
    assert f"{f['error']} errors, {f['warning']} warnings" in out
    assert sum(f.values()) == s["refuted"]
    code, sarif, _ = run(capsys, "check", "--format", "sarif")
    sarif_run = json.loads(sarif)["runs"][0]
    props = sarif_run["properties"]
    assert props["summary"] == s and props["findings"] == f
    assert len(sarif_run["results"]) == s["refuted"] + s["unknown"]
    uris = [a["location"]["uri"] for a in sarif_run["artifacts"]]
    assert uris and all(re.fullmatch(r"[A-Za-z0-9%/._:-]+", u) for u in uris), uris


def test_severity_and_max_findings_filter_the_listing_not_the_counts(
        capsys: pytest.CaptureFixture[str]) -> None:
    _, full, _ = run(capsys, "check", "--format", "json")
    code, errors_only, _ = run(capsys, "check", "--format", "json", "--severity", "error")
    a, b = json.loads(full), json.loads(errors_only)
    assert a["summary"] == b["summary"] and a["findings"] == b["findings"] and code == 1
    shown = [r for r in b["results"] if r["verdict"] == "refuted"]
    assert shown and all(r["severity"] == "error" for r in shown)
    assert b["omitted"] == a["findings"]["warning"] + a["findings"]["note"]
    code, one, _ = run(capsys, "check", "--max-findings", "1")
    assert code == 1 and "not shown" in one
    code, _, err = run(capsys, "check", "--max-findings", "x")
    assert code == 2 and "--max-findings" in err


def test_builtin_scenario_profiles_are_its_own() -> None:
    scenario = load_scenario(None)
    assert scenario.protocol["profiles"] == ["hpux", "racoon", "strongswan", "libreswan"]


@pytest.mark.parametrize("option", ["--out", "--matrix", "--graph-dot"])
@pytest.mark.parametrize("target", ["", "/dev/null", "FILE"])
def test_protocol_outputs_are_checked_before_the_run(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, option: str, target: str) -> None:
    if target == "FILE":
        target = str(tmp_path / "mine.txt")
        Path(target).write_text("mine\n", encoding="utf-8")
    code, out, err = run(capsys, "protocol", "--profile", "hpux", option, target)
    assert code == 2 and out == "" and f"'{option}'" in err and len(err.splitlines()) == 1
    if target.endswith("mine.txt"):
        assert Path(target).read_text(encoding="utf-8") == "mine\n"


def test_protocol_writes_nothing_unasked_and_names_its_files(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, _ = run(capsys, "protocol", "--profile", "hpux", "--loss")
    assert code == 1 and list(tmp_path.iterdir()) == []
    dot = tmp_path / "g.dot"
    code, out, _ = run(capsys, "protocol", "--profile", "hpux", "--loss", "--out", "cex",
                       "--graph-dot", str(dot), "--format", "json")
    files = json.loads(out)["files"]
    assert str(dot) in files and files == sorted(
        [str(dot), *(str(p) for p in Path("cex").rglob("*") if p.is_file())])
    code, _, err = run(capsys, "protocol", "--profile", "hpux", "--graph-dot", str(dot))
    assert code == 2 and "--force" in err
    code, _, _ = run(capsys, "protocol", "--profile", "hpux", "--commit-bit", "--timers",
                     "patient", "--graph-dot", str(dot), "--force")
    assert code == 0 and dot.read_text(encoding="utf-8").startswith("digraph")


def test_help_texts_are_plain_text(capsys: pytest.CaptureFixture[str]) -> None:
    from qmcheck.properties.cli.main import build_parser

    root = build_parser()
    texts = [root.format_help()]
    for action in root._actions:
        if hasattr(action, "choices") and isinstance(action.choices, dict):
            texts.extend(p.format_help() for p in action.choices.values())
    assert len(texts) > 5 and not any("``" in t for t in texts)
    assert not any("DESIGN.md" in t for t in texts)


def test_bash_completion_is_generated_from_the_parser(capsys: pytest.CaptureFixture[str],
                                                      tmp_path: Path) -> None:
    import shutil
    import subprocess

    code, script, _ = run(capsys, "completion", "bash")
    assert code == 0 and "complete -o filenames -F _qmcheck qmcheck" in script
    assert run(capsys, "completion", "bash")[1] == script  # deterministic
    if shutil.which("bash") is None:
        pytest.skip("no bash")
    path = tmp_path / "c.sh"
    path.write_text(script, encoding="utf-8")

    def complete(*words: str) -> list[str]:
        argv = " ".join(f"'{w}'" for w in words)
        probe = (f"source {path}; COMP_WORDS=(qmcheck {argv}); "
                 f"COMP_CWORD={len(words)}; _qmcheck; echo \"${{COMPREPLY[@]}}\"")
        done = subprocess.run(["bash", "-c", probe], capture_output=True, text=True,
                              check=True)
        return done.stdout.split()

    assert complete("prot") == ["protocol"]
    assert "--protocol-matrix" in complete("check", "--pro")
    assert complete("check", "--format", "") == ["text", "json", "sarif", "html"]
    assert complete("protocol", "--no-pro") == ["--no-progress"]
    assert complete("completion", "") == ["bash", "zsh"]
    code, zsh, _ = run(capsys, "completion", "zsh")
    assert code == 0 and "bashcompinit" in zsh


def test_packet_files_accept_service_and_protocol_names(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    scenario = str(ROOT / "model" / "scenarios" / "default.yaml")
    packets = tmp_path / "p.jsonl"
    packets.write_text('{"src": "10.1.1.1", "dst": "10.2.2.2", "protocol": "TCP", '
                       '"sport": 49152, "dport": "telnet"}\n', encoding="utf-8")
    code, out, _ = run(capsys, "lookup", f"{scenario}:hostA", "--packets", str(packets),
                       "--format", "json")
    result = json.loads(out)["results"][0]
    assert code == 0 and result["subject"] == ["telnet-b"]
    assert result["witness"]["packet"]["dport"] == 23
    packets.write_text('{"src": "10.1.1.1", "dst": "10.2.2.2", "dport": "nope"}\n',
                       encoding="utf-8")
    code, _, err = run(capsys, "lookup", f"{scenario}:hostA", "--packets", str(packets))
    assert code == 2 and "dport" in err and ":1" in err


def test_html_report_is_one_offline_file_with_the_same_counts(
        capsys: pytest.CaptureFixture[str]) -> None:
    import html as html_lib

    code, page, _ = run(capsys, "check", "--format", "html")
    _, js, _ = run(capsys, "check", "--format", "json")
    report = json.loads(js)
    meta = re.search(r'<meta name="qmcheck-counts" content="([^"]*)"', page)
    assert meta is not None and code == 1
    counts = json.loads(html_lib.unescape(meta.group(1)))
    assert counts == {"summary": report["summary"], "findings": report["findings"]}
    assert page.count('<svg class="sequence"') == sum(
        r["property"].startswith("qm.") and r["verdict"] == "refuted" for r in report["results"])
    assert 'id="peer-matrix"' in page and 'id="states-plot"' in page
    assert not re.search(r"""(src|href)\s*=\s*["']?https?:""", page)
    assert run(capsys, "check", "--format", "html")[1] == page  # deterministic
    code, clean, _ = run(capsys, "check", CLEAN, "--format", "html")
    assert code == 0 and "verdict: HOLDS" in clean


def test_check_policy_witnesses_replay(capsys: pytest.CaptureFixture[str]) -> None:
    """Every policy.* witness that check prints is replayed by the concrete lookup."""
    from qmcheck.model.semantics.lookup import lookup
    from qmcheck.model.semantics.witness import is_host_address
    from qmcheck.model.values.packet import packet_from_json

    _, out, _ = run(capsys, "check", "--format", "json")
    scenario = load_scenario(None)
    replayed = 0
    for r in json.loads(out)["results"]:
        if not r["property"].startswith("policy.") or r["verdict"] != "refuted":
            continue
        host = scenario.hosts[r["subject"][0]]
        names = r["subject"][1:]
        packet = packet_from_json(r["witness"]["packet"])
        hit = lookup(host, packet)
        policies = [host.policy(n) for n in names]
        if r["property"] in ("policy.correlated", "policy.generalization"):
            first, later = policies
            assert first.matches(packet) and later.matches(packet) and hit is first
            assert first.action != later.action
        elif r["property"] == "policy.shadowed":
            assert policies[0].matches(packet) and hit is not policies[0]
        elif r["property"] == "policy.uncovered":
            assert hit is None
        assert packet.protocol != 0 and is_host_address(4, packet.src)
        replayed += 1
    assert replayed == 8


def test_flags_are_consistent_across_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse
    import sys

    from qmcheck.properties.cli.main import build_parser
    from qmcheck.properties.cli.options import progress_enabled

    root = build_parser()
    commands = next(a.choices for a in root._actions
                    if isinstance(a, argparse._SubParsersAction))
    options = {name: {o for a in p._actions for o in a.option_strings}
               for name, p in commands.items()}
    for name, opts in options.items():
        if name != "completion":
            assert "--format" in opts, name
        if name not in ("completion", "show"):  # show renders one trace, not findings
            assert {"--severity", "--max-findings"} <= opts, name
    for name in ("check", "conflicts", "peers", "protocol"):
        assert {"--progress", "--no-progress"} <= options[name], name
    for name in ("check", "protocol"):
        assert {"--out", "--force"} <= options[name], name
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert progress_enabled(argparse.Namespace(progress=None))
    assert not progress_enabled(argparse.Namespace(progress=False))
    monkeypatch.setattr(sys.stdout, "isatty", lambda: False)
    assert not progress_enabled(argparse.Namespace(progress=None))
    assert progress_enabled(argparse.Namespace(progress=True))


def test_bad_input_leaves_no_output_folder(capsys: pytest.CaptureFixture[str],
                                           tmp_path: Path) -> None:
    target = tmp_path / "new"
    code, _, err = run(capsys, "check", str(tmp_path / "missing.yaml"), "--out", str(target))
    assert code == 2 and "missing.yaml" in err and not target.exists()


def test_verdict_words_say_what_holds(capsys: pytest.CaptureFixture[str]) -> None:
    """HOLDS only when nothing at all is refuted; a note or warning gives PASSED (exit 0)."""
    code, out, _ = run(capsys, "conflicts", str(ROOT / "examples" / "office.yaml"))
    assert code == 0 and out.startswith("verdict: PASSED (exit 0)")
    assert "NOTE     policy.generalization" in out and "REFUTED" not in out
    code, out, _ = run(capsys, "check", CLEAN)
    assert code == 0 and out.splitlines()[1] == "verdict: HOLDS (exit 0)"
