"""Two strongSwan charons (IKEv1, PSK) in two network namespaces, for the system tests.

Each charon runs in its own namespace and its own mount namespace (``unshare -m`` with a
private tmpfs on /run, because charon writes a fixed /var/run/charon.pid), with its own
strongswan.conf (STRONGSWAN_CONF), vici socket and file log (ike, knl, chd at level 2). ESP is
done in user space by the kernel-libipsec plugin (the kernel here has no ESP); its traffic
selectors are inner /32 addresses on ``lo``, not the IKE addresses. Everything started is
stopped by ``close()`` (context manager), also on failure.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.system.netns import delete_namespace, new_namespace, run

CHARON = "/usr/lib/ipsec/charon"
SWANCTL = "swanctl"
IKE = {"i": "10.99.0.1", "r": "10.99.0.2"}
INNER = {"i": "10.10.1.1", "r": "10.10.2.1"}
PSK = "qmcheck-test-psk-0123456789"
PLUGINS = ("random nonce aes sha1 sha2 md5 hmac gmp pem pkcs1 pubkey x509 kdf "
           "kernel-libipsec kernel-netlink socket-default vici")
#: Without kernel-libipsec, charon installs its policies into the kernel's XFRM database.
PLUGINS_KERNEL_POLICIES = PLUGINS.replace("kernel-libipsec ", "")

STRONGSWAN_CONF = """\
charon {{
  load = {plugins}
  load_modular = no
  install_routes = yes
  retransmit_timeout = {timeout}
  retransmit_base = 1.4
  retransmit_tries = {tries}
  half_open_timeout = 5
  plugins {{
    vici {{
      socket = unix://{dir}/charon.vici
    }}
  }}
  filelog {{
    trace {{
      path = {dir}/charon.log
      time_format = %s
      append = no
      flush_line = yes
      default = 1
      ike = 2
      knl = 2
      esp = 2
      chd = 2
      lib = 2
      net = 1
      job = 1
      cfg = 2
    }}
  }}
}}
swanctl {{
  socket = unix://{dir}/charon.vici
}}
"""


def charon_skip_reason() -> str | None:
    for program in (CHARON,):
        if not Path(program).exists():
            return f"strongSwan's charon is missing ({program}; scripts/install-system-deps.sh)"
    if shutil.which(SWANCTL) is None:
        return "swanctl is missing (scripts/install-system-deps.sh)"
    if shutil.which("unshare") is None:
        return "unshare is missing"
    return None


def swanctl_conf(name: str, *, local: str, remote: str, local_ts: str, remote_ts: str,
                 esp: str, mode: str = "tunnel", extra_children: str = "",
                 lifetimes: str = "rekey_time = 0") -> str:
    """An IKEv1 PSK connection ``peer`` with the child ``name`` (and ``extra_children``);
    ``lifetimes``: the child's swanctl lifetime settings (by default it is never rekeyed)."""
    return f"""\
connections {{
  peer {{
    version = 1
    local_addrs = {local}
    remote_addrs = {remote}
    proposals = aes128-sha256-modp2048
    rekey_time = 0
    local {{
      auth = psk
      id = {local}
    }}
    remote {{
      auth = psk
      id = {remote}
    }}
    children {{
      {name} {{
        local_ts = {local_ts}
        remote_ts = {remote_ts}
        esp_proposals = {esp}
        mode = {mode}
        {lifetimes}
        start_action = none
      }}
{extra_children}    }}
  }}
}}
secrets {{
  ike-peer {{
    id-1 = {local}
    id-2 = {remote}
    secret = "{PSK}"
  }}
}}
"""


@dataclass
class Side:
    """One charon: its namespace, directory, process."""

    role: str
    namespace: str
    directory: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.directory / "charon.log"

    @property
    def conf(self) -> Path:
        return self.directory / "swanctl.conf"

    @property
    def uri(self) -> str:
        return f"unix://{self.directory}/charon.vici"

    def swanctl(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, STRONGSWAN_CONF=str(self.directory / "strongswan.conf"))
        return subprocess.run([SWANCTL, *args, "--uri", self.uri], capture_output=True,
                              text=True, timeout=timeout, env=env)


