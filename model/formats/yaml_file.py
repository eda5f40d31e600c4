"""Load host and scenario YAML files (docs/SPEC.md 8), keeping the line of every key.

PyYAML's node tree is walked directly (not ``safe_load``), so that every error can name the
line, and values such as ``1:2::3`` or ``no`` are read as the text the user wrote.
"""

from __future__ import annotations

from typing import Any

import yaml

from qmcheck.model.formats.builder import RawField, RawPolicy, build_policies, unknown_key_error
from qmcheck.model.values.addresses import AddressValue, parse_address_value
from qmcheck.model.values.errors import InputError
from qmcheck.model.values.policy import Host, Scenario
from qmcheck.model.values.text import has_control, shown

HOST_KEYS: tuple[str, ...] = ("host", "address", "protects", "default-action", "policies",
                              "description")
SCENARIO_KEYS: tuple[str, ...] = ("hosts", "protocol", "description")
SCENARIO_HOST_KEYS: tuple[str, ...] = ("address", "protects", "default-action", "policies",
                                       "description")


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


# libyaml's C parser when PyYAML was built with it (about 10x faster on large files).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str, source: str) -> yaml.Node:
    """Compose the YAML node tree; broken YAML and empty files are InputErrors."""
    try:
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = e.problem or e.context or "malformed YAML"
        raise InputError(f"malformed YAML: {problem}", source=source, line=line) from None
    except yaml.reader.ReaderError as e:  # a control character or a non-Unicode character
        line = text[: e.position].count("\n") + 1
        raise InputError(f"character #x{e.character:04x} is not allowed in YAML (a control "
                         "character)", source=source, line=line) from None
    except yaml.YAMLError as e:
        raise InputError(f"malformed YAML: {e}", source=source) from None
    except RecursionError:
        raise InputError(f"malformed YAML: nested more than {MAX_DEPTH} levels deep",
                         source=source) from None
    if node is None:
        raise InputError("the file is empty: expected a host (policies:) or a scenario "
                         "(hosts:)", source=source, line=1)
    check_tree(node, source)
    return node


MAX_NODES = 100_000  # the tree with every alias expanded (an alias bomb is refused)
ALIAS_GROWTH = 4  # ... when aliases also make it this many times the distinct nodes
MAX_DEPTH = 64


def check_tree(root: yaml.Node, source: str) -> None:
    """Refuse what a policy file never needs: tags outside YAML's own (``!!python/object``),
    recursive aliases, nesting deeper than ``MAX_DEPTH`` and trees that aliases expand beyond
    ``MAX_NODES`` nodes and ``ALIAS_GROWTH`` times their distinct nodes (a file without
    aliases is bounded by its size, ``loader.max_input_bytes``: a host of 10,000 policies
    has about 170,000 nodes). The expanded size is counted without expanding (each node
    once). A tree where no node is reached twice (no alias) is checked in one cheap walk
    that visits the nodes in the same order; an alias sends it to the full walk."""
    if _tree_without_aliases(root, source):
        return
    size: dict[int, int] = {}
    active: set[int] = set()
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, done = stack.pop()
        key = id(node)
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        if done:
            active.discard(key)
            size[key] = 1 + sum(size[id(c)] for c in children)
            if size[key] > MAX_NODES and size[key] > ALIAS_GROWTH * len(size):
                raise InputError(f"the YAML expands to more than {MAX_NODES} values (aliases "
                                 "repeat too much)", source=source, line=_line(node))
            continue
        if key in size:
            continue
        if key in active:
            raise InputError("a YAML alias refers to itself", source=source, line=_line(node))
        _check_node(node, depth, source)
        active.add(key)
        stack.append((node, depth, True))
        stack.extend((c, depth + 1, False) for c in children if id(c) not in size)


def _check_node(node: yaml.Node, depth: int, source: str) -> None:
    tag = str(node.tag)
    if not tag.startswith("tag:yaml.org,2002:") or tag.startswith("tag:yaml.org,2002:python"):
        raise InputError(f"YAML tag '{tag}' is not allowed (only plain values, lists and "
                         "mappings)", source=source, line=_line(node))
    if depth > MAX_DEPTH:
        raise InputError(f"nested more than {MAX_DEPTH} levels deep", source=source,
                         line=_line(node))


def _tree_without_aliases(root: yaml.Node, source: str) -> bool:
    """``check_tree``'s tag and depth checks, in its order, on a tree without aliases (True);
    False, checks unfinished, as soon as some node is reached a second time."""
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, int]] = [(root, 1)]
    plain = "tag:yaml.org,2002:str"
    while stack:
        node, depth = stack.pop()
        key = id(node)
        if key in seen:
            return False
        seen.add(key)
        if node.tag != plain or depth > MAX_DEPTH:
            _check_node(node, depth, source)
        if isinstance(node, yaml.SequenceNode):
            stack.extend([(c, depth + 1) for c in node.value])
        elif isinstance(node, yaml.MappingNode):
            stack.extend([(c, depth + 1) for pair in node.value for c in pair])
    return True


