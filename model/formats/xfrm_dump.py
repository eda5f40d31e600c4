"""Import Linux XFRM policies: the output of ``ip xfrm policy`` or ``ip -s xfrm policy``.

A kernel policy is one-directional; a host policy is mirrored unless it has a direction
(docs/SPEC.md 2). The importer makes each ``dir out`` policy and the ``dir in`` policy that has
source and destination (addresses and ports) swapped, the same protocol, priority, action and
tunnel end point one mirrored host policy (``both``); every other policy is kept with its own
direction, never refused for lacking a mirror (``policy.*`` and ``peers.*`` find where a missing
mirror matters). When pairing would change the search order of either direction (equal
priorities listed in one order for ``out`` and another for ``in``), nothing is paired.
``dir fwd`` policies (traffic forwarded through the host, not its own: the model's lookup is
the host's own ``out`` and ``in``) and per-socket policies (``socket in``/``socket out``, e.g.
an IKE daemon's bypass) are skipped; the host's notes say how many.
``mode tunnel`` templates keep their end points: the policy's ``tunnel`` is the remote end
(the template's ``dst`` for ``dir out``, its ``src`` for ``dir in``).

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
- Marks and XFRM interfaces: the kernel applies a policy to a flow only when the flow's mark
  ANDed with the policy's mask equals the policy's mark value and the flow's interface ID
  equals the policy's ``if_id`` (Linux net/xfrm/xfrm_policy.c, xfrm_policy_match). The model's
  packets are unmarked and routed through no XFRM interface (mark 0, if_id 0), so a policy with
  a non-zero mark value (``mark 0x1/0xff``) or a non-zero ``if_id`` never applies to them: it
  is left out, and the host's notes name each one (marked traffic and route-based VPNs are not
  modelled). A mark of value 0 applies to unmarked packets and is kept.
- Not modelled, so reported as input errors naming line and field: ``dev``, ICMP ``type`` and
  ``code``, GRE ``key``, security contexts, sub policies (``ptype sub``), IPComp templates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from qmcheck.model.formats.builder import RawField, RawPolicy, build_policies
from qmcheck.model.values.errors import InputError
from qmcheck.model.values.numbers import parse_int
from qmcheck.model.values.policy import MAX_PRIORITY, Host
from qmcheck.model.values.protocols import parse_protocol
from qmcheck.model.values.text import shown

GUESSED_TRANSFORM: dict[frozenset[str], str] = {
    frozenset({"esp"}): "ESP_AES128_HMAC_SHA1",
    frozenset({"ah"}): "AH_SHA1",
    frozenset({"ah", "esp"}): "AH_SHA1+ESP_AES128_HMAC_SHA1",
}
MAX_U32 = 2**32 - 1  # xfrm priorities and indexes are 32-bit
UNSUPPORTED_SELECTOR = ("dev", "type", "code", "key")
UNSUPPORTED_LINES = ("security", "sec_ctx")


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
    tunnel_ends: tuple[str, str] | None = None  # (tmpl src, tmpl dst) of a mode tunnel template
    mark: tuple[int, int] = (0, 0)  # (value, mask): applies when packet mark & mask == value
    if_id: int = 0  # the XFRM interface ID the policy is bound to (0: none)

    def applies_to_plain_packets(self) -> bool:
        """Does the policy apply to an unmarked packet that passes no XFRM interface (the
        model's packets)? xfrm_policy_match: ``(mark & m) == v`` and ``if_id == pol->if_id``."""
        return self.mark[0] == 0 and self.if_id == 0

    def remote_end(self) -> str:
        """The remote tunnel end point ('' for transport mode)."""
        if self.tunnel_ends is None:
            return ""
        return self.tunnel_ends[1] if self.direction == "out" else self.tunnel_ends[0]

    def mirror_key(self) -> tuple[str, ...]:
        """The key of the mirrored policy (in <-> out, source and destination swapped)."""
        return (self.dst, self.src, self.protocol, self.dport, self.sport, str(self.priority),
                self.action_text(), self.remote_end())

    def key(self) -> tuple[str, ...]:
        return (self.src, self.dst, self.protocol, self.sport, self.dport, str(self.priority),
                self.action_text(), self.remote_end())

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
            ends = (_after(words, "src"), _after(words, "dst"))
        elif head == "proto" and current.templates and current.templates[-1] == "":
            proto = _words_value(words, 0, source, number, "proto")
            if proto not in ("esp", "ah"):
                raise InputError(f"a template of protocol '{proto}' is not modelled (only "
                                 "esp and ah)", source=source, line=number, field="tmpl")
            current.templates[-1] = proto
            mode = _after(words, "mode") or "transport"
            if mode == "tunnel":
                if not ends[0] or not ends[1]:
                    raise InputError("a mode tunnel template needs its src and dst end points",
                                     source=source, line=number, field="tmpl")
                current.tunnel_ends = (ends[0], ends[1])
            elif mode != "transport":
                raise InputError(f"template mode '{mode}' is not modelled (transport or "
                                 "tunnel)", source=source, line=number, field="mode")
        elif head == "mark":
            current.mark = _mark(_words_value(words, 0, source, number, "mark"), source,
                                 number)
        elif head == "if_id":
            try:
                current.if_id = _u32(_words_value(words, 0, source, number, "if_id"), "if_id")
            except InputError as e:
                raise e.located(source=source, line=number, field="if_id") from None
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


def _u32(text: str, what: str) -> int:
    """A 32-bit number, hexadecimal (``0x1f``, as ``ip`` prints marks) or decimal."""
    digits = text[2:] if text[:2].lower() == "0x" else None
    if digits is not None:
        if not digits or len(digits) > 8 or not all(c in "0123456789abcdefABCDEF"
                                                    for c in digits):
            raise InputError(f"{what} '{shown(text)}' is not a 32-bit hexadecimal number")
        return int(digits, 16)
    return parse_int(text, 0, MAX_U32, what)


def _mark(text: str, source: str, line: int) -> tuple[int, int]:
    """``VALUE[/MASK]`` as ``ip`` prints it (hexadecimal or decimal; the mask defaults to
    0xffffffff, as in ``ip xfrm policy add ... mark VALUE``)."""
    value_text, slash, mask_text = text.partition("/")
    try:
        value = _u32(value_text, "mark")
        mask = _u32(mask_text, "mark mask") if slash else MAX_U32
    except InputError as e:
        raise e.located(source=source, line=line, field="mark") from None
    return value, mask


def _after(words: list[str], key: str) -> str:
    """The word after ``key`` ('' when absent)."""
    return words[words.index(key) + 1] if key in words[:-1] else ""


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
    """A host whose policies are the listing's kernel policies (see the module doc)."""
    listed = parse_entries(text, source)
    own = [e for e in listed if not e.socket and e.direction != "fwd"]
    skipped = len(listed) - len(own)
    entries = [e for e in own if e.applies_to_plain_packets()]
    if all(e.index is not None for e in entries):
        ranked = sorted(entries, key=lambda e: e.index or 0)
    else:
        ranked = list(reversed(entries))  # ``ip xfrm policy`` lists the newest first
    items = _paired(ranked)
    if not _keeps_order(items):
        items = [(r, e, e.direction, r) for r, e in enumerate(ranked)]
    items.sort(key=lambda it: it[0])
    priorities = renumber(sorted({e.priority for _, e, _, _ in items}))
    raws: list[tuple[RawPolicy, int]] = []
    for _, e, direction, _ in items:
        # host policies are in the host's coordinates (source = local): a ``dir in`` kernel
        # selector (in packet terms) is swapped
        local, remote, lport, rport = ((e.dst, e.src, e.dport, e.sport) if direction == "in"
                                       else (e.src, e.dst, e.sport, e.dport))
        raw: RawPolicy = {
            "name": RawField(f"xfrm-L{e.line}", e.line),
            "priority": RawField(str(priorities[e.priority]), e.line),
            "source": RawField(local, e.line),
            "destination": RawField(remote, e.line),
            "protocol": RawField(e.protocol, e.line),
            "source-port": RawField(lport, e.line),
            "destination-port": RawField(rport, e.line),
            "action": RawField(e.action_text(), e.line),
            "direction": RawField(direction, e.line),
        }
        if e.remote_end():
            raw["tunnel"] = RawField(e.remote_end(), e.line)
        raws.append((raw, e.line))
    policies = build_policies(raws, source=source, default_action="PASS")
    notes = [f"{skipped} forwarding (dir fwd) or per-socket policies skipped: the model looks "
             "up the host's own traffic"] if skipped else []
    notes.extend(_mark_note(e) for e in own if not e.applies_to_plain_packets())
    return Host(name=_stem(source), policies=policies, source=source, default_action="PASS",
                notes=tuple(notes))


def _mark_note(entry: Entry) -> str:
    """The note for a policy left out: what it is bound to, and why it is left out."""
    parts = ([f"mark 0x{entry.mark[0]:x}/0x{entry.mark[1]:x}"] if entry.mark[0] else []) + (
        [f"if_id 0x{entry.if_id:x}"] if entry.if_id else [])
    return (f"line {entry.line}: dir {entry.direction} policy {entry.src} -> {entry.dst} with "
            f"{' and '.join(parts)} left out: it applies only to marked packets or to an XFRM "
            "interface, which are not modelled (the model's packets are unmarked)")


# (rank in the host order, the entry written, direction: out | in | both, rank of the entry
# that serves inbound packets or -1)
Item = tuple[int, "Entry", str, int]


def _paired(ranked: list[Entry]) -> list[Item]:
    """Mirrored out/in pairs as one ``both`` item (ranked as the out policy), the rest alone."""
    ins: dict[tuple[str, ...], list[tuple[int, Entry]]] = {}
    for r, e in enumerate(ranked):
        if e.direction == "in":
            ins.setdefault(e.key(), []).append((r, e))
    items: list[Item] = []
    used: set[int] = set()
    for r, e in enumerate(ranked):
        if e.direction != "out":
            continue
        candidates = ins.get(e.mirror_key())
        if candidates:
            in_rank, mate = candidates.pop(0)
            used.add(id(mate))
            items.append((r, e, "both", in_rank))
        else:
            items.append((r, e, "out", -1))
    items.extend((r, e, "in", r) for r, e in enumerate(ranked)
                 if e.direction == "in" and id(e) not in used)
    return items


def _keeps_order(items: list[Item]) -> bool:
    """Does the host order (priority, then the item's rank) keep the kernel's inbound order?
    Among equal priorities the kernel searches in insertion order, so the inbound ranks must
    rise in the host order (outbound ranks are the items' ranks: they do)."""
    inbound = sorted((it for it in items if it[2] != "out"),
                     key=lambda it: (it[1].priority, it[0]))
    last: dict[int, int] = {}
    for _, e, _, in_rank in inbound:
        if in_rank < last.get(e.priority, -1):
            return False
        last[e.priority] = in_rank
    return True


def renumber(kernel: list[int]) -> dict[int, int]:
    """Kernel priority -> model priority: kept when every one is in the guide's range
    1..2^31-1, otherwise renumbered 1, 2, ... in the same order (the kernel allows 0, the
    default of ``ip xfrm policy add``, and values up to 2^32-1)."""
    if all(1 <= p <= MAX_PRIORITY for p in kernel):
        return {p: p for p in kernel}
    return {p: rank for rank, p in enumerate(kernel, start=1)}


def _stem(source: str) -> str:
    base = source.replace("\\", "/").rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[0] or "host"
