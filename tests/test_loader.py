"""Loading YAML and batch files: the guide's defaults, and a clear error for each bad input."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from qmcheck.model.formats.loader import load, load_host, load_scenario
from qmcheck.model.values.errors import InputError
from qmcheck.model.values.policy import DEFAULT_POLICY_PRIORITY, Host
from qmcheck.properties.cli.main import main

GOOD = """\
host: hostA
address: 10.1.1.1
policies:
  - name: telnet-b
    source: 10.1.1.1
    destination: 10.2.2.0/24
    destination-port: 23
    protocol: tcp
    action: [ESP_AES128_HMAC_SHA1, ESP_3DES_HMAC_SHA1]
  - name: web
    destination: [10.2.2.2, 10.3.3.0/24]
    destination-port: 80
    protocol: tcp
    action: AH_SHA1/3600
  - name: v6
    priority: 5
    source: 2001:db8::1
    destination: 2001:db8::/64
    action: DISCARD
"""


def write(tmp_path: Path, text: str, name: str = "host.yaml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def test_good_yaml_host(tmp_path: Path) -> None:
    host = load(write(tmp_path, GOOD))
    assert isinstance(host, Host) and host.name == "hostA"
    names = [p.name for p in host.ordered()]
    assert names == ["v6", "telnet-b", "web", "default"]
    telnet, web, v6, default = host.policies
    assert (telnet.priority, web.priority) == (10, 20)  # automatic increment of 10
    assert telnet.line == 4 and web.line == 10
    assert [str(t) for t in telnet.action.transforms] == ["ESP_AES128_HMAC_SHA1",
                                                        "ESP_3DES_HMAC_SHA1"]
    assert web.destination.values[1].kind == "prefix"
    assert v6.family == 6 and str(v6.destination) == "2001:db8::/64"
    assert default.implicit and default.priority == DEFAULT_POLICY_PRIORITY
    assert default.action.verdict == "PASS"


def test_automatic_priority_follows_the_highest(tmp_path: Path) -> None:
    host = load_host(write(tmp_path, """\
        policies:
          - {name: a, priority: 100, action: PASS}
          - {name: b, priority: 50, action: PASS}
          - {name: c, action: DISCARD}
        default-action: none
        """))
    assert [p.priority for p in host.policies] == [100, 50, 110]
    assert not any(p.implicit for p in host.policies)


BATCH = """\
# HP-UX ipsec_config batch file
add ike ike_b -remote 10.2.2.2 -authentication PSK
add host telnet-b -source 10.1.1.1/32 -destination 10.2.2.2/32/23 -protocol 6 \\
    -action ESP_AES128_HMAC_SHA1,ESP_3DES_HMAC_SHA1
add host web -source 10.1.1.1 -destination 10.2.2.0/24/http -protocol tcp -priority 50 \\
    -action AH_SHA1
