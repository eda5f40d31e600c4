"""The qm.* property catalogue and the verdicts of one explicit-state run.

``check_protocol(options)`` explores the model once and derives the verdict of every requested
property; refutations get a replayable counterexample trace written under ``out_dir``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qmcheck.model.quickmode.compiled import QMModel
from qmcheck.model.quickmode.interface import State
from qmcheck.model.quickmode.options import QMOptions
from qmcheck.model.values.errors import InputError
from qmcheck.properties.catalogue import CATALOGUE as ALL_PROPERTIES
from qmcheck.properties.catalogue import LIFECYCLE_IDS, PropertyInfo
from qmcheck.properties.engines import bfs
from qmcheck.properties.engines import explicit as explicit_engine
from qmcheck.properties.engines.explicit import (
    BUDGET,
    ExplicitEngine,
    Exploration,
    memory_budget,
    stderr_progress,
)
from qmcheck.properties.engines.quickmode_system import QuickModeSystem
from qmcheck.properties.results import Result
from qmcheck.properties.traces.counterexample import build_trace, concrete_steps, save_trace

#: The qm.* entries of the one property catalogue (ids, meanings, kinds, engines).
CATALOGUE: tuple[PropertyInfo, ...] = tuple(p for p in ALL_PROPERTIES
                                        if p.kind == "protocol" and p.engines)
#: always / eventually / sometimes, by the catalogue's flavour.
SEMANTICS: dict[str, str] = {"safety": "always", "liveness": "eventually",
                             "reachability": "sometimes"}
BY_ID: dict[str, PropertyInfo] = {p.id: p for p in CATALOGUE}
UNDECIDED: frozenset[str] = frozenset(p.id for p in CATALOGUE if not p.engines)
QM_IDS: tuple[str, ...] = tuple(p.id for p in CATALOGUE)
#: The ids some engine decides (the default set of a run); the others report "unknown".
DECIDED_IDS: tuple[str, ...] = tuple(p.id for p in CATALOGUE if p.engines)


def validate_ids(ids: Sequence[str] | None) -> tuple[str, ...]:
    """The requested property ids in catalogue order (all decided ones when none); InputError
    if unknown."""
    if not ids:
        return DECIDED_IDS
    for pid in ids:
        if pid not in BY_ID:
            raise InputError(f"unknown property {pid!r} (expected one of {', '.join(QM_IDS)})",
                             source="<command line>", field="property")
    return tuple(p for p in QM_IDS if p in set(ids))


def applicable(ids: Sequence[str], options: QMOptions) -> tuple[str, ...]:
    """The ids a run of ``options`` decides: the lifecycle's only with the lifecycle on."""
    if options.lifecycle:
        return tuple(ids)
    return tuple(p for p in ids if p not in LIFECYCLE_IDS)


@dataclass
class ProtocolRun:
    """Results of one configuration plus the exploration figures."""

    options: QMOptions
    results: list[Result]
    exploration: Exploration | bfs.Search


def outcome_text(model: QMModel, state: State) -> str:
    """One line per negotiation that is not installed on both sides, for messages."""
    parts: list[str] = []
    for comp in model.describe(state):
        if "negotiation" not in comp:
            continue
        text = (f"n{comp['negotiation']}: I {comp['I.phase']} (in {comp['I.inbound']}, out "
                f"{comp['I.outbound']}), R {comp['R.phase']} (in {comp['R.inbound']}, out "
                f"{comp['R.outbound']})")
        if "rekeys" in comp:  # the SA lifecycle is on
            text += (f"; rekeys {comp['rekeys']}, I old pair {comp['I.old pair']}, R old pair "
                     f"{comp['R.old pair']}, restart: {comp['restart']}")
        parts.append(text)
    return "; ".join(parts)


def recovery_options(options: QMOptions) -> QMOptions:
    """The configuration ``qm.recovery`` is decided in: at most one loss per negotiation (or
    the bound given) and patient timers; the other settings as given."""
    return options.with_(loss=True, max_losses=options.max_losses or 1, timers="patient")


def timers_note(options: QMOptions) -> str:
    return f"timers {options.timers}"


