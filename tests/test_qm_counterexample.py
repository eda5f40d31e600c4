"""Counterexample traces: every one the tool writes replays; renderings; malformed files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qmcheck.model.quickmode.options import QMOptions
from qmcheck.model.values.errors import InputError
from qmcheck.properties.checks.protocol import check_protocol
from qmcheck.properties.checks.protocol_matrix import SETTINGS, run_matrix
from qmcheck.properties.traces.counterexample import load_trace, replay, trace_filename
from qmcheck.properties.traces.render import render_trace

ORPHAN = "qm.no-orphan__hpux__loss-timers-eager-R-profile-N-1.json"
FIXTURES = Path(__file__).resolve().parent.parent / "counterexamples" / "fixtures"


@pytest.fixture(scope="module")
def matrix_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cex")
    small = [s for s in SETTINGS if s[0] in ("reliable", "patient", "loss", "loss+patient",
                                              "commit+patient", "dup")]
    run_matrix(settings=small, out_dir=out)
    for profile in ("mutant-r-install-at-m1", "mutant-constant-spi"):
        check_protocol(QMOptions(profile=profile, loss=True, negotiations=2,
                                 timers="patient"), out_dir=out)
    return out


def test_every_written_counterexample_replays(matrix_dir: Path) -> None:
    files = sorted(matrix_dir.glob("*.json"))
    assert len(files) >= 40
    for path in files:
        trace = load_trace(path)
        final = replay(trace)
        assert final  # replay returns the last state
        for ext in (".txt", ".mmd", ".dot"):
            assert path.with_suffix(ext).read_text().strip()


def test_committed_fixtures_replay_and_are_reproduced(tmp_path: Path) -> None:
    fixtures = sorted(FIXTURES.glob("qm.*.json"))
    assert fixtures
    for path in fixtures:
        trace = load_trace(path)
        replay(trace)
        opts = QMOptions(**trace["options"])
        check_protocol(opts, [trace["property"]], out_dir=tmp_path)
        assert (tmp_path / path.name).read_bytes() == path.read_bytes()


def test_output_is_byte_identical_across_runs(tmp_path: Path) -> None:
    opts = QMOptions(profile="racoon", loss=True, reorder=True, negotiations=2,
                     timers="patient")
    check_protocol(opts, out_dir=tmp_path / "a")
    check_protocol(opts, out_dir=tmp_path / "b")
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names and names == sorted(p.name for p in (tmp_path / "b").iterdir())
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_text_trace_shows_only_changes(matrix_dir: Path) -> None:
    trace = load_trace(matrix_dir / ORPHAN)
    text = render_trace(trace, "text")
    step3 = text.split("step 3:")[1].split("step 4:")[0]
    assert "I.outbound: absent (no SPI) -> larval (no SPI)" in step3
    assert "R.phase" not in step3  # unchanged fields are not repeated


def test_mermaid_marks_lost_messages(matrix_dir: Path) -> None:
    trace = load_trace(matrix_dir / ORPHAN)
    mmd = render_trace(trace, "mermaid")
    assert mmd.startswith("sequenceDiagram")
    assert "participant A as Host A" in mmd and "participant B as Host B" in mmd
    assert "A->>B: [n1] msg1" in mmd
    assert "B-xA: [n1] msg2 (lost)" in mmd
    assert "B->>A: [n1] msg2" in mmd and "A->>B: [n1] msg3" in mmd


def test_dot_is_a_chain_of_states(matrix_dir: Path) -> None:
    trace = load_trace(matrix_dir / ORPHAN)
    dot = render_trace(trace, "dot")
    assert dot.startswith("digraph counterexample {") and dot.rstrip().endswith("}")
    assert dot.count(" -> ") == len(trace["steps"]) - 1


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "t.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_malformed_traces_are_input_errors(tmp_path: Path, matrix_dir: Path) -> None:
    good = json.loads((matrix_dir / ORPHAN).read_text())
    bad_cases: list[object] = [
        "{not json", [], {"format": "other"}, {**good, "version": 99},
        {**good, "options": {"profile": "nope"}}, {**good, "steps": []},
        {**good, "options": {**good["options"], "colour": 1}},
    ]
    for case in bad_cases:
        with pytest.raises(InputError):
            load_trace(_write(tmp_path, case))
    with pytest.raises(InputError):
        load_trace(tmp_path / "missing.json")


def test_a_tampered_trace_does_not_replay(matrix_dir: Path) -> None:
    trace = json.loads((matrix_dir / ORPHAN).read_text())
    trace["steps"][2]["action"] = "r_recv_m3@0"
    with pytest.raises(ValueError):
        replay(trace)
    trace = json.loads((matrix_dir / ORPHAN).read_text())
    trace["steps"][-1]["raw"][0][1] = 0
    with pytest.raises(ValueError):
        replay(trace)


def test_trace_file_name_of_a_profile_file() -> None:
    """A profile given as a path names its file, not a folder (``--out`` once failed)."""
    opts = QMOptions(profile=str(Path(__file__).parent / "fixtures" / "strongswan"
                                 / "delete-rekeyed.yaml"), rekeys=1)
    name = trace_filename("qm.orphan-heals", opts)
    assert "/" not in name and name.startswith("qm.orphan-heals__delete-rekeyed__")
    assert trace_filename("qm.agreement", QMOptions(profile="strongswan")).startswith(
        "qm.agreement__strongswan__")
