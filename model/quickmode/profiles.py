"""Implementation profiles as data: YAML profile files (docs/SPEC.md 9), loaded with line numbers.

The four built-in profiles (``model/profiles/*.yaml``) and the mutant catalogue
(``model/profiles/mutants/*.yaml``) are such files, shipped with the package. A profile says
which operations each side's daemon runs, in which order, on each event; each operation is its
own step of the model. ``based-on`` starts from another profile and overrides the keys given.
Every problem is an InputError naming the file, the line and the key (exit 2).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from qmcheck.model.formats.yaml_file import mapping, parse_yaml
from qmcheck.model.semantics.negotiation import NegotiationOptions
from qmcheck.model.values.errors import InputError

PROFILE_DIR = Path(__file__).resolve().parent.parent / "profiles"
MUTANT_DIR = PROFILE_DIR / "mutants"

SA_OPS: tuple[str, ...] = ("larval-in", "larval-out", "install-in", "install-out",
                           "delete-in", "delete-out")
#: The sends each side may list.
SENDS: dict[str, tuple[str, ...]] = {"initiator": ("send-m1", "send-m3"),
                                     "responder": ("send-m2", "send-m4")}
LISTS: dict[str, tuple[str, ...]] = {"initiator": ("start", "m2", "m4", "give-up"),
                                     "responder": ("m1", "m3", "give-up")}
CHOICES: dict[str, tuple[str, ...]] = {
    "selectors.initiator-ids": ("ranges-exact", "packet-exact", "policy"),
    "selectors.responder": ("first-match", "best-score"),
    "selectors.wildcards": ("strict", "lenient", "ports"),
    "selectors.proposal-order": ("initiator", "responder"),
    "selectors.protocol": ("contain", "equal"),
    "selectors.peer-port": ("contain", "equal"),
    "selectors.mode": ("rfc2407", "invalid-id", "no-proposal", "initiator"),
    "commit-bit": ("honoured", "ignored"),
    "initiator.duplicate-m2": ("resend-m3", "ignore"),
    "responder.duplicate-m1": ("resend-m2", "ignore"),
    "kernel.spi-allocator": ("counter", "constant"),
    "lifecycle.outbound": ("newest", "oldest"),
    "lifecycle.delete-old": ("after-rekey", "at-expiry"),
    "lifecycle.delete-notify": ("sent", "never"),
    "lifecycle.dpd": ("supported", "unsupported"),
    "lifecycle.initial-contact": ("honoured", "ignored"),
    "lifecycle.rekey-spi": ("fresh", "reuse"),
    "lifecycle.responder-outbound": ("on-m3", "on-delete"),
    "lifecycle.rekey-by": ("initiator", "both"),
    "lifecycle.rekey-until": ("peer-m1", "newer-sa"),
    "lifecycle.collision": ("keep-both", "defer-out"),
}
#: The SA lifecycle's keys (docs/SPEC.md 3 "After Quick Mode") and their values when a profile
#: file leaves them out; the built-in profiles give every one and cite ``sources.lifecycle``.
LIFECYCLE_DEFAULTS: dict[str, str] = {
    "outbound": "newest", "delete-old": "at-expiry", "delete-notify": "sent",
    "dpd": "supported", "initial-contact": "honoured", "rekey-spi": "fresh",
    "responder-outbound": "on-m3", "rekey-by": "initiator", "rekey-until": "peer-m1",
    "collision": "keep-both"}
TOP_KEYS = ("profile", "based-on", "description", "selectors", "commit-bit", "commit",
            "initiator", "responder", "kernel", "lifecycle", "sources")
SECTION_KEYS: dict[str, tuple[str, ...]] = {
    "selectors": ("initiator-ids", "responder", "narrowing", "wildcards", "proposal-order",
                  "protocol", "peer-port", "mode"),
    "initiator": ("start", "m2", "m4", "duplicate-m2", "give-up", "retransmits"),
    "responder": ("m1", "m3", "duplicate-m1", "give-up", "retransmits"),
    "kernel": ("spi-allocator",),
    "lifecycle": tuple(LIFECYCLE_DEFAULTS),
    "commit": ("initiator", "responder"),
}


@dataclass(frozen=True)
class Profile:
    """One implementation profile: selector rules, operation lists, commit bit, kernel.

    ``ops[(side, event)]`` is the operation list of a side (``initiator``/``responder``) for an
    event (``start``, ``m2``, ``m4``, ``give-up``; ``m1``, ``m3``, ``give-up``).
    ``commit_ops`` replaces some of them when the commit bit is in use (set by the initiator and
    honoured by this profile). ``lifecycle`` holds the SA lifecycle's keys (``LIFECYCLE_DEFAULTS``
    fills the missing ones). ``sources`` cites, per key, where the behaviour comes from.
    """

    name: str
    file: str
    description: str
    selectors: dict[str, Any]
    commit_bit: str
    ops: dict[tuple[str, str], tuple[str, ...]]
    commit_ops: dict[tuple[str, str], tuple[str, ...]]
    duplicate_m2: str
    duplicate_m1: str
    retransmits: dict[str, int]
    spi_allocator: str
    sources: dict[str, str] = field(default_factory=dict)
    lifecycle: dict[str, str] = field(default_factory=lambda: dict(LIFECYCLE_DEFAULTS))

    def lists(self, commit: bool) -> dict[tuple[str, str], tuple[str, ...]]:
        """The operation lists in force (with the commit bit set by the initiator or not)."""
        out = dict(self.ops)
        if commit and self.commit_bit == "honoured":
            out.update(self.commit_ops)
        return out

    def commit_in_use(self, commit: bool) -> bool:
        """The initiator set the bit and this profile honours it."""
        return commit and self.commit_bit == "honoured"


# -- reading YAML with lines --------------------------------------------------------------------
Raw = dict[str, tuple[Any, int]]  # dotted key -> (value, line)


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _flatten(node: yaml.Node, source: str, prefix: str, out: Raw) -> None:
    """Dotted keys of a nested mapping; lists and scalars are leaves."""
    for key, (knode, vnode) in mapping(node, source, prefix or "the profile").items():
        dotted = f"{prefix}.{key}" if prefix else key
        if not _allowed_key(dotted):
            raise InputError(f"unknown key '{key}'{_did_you_mean(prefix, key)}", source=source,
                             line=_line(knode), field=dotted)
        if isinstance(vnode, yaml.MappingNode) and dotted in ("selectors", "initiator",
                                                              "responder", "kernel", "commit",
                                                              "lifecycle", "commit.initiator",
                                                              "commit.responder", "sources"):
            out[dotted] = ({}, _line(knode))
            _flatten(vnode, source, dotted, out)
        elif isinstance(vnode, yaml.SequenceNode):
            items = []
            for item in vnode.value:
                if not isinstance(item, yaml.ScalarNode):
                    raise InputError("a list item must be a plain word", source=source,
                                     line=_line(item), field=dotted)
                items.append(item.value)
            out[dotted] = (tuple(items), _line(knode))
        elif isinstance(vnode, yaml.ScalarNode):
            out[dotted] = (vnode.value, _line(knode))
        else:
            raise InputError("expected a word, a number or a list", source=source,
                             line=_line(vnode), field=dotted)


def read_raw(text: str, source: str) -> Raw:
    """The dotted keys of a profile file, each with its value and line."""
    node = parse_yaml(text, source)
    out: Raw = {}
    _flatten(node, source, "", out)
    return out


def _did_you_mean(prefix: str, key: str) -> str:
    """`` (did you mean 'x'?)`` for a key close to one allowed at that place, else ``""``."""
    if not prefix:
        known: Sequence[str] = tuple(TOP_KEYS)
    elif prefix == "commit":
        known = ("initiator", "responder")
    elif prefix.startswith("commit."):
        known = tuple(LISTS.get(prefix.split(".")[1], ()))
    else:
        known = tuple(SECTION_KEYS.get(prefix, ()))
    close = difflib.get_close_matches(key, known, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _allowed_key(key: str) -> bool:
    parts = key.split(".")
    if parts[0] not in TOP_KEYS:
        return False
    if len(parts) == 1 or parts[0] == "sources":
        return True
    if parts[0] == "commit":
        if len(parts) == 2:
            return parts[1] in ("initiator", "responder")
        side = parts[1]
        return parts[2] in LISTS[side] and len(parts) == 3
    return len(parts) == 2 and parts[1] in SECTION_KEYS.get(parts[0], ())


def _validate(raw: Raw, source: str) -> None:
    for key, (value, line) in raw.items():
        if not _allowed_key(key):
            raise InputError(f"unknown key '{key.split('.')[-1]}'", source=source, line=line,
                             field=key)
        if key in CHOICES and value not in CHOICES[key]:
            raise InputError(f"expected one of {', '.join(CHOICES[key])}, got {value!r}",
                             source=source, line=line, field=key)
        parts = key.split(".")
        side = parts[-2] if len(parts) >= 2 and parts[0] != "sources" else ""
        if side in LISTS and parts[-1] in LISTS[side]:
            if not isinstance(value, tuple):
                raise InputError("expected a list of operations", source=source, line=line,
                                 field=key)
            if len(value) > 8:
                raise InputError("at most 8 operations per list", source=source, line=line,
                                 field=key)
            allowed = SA_OPS + SENDS[side]
            for op in value:
                if op not in allowed:
                    raise InputError(f"unknown operation {op!r} for the {side} (expected "
                                     f"{', '.join(allowed)})", source=source, line=line,
                                     field=key)
        if key.endswith(".retransmits") and not (
                isinstance(value, str) and value.isdigit() and 0 <= int(value) <= 6):
                raise InputError(f"expected an integer from 0 to 6, got {value!r}",
                                 source=source, line=line, field=key)
        if key == "selectors.narrowing" and value not in ("true", "false"):
            raise InputError(f"expected true or false, got {value!r}", source=source,
                             line=line, field=key)
        if key.startswith("sources.") and not isinstance(value, str):
            raise InputError("a source citation must be text", source=source, line=line,
                             field=key)


REQUIRED = ("selectors.initiator-ids", "selectors.responder", "selectors.narrowing",
            "selectors.wildcards", "selectors.proposal-order", "commit-bit",
            "initiator.start", "initiator.m2", "initiator.m4", "initiator.duplicate-m2",
            "initiator.give-up", "initiator.retransmits", "responder.m1", "responder.m3",
            "responder.duplicate-m1", "responder.give-up", "responder.retransmits",
            "kernel.spi-allocator")


def resolve(name_or_path: str) -> Path:
    """The file of a built-in or mutant profile name, or a path (InputError if none)."""
    for folder in (PROFILE_DIR, MUTANT_DIR):
        candidate = folder / f"{name_or_path}.yaml"
        if "/" not in name_or_path and candidate.is_file():
            return candidate
    path = Path(name_or_path)
    if path.is_file():
        return path
    if "/" in name_or_path or name_or_path.endswith((".yaml", ".yml")):
        reason = "a folder, not a profile file" if path.exists() else "no such profile file"
        raise InputError(reason, source=name_or_path, field="profile")
    raise InputError(f"unknown profile {name_or_path!r} (a built-in name: "
                     f"{', '.join(builtin_names())}, a mutant name, or a profile file)",
                     source="<command line>", field="profile")


def builtin_names() -> tuple[str, ...]:
    return ("hpux", "racoon", "strongswan", "libreswan")


def mutant_names() -> tuple[str, ...]:
    """The mutant catalogue, sorted by name."""
    return tuple(sorted(p.stem for p in MUTANT_DIR.glob("*.yaml")))


def _merged(path: Path, seen: tuple[str, ...]) -> tuple[Raw, dict[str, str]]:
    """Raw keys after ``based-on`` (the base's keys, overridden), with the file of each key."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(f"cannot read the file: {error.strerror}", source=source) from None
    raw = read_raw(text, source)
    _validate(raw, source)
    origin = dict.fromkeys(raw, source)
    if "based-on" in raw:
        base_name, line = raw["based-on"]
        if not isinstance(base_name, str):
            raise InputError("expected a profile name", source=source, line=line,
                             field="based-on")
        try:
            base_path = resolve(base_name)
        except InputError:
            raise InputError(f"unknown profile {base_name!r}", source=source, line=line,
                             field="based-on") from None
        if str(base_path) in seen:
            raise InputError(f"'based-on' makes a cycle through {base_name!r}", source=source,
                             line=line, field="based-on")
        base, base_origin = _merged(base_path, (*seen, str(base_path)))
        for drop in ("profile", "based-on", "description"):
            base.pop(drop, None)
        base.update(raw)
        base_origin.update(origin)
        return base, base_origin
    return raw, origin


@lru_cache(maxsize=64)
def load_profile(name_or_path: str) -> Profile:
    """The profile of a built-in name, a mutant name or a file path (InputError when bad)."""
    path = resolve(name_or_path)
    raw, origin = _merged(path, (str(path),))
    source = str(path)
    for key in REQUIRED:
        if key not in raw:
            raise InputError(f"missing key '{key}' (give it or use based-on)", source=source,
                             line=1, field=key)
    name = raw.get("profile", (path.stem, 1))[0]
    if not isinstance(name, str):
        raise InputError("expected a name", source=source, line=raw["profile"][1],
                         field="profile")
    ops = {(side, ev): raw[f"{side}.{ev}"][0] for side, evs in LISTS.items() for ev in evs}
    commit_ops = {(side, ev): raw[f"commit.{side}.{ev}"][0] for side, evs in LISTS.items()
                  for ev in evs if f"commit.{side}.{ev}" in raw}
    selectors = {k: raw[f"selectors.{k}"][0] for k in SECTION_KEYS["selectors"]
                 if f"selectors.{k}" in raw}
    selectors.setdefault("protocol", "contain")
    selectors.setdefault("peer-port", "contain")
    selectors.setdefault("mode", "rfc2407")
    selectors["narrowing"] = selectors["narrowing"] == "true"
    sources = {k[len("sources."):]: str(v) for k, (v, _) in raw.items()
               if k.startswith("sources.")}
    if name_or_path in builtin_names() and "/" not in name_or_path:
        missing = [k for k in ("initiator", "responder", "selectors", "commit-bit",
                               "lifecycle") if k not in sources]
        missing += [f"lifecycle.{k}" for k in LIFECYCLE_DEFAULTS if f"lifecycle.{k}" not in raw]
        if missing:
            raise InputError(f"a built-in profile must cite a source for {missing[0]}",
                             source=source, line=1, field="sources")
    return Profile(
        name=name, file=origin.get("profile", source), description=str(
            raw.get("description", ("", 0))[0]),
        selectors=selectors, commit_bit=raw["commit-bit"][0], ops=ops, commit_ops=commit_ops,
        duplicate_m2=raw["initiator.duplicate-m2"][0],
        duplicate_m1=raw["responder.duplicate-m1"][0],
        retransmits={"initiator": int(raw["initiator.retransmits"][0]),
                     "responder": int(raw["responder.retransmits"][0])},
        spi_allocator=raw["kernel.spi-allocator"][0], sources=sources,
        lifecycle={k: str(raw.get(f"lifecycle.{k}", (v, 0))[0])
                   for k, v in LIFECYCLE_DEFAULTS.items()})


def negotiation_options(name_or_path: str) -> NegotiationOptions:
    """The rules of a profile's ``selectors:`` section for the negotiation semantics
    (model/semantics/negotiation.py) and its z3 encoding: how the initiator derives its IDs,
    how the responder selects and narrows, wildcards and proposal order. Every command reads
    a profile's negotiation through this function (a name or a file path)."""
    sel = load_profile(name_or_path).selectors
    return NegotiationOptions(wildcard=sel["wildcards"], proposal_order=sel["proposal-order"],
                              responder_rule=sel["responder"], narrowing=sel["narrowing"],
                              protocol_rule=sel["protocol"], peer_port_rule=sel["peer-port"],
                              mode_rule=sel["mode"],
                              initiator_ids=sel["initiator-ids"])
