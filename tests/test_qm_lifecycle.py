"""The SA lifecycle (issue 12, model/quickmode/lifecycle.py): off by default, compiled = the
reference semantics, acyclic, both engines agree, every counterexample replays."""

from __future__ import annotations

from collections import deque
from pathlib import Path

import pytest

from qmcheck.model.quickmode.actions import build_actions
from qmcheck.model.quickmode.compiled import QMModel
from qmcheck.model.quickmode.options import PROFILES, QMOptions
from qmcheck.model.quickmode.state import LIFE
from qmcheck.model.values.errors import InputError
from qmcheck.properties.catalogue import LIFECYCLE_IDS
from qmcheck.properties.checks.protocol import check_protocol
from qmcheck.properties.checks.protocol_smt import smt_check
from qmcheck.properties.cli.main import main
from qmcheck.properties.traces.counterexample import load_trace, replay
from qmcheck.properties.traces.render import render_mermaid

PATIENT = {"rekeys": 1, "timers": "patient"}


@pytest.mark.parametrize("profile", PROFILES)
def test_off_by_default_the_model_is_the_old_one(profile: str) -> None:
    opts = QMOptions(profile=profile)
    model = QMModel(opts)
    assert not opts.lifecycle
    assert not set(model.layout.names) & {n for n, _ in LIFE}
    assert [a.id for a in model.action_list] == [a.id for a in build_actions(opts)]
    assert "rekeys" not in opts.to_dict() and ",K=" not in opts.label()
    ids = [r.property for r in check_protocol(opts, ["qm.no-orphan", *LIFECYCLE_IDS]).results]
    assert ids == ["qm.no-orphan"]


def _reachable(model: QMModel, limit: int = 20_000) -> list[tuple[tuple, int, tuple]]:
    """Every (state, action, next state) of the reachable graph (one component)."""
    start = model.init_states()[0]
    seen = {start}
    queue = deque([start])
    edges = []
    while queue and len(seen) < limit:
        s = queue.popleft()
        for c, a, t in model.successors(s):
            edges.append((s, (c, a), t))
            if t not in seen:
                seen.add(t)
                queue.append(t)
    assert not queue, "the graph did not fit the test's limit"
    return edges


LOSSY = {"rekeys": 1, "timers": "patient", "loss": True, "max_losses": 1,
         "delete_notify": True}
RESTART = {"rekeys": 1, "timers": "patient", "restart": True, "delete_notify": True,
           "dpd": True, "initial_contact": True}


@pytest.mark.parametrize(("profile", "setting", "expected"), [
    ("racoon", LOSSY, {"i_rekey", "r_recv_delete", "lose_delete_ir", "r_old_expire"}),
    ("mutant-strongswan-silent-delete", LOSSY, {"i_rekey", "i_delete_old", "r_old_expire"}),
    ("mutant-strongswan-deferred-out", LOSSY, {"i_rekey", "r_recv_delete"}),
    ("racoon", RESTART, {"i_restart", "r_restart", "i_reinit", "i_dpd", "r_dpd",
                         "r_recv_initial_contact"}),
    ("libreswan", RESTART, {"i_restart", "r_restart", "i_reinit", "i_dpd", "r_dpd"}),
])
def test_compiled_steps_equal_the_reference_semantics_and_rank_grows(
        profile: str, setting: dict, expected: set[str]) -> None:
    model = QMModel(QMOptions(profile=profile, **setting))
    edges = _reachable(model)
    assert len(edges) > 1000
    names = {model.action_list[a].name for _, (_, a), _ in edges}
    assert expected <= names
    checked = set()
    for s, (c, a), t in edges:
        key = (s[c], s[-1])
        if key not in checked:
            checked.add(key)
            assert sorted(model.local_successors(*key)) == sorted(
                model.reference_successors(*key))
        assert model.rank(t[c]) > model.rank(s[c]), model.action_list[a].name


#: (profile, setting, property, verdict): each refutation's trace is replayed below; each
#: "holds" sits next to a refutation of the same property that one switch or profile flips.
ROWS = [
    ("hpux", {}, "qm.rekey-no-black-hole", "refuted"),  # new outbound before R's inbound
    ("libreswan", {}, "qm.rekey-no-black-hole", "holds"),  # R's inbound at message 1
    ("mutant-strongswan-silent-delete", {"delete_notify": True}, "qm.orphan-heals",
     "refuted"),  # old pair removed at once, the peer is not told
    ("strongswan", {"delete_notify": True}, "qm.orphan-heals", "holds"),  # kept to expiry
    ("mutant-strongswan-silent-delete", {"delete_notify": True, "restart": True, "dpd": True},
     "qm.orphan-heals", "refuted"),
    ("racoon", {"restart": True}, "qm.orphan-heals", "refuted"),
    ("racoon", {"restart": True, "dpd": True}, "qm.orphan-heals", "holds"),
    ("hpux", {"restart": True, "dpd": True}, "qm.orphan-heals", "refuted"),  # no DPD in hpux
    ("libreswan", {"restart": True, "dpd": True}, "qm.orphan-heals", "holds"),
    ("strongswan", {"loss": True}, "qm.orphan-heals", "refuted"),
    ("hpux", {"restart": True}, "qm.spi-unique", "holds"),
    ("mutant-rekey-reuse-spi", {}, "qm.spi-unique", "refuted"),
    ("strongswan", {"loss": True, "delete_notify": True}, "qm.no-larval-leak", "holds"),
]