def mapping(node: yaml.Node, source: str, what: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    """A mapping's entries by key text, rejecting duplicate and non-text keys."""
    if not isinstance(node, yaml.MappingNode):
        raise InputError(f"{what} must be a mapping of keys to values", source=source,
                         line=_line(node))
    out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            raise InputError(f"a key in {what} must be a plain word", source=source,
                             line=_line(key_node))
        key = key_node.value
        if key in out:
            raise InputError(f"key '{key}' appears twice in {what} (first at line "
                             f"{_line(out[key][0])})", source=source, line=_line(key_node),
                             field=key)
        out[key] = (key_node, value_node)
    return out


def check_keys(entries: dict[str, tuple[yaml.Node, yaml.Node]], allowed: tuple[str, ...],
               source: str, where: str) -> None:
    for key, (key_node, _) in entries.items():
        if key not in allowed:
            raise unknown_key_error(key, allowed, source=source, line=_line(key_node),
                                    where=where)


def scalar_text(node: yaml.Node, source: str, field: str) -> str:
    if not isinstance(node, yaml.ScalarNode):
        raise InputError("expected a single value, not a list or mapping", source=source,
                         line=_line(node), field=field)
    if node.tag == "tag:yaml.org,2002:null" and node.value in ("", "~", "null"):
        raise InputError("the value is empty", source=source, line=_line(node), field=field)
    return str(node.value)


def texts(node: yaml.Node, source: str, field: str) -> str | list[str]:
    """A single value, or a list of single values."""
    if isinstance(node, yaml.SequenceNode):
        return [scalar_text(item, source, field) for item in node.value]
    return scalar_text(node, source, field)


def plain_value(node: yaml.Node) -> Any:
    """The Python value of a node (used for the protocol options of a scenario)."""
    return yaml.SafeLoader(yaml.serialize(node)).get_single_data()


def _policies(node: yaml.Node, source: str) -> list[tuple[RawPolicy, int]]:
    if not isinstance(node, yaml.SequenceNode):
        raise InputError("'policies' must be a list of policies", source=source,
                         line=_line(node), field="policies")
    raws: list[tuple[RawPolicy, int]] = []
    for item in node.value:
        entries = mapping(item, source, "a policy")
        raw: RawPolicy = {}
        for key, (key_node, value_node) in entries.items():
            if key == "description":
                continue
            raw[key] = RawField(texts(value_node, source, key), _line(key_node))
        raws.append((raw, _line(item)))
    return raws


def _host(name: str, entries: dict[str, tuple[yaml.Node, yaml.Node]], source: str,
          line: int) -> Host:
    if not name.strip() or has_control(name):
        raise InputError(f"host name '{shown(name)}' must be non-empty, without control "
                         "characters", source=source, line=line, field="host")
    default_action: str | None = "PASS"
    if "default-action" in entries:
        text = scalar_text(entries["default-action"][1], source, "default-action").strip()
        if text.upper() not in ("PASS", "DISCARD", "NONE"):
            raise InputError(f"default-action '{text}' must be PASS, DISCARD or none",
                             source=source, line=_line(entries["default-action"][0]),
                             field="default-action")
        default_action = None if text.upper() == "NONE" else text.upper()
    values = {key: address_list(entries, key, source) for key in ("address", "protects")}
    addresses = [(v.family, v.lo) for v in values["address"] if v.kind == "single"]
    if "policies" not in entries:
        raise InputError(f"host '{name}' has no 'policies' list", source=source, line=line,
                         field="policies")
    raws = _policies(entries["policies"][1], source)
    policies = build_policies(raws, source=source, default_action=default_action)
    return Host(name=name, policies=policies, addresses=tuple(addresses),
                source=source, default_action=default_action,
                address_values=tuple(values["address"]), protects=tuple(values["protects"]))


def address_list(entries: dict[str, tuple[yaml.Node, yaml.Node]], key: str,
                 source: str) -> list[AddressValue]:
    """A host's ``address`` or ``protects``: one value or a list of addresses and prefixes
    (ranges too); ``any`` is refused (leave the key out to mean every address)."""
    if key not in entries:
        return []
    key_node, value_node = entries[key]
    value = texts(value_node, source, key)
    out: list[AddressValue] = []
    for text in value if isinstance(value, list) else [value]:
        line = _line(value_node) if not isinstance(value_node, yaml.SequenceNode) else \
            _line(next(n for n in value_node.value if n.value == text))
        try:
            parsed = parse_address_value(text)
        except InputError as e:
            raise e.located(source=source, line=line, field=key) from None
        if parsed.is_any:
            raise InputError(f"'{text}' is every address; leave '{key}' out to analyse every "
                             "address", source=source, line=line, field=key)
        out.append(parsed)
    if isinstance(value, list) and not out:
        raise InputError(f"'{key}' is an empty list", source=source, line=_line(key_node),
                         field=key)
    return out


def load_yaml_text(text: str, source: str) -> Host | Scenario:
    """A host file (``policies:`` at the top) or a scenario file (``hosts:`` at the top)."""
    root = parse_yaml(text, source)
    entries = mapping(root, source, "the file")
    if "hosts" in entries:
        check_keys(entries, SCENARIO_KEYS, source, "a scenario")
        hosts_node = entries["hosts"][1]
        host_entries = mapping(hosts_node, source, "'hosts'")
        if not host_entries:
            raise InputError("'hosts' is empty", source=source, line=_line(hosts_node),
                             field="hosts")
        hosts: dict[str, Host] = {}
        for name, (key_node, value_node) in host_entries.items():
            inner = mapping(value_node, source, f"host '{name}'")
            check_keys(inner, SCENARIO_HOST_KEYS, source, f"host '{name}'")
            hosts[name] = _host(name, inner, source, _line(key_node))
        protocol: dict[str, Any] = {}
        lines: dict[str, int] = {}
        if "protocol" in entries:
            proto_entries = mapping(entries["protocol"][1], source, "'protocol'")
            for key, (key_node, value_node) in proto_entries.items():
                protocol[key] = plain_value(value_node)
                lines[key] = _line(key_node)
        return Scenario(hosts=hosts, protocol=protocol, source=source, protocol_lines=lines)
    check_keys(entries, HOST_KEYS, source, "a host file")
    name = (scalar_text(entries["host"][1], source, "host") if "host" in entries
            else _stem(source))
    return _host(name, entries, source, 1)


def _stem(source: str) -> str:
    base = source.replace("\\", "/").rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[0] or "host"
