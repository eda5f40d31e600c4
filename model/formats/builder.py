"""Build validated policies from raw fields, shared by the YAML and the batch-file loaders.

Each raw field carries its text and input line, so that every error names file, line and field.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

from qmcheck.model.values.addresses import (
    AddressFilter,
    AddressValue,
    Family,
    parse_address,
    parse_address_value,
)
from qmcheck.model.values.errors import InputError
from qmcheck.model.values.numbers import parse_int
from qmcheck.model.values.policy import (
    DEFAULT_POLICY_NAME,
    DIRECTIONS,
    MAX_PRIORITY,
    PRIORITY_INCREMENT,
    Policy,
    default_policy,
)
from qmcheck.model.values.protocols import ANY_PORT, PORT_PROTOCOLS, parse_port, parse_protocol
from qmcheck.model.values.text import has_control, shown
from qmcheck.model.values.transforms import DISCARD, PASS, parse_action

POLICY_KEYS: tuple[str, ...] = (
    "name", "priority", "source", "source-port", "destination", "destination-port",
    "protocol", "action", "description", "direction", "tunnel",
)
NEUTRAL_ANY = ("any", "*")


@dataclass(frozen=True)
class RawField:
    """A field's text (or list of texts for multi-valued fields) and its input line."""

    value: str | list[str]
    line: int


RawPolicy = dict[str, RawField]


def unknown_key_error(key: str, allowed: Sequence[str], *, source: str, line: int,
                      where: str) -> InputError:
    """An error for a misspelt or unknown key, with a suggestion when one is close."""
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    hint = f"; did you mean '{close[0]}'?" if close else f" (known keys: {', '.join(allowed)})"
    return InputError(f"unknown key '{key}' in {where}{hint}", source=source, line=line,
                      field=key)


def _texts(field: RawField) -> list[str]:
    return list(field.value) if isinstance(field.value, list) else [field.value]


def _address_filter(field: RawField, name: str, source: str
                    ) -> tuple[list[tuple[AddressValue, bool]], int]:
    values: list[tuple[AddressValue, bool]] = []
    texts = _texts(field)
    if not texts:
        raise InputError("an address field needs at least one value", source=source,
                         line=field.line, field=name)
    for text in texts:
        try:
            value = parse_address_value(text)
        except InputError as e:
            raise e.located(source=source, line=field.line, field=name) from None
        values.append((value, text.strip().lower() in NEUTRAL_ANY))
    return values, field.line