@pytest.mark.parametrize(("profile", "changes", "pid", "verdict"), ROWS)
def test_lifecycle_verdicts_and_their_counterexamples_replay(
        profile: str, changes: dict, pid: str, verdict: str, tmp_path: Path) -> None:
    opts = QMOptions(profile=profile, **PATIENT, **changes)
    result = check_protocol(opts, [pid], out_dir=tmp_path).results[0]
    assert result.verdict == verdict, result.message
    if verdict == "refuted":
        trace = load_trace(result.counterexample)
        final = replay(trace)
        model = QMModel(opts)
        assert model.local_checks[pid](final[0]) if pid in LIFECYCLE_IDS \
            else model.spi_collisions(final)
        assert "Note over net" not in render_mermaid(trace)


@pytest.mark.parametrize(("profile", "changes", "pid"), [
    ("libreswan", {"restart": True}, "qm.orphan-heals"),
    ("mutant-rekey-reuse-spi", {}, "qm.spi-unique"),
    ("mutant-libreswan-early-delete", {}, "qm.rekey-no-black-hole"),
    ("racoon", {"restart": True, "dpd": True}, "qm.orphan-heals"),
])
def test_bmc_agrees_with_the_explicit_engine(profile: str, changes: dict, pid: str) -> None:
    """Same verdict, and the same shortest length for a refutation (BMC without the
    auxiliary invariants: they cost a minute on the lifecycle and only help induction)."""
    opts = QMOptions(profile=profile, **PATIENT, **changes)
    explicit = check_protocol(opts, [pid]).results[0]
    bound = explicit.extra.get("trace_length", 20)
    smt = smt_check(opts, [pid], max_bound=bound, max_k=0, use_invariants=False)
    mine = smt.results[0]
    if explicit.verdict == "refuted":
        assert mine.verdict == "refuted" and mine.extra["trace_length"] == bound
        replayed = smt.traces[pid][-1][2]
        assert QMModel(opts).local_checks[pid](replayed[0]) if pid in LIFECYCLE_IDS \
            else QMModel(opts).spi_collisions(replayed)
    else:
        assert explicit.verdict == "holds" and mine.verdict == "unknown"
        assert f"holds up to bound {bound}" in mine.message


