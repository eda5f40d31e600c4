"""The mutant catalogue: deliberately wrong profiles, and which property kills each one.

Each mutant is a profile file in ``model/profiles/mutants`` (``based-on`` a built-in profile,
one behaviour changed). ``KILLS`` names, for each, the property that refutes it and the setting
in which it does while the same property holds for the mutant's base profile: the property is
what tells the wrong model from the right one, not the setting. ``kill_table`` runs them all
(the counterexample of each refutation replays, as every trace the tool writes);
``kill_markdown`` is docs/MUTANTS.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qmcheck.model.quickmode.options import QMOptions
from qmcheck.model.quickmode.profiles import load_profile, mutant_names, read_raw, resolve
from qmcheck.properties.checks.protocol import check_protocol

#: mutant -> (killing property, option changes of the setting, what the mutation is)
KILLS: dict[str, tuple[str, dict[str, Any], str]] = {
    "mutant-i-install-at-m1": ("qm.initiator-nothing-before-msg2", {},
                               "I installs both SAs at message 1, outbound without R's SPI "
                               "(issue 11 row 1)"),
    "mutant-no-resend-m3": ("qm.recovery", {},
                            "I never resends message 3 on a duplicate message 2 (row 2)"),
    "mutant-constant-spi": ("qm.spi-unique", {"negotiations": 2, "timers": "patient"},
                            "the SPI allocator returns a constant (row 3)"),
    "mutant-connected-before-install": ("qm.no-black-hole",
                                        {"commit_bit": True, "timers": "patient"},
                                        "R sends CONNECTED before it installs (commit bit; "
                                        "row 4: the verdict follows the operation order)"),
    "mutant-r-install-at-m1": ("qm.responder-installs-after-msg3", {},
                               "R installs both SAs on message 1"),
    "mutant-r-never-install": ("qm.eventually-installed", {"timers": "patient"},
                               "R never installs (qm.reachable-installed fails too: every "
                               "proof is vacuous)"),
    "mutant-i-never-install-out": ("qm.eventually-installed", {"timers": "patient"},
                                   "I never installs its outbound SA"),
    "mutant-r-never-install-out": ("qm.no-orphan", {"timers": "patient"},
                                   "R never installs its outbound SA"),
    "mutant-send-m2-before-spi": ("qm.agreement", {},
                                  "R sends message 2 before it has an SPI (wrong order)"),
    "mutant-send-m1-before-spi": ("qm.agreement", {},
                                  "I sends message 1 before it has an SPI (wrong order)"),
    "mutant-i-no-retransmit": ("qm.recovery", {}, "I never retransmits message 1"),
    "mutant-r-no-retransmit": ("qm.recovery", {},
                               "R never retransmits message 2 nor answers a duplicate "
                               "message 1"),
    "mutant-i-give-up-leaks": ("qm.no-larval-leak", {}, "I's give-up deletes nothing"),
    "mutant-r-give-up-leaks": ("qm.no-larval-leak", {}, "R's give-up deletes nothing"),
    "mutant-i-give-up-keeps-out": ("qm.no-larval-leak", {},
                                   "I's give-up deletes its inbound entry only"),
    "mutant-commit-r-no-connected": ("qm.eventually-installed",
                                     {"commit_bit": True, "timers": "patient"},
                                     "commit bit honoured by I only: R never sends CONNECTED"),
    "mutant-commit-i-early": ("qm.no-black-hole", {"commit_bit": True, "timers": "patient"},
                              "commit bit honoured by R only: I sends before CONNECTED"),
    "mutant-libreswan-r-out-at-m1": ("qm.responder-installs-after-msg3", {},
                                     "Libreswan's R installs its outbound SA on message 1 too"),
    # the SA lifecycle (issue 12, model/quickmode/lifecycle.py)
    "mutant-rekey-reuse-spi": ("qm.spi-unique", {"rekeys": 1, "timers": "patient"},
                               "lifecycle: a rekey reuses the SPI of the pair it replaces"),
    "mutant-libreswan-early-delete": ("qm.rekey-no-black-hole",
                                      {"rekeys": 1, "timers": "patient"},
                                      "lifecycle: Libreswan's rekeying I removes the old pair "
                                      "as soon as the new one is installed"),
    "mutant-racoon-no-dpd": ("qm.orphan-heals",
                             {"rekeys": 1, "timers": "patient", "restart": True, "dpd": True},
                             "lifecycle: racoon without DPD keeps its SAs after the peer "
                             "restarted"),
    "mutant-strongswan-silent-delete": ("qm.orphan-heals",
                                        {"rekeys": 1, "timers": "patient",
                                         "delete_notify": True},
                                        "lifecycle: strongSwan with delete_rekeyed removes the "
                                        "old pair after a rekey, without a delete "
                                        "notification"),
    "mutant-strongswan-deferred-out": ("qm.eventually-installed",
                                       {"rekeys": 1, "timers": "patient", "loss": True,
                                        "max_losses": 1, "delete_notify": True},
                                       "lifecycle, strongSwan #1896 class: the rekey responder "
                                       "installs its outbound SA only when the delete of the "
                                       "old pair arrives"),
    "mutant-strongswan-collision-defer-out": (
        "qm.rekey-keeps-outbound",
        {"rekeys": 1, "timers": "patient", "collide": True, "loss": True, "max_losses": 1,
         "retransmits": 0, "esp": 0},
        "lifecycle, strongSwan #1896 class with a collision: a host answering the peer's rekey "
        "while its own runs installs the new outbound SA only when its own rekey completes"),
}


@dataclass
class Kill:
    """The outcome for one mutant."""

    mutant: str
    base: str
    property: str
    setting: str
    mutant_verdict: str
    base_verdict: str
    counterexample: str | None
    what: str

    @property
    def killed(self) -> bool:
        return self.mutant_verdict == "refuted" and self.base_verdict == "holds"


def base_of(mutant: str) -> str:
    """The profile a mutant file is ``based-on``."""
    path = resolve(mutant)
    raw = read_raw(path.read_text(encoding="utf-8"), str(path))
    return str(raw["based-on"][0])


def kill(mutant: str, out_dir: Path | None = None, max_states: int = 2_000_000) -> Kill:
    """Run the mutant and its base in the mutant's killing setting."""
    pid, changes, what = KILLS[mutant]
    load_profile(mutant)
    base = base_of(mutant)
    opts = QMOptions(profile=mutant, **changes)
    mine = check_protocol(opts, [pid], out_dir=out_dir, max_states=max_states).results[0]
    theirs = check_protocol(opts.with_(profile=base), [pid], max_states=max_states).results[0]
    setting = opts.label()
    return Kill(mutant, base, pid, setting, mine.verdict, theirs.verdict, mine.counterexample,
                what)