class CharonPair:
    """Namespaces for the initiator (i) and the responder (r), a veth between them, inner
    addresses on ``lo``, and a charon in each, configured with the given swanctl.conf texts."""

    def __init__(self, conf_i: str, conf_r: str, *, tries: int = 2,
                 plugins: str = PLUGINS, r_timeout: float = 1.0) -> None:
        """``r_timeout``: the responder's retransmission timeout in seconds (the
        initiator's is 1 s)."""
        self.tmp = Path(tempfile.mkdtemp(prefix="qmc-swan-"))
        self.sides: dict[str, Side] = {}
        self.plugins = plugins
        self.timeouts = {"i": 1.0, "r": r_timeout}
        try:
            self._setup(conf_i, conf_r, tries)
        except BaseException:
            self.close()
            raise

    def _setup(self, conf_i: str, conf_r: str, tries: int) -> None:
        for role in ("i", "r"):
            directory = self.tmp / role
            directory.mkdir()
            self.sides[role] = Side(role, new_namespace(f"s{role}"), directory)
        i, r = self.sides["i"], self.sides["r"]
        run(["ip", "link", "add", "si", "netns", i.namespace, "type", "veth", "peer", "name",
             "sr", "netns", r.namespace])
        for side, dev in ((i, "si"), (r, "sr")):
            lines = [f"link set {dev} up", f"addr add {IKE[side.role]}/24 dev {dev}",
                     f"addr add {INNER[side.role]}/32 dev lo"]
            run(["ip", "-n", side.namespace, "-batch", "-"], stdin="\n".join(lines) + "\n")
        for side, conf in ((i, conf_i), (r, conf_r)):
            (side.directory / "strongswan.conf").write_text(STRONGSWAN_CONF.format(
                plugins=self.plugins, dir=side.directory, tries=tries,
                timeout=self.timeouts[side.role]))
            side.conf.write_text(conf)
            self._start(side)
        for side in (i, r):
            self._wait_vici(side)
            load = side.swanctl("--load-all", "--noprompt", "--file", str(side.conf))
            if load.returncode != 0:
                raise RuntimeError(f"swanctl --load-all ({side.role}): {load.stdout}"
                                   f"{load.stderr}")

    def _start(self, side: Side) -> None:
        env = dict(os.environ, STRONGSWAN_CONF=str(side.directory / "strongswan.conf"))
        script = f"mount -t tmpfs qmc-run /run && exec {CHARON}"
        side.process = subprocess.Popen(
            ["ip", "netns", "exec", side.namespace, "unshare", "-m", "sh", "-c", script],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)

    @staticmethod
    def _wait_vici(side: Side, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        socket_path = side.directory / "charon.vici"
        while time.monotonic() < deadline:
            if side.process is not None and side.process.poll() is not None:
                raise RuntimeError(f"charon ({side.role}) exited: {side.process.returncode}; "
                                   f"log: {side.log.read_text() if side.log.exists() else ''}")
            if socket_path.exists() and side.swanctl("--stats", timeout=5).returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"charon ({side.role}) did not open its vici socket")

    @property
    def i(self) -> Side:
        return self.sides["i"]

    @property
    def r(self) -> Side:
        return self.sides["r"]

    def drop_quick_mode_message3(self, udp_length: int) -> None:
        """An nftables rule in the responder's namespace that drops UDP 4500 datagrams of
        ``udp_length`` bytes (Quick Mode message 3 is the only IKE message of that size)."""
        self.drop_udp("r", "dport", udp_length)

    def drop_udp(self, role: str, port_field: str, udp_length: int, once: bool = False) -> None:
        """Drop UDP 4500 datagrams of ``udp_length`` bytes arriving in ``role``'s namespace
        (``once``: only the first, by an nftables quota)."""
        quota = f"quota until {udp_length + 40} bytes " if once else ""
        rules = ("table inet qmc {\n chain input {\n  type filter hook input priority 0;\n"
                 f"  udp {port_field} 4500 udp length {udp_length} {quota}counter drop\n"
                 " }\n}\n")
        run(["ip", "netns", "exec", self.sides[role].namespace, "nft", "-f", "-"], stdin=rules)

    def nft_dropped(self, role: str) -> int:
        """Packets dropped so far by the rule of ``drop_udp`` in ``role``'s namespace."""
        out = run(["ip", "netns", "exec", self.sides[role].namespace, "nft", "list",
                   "ruleset"]).stdout
        m = re.search(r"counter packets (\d+)", out)
        return int(m.group(1)) if m else 0

    def nft_counter(self) -> str:
        return run(["ip", "netns", "exec", self.r.namespace, "nft", "list", "ruleset"]).stdout

    def initiate(self, child: str, timeout: int = 20) -> subprocess.CompletedProcess[str]:
        return self.i.swanctl("--initiate", "--child", child, "--timeout", str(timeout),
                              timeout=timeout + 10)

    def ping(self, count: int = 1) -> bool:
        """Send ICMP echo from I's inner address to R's (Python raw socket, no ping binary)."""
        code = ("import socket,struct\n"
                "s=socket.socket(socket.AF_INET,socket.SOCK_RAW,socket.IPPROTO_ICMP)\n"
                f"s.bind(('{INNER['i']}',0))\n"
                "h=struct.pack('!BBHHH',8,0,0,7,1)+b'qmcheck!'\n"
                "c=sum(struct.unpack('!8H',h))\n"
                "c=(c&0xffff)+(c>>16);c=~(c+(c>>16))&0xffff\n"
                "h=h[:2]+struct.pack('!H',c)+h[4:]\n"
                "s.settimeout(1.0)\n"
                f"ok=False\nfor _ in range({count}):\n"
                f"  s.sendto(h,('{INNER['r']}',0))\n"
                "  try:\n    d=s.recv(2048);ok=ok or d[20]==0\n  except OSError: pass\n"
                "print(ok)\n")
        proc = run(["ip", "netns", "exec", self.i.namespace, sys.executable, "-c", code],
                   check=False, timeout=20)
        return proc.stdout.strip() == "True"

    def stop_charons(self) -> None:
        for side in self.sides.values():
            proc = side.process
            if proc is None or proc.poll() is not None:
                continue
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)

    def close(self) -> None:
        self.stop_charons()
        for side in self.sides.values():
            delete_namespace(side.namespace)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> CharonPair:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
