"""The SMT engine's verdicts: ``Result`` objects from BMC and k-induction, replayed traces,
and the ``qmcheck check`` / ``qmcheck protocol --engine`` glue.

Verdict semantics (the same as the explicit engine's): ``refuted`` only with a counterexample
that replays through ``QMModel.next_state``; ``holds`` only when k-induction proved it (BMC
alone never gives "holds": an exhausted bound is ``unknown``, labelled "holds up to bound K");
qm.reachable-installed ``holds`` with a BMC witness and is ``refuted`` when k-induction proves
that no installed pair is reachable. qm.eventually-installed (liveness) is explicit-only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qmcheck.model.quickmode.compiled import QMModel
from qmcheck.model.quickmode.interface import State
from qmcheck.model.quickmode.options import QMOptions
from qmcheck.model.values.errors import InputError
from qmcheck.properties.checks.protocol import outcome_text
from qmcheck.properties.checks.protocol_matrix import (
    DEFAULTS,
    run_matrix,
    scenario_plan,
    write_matrix,
)
from qmcheck.properties.engines.smt import GOAL, SMT_IDS, SmtEngine, SmtRun, Trace, replayed
from qmcheck.properties.results import Result
from qmcheck.properties.traces.counterexample import build_trace, save_trace


def cti_dict(model: QMModel, cti: Trace) -> dict[str, Any]:
    """A counterexample to 1-induction as a two-state trace (good state, action, bad state)."""
    comp, idx = cti.steps[0]
    return {"negotiation": comp + 1, "action": model.action_list[idx].id,
            "before": [list(c) for c in cti.states[0]],
            "after": [list(c) for c in cti.states[1]],
            "before_state": model.describe(cti.states[0]),
            "after_state": model.describe(cti.states[1])}


@dataclass
class SmtCheck:
    """The results of one configuration plus the run (for tests and benchmarks)."""

    results: list[Any]
    run: SmtRun
    traces: dict[str, list[tuple[int, str, State]]]  # replayed concrete steps per property


def smt_check(options: Any, property_ids: Sequence[str] | None = None, *,
              out_dir: Any = None, max_bound: int = 40, max_k: int = 16,
              use_invariants: bool = True, hints: Mapping[str, int | None] | None = None
              ) -> SmtCheck:
    """Decide the requested ``qm.*`` properties with BMC and k-induction (engine ``smt``).

    Refutations are replayed through ``QMModel.next_state`` and saved like the explicit
    engine's traces, under ``out_dir/smt``. qm.eventually-installed is not decided here.
    ``hints``: see ``SmtEngine.run`` (used by ``qmcheck check`` to confirm refutations fast).
    """
    from qmcheck.properties.checks.protocol import applicable, validate_ids

    ids = [p for p in applicable(validate_ids(property_ids), options) if p in SMT_IDS]
    model = QMModel(options)
    engine = SmtEngine(model, max_bound=max_bound, max_k=max_k, use_invariants=use_invariants)
    run = engine.run(ids, hints)
    hints = hints or {}
    subject = (options.profile, options.label())
    goal = run.outcomes.get(GOAL)
    vacuous = goal is not None and goal.status == "proved"
    results: list[Any] = []
    traces: dict[str, list[tuple[int, str, State]]] = {}
    for pid in ids:
        out = run.outcomes[GOAL if pid == "qm.reachable-installed" else pid]
        extra: dict[str, Any] = {"options": options.to_dict(), "bmc_bound": run.bmc_bound}
        steps: list[tuple[int, str, State]] = []
        if out.trace is not None:
            steps = replayed(model, out.trace)
            traces[pid] = steps
        if pid == "qm.reachable-installed":
            if out.status == "cex":
                verdict, message = "holds", (f"a state with both pairs installed is reachable "
                                             f"in {out.depth} steps (BMC)")
                extra["witness_length"] = out.depth
            elif out.status == "proved":
                verdict, message = "refuted", (
                    f"no reachable state has both pairs installed (proved by {out.depth}-"
                    f"induction with {len(run.invariants)} auxiliary invariants)")
            else:
                verdict, message = "unknown", (f"no installed pair found up to bound "
                                               f"{out.depth}; not proved unreachable")
        elif out.status == "cex":
            verdict = "refuted"
            how = (f"counterexample at the other engine's bound {out.depth} (BMC)"
                   if pid in hints else f"shortest counterexample: {out.depth} steps (BMC)")
            message = f"{how}; final state: {outcome_text(model, steps[-1][2])}"
        elif out.status == "proved":
            verdict = "holds"
            message = (f"proved for runs of any length by {out.depth}-induction with "
                       f"{len(run.invariants)} auxiliary invariants")
        else:
            verdict = "unknown"
            message = (f"holds up to bound {out.depth} (BMC); k-induction inconclusive up to "
                       f"k={min(max_k, out.depth)}")
            if pid in run.timeouts:
                message += " (a solver call timed out)"
            extra["bound"] = out.depth
        extra["method"] = {"cex": "bmc", "proved": "k-induction", "open": "bmc"}[out.status]
        if out.status == "proved":
            extra["k"] = out.depth
            extra["invariants"] = list(run.invariants)
        if out.cti is not None and out.status != "cex":
            cti = extra["counterexample_to_induction"] = cti_dict(model, out.cti)
            message += (f"\ncounterexample to 1-induction: from a state satisfying the "
                        f"invariants and the property, n{cti['negotiation']} {cti['action']} "
                        f"reaches a bad state (extra.counterexample_to_induction)")
        if verdict == "holds" and vacuous and pid != "qm.reachable-installed":
            message = "VACUOUS: qm.reachable-installed fails, " + message
            extra["vacuous"] = True
        cex: str | None = None
        if verdict == "refuted" and steps:
            extra["trace_length"] = out.depth
            if out_dir is not None:
                trace = build_trace(model, pid, message, steps)
                cex = str(save_trace(trace, Path(out_dir) / "smt"))
        results.append(Result(property=pid, verdict=verdict, subject=subject,  # type: ignore[arg-type]
                              engine="smt", message=message, counterexample=cex,
                              seconds=out.seconds, extra=extra))
    return SmtCheck(results, run, traces)


# -- qmcheck check / protocol --engine glue ------------------------------------------------------
def configurations(mapping: Mapping[str, Any] | None, source: str = "<scenario>"
                   ) -> list[QMOptions]:
    """The configurations ``matrix.protocol_results`` checks for a ``protocol:`` mapping."""
    profiles, base, settings = scenario_plan(mapping, source)
    return [base.with_(profile=profile, **{k: changes.get(k, v) for k, v in DEFAULTS.items()})
            for _, changes in settings for profile in profiles]


def _concrete(r: Result) -> bool:
    """The result rests on a replayed trace: a counterexample, or a reachability witness."""
    if r.property == "qm.reachable-installed":
        return r.verdict == "holds"
    return r.verdict == "refuted"


def merge(explicit: Result, smt: Result) -> Result:
    """One result from both engines: which engine proved what, under which bound.

    Agreeing verdicts stay; an engine that says unknown gives way to the other (no
    disagreement: unknown is no verdict); on disagreement a replayed trace (counterexample or
    witness) wins, otherwise the verdict is unknown; either way the message says ENGINES
    DISAGREE.
    """
    agree = explicit.verdict == smt.verdict or "unknown" in (explicit.verdict, smt.verdict)
    verdict = explicit.verdict if explicit.verdict != "unknown" else smt.verdict
    if not agree:
        concrete = [r for r in (explicit, smt) if _concrete(r)]
        verdict = concrete[0].verdict if len(concrete) == 1 else "unknown"
    bound = ",".join(explicit.subject[1:]) if len(explicit.subject) > 1 else ""
    lines = [f"explicit ({bound}): {explicit.message}", f"smt: {smt.message}"]
    if not agree:
        lines.append(f"ENGINES DISAGREE: explicit {explicit.verdict}, smt {smt.verdict}")
    summary = {k: smt.extra[k] for k in ("method", "k", "bound", "bmc_bound", "trace_length")
               if k in smt.extra}
    summary.update(verdict=smt.verdict, counterexample=smt.counterexample)
    extra = dict(explicit.extra)
    extra.update(smt=summary, engines_agree=agree)
    seconds = None if explicit.seconds is None or smt.seconds is None \
        else explicit.seconds + smt.seconds
    return Result(property=explicit.property, verdict=verdict,  # type: ignore[arg-type]
                  subject=explicit.subject, severity=explicit.severity, engine="explicit+smt",
                  message="\n".join(lines), witness=explicit.witness,
                  counterexample=explicit.counterexample or smt.counterexample,
                  seconds=seconds, extra=extra)


def smt_protocol_results(options_list: Sequence[QMOptions], explicit: Sequence[Result] = (), *,
                         property_ids: Sequence[str] | None = None,
                         out_dir: Path | None = None, max_k: int = 16) -> list[Result]:
    """SMT results for each configuration; with ``explicit`` results, merged with them.

    The explicit engine's refutations are passed as hints (BMC checks their length directly);
    every SMT trace is still replayed, and every proof is the SMT engine's own.
    """
    by_subject: dict[tuple[str, ...], dict[str, Result]] = {}
    for r in explicit:
        by_subject.setdefault(tuple(r.subject), {})[r.property] = r
    out: list[Result] = []
    for options in options_list:
        mine = by_subject.get((options.profile, options.label()), {})
        hints: dict[str, int | None] = {
            p: int(r.extra["trace_length"]) for p, r in mine.items()
            if r.verdict == "refuted" and "trace_length" in r.extra}
        if mine.get("qm.reachable-installed") is not None \
                and mine["qm.reachable-installed"].verdict == "holds":
            hints[GOAL] = None  # a witness exists: search it by BMC, attempt no proof
        ids = list(mine) if mine else property_ids
        smt = {r.property: r for r in smt_check(options, ids, out_dir=out_dir,
                                                  hints=hints, max_k=max_k).results}
        if not mine:
            out.extend(smt.values())
            continue
        for pid, r in mine.items():
            out.append(merge(r, smt[pid]) if pid in smt else r)
    return out


def check_step(scenario: Any, args: Any, explicit: Sequence[Result] = ()) -> list[Result]:
    """The qm.* part of ``qmcheck check`` for ``--engine smt`` (SMT alone) or ``all``
    (``explicit`` = the explicit engine's results, merged with the SMT engine's)."""
    out = Path(getattr(args, "out", "counterexamples"))
    source = str(getattr(scenario, "source", "<scenario>"))
    configs = configurations(getattr(scenario, "protocol", {}), source)
    # k <= 2 keeps ``check`` fast; a property k-induction leaves open stays unknown (merged:
    # the explicit engine's verdict)
    return smt_protocol_results(configs, explicit, out_dir=out, max_k=2)


def protocol_command(args: Any, profiles: Sequence[str], ids: Sequence[str], base: QMOptions,
                     out: Path, max_states: int, any_n: bool) -> list[Result]:
    """``qmcheck protocol --engine smt|all`` (and ``--negotiations any``): the results."""
    from qmcheck.properties.checks.parameterized import parameterized_results
    from qmcheck.properties.checks.protocol import check_protocol

    engine = args.engine
    if any_n:
        if engine == "explicit":
            raise InputError("--negotiations any needs --engine smt or all (the explicit "
                             "engine explores a fixed number)", source="<command line>",
                             field="negotiations")
        if args.matrix:
            raise InputError("--negotiations any does not combine with --matrix",
                             source="<command line>", field="matrix")
        return [r for p in profiles for r in parameterized_results(base.with_(profile=p), ids)]
    if args.matrix:
        if engine != "all":
            raise InputError("--matrix needs --engine explicit or all (the matrix files show "
                             "the explicit engine's state counts)", source="<command line>",
                             field="matrix")
        runs = run_matrix(profiles, base=base, property_ids=ids, out_dir=out)
        write_matrix(runs, Path(args.matrix))
        explicit = [r for _, run in runs for r in run.results]
        configs = [run.options for _, run in runs]
        return smt_protocol_results(configs, explicit, out_dir=out)
    results: list[Result] = []
    for profile in profiles:
        opts = base.with_(profile=profile)
        explicit = [] if engine == "smt" else check_protocol(
            opts, ids, out_dir=out, max_states=max_states).results
        results += smt_protocol_results([opts], explicit, property_ids=ids, out_dir=out)
    return results
