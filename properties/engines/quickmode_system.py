"""The current Quick Mode model (``QMModel``) presented as a generic ``TransitionSystem``.

Every negotiation component ``c`` becomes the variables ``n{c}.{name}`` of ``Layout.names``;
each of its actions becomes ``n{c}:{action id}``, reading and writing the variables of its own
component (components share nothing in this model). Negotiations started by the same host are
declared interchangeable (a symmetry; SPIs are a function of the position, so no variable needs
renaming). The qm.* properties are parts over one component each, except ``qm.spi-unique``,
which reads every component's inbound entries. Guards and updates call the model's compiled
successor function (its own semantics, unchanged).
"""

from __future__ import annotations

from collections.abc import Callable

from qmcheck.model.quickmode.compiled import QMModel
from qmcheck.model.quickmode.interface import Local, State
from qmcheck.model.quickmode.state import INSTALLED
from qmcheck.model.transitions.system import (
    Action,
    Env,
    Part,
    Property,
    Symmetry,
    TransitionSystem,
    Variable,
)

LOCAL_IDS: tuple[str, ...] = (
    "qm.responder-installs-after-msg3",
    "qm.responder-nothing-before-msg3",
    "qm.initiator-spi-after-msg2",
    "qm.agreement",
    "qm.no-black-hole",
    "qm.no-orphan",
)


def var_name(comp: int, name: str) -> str:
    return f"n{comp}.{name}"


def action_name(comp: int, action_id: str) -> str:
    return f"n{comp}:{action_id}"


def parse_action(name: str) -> tuple[int, str]:
    """``(component, action id)`` of an adapter action name."""
    comp, _, action_id = name.partition(":")
    return int(comp[1:]), action_id


