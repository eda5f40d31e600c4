"""Import strongSwan ``swanctl.conf``: each child SA of each connection becomes host policies.

For a child, every pair (local_ts, remote_ts) becomes one policy, named ``CONN.CHILD`` (with
``#2``, ``#3``... for further pairs): source = the local selector, destination = the remote one
(strongSwan's ``dir out`` policy; the host policy is mirrored like strongSwan's ``in`` policy).
The settings syntax (includes, section references, merged sections) is read by
``strongswan_settings``.

- Selectors: an address, a prefix ``a/n``, a range ``a-b``, each with an optional
  ``[proto/port]`` (``tcp``, ``udp``, a number, ``%any``; a port, a service name, a range
  ``lo-hi``, ``%any``). ``dynamic`` (the default) is the IKE address: the connection's single
  ``local_addrs`` / ``remote_addrs`` address; on the remote side with ``pools``, the pool's
  addresses (the virtual IP the peer gets); otherwise (``%any``, several addresses, a name, a
  virtual IP) the address is not known: it stays symbolic, any address, and the host's notes
  say so. A pair of an IPv4 and an IPv6 selector installs no policy (charon installs policies
  per family) and is skipped. ICMP types (``[icmp/8]``) and ``%opaque`` ports are not
  modelled (an error naming the feature).
- Transport mode: charon narrows the selectors to the IKE addresses; a pair whose selectors do
  not contain them installs no policy and is not imported (when both addresses are known).
- Tunnel mode: the policy's ``tunnel`` is the single ``remote_addrs`` address (the remote end
  point), when there is one. The host's ``address`` is its ``local_addrs`` (IP addresses and
  prefixes), and it ``protects`` the local selectors of its tunnel children (a local selector
  of every address, or an unknown one, makes the scope every address).
- Action: ``mode = pass`` -> PASS, ``mode = drop`` -> DISCARD, otherwise (transport, tunnel)
  the transforms of ``esp_proposals`` (and ``ah_proposals``; both: nested ``AH_x+ESP_y``).
  Each proposal ``alg-alg-...`` gives every encryption x integrity combination in that order
  (an AEAD cipher alone), times every DH group it names: a PFS group is part of the transform,
  so a peer with another group or none does not match (strongSwan's select_proposal compares
  every transform type). ``esn``/``noesn``, additional key exchanges (``ke1_...``) and a
  trailing ``!`` do not change the transform. ``default`` (also when the key is absent) is
  strongSwan's default ESP proposal (vici_config.c parse_proposal: proposal_create_default,
  then proposal_create_default_aead): AES-CBC 128/192/256 with HMAC SHA2_256, SHA2_384,
  SHA2_512, SHA1 and AES-XCBC, then AES-GCM-16 128/192/256 (charon 5.9.8).
- Priority: the child's ``priority`` when set; otherwise strongSwan's automatic one
  (``automatic_priority``): pass shunts before IPsec policies before drop shunts, and within a
  class more specific selectors first — the numbers charon's kernel-netlink plugin installs.
  The kernel policy widens an address range to its covering subnet and a port range to the
  enclosing aligned block (a port mask); the imported policy keeps the configured range, which
  is what Quick Mode negotiates.
- Marks and XFRM interfaces: ``mark_in``/``if_id_in`` (``mark_out``/``if_id_out``) other
  than 0 bind the inbound (outbound) policy to marked packets or an XFRM interface; the
  kernel never applies it to the model's unmarked packets (xfrm_policy_match), so that
  direction is left out (the policy keeps the other direction), with a note. ``set_mark_*``
  marks packets after the lookup and changes nothing here. ``interface`` and ``label`` are
  noted and the policies analysed as if global. Authentication, virtual IPs, pools the file
  does not define, IPComp, mediation and IP-TFS (as tunnel mode) are notes too.
- The host has no implicit default policy (``default-action: none``): what no child covers is
  not IPsec's business; ``conflicts`` then reports it as uncovered. A file without connections
  (secrets only, say) is a host with no policies, with a note.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qmcheck.model.formats.builder import RawField, RawPolicy, build_policies
from qmcheck.model.formats.strongswan_settings import Section, parse_settings
from qmcheck.model.values.addresses import AddressValue, parse_address, parse_address_value
from qmcheck.model.values.errors import InputError
from qmcheck.model.values.numbers import parse_int
from qmcheck.model.values.policy import MAX_PRIORITY, Host
from qmcheck.model.values.protocols import parse_port, parse_protocol
from qmcheck.model.values.text import shown
from qmcheck.model.values.transforms import MAX_ESP

SIZES = ("128", "192", "256")
# strongSwan's proposal keywords (docs.strongswan.org "IKEv2 Cipher Suites") -> our names
ENCRYPTION: dict[str, str] = {
    "aes": "AES128", "aes128": "AES128", "aes192": "AES192", "aes256": "AES256",
    "3des": "3DES", "des": "DES", "null": "NULL", "cast128": "CAST128",
    "camellia": "CAMELLIA128", "blowfish": "BLOWFISH128",
    **{f"aes{k}ctr": f"AES{k}CTR" for k in SIZES},
    **{f"camellia{k}": f"CAMELLIA{k}" for k in SIZES},
    **{f"camellia{k}ctr": f"CAMELLIA{k}CTR" for k in SIZES},
    **{f"blowfish{k}": f"BLOWFISH{k}" for k in SIZES},
    "serpent": "SERPENT128", **{f"serpent{k}": f"SERPENT{k}" for k in SIZES},
    "twofish": "TWOFISH128", **{f"twofish{k}": f"TWOFISH{k}" for k in SIZES},
}
ICV = {"8": "8", "64": "8", "12": "12", "96": "12", "16": "16", "128": "16"}
AEAD: dict[str, str] = {
    **{f"aes{k}{mode}{icv}": f"AES{k}{mode.upper()}{octets}" for k in SIZES
       for mode in ("gcm", "ccm") for icv, octets in ICV.items()},
    **{f"aes{k}gmac": f"AES{k}GMAC" for k in SIZES},
    "chacha20poly1305": "CHACHA20POLY1305",
}
INTEGRITY: dict[str, str] = {
    "md5": "MD5", "sha1": "SHA1", "sha": "SHA1", "sha256": "SHA2_256", "sha2_256": "SHA2_256",
    "sha384": "SHA2_384", "sha2_384": "SHA2_384", "sha512": "SHA2_512", "sha2_512": "SHA2_512",
    "aesxcbc": "AESXCBC", "aescmac": "AESCMAC", "md5_128": "MD5_128", "sha1_160": "SHA1_160",
    "sha256_96": "SHA2_256_96", "sha2_256_96": "SHA2_256_96",
}
DH: dict[str, str] = {
    **{f"modp{n}": f"MODP{n}" for n in (768, 1024, 1536, 2048, 3072, 4096, 6144, 8192)},
    "modp1024s160": "MODP1024S160", "modp2048s224": "MODP2048S224",
    "modp2048s256": "MODP2048S256",
    **{f"ecp{n}": f"ECP{n}" for n in (192, 224, 256, 384, 521)},
    **{f"ecp{n}bp": f"ECP{n}BP" for n in (224, 256, 384, 512)},
    "curve25519": "CURVE25519", "x25519": "CURVE25519", "curve448": "CURVE448",
    "x448": "CURVE448",
}
IGNORED = re.compile(r"^(esn|noesn|ke\d_.*|none|modpnone|prf.*)$")
#: strongSwan 5.9's default ESP proposal: the classic one, then the AEAD one
DEFAULT_ESP = tuple(f"ESP_{e}_HMAC_{a}" for e in ("AES128", "AES192", "AES256")
                    for a in ("SHA2_256", "SHA2_384", "SHA2_512", "SHA1", "AESXCBC")) + tuple(
    f"ESP_AES{k}GCM16" for k in SIZES)
ANY_ADDRESS = "any"


def looks_like_swanctl(text: str) -> bool:
    """The first meaningful line opens a section (``connections {``, ``name {``), closes one
    (``}``) or is an ``include``; none of these is a YAML host or scenario."""
    for line in text.splitlines():
        stripped = line.split("#", 1)[0].strip()
        if not stripped:
            continue
        return bool(re.match(r"^(include\s|\}|[A-Za-z0-9_.\-%]+\s*\{)", stripped))
    return False


@dataclass(frozen=True)
class TS:
    """One traffic selector of a child: address text (model syntax), protocol, port."""

    address: str
    protocol: int | None
    port: str


def parse_ts(text: str, dynamic: str | None, where: str, source: str, line: int) -> TS:
    """``ADDR[proto/port]`` with ``dynamic`` resolved to ``dynamic`` (the IKE address, or
    None when it is not known: then any address, symbolic)."""
    m = re.match(r"^([^\[\]]*)(?:\[([^\]]*)\])?$", text.strip())
    if not m:
        raise InputError(f"cannot parse traffic selector '{text}'", source=source, line=line,
                         field=where)
    address, extra = m.group(1).strip(), m.group(2)
    if address in ("", "dynamic", "%dynamic"):
        address = ANY_ADDRESS if dynamic is None else dynamic
    elif address in ("%any", "%any4", "%any6"):
        address = {"%any": ANY_ADDRESS, "%any4": "0.0.0.0/0", "%any6": "::/0"}[address]
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
    """Transform names for an ``esp_proposals`` (kind ESP) or ``ah_proposals`` (kind AH)
    value, in order, without duplicates."""
    out: list[str] = []
    for proposal in (p.strip() for p in text.split(",")):
        proposal = proposal.rstrip("!").strip()
        if not proposal:
            continue
        if proposal == "default":
            names = list(DEFAULT_ESP) if kind == "ESP" else [
                "AH_SHA2_256", "AH_SHA2_384", "AH_SHA2_512", "AH_SHA1", "AH_AESXCBC"]
        else:
            names = _one_proposal(proposal, kind, source, line, where)
        out.extend(n for n in names if n not in out)
    if not out:
        raise InputError(f"no {kind} proposal", source=source, line=line, field=where)
    if len(out) > MAX_ESP:
        raise InputError(f"the proposals give {len(out)} transforms; the model takes at most "
                         f"{MAX_ESP} per policy", source=source, line=line, field=where)
    return out


def _one_proposal(proposal: str, kind: str, source: str, line: int, where: str) -> list[str]:
    encs: list[str] = []
    aeads: list[str] = []
    integs: list[str] = []
    groups: list[str] = []
    for token in proposal.lower().split("-"):
        if kind == "ESP" and token in ENCRYPTION:
            encs.append(ENCRYPTION[token])
        elif kind == "ESP" and token in AEAD:
            aeads.append(AEAD[token])
        elif token in INTEGRITY:
            integs.append(INTEGRITY[token])
        elif token in DH:
            groups.append(DH[token])
        elif IGNORED.match(token):
            continue
        else:
            raise InputError(
                f"algorithm '{token}' of proposal '{proposal}' is not modelled (encryption: "
                f"{', '.join(sorted(ENCRYPTION))}; AEAD: aesNNNgcmII, aesNNNccmII, aesNNNgmac, "
                f"chacha20poly1305; integrity: {', '.join(sorted(INTEGRITY))}; DH groups: "
                "modpN, ecpN, ecpNbp, curve25519, curve448)", source=source, line=line,
                field=where)
    pfs = [f"_PFS_{g}" for g in groups] or [""]
    if kind == "AH":
        if not integs:
            raise InputError(f"AH proposal '{proposal}' has no integrity algorithm",
                             source=source, line=line, field=where)
        return [f"AH_{a}{p}" for a in integs for p in pfs]
    if not encs and not aeads:
        raise InputError(f"ESP proposal '{proposal}' has no encryption algorithm",
                         source=source, line=line, field=where)
    if encs and not integs:
        if "NULL" in encs:
            raise InputError(f"'{proposal}': ESP NULL needs an integrity algorithm",
                             source=source, line=line, field=where)
        classic = [f"ESP_{e}" for e in encs]
    else:
        classic = [f"ESP_{e}_HMAC_{a}" for e in encs for a in integs]
    return [f"{name}{p}" for name in classic + [f"ESP_{e}" for e in aeads] for p in pfs]


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


def _addresses(value: tuple[str, int] | None) -> list[AddressValue]:
    """The IP addresses, prefixes and ranges of ``local_addrs``/``remote_addrs`` (names and
    ``%any`` are left out: they are not known)."""
    out: list[AddressValue] = []
    for item in (v.strip() for v in (value[0] if value else "").split(",")):
        try:
            parsed = parse_address_value(item)
        except InputError:
            continue
        if not parsed.is_any:
            out.append(parsed)
    return out


def _single_address(value: tuple[str, int] | None) -> str | None:
    items = _addresses(value)
    if value is None or len(items) != 1 or items[0].kind != "single":
        return None
    if len([v for v in value[0].split(",") if v.strip()]) != 1:
        return None
    return str(items[0])


def _pool_addresses(conn: Section, root: Section) -> str | None:
    """The ``addrs`` of the connection's single pool (the peer's virtual IP), if known."""
    names = [n.strip() for n in conn.values.get("pools", ("", 0))[0].split(",") if n.strip()]
    pools = root.sections.get("pools")
    if len(names) != 1 or pools is None or names[0] not in pools.sections:
        return None
    addrs = pools.sections[names[0]].values.get("addrs")
    if addrs is None or "," in addrs[0]:
        return None
    try:
        parse_address_value(addrs[0])
    except InputError:
        return None
    return addrs[0].strip()


@dataclass
class _Import:
    """What the children of a file give: raw policies, the host's scope and notes."""

    raws: list[tuple[RawPolicy, int]]
    protects: list[AddressValue]
    everything: bool
    notes: list[str]