def build_policy(raw: RawPolicy, *, index: int, line: int, previous_priority: int | None,
                 source: str) -> Policy:
    """Validate one raw policy and build it. ``previous_priority`` is the highest priority so
    far (the guide's automatic increment adds 10 to it)."""

    def err(message: str, key: str) -> InputError:
        return InputError(message, source=source, line=raw[key].line if key in raw else line,
                          field=key)

    for key in raw:
        if key not in POLICY_KEYS:
            raise unknown_key_error(key, POLICY_KEYS, source=source, line=raw[key].line,
                                    where="a policy")
    if "name" not in raw:
        raise InputError("the policy has no 'name'", source=source, line=line, field="name")
    name = str(raw["name"].value).strip()
    if not name or any(c.isspace() for c in name) or has_control(name):
        raise err(f"policy name '{shown(name)}' must be non-empty and contain no spaces or "
                  "control characters", "name")
    if "action" not in raw:
        raise err(f"policy '{name}' has no 'action' (PASS, DISCARD or transforms)", "action")

    if "priority" in raw:
        try:
            priority = parse_int(raw["priority"].value, 1, MAX_PRIORITY, "priority")
        except InputError as e:
            raise err(e.message, "priority") from None
    else:
        priority = (previous_priority or 0) + PRIORITY_INCREMENT
        if priority > MAX_PRIORITY:
            raise err(f"the automatic priority {priority} exceeds {MAX_PRIORITY}", "priority")

    src_values = _address_filter(raw["source"], "source", source)[0] if "source" in raw else [
        (AddressValue.any(4), True)]
    dst_values = (
        _address_filter(raw["destination"], "destination", source)[0]
        if "destination" in raw else [(AddressValue.any(4), True)]
    )
    families = {v.family for v, neutral in src_values + dst_values if not neutral}
    if len(families) > 1:
        key = "destination" if "destination" in raw else "source"
        raise err(f"policy '{name}' mixes IPv4 and IPv6 addresses (source and destination of "
                  "one policy are the same family)", key)
    family: Family | None = next(iter(families)) if families else None  # type: ignore[assignment]
    home: Family = family or 4
    source_filter = AddressFilter(tuple(
        AddressValue.any(home) if neutral else v for v, neutral in src_values))
    dest_filter = AddressFilter(tuple(
        AddressValue.any(home) if neutral else v for v, neutral in dst_values))

    try:
        protocol = parse_protocol(str(raw["protocol"].value)) if "protocol" in raw else None
    except InputError as e:
        raise e.located(source=source, line=raw["protocol"].line, field="protocol") from None

    ports = {}
    for key in ("source-port", "destination-port"):
        if key not in raw:
            ports[key] = ANY_PORT
            continue
        try:
            ports[key] = parse_port(str(raw[key].value))
        except InputError as e:
            raise e.located(source=source, line=raw[key].line, field=key) from None
        if not ports[key].is_any and protocol not in PORT_PROTOCOLS:
            what = "any protocol" if protocol is None else f"protocol {protocol}"
            raise err(f"a port is given for {what}: ports need protocol tcp, udp or sctp", key)

    try:
        action = parse_action(raw["action"].value)
    except InputError as e:
        raise e.located(source=source, line=raw["action"].line, field="action") from None

    direction = "both"
    if "direction" in raw:
        direction = str(raw["direction"].value).strip().lower()
        if direction not in DIRECTIONS:
            raise err(f"direction '{raw['direction'].value}' must be out, in or both",
                      "direction")
    tunnel = None
    if "tunnel" in raw:
        try:
            end = parse_address(str(raw["tunnel"].value))
        except InputError as e:
            raise e.located(source=source, line=raw["tunnel"].line, field="tunnel") from None
        if int(end) == 0 or end.is_multicast:
            raise err(f"tunnel end point {end} is not a unicast address", "tunnel")
        if not action.is_ipsec:
            raise err(f"policy '{name}' has a tunnel end point but action {action}: only an "
                      "IPsec policy has a tunnel", "tunnel")
        tunnel = (4 if end.version == 4 else 6, int(end))

    return Policy(name=name, priority=priority, source=source_filter, destination=dest_filter,
                  action=action, family=family, protocol=protocol,
                  source_port=ports["source-port"], destination_port=ports["destination-port"],
                  index=index, line=line, direction=direction,  # type: ignore[arg-type]
                  tunnel=tunnel)  # type: ignore[arg-type]


def build_policies(raws: Sequence[tuple[RawPolicy, int]], *, source: str,
                   default_action: str | None) -> tuple[Policy, ...]:
    """Build a host's policies in file order, check name uniqueness, add the default policy."""
    policies: list[Policy] = []
    seen: dict[str, int] = {}
    highest: int | None = None
    for index, (raw, line) in enumerate(raws):
        policy = build_policy(raw, index=index, line=line, previous_priority=highest,
                              source=source)
        if policy.name in seen:
            raise InputError(
                f"policy name '{policy.name}' is used twice (first at line {seen[policy.name]})",
                source=source, line=raw["name"].line, field="name")
        if policy.name == DEFAULT_POLICY_NAME and default_action is not None:
            raise InputError(
                f"'{DEFAULT_POLICY_NAME}' names the shipped default policy; choose another name "
                "or set 'default-action: none'", source=source, line=raw["name"].line,
                field="name")
        seen[policy.name] = line
        highest = policy.priority if highest is None else max(highest, policy.priority)
        policies.append(policy)
    if default_action is not None:
        policies.append(default_policy(len(policies),
                                       PASS if default_action == "PASS" else DISCARD))
    return tuple(policies)
