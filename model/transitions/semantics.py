"""The concrete semantics of a transition system on dictionaries: the oracle paths are replayed on.

Independent of the packed encoding and of every reduction: a guard or an update sees exactly the
variables its action declares it reads (an undeclared read is an error, not a silent zero).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from qmcheck.model.transitions.system import Action, Env, Part, TransitionSystem


def _view(env: Env, names: Iterable[str]) -> dict[str, int]:
    return {n: env[n] for n in names}


def is_enabled(action: Action, env: Env) -> bool:
    """The guard of ``action`` on ``env``."""
    try:
        return bool(action.guard(_view(env, action.reads)))
    except KeyError as e:
        raise ValueError(f"action {action.name} reads undeclared variable {e}") from None


def apply(system: TransitionSystem, action: Action, env: Env) -> dict[str, int]:
    """The state after ``action`` (which must be enabled)."""
    try:
        new = action.update(_view(env, action.reads))
    except KeyError as e:
        raise ValueError(f"action {action.name} reads undeclared variable {e}") from None
    sizes = system.domains
    out = dict(env)
    for name, value in new.items():
        if name not in action.writes:
            raise ValueError(f"action {action.name} writes undeclared variable {name}")
        if not 0 <= value < sizes[name]:
            raise ValueError(f"action {action.name}: {name} = {value} is outside "
                             f"0..{sizes[name] - 1}")
        out[name] = value
    return out


def successors(system: TransitionSystem, env: Env) -> list[tuple[str, dict[str, int]]]:
    """Every enabled action with its next state, in declaration order."""
    return [(a.name, apply(system, a, env)) for a in system.actions if is_enabled(a, env)]


def test(part: Part, env: Env) -> bool:
    """A property part's test on ``env``."""
    try:
        return bool(part.test(_view(env, part.reads)))
    except KeyError as e:
        raise ValueError(f"a property part reads undeclared variable {e}") from None


def replay(system: TransitionSystem, initial: Mapping[str, int], path: Iterable[str]
           ) -> list[dict[str, int]]:
    """The states along ``path`` from ``initial``; ValueError if a step is not enabled."""
    by_name = {a.name: a for a in system.actions}
    env = dict(initial)
    states = [env]
    for i, name in enumerate(path):
        action = by_name.get(name)
        if action is None:
            raise ValueError(f"step {i}: no action {name!r}")
        if not is_enabled(action, env):
            raise ValueError(f"step {i}: {name} is not enabled")
        env = apply(system, action, env)
        states.append(env)
    return states
