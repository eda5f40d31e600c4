"""Hypothesis strategies that mutate valid input files: characters, numbers, lines, structure.

Mutations are chosen to reach the classes of issue 13: control characters and escape
sequences, non-ASCII digits, numbers too large or too long, booleans as text, YAML tags and
aliases, byte order marks, truncation, duplicated and swapped lines, deep nesting.
"""

from __future__ import annotations

import re

from hypothesis import strategies as st

HOSTILE = ["\x00", "\x1b[31m", "\x07", "\u202e", "\ufeff", "²", "\u0661\u0660", "\u0663", "9" * 50,
           "4294967296", "18446744073709551616", "-1", "1e308", "nan", "inf", "true", "false",
           "\"false\"", "no", "&a", "*a", "!!python/object:os.system", "!!binary", "{", "}",
           "[", "]", ":", "#", "\\", "'", "\"", "/", "-", ",", " ", "\t", "\n", "\r",
           "include x", "any", "0", "65536", "256", "x" * 300, "é", "\u00ff"]

NUMBER = re.compile(r"\d+")


@st.composite
def mutated(draw: st.DrawFn, text: str) -> str:
    """``text`` with one to four mutations."""
    for _ in range(draw(st.integers(1, 4))):
        text = draw(st.sampled_from(_MUTATIONS))(draw, text)
    return text


def _insert(draw: st.DrawFn, text: str) -> str:
    at = draw(st.integers(0, len(text)))
    piece = draw(st.one_of(st.sampled_from(HOSTILE), st.text(max_size=4)))
    return text[:at] + piece + text[at:]


def _delete(draw: st.DrawFn, text: str) -> str:
    at = draw(st.integers(0, len(text)))
    return text[:at] + text[at + draw(st.integers(1, 20)):]


def _number(draw: st.DrawFn, text: str) -> str:
    spans = [m.span() for m in NUMBER.finditer(text)]
    if not spans:
        return _insert(draw, text)
    lo, hi = draw(st.sampled_from(spans))
    value = draw(st.sampled_from(["²", "\u0661\u0660", "9" * 4400, "4294967296", "2147483648", "-5",
                                  "0", "65536", "1.5", "1e9", "0x10", "00010", "1_000"]))
    return text[:lo] + value + text[hi:]


def _lines(draw: st.DrawFn, text: str) -> str:
    lines = text.split("\n")
    i = draw(st.integers(0, len(lines) - 1))
    j = draw(st.integers(0, len(lines) - 1))
    kind = draw(st.sampled_from(["dup", "swap", "drop", "indent"]))
    if kind == "dup":
        lines.insert(i, lines[j])
    elif kind == "swap":
        lines[i], lines[j] = lines[j], lines[i]
    elif kind == "drop":
        del lines[i]
    else:
        lines[i] = " " * draw(st.integers(1, 6)) + lines[i]
    return "\n".join(lines)


def _truncate(draw: st.DrawFn, text: str) -> str:
    return text[: draw(st.integers(0, len(text)))]


def _nest(draw: st.DrawFn, text: str) -> str:
    depth = draw(st.sampled_from([10, 100, 2000]))
    at = draw(st.integers(0, len(text)))
    return text[:at] + "[" * depth + "]" * depth + text[at:]


def _prefix(draw: st.DrawFn, text: str) -> str:
    return draw(st.sampled_from(["\ufeff", "include a.conf\n", "}\n", "---\n", "%YAML 1.1\n",
                                 "# comment\n", "\n\n"])) + text


_MUTATIONS = [_insert, _insert, _delete, _number, _number, _lines, _truncate, _nest, _prefix]