def load_swanctl_text(text: str, source: str) -> Host:
    """A host with the policies of every child of every connection (see the module doc)."""
    root = parse_settings(text, source)
    connections = root.sections.get("connections")
    state = _Import([], [], False, [])
    own: list[AddressValue] = []
    if connections is None or not connections.sections:
        state.notes.append("no connections: a host with no policies")
    for conn in (connections.sections.values() if connections is not None else ()):
        _unmodelled_notes(conn, state)
        _feature_notes(conn, root, state)
        own.extend(v for v in _addresses(conn.values.get("local_addrs")) if v not in own)
        dyn = (_single_address(conn.values.get("local_addrs")),
               _pool_addresses(conn, root) or _single_address(conn.values.get("remote_addrs")))
        children = conn.sections.get("children")
        for child in (children.sections.values() if children is not None else ()):
            _child_policies(conn, child, dyn, source, state)
    if connections is not None and connections.sections and not state.raws:
        state.notes.append("no child SA installs a policy: a host with no policies")
    policies = build_policies(state.raws, source=source, default_action=None)
    protects = [] if state.everything else state.protects
    return Host(name=_stem(source), policies=policies, source=source, default_action=None,
                address_values=() if state.everything else tuple(own),
                protects=tuple(protects), notes=tuple(state.notes))


