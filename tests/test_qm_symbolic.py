"""One definition, two back-ends: the action expressions interpreted by z3 agree with the
compiled explicit semantics, and a 2-step bounded model check finds the mutant's violation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import z3

from qmcheck.model.quickmode.compiled import QMModel
from qmcheck.model.quickmode.expressions import fold
from qmcheck.model.quickmode.options import QMOptions


def _b(x: Any) -> Any:
    return x if z3.is_bool(x) else x != 0


def _i(x: Any) -> Any:
    return z3.If(x, 1, 0) if z3.is_bool(x) else x


class Z3Ops:
    """Booleans are z3 Bools, values z3 Ints; each operation coerces as it needs."""

    def const(self, value: int) -> Any:
        return z3.IntVal(value)

    def eq(self, a: Any, b: Any) -> Any:
        return _i(a) == _i(b)

    def ne(self, a: Any, b: Any) -> Any:
        return _i(a) != _i(b)

    def lt(self, a: Any, b: Any) -> Any:
        return _i(a) < _i(b)

    def le(self, a: Any, b: Any) -> Any:
        return _i(a) <= _i(b)

    def add(self, a: Any, b: Any) -> Any:
        return _i(a) + _i(b)

    def and_(self, xs: Sequence[Any]) -> Any:
        return z3.And(*[_b(x) for x in xs])

    def or_(self, xs: Sequence[Any]) -> Any:
        return z3.Or(*[_b(x) for x in xs])

    def not_(self, a: Any) -> Any:
        return z3.Not(_b(a))

    def ite(self, c: Any, a: Any, b: Any) -> Any:
        return z3.If(_b(c), _i(a), _i(b))


def step_formula(model: QMModel, pre: dict[str, Any], post: dict[str, Any],
                 pick: dict[int, Any]) -> Any:
    """One step: exactly one action indicator is true; its guard holds, its updates apply."""
    ops = Z3Ops()
    clauses = []
    for i, action in enumerate(model.action_list):
        new = dict(action.updates)
        frame = [post[n] == (_i(fold(new[n], pre, ops)) if n in new else pre[n])
                 for n in model.layout.names + model.layout.shared_names]
        clauses.append(z3.Implies(pick[i], z3.And(_b(fold(action.guard, pre, ops)), *frame)))
    return z3.And(*clauses, z3.PbEq([(p, 1) for p in pick.values()], 1))


def test_z3_interpretation_agrees_with_the_compiled_successors() -> None:
    model = QMModel(QMOptions(profile="racoon", loss=True, commit_bit=True))
    ops = Z3Ops()
    names = model.layout.names + model.layout.shared_names
    local = model.layout.initial(0) + model.layout.initial_shared()
    frontier = [local]
    seen = {local}
    checked = 0
    k = len(model.layout.names)
    while frontier and checked < 60:
        local = frontier.pop(0)
        env = {n: z3.IntVal(v) for n, v in zip(names, local, strict=True)}
        succ = model.local_successors(local[:k], local[k:])
        enabled = {a for a, _, _ in succ}
        for i, action in enumerate(model.action_list):
            assert z3.is_true(z3.simplify(_b(fold(action.guard, env, ops)))) == (i in enabled)
        for i, new_local, new_kernel in succ:
            upd = dict(model.action_list[i].updates)
            got = tuple(z3.simplify(_i(fold(upd[n], env, ops))).as_long() if n in upd else v
                        for n, v in zip(names, local, strict=True))
            assert got == new_local + new_kernel
            if got not in seen:
                seen.add(got)
                frontier.append(got)
        checked += 1
    assert checked == 60


def test_bounded_model_check_finds_the_mutant_in_seven_steps() -> None:
    """acquire, three start operations (send-m1 last), receive, two installs."""
    model = QMModel(QMOptions(profile="mutant-r-install-at-m1"))
    names = model.layout.names + model.layout.shared_names
    states = [{n: z3.Int(f"{n}_{k}") for n in names} for k in range(8)]
    solver = z3.Solver()
    init = model.layout.initial(0) + model.layout.initial_shared()
    solver.add(*[states[0][n] == v for n, v in zip(names, init, strict=True)])
    for k in range(7):
        pick = {i: z3.Bool(f"act_{k}_{i}") for i in range(len(model.action_list))}
        solver.add(step_formula(model, states[k], states[k + 1], pick))
    bad = model.local_preds["qm.responder-installs-after-msg3"]
    for depth in (6, 7):
        solver.push()
        solver.add(_b(fold(bad, states[depth], Z3Ops())))
        result = solver.check()
        solver.pop()
        assert result == (z3.sat if depth == 7 else z3.unsat)