def kill_table(out_dir: Path | None = None) -> list[Kill]:
    """Every mutant of the catalogue (a mutant file without a KILLS entry is an error)."""
    names = mutant_names()
    missing = sorted(set(names) - set(KILLS))
    if missing:
        raise ValueError(f"mutant without a killing property: {missing[0]}")
    return [kill(m, out_dir) for m in names]


#: mutants of the policy checks: functions of the model replaced in
#: tests/test_semantic_mutants.py (not profile files); that test checks this list against its own
CODE_MUTANTS: dict[str, tuple[str, str]] = {
    "lookup-ignores-direction": ("policy.mirrored", "every policy applies both ways"),
    "mirror-compares-actions": ("policy.mirrored", "the mirror check compares actions, not "
                                "protection"),
    "mirror-ignores-out-only": ("policy.mirrored", "an outbound-only policy counts as mirrored"),
    "tunnel-ignores-initiator-end": ("peers.tunnel", "I's tunnel end point is never checked"),
    "tunnel-ignores-responder-end": ("peers.tunnel", "R's tunnel back is never checked"),
    "tunnel-ignores-mode": ("peers.tunnel", "the mode is never compared"),
    "tunnel-mode-ignores-profile": ("peers.tunnel", "every responder refuses another mode "
                                    "(Libreswan's rule lost)"),
}


def kill_markdown(kills: list[Kill]) -> str:
    """docs/MUTANTS.md: the kill table."""
    lines = ["# Mutant catalogue: which property kills each wrong profile", "",
             "Generated by `python scripts/regen_qm.py` from `model/profiles/mutants/*.yaml` and "
             "`properties/checks/mutants.py` (tests/test_qm_mutants.py checks every row: the "
             "mutant is refuted with a counterexample that replays, its base profile satisfies "
             "the same property in the same setting).", "",
             "| mutant | based on | mutation | killed by | setting | mutant | base |",
             "|---|---|---|---|---|---|---|"]
    for k in kills:
        lines.append(f"| `{k.mutant}` | {k.base} | {k.what} | `{k.property}` | {k.setting} | "
                     f"{k.mutant_verdict} | {k.base_verdict} |")
    killed = sum(k.killed for k in kills)
    lines += ["", f"{killed} of {len(kills)} mutants killed.", "",
              "## Code mutants of the policy checks", "",
              "Functions of the model replaced by wrong ones in "
              "`tests/test_semantic_mutants.py`; the test asserts that the property's checks "
              "pass on the real model and that at least one fails with the mutant in place.", "",
              "| mutant | property | mutation |", "|---|---|---|"]
    lines += [f"| `{name}` | `{prop}` | {what} |"
              for name, (prop, what) in sorted(CODE_MUTANTS.items())]
    lines.append("")
    return "\n".join(lines)
