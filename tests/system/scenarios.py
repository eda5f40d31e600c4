"""The scripted strongSwan scenarios: two swanctl.conf texts each, and how to run them."""

from __future__ import annotations

import ipaddress
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qmcheck.properties.traces.strongswan_log import Event
from tests.system.strongswan import IKE, INNER, CharonPair, swanctl_conf

SUBNET_I = "10.10.1.0/24"
SUBNET_R = "10.10.2.0/24"


@dataclass(frozen=True)
class Scenario:
    """One run: the child's selectors and proposals on each side, and a fault."""

    name: str
    i_ts: tuple[str, str]
    r_ts: tuple[str, str]
    i_esp: str = "aes128-sha1"
    r_esp: str = "aes128-sha1"
    drop_message3: bool = False
    drop_message2_once: bool = False
    summary: str = ""
    #: the child's swanctl lifetime settings on each side (default: never rekeyed)
    i_lifetimes: str = "rekey_time = 0"
    r_lifetimes: str = "rekey_time = 0"
    #: the run waits for this many rekeys and deletions of the old pair
    rekeys: int = 0
    #: the responder's retransmission timeout in seconds (the initiator's is 1 s)
    r_timeout: float = 1.0

    def confs(self) -> tuple[str, str]:
        ci = swanctl_conf("net", local=IKE["i"], remote=IKE["r"], local_ts=self.i_ts[0],
                          remote_ts=self.i_ts[1], esp=self.i_esp, lifetimes=self.i_lifetimes)
        cr = swanctl_conf("net", local=IKE["r"], remote=IKE["i"], local_ts=self.r_ts[0],
                          remote_ts=self.r_ts[1], esp=self.r_esp, lifetimes=self.r_lifetimes)
        return ci, cr


HOSTS_I = (f"{INNER['i']}/32", f"{INNER['r']}/32")
HOSTS_R = (f"{INNER['r']}/32", f"{INNER['i']}/32")

SCENARIOS: tuple[Scenario, ...] = (
    Scenario("success", HOSTS_I, HOSTS_R, summary="same selectors, one common proposal"),
    Scenario("narrower", (SUBNET_I, SUBNET_R), HOSTS_R,
             summary="the responder's selectors are narrower (/32 inside the /24s)"),
    Scenario("no-proposal", HOSTS_I, HOSTS_R, "aes128-sha1", "aes256-sha256",
             summary="no common ESP proposal"),
    Scenario("disjoint", HOSTS_I, ("10.10.4.0/24", "10.10.3.0/24"),
             summary="the responder's selectors are disjoint from the initiator's"),
    Scenario("message3-lost", HOSTS_I, HOSTS_R, drop_message3=True,
             summary="nftables in the responder's namespace drops every Quick Mode message 3"),
    # R's timeout is longer than I's: with equal ones, R's own retransmission of message 2 can
    # reach I before I's timer fires (R's started a message later), and then I never
    # retransmits message 1 (task_manager_v1.c retransmit_packet: timeout * base^n, no jitter)
    Scenario("message2-lost-once", HOSTS_I, HOSTS_R, drop_message2_once=True, r_timeout=6.0,
             summary="nftables in the initiator's namespace drops the first message 2"),
)

#: Short lifetimes on the initiator only (so that only it rekeys: with equal ones both sides'
#: soft expiries fire together and IKEv1 has no collision handling): rekey after 6 s, the old
#: pair's hard expiry 3 s later, 3 s before the next rekey; the responder's after the run.
REKEY = Scenario("rekey", HOSTS_I, HOSTS_R, rekeys=2,
                 i_lifetimes="rekey_time = 6s\n        life_time = 9s\n        rand_time = 0s",
                 r_lifetimes="rekey_time = 120s\n        life_time = 130s\n        rand_time = 0s",
                 summary="the initiator's child is rekeyed after 6 s and expires after 9 s")

#: The rekey's message 3 is lost (nftables in R's namespace, installed after the first Quick
#: Mode): I switches to the new pair at message 2, R never installs it. Long hard lifetimes:
#: nothing expires before the run ends.
REKEY_MESSAGE3_LOST = Scenario(
    "rekey-message3-lost", HOSTS_I, HOSTS_R, rekeys=1,
    i_lifetimes="rekey_time = 6s\n        life_time = 60s\n        rand_time = 0s",
    r_lifetimes="rekey_time = 120s\n        life_time = 130s\n        rand_time = 0s",
    summary="the rekey's message 3 is dropped; an echo right after I's switch")