def check_protocol(options: QMOptions, property_ids: Sequence[str] | None = None, *,
                   out_dir: Path | None = None, max_states: int = 20_000_000,
                   progress: bool | Callable[[str], None] = False,
                   graph_dot: Path | None = None,
                   reduction: str = "full", max_memory: int | None = None,
                   engine: str = "legacy") -> ProtocolRun:
    """Explore one configuration and decide the requested qm.* properties.

    ``engine``: ``legacy`` (properties/engines/explicit.py, the default: it explores the Quick
    Mode model v2, whose negotiations share kernel state) or ``generic``
    (properties/engines/bfs.py through properties/engines/quickmode_system.py, an adapter that
    still targets the v1 model; wiring v2 is open, issue 11).
    ``graph_dot``: also build the state graph and write it there in DOT.
    ``reduction``: ``full`` (symmetry and partial-order reduction; the legacy engine adds
    dead-variable reduction), ``symmetry`` (symmetry only) or ``none`` (every interleaving).
    ``max_memory``: bytes; the generic engine compresses, then spills, then stops (unknown).
    """
    if engine == "generic":
        return check_protocol_generic(options, property_ids, out_dir=out_dir,
                                      max_states=max_states, progress=progress,
                                      graph_dot=graph_dot, reduction=reduction,
                                      max_memory=max_memory)
    ids = applicable(validate_ids(property_ids), options)
    model = QMModel(options)
    engine = ExplicitEngine(model, max_states=max_states, por=reduction == "full",
                            symmetry=reduction != "none",
                            progress=progress if callable(progress)
                            else stderr_progress if progress else None)
    if not engine.acyclic or graph_dot is not None:
        engine.build_graph = True
    ex = engine.explore()
    if graph_dot is not None:
        graph_dot.parent.mkdir(parents=True, exist_ok=True)
        graph_dot.write_text(explicit_engine.graph_dot(ex, engine), encoding="utf-8")
    subject = (options.profile, options.label())
    vacuous = ex.complete and ex.goal_state is None
    extra_base: dict[str, Any] = {"states": ex.states, "transitions": ex.transitions,
                                  "options": options.to_dict(), "timers": options.timers,
                                  "reduction": "symmetry" if engine.generic and
                                  reduction != "none" else reduction}
    results: list[Result] = []
    for pid in ids:
        target: State | None = None
        verdict = "holds"
        message = ""
        if pid in UNDECIDED:
            results.append(Result(property=pid, verdict="unknown", subject=subject,
                                  engine="explicit", message="not decided by any engine yet "
                                  "(SA lifecycle, issue 12)", seconds=0.0,
                                  extra=dict(extra_base)))
            continue
        if pid == "qm.recovery":
            ropts = recovery_options(options)
            run_model = QMModel(ropts)
            run_engine = ExplicitEngine(run_model, max_states=max_states, symmetry=reduction
                                        != "none")
            run_ex = run_engine.explore()
            target = run_ex.bad_terminal
            steps = concrete_steps(run_engine, run_ex, target) if target is not None else []
            if target is not None:
                verdict = "refuted"
                message = (f"with at most {ropts.max_losses} loss and patient timers, final "
                           f"state: {outcome_text(run_model, steps[-1][2])}")
            elif not run_ex.complete:
                verdict = "unknown"
                message = run_ex.stop_reason or f"state budget of {max_states} exhausted"
            else:
                message = (f"proved over {run_ex.states} states with at most "
                           f"{ropts.max_losses} loss per negotiation and patient timers")
            extra = dict(extra_base, states=run_ex.states, options=ropts.to_dict(),
                         timers="patient")
            cex = None
            if steps and verdict == "refuted":
                trace = build_trace(run_model, pid, message, steps)
                extra["trace_length"] = len(steps) - 1
                if out_dir is not None:
                    cex = str(save_trace(trace, out_dir))
            results.append(Result(property=pid, verdict=verdict, subject=subject,  # type: ignore[arg-type]
                                  engine="explicit", message=message, counterexample=cex,
                                  seconds=run_ex.seconds, extra=extra))
            continue
        if pid == "qm.reachable-installed":
            if ex.goal_state is not None:
                message = "a state with both pairs installed is reachable"
                target = None
            else:
                verdict = "refuted" if ex.complete else "unknown"
                message = "no reachable state has both pairs installed"
        elif pid == "qm.no-deadlock":
            target = ex.deadlock
        elif pid == "qm.eventually-installed":
            target = ex.bad_terminal if ex.bad_terminal is not None else ex.fair_cycle
        else:
            target = ex.first_bad.get(pid)
        steps = concrete_steps(engine, ex, target) if target is not None else []
        if pid != "qm.reachable-installed":
            if target is not None:
                verdict = "refuted"
                final = steps[-1][2]
                message = f"final state ({timers_note(options)}): {outcome_text(model, final)}"
                if pid == "qm.eventually-installed" and ex.bad_terminal is None:
                    message = "fair cycle without installation at: " + outcome_text(model, final)
            elif not ex.complete:
                verdict = "unknown"
                message = ex.stop_reason or f"state budget of {max_states} exhausted"
            else:
                message = f"proved over {ex.states} states ({timers_note(options)})"
        extra = dict(extra_base)
        if verdict == "holds" and vacuous and pid != "qm.reachable-installed":
            message = "VACUOUS: qm.reachable-installed fails, " + message
            extra["vacuous"] = True
        cex: str | None = None
        if steps and verdict == "refuted":
            trace = build_trace(model, pid, message, steps)
            extra["trace_length"] = len(steps) - 1
            if out_dir is not None:
                cex = str(save_trace(trace, out_dir))
        results.append(Result(property=pid, verdict=verdict, subject=subject,  # type: ignore[arg-type]
                              engine="explicit", message=message, counterexample=cex,
                              seconds=ex.seconds, extra=extra))
    return ProtocolRun(options, results, ex)


