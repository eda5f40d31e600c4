"""JSON from user files (packet files, counterexample traces), with bounded resources.

Nesting is measured before parsing (no RecursionError), integers are at most
``MAX_INT_DIGITS`` digits (no 4,300-digit numbers), ``NaN`` and ``Infinity`` are refused.
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

from qmcheck.model.values.errors import InputError

MAX_DEPTH = 32
MAX_INT_DIGITS = 20

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKETS = re.compile(r"[\[\]{}]")


def nesting_depth(text: str) -> int:
    """The deepest bracket nesting of a JSON text (strings skipped), without recursion."""
    steps = (1 if b in "[{" else -1 for b in _BRACKETS.findall(_STRING.sub("", text)))
    return max(itertools.accumulate(steps, initial=0))


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"an integer of {len(text)} digits (at most {MAX_INT_DIGITS})")
    return int(text)


def _no_constant(text: str) -> Any:
    raise ValueError(f"{text} is not a JSON number")


def parse_json(text: str, source: str, line: int | None = None, *,
               max_depth: int = MAX_DEPTH) -> Any:
    """Parse JSON text; anything malformed, too deep or with huge numbers is an InputError
    naming ``source`` and the line (``line`` is the first line of ``text`` in the file)."""
    if nesting_depth(text) > max_depth:
        raise InputError(f"JSON nested more than {max_depth} levels deep", source=source,
                         line=line)
    try:
        return json.loads(text, parse_int=_bounded_int, parse_constant=_no_constant)
    except json.JSONDecodeError as error:
        at = error.lineno - 1 + (line or 1)
        raise InputError(f"not a JSON object: {error.msg}", source=source,
                         line=at) from None
    except (ValueError, RecursionError) as error:
        raise InputError(f"not valid JSON: {error}", source=source, line=line) from None
