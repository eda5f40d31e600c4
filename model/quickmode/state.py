"""State variables of the Quick Mode model and their readable form.

A state is a tuple of negotiation components; a component is a fixed tuple of small integers,
named by ``Layout.names``: each side's phase, its SA database entries, retransmission counters,
the two channel directions as slots, data-packet flags and ghost (history) variables that the
properties read. Every variable has a finite domain (``Layout.domains``), which a symbolic
back-end uses to bound its integer variables.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qmcheck.model.quickmode.options import QMOptions

# Initiator phases.
I_IDLE, I_WAIT2, I_SENT3, I_WAIT4, I_DONE, I_DEAD = range(6)
I_PHASES = ("idle", "wait-msg2", "msg3-sent-installing", "wait-connected", "done", "gave-up")
# Responder phases.
R_IDLE, R_WAIT3, R_DONE, R_DEAD = range(4)
R_PHASES = ("idle", "wait-msg3", "done", "gave-up")
# SA database entry states.
ABSENT, LARVAL, INSTALLED, DELETED = range(4)
SA_STATES = ("absent", "larval", "installed", "deleted")
# Channel contents: I -> R slots hold M1, M3, DATA; R -> I slots hold M2, M4, DATA.
EMPTY = 0
M1 = M2 = 1
M3 = M4 = 2
DATA = 3
IR_MESSAGES = ("-", "msg1", "msg3", "data")
RI_MESSAGES = ("-", "msg2", "msg4 CONNECTED", "data")

#: The scalar variables of one component, in tuple order, with their meaning.
SCALARS: tuple[tuple[str, str], ...] = (
    ("role", "0: host A initiates this negotiation, 1: host B does (simultaneous initiation)"),
    ("ip", "initiator phase"),
    ("rp", "responder phase"),
    ("iin", "initiator's inbound SA (its own SPI, sent in msg1)"),
    ("iout", "initiator's outbound SA (the responder's inbound)"),
    ("ispi", "1 when the initiator's outbound entry holds the responder's SPI"),
    ("rin", "responder's inbound SA (its own SPI, sent in msg2)"),
    ("rout", "responder's outbound SA (the initiator's inbound)"),
    ("ic", "initiator's retransmission counter"),
    ("rc", "responder's retransmission counter"),
    ("di", "1 once the initiator has sent its protected data packet"),
    ("dr", "1 once the responder has sent its protected data packet"),
    ("dups", "copies the network has made so far"),
    ("g2", "ghost: the initiator has received message 2"),
    ("g3", "ghost: the responder has received message 3"),
    ("bh", "ghost: a data packet reached a host without an installed inbound SA"),
)


@dataclass(frozen=True)
class Layout:
    """Variable names and positions of one negotiation component for given options."""

    slots: int
    retransmits: int
    max_duplicates: int

    @staticmethod
    def for_options(options: QMOptions) -> Layout:
        return Layout(options.slots, options.retransmits, options.max_duplicates)

    @property
    def names(self) -> tuple[str, ...]:
        scalars = tuple(n for n, _ in SCALARS)
        return (scalars + tuple(f"a{j}" for j in range(self.slots))
                + tuple(f"b{j}" for j in range(self.slots)))

    @property
    def index(self) -> dict[str, int]:
        return {n: i for i, n in enumerate(self.names)}

    @property
    def domains(self) -> dict[str, int]:
        """Number of values of each variable (values are 0 .. n-1)."""
        sizes = {"role": 2, "ip": len(I_PHASES), "rp": len(R_PHASES), "iin": 4, "iout": 4,
                 "ispi": 2, "rin": 4, "rout": 4, "ic": self.retransmits + 1,
                 "rc": self.retransmits + 1, "di": 2, "dr": 2,
                 "dups": self.max_duplicates + 1, "g2": 2, "g3": 2, "bh": 2}
        for j in range(self.slots):
            sizes[f"a{j}"] = 4
            sizes[f"b{j}"] = 4
        return sizes

    def initial(self, role: int) -> tuple[int, ...]:
        """The component before anything happened."""
        values = dict.fromkeys(self.names, 0)
        values["role"] = role
        return tuple(values[n] for n in self.names)

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
        b = sorted(x for x in local[n + k:] if x)
        return local[:n] + tuple(a) + (0,) * (k - len(a)) + tuple(b) + (0,) * (k - len(b))

    def describe(self, local: tuple[int, ...]) -> dict[str, Any]:
        """A readable dictionary of one component (used by traces)."""
        v = dict(zip(self.names, local, strict=True))
        hosts = ("A", "B") if v["role"] == 0 else ("B", "A")
        return {
            "initiator": hosts[0],
            "responder": hosts[1],
            "I.phase": I_PHASES[v["ip"]],
            "I.inbound": SA_STATES[v["iin"]],
            "I.outbound": SA_STATES[v["iout"]] + ("" if v["ispi"] else " (no SPI)"),
            "I.retransmits": v["ic"],
            "R.phase": R_PHASES[v["rp"]],
            "R.inbound": SA_STATES[v["rin"]],
            "R.outbound": SA_STATES[v["rout"]],
            "R.retransmits": v["rc"],
            "I->R": [IR_MESSAGES[x] for x in self.ir(local) if x],
            "R->I": [RI_MESSAGES[x] for x in self.ri(local) if x],
            "data sent": {"I": v["di"], "R": v["dr"]},
            "black hole": v["bh"],
        }
