"""strongSwan's settings syntax (strongswan.conf(5), used by swanctl.conf): sections
``name { ... }``, ``key = value`` lines, ``#`` comments, and

- includes: ``include PATTERN`` reads the matching files (a glob, sorted) at that point; a
  relative pattern is relative to the directory of the file that holds the ``include``
  (strongswan.conf(5), "INCLUDING FILES"). Includes nest at most ``MAX_INCLUDE_DEPTH`` deep,
  and a file that includes itself (directly or not) is an error naming the line;
- references: ``name : other.section, ... { ... }`` starts the section with the values and
  subsections of the referenced sections (full dotted names from the root; later references
  and the section's own values win) (strongswan.conf(5), "REFERENCES");
- a section named twice is merged (later values win), as the settings parser does, which is
  what lets ``conf.d`` files add connections to one ``connections`` section.
"""

from __future__ import annotations

import copy
import glob
import os
import re
from dataclasses import dataclass, field

from qmcheck.model.values.errors import InputError

MAX_INCLUDE_DEPTH = 10


@dataclass
class Section:
    """A ``name { ... }`` section: its values (with lines) and subsections, in file order.
    ``refs`` are the sections it references (resolved by ``parse_settings``)."""

    name: str
    line: int
    values: dict[str, tuple[str, int]] = field(default_factory=dict)
    sections: dict[str, Section] = field(default_factory=dict)
    refs: list[str] = field(default_factory=list)
    source: str = ""


SECTION = re.compile(r"^([^\s.,:{}=\"#]+)\s*(?::\s*([^{]*?))?\s*\{(.*)$")
VALUE = re.compile(r"^([^\s.,:{}=\"#]+)\s*=\s*(.*)$")


def parse_settings(text: str, source: str) -> Section:
    """The settings of a file (includes read, references resolved)."""
    root = Section("", 0, source=source)
    _parse(text, source, [root], 0, (os.path.abspath(source),))
    _resolve(root, root, source, ())
    return root


def _parse(text: str, source: str, stack: list[Section], depth: int,
           chain: tuple[str, ...]) -> None:
    bottom = len(stack)
    for number, raw in enumerate(text.splitlines(), start=1):
        line = _strip_comment(raw).strip()
        while line:
            if line.startswith("}"):
                if len(stack) == bottom:
                    raise InputError("'}' without an open section", source=source, line=number)
                stack.pop()
                line = line[1:].strip()
                continue
            m = SECTION.match(line)
            if m:
                name = m.group(1)
                section = stack[-1].sections.get(name)
                if section is None:
                    section = Section(name, number, source=source)
                    stack[-1].sections[name] = section
                if m.group(2):
                    section.refs.extend(r.strip() for r in m.group(2).split(",") if r.strip())
                stack.append(section)
                line = m.group(3).strip()
                continue
            m = VALUE.match(line)
            if m:
                key, value = m.group(1), m.group(2).strip()
                closing = 0
                while value.endswith("}") and not value.startswith('"'):
                    value = value[:-1].rstrip()
                    closing += 1
                if len(value) >= 2 and value[0] == value[-1] == '"':
                    value = value[1:-1]
                stack[-1].values[key] = (value, number)
                for _ in range(closing):
                    if len(stack) == bottom:
                        raise InputError("'}' without an open section", source=source,
                                         line=number)
                    stack.pop()
                break
            words = line.split(None, 1)
            if words[0] == "include" and len(words) == 2:
                _include(words[1].strip().strip('"'), source, number, stack, depth, chain)
                break
            raise InputError(f"cannot parse '{line}': expected 'key = value', 'name {{', "
                             "'include FILE' or '}'", source=source, line=number)
    if len(stack) > bottom:
        raise InputError(f"section '{stack[-1].name}' is not closed", source=source,
                         line=stack[-1].line, field=stack[-1].name)


def _include(pattern: str, source: str, line: int, stack: list[Section], depth: int,
             chain: tuple[str, ...]) -> None:
    if depth + 1 > MAX_INCLUDE_DEPTH:
        raise InputError(f"includes nest deeper than {MAX_INCLUDE_DEPTH} files",
                         source=source, line=line, field="include")
    base = os.path.dirname(source) if source not in ("", "<memory>") else "."
    full = pattern if os.path.isabs(pattern) else os.path.join(base, pattern)
    if not any(c in full for c in "*?[") and not os.path.isfile(full):
        raise InputError(f"included file {full} does not exist", source=source, line=line,
                         field="include")
    for path in sorted(glob.glob(full)):
        real = os.path.abspath(path)
        if real in chain:
            raise InputError(f"'{pattern}' includes {path} again (an include cycle)",
                             source=source, line=line, field="include")
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except (OSError, UnicodeDecodeError) as e:
            raise InputError(f"cannot read included file {path}: {e}", source=source,
                             line=line, field="include") from None
        _parse(text, path, stack, depth + 1, (*chain, real))


def _find(root: Section, dotted: str) -> Section | None:
    section: Section | None = root
    for part in dotted.split("."):
        section = section.sections.get(part) if section is not None else None
    return section


def _resolve(section: Section, root: Section, source: str, active: tuple[int, ...]) -> None:
    """Apply each section's references (depth first), then its subsections'."""
    if id(section) in active:
        raise InputError(f"section '{section.name}' references itself", source=section.source
                         or source, line=section.line, field=section.name)
    if section.refs:
        values: dict[str, tuple[str, int]] = {}
        sections: dict[str, Section] = {}
        for ref in section.refs:
            target = _find(root, ref)
            if target is None:
                raise InputError(f"section '{section.name}' references '{ref}', which does not "
                                 "exist", source=section.source or source, line=section.line,
                                 field=section.name)
            _resolve(target, root, source, (*active, id(section)))
            values.update(target.values)
            for name, sub in target.sections.items():
                sections[name] = copy.deepcopy(sub)
        values.update(section.values)
        for name, sub in section.sections.items():
            if name in sections:
                _merge(sections[name], sub)
            else:
                sections[name] = sub
        section.values, section.sections, section.refs = values, sections, []
    for sub in list(section.sections.values()):
        _resolve(sub, root, source, (*active, id(section)))


def _merge(into: Section, other: Section) -> None:
    into.values.update(other.values)
    into.refs.extend(other.refs)
    for name, sub in other.sections.items():
        if name in into.sections:
            _merge(into.sections[name], sub)
        else:
            into.sections[name] = sub


def _strip_comment(line: str) -> str:
    out, quoted = [], False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        if ch == "#" and not quoted:
            break
        out.append(ch)
    return "".join(out)