def check_protocol_generic(options: QMOptions, property_ids: Sequence[str] | None = None, *,
                           out_dir: Path | None = None, max_states: int = 20_000_000,
                           progress: bool | Callable[[str], None] = False,
                           graph_dot: Path | None = None, reduction: str = "full",
                           max_memory: int | None = None) -> ProtocolRun:
    """``check_protocol`` on the generic engine (same results, same traces)."""
    ids = applicable(validate_ids(property_ids), options)
    if BUDGET.max_states is not None:  # --max-states of `check` (issue 13)
        max_states = min(max_states, BUDGET.max_states)
    if max_memory is None:
        max_memory = memory_budget()
    announce_budget(options, max_states, max_memory)
    model = QMModel(options)
    qs = QuickModeSystem(model)
    engine = bfs.Engine(qs.system, reduction=reduction, max_states=max_states,
                        max_memory=max_memory, build_graph=graph_dot is not None,
                        progress=progress if callable(progress)
                        else stderr_progress if progress else None)
    search = engine.run()
    if graph_dot is not None:
        graph_dot.parent.mkdir(parents=True, exist_ok=True)
        graph_dot.write_text(bfs.graph_dot(search, engine), encoding="utf-8")
    subject = (options.profile, options.label())
    findings = search.findings
    vacuous = search.complete and findings["qm.reachable-installed"].verdict == "refuted"
    budget = (f"state budget of {max_states} exhausted" if search.stopped == "max-states"
              else f"memory budget of {(max_memory or 0) // 2**20} MB exhausted")
    extra_base: dict[str, Any] = {"states": search.states, "transitions": search.transitions,
                                  "options": options.to_dict(), "reduction": reduction}
    results: list[Result] = []
    for pid in ids:
        f = findings[pid]
        verdict = f.verdict
        steps: list[tuple[int, str, State]] = []
        if pid == "qm.reachable-installed":
            message = ("a state with both pairs installed is reachable" if verdict == "holds"
                       else "no reachable state has both pairs installed")
        elif verdict == "refuted":
            steps = qs.steps(f.path + f.cycle)
            final = steps[-1][2]
            message = f"final state: {outcome_text(model, final)}"
            if f.cycle:
                message = "fair cycle without installation at: " + outcome_text(model, final)
        elif verdict == "unknown":
            message = budget
        else:
            message = f"proved over {search.states} states"
            if pid == "qm.spi-unique":
                message += " (SPIs are allocated per host from distinct values)"
        extra = dict(extra_base)
        if verdict == "holds" and vacuous and pid != "qm.reachable-installed":
            message = "VACUOUS: qm.reachable-installed fails, " + message
            extra["vacuous"] = True
        cex: str | None = None
        if steps:
            trace = build_trace(model, pid, message, steps)
            extra["trace_length"] = len(steps) - 1
            if out_dir is not None:
                cex = str(save_trace(trace, out_dir))
        results.append(Result(property=pid, verdict=verdict,  # type: ignore[arg-type]
                              subject=subject, engine="explicit", message=message,
                              counterexample=cex, seconds=search.seconds, extra=extra))
    return ProtocolRun(options, results, search)


#: Peak resident bytes per stored state of the generic engine (benchmarks/bench_protocol.py
#: measured 89 at N=3 without reductions; rounded up).
GENERIC_BYTES_PER_STATE = 100


def announce_budget(options: QMOptions, max_states: int, max_memory: int) -> None:
    """Before a run whose state budget could need more than the memory budget, print the
    estimate: the run then ends with unknown at the memory budget, never an out-of-memory
    kill."""
    need = max_states * GENERIC_BYTES_PER_STATE
    if need <= max_memory:  # the state budget ends the run first: nothing to warn about
        return
    print(f"qmcheck: {options.profile} {options.label()}: up to {max_states:,} states "
          f"(--max-states) need about {need // 2**20:,} MB at {GENERIC_BYTES_PER_STATE} bytes "
          f"per state; memory budget {max_memory // 2**20:,} MB (--max-memory): past either "
          "budget the results are unknown", file=sys.stderr, flush=True)
