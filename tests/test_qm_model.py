"""The Quick Mode transition system v2: compiled actions agree with the expression semantics,
domains, acyclicity (the rank), read/write sets, and the daemon/kernel structure."""

from __future__ import annotations

import pytest

from qmcheck.model.quickmode.compiled import QMModel
from qmcheck.model.quickmode.expressions import and_, const, eq, evaluate, ite, or_, to_python, var
from qmcheck.model.quickmode.interface import State
from qmcheck.model.quickmode.options import QMOptions, options_from_mapping
from qmcheck.model.values.errors import InputError

CONFIGS = [
    QMOptions(),
    QMOptions(profile="racoon", loss=True, reorder=True, commit_bit=True),
    QMOptions(profile="libreswan", loss=True, duplicate=True, reorder=True),
    QMOptions(profile="strongswan", loss=True, commit_bit=True, timers="patient"),
    QMOptions(profile="hpux", simultaneous=True, outcome="no-proposal-chosen", loss=True),
    QMOptions(profile="hpux", negotiations=2, timers="patient"),
]


def reachable(model: QMModel, limit: int = 20000) -> list[State]:
    start = model.init_states()[0]
    seen = {start}
    todo = [start]
    while todo and len(seen) < limit:
        s = todo.pop()
        for _, _, t in model.successors(s):
            if t not in seen:
                seen.add(t)
                todo.append(t)
    return sorted(seen)


@pytest.mark.parametrize("options", CONFIGS, ids=lambda o: f"{o.profile}-{o.label()}")
def test_compiled_successors_equal_reference_semantics(options: QMOptions) -> None:
    model = QMModel(options)
    states = reachable(model, 3000)
    assert len(states) > 10
    for state in states:
        for local in state[:-1]:
            assert model.local_successors(local, state[-1]) == \
                model.reference_successors(local, state[-1])


@pytest.mark.parametrize("options", CONFIGS, ids=lambda o: f"{o.profile}-{o.label()}")
def test_values_stay_in_their_domains_and_every_step_increases_the_rank(
        options: QMOptions) -> None:
    """The rank function is what makes the model acyclic (the engines rely on it)."""
    model = QMModel(options)
    domains = model.layout.domains
    names = model.layout.names + model.layout.shared_names
    for state in reachable(model, 5000):
        flat = [v for c in state[:-1] for v in c]
        assert len(flat) == len(state[:-1]) * len(model.layout.names)
        for local in state[:-1]:
            for name, value in zip(names, local + state[-1], strict=True):
                assert 0 <= value < domains[name], (name, value)
        for c, _, t in model.successors(state):
            assert model.rank(t[c]) > model.rank(state[c])


def test_read_and_write_sets_name_the_shared_allocator() -> None:
    model = QMModel(QMOptions(loss=True, duplicate=True, reorder=True, commit_bit=True))
    ids = [a.id for a in model.action_list]
    assert len(ids) == len(set(ids))
    writers = {a.name for a in model.action_list if a.writes & {"kA", "kB"}}
    # exactly the operations that create an inbound entry allocate an SPI
    assert writers == {"i_start_0_larval-in", "r_m1_0_larval-in", "i_m2_0_install-in",
                       "r_m3_0_install-in"}
    for a in model.action_list:
        assert a.writes <= set(model.layout.names) | {"kA", "kB"}
    by_name = {a.name: a for a in model.action_list}
    assert "iks" in by_name["i_m4_0_install-out"].reads  # the SPI learnt from message 2
    assert {"ios", "iout"} <= by_name["i_m4_0_install-out"].writes
    assert not by_name["i_send_esp"].writes & {"kA", "kB", "iin", "rin"}


def test_each_operation_is_its_own_step_and_esp_travels_apart() -> None:
    model = QMModel(QMOptions(profile="strongswan"))
    names = {a.name for a in model.action_list}
    assert {"i_m2_0_install-in", "i_m2_1_install-out", "i_m2_2_send-m3", "r_m3_0_install-in",
            "r_m3_1_install-out", "i_send_esp", "r_recv_esp", "r_dup_m1"} <= names
    esp = [a for a in model.action_list if a.event == "esp"]
    assert all(not any(n[0] in "ab" and n[1:].isdigit() for n in a.reads) for a in esp)


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
    assert model.actions(state) == [(0, "i_start")]


