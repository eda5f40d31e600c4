"""The qm.* property catalogue and the verdicts of one explicit-state run.

``check_protocol(options)`` presents the model as a generic transition system
(model/quickmode/system.py), explores it once with the generic engine (properties/engines/bfs.py)
at the requested reduction level and derives the verdict of every requested property;
refutations get a replayable counterexample trace written under ``out_dir``. Verdicts and traces
do not depend on the level (the traces are the level-independent shortest witnesses of
properties/engines/witness.py); the state and transition counts do.
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
from qmcheck.model.quickmode.system import QuickModeSystem
from qmcheck.model.values.errors import InputError
from qmcheck.properties.catalogue import CATALOGUE as ALL_PROPERTIES
from qmcheck.properties.catalogue import LIFECYCLE_IDS, PropertyInfo
from qmcheck.properties.engines import bfs
from qmcheck.properties.engines.budget import BUDGET, memory_budget, stderr_progress
from qmcheck.properties.results import Result
from qmcheck.properties.traces.counterexample import build_trace, save_trace

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


#: Not decided with ``--restart``: the fault destroys a host's daemon state by design and the
#: model has no later acquire by the survivor, so the restart alone would refute them (noise).
NOT_WITH_RESTART: tuple[str, ...] = ("qm.eventually-installed", "qm.recovery")


def applicable(ids: Sequence[str], options: QMOptions) -> tuple[str, ...]:
    """The ids a run of ``options`` decides: the lifecycle's only with the lifecycle on, and
    neither liveness id with the restart fault (``NOT_WITH_RESTART``)."""
    if options.restart:
        ids = [p for p in ids if p not in NOT_WITH_RESTART]
    if options.lifecycle:
        return tuple(ids)
    return tuple(p for p in ids if p not in LIFECYCLE_IDS)


@dataclass
class ProtocolRun:
    """Results of one configuration plus the exploration figures."""

    options: QMOptions
    results: list[Result]
    exploration: bfs.Search


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
        if "R-rekey" in comp and comp["R-rekey"] != "-":  # a rekey collision
            text += (f"; R's colliding rekey: R {comp['R-rekey.R.phase']} (in "
                     f"{comp['R-rekey.R.inbound']}, out {comp['R-rekey.R.outbound']}), I "
                     f"{comp['R-rekey.I.phase']} (in {comp['R-rekey.I.inbound']}, out "
                     f"{comp['R-rekey.I.outbound']})")
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
                   reduction: str = "full", max_memory: int | None = None) -> ProtocolRun:
    """Explore one configuration and decide the requested qm.* properties.

    ``reduction``: ``full`` (symmetry, stubborn sets from the actions' read/write sets, shared
    allocators included, and dead-block summaries), ``symmetry`` (orbit representatives) or
    ``none`` (every interleaving). ``graph_dot``: also build the state graph and write it there
    in DOT. ``max_states`` / ``max_memory`` (bytes): past them the run stops and every property
    it has not refuted is unknown.
    """
    ids = applicable(validate_ids(property_ids), options)
    if BUDGET.max_states is not None:  # --max-states of `check` (issue 13)
        max_states = min(max_states, BUDGET.max_states)
    if max_memory is None:
        max_memory = memory_budget()
    announce_budget(options, max_states, max_memory)
    report = progress if callable(progress) else stderr_progress if progress else None
    model, qs, engine, search = _explore(options, reduction, max_states, max_memory,
                                         graph_dot is not None, report)
    if graph_dot is not None:
        graph_dot.parent.mkdir(parents=True, exist_ok=True)
        graph_dot.write_text(bfs.graph_dot(search, engine), encoding="utf-8")
    subject = (options.profile, options.label())
    findings = search.findings
    vacuous = findings["qm.reachable-installed"].verdict == "refuted"
    extra_base: dict[str, Any] = {"states": search.states, "transitions": search.transitions,
                                  "options": options.to_dict(), "timers": options.timers,
                                  "reduction": reduction}
    results: list[Result] = []
    for pid in ids:
        if pid in UNDECIDED:
            results.append(Result(property=pid, verdict="unknown", subject=subject,
                                  engine="explicit", message="not decided by any engine yet "
                                  "(SA lifecycle, issue 12)", seconds=0.0,
                                  extra=dict(extra_base)))
            continue
        if pid == "qm.recovery":
            results.append(_recovery(options, reduction, max_states, max_memory, subject,
                                     extra_base, out_dir))
            continue
        f = findings[pid]
        verdict = f.verdict
        steps: list[tuple[int, str, State]] = []
        if pid == "qm.reachable-installed":
            message = ("a state with both pairs installed is reachable" if verdict == "holds"
                       else "no reachable state has both pairs installed")
            if verdict == "unknown":
                message = _budget_text(search, max_states, max_memory)
        elif verdict == "refuted":
            steps = qs.steps(f.path + f.cycle)
            final = outcome_text(model, steps[-1][2])
            message = f"final state ({timers_note(options)}): {final}"
            if f.cycle:
                message = "fair cycle without installation at: " + final
        elif verdict == "unknown":
            message = _budget_text(search, max_states, max_memory)
        else:
            message = f"proved over {search.states} states ({timers_note(options)})"
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


def _explore(options: QMOptions, reduction: str, max_states: int, max_memory: int | None,
             build_graph: bool = False, progress: Callable[[str], None] | None = None,
             properties: Sequence[str] | None = None
             ) -> tuple[QMModel, QuickModeSystem, bfs.Engine, bfs.Search]:
    """The model, its generic system, the engine and the finished search (of the system's
    ``properties`` only, when given)."""
    model = QMModel(options)
    qs = QuickModeSystem(model)
    engine = bfs.Engine(qs.system, reduction=reduction, max_states=max_states,
                        max_memory=max_memory, build_graph=build_graph, progress=progress,
                        properties=properties)
    return model, qs, engine, engine.run()


def _budget_text(search: bfs.Search, max_states: int, max_memory: int | None) -> str:
    if search.stopped == "max-states":
        return f"state budget of {max_states} exhausted (raise it with --max-states)"
    return (f"memory budget of {(max_memory or 0) // 2**20} MB exhausted after "
            f"{search.states} states (raise it with --max-memory)")


def _recovery(options: QMOptions, reduction: str, max_states: int, max_memory: int | None,
              subject: tuple[str, ...], extra_base: dict[str, Any],
              out_dir: Path | None) -> Result:
    """qm.recovery: qm.eventually-installed in ``recovery_options``."""
    pid = "qm.recovery"
    ropts = recovery_options(options)
    # only the property it needs: at level full no other part's visibility constrains the
    # stubborn sets (10x fewer states at N = 3)
    model, qs, _, search = _explore(ropts, reduction, max_states, max_memory,
                                    properties=("qm.eventually-installed",))
    f = search.findings["qm.eventually-installed"]
    steps = qs.steps(f.path + f.cycle) if f.verdict == "refuted" else []
    if f.verdict == "refuted":
        message = (f"with at most {ropts.max_losses} loss and patient timers, final "
                   f"state: {outcome_text(model, steps[-1][2])}")
    elif f.verdict == "unknown":
        message = _budget_text(search, max_states, max_memory)
    else:
        message = (f"proved over {search.states} states with at most "
                   f"{ropts.max_losses} loss per negotiation and patient timers")
    extra = dict(extra_base, states=search.states, transitions=search.transitions,
                 options=ropts.to_dict(), timers="patient")
    cex = None
    if steps:
        trace = build_trace(model, pid, message, steps)
        extra["trace_length"] = len(steps) - 1
        if out_dir is not None:
            cex = str(save_trace(trace, out_dir))
    return Result(property=pid, verdict=f.verdict, subject=subject,  # type: ignore[arg-type]
                  engine="explicit", message=message, counterexample=cex,
                  seconds=search.seconds, extra=extra)


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