UNMODELLED_KEYS = {
    "interface": "interface restrictions", "label": "security labels",
}
#: keys that bind a child's inbound or outbound kernel policy to marked packets or an XFRM
#: interface (vici_config.c: mark_in, mark_out, if_id_in, if_id_out; the if_id keys of the
#: connection are the children's default)
BINDING_KEYS = {"in": ("mark_in", "if_id_in"), "out": ("mark_out", "if_id_out")}
#: features of a connection the model leaves out, noted once per file at their first place
FEATURE_NOTES: dict[str, str] = {
    "auth": "IKE authentication (certificates, public keys, PSK, EAP, XAuth) is not modelled; "
            "Quick Mode is analysed as if it succeeded",
    "vips": "virtual IPs are assigned at run time: a dynamic local_ts is symbolic",
    "ipcomp": "IPComp (compression) is not modelled",
    "mediation": "mediation (peer-to-peer NAT traversal) is not modelled",
}


def _feature_notes(conn: Section, root: Section, state: _Import) -> None:
    """One note per unmodelled feature of FEATURE_NOTES (at its first place in the file), and
    one per pool the file does not define."""
    children = conn.sections.get("children")
    sections = [(f"connections.{conn.name}", conn)]
    sections += [(f"connections.{conn.name}.{k}", conn.sections[k])
                 for k in sorted(conn.sections) if k != "children"]
    sections += [(f"connections.{conn.name}.children.{k}", c)
                 for k, c in (children.sections.items() if children is not None else ())]
    for where, section in sections:
        for key in sorted(set(section.values) & set(FEATURE_NOTES)):
            if key == "ipcomp" and section.values[key][0].strip().lower() != "yes":
                continue
            text = FEATURE_NOTES[key]
            if not any(n.endswith(text) for n in state.notes):
                state.notes.append(f"{where}.{key}: {text}")
    for name, child in (sorted(children.sections.items()) if children is not None else ()):
        for sub in sorted(child.sections):
            # vici_config.c children_sn parses a child with no section callback, so
            # vici_message.c parse skips a nested section whole
            state.notes.append(f"connections.{conn.name}.children.{name}.{sub}: a section "
                               "inside a child is ignored by strongSwan (and here)")
    pools = root.sections.get("pools")
    for name in (n.strip() for n in conn.values.get("pools", ("", 0))[0].split(",")):
        if name and (pools is None or name not in pools.sections):
            state.notes.append(f"connections.{conn.name}.pools: pool '{name}' is not defined "
                               "in this file (an SQL, RADIUS or DHCP pool): its addresses are "
                               "not known")


