"""The named, guarded actions of one Quick Mode negotiation, written once as expressions.

Every action reads and writes the variables of one negotiation component (qm_state.Layout):
a guard and simultaneous updates. Channel operations are macros over the slot variables:
``take`` removes the message in slot j (later slots move up), ``put`` writes a message into the
first free slot (a full channel drops it). With reordering any slot may be received; without,
only slot 0 (the head of the FIFO). Loss removes any slot; duplication appends a copy.
"""

from __future__ import annotations

from dataclasses import dataclass

from qmcheck.model.quickmode.expressions import (
    TRUE,
    Expr,
    add,
    and_,
    const,
    eq,
    in_,
    ite,
    lt,
    ne,
    or_,
    var,
)
from qmcheck.model.quickmode.options import QMOptions
from qmcheck.model.quickmode.profiles import PROFILE_TABLE
from qmcheck.model.quickmode.state import (
    ABSENT,
    DATA,
    DELETED,
    I_DEAD,
    I_DONE,
    I_IDLE,
    I_SENT3,
    I_WAIT2,
    I_WAIT4,
    INSTALLED,
    IR_MESSAGES,
    M1,
    M2,
    M3,
    M4,
    R_DEAD,
    R_DONE,
    R_IDLE,
    R_WAIT3,
    RI_MESSAGES,
    Layout,
)


@dataclass(frozen=True)
class Action:
    """One named action of a negotiation.

    ``name`` is the action (``r_recv_m1``), ``slot`` the channel slot it reads (or None), ``actor``
    I, R or net, ``event`` one of send / recv / drop / lose / dup / retransmit / give-up / install,
    ``message`` the message it sends, receives, loses or copies, and ``updates`` the simultaneous
    assignments ``variable := expression``.
    """

    name: str
    slot: int | None
    actor: str
    event: str
    message: str
    guard: Expr
    updates: tuple[tuple[str, Expr], ...]
    text: str

    @property
    def id(self) -> str:
        return self.name if self.slot is None else f"{self.name}@{self.slot}"


