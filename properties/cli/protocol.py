"""``qmcheck protocol``: decide the qm.* properties of the Quick Mode exchange.

For each selected profile, the exchange with the chosen faults and bounds is explored once by
the explicit engine; refutations are written as counterexample traces under ``--out``.
``--matrix DIR`` runs every fault setting of the results matrix instead and writes
``matrix.md`` and ``matrix.csv`` there.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from qmcheck.model.formats.loader import load_scenario
from qmcheck.model.quickmode.options import (
    MAX_NEGOTIATIONS,
    MAX_REKEYS,
    MAX_RETRANSMITS,
    OUTCOMES,
    PROFILES,
    TIMERS,
    QMOptions,
)
from qmcheck.model.quickmode.profiles import load_profile
from qmcheck.model.values.errors import InputError
from qmcheck.model.values.numbers import parse_int
from qmcheck.model.values.policy import Scenario
from qmcheck.properties.catalogue import LIFECYCLE_IDS
from qmcheck.properties.checks.protocol import (
    NOT_WITH_RESTART,
    QM_IDS,
    check_protocol,
    validate_ids,
)
from qmcheck.properties.checks.protocol_classes import (
    annotate,
    never_expires,
    runs_needed,
    scenario_classes,
)
from qmcheck.properties.checks.protocol_matrix import run_matrix, write_matrix
from qmcheck.properties.cli.options import (
    add_budget_options,
    add_out_option,
    add_output_options,
    add_progress_option,
    progress_enabled,
)
from qmcheck.properties.engines.budget import set_budget
from qmcheck.properties.reports.check_text import class_lines
from qmcheck.properties.reports.output import Written, output_dir, output_file
from qmcheck.properties.reports.progress import LazyProgress
from qmcheck.properties.results import Report


def _int_in(name: str, lo: int, hi: int) -> type[int]:
    def parse(text: str) -> int:
        try:
            return parse_int(text, lo, hi, f"--{name}")
        except InputError as e:
            raise InputError(e.message, source="<command line>", field=f"--{name}") from None

    parse.__name__ = name
    return parse  # type: ignore[return-value]


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]

    p = sub.add_parser("protocol", help="check the qm.* properties of the Quick Mode exchange",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profile", default=None, metavar="NAME|PATH",
                   help=f"{' | '.join(PROFILES)} | all (default; with --scenario: the "
                        "scenario's profiles), a mutant of the catalogue "
                        "(model/profiles/mutants), or a profile file (docs/SPEC.md 9)")
    p.add_argument("--negotiations", type=str, default="1", metavar="N",
                   help=f"concurrent negotiations, 1..{MAX_NEGOTIATIONS} (default 1), or "
                        "'any' with --engine smt|all (one-component proof, "
                        "docs/SMT-ENGINE.md)")
    p.add_argument("--loss", action="store_true", help="messages may be lost")
    p.add_argument("--duplicate", action="store_true", help="messages may be duplicated")
    p.add_argument("--reorder", action="store_true", help="channels are multisets")
    p.add_argument("--retransmits", type=str, default=None, metavar="R",
                   help=f"retransmissions before giving up, 0..{MAX_RETRANSMITS} (default: "
                        "the profile's)")
    p.add_argument("--max-losses", type=str, default="0", metavar="L",
                   help="with --loss: messages lost per negotiation at most (0: no bound); "
                        "qm.recovery uses it (default there: 1)")
    p.add_argument("--outcome", default=None, metavar="OUTCOME",
                   help=f"what the responder's policy gives for message 1: "
                        f"{' | '.join(OUTCOMES)} (default installed; not with --scenario)")
    p.add_argument("--scenario", metavar="SCENARIO", default=None,
                   help="drive the runs by a scenario's hosts: per traffic class, the "
                        "negotiation under the profile decides the outcome (success, "
                        "NO_PROPOSAL_CHOSEN or INVALID_ID_INFORMATION); --profile default: "
                        "the scenario's profiles")
    p.add_argument("--esp", type=str, default="1", metavar="K",
                   help="ESP packets each kernel sends per negotiation and direction (default 1)")
    p.add_argument("--max-duplicates", type=str, default="1", metavar="D",
                   help="copies the network may make per negotiation (default 1)")
    p.add_argument("--commit-bit", action="store_true",
                   help="R answers message 3 with CONNECTED; I waits for it")
    p.add_argument("--simultaneous", action="store_true",
                   help="both hosts initiate for the same traffic")
    life = p.add_argument_group("SA lifecycle (docs/SPEC.md 3 'After Quick Mode'; "
                                "model/quickmode/lifecycle.py)")
    life.add_argument("--rekeys", type=str, default="0", metavar="N",
                      help=f"rekeys explored per pair, 0..{MAX_REKEYS} (default 0: the "
                           "lifecycle is off unless a switch below is given); decides "
                           "qm.rekey-no-black-hole, qm.orphan-heals and qm.rekey-keeps-outbound")
    life.add_argument("--delete-notify", action="store_true",
                      help="a side that removes a pair sends a delete notification (where "
                           "the profile's daemon does)")
    life.add_argument("--dpd", action="store_true",
                      help="dead peer detection (where the profile's daemon has it)")
    life.add_argument("--initial-contact", action="store_true",
                      help="a restarted host sends INITIAL-CONTACT (honoured where the "
                           "profile says so)")
    life.add_argument("--restart", action="store_true",
                      help="fault: one host loses its SA database and daemon state")
    life.add_argument("--collide", action="store_true",
                      help="rekey collision: the pair's responder may start its own rekey of "
                           "the same pair (where the profile's rekey-by is both; needs "
                           "--rekeys N >= 1)")
    p.add_argument("--timers", default="eager", metavar="|".join(TIMERS),
                   help="eager (default): a timer may fire while messages are in flight; "
                        "patient: only when what it waits for can no longer arrive")
    p.add_argument("--eager-timers", action="store_const", const="eager", dest="timers",
                   help=argparse.SUPPRESS)
    p.add_argument("--property", nargs="+", action="extend", metavar="ID", default=None,
                   help="properties to check (default: all qm.* ids)")
    p.add_argument("--engine", default="explicit", choices=["explicit", "smt", "all"],
                   help="explicit (state graph, default); smt (BMC + k-induction on z3: "
                        "proofs for runs of any length; no qm.eventually-installed); all "
                        "(both, one merged result per property; disagreements flagged)")
    add_out_option(p)
    p.add_argument("--max-states", type=str, default="20000000", metavar="N",
                   help="state budget; beyond it results are unknown (default 20000000)")
    add_budget_options(p, with_states=False)
    p.add_argument("--matrix", metavar="DIR", default=None,
                   help="run every fault setting and write matrix.md and matrix.csv into DIR "
                        "(a new or empty folder)")
    p.add_argument("--lifecycle-matrix", metavar="DIR", default=None,
                   help="run the SA lifecycle's matrix (built-in profiles x none/delete/DPD/"
                        "delete+DPD x reliable/loss/restart, --rekeys 1, patient timers) and "
                        "write lifecycle.md, docs/PROTOCOL.md's section, into DIR")
    add_progress_option(p)
    p.add_argument("--reduction", default="full", choices=["full", "symmetry", "none"],
                   help="state-space reduction: full (default: symmetry and stubborn sets, "
                        "the shared SPI allocators counted as dependencies), symmetry, or "
                        "none; verdicts and counterexamples are the same at every level")
    p.add_argument("--graph-dot", metavar="FILE", default=None,
                   help="also write the explored state graph in DOT (FILE-PROFILE.dot when "
                        "several profiles)")
    add_output_options(p)
    p.set_defaults(handler=run)


def default_memory() -> int | None:
    """Three quarters of the physical memory (None where the system does not say)."""
    try:
        import os

        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") * 3 // 4)
    except (ValueError, OSError, AttributeError):
        return None


def profiles_of(text: str) -> list[str]:
    """``all``, one built-in or mutant name, or a profile file (InputError otherwise: an
    unknown name, or a bad file with its line and key)."""
    if text == "all":
        return list(PROFILES)
    load_profile(text)
    return [text]


def run(args: argparse.Namespace) -> Report:
    scenario = scenario_of(args)
    if scenario is not None:
        from qmcheck.properties.cli.options import scenario_profiles

        profiles = scenario_profiles(scenario, args.profile)
    else:
        profiles = profiles_of(args.profile or "all")
    ids = validate_ids(args.property)
    base = QMOptions(
        profile=profiles[0], loss=args.loss, duplicate=args.duplicate, reorder=args.reorder,
        retransmits=None if args.retransmits is None
        else _int_in("retransmits", 0, MAX_RETRANSMITS)(args.retransmits),
        commit_bit=args.commit_bit,
        negotiations=1 if args.negotiations == "any"
        else _int_in("negotiations", 1, MAX_NEGOTIATIONS)(args.negotiations),
        simultaneous=args.simultaneous,
        max_duplicates=_int_in("max-duplicates", 0, 4)(args.max_duplicates),
        timers=args.timers, outcome=args.outcome or "installed",
        max_losses=_int_in("max-losses", 0, 4)(args.max_losses),
        esp=_int_in("esp", 0, 3)(args.esp),
        rekeys=_int_in("rekeys", 0, MAX_REKEYS)(args.rekeys),
        delete_notify=args.delete_notify, dpd=args.dpd,
        initial_contact=args.initial_contact, restart=args.restart, collide=args.collide)
    asked = [p for p in (args.property or ()) if p in LIFECYCLE_IDS]
    if asked and not base.lifecycle:
        raise InputError(f"{asked[0]} needs the SA lifecycle: give --rekeys N (N >= 1), "
                         "--delete-notify, --dpd, --initial-contact or --restart",
                         source="<command line>", field="--property")
    refused = [p for p in (args.property or ()) if p in NOT_WITH_RESTART]
    if refused and base.restart:
        raise InputError(f"{refused[0]} is not decided with --restart: the restart fault "
                         "destroys a host's daemon state and alone would refute it",
                         source="<command line>", field="--property")
    max_states = _int_in("max-states", 1, 10**9)(args.max_states)
    set_budget(None, args.max_memory)
    max_memory = (args.max_memory * 2**20 if args.max_memory is not None
                  else default_memory())
    out = output_dir(args.out, force=args.force)
    matrix = output_dir(args.matrix, "--matrix", force=args.force)
    if args.lifecycle_matrix is not None:
        return lifecycle_report(args)
    dots: dict[str, Path | None] = {}
    if args.graph_dot is not None:
        dots = {p: output_file(dot_name(args.graph_dot, p, len(profiles)), "--graph-dot",
                               force=args.force) for p in profiles}
    written = Written([x for x in (out, matrix, *dots.values()) if x is not None])
    if scenario is not None:
        report = scenario_runs(args, scenario, profiles, ids, base, max_states, out,
                               max_memory)
    else:
        report = run_checks(args, profiles, ids, base, max_states, out, matrix, dots,
                            max_memory)
    report.files = written.files()
    return report


def scenario_of(args: argparse.Namespace) -> Scenario | None:
    """The ``--scenario`` (None without it); the options it does not combine with are input
    errors."""
    if args.scenario is None:
        return None
    for option, value in (("--outcome", args.outcome), ("--matrix", args.matrix),
                          ("--graph-dot", args.graph_dot),
                          ("--lifecycle-matrix", args.lifecycle_matrix)):
        if value is not None:
            raise InputError(f"{option} does not combine with --scenario (the scenario's "
                             "negotiations decide the outcome of each run)",
                             source="<command line>", field=option)
    if args.negotiations == "any":
        raise InputError("--negotiations any does not combine with --scenario",
                         source="<command line>", field="--negotiations")
    return load_scenario(args.scenario)


def scenario_runs(args: argparse.Namespace, scenario: Scenario, profiles: list[str],
                  ids: tuple[str, ...], base: QMOptions, max_states: int, out: Path | None,
                  max_memory: int | None) -> Report:
    """One run per (profile, outcome) the scenario's traffic classes ask for; each result
    lists its classes, and the text ends with one line per class, verdict first."""
    classes = scenario_classes(scenario, profiles)
    # a transform with lifetimes of 0 never expires: with the lifecycle on, that run has no
    # rekey and no hard expiry (``no_expiry``; the label says ",lifetime=0")
    configs = [base.with_(profile=p, outcome=o,
                          no_expiry=base.no_expiry or (base.lifecycle
                                                       and never_expires(classes, p, o)))
               for p, o in runs_needed(classes)]
    results = []
    for opts in configs:
        if args.engine == "explicit":
            results += check_protocol(opts, ids, out_dir=out, max_states=max_states,
                                      reduction=args.reduction, max_memory=max_memory).results
        else:
            from qmcheck.properties.checks.protocol_smt import protocol_command

            results += protocol_command(args, [opts.profile], ids, opts, out,  # type: ignore[arg-type]
                                        max_states, False)
    report = Report("protocol", [args.scenario], annotate(results, classes, configs))
    timings = getattr(args, "timings", False)

    def text(rep: Report) -> str:
        plain = Report("protocol", rep.inputs, rep.results, min_severity=rep.min_severity,
                       max_findings=rep.max_findings)
        lines = class_lines(rep.results)
        head = "\nper traffic class (its negotiation decides the outcome)\n"
        return plain.to_text(timings=timings) + head + "\n".join(
            lines or ["  (no traffic class sends message 1)"]) + "\n"

    report.text_renderer = text
    return report


def lifecycle_report(args: argparse.Namespace) -> Report:
    """``--lifecycle-matrix DIR``: the SA lifecycle's results section (lifecycle.md)."""
    from qmcheck.properties.checks.lifecycle_matrix import (
        lifecycle_markdown,
        run_lifecycle_matrix,
    )

    folder = output_dir(args.lifecycle_matrix, "--lifecycle-matrix", force=args.force)
    out = output_dir(args.out, force=args.force)
    assert folder is not None
    written = Written([x for x in (folder, out) if x is not None])
    cells = run_lifecycle_matrix(profiles_of(args.profile), out)
    (folder / "lifecycle.md").write_text(lifecycle_markdown(cells), encoding="utf-8")
    report = Report("protocol", [], [r for c in cells for r in c.run.results])
    report.files = written.files()
    return report


