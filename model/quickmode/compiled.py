"""The Quick Mode transition system: actions compiled into fast successor functions.

``QMModel`` implements the ``Model`` interface of qm_interface. The actions of qm_actions are
compiled once into a single Python function that returns every enabled (action, new component)
of one component; ``evaluate`` of qm_expr stays the reference semantics (a test checks they agree).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property

from qmcheck.model.quickmode.actions import Action, build_actions
from qmcheck.model.quickmode.expressions import (
    Expr,
    and_,
    eq,
    evaluate,
    in_,
    ne,
    not_,
    or_,
    to_python,
    var,
)
from qmcheck.model.quickmode.interface import Local, PropertySpec, State, Step
from qmcheck.model.quickmode.options import QMOptions
from qmcheck.model.quickmode.state import (
    I_SENT3,
    I_WAIT2,
    I_WAIT4,
    INSTALLED,
    R_WAIT3,
    Layout,
)

LocalSucc = Callable[[Local], list[tuple[int, Local]]]


def _installed(side: str) -> Expr:
    if side == "I":
        return and_(eq(var("iin"), INSTALLED), eq(var("iout"), INSTALLED))
    return and_(eq(var("rin"), INSTALLED), eq(var("rout"), INSTALLED))


def quiescent(layout: Layout) -> Expr:
    """Nothing in flight and no timer pending in a component."""
    empty = [eq(var(f"{c}{j}"), 0) for c in "ab" for j in range(layout.slots)]
    return and_(*empty, not_(in_(var("ip"), (I_WAIT2, I_SENT3, I_WAIT4))),
                ne(var("rp"), R_WAIT3))


def local_properties(layout: Layout) -> dict[str, Expr]:
    """The component predicates of the qm.* properties: bad states, or goal states."""
    both = and_(_installed("I"), _installed("R"))
    return {
        "qm.responder-installs-after-msg3": and_(_installed("R"), eq(var("g3"), 0)),
        "qm.responder-nothing-before-msg3": and_(
            or_(eq(var("rin"), INSTALLED), eq(var("rout"), INSTALLED)), eq(var("g3"), 0)),
        "qm.initiator-spi-after-msg2": and_(eq(var("ispi"), 1), eq(var("g2"), 0)),
        "qm.agreement": and_(both, eq(var("ispi"), 0)),
        "qm.no-black-hole": eq(var("bh"), 1),
        "qm.no-orphan": and_(quiescent(layout), ne(_installed("I"), _installed("R"))),
        "goal": both,
    }


class QMModel:
    """The exchange for one ``QMOptions``: N negotiation components, compiled actions."""

    def __init__(self, options: QMOptions) -> None:
        self.options = options
        self.layout = Layout.for_options(options)
        self.action_list: tuple[Action, ...] = build_actions(options)
        self.action_index: dict[str, int] = {a.id: i for i, a in enumerate(self.action_list)}
        self.local_successors: LocalSucc = self._compile()
        preds = local_properties(self.layout)
        self.local_preds: dict[str, Expr] = preds
        self.local_checks: dict[str, Callable[[Local], bool]] = {
            pid: self._compile_pred(e) for pid, e in preds.items()}
        self.quiescent_check = self._compile_pred(quiescent(self.layout))

    # -- compilation -------------------------------------------------------------------------
    def _compile(self) -> LocalSucc:
        names = self.layout.names
        slot = {n: f"s[{i}]" for i, n in enumerate(names)}
        lines = ["def succ(s):", "    out = []"]
        for i, action in enumerate(self.action_list):
            new = dict(action.updates)
            fields = [to_python(new[n], slot) if n in new else slot[n] for n in names]
            lines.append(f"    if {to_python(action.guard, slot)}:")
            tup = ", ".join(fields)
            if self.options.reorder:
                lines.append(f"        out.append(({i}, canon(({tup},))))")
            else:
                lines.append(f"        out.append(({i}, ({tup},)))")
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

    # -- reference semantics -----------------------------------------------------------------
    def reference_successors(self, local: Local) -> list[tuple[int, Local]]:
        """The same as ``local_successors``, by interpreting the expressions (slow, for tests)."""
        env = dict(zip(self.layout.names, local, strict=True))
        out: list[tuple[int, Local]] = []
        for i, action in enumerate(self.action_list):
            if evaluate(action.guard, env):
                new = dict(env)
                for name, expr in action.updates:
                    new[name] = evaluate(expr, env)
                t = tuple(new[n] for n in self.layout.names)
                out.append((i, self.layout.canonical(t, self.options.reorder)))
        return out

    # -- the Model interface -----------------------------------------------------------------
    def canonical(self, state: State) -> State:
        """Symmetry reduction: negotiations are interchangeable, so sort the components.

        SPIs are a function of the component's position in this canonical order (SPI = 1 +
        position on each host), so renaming negotiations renames SPIs consistently.
        """
        return tuple(sorted(state))

    def init_states(self) -> list[State]:
        n = self.options.negotiations
        comps = [self.layout.initial(0) for _ in range(n)]
        if self.options.simultaneous:
            comps += [self.layout.initial(1) for _ in range(n)]
        return [self.canonical(tuple(comps))]

    def actions(self, state: State) -> list[Step]:
        return [(c, self.action_list[a].id) for c, local in enumerate(state)
                for a, _ in self.local_successors(local)]

    def next_state(self, state: State, step: Step) -> State:
        comp, action_id = step
        if not 0 <= comp < len(state) or action_id not in self.action_index:
            raise ValueError(f"no step {step!r} in this model")
        idx = self.action_index[action_id]
        for a, new in self.local_successors(state[comp]):
            if a == idx:
                return (*state[:comp], new, *state[comp + 1:])
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

    def spi_collisions(self, state: State) -> list[str]:
        """Hosts with two live inbound entries of the same SPI (qm.spi-unique)."""
        seen: dict[tuple[str, int], int] = {}
        bad: list[str] = []
        idx = self.layout.index
        for pos, local in enumerate(state):
            role = local[idx["role"]]
            hosts = ("A", "B") if role == 0 else ("B", "A")
            for host, entry in ((hosts[0], local[idx["iin"]]), (hosts[1], local[idx["rin"]])):
                if entry in (1, 2):  # larval or installed: the SPI is in use
                    key = (host, spi_of(pos))
                    seen[key] = seen.get(key, 0) + 1
                    if seen[key] == 2:
                        bad.append(host)
        return bad

    def describe(self, state: State) -> list[dict[str, object]]:
        """Readable components, each with its SPIs."""
        out: list[dict[str, object]] = []
        for pos, local in enumerate(state):
            d: dict[str, object] = {"negotiation": pos + 1, "spi": spi_of(pos)}
            d.update(self.layout.describe(local))
            out.append(d)
        return out


def spi_of(position: int) -> int:
    """The SPI a host allocates for the negotiation at ``position`` (unique per host)."""
    return 0x100 + position
