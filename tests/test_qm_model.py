"""The Quick Mode transition system: compiled actions agree with the expression semantics."""

from __future__ import annotations

import pytest

from qmcheck.model.quickmode.compiled import QMModel
from qmcheck.model.quickmode.expressions import and_, const, eq, evaluate, ite, or_, to_python, var
from qmcheck.model.quickmode.options import QMOptions, options_from_mapping
from qmcheck.model.quickmode.state import Layout
from qmcheck.model.values.errors import InputError

CONFIGS = [
    QMOptions(),
    QMOptions(profile="racoon", loss=True, reorder=True),
    QMOptions(profile="libreswan", loss=True, duplicate=True, reorder=True),
    QMOptions(profile="strongswan", loss=True, commit_bit=True, eager_timers=True),
]


def reachable_locals(model: QMModel) -> list[tuple[int, ...]]:
    start = [model.layout.initial(0)]
    seen = set(start)
    todo = list(start)
    while todo:
        s = todo.pop()
        for _, t in model.local_successors(s):
            if t not in seen:
                seen.add(t)
                todo.append(t)
    return sorted(seen)


@pytest.mark.parametrize("options", CONFIGS, ids=lambda o: f"{o.profile}-{o.label()}")
def test_compiled_successors_equal_reference_semantics(options: QMOptions) -> None:
    model = QMModel(options)
    locals_ = reachable_locals(model)
    assert len(locals_) > 10
    for local in locals_:
        assert model.local_successors(local) == model.reference_successors(local)


@pytest.mark.parametrize("options", CONFIGS, ids=lambda o: f"{o.profile}-{o.label()}")
def test_every_reachable_value_is_inside_its_declared_domain(options: QMOptions) -> None:
    model = QMModel(options)
    domains = model.layout.domains
    for local in reachable_locals(model):
        for name, value in zip(model.layout.names, local, strict=True):
            assert 0 <= value < domains[name], (name, value)


def test_action_ids_are_unique_and_every_action_is_named() -> None:
    model = QMModel(QMOptions(loss=True, duplicate=True, reorder=True, commit_bit=True))
    ids = [a.id for a in model.action_list]
    assert len(ids) == len(set(ids))
    names = {a.name for a in model.action_list}
    for required in ("i_send_m1", "r_recv_m1", "i_recv_m2", "r_recv_m3", "i_retransmit_m1",
                     "r_retransmit_m2", "i_give_up", "r_give_up", "lose_ir", "lose_ri",
                     "dup_ir", "dup_ri", "i_recv_m4", "i_retransmit_m3", "i_send_data",
                     "r_send_data", "i_recv_dup_m2"):
        assert required in names


def test_expressions_compile_like_they_evaluate() -> None:
    e = ite(and_(eq(var("x"), 1), or_(eq(var("y"), 2), eq(var("y"), 3))), const(7), var("y"))
    for x in range(3):
        for y in range(4):
            env = {"x": x, "y": y}
            compiled = eval(to_python(e, {"x": "x", "y": "y"}), {}, env)
            assert compiled == evaluate(e, env)


def test_next_state_rejects_a_disabled_step() -> None:
    model = QMModel(QMOptions())
    state = model.init_states()[0]
    with pytest.raises(ValueError):
        model.next_state(state, (0, "r_recv_m3@0"))
    assert model.actions(state) == [(0, "i_send_m1")]


def test_the_initial_state_has_nothing_installed() -> None:
    layout = Layout.for_options(QMOptions())
    d = layout.describe(layout.initial(0))
    assert d["I.inbound"] == d["R.inbound"] == "absent"
    assert d["I->R"] == d["R->I"] == []


@pytest.mark.parametrize("bad", [
    {"profile": "openbsd"}, {"retransmits": -1}, {"negotiations": 0}, {"retransmits": 99},
    {"negotiations": True},
])
def test_bad_options_are_input_errors(bad: dict[str, object]) -> None:
    with pytest.raises(InputError):
        QMOptions(**bad)  # type: ignore[arg-type]


def test_scenario_mapping_errors_name_the_source() -> None:
    with pytest.raises(InputError) as info:
        options_from_mapping({"retransmit": 2}, source="site.yaml")
    assert info.value.source == "site.yaml"
    assert options_from_mapping({"commit-bit": True}).commit_bit