def dot_name(text: str, profile: str, count: int) -> str:
    """``--graph-dot FILE``: FILE, or FILE-PROFILE.dot when several profiles run."""
    if count == 1 or not text.strip():
        return text
    path = Path(text)
    return str(path.with_name(f"{path.stem}-{profile}.dot"))


def run_checks(args: argparse.Namespace, profiles: list[str], ids: tuple[str, ...],
               base: QMOptions, max_states: int, out: Path | None, matrix: Path | None,
               dots: dict[str, Path | None], max_memory: int | None) -> Report:
    """The runs themselves, after every output path has been checked."""
    report = Report("protocol", [])
    if args.engine != "explicit" or args.negotiations == "any":
        from qmcheck.properties.checks.protocol_smt import protocol_command

        report.extend(protocol_command(args, profiles, ids, base, out, max_states,  # type: ignore[arg-type]
                                       args.negotiations == "any"))
        return report
    if args.matrix:
        runs = run_matrix(profiles, base=base, property_ids=ids, out_dir=out)
        write_matrix(runs, matrix or Path(args.matrix))
        for _, r in runs:
            report.extend(r.results)
        return report
    with LazyProgress(enabled=progress_enabled(args)) as bar:
        for done, profile in enumerate(profiles):
            bar.update("profiles", done, len(profiles))
            opts = base.with_(profile=profile)
            result = check_protocol(opts, ids, out_dir=out, max_states=max_states,
                                    progress=lambda text, p=profile: bar.note(
                                        "profiles", f"{p}: {text}"),
                                    graph_dot=dots.get(profile), reduction=args.reduction,
                                    max_memory=max_memory)
            report.extend(result.results)
        bar.update("profiles", len(profiles), len(profiles))
    return report


__all__ = ["QM_IDS", "register", "run"]