def test_the_initial_state_has_nothing_installed_and_fresh_allocators() -> None:
    model = QMModel(QMOptions())
    d = model.describe(model.init_states()[0])
    assert d[0]["I.inbound"] == d[0]["R.inbound"] == "absent (no SPI)"
    assert d[0]["I->R"] == d[0]["R->I"] == []
    assert d[-1] == {"kernel": {"A next SPI": 1, "B next SPI": 1}}


def test_the_allocator_is_shared_by_negotiations() -> None:
    model = QMModel(QMOptions(negotiations=2))
    s = model.init_states()[0]
    for comp in (0, 1):
        s = model.next_state(s, (comp, "i_start"))
        s = model.next_state(s, (comp, "i_start_0_larval-in"))
    spis = sorted(c[model.layout.index["iis"]] for c in s[:-1])
    assert spis == [1, 2] and s[-1] == (3, 1)
    const = QMModel(QMOptions(profile="mutant-constant-spi", negotiations=2))
    s = const.init_states()[0]
    for comp in (0, 1):
        s = const.next_state(s, (comp, "i_start"))
        s = const.next_state(s, (comp, "i_start_0_larval-in"))
    assert const.spi_collisions(s) == ["A"]


@pytest.mark.parametrize("bad", [
    {"profile": ""}, {"retransmits": -1}, {"negotiations": 0}, {"retransmits": 99},
    {"negotiations": True}, {"timers": "lazy"}, {"outcome": "maybe"}, {"max_losses": 9},
])
def test_bad_options_are_input_errors(bad: dict[str, object]) -> None:
    with pytest.raises(InputError):
        QMOptions(**bad)  # type: ignore[arg-type]


def test_unknown_profile_is_an_input_error() -> None:
    with pytest.raises(InputError):
        QMModel(QMOptions(profile="openbsd"))


def test_scenario_mapping_errors_name_the_source() -> None:
    with pytest.raises(InputError) as info:
        options_from_mapping({"retransmit": 2}, source="site.yaml")
    assert info.value.source == "site.yaml"
    assert options_from_mapping({"commit-bit": True}).commit_bit
    assert options_from_mapping({"timers": "patient"}).timers == "patient"


def test_profile_files_give_the_negotiation_rules_of_the_semantics() -> None:
    """The ``selectors:`` section of each built-in file is what peers/negotiate use."""
    from qmcheck.model.quickmode.options import PROFILES
    from qmcheck.model.quickmode.profiles import negotiation_options
    from qmcheck.model.semantics.negotiation import PROFILE_OPTIONS

    for name in PROFILES:
        assert negotiation_options(name) == PROFILE_OPTIONS[name], name


def test_profile_files_cite_sources_and_bad_files_name_line_and_key(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from qmcheck.model.quickmode.options import PROFILES
    from qmcheck.model.quickmode.profiles import load_profile

    for name in PROFILES:
        prof = load_profile(name)
        assert {"initiator", "responder", "selectors", "commit-bit"} <= set(prof.sources)
    cases = {
        "profile: x\nbased-on: hpux\ncommit-bit: maybe\n": (3, "commit-bit"),
        "profile: x\nbased-on: hpux\nresponder:\n  retransmits: many\n":
            (4, "responder.retransmits"),
        "profile: x\nbased-on: nowhere\n": (2, "based-on"),
        "profile: x\nbased-on: hpux\ncolour: red\n": (3, "colour"),
        "profile: x\n": (1, "selectors.initiator-ids"),
        # a misspelt section or key is named at its own line, with the key it resembles
        "profile: x\nbased-on: hpux\nlifecycel:\n  dpd: true\n": (3, "lifecycel"),
        "profile: x\nbased-on: hpux\nselectors:\n  initator-ids: policy\n":
            (4, "selectors.initator-ids"),
    }
    for i, (text, (line, key)) in enumerate(cases.items()):
        path = tmp_path / f"p{i}.yaml"
        path.write_text(text)
        with pytest.raises(InputError) as info:
            load_profile(str(path))
        assert (info.value.source, info.value.line, info.value.field) == (str(path), line, key)
        hint = {"lifecycel": "lifecycle", "selectors.initator-ids": "initiator-ids"}.get(key)
        if hint:
            assert f"did you mean '{hint}'" in str(info.value)
