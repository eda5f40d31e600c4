"""The Quick Mode transition system: actions compiled into fast successor functions.

``QMModel`` implements the ``Model`` interface (model/quickmode/interface.py). A state is
``(component 1, ..., component N, kernel)``: the last element is the part shared by all
negotiations (each host's SPI allocator). The actions of ``actions.py`` are compiled once into
one Python function that returns every enabled (action, new component, new kernel) of one
component; ``evaluate`` stays the reference semantics (a test checks they agree).

Structure for engines: every action's read and write sets (``Action.reads``/``writes``, shared
variables included), ``shared_names`` (what negotiations share: actions that write them are
dependent across components), ``interchangeable`` (negotiations of one role may be permuted:
no action depends on a component's position) and ``rank`` (a function that every step
strictly increases, so the state graph is acyclic; a test checks it on explored graphs).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property

from qmcheck.model.quickmode.actions import Action, build_actions, layout_for
from qmcheck.model.quickmode.collision import y_quiet, ymap
from qmcheck.model.quickmode.expressions import (
    Expr,
    and_,
    eq,
    evaluate,
    in_,
    lt,
    ne,
    not_,
    or_,
    substitute,
    to_python,
    var,
)
from qmcheck.model.quickmode.interface import Local, PropertySpec, State, Step
from qmcheck.model.quickmode.lifecycle import life_rank, lifecycle_actions
from qmcheck.model.quickmode.options import QMOptions
from qmcheck.model.quickmode.profiles import Profile, load_profile
from qmcheck.model.quickmode.state import (
    I_DEAD,
    I_DONE,
    I_IDLE,
    INSTALLED,
    LARVAL,
    R_DEAD,
    R_DONE,
    R_IDLE,
    R_REFUSED,
    SCALARS,
    Layout,
)

Shared = tuple[int, ...]
LocalSucc = Callable[[Local, Shared], list[tuple[int, Local, Shared]]]


def installed(side: str) -> Expr:
    """Both SAs of a side installed."""
    if side == "I":
        return and_(eq(var("iin"), INSTALLED), eq(var("iout"), INSTALLED))
    return and_(eq(var("rin"), INSTALLED), eq(var("rout"), INSTALLED))


def quiescent(layout: Layout) -> Expr:
    """Nothing in the IKE channels, no timer pending, no daemon inside an operation list."""
    empty = [eq(var(f"{c}{j}"), 0) for c in "ab" for j in range(layout.slots)]
    return and_(*empty, in_(var("ip"), (I_IDLE, I_DONE, I_DEAD)),
                in_(var("rp"), (R_IDLE, R_DONE, R_DEAD, R_REFUSED)))


def ended() -> Expr:
    """The negotiation has ended on both sides (finished, given up, refused, never started)."""
    return and_(in_(var("ip"), (I_DONE, I_DEAD)),
                in_(var("rp"), (R_IDLE, R_DONE, R_DEAD, R_REFUSED)))


def half_pair(layout: Layout) -> Expr:
    """qm.rekey-keeps-outbound's bad states: after a rekey, with every exchange ended, nothing
    in flight and a host's old pair gone, the host holds an installed inbound SA of a new pair
    but no installed outbound SA of any (the strongSwan #1896 outcome)."""
    empty = [eq(var(f"{c}{j}"), 0) for c in "ab" for j in range(layout.slots)]
    settled = [lt(0, var("rk")), ended(), *empty,
               *(ne(var(n), 1) for n in ("dni", "dnr", "icm"))]  # 1: in flight
    hosts = {"I": (("iin",), ("iout",), "oi"), "R": (("rin",), ("rout",), "or")}
    if layout.collide:
        settled.append(y_quiet(layout))
        hosts = {"I": (("iin", "yrin"), ("iout", "yrout"), "oi"),
                 "R": (("rin", "yiin"), ("rout", "yiout"), "or")}
    return and_(*settled, or_(*(
        and_(ne(var(old), 1), or_(*(eq(var(e), INSTALLED) for e in ins)),
             *(ne(var(e), INSTALLED) for e in outs))
        for ins, outs, old in hosts.values())))


def local_properties(layout: Layout) -> dict[str, Expr]:
    """The component predicates of the qm.* properties: bad states, or goal states."""
    both = and_(installed("I"), installed("R"))
    larval = or_(*(eq(var(e), LARVAL) for e in ("iin", "iout", "rin", "rout")))
    life = {"qm.rekey-no-black-hole": eq(var("rbh"), 1),
            "qm.orphan-heals": eq(var("ox"), 1),
            "qm.rekey-keeps-outbound": half_pair(layout)} if layout.lifecycle else {}
    out = {
        "qm.responder-installs-after-msg3": and_(installed("R"), eq(var("g3"), 0)),
        "qm.responder-nothing-before-msg3": and_(
            or_(eq(var("rin"), INSTALLED), eq(var("rout"), INSTALLED)), eq(var("g3"), 0)),
        "qm.initiator-spi-after-msg2": and_(ne(var("ios"), 0), eq(var("g2"), 0)),
        "qm.initiator-nothing-before-msg2": and_(eq(var("iout"), INSTALLED), eq(var("g2"), 0)),
        "qm.agreement": and_(both, or_(ne(var("ios"), var("ris")), ne(var("ros"), var("iis")),
                                       eq(var("ris"), 0), eq(var("iis"), 0))),
        "qm.no-black-hole": eq(var("bh"), 1),
        "qm.no-orphan": and_(quiescent(layout), ne(installed("I"), installed("R"))),
        "qm.no-larval-leak": and_(ended(), larval),
        "goal": both,
    }
    if layout.collide:  # the same predicates over the colliding rekey's exchange, or-ed
        mapping = ymap(layout)
        out = {pid: or_(e, substitute(e, mapping)) if pid != "qm.no-black-hole" else e
               for pid, e in out.items()}
    return {**life, **out}


#: The variables of a component that ``live_entries`` reads (its SPI-uniqueness footprint).
LIVE_READS: tuple[str, ...] = ("role", "iin", "iis", "rin", "ris")
#: With the SA lifecycle on, also the old pairs' inbound entries (model/quickmode/lifecycle.py).
OLD_PAIR_READS: tuple[str, ...] = ("oi", "oii", "or", "ori")
#: In a rekey collision, also the colliding rekey's inbound entries (model/quickmode/collision.py).
COLLIDE_READS: tuple[str, ...] = ("yiin", "yiis", "yrin", "yris")


def live_reads(lifecycle: bool, collide: bool = False) -> tuple[str, ...]:
    """The variables ``live_entries`` reads, with or without the SA lifecycle (and a
    collision)."""
    out = LIVE_READS + OLD_PAIR_READS if lifecycle else LIVE_READS
    return out + COLLIDE_READS if collide else out


def live_entries(get: Callable[[str], int], lifecycle: bool = False,
                 collide: bool = False) -> list[tuple[int, int]]:
    """``(host, SPI)`` of a component's live (larval or installed) inbound entries, with
    the SA lifecycle on its old pairs' installed inbound SAs, and in a collision the colliding
    rekey's live inbound entries; ``get`` reads a variable of the component (only those of
    ``live_reads``)."""
    role = get("role")
    out = []
    for host, entry, spi in ((role, "iin", "iis"), (1 - role, "rin", "ris")):
        if get(entry) in (LARVAL, INSTALLED) and get(spi):
            out.append((host, get(spi)))
    if lifecycle:  # the old pairs' inbound SAs (1: installed)
        for host, old, spi in ((role, "oi", "oii"), (1 - role, "or", "ori")):
            if get(old) == 1 and get(spi):
                out.append((host, get(spi)))
    if collide:  # the y-initiator runs on the pair's responder host
        for host, entry, spi in ((1 - role, "yiin", "yiis"), (role, "yrin", "yris")):
            if get(entry) in (LARVAL, INSTALLED) and get(spi):
                out.append((host, get(spi)))
    return out


#: Weights of channel codes for ``rank`` (a message consumed early weighs more).
_A_WEIGHT = {0: 0, 1: 4, 2: 2, 3: 1}
_B_WEIGHT = {0: 0, 1: 3, 2: 1, 3: 1}


class QMModel:
    """The exchange for one ``QMOptions``: N negotiation components and the shared kernel."""

    shared = True  # negotiations share the kernel part (SPI allocators)
    acyclic = True  # ``rank`` increases on every step (tests/test_qm_model.py checks it)

    def __init__(self, options: QMOptions, profile: Profile | None = None) -> None:
        self.options = options
        self.profile = profile or load_profile(options.profile)
        self.layout = layout_for(options, self.profile)
        self.shared_names = self.layout.shared_names
        self.action_list: tuple[Action, ...] = lifecycle_actions(
            options, self.profile, self.layout, build_actions(options, self.profile))
        self.action_index: dict[str, int] = {a.id: i for i, a in enumerate(self.action_list)}
        self.local_successors: LocalSucc = self._compile()
        preds = local_properties(self.layout)
        self.local_preds: dict[str, Expr] = preds
        self.local_checks: dict[str, Callable[[Local], bool]] = {
            pid: self._compile_pred(e) for pid, e in preds.items()}
        self.quiescent_check = self._compile_pred(quiescent(self.layout))
        self._succ_cache: dict[tuple[Local, Shared], list[tuple[int, Local, Shared]]] = {}

    # -- compilation -------------------------------------------------------------------------
    def _slots(self) -> dict[str, str]:
        slot = {n: f"s[{i}]" for i, n in enumerate(self.layout.names)}
        slot.update({n: f"k[{i}]" for i, n in enumerate(self.shared_names)})
        return slot

    def _compile(self) -> LocalSucc:
        names = self.layout.names
        slot = self._slots()
        lines = ["def succ(s, k):", "    out = []"]
        for i, action in enumerate(self.action_list):
            new = dict(action.updates)
            fields = [to_python(new[n], slot) if n in new else slot[n] for n in names]
            lines.append(f"    if {to_python(action.guard, slot)}:")
            tup = ", ".join(fields)
            if any(n in new for n in self.shared_names):
                ktup = ", ".join(to_python(new[n], slot) if n in new else slot[n]
                                 for n in self.shared_names)
                kexpr = f"({ktup},)"
            else:
                kexpr = "k"
            if self.options.reorder:
                lines.append(f"        out.append(({i}, canon(({tup},)), {kexpr}))")
            else:
                lines.append(f"        out.append(({i}, ({tup},), {kexpr}))")
        lines.append("    return out")
        layout = self.layout
        namespace: dict[str, object] = {
            "canon": lambda t: layout.canonical(t, True)}
        exec("\n".join(lines), namespace)
        return namespace["succ"]  # type: ignore[return-value]

    def _compile_pred(self, expr: Expr) -> Callable[[Local], bool]:
        slot = {n: f"s[{i}]" for i, n in enumerate(self.layout.names)}
        namespace: dict[str, object] = {}
        exec(f"def pred(s):\n    return bool({to_python(expr, slot)})", namespace)
        return namespace["pred"]  # type: ignore[return-value]

    def succ(self, local: Local, kernel: Shared) -> list[tuple[int, Local, Shared]]:
        """Enabled actions of one component with the kernel (cached)."""
        key = (local, kernel)
        hit = self._succ_cache.get(key)
        if hit is None:
            hit = self._succ_cache[key] = self.local_successors(local, kernel)
        return hit

    # -- reference semantics -----------------------------------------------------------------
    def reference_successors(self, local: Local,
                             kernel: Shared | None = None) -> list[tuple[int, Local, Shared]]:
        """The same as ``local_successors``, by interpreting the expressions (slow, for tests)."""
        kern = self.layout.initial_shared() if kernel is None else kernel
        env = dict(zip(self.layout.names, local, strict=True))
        env.update(zip(self.shared_names, kern, strict=True))
        out: list[tuple[int, Local, Shared]] = []
        for i, action in enumerate(self.action_list):
            if evaluate(action.guard, env):
                new = dict(env)
                for name, expr in action.updates:
                    new[name] = evaluate(expr, env)
                t = tuple(new[n] for n in self.layout.names)
                k = tuple(new[n] for n in self.shared_names)
                out.append((i, self.layout.canonical(t, self.options.reorder), k))
        return out

    # -- the Model interface -----------------------------------------------------------------
    def canonical(self, state: State) -> State:
        """Symmetry reduction: negotiations are interchangeable, so sort the components (the
        kernel stays last). Sound: no action reads a component's position."""
        return (*sorted(state[:-1]), state[-1])

    def init_states(self) -> list[State]:
        n = self.options.negotiations
        comps = [self.layout.initial(0) for _ in range(n)]
        if self.options.simultaneous:
            comps += [self.layout.initial(1) for _ in range(n)]
        return [self.canonical((*comps, self.layout.initial_shared()))]

    def components(self, state: State) -> tuple[Local, ...]:
        return state[:-1]

    def successors(self, state: State) -> list[tuple[int, int, State]]:
        """Every enabled ``(component, action index, next state)`` (not canonical)."""
        kernel = state[-1]
        out: list[tuple[int, int, State]] = []
        last = len(state) - 1
        for c in range(last):
            for a, new, k in self.succ(state[c], kernel):
                out.append((c, a, (*state[:c], new, *state[c + 1:last], k)))
        return out

    def actions(self, state: State) -> list[Step]:
        return [(c, self.action_list[a].id) for c, a, _ in self.successors(state)]

    def next_state(self, state: State, step: Step) -> State:
        comp, action_id = step
        if not 0 <= comp < len(state) - 1 or action_id not in self.action_index:
            raise ValueError(f"no step {step!r} in this model")
        idx = self.action_index[action_id]
        for a, new, k in self.succ(state[comp], state[-1]):
            if a == idx:
                return (*state[:comp], new, *state[comp + 1:-1], k)
        raise ValueError(f"step {step!r} is not enabled")

    def properties(self) -> Sequence[PropertySpec]:
        preds = self.local_preds
        specs = [PropertySpec(pid, "always", local_bad=e) for pid, e in preds.items()
                 if pid != "goal"]
        specs.append(PropertySpec("qm.spi-unique", "always",
                                  state_bad=lambda s: bool(self.spi_collisions(s))))
        specs.append(PropertySpec("qm.no-deadlock", "no-deadlock"))
        specs.append(PropertySpec("qm.eventually-installed", "eventually",
                                  local_goal=preds["goal"]))
        specs.append(PropertySpec("qm.reachable-installed", "sometimes",
                                  local_goal=preds["goal"]))
        return specs

    @cached_property
    def goal_check(self) -> Callable[[Local], bool]:
        return self.local_checks["goal"]

    def live_inbound(self, local: Local) -> list[tuple[int, int]]:
        """``(host, SPI)`` of the component's live (larval or installed) inbound entries."""
        idx = self.layout.index
        return live_entries(lambda name: local[idx[name]], self.layout.lifecycle,
                            self.layout.collide)

    def spi_collisions(self, state: State) -> list[str]:
        """Hosts with two live inbound entries of the same SPI (qm.spi-unique)."""
        seen: set[tuple[int, int]] = set()
        bad: list[str] = []
        for local in state[:-1]:
            for key in self.live_inbound(local):  # within a component too: old and new pair
                if key in seen:
                    bad.append("AB"[key[0]])
                seen.add(key)
        return bad

    @cached_property
    def _rank_index(self) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...],
                                   tuple[int, ...], int, int]:
        """Positions ``rank`` reads: weight-10 phases, weight-1 counters, the two channels'
        slots and the two ESP paths (computed once; ``rank`` runs on every explored step)."""
        idx = self.layout.index
        start, k = len(SCALARS), self.layout.slots
        return ((idx["ip"], idx["rp"]),
                tuple(idx[n] for n in ("ipc", "rpc", "ic", "rc", "di", "dr", "dups", "lost",
                                       "g2", "g3")),
                tuple(range(start, start + k)), tuple(range(start + k, start + 2 * k)),
                idx["ei"], idx["er"])

    @cached_property
    def _y_rank_index(self) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...],
                                     tuple[int, ...]]:
        """``_rank_index`` of the colliding exchange (no ESP or network counters: shared)."""
        idx, k = self.layout.index, self.layout.slots
        return ((idx["yip"], idx["yrp"]),
                tuple(idx[f"y{n}"] for n in ("ipc", "rpc", "ic", "rc", "g2", "g3")),
                tuple(idx[f"ya{j}"] for j in range(k)), tuple(idx[f"yb{j}"] for j in range(k)))

    def rank(self, local: Local) -> int:
        """A value every action of the component strictly increases (so no cycles)."""
        tens, ones, ir, ri, ei, er = self._rank_index
        mono = 10 * sum(local[i] for i in tens) + sum(local[i] for i in ones)
        msgs = sum(_A_WEIGHT[local[i]] for i in ir) + sum(_B_WEIGHT[local[i]] for i in ri)
        base = 5 * mono - msgs - int(local[ei] != 0) - int(local[er] != 0)
        if not self.layout.lifecycle:
            return base
        if self.layout.collide:  # the colliding exchange's own progress, the same way
            ytens, yones, yir, yri = self._y_rank_index
            ymono = 10 * sum(local[i] for i in ytens) + sum(local[i] for i in yones)
            base += 5 * ymono - (sum(_A_WEIGHT[local[i]] for i in yir)
                                 + sum(_B_WEIGHT[local[i]] for i in yri))
        return base + life_rank(dict(zip(self.layout.names, local, strict=True)))

    def describe(self, state: State) -> list[dict[str, object]]:
        """Readable components, then the kernel's allocators."""
        out: list[dict[str, object]] = []
        for pos, local in enumerate(state[:-1]):
            d: dict[str, object] = {"negotiation": pos + 1}
            d.update(self.layout.describe(local))
            out.append(d)
        kern = dict(zip(self.shared_names, state[-1], strict=True))
        out.append({"kernel": {"A next SPI": kern["kA"], "B next SPI": kern["kB"]}})
        return out


def not_installed(expr: Expr) -> Expr:
    """Negation helper for documentation of goals."""
    return not_(expr)
