"""The scripted strongSwan scenarios: two swanctl.conf texts each, and how to run them."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

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
    summary: str = ""

    def confs(self) -> tuple[str, str]:
        ci = swanctl_conf("net", local=IKE["i"], remote=IKE["r"], local_ts=self.i_ts[0],
                          remote_ts=self.i_ts[1], esp=self.i_esp)
        cr = swanctl_conf("net", local=IKE["r"], remote=IKE["i"], local_ts=self.r_ts[0],
                          remote_ts=self.r_ts[1], esp=self.r_esp)
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
)


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


def message3_udp_length(log_i: str) -> int:
    """UDP length of Quick Mode message 3 from an initiator's log: the IKE message size that
    charon logs, plus the 4-byte non-ESP marker of port 4500, plus the UDP header."""
    lines = log_i.splitlines()
    for k, line in enumerate(lines):
        if re.search(r"generating QUICK_MODE request \d+ \[ HASH \]", line):
            for follow in lines[k + 1:k + 4]:
                m = re.search(r"sending packet: .* \((\d+) bytes\)", follow)
                if m:
                    return int(m.group(1)) + 4 + 8
    raise AssertionError("no Quick Mode message 3 in the initiator's log")


def run_scenario(scenario: Scenario, msg3_length: int | None = None,
                 wait_give_up: float = 20.0) -> Run:
    """Start both charons, initiate, send one ICMP echo through the SA when the initiator
    has it, (wait for the responder to give up), collect the logs
    before stopping anything (a shutdown deletes every SA, outside the model)."""
    ci, cr = scenario.confs()
    start = time.monotonic()
    with CharonPair(ci, cr) as pair:
        if scenario.drop_message3:
            assert msg3_length is not None
            pair.drop_quick_mode_message3(msg3_length)
        proc = pair.initiate("net", timeout=15)
        # one protected packet each way (an ICMP echo and its reply) once I has its SAs
        ping = pair.ping(1) if proc.returncode == 0 else None
        dropped = 0
        if scenario.drop_message3:
            deadline = time.monotonic() + wait_give_up
            while time.monotonic() < deadline and "giving up after" not in _read(pair.r.log):
                time.sleep(0.25)
            m = re.search(r"counter packets (\d+)", pair.nft_counter())
            dropped = int(m.group(1)) if m else 0
        else:
            time.sleep(0.3)
        log_i, log_r = _read(pair.i.log), _read(pair.r.log)
    return Run(scenario, ci, cr, log_i, log_r, proc.returncode, time.monotonic() - start,
               dropped, ping)


def _read(path: Path) -> str:
    return path.read_text() if path.exists() else ""
