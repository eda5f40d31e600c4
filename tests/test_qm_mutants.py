"""The mutant catalogue: each mutant profile is refuted by its named property, with a
counterexample that replays, while its base profile satisfies the property (issue 11 item 8)."""

from __future__ import annotations

from pathlib import Path

import pytest

from qmcheck.model.quickmode.profiles import mutant_names
from qmcheck.properties.checks.mutants import KILLS, kill
from qmcheck.properties.traces.counterexample import load_trace, replay


def test_the_catalogue_has_at_least_15_mutants_each_with_a_killer() -> None:
    names = mutant_names()
    assert len(names) >= 15
    assert set(names) == set(KILLS)


@pytest.mark.parametrize("mutant", sorted(KILLS))
def test_each_mutant_is_killed_and_the_counterexample_replays(mutant: str,
                                                              tmp_path: Path) -> None:
    k = kill(mutant, tmp_path)
    assert k.mutant_verdict == "refuted", k
    assert k.base_verdict == "holds", k
    assert k.counterexample is not None
    trace = load_trace(k.counterexample)
    assert trace["property"] == k.property
    replay(trace)


def test_the_issue_rows_are_caught() -> None:
    """The four mutations the old model missed (issue 11's table) are in the catalogue."""
    rows = {m for m, (_, _, what) in KILLS.items() if "row" in what}
    assert rows == {"mutant-i-install-at-m1", "mutant-no-resend-m3", "mutant-constant-spi",
                    "mutant-connected-before-install"}