@dataclass
class Run:
    """What a scenario left behind: both swanctl.conf texts, both logs, swanctl's answer."""

    scenario: Scenario
    conf_i: str
    conf_r: str
    log_i: str
    log_r: str
    initiate_rc: int
    seconds: float
    dropped: int = 0
    ping: bool | None = None
    #: ``swanctl --list-sas`` of each side at the end (lifecycle runs), before the logs
    list_sas: dict[str, str] = field(default_factory=dict)


def message_udp_length(log: str, generating: str) -> int:
    """UDP length of the Quick Mode message whose ``generating ...`` log line matches the regular
    expression ``generating``: the IKE message size that charon logs next, plus the 4-byte
    non-ESP marker of port 4500, plus the UDP header."""
    lines = log.splitlines()
    for k, line in enumerate(lines):
        if re.search(generating, line):
            for follow in lines[k + 1:k + 4]:
                m = re.search(r"sending packet: .* \((\d+) bytes\)", follow)
                if m:
                    return int(m.group(1)) + 4 + 8
    raise AssertionError(f"no '{generating}' in the log")


MESSAGE2 = r"generating QUICK_MODE response \d+ \[ HASH SA"
MESSAGE3 = r"generating QUICK_MODE request \d+ \[ HASH \]"


def run_scenario(scenario: Scenario, lengths: dict[str, int] | None = None,
                 wait_give_up: float = 20.0) -> Run:
    """Start both charons, initiate, send one ICMP echo through the SA when the initiator
    has it, (wait for the responder to give up), collect the logs
    before stopping anything (a shutdown deletes every SA, outside the model)."""
    ci, cr = scenario.confs()
    start = time.monotonic()
    with CharonPair(ci, cr, r_timeout=scenario.r_timeout) as pair:
        if scenario.drop_message3:
            assert lengths is not None
            pair.drop_quick_mode_message3(lengths["msg3"])
        if scenario.drop_message2_once:
            assert lengths is not None
            pair.drop_udp("i", "sport", lengths["msg2"], once=True)
        proc = pair.initiate("net", timeout=15)
        # one protected packet each way (an ICMP echo and its reply) once I has its SAs
        ping = pair.ping(1) if proc.returncode == 0 else None
        dropped = 0
        list_sas: dict[str, str] = {}
        if scenario.rekeys and proc.returncode == 0:
            wait_lifecycle(pair, scenario.rekeys)
            ping = ping and pair.ping(1)  # and once more on the newest pair
            list_sas = {side.role: side.swanctl("--list-sas").stdout for side in (pair.i, pair.r)}
        elif scenario.drop_message3:
            deadline = time.monotonic() + wait_give_up
            while time.monotonic() < deadline and "giving up after" not in _read(pair.r.log):
                time.sleep(0.25)
            dropped = pair.nft_dropped("r")
        else:
            deadline = time.monotonic() + 5
            while (proc.returncode == 0 and time.monotonic() < deadline
                   and "established with SPIs" not in _read(pair.r.log)):
                time.sleep(0.1)
            time.sleep(0.3)
            if scenario.drop_message2_once:
                dropped = pair.nft_dropped("i")
        log_i, log_r = _read(pair.i.log), _read(pair.r.log)
    return Run(scenario, ci, cr, log_i, log_r, proc.returncode, time.monotonic() - start,
               dropped, ping, list_sas)


def installed_children(list_sas: str) -> list[tuple[str, str]]:
    """(inbound SPI, outbound SPI) of each INSTALLED CHILD_SA in ``swanctl --list-sas``."""
    out: list[tuple[str, str]] = []
    state = ""
    spis: dict[str, str] = {}
    for line in list_sas.splitlines():
        if m := re.match(r"^\s+\S+: #\d+, reqid \d+, (\w+),", line):
            state, spis = m.group(1), {}
        elif m := re.match(r"^\s+(in|out)\s+([0-9a-f]{8})", line):
            spis[m.group(1)] = m.group(2)
            if state == "INSTALLED" and len(spis) == 2:
                out.append((spis["in"], spis["out"]))
    return out


