"""Read policy and scenario files of every supported format, with clear errors."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from qmcheck.model.formats.batch_file import load_batch_text, looks_like_batch
from qmcheck.model.formats.swanctl_conf import load_swanctl_text, looks_like_swanctl
from qmcheck.model.formats.xfrm_dump import load_xfrm_text, looks_like_xfrm
from qmcheck.model.formats.yaml_file import load_yaml_text
from qmcheck.model.values.errors import InputError
from qmcheck.model.values.policy import Host, Scenario

DEFAULT_SCENARIO = "default.yaml"


def read_text(path: str) -> str:
    """A file's text; missing, unreadable or binary files are InputErrors."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise InputError("no such file", source=path) from None
    except IsADirectoryError:
        raise InputError("is a directory, not a policy file", source=path) from None
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror}", source=path) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise InputError("not UTF-8 text", source=path, line=line) from None


def load_text(text: str, source: str) -> Host | Scenario:
    """Parse text as a batch file, ``ip xfrm policy`` output, ``swanctl.conf`` or YAML,
    whichever it is."""
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