add host block -destination 10.9.9.1-10.9.9.9 -action DISCARD
"""


def test_batch_file(tmp_path: Path) -> None:
    host = load_host(write(tmp_path, BATCH, "hostA.batch"))
    telnet, web, block, default = host.policies
    assert telnet.line == 3 and str(telnet.destination_port) == "23"
    assert telnet.priority == 10 and web.priority == 50 and block.priority == 60
    assert str(web.destination_port) == "80" and web.protocol == 6
    assert block.destination.values[0].kind == "range" and block.source.is_any
    assert default.implicit and host.name == "hostA"


CASES = [
    # (file text, line, field, message fragment)
    ("policies:\n  - name: a\n    actoin: PASS\n", 3, "actoin", "did you mean 'action'"),
    ("polices:\n  - name: a\n", 1, "polices", "did you mean 'policies'"),
    ("policies:\n  - name: a\n    source: 10.1.1.999\n    action: PASS\n", 3, "source",
     "not an IPv4 or IPv6 address"),
    ("policies:\n  - name: a\n    destination: 10.0.0.0/40\n    action: PASS\n", 3,
     "destination", "too long"),
    ("policies:\n  - name: a\n    destination: 10.0.0.9-10.0.0.1\n    action: PASS\n", 3,
     "destination", "reversed"),
    ("policies:\n  - name: a\n    protocol: icmp\n    destination-port: 7\n    action: PASS\n",
     4, "destination-port", "ports need protocol tcp, udp or sctp"),
    ("policies:\n  - name: a\n    source: 10.1.1.1\n    destination: 2001:db8::1\n"
     "    action: PASS\n", 4, "destination", "mixes IPv4 and IPv6"),
    ("policies:\n  - name: a\n    action: [" + ", ".join(
        f"ESP_{e}_HMAC_{a}" for e in ("DES", "3DES", "AES128", "AES192", "AES256", "NULL")
        for a in ("MD5", "SHA1", "SHA2_256", "SHA2_384", "SHA2_512")) + "]\n", 3, "action",
     "at most 25"),
    ("policies:\n  - name: a\n    action: [AH_MD5, AH_SHA1, AH_SHA2_256]\n", 3, "action",
     "at most 2"),
    ("policies:\n  - name: a\n    action: ESP_AES128_HMAC_SHA1/100\n", 3, "action",
     "out of range"),
    ("policies:\n  - name: a\n    action: ESP_AES128_HMAC_SHA3\n", 3, "action",
     "unknown transform"),
    ("policies:\n  - name: a\n    action: PASS\n  - name: a\n    action: PASS\n", 4, "name",
     "used twice (first at line 2)"),
    ("", 1, None, "empty"),
    ("policies:\n  - name: a\n    action: [PASS\n", 4, None, "malformed YAML"),
    ("policies:\n  - name: a\n    priority: 0\n    action: PASS\n", 3, "priority", "1..2147483647"),
    ("policies:\n  - name: a\n    protocol: tpc\n    action: PASS\n", 3, "protocol",
     "unknown protocol"),
    ("policies:\n  - name: a\n    source: 10.1.1.1\n", 2, "action", "has no 'action'"),
    ("policies:\n  - name: a\n    name: b\n    action: PASS\n", 3, "name", "appears twice"),
    ("policies:\n  - name: a\n    destination-port: 99999\n    protocol: tcp\n    action: PASS\n",
     3, "destination-port", "out of range"),
    ("hosts:\n  a:\n    policies:\n      - name: x\n        action: PASS\n    adress: 1.2.3.4\n",
     6, "adress", "did you mean 'address'"),
    ("add host a -source 10.1.1.1 -destinaton 10.2.2.2 -action PASS\n", 1, "-destinaton",
     "did you mean '-destination'"),
    ("add host a -source 10.1.1.1/33 -action PASS\n", 1, "source", "too long"),
    ("add host a -action ESP_FOO\n", 1, "action", "unknown transform"),
    ("add host a -action PASS\nadd host a -action DISCARD\n", 2, "name", "used twice"),
    ("add host a -protocol udp -priority 10 -priority 20 -action PASS\n", 1, "priority",
     "given twice"),
    ("add ike t1\nadd hots a -action PASS\n", 2, None, "unknown record 'add hots'"),
]


@pytest.mark.parametrize("text, line, field, fragment", CASES)
def test_bad_input_names_file_line_and_field(tmp_path: Path, text: str, line: int,
                                             field: str | None, fragment: str) -> None:
    path = write(tmp_path, text, "bad.yaml")
    with pytest.raises(InputError) as caught:
        load(path)
    error = caught.value
    assert error.source == path
    assert error.line == line
    assert error.field == field
    assert fragment in error.message
    assert str(error).startswith(f"{path}:{line}")


@pytest.mark.parametrize("text, line, field, fragment", CASES[:6])
def test_bad_input_exits_2_without_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             text: str, line: int, field: str | None,
                                             fragment: str) -> None:
    path = write(tmp_path, text, "bad.yaml")
    code = main(["lookup", path, "--src", "10.1.1.1", "--dst", "10.2.2.2"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"qmcheck: error: {path}:{line}: field '{field}': ")
    assert fragment in err and "Traceback" not in err


def test_console_script_bad_input_no_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, "policies: [", "broken.yaml")
    code = ("import sys; from qmcheck.properties.cli.main import main; "
            f"sys.exit(main(['lookup', {path!r}, '--src', '1.1.1.1', '--dst', '2.2.2.2']))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "malformed YAML" in proc.stderr and "Traceback" not in proc.stderr


def test_missing_file_and_scenario_host(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load(str(tmp_path / "nope.yaml"))
    scenario = load_scenario(None)
    assert list(scenario.hosts) == ["hostA", "hostB"]


def test_large_host_without_aliases_loads(tmp_path: Path) -> None:
    """A generated host of 6,500 policies (more than ``MAX_NODES`` YAML nodes, no alias)
    loads whole: the alias bound refuses only trees that aliases make larger; a bad tag in
    it is still reported at its line by the walk for trees without aliases."""
    from qmcheck.model.formats import yaml_file
    from qmcheck.model.formats.generator import generate_host, host_yaml

    host = generate_host(6500, 3)
    text = host_yaml(host)
    assert text.count('": ') * 2 > yaml_file.MAX_NODES  # a key and a value per entry
    path = tmp_path / "big.yaml"
    path.write_text(text)
    loaded = load_host(str(path))
    assert [p.name for p in loaded.policies] == [p.name for p in host.policies]
    lines = text.split("\n")
    lines[5000] = lines[5000].replace('{"name": ', '{"name": !!python/name:os.system ', 1)
    path.write_text("\n".join(lines))
    with pytest.raises(InputError) as err:
        load_host(str(path))
    assert err.value.line == 5001 and "python/name" in str(err.value)
