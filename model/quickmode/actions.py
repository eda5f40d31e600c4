"""The named, guarded actions of one Quick Mode negotiation, written once as expressions.

Hosts are a daemon plus a kernel (docs/SPEC.md 3). The daemon reacts to a message (or a timer)
by starting an operation list of the profile; each operation (``larval-in``, ``install-out``,
``send-m3``, ...) is its own action, so other messages, timers and ESP packets interleave
between them. The kernel allocates SPIs from the host's allocator (shared by all negotiations:
the shared variables ``kA``/``kB``), sends an ESP packet whenever its outbound entry is
installed (bounded count) and drops an ESP packet that finds no installed inbound entry with
its SPI. ESP travels on its own path (``ei``/``er``), not in the IKE channels' order.

Channel operations are macros over the slot variables: ``take`` removes the message in slot j
(later slots move up), ``put`` writes a message into the first free slot. With reordering any
slot may be received; without, only slot 0. Loss removes any slot; duplication appends a copy.
Each action exposes the variables it reads and writes (``reads``/``writes``), shared ones
included, for partial-order reduction in a generic engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

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
    not_,
    or_,
    var,
    variables,
)
from qmcheck.model.quickmode.options import QMOptions
from qmcheck.model.quickmode.profiles import Profile, load_profile
from qmcheck.model.quickmode.state import (
    ABSENT,
    DELETED,
    I_DEAD,
    I_DONE,
    I_GIVEUP,
    I_IDLE,
    I_M2,
    I_M4,
    I_RUNNING,
    I_START,
    I_WAIT2,
    I_WAIT4,
    INSTALLED,
    IR_MESSAGES,
    LARVAL,
    M1,
    M2,
    M3,
    M4,
    NOTIFY,
    R_DEAD,
    R_DONE,
    R_GIVEUP,
    R_IDLE,
    R_M1,
    R_M3,
    R_REFUSED,
    R_RUNNING,
    R_WAIT3,
    RI_MESSAGES,
    Layout,
)


@dataclass(frozen=True)
class Action:
    """One named action of a negotiation.

    ``name`` is the action (``r_recv_m1``, ``i_m2_1_install-out``), ``slot`` the channel slot it
    reads (or None), ``actor`` I, R, net or kernel, ``event`` one of send / recv / drop / lose /
    dup / retransmit / give-up / op / esp, ``message`` the message it sends, receives, loses or
    copies, and ``updates`` the simultaneous assignments ``variable := expression``.
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

    @cached_property
    def reads(self) -> frozenset[str]:
        """Variables the guard or an update reads."""
        out = set(variables(self.guard))
        for _, e in self.updates:
            out |= variables(e)
        return frozenset(out)

    @cached_property
    def writes(self) -> frozenset[str]:
        """Variables the action may change."""
        return frozenset(n for n, _ in self.updates)


def layout_for(options: QMOptions, profile: Profile | None = None) -> Layout:
    """The variable layout for these options (bounds taken from the profile)."""
    prof = profile or load_profile(options.profile)
    rmax = retransmits(options, prof)
    dups = options.max_duplicates if options.duplicate else 0
    slots = options.capacity or 2 * (max(rmax.values()) + 1) + 2 * dups + 1
    longest = max(len(v) for v in (*prof.ops.values(), *prof.commit_ops.values(), ()))
    # the lifecycle (model/quickmode/lifecycle.py): one more SPI per host for each rekey and
    # for the negotiation after a restart
    # and, in a rekey collision (model/quickmode/collision.py), one for the colliding rekey
    collide = options.collide and prof.lifecycle["rekey-by"] == "both"
    allocations = (1 + options.rekeys + int(options.restart) + int(collide)
                   if options.lifecycle else 1)
    return Layout(slots, max(rmax.values()), options.max_duplicates, options.components,
                  options.max_losses, options.esp, max(longest, 1), rekeys=options.rekeys,
                  lifecycle=options.lifecycle, allocations=allocations, collide=collide)