class _Build:
    """Collects the updates of one action; channel macros compose over pending updates."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.new: dict[str, Expr] = {}

    def cur(self, name: str) -> Expr:
        return self.new.get(name, var(name))

    def set(self, name: str, value: Expr | int) -> None:
        self.new[name] = value if isinstance(value, Expr) else const(value)

    def take(self, chan: str, j: int) -> None:
        k = self.layout.slots
        olds = [self.cur(f"{chan}{i}") for i in range(k)]
        for i in range(j, k):
            self.new[f"{chan}{i}"] = olds[i + 1] if i + 1 < k else const(0)

    def put(self, chan: str, message: int | Expr) -> None:
        k = self.layout.slots
        olds = [self.cur(f"{chan}{i}") for i in range(k)]
        msg = message if isinstance(message, Expr) else const(message)
        for i in range(k):
            free_here = and_(*(ne(olds[p], 0) for p in range(i)), eq(olds[i], 0))
            self.new[f"{chan}{i}"] = ite(free_here, msg, olds[i])

    def updates(self) -> tuple[tuple[str, Expr], ...]:
        order = self.layout.names
        return tuple((n, self.new[n]) for n in order if n in self.new and self.new[n] != var(n))


def _delete(entry: str) -> Expr:
    """Give-up: every entry that exists becomes deleted."""
    return ite(eq(var(entry), ABSENT), ABSENT, DELETED)


def build_actions(options: QMOptions) -> tuple[Action, ...]:
    """All actions of one negotiation for these options, in a fixed order."""
    layout = Layout.for_options(options)
    prof = PROFILE_TABLE[options.profile]
    rmax = options.retransmits
    k = layout.slots
    recv_slots = range(k) if options.reorder else range(1)
    after_install = I_WAIT4 if options.commit_bit else I_DONE
    out: list[Action] = []
    # A timer fires only when nothing of this negotiation is in flight, unless eager.
    silent = TRUE if options.eager_timers else and_(
        *(eq(var(f"{c}{j}"), 0) for c in "ab" for j in range(k)))

    def add_action(name: str, slot: int | None, actor: str, event: str, message: str,
                   guard: Expr, b: _Build, text: str) -> None:
        out.append(Action(name, slot, actor, event, message, guard, b.updates(), text))

    # I starts: message 1 with its inbound SPI; larval entries (profile).
    b = _Build(layout)
    b.set("ip", I_WAIT2)
    b.set("iin", prof.i_msg1[0])
    b.set("iout", prof.i_msg1[1])
    b.put("a", M1)
    add_action("i_send_m1", None, "I", "send", "msg1", eq(var("ip"), I_IDLE), b,
               "I sends message 1 (its inbound SPI) and adds larval entries")
    # I retransmits message 1.
    b = _Build(layout)
    b.set("ic", add(var("ic"), 1))
    b.put("a", M1)
    add_action("i_retransmit_m1", None, "I", "retransmit", "msg1",
               and_(eq(var("ip"), I_WAIT2), lt(var("ic"), rmax), silent), b,
               "I's timer fires: it retransmits message 1")
    # I gives up (no msg2 / no CONNECTED after its retransmissions).
    b = _Build(layout)
    b.set("ip", I_DEAD)
    b.set("iin", _delete("iin"))
    b.set("iout", _delete("iout"))
    add_action("i_give_up", None, "I", "give-up", "",
               and_(in_(var("ip"), (I_WAIT2, I_WAIT4)), eq(var("ic"), rmax), silent), b,
               "I's retransmissions are exhausted: it deletes the negotiation and its entries")
    # R retransmits message 2 / gives up.
    b = _Build(layout)
    b.set("rc", add(var("rc"), 1))
    b.put("b", M2)
    add_action("r_retransmit_m2", None, "R", "retransmit", "msg2",
               and_(eq(var("rp"), R_WAIT3), lt(var("rc"), rmax), silent), b,
               "R's timer fires: it retransmits message 2")
    b = _Build(layout)
    b.set("rp", R_DEAD)
    b.set("rin", _delete("rin"))
    b.set("rout", _delete("rout"))
    add_action("r_give_up", None, "R", "give-up", "",
               and_(eq(var("rp"), R_WAIT3), eq(var("rc"), rmax), silent), b,
               "R's retransmissions are exhausted: it deletes the negotiation and its entries")
    if prof.i_install_after_msg3:
        b = _Build(layout)
        b.set("ip", after_install)
        b.set("iin", INSTALLED)
        b.set("iout", INSTALLED)
        add_action("i_install", None, "I", "install", "", eq(var("ip"), I_SENT3), b,
                   "I installs after sending message 3 (inbound updated, outbound added)")
    if options.commit_bit:
        b = _Build(layout)
        b.set("ic", add(var("ic"), 1))
        b.put("a", M3)
        add_action("i_retransmit_m3", None, "I", "retransmit", "msg3",
                   and_(eq(var("ip"), I_WAIT4), lt(var("ic"), rmax), silent), b,
                   "commit bit: I waits for CONNECTED and retransmits message 3")
    # Protected data, one packet per side and negotiation, once its outbound SA is usable.
    b = _Build(layout)
    b.set("di", 1)
    b.put("a", DATA)
    add_action("i_send_data", None, "I", "send", "data",
               and_(eq(var("di"), 0), eq(var("ip"), I_DONE), eq(var("iout"), INSTALLED)), b,
               "I sends a protected data packet on its outbound SA")
    b = _Build(layout)
    b.set("dr", 1)
    b.put("b", DATA)
    add_action("r_send_data", None, "R", "send", "data",
               and_(eq(var("dr"), 0), eq(var("rp"), R_DONE), eq(var("rout"), INSTALLED)), b,
               "R sends a protected data packet on its outbound SA")

    for j in recv_slots:
        a_j, b_j = var(f"a{j}"), var(f"b{j}")
        # R receives message 1.
        b = _Build(layout)
        b.take("a", j)
        b.set("rp", R_WAIT3)
        b.set("rin", prof.r_msg1[0])
        b.set("rout", prof.r_msg1[1])
        b.put("b", M2)
        add_action("r_recv_m1", j, "R", "recv", "msg1",
                   and_(eq(a_j, M1), eq(var("rp"), R_IDLE)), b,
                   "R receives message 1: finds the policy, reserves its SPI, sends message 2")
        b = _Build(layout)
        b.take("a", j)
        add_action("r_drop_m1", j, "R", "drop", "msg1",
                   and_(eq(a_j, M1), ne(var("rp"), R_IDLE)), b,
                   "R ignores a retransmitted message 1 (its timer drives message 2)")
        # I receives message 2.
        b = _Build(layout)
        b.take("b", j)
        b.set("g2", 1)
        b.set("ispi", 1)
        if prof.i_install_after_msg3:
            b.set("ip", I_SENT3)
        else:
            b.set("ip", after_install)
            b.set("iin", INSTALLED)
            b.set("iout", INSTALLED)
        if options.commit_bit:
            b.set("ic", 0)
        b.put("a", M3)
        add_action("i_recv_m2", j, "I", "recv", "msg2",
                   and_(eq(b_j, M2), eq(var("ip"), I_WAIT2)), b,
                   "I receives message 2: R's SPI into its outbound entry; sends message 3")
        b = _Build(layout)
        b.take("b", j)
        b.put("a", M3)
        add_action("i_recv_dup_m2", j, "I", "recv", "msg2",
                   and_(eq(b_j, M2), in_(var("ip"), (I_SENT3, I_WAIT4, I_DONE))), b,
                   "I receives a duplicate message 2 and resends message 3")
        b = _Build(layout)
        b.take("b", j)
        add_action("i_drop_m2", j, "I", "drop", "msg2",
                   and_(eq(b_j, M2), in_(var("ip"), (I_IDLE, I_DEAD))), b,
                   "I has no negotiation for message 2 and drops it")
        # R receives message 3.
        b = _Build(layout)
        b.take("a", j)
        b.set("g3", 1)
        b.set("rp", R_DONE)
        b.set("rin", PROFILE_TABLE[options.profile].r_msg3[0])
        b.set("rout", PROFILE_TABLE[options.profile].r_msg3[1])
        if options.commit_bit:
            b.put("b", M4)
        add_action("r_recv_m3", j, "R", "recv", "msg3",
                   and_(eq(a_j, M3), eq(var("rp"), R_WAIT3)), b,
                   "R receives message 3 and installs the SA pair"
                   + (" (commit bit: answers CONNECTED)" if options.commit_bit else ""))
        b = _Build(layout)
        b.take("a", j)
        if options.commit_bit:
            b.put("b", M4)
        add_action("r_recv_dup_m3", j, "R", "recv", "msg3",
                   and_(eq(a_j, M3), eq(var("rp"), R_DONE)), b,
                   "R receives a duplicate message 3"
                   + (" and resends CONNECTED" if options.commit_bit else " and ignores it"))
        b = _Build(layout)
        b.take("a", j)
        add_action("r_drop_m3", j, "R", "drop", "msg3",
                   and_(eq(a_j, M3), in_(var("rp"), (R_IDLE, R_DEAD))), b,
                   "R has no negotiation for message 3 and drops it")
        if options.commit_bit:
            b = _Build(layout)
            b.take("b", j)
            b.set("ip", I_DONE)
            add_action("i_recv_m4", j, "I", "recv", "msg4 CONNECTED",
                       and_(eq(b_j, M4), eq(var("ip"), I_WAIT4)), b,
                       "I receives CONNECTED and starts using its SAs")
            b = _Build(layout)
            b.take("b", j)
            add_action("i_drop_m4", j, "I", "drop", "msg4 CONNECTED",
                       and_(eq(b_j, M4), ne(var("ip"), I_WAIT4)), b,
                       "I drops a CONNECTED it no longer waits for")
        # Data packets arrive; without an installed inbound SA they fall into a black hole.
        b = _Build(layout)
        b.take("a", j)
        b.set("bh", or_(var("bh"), ne(var("rin"), INSTALLED)))
        add_action("r_recv_data", j, "R", "recv", "data", eq(a_j, DATA), b,
                   "a data packet reaches R (dropped unless R's inbound SA is installed)")
        b = _Build(layout)
        b.take("b", j)
        b.set("bh", or_(var("bh"), ne(var("iin"), INSTALLED)))
        add_action("i_recv_data", j, "I", "recv", "data", eq(b_j, DATA), b,
                   "a data packet reaches I (dropped unless I's inbound SA is installed)")

    for j in range(k):
        for chan in ("a", "b"):
            slot = var(f"{chan}{j}")
            direction = "I->R" if chan == "a" else "R->I"
            if options.loss:
                b = _Build(layout)
                b.take(chan, j)
                add_action(f"lose_{'ir' if chan == 'a' else 'ri'}", j, "net", "lose", direction,
                           ne(slot, 0), b, f"the network loses a message {direction}")
            if options.duplicate and options.max_duplicates > 0:
                b = _Build(layout)
                b.set("dups", add(var("dups"), 1))
                b.put(chan, slot)
                add_action(f"dup_{'ir' if chan == 'a' else 'ri'}", j, "net", "dup", direction,
                           and_(in_(slot, (1, 2)), lt(var("dups"), options.max_duplicates),
                                eq(var(f"{chan}{k - 1}"), 0)), b,
                           f"the network duplicates a message {direction}")
    return tuple(out)


def message_name(direction: str, code: int) -> str:
    """The name of a channel code in a direction (``I->R`` or ``R->I``)."""
    return (IR_MESSAGES if direction == "I->R" else RI_MESSAGES)[code]
