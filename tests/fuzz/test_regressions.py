"""Regression corpus of issue 13: one case per class of hostile input, with its exact exit code
and a one-line error that names the file, the line and the field (docs/RELIABILITY.md)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from qmcheck.properties.cli import lookup as cmd_lookup
from tests.fuzz.harness import ROOT, run_bounded, run_cli

FIXTURE = (ROOT / "counterexamples" / "fixtures" /
           "qm.no-orphan__hpux__loss-commit-timers-patient-R-profile-N-1.json")
PACKET = ("--src", "10.1.1.1", "--dst", "10.2.2.2")
HOST = "policies:\n  - name: web\n    priority: {prio}\n    action: PASS\n"
SCENARIO = ("hosts:\n  a:\n    policies: [{{name: x, action: PASS}}]\n"
            "protocol:\n  {option}\n")
BOMB = "".join(f"  {k}: &{k} [{', '.join([f'*{p}'] * 9)}]\n"
               for p, k in zip("abcdefgh", "bcdefghi", strict=True))
BOMB = "hosts:\n  a:\n    policies: [{name: x, action: PASS}]\nprotocol:\n" \
       "  a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + BOMB


def one_line_error(err: str, *fragments: str) -> str:
    """The single stderr line, which must hold every fragment and no control character."""
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1, err
    line = lines[0]
    assert line.startswith("qmcheck: error: "), line
    assert "\x1b" not in line and "\x00" not in line and len(line) < 500, line
    for fragment in fragments:
        assert fragment in line, (fragment, line)
    return line


def write(tmp_path: Path, name: str, text: str | bytes) -> str:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return str(path)


# -- numbers: ASCII digits only, bounded length, ranges, in every format --------------------
@pytest.mark.parametrize(("name", "text", "line", "field"), [
    ("superscript.yaml", HOST.format(prio="²"), 3, "priority"),
    ("arabic.yaml", HOST.format(prio="\u0661\u0660"), 3, "priority"),
    ("long.yaml", HOST.format(prio="9" * 4400), 3, "priority"),
    ("lifetime.yaml", "policies:\n  - name: a\n    action: ESP_AES128_HMAC_SHA1/²\n", 3,
     "action"),
    ("prefix.yaml", "policies:\n  - name: a\n    source: 10.0.0.0/²\n    action: PASS\n", 3,
     "source"),
    ("prio.batch", "add host a -priority \u0661\u0660 -action PASS\n", 1, "priority"),
    ("port.batch", "add host a -destination 10.0.0.1/32/² -action PASS\n", 1,
     "destination-port"),
    ("prio.xfrm", "src 10.0.0.1/32 dst 10.0.0.2/32\n\tdir out priority 18446744073709551616"
     " ptype main\n", 2, "priority"),
    ("prio.conf", "connections {\n c {\n  children {\n   x {\n    local_ts = 10.0.0.1\n"
     "    remote_ts = 10.0.0.2\n    priority = " + "9" * 5000 + "\n   }\n  }\n }\n}\n", 7,
     "priority"),
])
def test_numbers_in_every_format(tmp_path: Path, name: str, text: str, line: int,
                                 field: str) -> None:
    path = write(tmp_path, name, text)
    outcome = run_cli("lookup", path, *PACKET)
    assert outcome.code == 2
    one_line_error(outcome.err, f"{path}:{line}: field '", f"{field}': ")


@pytest.mark.parametrize(("option", "value"), [
    ("--sport", "²"), ("--dport", "9" * 5000), ("--protocol", "\u0661\u0660"), ("--sport", "-1")])
def test_numbers_in_packet_options(tmp_path: Path, option: str, value: str) -> None:
    path = write(tmp_path, "h.yaml", HOST.format(prio=10))
    outcome = run_cli("lookup", path, *PACKET, "--protocol", "tcp", f"{option}={value}")
    assert outcome.code == 2
    one_line_error(outcome.err, "<command line>", f"field '{option}'")


@pytest.mark.parametrize(("line", "fragment"), [
    ('{"src": "10.1.1.1", "dst": "10.2.2.2", "sport": ' + "9" * 5000 + "}", "digits"),
    ('{"src": "10.1.1.1", "dst": "10.2.2.2", "sport": "²"}', "field 'sport'"),
    ('{"src": "10.1.1.1", "dst": "10.2.2.2", "sport": true}', "field 'sport'"),
    ("[" * 100000 + "]" * 100000, "nested"),
    ('{"src": "10.1.1.1", "dst": "10.2.2.2", "sport": NaN}', "NaN"),
])
def test_packet_files(tmp_path: Path, line: str, fragment: str) -> None:
    host = write(tmp_path, "h.yaml", HOST.format(prio=10))
    packets = write(tmp_path, "p.jsonl", '{"src": "10.1.1.1", "dst": "10.2.2.2"}\n' + line)
    outcome = run_cli("lookup", host, "--packets", packets)
    assert outcome.code == 2
    one_line_error(outcome.err, f"{packets}:2:", fragment)


@pytest.mark.parametrize(("argv", "option"), [
    (("conflicts", "x.yaml", "--timeout", "nan"), "--timeout"),
    (("conflicts", "x.yaml", "--timeout", "inf"), "--timeout"),
    (("conflicts", "x.yaml", "--timeout", "1e308"), "--timeout"),
    (("peers", "x", "y", "--timeout=-1"), "--timeout"),
    (("peers", "x", "y", "--jobs", "\u0661"), "--jobs"),
    (("trace", "x", "y", "--max-retransmits=-5"), "--max-retransmits"),
    (("protocol", "--retransmits", "²"), "--retransmits"),
    (("protocol", "--max-states", "9" * 100), "--max-states"),
    (("protocol", "--max-memory", "0"), "--max-memory"),
    (("check", "--max-states", "-3"), "--max-states"),
])
def test_numbers_in_options(argv: tuple[str, ...], option: str) -> None:
    outcome = run_cli(*argv)
    assert outcome.code == 2
    one_line_error(outcome.err, "<command line>", f"field '{option}'")


# -- YAML: safe loading, bounded aliases, control characters --------------------------------
@pytest.mark.parametrize(("text", "line", "fragment"), [
    (BOMB, 10, "expands to more than"),
    ("hosts:\n  a:\n    policies: [{name: x, action: PASS}]\nprotocol:\n  x: &a [*a]\n", 5,
     "refers to itself"),
    ("policies:\n  - name: !!python/object/apply:os.system [echo]\n    action: PASS\n", 2,
     "python/object"),
    ("hosts:\n  a:\n    policies: [{name: x, action: PASS}]\n  b: \x07\n", 4,
     "#x0007"),
    ("policies:\n" + "".join("  " * i + "-\n" for i in range(1, 200)), 65, "nested"),
])
def test_yaml(tmp_path: Path, text: str, line: int, fragment: str) -> None:
    path = write(tmp_path, "s.yaml", text)
    start = time.perf_counter()
    outcome = run_cli("check", path)
    assert outcome.code == 2 and time.perf_counter() - start < 10
    one_line_error(outcome.err, f"{path}:{line}:", fragment)


# -- scenario options: strict types and keys -----------------------------------------------
@pytest.mark.parametrize(("option", "field", "fragment"), [
    ('loss: "false"', "protocol.loss", "true or false"),
    ('commit-bit: "no"', "protocol.commit-bit", "true or false"),
    ("loss: 7", "protocol.loss", "true or false"),
    ("retransmits: true", "protocol.retransmits", "whole number"),
    ("retransmits: 99", "protocol.retransmits", "0 to 6"),
    ("profiles: []", "protocol.profiles", "non-empty"),
    ("profiles: null", "protocol.profiles", "non-empty"),
    ("profile: hpux\n  profiles: [racoon]", "protocol.profile", "not both"),
    ("profiles: [hpux, bogus]", "protocol.profiles", "unknown profile 'bogus'"),
    ("profile: bogus", "protocol.profile", "unknown profile 'bogus'"),
    ("colour: blue", "protocol.colour", "unknown protocol option"),
])
def test_scenario_options(tmp_path: Path, option: str, field: str, fragment: str) -> None:
    path = write(tmp_path, "s.yaml", SCENARIO.format(option=option))
    outcome = run_cli("check", path)
    assert outcome.code == 2
    one_line_error(outcome.err, f"{path}:5:", f"field '{field}'", fragment)


# -- show: traces validated against their schema and by rebuilding them --------------------
def _trace_case(case: str) -> str | bytes:
    trace = json.loads(FIXTURE.read_text(encoding="utf-8"))
    if case == "field":
        trace["steps"][2]["state"][0]["I.phase"] = "done"
    elif case == "type":
        trace["options"]["loss"] = "yes"
    elif case == "negotiation":
        trace["steps"][1]["negotiation"] = "1"
    elif case == "unknown-key":
        trace["extra"] = 1
    elif case == "huge":
        return json.dumps(trace).replace('"version": 1', '"version": 1' + "0" * 5000)
    elif case == "deep":
        return '{"format": "qmcheck-qm-trace", "x": ' + "[" * 100000 + "]" * 100000 + "}"
    elif case == "utf8":
        return b'{"format": "\xff"}'
    return json.dumps(trace)


@pytest.mark.parametrize(("case", "fragment"), [
    ("field", "field 'steps[2].state[0].I.phase'"), ("type", "field 'options.loss'"),
    ("negotiation", "field 'steps[1]'"), ("unknown-key", "field 'extra'"),
    ("huge", "digits"), ("deep", "nested"), ("utf8", "not UTF-8")])
def test_show(tmp_path: Path, case: str, fragment: str) -> None:
    path = write(tmp_path, "t.json", _trace_case(case))
    outcome = run_cli("show", path)
    assert outcome.code == 2
    one_line_error(outcome.err, path, fragment)


def test_show_accepts_the_fixture() -> None:
    outcome = run_cli("show", str(FIXTURE))
    assert outcome.code == 0 and "counterexample to qm.no-orphan" in outcome.out


# -- trace: only charon logs ----------------------------------------------------------------
def test_trace_refuses_what_is_not_a_charon_log(tmp_path: Path) -> None:
    yaml = write(tmp_path, "a.yaml", HOST.format(prio=10))
    outcome = run_cli("trace", yaml, yaml)
    assert outcome.code == 2
    one_line_error(outcome.err, f"{yaml}:1:", "not a charon log")
    garbage = write(tmp_path, "g.log", "".join(f"{os.urandom(20).hex()}\n" for _ in range(9)))
    outcome = run_cli("trace", garbage, garbage)
    assert outcome.code == 2
    one_line_error(outcome.err, f"{garbage}:1:", "not a charon log")


def test_trace_of_a_log_without_quick_mode_is_unknown(tmp_path: Path) -> None:
    log = write(tmp_path, "c.log", "00[DMN] Starting IKE charon daemon\n00[CFG] loaded\n")
    outcome = run_cli("trace", log, log)
    assert outcome.code == 3 and "nothing to check" in outcome.out


# -- files: special files, size, encoding, format detection --------------------------------
def test_special_files_are_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path, fragment in ((str(fifo), "not a regular file"), ("/dev/zero", "not a regular"),
                           (str(tmp_path), "is a directory")):
        outcome = run_bounded("lookup", path, *PACKET, seconds=30)
        assert outcome.code == 2
        one_line_error(outcome.err, path, fragment)


def test_size_limit_and_encoding(tmp_path: Path) -> None:
    big = write(tmp_path, "big.yaml", HOST.format(prio=10) + "#" * 5000 + "\n")
    outcome = run_bounded("lookup", big, *PACKET, env={"QMCHECK_MAX_INPUT_BYTES": "1000"})
    assert outcome.code == 2
    one_line_error(outcome.err, big, "the limit is 1000")
    latin = write(tmp_path, "l.yaml", "policies:\n  - name: caf\xe9\n".encode("latin-1"))
    outcome = run_cli("lookup", latin, *PACKET)
    assert outcome.code == 2
    one_line_error(outcome.err, f"{latin}:2:", "not UTF-8")


def test_swanctl_detection(tmp_path: Path) -> None:
    path = write(tmp_path, "s.conf", "}\nconnections {\n}\n")
    outcome = run_cli("lookup", path, *PACKET)
    assert outcome.code == 2
    one_line_error(outcome.err, f"{path}:1:", "'}' without an open section")


def test_swanctl_starting_with_include_is_read_as_swanctl(tmp_path: Path) -> None:
    # a glob that matches nothing includes nothing (strongSwan's settings parser does the same)
    path = write(tmp_path, "s.conf", "include conf.d/*.conf\nconnections {\n}\n")
    outcome = run_cli("lookup", path, *PACKET)
    assert outcome.code == 0, outcome.err
    assert "no policy matches" in outcome.out


def test_batch_with_a_byte_order_mark(tmp_path: Path) -> None:
    path = write(tmp_path, "b.batch", "\ufeffadd host a -action DISCARD\n")
    outcome = run_cli("lookup", path, *PACKET)
    assert outcome.code == 0 and "DISCARD" in outcome.out


# -- terminal safety: escaped and cut ------------------------------------------------------
def test_escape_sequences_and_nul_in_names(tmp_path: Path) -> None:
    path = write(tmp_path, "e.yaml", 'policies:\n  - name: "a\\e[31mred"\n    action: PASS\n')
    outcome = run_cli("lookup", path, *PACKET)
    assert outcome.code == 2
    one_line_error(outcome.err, f"{path}:2:", "field 'name'", "\\x1b[31m")
    path = write(tmp_path, "n.batch", "add host a\x00b -action PASS\n")
    outcome = run_cli("lookup", path, *PACKET)
    assert outcome.code == 2
    one_line_error(outcome.err, f"{path}:1:", "field 'name'", "\\x00")


def test_long_values_are_cut(tmp_path: Path) -> None:
    path = write(tmp_path, "l.yaml", HOST.format(prio="x" * 100_000))
    outcome = run_cli("lookup", path, *PACKET)
    assert outcome.code == 2
    line = one_line_error(outcome.err, f"{path}:3:", "field 'priority'", "x...'")
    assert len(line) < 300


# -- internal errors: exit 4, one line; the traceback with --debug -------------------------
@pytest.mark.parametrize("error", [RuntimeError("boom"), MemoryError(), RecursionError("deep"),
                                   KeyError("k"), SystemExit(0)])
def test_internal_errors_exit_4(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                error: BaseException) -> None:
    def broken(args: object) -> None:
        raise error

    monkeypatch.setattr(cmd_lookup, "run", broken)
    path = write(tmp_path, "h.yaml", HOST.format(prio=10))
    outcome = run_cli("lookup", path, *PACKET)
    assert outcome.code == 4 and outcome.out == ""
    (line,) = outcome.err.strip().split("\n")
    assert line.startswith(f"qmcheck: internal error in lookup: {type(error).__name__}")
    assert "this is a bug; rerun with --debug" in line
    outcome = run_cli("lookup", path, *PACKET, "--debug")
    assert outcome.code == 4 and "Traceback" in outcome.err


def test_interrupt_exits_130(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cmd_lookup, "run", interrupted)
    outcome = run_cli("lookup", write(tmp_path, "h.yaml", HOST.format(prio=10)), *PACKET)
    assert outcome.code == 130


def test_write_errors_are_input_errors(tmp_path: Path) -> None:
    blocker = write(tmp_path, "file", "not a folder")
    outcome = run_cli("protocol", "--profile", "hpux", "--loss", "--property", "qm.no-orphan",
                      "--out", f"{blocker}/sub")
    assert outcome.code == 2
    one_line_error(outcome.err, "is not a folder")


# -- resources: budgets give unknown (exit 3), never an out-of-memory kill -----------------
def test_state_budget_gives_unknown() -> None:
    # level symmetry: full first learns each negotiation's dependencies (tens of seconds here)
    outcome = run_cli("protocol", "--profile", "hpux", "--negotiations", "3", "--loss",
                      "--property", "qm.no-deadlock", "--max-states", "100",
                      "--reduction", "symmetry")
    assert outcome.code == 3 and "state budget of 100 exhausted" in outcome.out


def test_memory_budget_gives_unknown_under_a_hard_limit() -> None:
    outcome = run_bounded("protocol", "--profile", "hpux", "--negotiations", "8", "--loss",
                          "--duplicate", "--reorder", "--property", "qm.no-deadlock",
                          "--reduction", "none", "--max-memory", "16", memory_mb=1024,
                          seconds=120)
    assert outcome.code == 3, outcome.err
    assert "memory budget of 16 MB exhausted" in outcome.out
    assert "about" in outcome.err and "--max-memory" in outcome.err  # the estimate, first


def test_memory_budget_spills_instead_of_failing() -> None:
    # with reductions the same run fits: the visited set is compressed, then spilled to disk
    outcome = run_bounded("protocol", "--profile", "hpux", "--negotiations", "8", "--loss",
                          "--duplicate", "--reorder", "--property", "qm.no-deadlock",
                          "--max-memory", "16", memory_mb=1024, seconds=120)
    assert outcome.code in (0, 3), outcome.err
    assert "internal error" not in outcome.err


def test_control_characters_in_host_names(tmp_path: Path) -> None:
    path = write(tmp_path, "h.yaml", 'hosts:\n  "h\\e[31m":\n    policies: [{name: x, action: '
                 'PASS}]\n')
    outcome = run_cli("check", path)
    assert outcome.code == 2
    one_line_error(outcome.err, f"{path}:2:", "field 'host'", "\\x1b[31m")


def test_found_by_fuzzing_xfrm_proto_without_value(tmp_path: Path) -> None:
    path = write(tmp_path, "x.txt", "src 10.0.0.1/32 dst 10.0.0.2/32\n\tdir out priority 20 "
                 "ptype main\n\ttmpl src 0.0.0.0 dst 0.0.0.0\n\t\tproto")
    outcome = run_cli("lookup", path, *PACKET)
    assert outcome.code == 2
    one_line_error(outcome.err, f"{path}:4:", "field 'proto'")