def run_rekey_message3_lost(scenario: Scenario = REKEY_MESSAGE3_LOST,
                            timeout: float = 60.0) -> Run:
    """The first pair established and used, then every Quick Mode message 3 dropped at R; once
    I has rekeyed (new pair installed, old outbound SA removed) one echo (``Run.ping``), which
    R must drop (it has only allocated the new inbound SPI); the logs are read as soon as R logs
    that."""
    ci, cr = scenario.confs()
    start = time.monotonic()
    with CharonPair(ci, cr, r_timeout=scenario.r_timeout) as pair:
        proc = pair.initiate("net", timeout=15)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        pair.ping(1)  # through the first pair (its receipt is in the logs)
        pair.drop_quick_mode_message3(message_udp_length(_read(pair.i.log), MESSAGE3))
        wait_log(pair.i.log, "REKEYING => REKEYED", timeout)
        ping = pair.ping(1)
        wait_log(pair.r.log, "inbound ESP packet does not belong to an installed SA", timeout)
        log_i, log_r = _read(pair.i.log), _read(pair.r.log)
        dropped = pair.nft_dropped("r")
    return Run(scenario, ci, cr, log_i, log_r, proc.returncode, time.monotonic() - start,
               dropped, ping)


def wait_log(path: Path, text: str, timeout: float) -> None:
    """Wait until the log at ``path`` contains ``text`` (polled)."""
    deadline = time.monotonic() + timeout
    while text not in _read(path):
        if time.monotonic() > deadline:
            raise AssertionError(f"no '{text}' in {path} within {timeout:.0f} s")
        time.sleep(0.1)


def wait_lifecycle(pair: CharonPair, rekeys: int, timeout: float = 120.0) -> None:
    """Wait until I has rekeyed ``rekeys`` times and closed as many old pairs at their hard
    expiry, and R has processed as many delete notifications (charon's log lines, polled)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log_i, log_r = _read(pair.i.log), _read(pair.r.log)
        if (log_i.count("closing expired CHILD_SA") >= rekeys
                and log_i.count("REKEYING => REKEYED") >= rekeys
                and log_r.count("received DELETE for") >= rekeys):
            return
        time.sleep(0.25)
    raise AssertionError(f"no {rekeys} rekeys and deletions within {timeout:.0f} s")


def _read(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def agreed_range(text: str) -> tuple[int, int]:
    """``a``, ``a-b`` or ``a/n`` as an address interval."""
    text = text.strip()
    if "-" in text:
        lo, hi = text.split("-")
        return int(ipaddress.ip_address(lo)), int(ipaddress.ip_address(hi))
    net = ipaddress.ip_network(text, strict=False)
    return int(net.network_address), int(net.broadcast_address)


def peers_agree(observed: str, i_ev: list[Event], report: dict[str, Any],
                initiator: str) -> None:
    """``qmcheck peers`` quantifies over every packet the initiator protects; the run is the
    initiator's configured selectors. A proof of peers.negotiation means the run succeeds; a
    refutation for the run's own traffic (the inner addresses) names the run's error; a
    refutation for other traffic must not be covered by what strongSwan agreed."""
    results = [r for r in report["results"] if r["property"] == "peers.negotiation"
               and r.get("initiator") == initiator]
    assert results
    for r in results:
        if r["verdict"] == "holds":
            assert observed == "accepted"
            continue
        assert r["verdict"] == "refuted"
        packet = r["witness"]["packet"]
        if (packet["src"], packet["dst"]) == (INNER["i"], INNER["r"]):
            assert observed == r["negotiation"]["status"]
        else:
            assert observed == "accepted"
            established = next(e for e in i_ev if e.kind == "established")
            ts_local, ts_remote = established.detail.split(" TS ")[1].split(" === ")
            src = int(ipaddress.ip_address(packet["src"]))
            dst = int(ipaddress.ip_address(packet["dst"]))
            lo, hi = agreed_range(ts_local)
            lo2, hi2 = agreed_range(ts_remote)
            assert not (lo <= src <= hi and lo2 <= dst <= hi2)