def _unmodelled_notes(conn: Section, state: _Import) -> None:
    """A note for each key that restricts or tags the kernel policies in a way the model does
    not (the policies are then analysed as if global)."""
    children = conn.sections.get("children")
    sections = [conn, *(children.sections.values() if children is not None else ())]
    for section in sections:
        for key in sorted(set(section.values) & set(UNMODELLED_KEYS)):
            where = f"connections.{conn.name}" + (
                "" if section is conn else f".children.{section.name}")
            state.notes.append(f"{where}.{key}: {UNMODELLED_KEYS[key]} are not modelled; "
                               "the policies are analysed as if they applied to all traffic")


def _is_zero(text: str) -> bool:
    """``0``, ``0x0``, ``0x00000000``: a mark or interface ID that binds nothing."""
    digits = text[2:] if text[:2].lower() == "0x" else text
    return bool(digits) and len(digits) <= 16 and set(digits) == {"0"}


def _bound(conn: Section, child: Section, direction: str, prefix: str,
           state: _Import) -> bool:
    """Is the child's policy of this direction bound to marked packets or an XFRM interface?
    The kernel applies such a policy only to flows with that mark or interface (Linux
    net/xfrm/xfrm_policy.c, xfrm_policy_match: ``(mark & m) == v``, ``if_id`` equal); the
    model's packets are unmarked and pass no XFRM interface, so it never applies to them.
    A value of 0 (also ``0/MASK``) binds nothing; ``%unique`` and other values do."""
    bound = False
    for key in BINDING_KEYS[direction]:
        found = child.values.get(key) or (conn.values.get(key) if key.startswith("if_id")
                                         else None)
        if found is None:
            continue
        if _is_zero(found[0].split("/", 1)[0].strip()):
            continue
        bound = True
        state.notes.append(f"{prefix}.{key} = {shown(found[0].strip(), 40)}: the {direction}bound "
                           "policy applies only to packets with that mark or XFRM interface, "
                           "which are not modelled (the model's packets are unmarked): left out")
    return bound


