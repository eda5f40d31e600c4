"""Requirements files (docs/SPEC.md 7): what traffic between two hosts must (not) get.

```yaml
requirements:
  - name: admin-ssh-encrypted
    between: [hostA, hostB]
    traffic: {source: 10.1.0.0/16, destination: 10.2.0.0/16, protocol: tcp,
              destination-port: 22}
    must: protect                  # protect | pass | discard   (or must-not: ...)
    transforms: [ESP_AES256_HMAC_SHA2_256]   # optional, with must: protect
```
Read from the YAML node tree (safe: no tags are constructed), strict keys with "did you
mean", every error with file, line and field. Host names are checked against a scenario by
``check_hosts``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import yaml

from qmcheck.model.formats.builder import unknown_key_error
from qmcheck.model.formats.yaml_file import mapping, parse_yaml, scalar_text, texts
from qmcheck.model.values.addresses import AddressValue, Family, parse_address_value
from qmcheck.model.values.errors import InputError
from qmcheck.model.values.protocols import (
    ANY_PORT,
    PortRange,
    has_ports,
    parse_port,
    parse_protocol,
)
from qmcheck.model.values.transforms import Transform, parse_transform

Mode = Literal["must", "must-not"]
Treatment = Literal["protect", "pass", "discard"]
TREATMENTS: tuple[str, ...] = ("protect", "pass", "discard")
FILE_KEYS: tuple[str, ...] = ("requirements", "description")
REQUIREMENT_KEYS: tuple[str, ...] = ("name", "between", "traffic", "must", "must-not",
                                     "transforms", "description")
TRAFFIC_KEYS: tuple[str, ...] = ("source", "destination", "protocol", "source-port",
                                 "destination-port")


@dataclass(frozen=True)
class Traffic:
    """Packets from ``source`` to ``destination`` (both ways: the replies too)."""

    source: tuple[AddressValue, ...] | None  # None: any
    destination: tuple[AddressValue, ...] | None
    protocol: int | None = None
    source_port: PortRange = ANY_PORT
    destination_port: PortRange = ANY_PORT

    def families(self) -> list[Family]:
        named = {v.family for vs in (self.source, self.destination) if vs for v in vs
                 if not v.is_any}
        return sorted(named) if named else [4, 6]  # type: ignore[return-value]


@dataclass(frozen=True)
class Requirement:
    """One requirement; ``line`` is where it starts in ``source``."""

    name: str
    between: tuple[str, str]
    traffic: Traffic
    mode: Mode
    treatment: Treatment
    transforms: tuple[Transform, ...] | None
    line: int
    source: str
    between_line: int = 0

    @property
    def property_id(self) -> str:
        return f"req.{self.name}"

    def text(self) -> str:
        allow = (f" with {' or '.join(t.name for t in self.transforms)}"
                 if self.transforms else "")
        return f"{self.mode} {self.treatment}{allow}"


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _check(entries: dict[str, tuple[yaml.Node, yaml.Node]], allowed: tuple[str, ...],
           source: str, where: str) -> None:
    for key, (key_node, _) in entries.items():
        if key not in allowed:
            raise unknown_key_error(key, allowed, source=source, line=_line(key_node),
                                    where=where)


def _addresses(node: yaml.Node, source: str, field: str) -> tuple[AddressValue, ...] | None:
    value = texts(node, source, field)
    items = value if isinstance(value, list) else [value]
    if not items:
        raise InputError("an address field needs at least one value", source=source,
                         line=_line(node), field=field)
    out = []
    for text in items:
        try:
            out.append(parse_address_value(text))
        except InputError as e:
            raise e.located(source=source, line=_line(node), field=field) from None
    return None if any(v.is_any for v in out) else tuple(out)


def _traffic(node: yaml.Node, source: str) -> Traffic:
    entries = mapping(node, source, "'traffic'")
    _check(entries, TRAFFIC_KEYS, source, "'traffic'")
    src = dst = None
    if "source" in entries:
        src = _addresses(entries["source"][1], source, "source")
    if "destination" in entries:
        dst = _addresses(entries["destination"][1], source, "destination")
    families = {v.family for vs in (src, dst) if vs for v in vs}
    if len(families) > 1:
        raise InputError("source and destination are of different address families",
                         source=source, line=_line(node), field="destination")
    protocol = None
    if "protocol" in entries:
        key_node, value_node = entries["protocol"]
        try:
            protocol = parse_protocol(scalar_text(value_node, source, "protocol"))
        except InputError as e:
            raise e.located(source=source, line=_line(key_node), field="protocol") from None
    ports = []
    for key in ("source-port", "destination-port"):
        if key not in entries:
            ports.append(ANY_PORT)
            continue
        key_node, value_node = entries[key]
        try:
            ports.append(parse_port(scalar_text(value_node, source, key)))
        except InputError as e:
            raise e.located(source=source, line=_line(key_node), field=key) from None
        if not ports[-1].is_any and not has_ports(protocol):
            raise InputError(f"protocol {protocol} has no ports, but {key} is given",
                             source=source, line=_line(key_node), field=key)
    return Traffic(src, dst, protocol, ports[0], ports[1])


def _requirement(node: yaml.Node, source: str, seen: dict[str, int]) -> Requirement:
    entries = mapping(node, source, "a requirement")
    _check(entries, REQUIREMENT_KEYS, source, "a requirement")
    line = _line(node)
    for key in ("name", "between", "traffic"):
        if key not in entries:
            raise InputError(f"the requirement has no '{key}'", source=source, line=line,
                             field=key)
    name_node = entries["name"][1]
    name = scalar_text(name_node, source, "name").strip()
    if not name or any(c.isspace() for c in name):
        raise InputError(f"name '{name}' must be one word (it becomes req.{name})",
                         source=source, line=_line(name_node), field="name")
    if name in seen:
        raise InputError(f"requirement '{name}' is defined twice (first at line "
                         f"{seen[name]})", source=source, line=_line(name_node), field="name")
    seen[name] = line
    between_key, between_node = entries["between"]
    hosts = texts(between_node, source, "between")
    if not isinstance(hosts, list) or len(hosts) != 2 or hosts[0] == hosts[1]:
        raise InputError("'between' names two different hosts, as [hostA, hostB]",
                         source=source, line=_line(between_key), field="between")
    modes = [k for k in ("must", "must-not") if k in entries]
    if len(modes) != 1:
        raise InputError("a requirement has exactly one of 'must' and 'must-not'",
                         source=source, line=line, field="must")
    mode = modes[0]
    mode_key, mode_node = entries[mode]
    treatment = scalar_text(mode_node, source, mode).strip().lower()
    if treatment not in TREATMENTS:
        raise InputError(f"'{treatment}' is not one of {', '.join(TREATMENTS)}",
                         source=source, line=_line(mode_key), field=mode)
    transforms = None
    if "transforms" in entries:
        key_node, value_node = entries["transforms"]
        if (mode, treatment) != ("must", "protect"):
            raise InputError("'transforms' (the allowed ones) goes with 'must: protect'",
                             source=source, line=_line(key_node), field="transforms")
        value = texts(value_node, source, "transforms")
        items = value if isinstance(value, list) else [value]
        if not items:
            raise InputError("'transforms' is empty", source=source, line=_line(key_node),
                             field="transforms")
        try:
            transforms = tuple(parse_transform(t.strip()) for t in items)
        except InputError as e:
            raise e.located(source=source, line=_line(key_node), field="transforms") from None
    return Requirement(name, (hosts[0], hosts[1]), _traffic(entries["traffic"][1], source),
                       mode, treatment, transforms, line, source,  # type: ignore[arg-type]
                       _line(between_key))


def load_requirements_text(text: str, source: str) -> list[Requirement]:
    """The requirements of a file, in file order."""
    root = parse_yaml(text, source)
    entries = mapping(root, source, "the file")
    _check(entries, FILE_KEYS, source, "a requirements file")
    if "requirements" not in entries:
        raise InputError("no 'requirements' list", source=source, line=1,
                         field="requirements")
    key_node, node = entries["requirements"]
    if not isinstance(node, yaml.SequenceNode) or not node.value:
        raise InputError("'requirements' must be a non-empty list", source=source,
                         line=_line(key_node), field="requirements")
    seen: dict[str, int] = {}
    return [_requirement(item, source, seen) for item in node.value]


def check_hosts(requirements: Iterable[Requirement], hosts: Iterable[str]) -> None:
    """Every host a requirement names is one of ``hosts`` (else an InputError)."""
    known = sorted(hosts)
    for r in requirements:
        for name in r.between:
            if name not in known:
                import difflib

                close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
                hint = f"; did you mean '{close[0]}'?" if close else \
                    f" (hosts: {', '.join(known)})"
                raise InputError(f"unknown host '{name}'{hint}", source=r.source,
                                 line=r.between_line, field="between")
