"""The qm.* property catalogue and the verdicts of one explicit-state run.

``check_protocol(options)`` explores the model once and derives the verdict of every requested
property; refutations get a replayable counterexample trace written under ``out_dir``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qmcheck.model.quickmode.compiled import QMModel
from qmcheck.model.quickmode.interface import State
from qmcheck.model.quickmode.options import QMOptions
from qmcheck.model.values.errors import InputError
from qmcheck.properties.catalogue import CATALOGUE as ALL_PROPERTIES
from qmcheck.properties.catalogue import PropertyInfo
from qmcheck.properties.engines import explicit as explicit_engine
from qmcheck.properties.engines.explicit import ExplicitEngine, Exploration, stderr_progress
from qmcheck.properties.results import Result
from qmcheck.properties.traces.counterexample import build_trace, concrete_steps, save_trace

#: The qm.* entries of the one property catalogue (ids, meanings, kinds, engines).
CATALOGUE: tuple[PropertyInfo, ...] = tuple(p for p in ALL_PROPERTIES if p.kind == "protocol")
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


@dataclass
class ProtocolRun:
    """Results of one configuration plus the exploration figures."""

    options: QMOptions
    results: list[Result]
    exploration: Exploration


def outcome_text(model: QMModel, state: State) -> str:
    """One line per negotiation that is not installed on both sides, for messages."""
    parts: list[str] = []
    for comp in model.describe(state):
        if "negotiation" not in comp:
            continue
        parts.append(
            f"n{comp['negotiation']}: I {comp['I.phase']} (in {comp['I.inbound']}, out "
            f"{comp['I.outbound']}), R {comp['R.phase']} (in {comp['R.inbound']}, out "
            f"{comp['R.outbound']})")
    return "; ".join(parts)


def recovery_options(options: QMOptions) -> QMOptions:
    """The configuration ``qm.recovery`` is decided in: at most one loss per negotiation (or
    the bound given) and patient timers; the other settings as given."""
    return options.with_(loss=True, max_losses=options.max_losses or 1, timers="patient")


def timers_note(options: QMOptions) -> str:
    return f"timers {options.timers}"


def check_protocol(options: QMOptions, property_ids: Sequence[str] | None = None, *,
                   out_dir: Path | None = None, max_states: int = 20_000_000,
                   progress: bool = False, graph_dot: Path | None = None,
                   reduction: str = "full") -> ProtocolRun:
    """Explore one configuration and decide the requested qm.* properties.

    ``graph_dot``: also build the networkx state graph and write it there in DOT.
    ``reduction``: ``full`` (symmetry, partial-order and dead-variable reduction),
    ``symmetry`` (symmetry only) or ``none`` (every interleaving, every permutation).
    """
    ids = validate_ids(property_ids)
    model = QMModel(options)
    engine = ExplicitEngine(model, max_states=max_states, por=reduction == "full",
                            symmetry=reduction != "none",
                            progress=stderr_progress if progress else None)
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
                message = f"state budget of {max_states} exhausted"
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
                message = f"state budget of {max_states} exhausted"
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