def retransmits(options: QMOptions, prof: Profile) -> dict[str, int]:
    """Retransmission bound per side: the command line's, else the profile's."""
    if options.retransmits is not None:
        return {"initiator": options.retransmits, "responder": options.retransmits}
    return dict(prof.retransmits)


class _Build:
    """Collects the updates of one action; macros compose over pending updates."""

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
        order = self.layout.names + self.layout.shared_names
        return tuple((n, self.new[n]) for n in order if n in self.new and self.new[n] != var(n))


# -- operations -----------------------------------------------------------------------------
ENTRY = {("initiator", "in"): ("iin", "iis"), ("initiator", "out"): ("iout", "ios"),
         ("responder", "in"): ("rin", "ris"), ("responder", "out"): ("rout", "ros")}
KNOWN = {"initiator": "iks", "responder": "rks"}


def _allocate(b: _Build, side: str, spi: str, prof: Profile) -> None:
    """The host's kernel hands out an SPI for ``spi`` unless it holds one already."""
    none = eq(b.cur(spi), 0)
    if prof.spi_allocator == "constant":
        b.set(spi, ite(none, 1, b.cur(spi)))
        return
    # the initiator runs on host A when role = 0, the responder on the other host
    on_a = eq(var("role"), 0) if side == "initiator" else eq(var("role"), 1)
    nxt = ite(on_a, b.cur("kA"), b.cur("kB"))
    b.set(spi, ite(none, nxt, b.cur(spi)))
    b.set("kA", ite(and_(none, on_a), add(b.cur("kA"), 1), b.cur("kA")))
    b.set("kB", ite(and_(none, not_(on_a)), add(b.cur("kB"), 1), b.cur("kB")))


def apply_op(b: _Build, side: str, op: str, prof: Profile) -> str:
    """The effect of one operation; returns its description."""
    if op.startswith("send-"):
        msg = op[len("send-"):]
        if msg == "m1":
            b.set("m1s", b.cur("iis"))
            b.put("a", M1)
            return "sends message 1 (with its inbound SPI)"
        if msg == "m2":
            b.set("m2s", b.cur("ris"))
            b.put("b", M2)
            return "sends message 2 (with its inbound SPI)"
        if msg == "m3":
            b.put("a", M3)
            return "sends message 3"
        b.put("b", M4)
        return "sends message 4 (CONNECTED)"
    verb, direction = op.split("-")
    entry, spi = ENTRY[(side, direction)]
    if verb == "delete":
        b.set(entry, ite(eq(b.cur(entry), ABSENT), ABSENT, DELETED))
        return f"deletes its {direction}bound entry"
    b.set(entry, LARVAL if verb == "larval" else INSTALLED)
    if direction == "in":
        _allocate(b, side, spi, prof)
        return f"{'adds a larval' if verb == 'larval' else 'installs the'} inbound SA (kernel " \
               "allocates its SPI if none)"
    b.set(spi, b.cur(KNOWN[side]))
    return f"{'adds a larval' if verb == 'larval' else 'installs the'} outbound SA with the " \
           "peer's SPI it knows"


# phase of running each list, and the phase after it
I_LISTS = {"start": (I_START, I_WAIT2), "m2": (I_M2, I_DONE), "m4": (I_M4, I_DONE),
           "give-up": (I_GIVEUP, I_DEAD)}
R_LISTS = {"m1": (R_M1, R_WAIT3), "m3": (R_M3, R_DONE), "give-up": (R_GIVEUP, R_DEAD)}


