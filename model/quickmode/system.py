"""The Quick Mode model (``QMModel``) as a generic ``TransitionSystem`` (model/transitions).

Everything is derived from the model's ``Layout`` and action list, so variables and actions
added to them are picked up without changes here:

- variables: ``n{c}.{name}`` for each name of ``Layout.names`` and component ``c``, and every
  name of ``Layout.shared_names`` once (the kernels' SPI allocators), with ``Layout.domains``;
- actions: ``n{c}:{action id}``. ``writes``: the variables the action assigns (with
  reordering, every slot of a channel it writes: the slots are kept sorted). ``reads``: the
  component's whole block plus the shared variables the action reads (a sound
  over-approximation: the engine then caches one effect table per component and shared
  subset). An action that writes a shared variable is thereby dependent with every action of
  any component that reads or writes it (properties/engines/stubborn.py, D1/D2).
  ``guard_reads``: the block plus the shared variables the guard reads (an allocation step's
  guard reads only its component, so other allocations cannot enable it). Guards and
  updates are compiled from the action's expressions; ``fair`` is false for loss,
  duplication and ESP data (the network and the traffic owe nothing);
- symmetry: all negotiations are interchangeable (``QMModel.canonical`` sorts them: no action
  reads a component's position, SPIs come from the allocators, so nothing needs renaming);
- properties: the qm.* ids of ``QMModel.local_checks`` (one part per component, reading its
  block), ``qm.spi-unique`` (one part per pair of components, reading ``live_reads``),
  ``qm.no-deadlock``, ``qm.eventually-installed`` and ``qm.reachable-installed``;
- ranks: ``QMModel.rank`` of each component (the engine checks that every step raises it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from itertools import combinations

from qmcheck.model.quickmode.compiled import QMModel, live_entries, live_reads
from qmcheck.model.quickmode.expressions import to_python, variables
from qmcheck.model.quickmode.interface import Local, State
from qmcheck.model.quickmode.state import INSTALLED
from qmcheck.model.transitions.system import (
    Action,
    Env,
    Measure,
    Part,
    Property,
    Symmetry,
    TransitionSystem,
    Variable,
)

#: Events and messages whose actions need no fairness (``Action.event`` / ``.message``).
UNFAIR_EVENTS = ("lose", "dup")
UNFAIR_MESSAGES = ("data",)


def var_name(comp: int, name: str) -> str:
    """The system variable of ``name`` in component ``comp`` (0-based)."""
    return f"n{comp}.{name}"


def action_name(comp: int, action_id: str) -> str:
    """The system action of ``action_id`` in component ``comp``."""
    return f"n{comp}:{action_id}"


def parse_action(name: str) -> tuple[int, str]:
    """``(component, action id)`` of a system action name."""
    comp, _, action_id = name.partition(":")
    return int(comp[1:]), action_id


def _sorted_channel(env: Env, new: dict[str, int], names: tuple[str, ...]) -> dict[str, int]:
    """``new`` with the channel ``names`` re-sorted (occupied slots first, ascending)."""
    values = sorted(v for v in (new.get(n, env[n]) for n in names) if v)
    values += [0] * (len(names) - len(values))
    new.update(zip(names, values, strict=True))
    return new


class QuickModeSystem:
    """The generic system of one ``QMModel``, and the way back to the model's states and steps."""

    def __init__(self, model: QMModel) -> None:
        self.model = model
        layout = model.layout
        self.names = layout.names
        self.shared = tuple(model.shared_names)
        init = model.init_states()[0]
        self.ncomp = len(init) - 1
        domains = layout.domains
        self.blocks = [tuple(var_name(c, n) for n in self.names) for c in range(self.ncomp)]
        variables = tuple(Variable(v, domains[n]) for block in self.blocks
                          for v, n in zip(block, self.names, strict=True))
        variables += tuple(Variable(n, domains[n]) for n in self.shared)
        actions = tuple(a for c in range(self.ncomp) for a in self._actions(c))
        initial = {v: x for c, block in enumerate(self.blocks)
                   for v, x in zip(block, init[c], strict=True)}
        initial.update(zip(self.shared, init[-1], strict=True))
        syms = (Symmetry("negotiations", tuple(self.blocks)),) if self.ncomp > 1 else ()
        ranks = tuple(Measure(frozenset(block), self._local_fn(c, model.rank))
                      for c, block in enumerate(self.blocks))
        self.system = TransitionSystem(variables, (initial,), actions, self._properties(),
                                       syms, name=f"quickmode {model.options.profile}",
                                       describe=self.describe_env, ranks=ranks)

    # -- actions -----------------------------------------------------------------------------
    def _slots(self, c: int) -> dict[str, str]:
        slot = {n: f"e[{var_name(c, n)!r}]" for n in self.names}
        slot.update({n: f"e[{n!r}]" for n in self.shared})
        return slot

    def _key(self, c: int, name: str) -> str:
        return name if name in self.shared else var_name(c, name)

    def _channels(self, c: int) -> list[tuple[str, ...]]:
        k = self.model.layout.slots
        return [tuple(var_name(c, f"{ch}{j}") for j in range(k)) for ch in "ab"]

    def _actions(self, c: int) -> list[Action]:
        model = self.model
        slot = self._slots(c)
        block = frozenset(self.blocks[c])
        channels = self._channels(c) if model.options.reorder else []
        src: list[str] = []
        for i, act in enumerate(model.action_list):
            items = ", ".join(f"{self._key(c, n)!r}: {to_python(x, slot)}"
                              for n, x in act.updates)
            src.append(f"def g{i}(e):\n    return bool({to_python(act.guard, slot)})")
            src.append(f"def u{i}(e):\n    return {{{items}}}")
        namespace: dict[str, object] = {}
        exec("\n".join(src), namespace)  # source built from the model's expressions
        out: list[Action] = []
        for i, act in enumerate(model.action_list):
            writes = {self._key(c, n) for n in act.writes}
            update: Callable[[Env], Mapping[str, int]] = namespace[f"u{i}"]  # type: ignore[assignment]
            for chan in channels:
                if writes & set(chan):
                    writes |= set(chan)
                    update = _resorting(update, chan)
            reads = block | {n for n in act.reads if n in self.shared}
            guard_reads = block | (variables(act.guard) & set(self.shared))
            fair = act.event not in UNFAIR_EVENTS and act.message not in UNFAIR_MESSAGES
            out.append(Action(action_name(c, act.id), frozenset(reads), frozenset(writes),
                              namespace[f"g{i}"], update, fair=fair,  # type: ignore[arg-type]
                              guard_reads=frozenset(guard_reads)))
        return out

    # -- properties --------------------------------------------------------------------------
    def _local_fn(self, c: int, fn: Callable[[Local], object]) -> Callable[[Env], int]:
        block = self.blocks[c]
        return lambda env: int(fn(tuple([env[v] for v in block])))  # type: ignore[arg-type]

    def _parts(self, fn: Callable[[Local], object]) -> tuple[Part, ...]:
        return tuple(Part(frozenset(self.blocks[c]), self._local_fn(c, fn))  # type: ignore[arg-type]
                     for c in range(self.ncomp))

    def _properties(self) -> tuple[Property, ...]:
        m = self.model
        props = [Property(pid, "always", self._parts(check))
                 for pid, check in m.local_checks.items() if pid != "goal"]
        groups = list(combinations(range(self.ncomp), 2)) if self.ncomp > 1 else [(0,)]
        life, collide = m.layout.lifecycle, m.layout.collide
        props.append(Property("qm.spi-unique", "always", tuple(
            Part(frozenset(var_name(c, n) for c in g for n in live_reads(life, collide)),
                 self._clash(g, life, collide))
            for g in groups)))
        props.append(Property("qm.no-deadlock", "no-deadlock", self._parts(m.quiescent_check)))
        # prefer a terminal state where one side alone installed (the more telling witness)
        props.append(Property("qm.eventually-installed", "eventually",
                              self._parts(m.goal_check), prefer=self._parts(self._half)))
        props.append(Property("qm.reachable-installed", "sometimes", self._parts(m.goal_check)))
        return tuple(props)

    @staticmethod
    def _clash(group: tuple[int, ...], lifecycle: bool,
               collide: bool = False) -> Callable[[Env], bool]:
        def test(env: Env) -> bool:
            seen: set[tuple[int, int]] = set()
            for c in group:
                for key in live_entries(lambda n, c=c: env[var_name(c, n)],  # type: ignore[misc]
                                        lifecycle, collide):
                    if key in seen:
                        return True
                    seen.add(key)
            return False
        return test

    def _half(self, local: Local) -> bool:
        """Installed on exactly one side (both entries of that side installed)."""
        idx = self.model.layout.index
        i_inst = local[idx["iin"]] == INSTALLED and local[idx["iout"]] == INSTALLED
        r_inst = local[idx["rin"]] == INSTALLED and local[idx["rout"]] == INSTALLED
        return i_inst != r_inst

    # -- back to the model's terms -----------------------------------------------------------
    def state_of(self, env: Env) -> State:
        """The model's state (components, then the kernel) of a system state."""
        comps = tuple(tuple(env[v] for v in block) for block in self.blocks)
        return (*comps, tuple(env[n] for n in self.shared))

    def describe_env(self, env: Env) -> str:
        parts = []
        for d in self.model.describe(self.state_of(env)):
            if "negotiation" in d:
                parts.append(f"I {d['I.phase']} R {d['R.phase']} >{','.join(d['I->R'])} "
                             f"<{','.join(d['R->I'])}")
        return "\\n".join(parts)

    def steps(self, path: tuple[str, ...]) -> list[tuple[int, str, State]]:
        """The model's steps ``(component, action id, state)`` of a system path, replayed by the
        model's own compiled successor function; the first entry is ``(-1, "", initial)``."""
        state = self.model.init_states()[0]
        out: list[tuple[int, str, State]] = [(-1, "", state)]
        for name in path:
            comp, action_id = parse_action(name)
            state = self.model.next_state(state, (comp, action_id))
            out.append((comp, action_id, state))
        return out


def _resorting(update: Callable[[Env], Mapping[str, int]], chan: tuple[str, ...]
               ) -> Callable[[Env], Mapping[str, int]]:
    def resorted(env: Env) -> Mapping[str, int]:
        return _sorted_channel(env, dict(update(env)), chan)
    return resorted
