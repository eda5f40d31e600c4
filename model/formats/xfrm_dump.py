"""Import Linux XFRM policies: the output of ``ip xfrm policy`` or ``ip -s xfrm policy``.

A kernel policy is one-directional, a host policy mirrored (docs/SPEC.md 2). The importer pairs each
``dir out`` policy with the ``dir in`` policy that has source and destination (addresses and
ports) swapped, the same protocol, priority and action, and makes the pair one host policy; a
policy without its mirror is an error naming its line (the model could not reproduce the
lookup of the missing direction). ``dir fwd`` policies (forwarded traffic, not the host's own)
and per-socket policies (``socket in``/``socket out``, e.g. an IKE daemon's bypass) are skipped.

- Priority: the kernel's priority when all of them are in the guide's range 1..2^31-1;
  otherwise (the kernel allows 0, the default of ``ip xfrm policy add``, and up to 2^32-1) the
  distinct priorities are renumbered 1, 2, ... in the same order.
- Equal priorities: the kernel searches them in insertion order (the first inserted wins; the
  differential test of tests/system establishes this). ``ip -s`` prints each policy's index,
  which grows with insertion, and the importer orders by it; plain ``ip xfrm policy`` lists
  the newest policy first, so without indexes the importer takes the listing in reverse.
- Action: ``block`` -> DISCARD; ``allow`` without template -> PASS; ``allow`` with templates ->
  IPsec. A kernel policy names only the protocols of its SAs, not their algorithms, so the
  transform is a documented guess: ESP -> ``ESP_AES128_HMAC_SHA1``, AH -> ``AH_SHA1``, AH and
  ESP -> the nested ``AH_SHA1+ESP_AES128_HMAC_SHA1`` (see GUESSED_TRANSFORM).
- Not modelled, so reported as input errors naming line and field: ``dev``, ICMP ``type`` and
  ``code``, GRE ``key``, ``mark``, ``if_id``, security contexts, sub policies (``ptype sub``),
  IPComp templates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from qmcheck.model.formats.builder import RawField, RawPolicy, build_policies
from qmcheck.model.values.errors import InputError
from qmcheck.model.values.numbers import parse_int
from qmcheck.model.values.policy import MAX_PRIORITY, Host
from qmcheck.model.values.protocols import parse_protocol

GUESSED_TRANSFORM: dict[frozenset[str], str] = {
    frozenset({"esp"}): "ESP_AES128_HMAC_SHA1",
    frozenset({"ah"}): "AH_SHA1",
    frozenset({"ah", "esp"}): "AH_SHA1+ESP_AES128_HMAC_SHA1",
}
MAX_U32 = 2**32 - 1  # xfrm priorities and indexes are 32-bit
UNSUPPORTED_SELECTOR = ("dev", "type", "code", "key")
UNSUPPORTED_LINES = ("mark", "if_id", "security", "sec_ctx")


@dataclass
class Entry:
    """One kernel policy as listed."""

    line: int
    position: int
    src: str
    dst: str
    protocol: str = "any"
    sport: str = "any"
    dport: str = "any"
    direction: str = ""
    action: str = "allow"
    priority: int = 0
    index: int | None = None
    socket: bool = False
    templates: list[str] = field(default_factory=list)

    def mirror_key(self) -> tuple[str, ...]:
        """The key of the mirrored policy (in <-> out, source and destination swapped)."""
        return (self.dst, self.src, self.protocol, self.dport, self.sport, str(self.priority),
                self.action_text())

    def key(self) -> tuple[str, ...]:
        return (self.src, self.dst, self.protocol, self.sport, self.dport, str(self.priority),
                self.action_text())

    def action_text(self) -> str:
        if self.action == "block":
            return "DISCARD"
        if not self.templates:
            return "PASS"
        return GUESSED_TRANSFORM[frozenset(self.templates)]


def looks_like_xfrm(text: str) -> bool:
    """The first meaningful line is a selector line ``src A dst B ...``."""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        words = stripped.split()
        return len(words) >= 4 and words[0] == "src" and words[2] == "dst"
    return False


def _words_value(words: list[str], i: int, source: str, line: int, key: str) -> str:
    if i + 1 >= len(words):
        raise InputError(f"'{key}' has no value", source=source, line=line, field=key)
    return words[i + 1]


def parse_entries(text: str, source: str) -> list[Entry]:
    """The kernel policies of a listing, in listing order."""
    entries: list[Entry] = []
    current: Entry | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.strip().startswith("#"):
            continue
        words = raw.split()
        if not raw[0].isspace():
            if words[0] != "src":
                raise InputError(f"expected a selector line 'src ADDR dst ADDR ...', got "
                                 f"'{words[0]}'", source=source, line=number, field=words[0])
            current = _selector(words, number, len(entries), source)
            entries.append(current)
            continue
        if current is None:
            raise InputError("an indented line before the first 'src ... dst ...' line",
                             source=source, line=number)
        head = words[0]
        if head in ("dir", "socket"):
            _dir_line(current, words, number, source)
        elif head == "tmpl":
            current.templates.append("")
        elif head == "proto" and current.templates and current.templates[-1] == "":
            proto = _words_value(words, 0, source, number, "proto")
            if proto not in ("esp", "ah"):
                raise InputError(f"a template of protocol '{proto}' is not modelled (only "
                                 "esp and ah)", source=source, line=number, field="tmpl")
            current.templates[-1] = proto
        elif head in UNSUPPORTED_LINES:
            raise InputError(f"'{head}' is not modelled: a host policy has no {head}",
                             source=source, line=number, field=head)
        # Anything else (lifetime and statistics lines of ``ip -s``) is informational.
    for entry in entries:
        if not entry.direction:
            raise InputError("the policy has no 'dir' line", source=source, line=entry.line,
                             field="dir")
        if "" in entry.templates:
            raise InputError("a 'tmpl' line without its 'proto' line", source=source,
                             line=entry.line, field="tmpl")
    return entries


def _selector(words: list[str], number: int, position: int, source: str) -> Entry:
    entry = Entry(number, position, src="", dst="")
    i = 0
    while i < len(words):
        key = words[i]
        if key in ("src", "dst", "proto", "sport", "dport", "uid"):
            value = _words_value(words, i, source, number, key)
            if key == "src":
                entry.src = value
            elif key == "dst":
                entry.dst = value
            elif key == "proto":
                try:
                    number_ = parse_protocol(value)
                except InputError as e:
                    raise e.located(source=source, line=number, field="proto") from None
                entry.protocol = "any" if number_ is None else str(number_)
            elif key == "sport":
                entry.sport = value
            elif key == "dport":
                entry.dport = value
            i += 2
            continue
        if key in UNSUPPORTED_SELECTOR:
            raise InputError(f"selector field '{key}' is not modelled (a host policy has "
                             f"{'no interface' if key == 'dev' else 'ports, not ' + key})",
                             source=source, line=number, field=key)
        raise InputError(f"unknown selector field '{key}'", source=source, line=number,
                         field=key)
    if not entry.src or not entry.dst:
        raise InputError("a selector needs 'src' and 'dst'", source=source, line=number,
                         field="src" if not entry.src else "dst")
    return entry


def _dir_line(entry: Entry, words: list[str], number: int, source: str) -> None:
    if words[0] == "socket":
        entry.socket = True
        entry.direction = words[1] if len(words) > 1 else "?"
    i = 0
    while i < len(words):
        key = words[i]
        if key in ("dir", "action", "priority", "index", "ptype"):
            value = _words_value(words, i, source, number, key)
            if key == "dir":
                if value not in ("in", "out", "fwd"):
                    raise InputError(f"unknown direction '{value}'", source=source,
                                     line=number, field="dir")
                entry.direction = value
            elif key == "action":
                if value not in ("allow", "block"):
                    raise InputError(f"unknown action '{value}' (allow or block)",
                                     source=source, line=number, field="action")
                entry.action = value
            elif key in ("priority", "index"):
                try:
                    parsed = parse_int(value, 0, MAX_U32, key)
                except InputError as e:
                    raise e.located(source=source, line=number, field=key) from None
                if key == "priority":
                    entry.priority = parsed
                else:
                    entry.index = parsed
            elif value != "main":
                raise InputError(f"policy type '{value}' is not modelled (only main)",
                                 source=source, line=number, field="ptype")
            i += 2
            continue
        i += 1


def load_xfrm_text(text: str, source: str) -> Host:
    """A host whose policies are the mirrored pairs of the listing (see the module doc)."""
    entries = [e for e in parse_entries(text, source)
               if not e.socket and e.direction != "fwd"]
    if all(e.index is not None for e in entries):
        ranked = sorted(entries, key=lambda e: e.index or 0)
    else:
        ranked = list(reversed(entries))  # ``ip xfrm policy`` lists the newest first
    rank = {id(e): r for r, e in enumerate(ranked)}
    ins = {}
    for e in ranked:
        if e.direction == "in":
            ins.setdefault(e.key(), []).append(e)
    pairs: list[tuple[Entry, Entry]] = []
    for e in ranked:
        if e.direction != "out":
            continue
        candidates = ins.get(e.mirror_key())
        if not candidates:
            raise InputError(
                "this 'dir out' policy has no mirrored 'dir in' policy (source and destination "
                "swapped, same protocol, priority and action); a host policy covers both "
                "directions", source=source, line=e.line, field="dir")
        pairs.append((e, candidates.pop(0)))
    for left in ins.values():
        if left:
            raise InputError(
                "this 'dir in' policy has no mirrored 'dir out' policy; a host policy covers "
                "both directions", source=source, line=left[0].line, field="dir")
    _check_tie_order(pairs, rank, source)
    priorities = renumber(sorted({out.priority for out, _ in pairs}))
    raws: list[tuple[RawPolicy, int]] = []
    for out, _ in pairs:
        raw: RawPolicy = {
            "name": RawField(f"xfrm-L{out.line}", out.line),
            "priority": RawField(str(priorities[out.priority]), out.line),
            "source": RawField(out.src, out.line),
            "destination": RawField(out.dst, out.line),
            "protocol": RawField(out.protocol, out.line),
            "source-port": RawField(out.sport, out.line),
            "destination-port": RawField(out.dport, out.line),
            "action": RawField(out.action_text(), out.line),
        }
        raws.append((raw, out.line))
    policies = build_policies(raws, source=source, default_action="PASS")
    return Host(name=_stem(source), policies=policies, source=source, default_action="PASS")


def renumber(kernel: list[int]) -> dict[int, int]:
    """Kernel priority -> model priority: kept when every one is in the guide's range
    1..2^31-1, otherwise renumbered 1, 2, ... in the same order (the kernel allows 0, the
    default of ``ip xfrm policy add``, and values up to 2^32-1)."""
    if all(1 <= p <= MAX_PRIORITY for p in kernel):
        return {p: p for p in kernel}
    return {p: rank for rank, p in enumerate(kernel, start=1)}


def _check_tie_order(pairs: list[tuple[Entry, Entry]], rank: dict[int, int],
                     source: str) -> None:
    """Equal-priority pairs must be in the same order in both directions (one host order):
    within each priority, the 'dir in' ranks must rise in the 'dir out' order."""
    last: dict[int, tuple[int, Entry]] = {}
    for out, inn in pairs:
        previous = last.get(out.priority)
        if previous is not None and rank[id(inn)] < previous[0]:
            raise InputError(
                f"policies of priority {out.priority} at lines {previous[1].line} and "
                f"{out.line} are in one order for 'dir out' and in the other for "
                "'dir in'; the host policy model has one order for both directions",
                source=source, line=out.line, field="priority")
        if previous is None or rank[id(inn)] > previous[0]:
            last[out.priority] = (rank[id(inn)], out)


def _stem(source: str) -> str:
    base = source.replace("\\", "/").rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[0] or "host"