def build_actions(options: QMOptions, profile: Profile | None = None) -> tuple[Action, ...]:
    """All actions of one negotiation for these options, in a fixed order."""
    prof = profile or load_profile(options.profile)
    layout = layout_for(options, prof)
    lists = prof.lists(options.commit_bit)
    commit = prof.commit_in_use(options.commit_bit)
    rmax = retransmits(options, prof)
    k = layout.slots
    recv_slots = range(k) if options.reorder else range(1)
    failing = options.outcome != "installed"
    out: list[Action] = []
    i_after = dict(I_LISTS)
    if commit:
        i_after["m2"] = (I_M2, I_WAIT4)

    def emit(name: str, slot: int | None, actor: str, event: str, message: str,
             guard: Expr, b: _Build, text: str) -> None:
        out.append(Action(name, slot, actor, event, message, guard, b.updates(), text))

    def start_list(b: _Build, side: str, event: str) -> None:
        """Enter the phase of running a list (or the phase after it, if the list is empty)."""
        running, after = (i_after if side == "initiator" else R_LISTS)[event]
        phase, pc = ("ip", "ipc") if side == "initiator" else ("rp", "rpc")
        b.set(phase, running if lists[(side, event)] else after)
        b.set(pc, 0)

    # Operation steps: one action per position of each list.
    for side, table in (("initiator", i_after), ("responder", R_LISTS)):
        phase, pc = ("ip", "ipc") if side == "initiator" else ("rp", "rpc")
        actor = "I" if side == "initiator" else "R"
        for event, (running, after) in table.items():
            ops = lists[(side, event)]
            for pos, op in enumerate(ops):
                b = _Build(layout)
                text = apply_op(b, side, op, prof)
                last = pos == len(ops) - 1
                b.set(pc, 0 if last else pos + 1)
                if last:
                    b.set(phase, after)
                msg = op[len("send-"):] if op.startswith("send-") else ""
                emit(f"{actor.lower()}_{event}_{pos}_{op}", None, actor, "op", msg,
                     and_(eq(var(phase), running), eq(var(pc), pos)), b,
                     f"{actor} ({event} list, step {pos + 1}/{len(ops)}) {text}")

    # I starts (an acquire for the traffic).
    b = _Build(layout)
    start_list(b, "initiator", "start")
    emit("i_start", None, "I", "start", "", eq(var("ip"), I_IDLE), b,
         "I's kernel asks for an SA (acquire): I starts the negotiation")

    # Timers. Patient: only when what the timer waits for can no longer arrive (nothing of this
    # negotiation in the IKE channels, the peer is not in the middle of an operation list).
    ike_empty = and_(*(eq(var(f"{c}{j}"), 0) for c in "ab" for j in range(k)))
    i_silent = TRUE if options.eager else and_(ike_empty, not_(in_(var("rp"), R_RUNNING)))
    r_silent = TRUE if options.eager else and_(ike_empty, not_(in_(var("ip"), I_RUNNING)))
    b = _Build(layout)
    b.set("ic", add(var("ic"), 1))
    b.set("m1s", var("iis"))
    b.put("a", M1)
    emit("i_retransmit_m1", None, "I", "retransmit", "msg1",
         and_(eq(var("ip"), I_WAIT2), lt(var("ic"), rmax["initiator"]), i_silent), b,
         "I's timer fires: it retransmits message 1")
    if commit:
        b = _Build(layout)
        b.set("ic", add(var("ic"), 1))
        b.put("a", M3)
        emit("i_retransmit_m3", None, "I", "retransmit", "msg3",
             and_(eq(var("ip"), I_WAIT4), lt(var("ic"), rmax["initiator"]), i_silent), b,
             "commit bit: I waits for CONNECTED and retransmits message 3")
    b = _Build(layout)
    start_list(b, "initiator", "give-up")
    emit("i_give_up", None, "I", "give-up", "",
         and_(in_(var("ip"), (I_WAIT2, I_WAIT4)), eq(var("ic"), rmax["initiator"]), i_silent),
         b, "I's retransmissions are exhausted: it gives up the negotiation")
    b = _Build(layout)
    b.set("rc", add(var("rc"), 1))
    b.set("m2s", var("ris"))
    b.put("b", M2)
    emit("r_retransmit_m2", None, "R", "retransmit", "msg2",
         and_(eq(var("rp"), R_WAIT3), lt(var("rc"), rmax["responder"]), r_silent), b,
         "R's timer fires: it retransmits message 2")
    b = _Build(layout)
    start_list(b, "responder", "give-up")
    emit("r_give_up", None, "R", "give-up", "",
         and_(eq(var("rp"), R_WAIT3), eq(var("rc"), rmax["responder"]), r_silent), b,
         "R's retransmissions are exhausted: it gives up the negotiation")

    # Kernels send ESP whenever the outbound entry is installed (whatever the daemon does).
    for side, flight, count, entry, spi in (("I", "ei", "di", "iout", "ios"),
                                            ("R", "er", "dr", "rout", "ros")):
        b = _Build(layout)
        b.set(flight, add(var(spi), 1))
        b.set(count, add(var(count), 1))
        emit(f"{side.lower()}_send_esp", None, side, "esp", "esp",
             and_(eq(var(entry), INSTALLED), eq(var(flight), 0), lt(var(count), options.esp)),
             b, f"{side}'s kernel sends an ESP packet on its installed outbound SA")
    for side, flight, entry, spi in (("R", "ei", "rin", "ris"), ("I", "er", "iin", "iis")):
        b = _Build(layout)
        b.set(flight, 0)
        ok = and_(eq(var(entry), INSTALLED), eq(var(flight), add(var(spi), 1)))
        b.set("bh", or_(var("bh"), not_(ok)))
        emit(f"{side.lower()}_recv_esp", None, side, "esp", "esp", ne(var(flight), 0), b,
             f"an ESP packet reaches {side}'s kernel (dropped unless an installed inbound SA "
             "has its SPI)")

    i_idle_like = (I_IDLE, I_DEAD, I_DONE, I_WAIT2, I_WAIT4)  # not running a list
    for j in recv_slots:
        a_j, b_j = var(f"a{j}"), var(f"b{j}")
        # R receives message 1.
        b = _Build(layout)
        b.take("a", j)
        if failing:
            b.set("rp", R_REFUSED)
            b.put("b", NOTIFY)
            text = (f"R receives message 1 and refuses it ({options.outcome.upper()}): it "
                    "sends a notification and keeps nothing")
        else:
            b.set("rks", var("m1s"))
            start_list(b, "responder", "m1")
            text = "R receives message 1: finds the policy and starts its m1 list"
        emit("r_recv_m1", j, "R", "recv", "msg1", and_(eq(a_j, M1), eq(var("rp"), R_IDLE)), b,
             text)
        if failing:
            b = _Build(layout)
            b.take("a", j)
            b.put("b", NOTIFY)
            emit("r_refuse_m1", j, "R", "recv", "msg1",
                 and_(eq(a_j, M1), eq(var("rp"), R_REFUSED)), b,
                 "R answers a retransmitted message 1 with the notification again")
        resend = prof.duplicate_m1 == "resend-m2"
        b = _Build(layout)
        b.take("a", j)
        if resend:
            b.set("m2s", var("ris"))
            b.put("b", M2)
        emit("r_dup_m1", j, "R", "recv", "msg1",
             and_(eq(a_j, M1), in_(var("rp"), (R_WAIT3, R_DONE))), b,
             "R receives a duplicate message 1 and "
             + ("answers with message 2 again" if resend else "ignores it"))
        b = _Build(layout)
        b.take("a", j)
        emit("r_drop_m1", j, "R", "drop", "msg1", and_(eq(a_j, M1), eq(var("rp"), R_DEAD)), b,
             "R has given up this negotiation and drops message 1")
        # I receives message 2.
        b = _Build(layout)
        b.take("b", j)
        b.set("g2", 1)
        b.set("iks", var("m2s"))
        b.set("ic", 0)
        start_list(b, "initiator", "m2")
        emit("i_recv_m2", j, "I", "recv", "msg2", and_(eq(b_j, M2), eq(var("ip"), I_WAIT2)), b,
             "I receives message 2 (R's SPI) and starts its m2 list")
        resend3 = prof.duplicate_m2 == "resend-m3"
        b = _Build(layout)
        b.take("b", j)
        if resend3:
            b.put("a", M3)
        emit("i_dup_m2", j, "I", "recv", "msg2",
             and_(eq(b_j, M2), in_(var("ip"), (I_WAIT4, I_DONE))), b,
             "I receives a duplicate message 2 and "
             + ("resends message 3" if resend3 else "ignores it"))
        b = _Build(layout)
        b.take("b", j)
        emit("i_drop_m2", j, "I", "drop", "msg2",
             and_(eq(b_j, M2), in_(var("ip"), (I_IDLE, I_DEAD))), b,
             "I has no negotiation for message 2 and drops it")
        # R receives message 3.
        b = _Build(layout)
        b.take("a", j)
        b.set("g3", 1)
        start_list(b, "responder", "m3")
        emit("r_recv_m3", j, "R", "recv", "msg3", and_(eq(a_j, M3), eq(var("rp"), R_WAIT3)), b,
             "R receives message 3 and starts its m3 list")
        connected = "send-m4" in lists[("responder", "m3")]
        b = _Build(layout)
        b.take("a", j)
        if connected:
            b.put("b", M4)
        emit("r_dup_m3", j, "R", "recv", "msg3", and_(eq(a_j, M3), eq(var("rp"), R_DONE)), b,
             "R receives a duplicate message 3"
             + (" and resends CONNECTED" if connected else " and ignores it"))
        b = _Build(layout)
        b.take("a", j)
        emit("r_drop_m3", j, "R", "drop", "msg3",
             and_(eq(a_j, M3), in_(var("rp"), (R_IDLE, R_DEAD, R_REFUSED))), b,
             "R has no negotiation waiting for message 3 and drops it")
        # I receives CONNECTED (message 4).
        if commit or connected:
            b = _Build(layout)
            b.take("b", j)
            start_list(b, "initiator", "m4")
            emit("i_recv_m4", j, "I", "recv", "msg4 CONNECTED",
                 and_(eq(b_j, M4), eq(var("ip"), I_WAIT4)), b,
                 "I receives CONNECTED and starts its m4 list")
            b = _Build(layout)
            b.take("b", j)
            emit("i_drop_m4", j, "I", "drop", "msg4 CONNECTED",
                 and_(eq(b_j, M4), in_(var("ip"), tuple(p for p in i_idle_like
                                                        if p != I_WAIT4))), b,
                 "I drops a CONNECTED it does not wait for")
        if failing:
            b = _Build(layout)
            b.take("b", j)
            start_list(b, "initiator", "give-up")
            emit("i_recv_notify", j, "I", "recv", "notify",
                 and_(eq(b_j, NOTIFY), eq(var("ip"), I_WAIT2)), b,
                 f"I receives {options.outcome.upper()} and gives up")
            b = _Build(layout)
            b.take("b", j)
            emit("i_drop_notify", j, "I", "drop", "notify",
                 and_(eq(b_j, NOTIFY), in_(var("ip"), (I_IDLE, I_DEAD, I_DONE, I_WAIT4))), b,
                 "I drops a notification it no longer waits for")

    for j in range(k):
        for chan in ("a", "b"):
            slot = var(f"{chan}{j}")
            direction = "I->R" if chan == "a" else "R->I"
            tag = "ir" if chan == "a" else "ri"
            if options.loss:
                b = _Build(layout)
                b.take(chan, j)
                guard = ne(slot, 0)
                if options.max_losses:
                    b.set("lost", add(var("lost"), 1))
                    guard = and_(guard, lt(var("lost"), options.max_losses))
                emit(f"lose_{tag}", j, "net", "lose", direction, guard, b,
                     f"the network loses a message {direction}")
            if options.duplicate and options.max_duplicates > 0:
                b = _Build(layout)
                b.set("dups", add(var("dups"), 1))
                b.put(chan, slot)
                emit(f"dup_{tag}", j, "net", "dup", direction,
                     and_(ne(slot, 0), lt(var("dups"), options.max_duplicates),
                          eq(var(f"{chan}{k - 1}"), 0)), b,
                     f"the network duplicates a message {direction}")
    return tuple(out)


def message_name(direction: str, code: int) -> str:
    """The name of a channel code in a direction (``I->R`` or ``R->I``)."""
    return (IR_MESSAGES if direction == "I->R" else RI_MESSAGES)[code]

