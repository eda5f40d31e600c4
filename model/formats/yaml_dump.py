"""Write hosts and scenarios back as YAML (docs/SPEC.md 8); loading the dump gives the same
model."""

from __future__ import annotations

from typing import Any

import yaml

from qmcheck.model.values.policy import Host, Scenario


class _Dumper(yaml.SafeDumper):
    """Quotes the strings that YAML would read back as something else (``1:2::3``, ``no``)."""


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    plain_tag = dumper.resolve(yaml.ScalarNode, data, (True, False))
    style = None if plain_tag == "tag:yaml.org,2002:str" else "'"
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str_presenter)


def dump_host(host: Host) -> str:
    """The host as a YAML host file."""
    return yaml.dump(host.to_yaml_dict(), Dumper=_Dumper, sort_keys=False,
                     default_flow_style=False)


def dump_scenario(scenario: Scenario) -> str:
    """The scenario as a YAML scenario file."""
    hosts: dict[str, Any] = {}
    for name, host in scenario.hosts.items():
        body = host.to_yaml_dict()
        del body["host"]
        hosts[name] = body
    out: dict[str, Any] = {"hosts": hosts}
    if scenario.protocol:
        out["protocol"] = dict(scenario.protocol)
    return yaml.dump(out, Dumper=_Dumper, sort_keys=False, default_flow_style=False)