def _family(ts: TS) -> int | None:
    return None if ts.address == ANY_ADDRESS else parse_address_value(ts.address).family


def _child_policies(conn: Section, child: Section, dyn: tuple[str | None, str | None],
                    source: str, state: _Import) -> None:
    """Add the policies of one child (and its scope and notes) to ``state``."""
    prefix = f"connections.{conn.name}.children.{child.name}"
    values = child.values
    local_dyn, remote_dyn = dyn

    def value(key: str, default: str) -> tuple[str, int]:
        return values.get(key, (default, child.line))

    lts_text, lts_line = value("local_ts", "dynamic")
    rts_text, rts_line = value("remote_ts", "dynamic")
    locals_ = [parse_ts(t, local_dyn, f"{prefix}.local_ts", source, lts_line)
               for t in lts_text.split(",") if t.strip()]
    remotes = [parse_ts(t, remote_dyn, f"{prefix}.remote_ts", source, rts_line)
               for t in rts_text.split(",") if t.strip()]
    for side, texts, known in (("local", lts_text, local_dyn), ("remote", rts_text, remote_dyn)):
        if known is None and any(t.strip() in ("dynamic", "%dynamic")
                                 for t in texts.split(",")):
            state.notes.append(f"{prefix}.{side}_ts: dynamic is the {side} IKE address, which "
                               f"is not one known address: any address (symbolic)")
    mode, mode_line = value("mode", "tunnel")
    mode = mode.lower()
    if mode == "iptfs":  # vici_config.c parse_mode: MODE_IPTFS, tunnel mode with IP-TFS
        state.notes.append(f"{prefix}.mode: IP-TFS (RFC 9347) is modelled as tunnel mode; its "
                           "aggregation and fragmentation of packets are not modelled")
        mode = "tunnel"
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
    tunnel = _single_address(conn.values.get("remote_addrs")) if mode == "tunnel" else None
    if mode == "tunnel":
        for ts in locals_:
            if ts.address == ANY_ADDRESS or parse_address_value(ts.address).is_any:
                state.everything = True
            else:
                parsed = parse_address_value(ts.address)
                if parsed not in state.protects:
                    state.protects.append(parsed)
    fixed = values.get("priority")
    bound = {d for d in ("in", "out") if _bound(conn, child, d, prefix, state)}
    if bound == {"in", "out"}:
        return
    direction = {frozenset(): "both", frozenset({"in"}): "out",
                 frozenset({"out"}): "in"}[frozenset(bound)]
    pairs = [(lt, rt) for lt in locals_ for rt in remotes
             if None in (_family(lt), _family(rt)) or _family(lt) == _family(rt)]
    for k, (lts, rts) in enumerate(pairs):
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
        name = f"{conn.name}.{child.name}" + (f"#{k + 1}" if k else "")
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
        if direction != "both":
            raw["direction"] = RawField(direction, child.line)
        if tunnel is not None and action not in ("PASS", "DISCARD"):
            raw["tunnel"] = RawField(tunnel, child.line)
        state.raws.append((raw, child.line))


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
