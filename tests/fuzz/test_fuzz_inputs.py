"""Fuzz: mutated files of every input format, packet files and traces never crash.

Each mutated file is given to the command that reads it (``lookup`` for policy files and
packet files, ``show`` for traces); the outcome must be exit 0-3 with no traceback, and an
input error is one line. Fixed seeds and a small share in CI; ``QMCHECK_FUZZ_EXAMPLES=N`` for
a longer random run (docs/RELIABILITY.md).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.harness import ROOT, fuzz_settings, run_cli
from tests.fuzz.mutations import mutated

SEEDS = {
    "yaml": (ROOT / "examples" / "office.yaml").read_text(encoding="utf-8"),
    "scenario": (ROOT / "model" / "scenarios" / "default.yaml").read_text(encoding="utf-8"),
    "batch": (ROOT / "examples" / "hostA.batch").read_text(encoding="utf-8"),
    "xfrm": (ROOT / "tests" / "fixtures" / "xfrm-site.txt").read_text(encoding="utf-8"),
    "swanctl": (ROOT / "tests" / "fixtures" / "swanctl-site.conf").read_text(encoding="utf-8"),
}
PACKETS = "\n".join(json.dumps(p) for p in [
    {"src": "10.1.1.1", "dst": "10.2.2.2", "protocol": "tcp", "sport": 40000, "dport": 23},
    {"src": "10.2.2.2", "dst": "10.1.1.1", "protocol": 17, "sport": 53, "dport": 5353,
     "direction": "in"},
    {"src": "2001:db8::1", "dst": "2001:db8::2", "protocol": "icmpv6"}]) + "\n"
TRACE = (ROOT / "counterexamples" / "fixtures" /
         "qm.no-orphan__hpux__loss-commit-timers-patient-R-profile-N-1.json").read_text(encoding="utf-8")
PACKET_ARGS = ("--src", "10.1.1.1", "--dst", "10.2.2.2", "--protocol", "tcp", "--dport", "80")


def _write(text: str | bytes, suffix: str) -> Path:
    with tempfile.NamedTemporaryFile("wb", suffix=suffix, delete=False) as handle:
        handle.write(text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text)
    return Path(handle.name)


def _lookup(text: str | bytes, suffix: str, *extra: str) -> None:
    path = _write(text, suffix)
    try:
        outcome = run_cli("lookup", str(path), *(extra or PACKET_ARGS))
    finally:
        path.unlink()
    outcome.check()


@fuzz_settings(120)
@given(mutated(SEEDS["yaml"]))
def test_fuzz_yaml_host(text: str) -> None:
    _lookup(text, ".yaml")


@fuzz_settings(80)
@given(mutated(SEEDS["scenario"]))
def test_fuzz_yaml_scenario(text: str) -> None:
    _lookup(text, ".yaml")


@fuzz_settings(120)
@given(mutated(SEEDS["batch"]))
def test_fuzz_batch(text: str) -> None:
    _lookup(text, ".batch")


@fuzz_settings(120)
@given(mutated(SEEDS["xfrm"]))
def test_fuzz_xfrm(text: str) -> None:
    _lookup(text, ".txt")


@fuzz_settings(120)
@given(mutated(SEEDS["swanctl"]))
def test_fuzz_swanctl(text: str) -> None:
    _lookup(text, ".conf")


@fuzz_settings(60)
@given(st.binary(max_size=300), st.sampled_from(sorted(SEEDS)))
def test_fuzz_bytes(data: bytes, seed: str) -> None:
    """Raw bytes (not UTF-8 most of the time) spliced into a valid file."""
    text = SEEDS[seed].encode()
    _lookup(text[: len(text) // 2] + data + text[len(text) // 2:], ".in")


@fuzz_settings(120)
@given(mutated(PACKETS))
def test_fuzz_packet_files(text: str) -> None:
    packets = _write(text, ".jsonl")
    try:
        _lookup(SEEDS["yaml"], ".yaml", "--packets", str(packets))
    finally:
        packets.unlink()


@fuzz_settings(40)
@given(mutated(TRACE))
def test_fuzz_traces(text: str) -> None:
    path = _write(text, ".json")
    try:
        outcome = run_cli("show", str(path))
    finally:
        path.unlink()
    outcome.check()
    # a trace that still shows is the fixture, re-serialised or with another free-text message
    if outcome.code == 0:
        shown, original = json.loads(text.removeprefix("\ufeff")), json.loads(TRACE)
        assert {**shown, "message": ""} == {**original, "message": ""}


def _edit(trace: object, path: list[object], value: object) -> object:
    """``trace`` with the value at ``path`` replaced."""
    node = trace
    for key in path[:-1]:
        node = node[key]  # type: ignore[index]
    node[path[-1]] = value  # type: ignore[index]
    return trace


def _paths(node: object, prefix: list[object]) -> list[list[object]]:
    if isinstance(node, dict):
        return [prefix, *(p for k, v in node.items() for p in _paths(v, [*prefix, k]))]
    if isinstance(node, list):
        return [prefix, *(p for i, v in enumerate(node) for p in _paths(v, [*prefix, i]))]
    return [prefix]


TRACE_PATHS = [p for p in _paths(json.loads(TRACE), []) if p]
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                max_size=3), max_leaves=6)


@fuzz_settings(60)
@given(st.sampled_from(TRACE_PATHS), JSON_VALUES)
def test_fuzz_trace_fields(path: list[object], value: object) -> None:
    """One field of a valid trace changed to any JSON value: shown only if it is unchanged."""
    original = json.loads(TRACE)
    changed = _edit(json.loads(TRACE), path, value)
    trace = _write(json.dumps(changed), ".json")
    try:
        outcome = run_cli("show", str(trace))
    finally:
        trace.unlink()
    outcome.check()
    assert outcome.code in (0, 2)
    if outcome.code == 0:
        assert path[0] == "message" or changed == original


@fuzz_settings(80)
@given(st.sampled_from(sorted(SEEDS)), st.data())
def test_fuzz_negotiate(seed: str, data: st.DataObject) -> None:
    """A mutated initiator against the built-in scenario's hostB (the concrete semantics)."""
    text = data.draw(mutated(SEEDS[seed]))
    path = _write(text, ".in")
    responder = f"{ROOT / 'model' / 'scenarios' / 'default.yaml'}:hostB"
    try:
        outcome = run_cli("negotiate", str(path), responder, *PACKET_ARGS)
    finally:
        path.unlink()
    outcome.check()
