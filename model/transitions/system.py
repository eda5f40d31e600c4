"""A finite transition system as data: what an explicit engine needs, and nothing of Quick Mode.

Modelled on stateright's ``Model`` trait, with the structure that reductions need made explicit:

- ``Variable``: a name and a finite domain ``0 .. size-1``.
- ``Action``: a name, a guard and an update, and the variables it ``reads`` and ``writes``.
  Guard and update see only the variables in ``reads`` (an engine passes exactly those, so an
  undeclared read fails loudly); the update returns new values of variables in ``writes``.
- ``Symmetry``: interchangeable members (blocks of variables laid out alike); ``renamed`` lists
  variables whose value names a member (an SPI or an index): permuting the members renames them.
- ``Property``: ``always`` / ``sometimes`` / ``eventually`` / ``no-deadlock`` with ``Part``s,
  each a test over the variables it reads (see ``Property``).
- ``Measure``: an optional declared rank (the sum of the measures' values) that every action
  strictly increases, so the state graph is acyclic; an engine checks the claim on every step it
  computes and falls back to its own acyclicity test when the claim fails.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

Env = Mapping[str, int]
Kind = Literal["always", "sometimes", "eventually", "no-deadlock"]


@dataclass(frozen=True)
class Variable:
    """A state variable with values ``0 .. size-1``."""

    name: str
    size: int


@dataclass(frozen=True)
class Action:
    """A named guarded action; ``guard`` and ``update`` read only ``reads``.

    ``fair``: strongly fair for liveness (an action enabled infinitely often on a cycle must be
    taken on it); loss and duplication by the network are typically not fair.
    """

    name: str
    reads: frozenset[str]
    writes: frozenset[str]
    guard: Callable[[Env], bool]
    update: Callable[[Env], Mapping[str, int]]
    fair: bool = True
    #: the variables the guard depends on (a subset of ``reads``; None: all of ``reads``). Only
    #: actions writing one of them can enable the action (partial-order reduction uses it).
    guard_reads: frozenset[str] | None = None

    @property
    def enabled_by(self) -> frozenset[str]:
        """The variables whose change can enable or disable the action."""
        return self.reads if self.guard_reads is None else self.guard_reads


@dataclass(frozen=True)
class Symmetry:
    """Interchangeable members: ``members[i][j]`` plays part ``j`` in member ``i``.

    A value ``v`` of a ``renamed`` variable with ``base <= v < base + len(members)`` names member
    ``v - base``; permuting the members maps it to the new position of that member.
    """

    name: str
    members: tuple[tuple[str, ...], ...]
    renamed: tuple[str, ...] = ()
    base: int = 0


@dataclass(frozen=True)
class Part:
    """A test over the variables in ``reads`` (it receives exactly those)."""

    reads: frozenset[str]
    test: Callable[[Env], bool]


@dataclass(frozen=True)
class Measure:
    """A term of a declared rank: a value computed from the variables in ``reads``."""

    reads: frozenset[str]
    value: Callable[[Env], int]


@dataclass(frozen=True)
class Property:
    """A property; its meaning depends on ``kind``.

    - ``always``: no reachable state satisfies any part's test (tests describe bad states);
    - ``sometimes``: some reachable state satisfies some part's test (goal states);
    - ``eventually``: every maximal fair path reaches states where the test of every part holds:
      refuted by a reachable terminal state where one fails, or by a fair cycle on which one
      fails throughout;
    - ``no-deadlock``: every reachable terminal state satisfies all parts (no parts: no state
      may be terminal).
    """

    id: str
    kind: Kind
    parts: tuple[Part, ...] = ()
    #: terminal-state kinds: among refuting terminal states, report one where some ``prefer``
    #: part holds if there is one (a more telling witness; the verdict does not change)
    prefer: tuple[Part, ...] = ()

    @property
    def reads(self) -> frozenset[str]:
        out: frozenset[str] = frozenset()
        for p in self.parts + self.prefer:
            out |= p.reads
        return out


@dataclass(frozen=True)
class TransitionSystem:
    """Variables, initial states, actions, symmetries and properties."""

    variables: tuple[Variable, ...]
    initial: tuple[Mapping[str, int], ...]
    actions: tuple[Action, ...]
    properties: tuple[Property, ...] = ()
    symmetries: tuple[Symmetry, ...] = ()
    name: str = "system"
    describe: Callable[[Env], str] | None = field(default=None, compare=False)
    #: the declared rank: every action strictly increases the sum of these (checked by engines)
    ranks: tuple[Measure, ...] = ()

    def __post_init__(self) -> None:
        check(self)

    @property
    def domains(self) -> dict[str, int]:
        return {v.name: v.size for v in self.variables}


def check(system: TransitionSystem) -> None:
    """Raise ValueError on an ill-formed system (unknown names, bad domains, odd symmetries)."""
    names = [v.name for v in system.variables]
    if len(set(names)) != len(names):
        raise ValueError("duplicate variable names")
    sizes = {v.name: v.size for v in system.variables}
    if any(s < 1 for s in sizes.values()):
        raise ValueError("every domain needs at least one value")
    for init in system.initial:
        if set(init) != set(sizes) or any(not 0 <= init[n] < sizes[n] for n in sizes):
            raise ValueError(f"initial state {dict(init)} does not assign every variable in range")
    seen_actions: set[str] = set()
    for a in system.actions:
        if a.name in seen_actions:
            raise ValueError(f"duplicate action name {a.name}")
        seen_actions.add(a.name)
        if not (a.reads | a.writes) <= set(sizes):
            unknown = sorted((a.reads | a.writes) - set(sizes))
            raise ValueError(f"action {a.name}: unknown variables {unknown}")
        if not a.enabled_by <= a.reads:
            raise ValueError(f"action {a.name}: guard_reads must be a subset of reads")
    for p in system.properties:
        if not p.reads <= set(sizes):
            raise ValueError(f"property {p.id}: unknown variables {sorted(p.reads - set(sizes))}")
    for m in system.ranks:
        if not m.reads <= set(sizes):
            raise ValueError(f"rank measure: unknown variables {sorted(m.reads - set(sizes))}")
    used: set[str] = set()
    for sym in system.symmetries:
        width = {len(m) for m in sym.members}
        if len(width) > 1:
            raise ValueError(f"symmetry {sym.name}: members differ in length")
        for j in range(width.pop() if width else 0):
            if len({sizes[m[j]] for m in sym.members}) != 1:
                raise ValueError(f"symmetry {sym.name}: part {j} has different domains")
        flat = [n for m in sym.members for n in m]
        if used & set(flat) or len(set(flat)) != len(flat) or \
                not set(flat) | set(sym.renamed) <= set(sizes):
            raise ValueError(f"symmetry {sym.name}: variables overlap or are unknown")
        used |= set(flat)
