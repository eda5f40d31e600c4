"""SPIN and qmcheck agree on the v2 Quick Mode model (skipped without ``spin`` and ``gcc``).

benchmarks/promela.py writes the model's own action expressions as Promela (one ``d_step`` per
action and component). With qmcheck's reductions off, SPIN's stored states are qmcheck's
reachable states, and pan's assertion verdicts for the safety properties (plus
``qm.no-deadlock`` and ``qm.reachable-installed``) are qmcheck's. A broken encoding on either
side shows up: the two mutated generators below (channels no longer kept sorted, the ghost of
message 3 never set) each make the comparison fail.
"""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks import promela as promela_module
from benchmarks.spin_run import SpinRun, available, run_spin
from qmcheck.model.quickmode.options import QMOptions
from qmcheck.properties.checks.protocol import check_protocol

pytestmark = pytest.mark.skipif(not available(), reason="spin or gcc not on the PATH")

SETTINGS: dict[str, dict[str, Any]] = {
    "reliable": {},
    "loss": {"loss": True},
    "loss+dup+reorder": {"loss": True, "duplicate": True, "reorder": True},
    "commit+loss,patient": {"loss": True, "commit_bit": True, "timers": "patient"},
}


def ours(options: QMOptions) -> tuple[int, dict[str, str]]:
    """qmcheck's state count (no reductions) and verdicts."""
    run = check_protocol(options, reduction="none")
    return run.exploration.states, {r.property: r.verdict for r in run.results}


def compare(options: QMOptions, spin: SpinRun) -> list[str]:
    """Every difference between SPIN's figures and qmcheck's."""
    states, verdicts = ours(options)
    diffs = [f"states: SPIN {spin.states}, qmcheck {states}"] if spin.states != states else []
    for pid, verdict in spin.verdicts().items():
        if verdicts[pid] != verdict:
            diffs.append(f"{pid}: SPIN {verdict}, qmcheck {verdicts[pid]}")
    return diffs


@pytest.mark.parametrize("profile", ["hpux", "strongswan"])
@pytest.mark.parametrize("setting", sorted(SETTINGS))
def test_spin_agrees_at_n1(profile: str, setting: str) -> None:
    options = QMOptions(profile=profile, **SETTINGS[setting])
    spin = run_spin(options, optimize="-O0")
    assert spin.complete and spin.states > 0
    assert compare(options, spin) == []


def test_spin_agrees_at_n2_on_the_benchmark_configuration() -> None:
    """Two negotiations sharing each host's SPI allocator (benchmarks/bench_protocol.py)."""
    options = QMOptions(profile="hpux", loss=True, reorder=True, retransmits=2,
                        negotiations=2, timers="patient")
    spin = run_spin(options, optimize="-O0")
    assert spin.complete
    assert compare(options, spin) == []
    assert spin.verdicts()["qm.spi-unique"] == "holds"


def test_spin_finds_shared_spi_clash_of_constant_allocator() -> None:
    """The whole-state property: a constant SPI allocator clashes at N=2 on both engines."""
    options = QMOptions(profile="mutant-constant-spi", negotiations=2, timers="patient")
    spin = run_spin(options, optimize="-O0")
    assert spin.verdicts()["qm.spi-unique"] == "refuted"
    assert compare(options, spin) == []


class UnsortedChannels(promela_module.Generator):
    """Mutant encoding: reordering channels are no longer kept sorted (multisets lost)."""

    def sort_pass(self, chan: str, c: int) -> list[str]:
        return []


class NoMsg3Ghost(promela_module.Generator):
    """Mutant encoding: the ghost "R has received message 3" is never set."""

    def action(self, c: int, index: int) -> str:
        return super().action(c, index).replace(f"g3_{c} = t_g3", "skip")


@pytest.mark.parametrize("mutant,options,expected", [
    (UnsortedChannels, QMOptions(profile="hpux", duplicate=True, reorder=True), "states"),
    (NoMsg3Ghost, QMOptions(profile="hpux"), "qm.responder-installs-after-msg3"),
])
def test_agreement_catches_a_broken_encoding(monkeypatch: pytest.MonkeyPatch, mutant: type,
                                             options: QMOptions, expected: str) -> None:
    monkeypatch.setattr(promela_module, "Generator", mutant)
    spin = run_spin(options, optimize="-O0")
    diffs = compare(options, spin)
    assert any(d.startswith(expected) for d in diffs), diffs
