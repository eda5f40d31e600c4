"""Fuzz: hostile values of every numeric, boolean and choice option never crash.

Commands whose full run is slow get a missing input file after the options, so that a value
that parses ends in a quick input error instead of an analysis.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.harness import ROOT, fuzz_settings, run_cli

HOST = str(ROOT / "examples" / "office.yaml")
MISSING = str(ROOT / "tests" / "fuzz" / "no-such-file.yaml")
VALUES = st.one_of(
    st.sampled_from(["nan", "inf", "-inf", "1e308", "-5", "-1", "0", "1", "2", "²", "\u0661\u0660",
                     "9" * 5000, "4294967296", "0x10", "1_0", " 3", "3 ", "", "\x1b[31m",
                     "\x00", "true", "false", "any", "all", "0.5", "1e-300", "-0", "+3"]),
    st.integers(-2**70, 2**70).map(str),
    st.floats().map(str),
    st.text(max_size=12).filter(lambda t: "\x00" not in t),
)
OPTIONS = [
    (("lookup", HOST, "--src", "10.1.1.1", "--dst", "10.2.2.2"), "--sport"),
    (("lookup", HOST, "--src", "10.1.1.1", "--dst", "10.2.2.2"), "--dport"),
    (("lookup", HOST, "--src", "10.1.1.1", "--dst", "10.2.2.2"), "--protocol"),
    (("lookup", HOST, "--src", "10.1.1.1"), "--dst"),
    (("lookup", HOST, "--dst", "10.1.1.1"), "--src"),
    (("lookup", HOST, "--src", "10.1.1.1", "--dst", "10.2.2.2"), "--direction"),
    (("conflicts", MISSING), "--timeout"),
    (("peers", MISSING, MISSING), "--timeout"),
    (("peers", MISSING, MISSING), "--jobs"),
    (("peers", MISSING, MISSING), "--profile"),
    (("trace", MISSING, MISSING), "--max-retransmits"),
    (("trace", MISSING, MISSING), "--profile"),
    (("protocol", "--property", "qm.no-orphan", "--max-states", "2000"), "--retransmits"),
    (("protocol", "--property", "qm.no-orphan", "--max-states", "2000"), "--negotiations"),
    (("protocol", "--property", "qm.no-orphan", "--max-states", "2000"), "--max-duplicates"),
    (("protocol", "--property", "qm.no-orphan", "--profile", "hpux"), "--max-states"),
    (("protocol", "--property", "qm.no-orphan", "--max-states", "2000"), "--max-memory"),
    (("protocol", "--property", "qm.no-orphan", "--max-states", "2000"), "--profile"),
    (("protocol", "--max-states", "2000"), "--property"),
    (("check", MISSING), "--max-states"),
    (("check", MISSING), "--max-memory"),
    (("show", MISSING), "--format"),
]


@fuzz_settings(250)
@given(st.sampled_from(OPTIONS), VALUES)
def test_fuzz_option_values(case: tuple[tuple[str, ...], str], value: str) -> None:
    argv, option = case
    pair = (f"{option}={value}",) if value.startswith("-") else (option, value)
    # refutations of protocol/check write counterexamples: into a place that cannot exist
    out = ("--out", "/nonexistent/qmcheck-fuzz") if argv[0] in ("protocol", "check") else ()
    run_cli(*argv, *pair, *out).check()
