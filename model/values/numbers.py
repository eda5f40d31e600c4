"""Strict values from user text, shared by every input format and option (one place).

Numbers are ASCII digits only (``str.isdigit`` also accepts ``²`` and Arabic-Indic digits), of
bounded length (``int()`` of thousands of digits is slow or refused) and checked against their
range. Booleans are booleans, never the strings ``"false"`` or ``"no"``, never numbers. Values
echoed in messages go through ``text.shown`` (escaped, cut).
"""

from __future__ import annotations

import math
import re
from typing import Any

from qmcheck.model.values.errors import InputError
from qmcheck.model.values.text import shown

MAX_DIGITS = 40  # enough for any 128-bit value; longer numbers are refused before int()

__all__ = ["is_ascii_int", "parse_bool", "parse_int", "parse_seconds", "shown"]

_ASCII_DIGITS = re.compile(r"[0-9]+\Z")


def is_ascii_int(text: str) -> bool:
    """True for a non-empty run of ASCII digits of at most ``MAX_DIGITS``."""
    return len(text) <= MAX_DIGITS and _ASCII_DIGITS.match(text) is not None


def parse_int(value: Any, lo: int, hi: int, what: str) -> int:
    """A whole number lo..hi from user text (or a JSON/YAML int); InputError otherwise.

    ``what`` names the value in the message (``priority``, ``port``, ...). Booleans are not
    numbers; surrounding spaces are allowed; signs, ``_``, ``²`` and other digits are not.
    """
    if isinstance(value, bool):
        raise InputError(f"{what} must be a whole number {lo}..{hi}, not a boolean")
    if isinstance(value, int):
        number = value
    else:
        text = value.strip() if isinstance(value, str) else None
        if text is None or not is_ascii_int(text):
            if text is not None and _ASCII_DIGITS.match(text):
                raise InputError(f"{what} '{shown(text)}' has too many digits "
                                 f"(a whole number {lo}..{hi})")
            raise InputError(f"{what} '{shown(value)}' is not a whole number {lo}..{hi}")
        number = int(text)
    if not lo <= number <= hi:
        raise InputError(f"{what} {shown(str(number))} is out of range ({lo}..{hi})")
    return number


def parse_seconds(text: str, what: str, *, maximum: float = 7 * 24 * 3600.0) -> float:
    """A positive, finite number of seconds up to ``maximum`` (rejects nan, inf, 1e308, -1)."""
    raw = text.strip()
    if not re.fullmatch(r"[0-9]{1,12}(\.[0-9]{1,9})?", raw):
        raise InputError(f"{what} '{shown(text)}' is not a number of seconds (e.g. 10 or 2.5)")
    value = float(raw)
    if not math.isfinite(value) or not 0 < value <= maximum:
        raise InputError(f"{what} {shown(raw)} is out of range (more than 0, at most "
                         f"{maximum:g} seconds)")
    return value


def parse_bool(value: Any, what: str) -> bool:
    """A real boolean (YAML ``true``/``false``); strings such as ``"false"`` and numbers are
    refused, since ``bool("false")`` is True."""
    if isinstance(value, bool):
        return value
    got = f"the text '{shown(value)}'" if isinstance(value, str) else shown(value)
    raise InputError(f"{what} must be true or false, not {got}")
