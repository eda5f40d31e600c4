"""The ``protocol:`` section of a scenario, checked strictly before anything runs.

Keys are ``profiles`` (a non-empty list of profile names or files, or one), ``profile`` (one name;
not together with ``profiles``) and the fields of ``QMOptions`` (``commit-bit`` or
``commit_bit``). Booleans must be YAML booleans (``"false"`` and ``7`` are refused), numbers
must be integers; ranges are checked by ``QMOptions``. Every error names file, line and field.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from qmcheck.model.quickmode.options import PROFILES, QMOptions
from qmcheck.model.quickmode.profiles import load_profile
from qmcheck.model.values.errors import InputError
from qmcheck.model.values.numbers import parse_bool, parse_int
from qmcheck.model.values.text import shown

SELECTION_KEYS = ("profiles", "profile")


def _fields() -> dict[str, dataclasses.Field[Any]]:
    return {f.name: f for f in dataclasses.fields(QMOptions) if f.name != "profile"}


def known_keys() -> list[str]:
    """Every key the section accepts (dashed spelling)."""
    return [*SELECTION_KEYS, *(name.replace("_", "-") for name in _fields())]


def check_protocol_section(data: Mapping[str, Any] | None, lines: Mapping[str, int] | None = None,
                           source: str = "<scenario>") -> dict[str, Any]:
    """The section with its types checked; ``profiles`` becomes a list (``profile`` is merged
    into it). Raises InputError naming the file, the key's line and ``protocol.KEY``."""
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise InputError("'protocol' must be a mapping of options", source=source,
                         field="protocol")
    lines = lines or {}
    fields = _fields()
    out: dict[str, Any] = {}

    def error(key: str, message: str) -> InputError:
        return InputError(message, source=source, line=lines.get(key),
                          field=f"protocol.{shown(key)}")

    if "profile" in data and "profiles" in data:
        raise error("profile", "give 'profile' or 'profiles', not both")
    for key, value in data.items():
        if not isinstance(key, str):
            raise error(str(key), "option names are words")
        if key in SELECTION_KEYS:
            out["profiles"] = _profiles(key, value, error)
            continue
        name = key.replace("-", "_")
        if name not in fields:
            raise error(key, f"unknown protocol option '{shown(key)}' (known: "
                             f"{', '.join(known_keys())})")
        default = fields[name].default
        try:
            if isinstance(default, bool):
                out[name] = parse_bool(value, key)
            elif isinstance(default, int) or str(fields[name].type) == "int | None":
                if not isinstance(value, int) or isinstance(value, bool):
                    raise InputError(f"{key} must be a whole number, not {shown(value)}")
                out[name] = parse_int(value, 0, 2**31, key)
            else:
                out[name] = value
        except InputError as e:
            raise error(key, e.message) from None
    try:
        QMOptions(**{k: v for k, v in out.items() if k != "profiles"})
    except InputError as e:
        key = next((k for k in data if k.replace("-", "_") == e.field), str(e.field))
        raise error(key, e.message) from None
    return out


def _profiles(key: str, value: Any, error: Any) -> list[str]:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names:
        raise error(key, f"'{key}' must be a profile name or a non-empty list of them "
                         f"({', '.join(PROFILES)}), not {shown(value)}")
    for name in names:
        if not isinstance(name, str) or not name:
            raise error(key, f"unknown profile '{shown(name)}' (expected "
                             f"{', '.join(PROFILES)}, a mutant name or a profile file)")
        try:
            load_profile(name)  # a built-in name, a mutant name or a profile file
        except InputError as e:
            raise error(key, e.message) from None
    if len(set(names)) != len(names):
        raise error(key, "a profile is listed twice")
    return list(names)
