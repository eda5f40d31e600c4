"""The one small interface every engine uses: initial states, actions, next state, properties.

A state is a tuple of components (one per negotiation), each a tuple of small integers. A step is
``(component, action id)``. Properties are checked as local predicates over one component (most
``qm.*`` ids) or as functions of the whole state. Engines may use the optional structure the
interface exposes: components are independent (partial-order reduction) and interchangeable
when they have the same role (symmetry reduction, via ``canonical``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from qmcheck.model.quickmode.expressions import Expr

Local = tuple[int, ...]
State = tuple[Local, ...]
Step = tuple[int, str]
Kind = Literal["always", "sometimes", "eventually", "no-deadlock"]


@dataclass(frozen=True)
class PropertySpec:
    """A property as the model states it.

    ``always``: ``local_bad`` must hold in no component of any reachable state (``state_bad`` for
    whole-state checks). ``sometimes``: some reachable component satisfies ``local_goal``.
    ``eventually``: on every fair path every component reaches ``local_goal``.
    ``no-deadlock``: every state without successors satisfies ``state_final``.
    """

    id: str
    kind: Kind
    local_bad: Expr | None = None
    local_goal: Expr | None = None
    state_bad: Callable[[State], bool] | None = None


class Model(Protocol):
    """What an engine needs from a transition system."""

    def init_states(self) -> list[State]:
        """The initial states (canonical)."""
        ...

    def actions(self, state: State) -> list[Step]:
        """The enabled steps in ``state``."""
        ...

    def next_state(self, state: State, step: Step) -> State:
        """The state after ``step`` (raises ValueError when the step is not enabled)."""
        ...

    def properties(self) -> Sequence[PropertySpec]:
        """The properties to check."""
        ...
