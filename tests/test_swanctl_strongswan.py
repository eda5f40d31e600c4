"""Real swanctl.conf files: strongSwan's own test suite (tests/fixtures/swanctl-strongswan, a
subset named in its README). At least 95% load, none crashes, each refusal names the file,
line and field; a few files give exactly the policies charon installs for them."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from benchmarks.swanctl_corpus import corpus_files, measure
from qmcheck.model.formats.loader import load_host
from qmcheck.model.values.policy import Host
from qmcheck.properties.cli.main import main

CORPUS = Path(__file__).parent / "fixtures" / "swanctl-strongswan"


def _host(test: str, host: str) -> Host:
    return load_host(str(CORPUS / test / "hosts" / host / "etc" / "swanctl" / "swanctl.conf"))


def _ip(text: str) -> tuple[int, int]:
    import ipaddress
    address = ipaddress.ip_address(text)
    return address.version, int(address)


def test_at_least_95_percent_load_and_nothing_crashes() -> None:
    files = corpus_files([str(CORPUS)])
    assert len(files) >= 300
    loaded, refused, crashed, _ = measure(files)
    assert crashed == {}
    assert len(loaded) / len(files) >= 0.95, refused
    # what stays refused is named: multicast selectors, the harness's placeholder, ICMP types
    assert sorted(str(p.relative_to(CORPUS)).split("/hosts/")[0] for p in refused) == [
        "ikev2/compress-nat", "ikev2/compress-nat", "ikev2/net2net-multicast",
        "ikev2/net2net-multicast", "ikev2/protoport-range", "ikev2/protoport-range"]
    assert all("multicast" in m or "PH_IP_CAROL" in m or "ICMP types" in m
               for m in refused.values())


@pytest.mark.parametrize("test", ["ikev2/net2net-multicast", "ikev2/protoport-range"])
def test_refusals_are_one_line_exit_2(test: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = CORPUS / test / "hosts" / "moon" / "etc" / "swanctl" / "swanctl.conf"
    assert main(["conflicts", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith(f"qmcheck: error: {path}:")
    assert ".children." in err and "Traceback" not in err


def test_the_command_line_never_crashes_on_a_sample() -> None:
    """conflicts and peers on the hosts of some tests: exit 0, 1 or 3, never 4."""
    tests = ["ikev1/net2net-psk", "ikev2/net2net-iptfs", "ikev2/rw-mark-in-out",
             "ikev1-algs/esp-alg-null", "ipv6/rw-ikev1", "route-based/net2net-xfrmi"]
    for test in tests:
        hosts = sorted((CORPUS / test / "hosts").glob("*/etc/swanctl/swanctl.conf"))
        assert len(hosts) >= 2, test
        runs = [["conflicts", str(hosts[0])],
                ["peers", str(hosts[0]), str(hosts[1]), "--profile", "strongswan"]]
        for argv in runs:
            with contextlib.redirect_stdout(io.StringIO()), \
                    contextlib.redirect_stderr(io.StringIO()) as err:
                code = main(argv)
            assert code in (0, 1, 3), (argv, code, err.getvalue())


def test_net2net_psk_is_a_tunnel_between_the_gateways() -> None:
    """moon: local_ts 10.1.0.0/16, remote_ts 10.2.0.0/16, remote_addrs 192.168.0.2,
    esp_proposals aes128gcm128-x25519 (AES-GCM with a 16 octet ICV, PFS group x25519)."""
    moon = _host("ikev2/net2net-psk", "moon")
    (policy,) = moon.policies
    assert (policy.name, str(policy.source), str(policy.destination)) == (
        "gw-gw.net-net", "10.1.0.0/16", "10.2.0.0/16")
    assert policy.protocol is None and policy.tunnel == _ip("192.168.0.2")
    assert [t.name for t in policy.action.transforms] == ["ESP_AES128GCM16_PFS_CURVE25519"]
    assert [str(a) for a in moon.protects] == ["10.1.0.0/16"]
    assert any("auth: IKE authentication" in n for n in moon.notes)


def test_protoport_dual_gives_one_policy_per_protocol_and_port(
        capsys: pytest.CaptureFixture[str]) -> None:
    """carol: dynamic[icmp] === 10.1.0.0/16[icmp], dynamic[tcp] === 10.1.0.0/16[tcp/ssh];
    dynamic is carol's single local address 192.168.0.100."""
    carol = _host("ikev2/protoport-dual", "carol")
    got = [(p.name, str(p.source), str(p.destination), p.protocol, str(p.destination_port))
           for p in carol.policies]
    assert got == [("home.icmp", "192.168.0.100", "10.1.0.0/16", 1, "any"),
                   ("home.ssh", "192.168.0.100", "10.1.0.0/16", 6, "22")]
    assert all(p.tunnel == _ip("192.168.0.1") for p in carol.policies)
    path = CORPUS / "ikev2/protoport-dual/hosts/carol/etc/swanctl/swanctl.conf"
    assert main(["lookup", str(path), "--src", "192.168.0.100", "--dst", "10.1.0.10",
                 "--protocol", "tcp", "--dport", "22", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["results"][0]["subject"] == ["home.ssh"]


def test_ip_pool_remote_ts_is_the_pool() -> None:
    """moon: remote_ts defaults to dynamic, the virtual IP from pool rw_pool (10.3.0.0/28)."""
    (policy,) = _host("ikev2/ip-pool", "moon").policies
    assert (str(policy.source), str(policy.destination)) == ("10.1.0.0/16", "10.3.0.0/28")
    assert policy.tunnel is None  # no single remote_addrs: the remote end point is not known


def test_ipv6_transport_ikev1_is_host_to_host() -> None:
    """moon: mode transport, both selectors dynamic: fec0::1 === fec0::2, AES-CBC 128 with
    HMAC SHA2-256 and PFS x25519."""
    (policy,) = _host("ipv6/transport-ikev1", "moon").policies
    assert (str(policy.source), str(policy.destination), policy.family) == (
        "fec0::1", "fec0::2", 6)
    assert policy.tunnel is None
    assert [t.name for t in policy.action.transforms] == [
        "ESP_AES128_HMAC_SHA2_256_PFS_CURVE25519"]


def test_newly_modelled_algorithms_and_modes() -> None:
    """Serpent, Twofish and truncated HMACs are transforms of their own; IP-TFS is tunnel
    mode with a note."""
    names = {t: [x.name for x in _host(t, "moon").policies[0].action.transforms]
             for t in ("gcrypt-ikev1/alg-serpent", "gcrypt-ikev1/alg-twofish",
                       "ikev2-algs/esp-alg-md5-128", "ikev2-algs/esp-alg-sha256-96")}
    assert names["gcrypt-ikev1/alg-serpent"][0].startswith("ESP_SERPENT256_HMAC_SHA2_512")
    assert names["gcrypt-ikev1/alg-twofish"][0].startswith("ESP_TWOFISH256_HMAC_SHA2_512")
    assert names["ikev2-algs/esp-alg-md5-128"][0].startswith("ESP_3DES_HMAC_MD5_128")
    assert names["ikev2-algs/esp-alg-sha256-96"][0].startswith("ESP_AES128_HMAC_SHA2_256_96")
    iptfs = _host("ikev2/net2net-iptfs", "moon")
    assert iptfs.policies[0].tunnel == _ip("192.168.0.2")
    assert any("IP-TFS" in n for n in iptfs.notes)


def test_comment_only_and_empty_files_are_hosts_without_policies() -> None:
    for test, host in (("sql/rw-psk-ipv4", "moon"), ("tnc/tnccs-20-hcd-eap", "alice")):
        loaded = _host(test, host)
        assert loaded.policies == () and any("no connections" in n for n in loaded.notes)


@pytest.mark.parametrize("argv", [
    ["lookup", "{f}", "--src", "192.168.0.1", "--dst", "10.2.0.1"],
    ["negotiate", "{f}", "{f}", "--src", "10.1.0.1", "--dst", "10.2.0.1"],
    ["conflicts", "{f}"],
    ["peers", "{f}", "{f}"],
    ["check", "{f}"],
    ["diff", "{f}", "{f}"],
])
def test_every_command_prints_the_notes_once(argv: list[str],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """The notes of a file (here: authentication, IP-TFS) are one line each on stderr."""
    path = str(CORPUS / "ikev2/net2net-iptfs/hosts/moon/etc/swanctl/swanctl.conf")
    code = main([a.replace("{f}", path) for a in argv])
    assert code in (0, 1, 3)
    err = capsys.readouterr().err.splitlines()
    notes = [line for line in err if line.startswith(f"qmcheck: note: {path}: ")]
    hosts = argv.count("{f}") if argv[0] in ("negotiate", "peers", "diff") else 1
    assert sum("IP-TFS" in line for line in notes) == hosts
    assert sum("IKE authentication" in line for line in notes) == hosts
