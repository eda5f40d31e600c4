"""Importing strongSwan swanctl.conf: children become host policies; clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qmcheck.model.formats.loader import load_host
from qmcheck.model.formats.swanctl_conf import (
    TS,
    automatic_priority,
    load_swanctl_text,
    parse_ts,
    proposals_to_transforms,
)
from qmcheck.model.semantics.lookup import lookup
from qmcheck.model.values.errors import InputError
from qmcheck.model.values.packet import make_packet
from qmcheck.properties.cli.main import main

FIXTURES = Path(__file__).parent / "fixtures"
SITE = FIXTURES / "swanctl-site.conf"


def test_children_become_policies() -> None:
    host = load_host(str(SITE))
    names = [p.name for p in host.policies]
    assert names == ["office.web", "office.ike-host", "office.dns", "office.hosts",
                     "office.hosts#2", "lab.all"]
    # transport mode: narrowed to the IKE addresses; 10.2.0.0/16 does not hold the peer's
    ike = host.policy("office.ike-host")
    assert (str(ike.source), str(ike.destination), ike.protocol) == (
        "192.0.2.1", "198.51.100.7", 6)
    web = host.policy("office.web")
    assert web.protocol == 6 and str(web.source_port) == "443"
    assert [t.name for t in web.action.transforms] == [
        "ESP_AES128_HMAC_SHA1_PFS_MODP2048", "ESP_AES256_HMAC_SHA2_256",
        "ESP_AES256_HMAC_SHA1"]
    assert host.policy("office.dns").action.verdict == "PASS"
    assert host.policy("lab.all").action.verdict == "DISCARD"
    assert host.policy("lab.all").priority == 7
    # dynamic is the connection's IKE address; AH and ESP give the nested transform
    hosts = host.policy("office.hosts")
    assert str(hosts.source) == "192.0.2.1" and str(hosts.destination) == "198.51.100.7"
    assert hosts.action.transforms[0].name == "AH_SHA1+ESP_3DES_HMAC_MD5"
    assert host.default_action is None


def test_automatic_priority_puts_specific_selectors_first() -> None:
    def ts(text: str) -> TS:
        return parse_ts(text, None, "ts", "x", 1)
    narrow = automatic_priority(ts("10.1.1.1/32"), ts("10.2.2.2/32"))
    wide = automatic_priority(ts("10.1.0.0/16"), ts("10.2.0.0/16"))
    with_port = automatic_priority(ts("10.1.0.0/16[tcp/80]"), ts("10.2.0.0/16"))
    with_proto = automatic_priority(ts("10.1.0.0/16[tcp]"), ts("10.2.0.0/16"))
    assert narrow < wide and with_port < with_proto < wide


def test_lookup_on_an_imported_file_follows_the_priorities() -> None:
    host = load_host(str(SITE))
    https = make_packet("10.1.2.3", "10.2.0.53", "tcp", 443, 1000, "out")  # a local server
    dns = make_packet("10.1.2.3", "10.2.0.53", "udp", 1000, 53, "out")
    assert lookup(host, https).name == "office.web"  # type: ignore[union-attr]
    assert lookup(host, dns).name == "office.dns"  # type: ignore[union-attr]
    reply = make_packet("10.2.0.53", "10.1.2.3", "udp", 53, 1000, "in")
    assert lookup(host, reply).name == "office.dns"  # type: ignore[union-attr]


def test_the_command_line_reads_swanctl(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["lookup", str(SITE), "--src", "10.9.1.1", "--dst", "10.0.0.1",
                 "--format", "json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)["results"][0]
    assert result["subject"] == ["lab.all"] and result["action"] == "DISCARD"


@pytest.mark.parametrize(("text", "names"), [
    ("aes128gcm16-modp2048", ["ESP_AES128GCM16_PFS_MODP2048"]),
    ("aes128gcm128-aes256gcm16-ecp256-x25519",
     ["ESP_AES128GCM16_PFS_ECP256", "ESP_AES128GCM16_PFS_CURVE25519",
      "ESP_AES256GCM16_PFS_ECP256", "ESP_AES256GCM16_PFS_CURVE25519"]),
    ("aes128ccm12,aes128gmac,chacha20poly1305-esn",
     ["ESP_AES128CCM12", "ESP_AES128GMAC", "ESP_CHACHA20POLY1305"]),
    ("aes128-aesxcbc", ["ESP_AES128_HMAC_AESXCBC"]),
    ("camellia256-sha384-noesn", ["ESP_CAMELLIA256_HMAC_SHA2_384"]),
    ("aes256ctr-sha512-modp4096", ["ESP_AES256CTR_HMAC_SHA2_512_PFS_MODP4096"]),
])
def test_strongswan_algorithms_become_transforms(text: str, names: list[str]) -> None:
    assert proposals_to_transforms(text, "ESP", "f.conf", 4, "x") == names


@pytest.mark.parametrize("text", ["null", "aes128-whirlpool", "rc5-sha1"])
def test_unmodelled_algorithms_are_errors(text: str) -> None:
    with pytest.raises(InputError) as e:
        proposals_to_transforms(text, "ESP", "f.conf", 4, "esp_proposals")
    assert e.value.line == 4 and e.value.field == "esp_proposals"


def test_default_proposal_and_dh_groups() -> None:
    assert proposals_to_transforms("aes128-sha256-modp3072-ecp256", "ESP", "f", 1, "x") == [
        "ESP_AES128_HMAC_SHA2_256_PFS_MODP3072", "ESP_AES128_HMAC_SHA2_256_PFS_ECP256"]
    default = proposals_to_transforms("default", "ESP", "f", 1, "x")
    assert default[0] == "ESP_AES128_HMAC_SHA2_256" and len(default) == 18
    assert default[-1] == "ESP_AES256GCM16"
    assert proposals_to_transforms("aes256!", "ESP", "f", 1, "x") == ["ESP_AES256"]


BAD = [
    ("connections {\n a {\n  children {\n   c {\n    local_ts = 10.0.0.0/8[icmp/8]\n"
     "    remote_ts = 10.1.0.0/16\n   }\n  }\n }\n}\n", 5,
     "connections.a.children.c.local_ts", "ICMP"),
    ("connections {\n a {\n  children {\n   c {\n    local_ts = 10.0.0.0/8\n"
     "    remote_ts = 10.1.0.0/16\n    esp_proposals = aes128whirl\n   }\n  }\n }\n}\n", 7,
     "connections.a.children.c.esp_proposals", "aes128whirl"),
    ("connections {\n a {\n  children {\n   c {\n    local_ts = 10.0.0.0/8\n"
     "    remote_ts = 10.1.0.0/16\n    mode = beetle\n   }\n  }\n }\n}\n", 7,
     "connections.a.children.c.mode", "beetle"),
    ("connections {\n a {\n", 2, "a", "not closed"),
    ("connections {\n a : connections.b {\n }\n}\n", 2, "a", "does not exist"),
    ("connections {\n a : connections.a {\n }\n}\n", 2, "a", "itself"),
]


@pytest.mark.parametrize(("text", "line", "field", "words"), BAD)
def test_errors_name_file_line_and_field(text: str, line: int, field: str, words: str) -> None:
    with pytest.raises(InputError) as e:
        load_swanctl_text(text, "bad.conf")
    assert (e.value.source, e.value.line, e.value.field) == ("bad.conf", line, field)
    assert words in e.value.message


def test_a_bad_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.conf"
    bad.write_text(BAD[1][0])
    assert main(["lookup", str(bad), "--src", "10.0.0.1", "--dst", "10.1.0.1"]) == 2
    assert "bad.conf:7: field 'connections.a.children.c.esp_proposals'" in capsys.readouterr().err
