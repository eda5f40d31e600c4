"""A probe agent that runs inside one network namespace (``ip netns exec NS python3 ...``).

Standard library only. It reads one JSON command per line on stdin and answers one JSON line:

- ``{"op": "listen"}``: open raw sockets for TCP, UDP and ICMP (IPv4) and TCP, UDP and ICMPv6
  (IPv6). A raw socket receives a copy of an inbound packet only after the kernel's XFRM
  ``dir in`` policy check allowed it (raw_rcv / rawv6_rcv call xfrm*_policy_check), so what the
  listeners see is exactly what the host's inbound policies deliver.
- ``{"op": "send", "probes": [...]}``: send each probe from its source address and port with an
  ordinary socket (UDP datagram, TCP SYN by a non-blocking connect, ICMP echo reply by a raw
  socket; an echo *reply* so that no host answers it). The kernel's ``dir out`` lookup runs on
  the way out; a block policy makes the send fail with EPERM. Answers the errno of each probe.
- ``{"op": "collect", "idle": S, "limit": S}``: drain the listeners until nothing arrived for
  ``idle`` seconds (at most ``limit`` seconds), answer the probes seen (SYNs, datagrams and echo
  replies that carry a probe marker).
- ``{"op": "quit"}``.
"""

from __future__ import annotations

import errno
import json
import select
import socket
import struct
import sys
import time

MARK = b"qmc"
ICMP_ECHO_REPLY = {4: 0, 6: 129}
PROTO_ICMP = {4: socket.IPPROTO_ICMP, 6: socket.IPPROTO_ICMPV6}


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


class Agent:
    def __init__(self) -> None:
        self.listeners: list[tuple[int, int, socket.socket]] = []
        self.pending: list[socket.socket] = []

    def listen(self) -> dict:
        for family, af in ((4, socket.AF_INET), (6, socket.AF_INET6)):
            for proto in (socket.IPPROTO_TCP, socket.IPPROTO_UDP, PROTO_ICMP[family]):
                s = socket.socket(af, socket.SOCK_RAW, proto)
                s.setblocking(False)
                if family == 6:
                    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
                self.listeners.append((family, proto, s))
        return {"ok": True}

    def send(self, probes: list[dict]) -> dict:
        self.close_pending()
        results = []
        for p in probes:
            results.append({"id": p["id"], "errno": self._send_one(p)})
        # connect() has sent the SYN already; closing now stops retransmissions that could
        # reach a later batch.
        self.close_pending()
        return {"ok": True, "results": results}

    def _send_one(self, p: dict) -> int:
        family, proto = p["family"], p["proto"]
        af = socket.AF_INET if family == 4 else socket.AF_INET6
        payload = MARK + str(p["id"]).encode()
        try:
            if proto == socket.IPPROTO_UDP:
                with socket.socket(af, socket.SOCK_DGRAM) as s:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s.bind((p["src"], p["sport"]))
                    s.sendto(payload, (p["dst"], p["dport"]))
                return 0
            if proto == socket.IPPROTO_TCP:
                s = socket.socket(af, socket.SOCK_STREAM)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.setblocking(False)
                s.bind((p["src"], p["sport"]))
                code = s.connect_ex((p["dst"], p["dport"]))
                self.pending.append(s)
                return 0 if code == errno.EINPROGRESS else code
            # ICMP / ICMPv6 echo reply carrying the probe id; the kernel fills the ICMPv6
            # checksum itself.
            with socket.socket(af, socket.SOCK_RAW, PROTO_ICMP[family]) as s:
                s.bind((p["src"], 0))
                header = struct.pack("!BBHHH", ICMP_ECHO_REPLY[family], 0, 0, p["id"] & 0xFFFF, 1)
                packet = header + payload
                if family == 4:
                    c = _checksum(packet)
                    packet = packet[:2] + struct.pack("!H", c) + packet[4:]
                s.sendto(packet, (p["dst"], 0))
            return 0
        except OSError as e:
            return e.errno or -1

    def collect(self, idle: float, limit: float) -> dict:
        seen: list[list] = []
        deadline = time.monotonic() + limit
        socks = {s.fileno(): (family, proto, s) for family, proto, s in self.listeners}
        last = time.monotonic()
        while True:
            now = time.monotonic()
            if now >= deadline or now - last >= idle:
                break
            ready, _, _ = select.select(list(socks), [], [], min(idle, deadline - now))
            for fd in ready:
                family, proto, s = socks[fd]
                while True:
                    try:
                        data, anc, _flags, addr = s.recvmsg(65535, 256)
                    except BlockingIOError:
                        break
                    last = time.monotonic()
                    item = self._parse(family, proto, data, anc, addr)
                    if item is not None:
                        seen.append(item)
        self.close_pending()
        return {"ok": True, "seen": seen}

    def close_pending(self) -> None:
        """Close the TCP sockets of earlier sends (a SYN_SENT socket closes silently)."""
        for s in self.pending:
            s.close()
        self.pending = []

    @staticmethod
    def _parse(family: int, proto: int, data: bytes, anc: list, addr: tuple) -> list | None:
        if family == 4:
            ihl = (data[0] & 0x0F) * 4
            src = socket.inet_ntop(socket.AF_INET, data[12:16])
            dst = socket.inet_ntop(socket.AF_INET, data[16:20])
            body = data[ihl:]
        else:
            src = addr[0].split("%")[0]
            dst = ""
            for level, kind, value in anc:
                if level == socket.IPPROTO_IPV6 and kind == socket.IPV6_PKTINFO:
                    dst = socket.inet_ntop(socket.AF_INET6, value[:16])
            body = data
        if proto == socket.IPPROTO_TCP:
            if len(body) < 14:
                return None
            sport, dport = struct.unpack("!HH", body[:4])
            flags = body[13]
            if not flags & 0x02 or flags & 0x10:  # a SYN, not a SYN-ACK
                return None
            return [family, src, dst, proto, sport, dport, None]
        if proto == socket.IPPROTO_UDP:
            sport, dport = struct.unpack("!HH", body[:4])
            payload = body[8:]
            if not payload.startswith(MARK):
                return None
            return [family, src, dst, proto, sport, dport, int(payload[len(MARK):])]
        if len(body) < 8 or body[0] != ICMP_ECHO_REPLY[family] or not body[8:].startswith(MARK):
            return None
        return [family, src, dst, proto, 0, 0, int(body[8 + len(MARK):])]


def main() -> None:
    agent = Agent()
    for line in sys.stdin:
        cmd = json.loads(line)
        op = cmd.get("op")
        if op == "listen":
            answer = agent.listen()
        elif op == "send":
            answer = agent.send(cmd["probes"])
        elif op == "collect":
            answer = agent.collect(float(cmd.get("idle", 0.03)), float(cmd.get("limit", 2.0)))
        elif op == "quit":
            print(json.dumps({"ok": True}), flush=True)
            return
        else:
            answer = {"ok": False, "error": f"unknown op {op!r}"}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
