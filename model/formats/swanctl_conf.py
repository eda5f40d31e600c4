"""Import strongSwan ``swanctl.conf``: each child SA of each connection becomes host policies.

For a child, every pair (local_ts, remote_ts) becomes one policy, named ``CONN.CHILD`` (with
``#2``, ``#3``... for further pairs): source = the local selector, destination = the remote one
(strongSwan's ``dir out`` policy; the host policy is mirrored like strongSwan's ``in`` policy).

- Selectors: ``dynamic`` (the default) is the connection's single ``local_addrs`` /
  ``remote_addrs`` address; otherwise an address, a prefix ``a/n``, a range ``a-b``, each with an
  optional ``[proto/port]`` (``tcp``, ``udp``, a number, ``%any``; a port, a service name, a range
  ``lo-hi``, ``%any``). ICMP types (``[icmp/8]``) and ``%opaque`` ports are not modelled.
- Transport mode: charon narrows the selectors to the IKE addresses; a pair whose selectors do not
  contain them installs no policy and is not imported (when both addresses are known).
- Action: ``mode = pass`` -> PASS, ``mode = drop`` -> DISCARD, otherwise (transport, tunnel) the
  transforms of ``esp_proposals`` (and ``ah_proposals``; both: nested ``AH_x+ESP_y``). Each proposal
  ``enc-integ[-...]`` gives every enc x integ combination, in that order; DH groups (PFS),
  ``esn``/``noesn`` and a trailing ``!`` do not change the transform and are ignored; ``default``
  (also when the key is absent) stands for strongSwan's default ESP proposal as far as the guide
  can name it (DEFAULT_ESP: charon 5.9.8 logs it as AES_CBC_128/192/256 with HMAC SHA2_256,
  SHA2_384, SHA2_512, SHA1 and AES_XCBC, plus an AES-GCM proposal; XCBC and GCM have no name in
  the guide and are left out). AEAD and other algorithms without a name in the guide are
  errors naming file, line and field.
- Priority: the child's ``priority`` when set; otherwise strongSwan's automatic one
  (``automatic_priority``): pass shunts before IPsec policies before drop shunts, and within a
  class more specific selectors first — the numbers charon's kernel-netlink plugin installs.
  The kernel policy widens an address range to its covering subnet and a port range to the
  enclosing aligned block (a port mask); the imported policy keeps the configured range, which
  is what Quick Mode negotiates.
- The host has no implicit default policy (``default-action: none``): what no child covers is
  not IPsec's business; ``conflicts`` then reports it as uncovered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from qmcheck.model.formats.builder import RawField, RawPolicy, build_policies
from qmcheck.model.values.addresses import parse_address, parse_address_value
from qmcheck.model.values.errors import InputError
from qmcheck.model.values.numbers import parse_int
from qmcheck.model.values.policy import MAX_PRIORITY, Host
from qmcheck.model.values.protocols import parse_port, parse_protocol

ENCRYPTION: dict[str, str] = {
    "aes": "AES128", "aes128": "AES128", "aes192": "AES192", "aes256": "AES256",
    "3des": "3DES", "des": "DES", "null": "NULL",
}
INTEGRITY: dict[str, str] = {
    "md5": "MD5", "sha1": "SHA1", "sha": "SHA1", "sha256": "SHA2_256", "sha2_256": "SHA2_256",
    "sha384": "SHA2_384", "sha2_384": "SHA2_384", "sha512": "SHA2_512", "sha2_512": "SHA2_512",
}
IGNORED = re.compile(r"^(modp\d+[s]?\d*|ecp\d+bp|ecp\d+|curve\d+|x25519|x448|esn|noesn|"
                     r"ke\d_.*|none)$")
#: strongSwan 5.9's default ESP proposal, restricted to what the guide names.
DEFAULT_ESP = tuple(f"ESP_{e}_HMAC_{a}" for e in ("AES128", "AES192", "AES256")
                    for a in ("SHA2_256", "SHA2_384", "SHA2_512", "SHA1"))


@dataclass
class Section:
    """A ``name { ... }`` section: its values (with lines) and subsections, in file order."""

    name: str
    line: int
    values: dict[str, tuple[str, int]] = field(default_factory=dict)
    sections: dict[str, Section] = field(default_factory=dict)


def looks_like_swanctl(text: str) -> bool:
    """The first meaningful line opens a section (``connections {``, ``name {``), closes one
    (``}``) or is an ``include``; none of these is a YAML host or scenario."""
    for line in text.splitlines():
        stripped = line.split("#", 1)[0].strip()
        if not stripped:
            continue
        return bool(re.match(r"^(include\s|\}|[A-Za-z0-9_.\-%]+\s*\{)", stripped))
    return False


def parse_settings(text: str, source: str) -> Section:
    """Parse strongSwan's settings syntax (sections, ``key = value``, ``#`` comments)."""
    root = Section("", 0)
    stack = [root]
    for number, raw in enumerate(text.splitlines(), start=1):
        line = _strip_comment(raw).strip()
        while line:
            if line.startswith("}"):
                if len(stack) == 1:
                    raise InputError("'}' without an open section", source=source, line=number)
                stack.pop()
                line = line[1:].strip()
                continue
            m = re.match(r"^([A-Za-z0-9_.\-%]+)\s*\{(.*)$", line)
            if m:
                name = m.group(1)
                if name in stack[-1].sections:
                    raise InputError(f"section '{name}' appears twice", source=source,
                                     line=number, field=name)
                section = Section(name, number)
                stack[-1].sections[name] = section
                stack.append(section)
                line = m.group(2).strip()
                continue
            m = re.match(r"^([A-Za-z0-9_.\-]+)\s*=\s*(.*)$", line)
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
                    if len(stack) == 1:
                        raise InputError("'}' without an open section", source=source,
                                         line=number)
                    stack.pop()
                break
            if line.startswith("include"):
                raise InputError("'include' is not supported: give the included file itself",
                                 source=source, line=number, field="include")
            raise InputError(f"cannot parse '{line}': expected 'key = value', 'name {{' or "
                             "'}'", source=source, line=number)
    if len(stack) > 1:
        raise InputError(f"section '{stack[-1].name}' is not closed", source=source,
                         line=stack[-1].line, field=stack[-1].name)
    return root


def _strip_comment(line: str) -> str:
    out, quoted = [], False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        if ch == "#" and not quoted:
            break
        out.append(ch)
    return "".join(out)


@dataclass(frozen=True)
class TS:
    """One traffic selector of a child: address text (model syntax), protocol, port."""

    address: str
    protocol: int | None
    port: str


def parse_ts(text: str, dynamic: str | None, where: str, source: str, line: int) -> TS:
    """``ADDR[proto/port]`` with ``dynamic`` resolved to ``dynamic`` (an address or None)."""
    m = re.match(r"^([^\[\]]*)(?:\[([^\]]*)\])?$", text.strip())
    if not m:
        raise InputError(f"cannot parse traffic selector '{text}'", source=source, line=line,
                         field=where)
    address, extra = m.group(1).strip(), m.group(2)
    if address in ("", "dynamic", "%dynamic"):
        if dynamic is None:
            raise InputError(f"'{text}' means the IKE address, but the connection has no "
                             "single concrete address for it (set local_addrs/remote_addrs or "
                             "an explicit selector)", source=source, line=line, field=where)
        address = dynamic
    try:
        parse_address_value(address)
    except InputError as e:
        raise e.located(source=source, line=line, field=where) from None
    protocol: int | None = None
    port = "any"
    if extra is not None:
        proto_text, _, port_text = extra.partition("/")
        proto_text, port_text = proto_text.strip(), port_text.strip()
        if proto_text not in ("", "%any", "any"):
            try:
                protocol = parse_protocol(proto_text)
            except InputError as e:
                raise e.located(source=source, line=line, field=where) from None
        if port_text not in ("", "%any", "any"):
            if port_text == "%opaque":
                raise InputError("'%opaque' ports are not modelled", source=source, line=line,
                                 field=where)
            if protocol in (1, 58):
                raise InputError(f"'{text}': ICMP types and codes are not modelled",
                                 source=source, line=line, field=where)
            try:
                rng = parse_port(port_text)
            except InputError as e:
                raise e.located(source=source, line=line, field=where) from None
            port = str(rng)
    return TS(address, protocol, port)


def proposals_to_transforms(text: str, kind: str, source: str, line: int,
                            where: str) -> list[str]:
    """Transform names of the guide for an ``esp_proposals`` (kind ESP) or ``ah_proposals``
    (kind AH) value, in order, without duplicates."""
    out: list[str] = []
    for proposal in (p.strip() for p in text.split(",")):
        proposal = proposal.rstrip("!").strip()
        if not proposal:
            continue
        if proposal == "default":
            names = list(DEFAULT_ESP) if kind == "ESP" else ["AH_SHA2_256", "AH_SHA1"]
        else:
            names = _one_proposal(proposal, kind, source, line, where)
        out.extend(n for n in names if n not in out)
    if not out:
        raise InputError(f"no {kind} proposal", source=source, line=line, field=where)
    return out


def _one_proposal(proposal: str, kind: str, source: str, line: int, where: str) -> list[str]:
    encs: list[str] = []
    integs: list[str] = []
    for token in proposal.lower().split("-"):
        if kind == "ESP" and token in ENCRYPTION:
            encs.append(ENCRYPTION[token])
        elif token in INTEGRITY:
            integs.append(INTEGRITY[token])
        elif IGNORED.match(token):
            continue
        else:
            raise InputError(
                f"algorithm '{token}' of proposal '{proposal}' has no name in the guide's "
                f"transforms (encryption: {', '.join(sorted(ENCRYPTION))}; integrity: "
                f"{', '.join(sorted(INTEGRITY))})", source=source, line=line, field=where)
    if kind == "AH":
        if not integs:
            raise InputError(f"AH proposal '{proposal}' has no integrity algorithm",
                             source=source, line=line, field=where)
        return [f"AH_{a}" for a in integs]
    if not encs:
        raise InputError(f"ESP proposal '{proposal}' has no encryption algorithm",
                         source=source, line=line, field=where)
    if not integs:
        if "NULL" in encs:
            raise InputError(f"'{proposal}': ESP NULL needs an integrity algorithm",
                             source=source, line=line, field=where)
        return [f"ESP_{e}" for e in encs]
    return [f"ESP_{e}_HMAC_{a}" for e in encs for a in integs]


def automatic_priority(local: TS, remote: TS, mode: str = "tunnel") -> int:
    """strongSwan's automatic policy priority (lower first), as charon's kernel-netlink plugin
    (5.9.8) installs it, fitted and checked against the kernel (tests/system): a base per policy
    class (pass shunts 200000, IPsec 400000, drop shunts 600000, so pass < IPsec < drop), minus
    512 per prefix bit of both subnets, 256 for a protocol, 4 per bit of both port masks, and 1
    for shunts."""
    base = {"pass": 200000, "drop": 600000}.get(mode, 400000)
    priority = base - 512 * (_prefix_bits(local) + _prefix_bits(remote))
    if local.protocol or remote.protocol:
        priority -= 256
    priority -= 4 * (_port_mask_bits(local.port) + _port_mask_bits(remote.port))
    return priority - (1 if mode in ("pass", "drop") else 0)


def _prefix_bits(ts: TS) -> int:
    """The prefix length of the subnet the kernel policy gets (a range: its covering subnet)."""
    value = parse_address_value(ts.address)
    if value.prefix_len is not None:
        return value.prefix_len
    if value.is_any:
        return 0
    bits = 32 if value.family == 4 else 128
    return bits - (value.lo ^ value.hi).bit_length()


def _port_mask_bits(port: str) -> int:
    """Bits of the kernel's port mask: 16 for one port, the common prefix of a range's ends
    (charon's ts2ports, which widens a range to the enclosing block), 0 for any."""
    if port == "any":
        return 0
    rng = parse_port(port)
    return 16 - (rng.lo ^ rng.hi).bit_length()


def _single_address(value: tuple[str, int] | None) -> str | None:
    if value is None:
        return None
    items = [v.strip() for v in value[0].split(",") if v.strip()]
    if len(items) != 1 or items[0] in ("%any", "%any4", "%any6"):
        return None
    try:
        return str(parse_address(items[0]))
    except InputError:
        return None


def load_swanctl_text(text: str, source: str) -> Host:
    """A host with the policies of every child of every connection (see the module doc)."""
    root = parse_settings(text, source)
    connections = root.sections.get("connections")
    if connections is None or not connections.sections:
        raise InputError("no 'connections' section with a connection", source=source, line=1,
                         field="connections")
    raws: list[tuple[RawPolicy, int]] = []
    for conn in connections.sections.values():
        local_dyn = _single_address(conn.values.get("local_addrs"))
        remote_dyn = _single_address(conn.values.get("remote_addrs"))
        children = conn.sections.get("children")
        if children is None:
            continue
        for child in children.sections.values():
            raws.extend(_child_policies(conn.name, child, local_dyn, remote_dyn, source))
    if not raws:
        raise InputError("no child SA in any connection (or none that installs a policy): "
                         "nothing to import", source=source, line=connections.line,
                         field="children")
    policies = build_policies(raws, source=source, default_action=None)
    return Host(name=_stem(source), policies=policies, source=source, default_action=None)


def _child_policies(conn: str, child: Section, local_dyn: str | None, remote_dyn: str | None,
                    source: str) -> list[tuple[RawPolicy, int]]:
    prefix = f"connections.{conn}.children.{child.name}"
    values = child.values

    def value(key: str, default: str) -> tuple[str, int]:
        return values.get(key, (default, child.line))

    lts_text, lts_line = value("local_ts", "dynamic")
    rts_text, rts_line = value("remote_ts", "dynamic")
    locals_ = [parse_ts(t, local_dyn, f"{prefix}.local_ts", source, lts_line)
               for t in lts_text.split(",") if t.strip()]
    remotes = [parse_ts(t, remote_dyn, f"{prefix}.remote_ts", source, rts_line)
               for t in rts_text.split(",") if t.strip()]
    mode, mode_line = value("mode", "tunnel")
    mode = mode.lower()
    if mode == "pass":
        action: str | list[str] = "PASS"
    elif mode == "drop":
        action = "DISCARD"
    elif mode in ("transport", "tunnel", "beet"):
        action = _child_transforms(values, prefix, source, child.line)
    else:
        raise InputError(f"unknown mode '{mode}'", source=source, line=mode_line,
                         field=f"{prefix}.mode")
    if mode == "transport" and local_dyn and remote_dyn:
        # charon narrows transport-mode selectors to the IKE addresses (no policy when a
        # selector does not contain them)
        locals_ = [t for t in (_narrow(ts, local_dyn) for ts in locals_) if t is not None]
        remotes = [t for t in (_narrow(ts, remote_dyn) for ts in remotes) if t is not None]
    fixed = values.get("priority")
    out: list[tuple[RawPolicy, int]] = []
    for k, (lts, rts) in enumerate((lt, rt) for lt in locals_ for rt in remotes):
        if lts.protocol and rts.protocol and lts.protocol != rts.protocol:
            raise InputError(f"local_ts protocol {lts.protocol} and remote_ts protocol "
                             f"{rts.protocol} differ", source=source, line=rts_line,
                             field=f"{prefix}.remote_ts")
        protocol = lts.protocol or rts.protocol
        if fixed is not None and fixed[0].strip() not in ("", "0"):
            prio_text, prio_line = fixed[0].strip(), fixed[1]
            try:
                parse_int(prio_text, 1, MAX_PRIORITY, "priority")
            except InputError as e:
                raise e.located(source=source, line=prio_line,
                                field=f"{prefix}.priority") from None
        else:
            prio_text, prio_line = str(automatic_priority(lts, rts, mode)), child.line
        name = f"{conn}.{child.name}" + (f"#{k + 1}" if k else "")
        raw: RawPolicy = {
            "name": RawField(name, child.line),
            "priority": RawField(prio_text, prio_line),
            "source": RawField(lts.address, lts_line),
            "destination": RawField(rts.address, rts_line),
            "protocol": RawField("any" if protocol is None else str(protocol), lts_line),
            "source-port": RawField(lts.port, lts_line),
            "destination-port": RawField(rts.port, rts_line),
            "action": RawField(action, child.line),
        }
        out.append((raw, child.line))
    return out


def _narrow(ts: TS, address: str) -> TS | None:
    value = parse_address_value(ts.address)
    host = parse_address(address)
    if not value.contains(host.version, int(host)):
        return None
    return TS(str(host), ts.protocol, ts.port)


def _child_transforms(values: dict[str, tuple[str, int]], prefix: str, source: str,
                      line: int) -> list[str]:
    esp = values.get("esp_proposals")
    ah = values.get("ah_proposals")
    if ah is not None and esp is None:
        return proposals_to_transforms(ah[0], "AH", source, ah[1], f"{prefix}.ah_proposals")
    esp_text, esp_line = esp if esp is not None else ("default", line)
    esp_names = proposals_to_transforms(esp_text, "ESP", source, esp_line,
                                        f"{prefix}.esp_proposals")
    if ah is None:
        return esp_names
    ah_names = proposals_to_transforms(ah[0], "AH", source, ah[1], f"{prefix}.ah_proposals")
    # The guide allows one nested transform per action: the first of each.
    return [f"{ah_names[0]}+{esp_names[0]}"]


def _stem(source: str) -> str:
    base = source.replace("\\", "/").rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[0] or "host"
