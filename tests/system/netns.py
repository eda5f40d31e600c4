"""Network-namespace harness for the system tests: two namespaces joined by a veth pair.

Everything it creates carries the prefix ``qmc-<pid>-`` and is removed by ``close()`` (also on
failure: use it as a context manager; an ``atexit`` hook is the last resort). Only private test
addresses are used, and only inside these namespaces.
"""

from __future__ import annotations

import atexit
import itertools
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

AGENT = Path(__file__).with_name("probe_agent.py")
_COUNTER = itertools.count()
_LIVE: set[str] = set()

#: Addresses of host A and host B (all on the veth; the first of each family is the main one).
A4 = ("10.1.0.1", "10.1.0.2", "10.1.1.1")
B4 = ("10.2.0.1", "10.2.0.2", "10.2.1.1")
A6 = ("fd00:1::1", "fd00:1::2", "fd00:1:0:1::1")
B6 = ("fd00:2::1", "fd00:2::2", "fd00:2:0:1::1")


def skip_reason(*, need: Sequence[str] = ()) -> str | None:
    """Why the system tests cannot run here (not root, no ``ip``, no namespaces, a missing
    program of ``need``), or None when they can."""
    if sys.platform != "linux":
        return "system tests need Linux"
    if os.geteuid() != 0:
        return "system tests need root (network namespaces, ip xfrm)"
    for program in ("ip", *need):
        if shutil.which(program) is None and not Path(program).exists():
            return f"system tests need '{program}' (scripts/install-system-deps.sh)"
    name = f"qmc-{os.getpid()}-probe"
    probe = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"cannot create a network namespace: {probe.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", name], capture_output=True)
    return None


def run(args: Sequence[str], *, stdin: str | None = None, check: bool = True,
        timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run a command; raise with its stderr when it fails and ``check`` is set."""
    proc = subprocess.run(list(args), input=stdin, capture_output=True, text=True,
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}): "
                           f"{proc.stderr.strip() or proc.stdout.strip()}")
    return proc


def new_namespace(tag: str) -> str:
    """Create a namespace named ``qmc-<pid>-<n>-<tag>`` with ``lo`` up."""
    name = f"qmc-{os.getpid()}-{next(_COUNTER)}-{tag}"
    run(["ip", "netns", "add", name])
    _LIVE.add(name)
    run(["ip", "-n", name, "link", "set", "lo", "up"])
    return name


def delete_namespace(name: str) -> None:
    subprocess.run(["ip", "netns", "del", name], capture_output=True)
    _LIVE.discard(name)


@atexit.register
def _cleanup_all() -> None:  # pragma: no cover - last resort
    for name in list(_LIVE):
        delete_namespace(name)


class Agent:
    """A probe agent process inside a namespace (tests/system/probe_agent.py)."""

    def __init__(self, namespace: str) -> None:
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", namespace, sys.executable, str(AGENT)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)

    def call(self, **command: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"probe agent died (exit {self.proc.poll()})")
        answer: dict[str, Any] = json.loads(line)
        if not answer.get("ok"):
            raise RuntimeError(f"probe agent: {answer}")
        return answer

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.call(op="quit")
                self.proc.wait(timeout=5)
            except (RuntimeError, OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(timeout=5)


class HostPair:
    """Namespaces A and B joined by veth ``qa``/``qb``, with the addresses A4/A6 and B4/B6,
    static neighbour entries (so that no ARP or neighbour discovery is needed, which XFRM
    policies would otherwise also filter) and a probe agent on each side."""

    def __init__(self) -> None:
        self.a = self.b = ""
        self.agents: list[Agent] = []
        try:
            self._setup()
        except BaseException:
            self.close()
            raise

    def _setup(self) -> None:
        self.a = new_namespace("a")
        self.b = new_namespace("b")
        run(["ip", "link", "add", "qa", "netns", self.a, "type", "veth", "peer", "name", "qb",
             "netns", self.b])
        macs = {}
        for ns, dev, v4, v6 in ((self.a, "qa", A4, A6), (self.b, "qb", B4, B6)):
            lines = [f"link set {dev} up"]
            lines += [f"addr add {a}/32 dev {dev}" for a in v4]
            lines += [f"addr add {a}/128 dev {dev} nodad" for a in v6]
            run(["ip", "-n", ns, "-batch", "-"], stdin="\n".join(lines) + "\n")
            link = json.loads(run(["ip", "-j", "-n", ns, "link", "show", dev]).stdout)
            macs[ns] = link[0]["address"]
        for ns, dev, peer, v4, v6, net4, net6 in (
                (self.a, "qa", self.b, B4, B6, "10.2.0.0/16", "fd00:2::/32"),
                (self.b, "qb", self.a, A4, A6, "10.1.0.0/16", "fd00:1::/32")):
            lines = [f"route add {net4} dev {dev}", f"route add {net6} dev {dev}"]
            lines += [f"neigh replace {a} lladdr {macs[peer]} dev {dev} nud permanent"
                      for a in (*v4, *v6)]
            run(["ip", "-n", ns, "-batch", "-"], stdin="\n".join(lines) + "\n")
        self.agents = [Agent(self.a), Agent(self.b)]
        for agent in self.agents:
            agent.call(op="listen")

    @property
    def agent_a(self) -> Agent:
        return self.agents[0]

    @property
    def agent_b(self) -> Agent:
        return self.agents[1]

    def load_policies(self, lines: Sequence[str]) -> None:
        """Flush A's XFRM policies and add ``lines`` (``ip xfrm`` commands) in one batch."""
        batch = ["xfrm policy flush", *lines]
        run(["ip", "-n", self.a, "-batch", "-"], stdin="\n".join(batch) + "\n")

    def close(self) -> None:
        for agent in self.agents:
            agent.close()
        self.agents = []
        for ns in (self.a, self.b):
            if ns:
                delete_namespace(ns)

    def __enter__(self) -> HostPair:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
