"""State variables of the Quick Mode model (daemons, kernels, channels) and their readable form.

A state is a tuple: one component per negotiation, then the kernel part shared by all of them
(``Layout.shared_names``: the next SPI of each host's allocator). A negotiation component is a
tuple of small integers named by ``Layout.names``: each daemon's phase and position in the
operation list it is running, its retransmission counter, the kernel SAD entries of this
negotiation (state and SPI of each side's inbound and outbound SA), the peer SPI each daemon
learnt, the IKE channel slots of both directions, the ESP packets in flight (their own path)
and ghost (history) variables that properties read. Every variable has a finite domain.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

# Initiator phases: waiting or finished phases, and the phases of running an operation list.
(I_IDLE, I_START, I_WAIT2, I_M2, I_WAIT4, I_M4, I_DONE, I_GIVEUP, I_DEAD) = range(9)
I_PHASES = ("idle", "running start", "wait-msg2", "running m2", "wait-connected",
            "running m4", "done", "giving up", "gave-up")
I_RUNNING = (I_START, I_M2, I_M4, I_GIVEUP)
# Responder phases.
(R_IDLE, R_M1, R_WAIT3, R_M3, R_DONE, R_GIVEUP, R_DEAD, R_REFUSED) = range(8)
R_PHASES = ("idle", "running m1", "wait-msg3", "running m3", "done", "giving up", "gave-up",
            "refused")
R_RUNNING = (R_M1, R_M3, R_GIVEUP)
# SA database entry states.
ABSENT, LARVAL, INSTALLED, DELETED = range(4)
SA_STATES = ("absent", "larval", "installed", "deleted")
# IKE channel contents: I -> R slots hold M1, M3; R -> I slots hold M2, M4, NOTIFY.
EMPTY = 0
M1 = M2 = 1
M3 = M4 = 2
NOTIFY = 3
IR_MESSAGES = ("-", "msg1", "msg3", "-")
RI_MESSAGES = ("-", "msg2", "msg4 CONNECTED", "notify")

#: The scalar variables of one component, in tuple order, with their meaning.
SCALARS: tuple[tuple[str, str], ...] = (
    ("role", "0: host A initiates this negotiation, 1: host B does (simultaneous initiation)"),
    ("ip", "initiator daemon phase"),
    ("ipc", "position in the operation list the initiator is running"),
    ("ic", "initiator's retransmission counter"),
    ("rp", "responder daemon phase"),
    ("rpc", "position in the operation list the responder is running"),
    ("rc", "responder's retransmission counter"),
    ("iin", "initiator's inbound SA entry (kernel of the initiator)"),
    ("iout", "initiator's outbound SA entry"),
    ("rin", "responder's inbound SA entry (kernel of the responder)"),
    ("rout", "responder's outbound SA entry"),
    ("iis", "SPI of the initiator's inbound entry (0: none allocated)"),
    ("ios", "SPI held by the initiator's outbound entry (0: none)"),
    ("ris", "SPI of the responder's inbound entry"),
    ("ros", "SPI held by the responder's outbound entry"),
    ("iks", "the responder's SPI as the initiator daemon knows it (from message 2)"),
    ("rks", "the initiator's SPI as the responder daemon knows it (from message 1)"),
    ("m1s", "SPI carried by message 1 (set when it is sent)"),
    ("m2s", "SPI carried by message 2"),
    ("ei", "ESP packet in flight I -> R: 0 none, else 1 + its SPI"),
    ("er", "ESP packet in flight R -> I: 0 none, else 1 + its SPI"),
    ("di", "ESP packets the initiator's kernel has sent"),
    ("dr", "ESP packets the responder's kernel has sent"),
    ("dups", "copies the network has made so far"),
    ("lost", "messages the network has lost (counted when losses are bounded)"),
    ("g2", "ghost: the initiator has received message 2"),
    ("g3", "ghost: the responder has received message 3"),
    ("bh", "ghost: an ESP packet reached a kernel without an installed inbound SA of its SPI"),
)
#: The SA lifecycle's variables (docs/SPEC.md 3 "After Quick Mode"), present only when the
#: lifecycle is on (``--rekeys N`` or a mechanism): they follow the channel slots.
LIFE: tuple[tuple[str, str], ...] = (
    ("rk", "rekeys started for this pair so far (at most --rekeys)"),
    ("oi", "the initiator host's previous (old) pair: 0 none, 1 installed, 2 removed"),
    ("oii", "SPI of that old pair's inbound SA"),
    ("oio", "SPI of that old pair's outbound SA"),
    ("or", "the responder host's old pair: 0 none, 1 installed, 2 removed"),
    ("ori", "SPI of the responder's old inbound SA"),
    ("oro", "SPI of the responder's old outbound SA"),
    ("ooi", "the initiator's old pair is an orphan (its peer lacks it or lost it)"),
    ("oor", "the responder's old pair is an orphan"),
    ("rs", "restart fault: 0 none, 1 I restarted, 2 R restarted, 3 I restarted and "
           "negotiated again"),
    ("dp", "the survivor of the restart has run dead peer detection and cleared"),
    ("dni", "delete notification I -> R: 0 none, 1 in flight, 2 received or lost"),
    ("dnr", "delete notification R -> I: 0 none, 1 in flight, 2 received or lost"),
    ("icm", "INITIAL-CONTACT I -> R: 0 none, 1 in flight, 2 received or lost"),
    ("rg", "ghost: the pair being rekeyed was installed on both sides"),
    ("rbh", "ghost: an ESP packet was dropped while a pair installed on both sides was "
            "rekeyed"),
    ("ox", "ghost: an orphan pair lasted until its hard expiry"),
)
#: A rekey collision (model/quickmode/collision.py, ``--collide``): the pair's responder starts
#: its own rekey of the same pair, a second exchange "y" in which it is the initiator. Its
#: variables are those of ``EXCHANGE`` prefixed with ``y`` (``yiin`` is the y-initiator's
#: inbound SA, on the pair's responder host), its IKE slots ``ya*`` (R's host -> I's host) and
#: ``yb*``, and these.
EXCHANGE: tuple[str, ...] = ("ip", "ipc", "ic", "rp", "rpc", "rc", "iin", "iout", "rin", "rout",
                             "iis", "ios", "ris", "ros", "iks", "rks", "m1s", "m2s", "g2", "g3")
COLLIDE: tuple[tuple[str, str], ...] = (
    ("yk", "the pair's responder has started its own rekey of the pair (a collision)"),
    ("nwi", "the initiator host's newest outbound SA: 0 the pair's rekey, 1 the colliding one"),
    ("nwr", "the responder host's newest outbound SA: 0 the pair's rekey, 1 the colliding one"),
    ("ydf", "the initiator host's outbound SA of the colliding rekey: 0 not deferred, 1 "
            "deferred (collision: defer-out), 2 installed late"),
)
OLD_STATES = ("none", "installed", "removed")
RESTARTS = ("none", "I restarted", "R restarted", "I restarted, negotiated again")
#: The kernel part shared by all negotiations: one SPI allocator per host.
SHARED: tuple[tuple[str, str], ...] = (
    ("kA", "host A's SPI allocator: the next SPI it hands out"),
    ("kB", "host B's SPI allocator"),
)


@dataclass(frozen=True)
class Layout:
    """Variable names, positions and domains for given bounds."""

    slots: int
    retransmits: int
    max_duplicates: int
    components: int
    max_losses: int
    esp: int
    ops: int = 4
    rekeys: int = 0
    lifecycle: bool = False
    allocations: int = 1
    collide: bool = False

    @cached_property
    def names(self) -> tuple[str, ...]:
        scalars = tuple(n for n, _ in SCALARS)
        life = tuple(n for n, _ in LIFE) if self.lifecycle else ()
        if self.collide:
            life += (tuple(f"y{n}" for n in EXCHANGE) + tuple(f"ya{j}" for j in range(self.slots))
                     + tuple(f"yb{j}" for j in range(self.slots)) + tuple(n for n, _ in COLLIDE))
        return (scalars + tuple(f"a{j}" for j in range(self.slots))
                + tuple(f"b{j}" for j in range(self.slots)) + life)

    @cached_property
    def shared_names(self) -> tuple[str, ...]:
        return tuple(n for n, _ in SHARED)

    @cached_property
    def index(self) -> dict[str, int]:
        return {n: i for i, n in enumerate(self.names)}

    @cached_property
    def domains(self) -> dict[str, int]:
        """Number of values of each variable (values are 0 .. n-1), shared ones included."""
        # each host allocates at most ``allocations`` times per negotiation (once without the
        # lifecycle; once more per rekey and per restart with it)
        spi = self.components * self.allocations + 1
        sizes = {"role": 2, "ip": len(I_PHASES), "ipc": self.ops, "ic": self.retransmits + 1,
                 "rp": len(R_PHASES), "rpc": self.ops, "rc": self.retransmits + 1,
                 "iin": 4, "iout": 4, "rin": 4, "rout": 4,
                 "iis": spi, "ios": spi, "ris": spi, "ros": spi, "iks": spi, "rks": spi,
                 "m1s": spi, "m2s": spi, "ei": spi + 1, "er": spi + 1,
                 "di": self.esp + 1, "dr": self.esp + 1,
                 "dups": self.max_duplicates + 1, "lost": self.max_losses + 1,
                 "g2": 2, "g3": 2, "bh": 2, "kA": spi + 1, "kB": spi + 1}
        for j in range(self.slots):
            sizes[f"a{j}"] = 4
            sizes[f"b{j}"] = 4
        if self.lifecycle:
            sizes.update({"rk": self.rekeys + 1, "oi": 3, "oii": spi, "oio": spi, "or": 3,
                          "ori": spi, "oro": spi, "ooi": 2, "oor": 2, "rs": 4, "dp": 2, "dni": 3,
                          "dnr": 3, "icm": 3, "rg": 2, "rbh": 2, "ox": 2})
        if self.collide:
            sizes.update({f"y{n}": sizes[n] for n in EXCHANGE})
            for j in range(self.slots):
                sizes[f"ya{j}"] = 4
                sizes[f"yb{j}"] = 4
            sizes.update({"yk": 2, "nwi": 2, "nwr": 2, "ydf": 3})
        return sizes

    def initial(self, role: int) -> tuple[int, ...]:
        """The component before anything happened."""
        values = dict.fromkeys(self.names, 0)
        values["role"] = role
        return tuple(values[n] for n in self.names)

    def initial_shared(self) -> tuple[int, ...]:
        """Both allocators start at SPI 1 (0 means "no SPI")."""
        return (1, 1)

    def ir(self, local: tuple[int, ...]) -> tuple[int, ...]:
        start = len(SCALARS)
        return local[start:start + self.slots]

    def ri(self, local: tuple[int, ...]) -> tuple[int, ...]:
        start = len(SCALARS) + self.slots
        return local[start:start + self.slots]

    def canonical(self, local: tuple[int, ...], reorder: bool) -> tuple[int, ...]:
        """With reordering the channels are multisets: sort the occupied slots."""
        if not reorder:
            return local
        n = len(SCALARS)
        k = self.slots
        a = sorted(x for x in local[n:n + k] if x)
        b = sorted(x for x in local[n + k:n + 2 * k] if x)
        return (local[:n] + tuple(a) + (0,) * (k - len(a)) + tuple(b) + (0,) * (k - len(b))
                + local[n + 2 * k:])

    def describe(self, local: tuple[int, ...]) -> dict[str, Any]:
        """A readable dictionary of one component (used by traces)."""
        v = dict(zip(self.names, local, strict=True))
        hosts = ("A", "B") if v["role"] == 0 else ("B", "A")

        def entry(state: str, spi: str) -> str:
            return SA_STATES[v[state]] + (f" spi {v[spi]}" if v[spi] else " (no SPI)")

        return {
            "initiator": hosts[0],
            "responder": hosts[1],
            "I.phase": I_PHASES[v["ip"]],
            "I.inbound": entry("iin", "iis"),
            "I.outbound": entry("iout", "ios"),
            "I.retransmits": v["ic"],
            "R.phase": R_PHASES[v["rp"]],
            "R.inbound": entry("rin", "ris"),
            "R.outbound": entry("rout", "ros"),
            "R.retransmits": v["rc"],
            "I->R": [IR_MESSAGES[x] for x in self.ir(local) if x]
            + [f"R-rekey {RI_MESSAGES[v[f'yb{j}']]}" for j in range(self.slots)
               if self.collide and v[f"yb{j}"]],
            "R->I": [RI_MESSAGES[x] for x in self.ri(local) if x]
            + [f"R-rekey {IR_MESSAGES[v[f'ya{j}']]}" for j in range(self.slots)
               if self.collide and v[f"ya{j}"]],
            "ESP I->R": f"spi {v['ei'] - 1}" if v["ei"] else "-",
            "ESP R->I": f"spi {v['er'] - 1}" if v["er"] else "-",
            "ESP sent": {"I": v["di"], "R": v["dr"]},
            "black hole": v["bh"],
            **(self._describe_life(v) if self.lifecycle else {}),
            **(self._describe_collision(v) if self.collide else {}),
        }

    def _describe_collision(self, v: dict[str, int]) -> dict[str, Any]:
        """The colliding rekey (y exchange, started by the pair's responder): its messages are
        listed in the host directions of the pair (``R->I``: the y-initiator's)."""
        def entry(state: str, spi: str) -> str:
            return SA_STATES[v[state]] + (f" spi {v[spi]}" if v[spi] else " (no SPI)")

        return {
            "R-rekey": "started" if v["yk"] else "-",
            "R-rekey.R.phase": I_PHASES[v["yip"]],
            "R-rekey.I.phase": R_PHASES[v["yrp"]],
            "R-rekey.R.inbound": entry("yiin", "yiis"),
            "R-rekey.R.outbound": entry("yiout", "yios"),
            "R-rekey.I.inbound": entry("yrin", "yris"),
            "R-rekey.I.outbound": entry("yrout", "yros")
            + (", deferred" if v["ydf"] == 1 else ""),
            "newest outbound": {"I": ("pair", "R-rekey")[v["nwi"]],
                                "R": ("pair", "R-rekey")[v["nwr"]]},
        }

    @staticmethod
    def _describe_life(v: dict[str, int]) -> dict[str, Any]:
        """The lifecycle part of ``describe``."""
        def old(state: str, i: str, o: str, orphan: str) -> str:
            text = OLD_STATES[v[state]]
            if v[state]:
                text += f" (in spi {v[i]}, out spi {v[o]})"
            return text + (", orphan" if v[state] == 1 and v[orphan] else "")

        msgs = ("-", "in flight", "done")
        return {
            "rekeys": v["rk"],
            "I.old pair": old("oi", "oii", "oio", "ooi"),
            "R.old pair": old("or", "ori", "oro", "oor"),
            "restart": RESTARTS[v["rs"]] + (", peer cleared by DPD" if v["dp"] else ""),
            "delete I->R": msgs[v["dni"]],
            "delete R->I": msgs[v["dnr"]],
            "INITIAL-CONTACT": msgs[v["icm"]],
            "rekey black hole": v["rbh"],
            "orphan expired": v["ox"],
        }
