"""Load the guide's ``ipsec_config`` batch files: ``add host NAME -source ... -action ...``.

Defaults follow the guide: any address and port, the automatic priority increment of 10, and
the shipped default policy (PASS) searched last. ``add ike``, ``add auth`` and ``add bypass``
records configure IKE itself, not policies, and are skipped.

``add tunnel NAME`` and ``add gateway NAME`` records are tunnel policies (HP-UX IPSec A.03.02.02
Administrator's Guide, "Configuring tunnel IPsec policies", p. 73-74): ``-source`` and
``-destination ip_addr[/prefix]`` (repeatable) are the inner selectors, ``-tsource`` and
``-tdestination`` the tunnel end points, then ``-protocol``, ``-priority`` and ``-action`` as
for a host policy. ``-tdestination`` becomes the policy's ``tunnel`` (the remote gateway);
without it the guide takes each packet's own destination as the end point, which the model
does not represent, so such a record is refused naming ``-tdestination``. ``-tsource`` must be
an address (it is the local end: this host's address).
"""

from __future__ import annotations

import difflib

from qmcheck.model.formats.builder import RawField, RawPolicy, build_policies
from qmcheck.model.values.addresses import parse_address
from qmcheck.model.values.errors import InputError
from qmcheck.model.values.policy import Host

OPTIONS: dict[str, str] = {
    "-source": "source", "-src": "source",
    "-destination": "destination", "-dest": "destination", "-dst": "destination",
    "-protocol": "protocol", "-priority": "priority", "-action": "action",
}
TUNNEL_OPTIONS: dict[str, str] = {"-tsource": "tsource", "-tdestination": "tunnel",
                                   "-tdest": "tunnel"}
REPEATABLE = ("source", "destination")
SKIPPED_RECORDS = ("ike", "auth", "bypass")
TUNNEL_RECORDS = ("tunnel", "gateway")


def looks_like_batch(text: str) -> bool:
    """A batch file's first meaningful line starts with ``add`` (or ``ipsec_config add``)."""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        words = stripped.split()
        return words[0] == "add" or words[:2] == ["ipsec_config", "add"]
    return False


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Join lines ending in a backslash; keep the first line number; drop comments."""
    out: list[tuple[int, str]] = []
    pending = ""
    start = 0
    for number, line in enumerate(text.splitlines(), start=1):
        body = line.split("#", 1)[0].rstrip()
        if not pending:
            start = number
        if body.endswith("\\"):
            pending += body[:-1] + " "
            continue
        pending += body
        if pending.strip():
            out.append((start, pending.strip()))
        pending = ""
    if pending.strip():
        out.append((start, pending.strip()))
    return out


def _endpoint(text: str) -> tuple[str, str | None]:
    """Split ``ip[/prefix[/port|service]]`` into the address part and the port (or None)."""
    parts = text.split("/")
    if len(parts) > 3:
        raise InputError(f"'{text}' is not ip[/prefix[/port]]")
    address = parts[0]
    if len(parts) >= 2 and parts[1] != "":
        address = f"{parts[0]}/{parts[1]}"
    port = parts[2] if len(parts) == 3 and parts[2] != "" else None
    return address, port


def _host_record(words: list[str], line: int, source: str) -> RawPolicy:
    kind = words[1].lower()
    if len(words) < 3 or words[2].startswith("-"):
        raise InputError(f"'add {kind}' needs a policy name", source=source, line=line,
                         field="name")
    raw: RawPolicy = {"name": RawField(words[2], line)}
    values: dict[str, list[str]] = {}
    options = OPTIONS if kind == "host" else {**OPTIONS, **TUNNEL_OPTIONS}
    i = 3
    while i < len(words):
        option = words[i].lower()
        if option not in options:
            close = difflib.get_close_matches(option, list(OPTIONS), n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else (
                f" (modelled: {', '.join(sorted(set(options)))})")
            raise InputError(f"unknown or unsupported option '{words[i]}'{hint}",
                             source=source, line=line, field=words[i])
        key = options[option]
        if i + 1 >= len(words):
            raise InputError(f"option '{words[i]}' needs a value", source=source, line=line,
                             field=key)
        if key in values and key not in REPEATABLE:
            raise InputError(f"option '{words[i]}' is given twice", source=source, line=line,
                             field=key)
        values.setdefault(key, []).append(words[i + 1])
        i += 2
    for key, items in values.items():
        if key not in REPEATABLE:
            raw[key] = RawField(items[0], line)
            continue
        addresses: list[str] = []
        ports: set[str] = set()
        for item in items:
            try:
                address, port = _endpoint(item)
            except InputError as e:
                raise e.located(source=source, line=line, field=key) from None
            addresses.append(address)
            ports.add(port or "any")
        if len(ports) > 1:
            raise InputError(f"every -{key} value must name the same port (got "
                             f"{', '.join(sorted(ports))})", source=source, line=line,
                             field=key)
        raw[key] = RawField(addresses if len(addresses) > 1 else addresses[0], line)
        port = ports.pop()
        if port != "any":
            raw[f"{key}-port"] = RawField(port, line)
    if kind != "host":
        if "tunnel" not in raw:
            raise InputError(f"'add {kind}' without -tdestination (the end point taken from "
                             "each packet's destination) is not modelled", source=source,
                             line=line, field="-tdestination")
        if "tsource" in raw:
            try:
                parse_address(str(raw["tsource"].value))
            except InputError as e:
                raise e.located(source=source, line=line, field="-tsource") from None
            del raw["tsource"]
    return raw


def load_batch_text(text: str, source: str) -> Host:
    """A host from an ``ipsec_config`` batch file (``add host`` records)."""
    raws: list[tuple[RawPolicy, int]] = []
    for line, content in _logical_lines(text):
        words = content.split()
        if words[:1] == ["ipsec_config"]:
            words = words[1:]
        if not words or words[0] != "add":
            raise InputError(f"expected an 'add' record, not '{words[0] if words else ''}'",
                             source=source, line=line)
        kind = words[1].lower() if len(words) > 1 else ""
        if kind in SKIPPED_RECORDS:
            continue
        if kind != "host" and kind not in TUNNEL_RECORDS:
            raise InputError(f"unknown record 'add {kind}' (expected 'add host', 'add "
                             "tunnel' or 'add gateway')", source=source, line=line)
        raws.append((_host_record(words, line, source), line))
    if not raws:
        raise InputError("the batch file has no 'add host', 'add tunnel' or 'add gateway' "
                         "record", source=source, line=1)
    policies = build_policies(raws, source=source, default_action="PASS")
    name = source.replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0] or "host"
    return Host(name=name, policies=policies, source=source, default_action="PASS")
