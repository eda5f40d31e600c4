"""Read policy and scenario files of every supported format, with clear errors."""

from __future__ import annotations

import os
import stat
from importlib import resources
from pathlib import Path

from qmcheck.model.formats.batch_file import load_batch_text, looks_like_batch
from qmcheck.model.formats.swanctl_conf import load_swanctl_text, looks_like_swanctl
from qmcheck.model.formats.xfrm_dump import load_xfrm_text, looks_like_xfrm
from qmcheck.model.formats.yaml_file import load_yaml_text
from qmcheck.model.values.errors import InputError
from qmcheck.model.values.policy import Host, Scenario
from qmcheck.model.values.text import shown

DEFAULT_SCENARIO = "default.yaml"


MAX_INPUT_BYTES = 64 * 1024 * 1024  # larger input files are refused (QMCHECK_MAX_INPUT_BYTES)


def max_input_bytes() -> int:
    """The input size limit: ``MAX_INPUT_BYTES``, or ``QMCHECK_MAX_INPUT_BYTES`` when set."""
    value = os.environ.get("QMCHECK_MAX_INPUT_BYTES", "")
    return int(value) if value.isascii() and value.isdigit() and len(value) < 19 \
        else MAX_INPUT_BYTES


def read_text(path: str, what: str = "an input file") -> str:
    """A file's text; missing, unreadable, special (device, FIFO, directory), too large or
    binary files are InputErrors. The file type is checked before opening, so that a FIFO or
    ``/dev/zero`` never blocks, and the read is bounded."""
    source = shown(path, 200)
    limit = max_input_bytes()
    try:
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            raise InputError(f"is a directory, not {what}", source=source)
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"is not a regular file (a device, FIFO or socket), not {what}",
                             source=source)
        if info.st_size > limit:
            raise InputError(f"the file has {info.st_size} bytes; the limit is {limit}",
                             source=source)
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
        fd = os.open(path, flags)
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):  # replaced since stat
                raise InputError(f"is not a regular file, not {what}", source=source)
            data = handle.read(limit + 1)
    except FileNotFoundError:
        raise InputError("no such file", source=source) from None
    except (ValueError, OSError) as e:  # ValueError: a NUL in the path
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise InputError(f"cannot read: {reason}", source=source) from None
    if len(data) > limit:
        raise InputError(f"the file has more than {limit} bytes (the limit)", source=source)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise InputError("not UTF-8 text", source=source, line=line) from None
    return text[1:] if text.startswith("\ufeff") else text


def load_text(text: str, source: str) -> Host | Scenario:
    """Parse text as a batch file, ``ip xfrm policy`` output, ``swanctl.conf`` or YAML,
    whichever it is."""
    if text.startswith("\ufeff"):  # a UTF-8 byte order mark
        text = text[1:]
    if source.endswith(".conf") and not _meaningful_lines(text):
        # swanctl accepts a swanctl.conf of comments only (strongSwan's own tests ship many)
        return load_swanctl_text(text, source)
    if not text.strip():
        raise InputError("the file is empty: expected a host (policies:), a scenario "
                         "(hosts:) or ipsec_config 'add host' records", source=source, line=1)
    if looks_like_batch(text):
        return load_batch_text(text, source)
    if looks_like_xfrm(text):
        return load_xfrm_text(text, source)
    if looks_like_swanctl(text):
        return load_swanctl_text(text, source)
    return load_yaml_text(text, source)


def _meaningful_lines(text: str) -> bool:
    return any(line.split("#", 1)[0].strip() for line in text.splitlines())


def load(path: str) -> Host | Scenario:
    return load_text(read_text(path), path)


def load_host(path: str) -> Host:
    """One host: a host file, a batch file, or a scenario file with exactly one host."""
    loaded = load(path)
    if isinstance(loaded, Host):
        return loaded
    if len(loaded.hosts) == 1:
        return next(iter(loaded.hosts.values()))
    raise InputError(
        f"a scenario with {len(loaded.hosts)} hosts ({', '.join(loaded.hosts)}); name one "
        "as FILE:HOST", source=path)


def load_host_spec(spec: str) -> Host:
    """``FILE`` or ``FILE:HOST`` (a host of a scenario file)."""
    if not Path(spec).exists() and ":" in spec:
        path, _, name = spec.rpartition(":")
        loaded = load(path)
        if isinstance(loaded, Scenario):
            if name not in loaded.hosts:
                raise InputError(f"no host '{name}' in the scenario (hosts: "
                                 f"{', '.join(loaded.hosts)})", source=path)
            return loaded.hosts[name]
        if loaded.name != name:
            raise InputError(f"the file holds host '{loaded.name}', not '{name}'",
                             source=path)
        return loaded
    return load_host(spec)


def load_scenario(path: str | None) -> Scenario:
    """A scenario file (a single host file becomes a one-host scenario); None is the default."""
    if path is None:
        text = resources.files("qmcheck.model").joinpath("scenarios", DEFAULT_SCENARIO)
        return load_text(text.read_text(encoding="utf-8"),  # type: ignore[return-value]
                         f"<built-in>/{DEFAULT_SCENARIO}")
    loaded = load(path)
    if isinstance(loaded, Host):
        return Scenario(hosts={loaded.name: loaded}, source=path)
    return loaded