def test_strongswan_1896_class_is_absent_on_strongswan_and_found_on_the_mutant(
        tmp_path: Path) -> None:
    """The rekey responder that installs its outbound SA only on the delete of the old pair
    (#1896's class) ends, when that delete never comes (lost, or its own old pair expired
    first), without the outbound SA it needs: the run
    ends with the new pair not installed on both sides. The built-in strongswan profile
    installs both SAs on message 3, so the same setting holds."""
    opts = QMOptions(profile="mutant-strongswan-deferred-out", **PATIENT, loss=True,
                     max_losses=1, delete_notify=True)
    pid = "qm.eventually-installed"
    bad = check_protocol(opts, [pid], out_dir=tmp_path).results[0]
    good = check_protocol(opts.with_(profile="strongswan"), [pid]).results[0]
    assert (bad.verdict, good.verdict) == ("refuted", "holds")
    trace = load_trace(bad.counterexample)
    actions = [s["action"] for s in trace["steps"][1:]]
    assert "i_rekey" in actions and "r_recv_delete" not in actions  # R never got the delete
    final = replay(trace)[0]
    idx = QMModel(opts).layout.index
    assert final[idx["rin"]] == 2 and final[idx["rout"]] != 2  # R: inbound, no outbound


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_lifecycle_properties_need_the_lifecycle(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(["protocol", "--profile", "hpux", "--property",
                           "qm.orphan-heals"], capsys)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "--rekeys" in err and "Traceback" not in err
    code, _, err = _run(["protocol", "--profile", "hpux", "--rekeys", "9"], capsys)
    assert code == 2 and "--rekeys" in err


def test_bad_lifecycle_key_in_a_profile_names_file_line_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "mine.yaml"
    bad.write_text("profile: mine\nbased-on: hpux\nlifecycle:\n  dpd: sometimes\n")
    with pytest.raises(InputError) as info:
        QMModel(QMOptions(profile=str(bad), rekeys=1))
    assert info.value.line == 4 and info.value.field == "lifecycle.dpd"
    bad.write_text("profile: mine\nbased-on: hpux\nlifecycle:\n  dpdd: supported\n")
    with pytest.raises(InputError) as info:
        QMModel(QMOptions(profile=str(bad), rekeys=1))
    assert info.value.line == 4 and info.value.field == "lifecycle.dpdd"


def test_initial_contact_is_a_profile_choice() -> None:
    """racoon honours INITIAL-CONTACT, Libreswan's IKEv1 ignores it: only the former gets
    the action that removes the stale pair."""
    def names(profile: str) -> set[str]:
        opts = QMOptions(profile=profile, **PATIENT, restart=True, initial_contact=True)
        return {a.name for a in QMModel(opts).action_list}

    assert "r_recv_initial_contact" in names("racoon")
    assert "r_recv_initial_contact" not in names("libreswan")


@pytest.mark.parametrize(("profile", "healed"), [("racoon", True), ("libreswan", False)])
def test_initial_contact_removes_the_orphans_of_an_initiator_restart(profile: str,
                                                                     healed: bool) -> None:
    """With INITIAL-CONTACT honoured (racoon) no stale pair of an initiator's restart reaches
    its hard expiry once the initiator negotiated again; Libreswan's IKEv1 ignores it."""
    model = QMModel(QMOptions(profile=profile, **PATIENT, restart=True, initial_contact=True))
    idx = model.layout.index
    expired = {t[0][idx["rs"]] for s, _, t in _reachable(model)
               if t[0][idx["ox"]] == 1 and s[0][idx["ox"]] == 0}
    assert 2 in expired  # R restarted: only DPD would help (off here)
    assert (3 not in expired) == healed  # 3: I restarted and negotiated again


def test_scenario_protocol_section_takes_the_lifecycle_keys(tmp_path: Path) -> None:
    from qmcheck.model.quickmode.scenario_options import check_protocol_section

    out = check_protocol_section({"rekeys": 1, "restart": True, "delete-notify": True},
                                 {"rekeys": 3}, "s.yaml")
    assert QMOptions(**out).lifecycle
    with pytest.raises(InputError) as info:
        check_protocol_section({"rekeys": 9}, {"rekeys": 7}, "s.yaml")
    assert info.value.line == 7 and info.value.field == "protocol.rekeys"
    with pytest.raises(InputError) as info:
        check_protocol_section({"dpd": "yes"}, {"dpd": 5}, "s.yaml")
    assert info.value.line == 5 and info.value.field == "protocol.dpd"


def test_lifecycle_matrix_is_byte_identical_and_names_only_files_it_keeps(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outputs = []
    for name in ("a", "b"):
        code, out, _ = _run(["protocol", "--profile", "libreswan", "--lifecycle-matrix",
                             str(tmp_path / name)], capsys)
        assert code == 1  # loss refutes qm.orphan-heals
        outputs.append((out.replace(str(tmp_path / name), "DIR"),
                        (tmp_path / name / "lifecycle.md").read_bytes()))
    assert outputs[0] == outputs[1]
    assert "counterexample:" not in outputs[0][0]  # none kept without --out
    text = outputs[0][1].decode()
    # one diagram per distinct trace, plus the #1896 paragraph's
    assert text.count("```mermaid") == text.count("<details>") + 1 >= 4
    assert "#1896" in text and "mutant-strongswan-deferred-out" in text
    # the collision table, column by column (results come in catalogue order, the table in
    # LIFE_IDS order): Libreswan rekeys without a black hole (inbound SA at message 1), a lost
    # message makes one (and an orphan); nothing loses its outbound SA
    assert "| libreswan | collision | holds | holds | holds | holds | holds |" in text
    assert "| libreswan | collision+1 loss | **refuted** (" in text


@pytest.mark.parametrize("profile", ["mutant-i-give-up-leaks", "mutant-r-give-up-leaks"])
def test_larval_leaks_are_caught_in_the_rekey_exchange_too(profile: str) -> None:
    """qm.no-larval-leak across rekeys: a leaking give-up leaves a larval entry in the
    exchange a rekey started (rk = 1), and the base profile never does."""
    def leaks_after_rekey(name: str) -> bool:
        model = QMModel(QMOptions(profile=name, rekeys=1, loss=True, max_losses=1,
                                  retransmits=0, timers="patient"))
        idx = model.layout.index
        leak = model.local_checks["qm.no-larval-leak"]
        return any(leak(t[0]) and t[0][idx["rk"]] == 1 for _, _, t in _reachable(model))

    assert leaks_after_rekey(profile)
    assert not leaks_after_rekey("hpux")