class QuickModeSystem:
    """Builds the generic system for one ``QMModel`` and maps paths back to its steps."""

    LOCAL = LOCAL_IDS

    def __init__(self, model: QMModel, property_ids: tuple[str, ...] | None = None) -> None:
        self.model = model
        layout = model.layout
        self.names = layout.names
        init = model.init_states()[0]
        self.ncomp = len(init)
        self._succ: dict[Local, dict[int, Local]] = {}
        self._vars = [tuple(var_name(c, n) for n in self.names) for c in range(len(init))]
        self._last: tuple[int, Env | None, Local] = (-1, None, ())
        domains = layout.domains
        variables = tuple(Variable(var_name(c, n), domains[n])
                          for c in range(self.ncomp) for n in self.names)
        actions: list[Action] = []
        for c in range(self.ncomp):
            block = frozenset(var_name(c, n) for n in self.names)
            for i, act in enumerate(model.action_list):
                fair = not (act.event in ("lose", "dup") or act.message == "data")
                actions.append(Action(action_name(c, act.id), block, block,
                                      self._guard(c, i), self._update(c, i), fair=fair))
        props = self._properties(property_ids)
        groups: dict[int, list[tuple[str, ...]]] = {}
        for c, local in enumerate(init):
            groups.setdefault(local[0], []).append(tuple(var_name(c, n) for n in self.names))
        syms = tuple(Symmetry(f"negotiations initiated by host {'AB'[role]}", tuple(members))
                     for role, members in sorted(groups.items()) if len(members) > 1)
        initial = {var_name(c, n): v for c, local in enumerate(init)
                   for n, v in zip(self.names, local, strict=True)}
        self.system = TransitionSystem(variables, (initial,), tuple(actions), props, syms,
                                       name=f"quickmode {model.options.profile}",
                                       describe=self.describe_env)

    # -- semantics through the model's compiled successor function ---------------------------
    def local(self, c: int, env: Env) -> Local:
        last_c, last_env, last_local = self._last
        if last_env is env and last_c == c:  # the engine asks every action of a class in turn
            return last_local
        local = tuple([env[n] for n in self._vars[c]])
        self._last = (c, env, local)
        return local

    def successors(self, local: Local) -> dict[int, Local]:
        got = self._succ.get(local)
        if got is None:
            got = dict(self.model.local_successors(local))
            self._succ[local] = got
        return got

    def _guard(self, c: int, i: int) -> Callable[[Env], bool]:
        return lambda env: i in self.successors(self.local(c, env))

    def _update(self, c: int, i: int) -> Callable[[Env], dict[str, int]]:
        def update(env: Env) -> dict[str, int]:
            old = self.local(c, env)
            new = self.successors(old)[i]
            names = self._vars[c]
            return {names[j]: v for j, v in enumerate(new) if v != old[j]}
        return update

    def _properties(self, ids: tuple[str, ...] | None) -> tuple[Property, ...]:
        m = self.model
        blocks = [frozenset(var_name(c, n) for n in self.names) for c in range(self.ncomp)]

        def local_part(c: int, check: Callable[[Local], bool]) -> Part:
            return Part(blocks[c], lambda env: check(self.local(c, env)))

        props: list[Property] = []
        for pid in LOCAL_IDS:
            props.append(Property(pid, "always", tuple(
                local_part(c, m.local_checks[pid]) for c in range(self.ncomp))))
        # SPIs are an injective function of the position (spi_of), so two entries can only
        # clash within one component: the model's whole-state check, split exactly per part
        props.append(Property("qm.spi-unique", "always", tuple(
            Part(frozenset(var_name(c, n) for n in ("role", "iin", "rin")),
                 lambda env, c=c: self._spi_clash(c, env)) for c in range(self.ncomp))))
        props.append(Property("qm.no-deadlock", "no-deadlock", tuple(
            local_part(c, m.quiescent_check) for c in range(self.ncomp))))
        # as the legacy engine: prefer a terminal state where one side alone installed
        props.append(Property("qm.eventually-installed", "eventually", tuple(
            local_part(c, m.goal_check) for c in range(self.ncomp)), prefer=tuple(
            local_part(c, self._half) for c in range(self.ncomp))))
        props.append(Property("qm.reachable-installed", "sometimes", tuple(
            local_part(c, m.goal_check) for c in range(self.ncomp))))
        if ids is not None:
            props = [p for p in props if p.id in ids]
        return tuple(props)

    def _half(self, local: Local) -> bool:
        """Installed on exactly one side (both entries of that side installed)."""
        idx = self.model.layout.index
        i_inst = local[idx["iin"]] == INSTALLED and local[idx["iout"]] == INSTALLED
        r_inst = local[idx["rin"]] == INSTALLED and local[idx["rout"]] == INSTALLED
        return i_inst != r_inst

    def _spi_clash(self, comp: int, env: Env) -> bool:
        """``QMModel.spi_collisions`` on a state where only component ``comp`` holds entries."""
        idx = self.model.layout.index
        state: list[tuple[int, ...]] = []
        for c in range(self.ncomp):
            local = [0] * len(self.names)
            if c == comp:
                for n in ("role", "iin", "rin"):
                    local[idx[n]] = env[var_name(c, n)]
            state.append(tuple(local))
        return bool(self.model.spi_collisions(tuple(state)))

    # -- back to the model's terms -----------------------------------------------------------
    def state_of(self, env: Env) -> State:
        return tuple(self.local(c, env) for c in range(self.ncomp))

    def describe_env(self, env: Env) -> str:
        parts = []
        for d in self.model.describe(self.state_of(env)):
            parts.append(f"I {d['I.phase']} R {d['R.phase']} >{','.join(d['I->R'])} "
                         f"<{','.join(d['R->I'])}")
        return "\\n".join(parts)

    def steps(self, path: tuple[str, ...]) -> list[tuple[int, str, State]]:
        """The model's steps ``(component, action id, state)`` of an engine path (replayed)."""
        state = self.model.init_states()[0]
        out: list[tuple[int, str, State]] = [(-1, "", state)]
        for name in path:
            comp, action_id = parse_action(name)
            state = self.model.next_state(state, (comp, action_id))
            out.append((comp, action_id, state))
        return out
