"""Text echoed from input to the terminal: control characters escaped, long values cut."""

from __future__ import annotations

import re
from typing import Any

SHOWN_LIMIT = 60  # values echoed in messages are cut here
MESSAGE_LIMIT = 400  # a whole error message is cut here

# C0 and C1 controls, DEL, and the Unicode format/bidi controls that reorder terminal text.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")
_QUOTED = re.compile("'([^'\n]{" + str(SHOWN_LIMIT + 1) + ",})'")


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_text(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with every control character escaped (``\\x1b``); newlines and tabs are kept
    when ``keep_newlines`` (for multi-line reports)."""
    if keep_newlines:
        return "\n".join("\t".join(_UNSAFE.sub(_escape_char, part) for part in line.split("\t"))
                         for line in text.split("\n"))
    return _UNSAFE.sub(_escape_char, text)


def shown(value: Any, limit: int = SHOWN_LIMIT) -> str:
    """A user value as it may appear in a message: escaped, and cut at ``limit`` characters."""
    text = value if isinstance(value, str) else repr(value)
    cut = len(text) > limit
    text = escape_text(text[:limit])
    return f"{text}..." if cut else text


def has_control(text: str) -> bool:
    """True when ``text`` holds a control character (not allowed in names)."""
    return _UNSAFE.search(text) is not None


def safe_message(text: str) -> str:
    """One line for the terminal: quoted values longer than ``SHOWN_LIMIT`` are cut, the whole
    is cut at ``MESSAGE_LIMIT``, control characters (newlines too) are escaped."""
    text = _QUOTED.sub(lambda m: "'" + m.group(1)[:SHOWN_LIMIT] + "...'", text)
    if len(text) > MESSAGE_LIMIT:
        text = text[:MESSAGE_LIMIT] + "..."
    return escape_text(text)
