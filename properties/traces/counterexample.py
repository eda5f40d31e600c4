"""Counterexample traces: build from an exploration, save, load, replay, render.

A trace is a versioned JSON document (``format: qmcheck-qm-trace``, ``version: 1``): the model
options, the property, and the steps, each with the negotiation, the action id and the full
concrete state (raw integer components and a readable description). ``replay`` runs the steps
through the transition system again and checks every state. Renderers: text (only what
changed), Mermaid sequence diagram, DOT (in traces/render.py).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from qmcheck.model.quickmode.compiled import QMModel
from qmcheck.model.quickmode.interface import State
from qmcheck.model.quickmode.options import QMOptions
from qmcheck.model.quickmode.profiles import load_profile
from qmcheck.model.values.errors import InputError
from qmcheck.properties.engines.explicit import ExplicitEngine, Exploration

FORMAT = "qmcheck-qm-trace"
VERSION = 1


def concrete_steps(engine: ExplicitEngine, exploration: Exploration,
                   target: State) -> list[tuple[int, str, State]]:
    """The path to ``target`` as concrete states: negotiations keep their identity.

    Returns ``(negotiation index, action id, concrete state)``; the first entry has index -1.
    Every concrete state is checked against the reduced state the engine recorded.
    """
    model = engine.model
    path = engine.path(exploration, target)
    state = model.init_states()[0]
    out: list[tuple[int, str, State]] = [(-1, "", state)]
    for c, a, recorded in path[1:]:
        comps = state[:-1] if engine.generic else state
        keys = [engine.key(x) for x in comps]
        order = sorted(range(len(comps)), key=lambda i: keys[i]) if engine.symmetry \
            else list(range(len(comps)))
        comp = order[c]
        action_id = model.action_list[a].id
        state = model.next_state(state, (comp, action_id))
        if engine.canonical(state) != recorded:
            raise AssertionError("concrete replay diverged from the explored path")
        out.append((comp, action_id, state))
    return out


def build_trace(model: QMModel, property_id: str, message: str,
                steps: list[tuple[int, str, State]]) -> dict[str, Any]:
    """The JSON document of a counterexample."""
    out_steps: list[dict[str, Any]] = []
    for i, (comp, action_id, state) in enumerate(steps):
        entry: dict[str, Any] = {"step": i}
        if comp >= 0:
            act = model.action_list[model.action_index[action_id]]
            entry.update({"negotiation": comp + 1, "action": action_id, "actor": act.actor,
                          "event": act.event, "message": act.message, "text": act.text})
        described = model.describe(state)
        entry["state"] = [d for d in described if "negotiation" in d]
        entry["kernel"] = next((d["kernel"] for d in described if "kernel" in d), {})
        entry["raw"] = [list(c) for c in state]
        out_steps.append(entry)
    return {
        "format": FORMAT,
        "version": VERSION,
        "property": property_id,
        "message": message,
        "options": model.options.to_dict(),
        "variables": list(model.layout.names),
        "steps": out_steps,
    }


def trace_filename(property_id: str, options: QMOptions) -> str:
    """A stable file name: property, profile and fault setting."""
    label = re.sub(r"[^A-Za-z0-9]+", "-", options.label()).strip("-")
    return f"{property_id}__{options.profile}__{label}.json"


def save_trace(trace: dict[str, Any], directory: Path, *, renderings: bool = True) -> Path:
    """Write the JSON trace (sorted keys) and its text, Mermaid and DOT renderings beside it."""
    from qmcheck.properties.traces.render import render_trace

    directory.mkdir(parents=True, exist_ok=True)
    options = load_options(trace, "<trace>")
    path = directory / trace_filename(trace["property"], options)
    path.write_text(json.dumps(trace, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    if renderings:
        for fmt, ext in (("text", ".txt"), ("mermaid", ".mmd"), ("dot", ".dot")):
            path.with_suffix(ext).write_text(render_trace(trace, fmt), encoding="utf-8")
    return path


def load_options(trace: dict[str, Any], source: str) -> QMOptions:
    """The model options recorded in a trace (InputError when they are malformed)."""
    raw = trace.get("options")
    if not isinstance(raw, dict):
        raise InputError("the trace has no 'options' object", source=source, field="options")
    known = set(QMOptions.__dataclass_fields__)
    unknown = sorted(set(raw) - known)
    if unknown:
        raise InputError(f"unknown option {unknown[0]!r}", source=source, field="options")
    try:
        options = QMOptions(**raw)
        load_profile(options.profile)
    except InputError as error:
        raise InputError(error.message, source=source, field=f"options.{error.field}") from None
    except TypeError as error:
        raise InputError(str(error), source=source, field="options") from None
    return options


def load_trace(path: str | Path) -> dict[str, Any]:
    """Read and validate a trace file; every problem is an InputError (exit 2)."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(f"cannot read the file: {error.strerror}", source=source) from None
    try:
        trace = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"not JSON: {error.msg}", source=source, line=error.lineno) from None
    if not isinstance(trace, dict) or trace.get("format") != FORMAT:
        raise InputError(f"not a qmcheck counterexample (expected format {FORMAT!r})",
                         source=source, field="format")
    if trace.get("version") != VERSION:
        raise InputError(f"unsupported version {trace.get('version')!r} (this is {VERSION})",
                         source=source, field="version")
    load_options(trace, source)
    steps = trace.get("steps")
    if not isinstance(steps, list) or not steps:
        raise InputError("'steps' must be a non-empty list", source=source, field="steps")
    for i, step in enumerate(steps):
        if not isinstance(step, dict) or not isinstance(step.get("raw"), list) \
                or not isinstance(step.get("state"), list):
            raise InputError(f"step {i} needs 'state' and 'raw' lists", source=source,
                             field=f"steps[{i}]")
        if i and (not isinstance(step.get("action"), str)
                  or not isinstance(step.get("negotiation"), int)):
            raise InputError(f"step {i} needs 'negotiation' and 'action'", source=source,
                             field=f"steps[{i}]")
    if not isinstance(trace.get("property"), str):
        raise InputError("'property' must be a string", source=source, field="property")
    return trace


def replay(trace: dict[str, Any]) -> State:
    """Run the trace through the transition system; return the final state.

    Raises ValueError when a step is not enabled or a recorded state differs.
    """
    model = QMModel(load_options(trace, "<trace>"))
    steps = trace["steps"]
    state = model.init_states()[0]
    if [list(c) for c in state] != steps[0]["raw"]:
        raise ValueError("the initial state differs")
    for i, step in enumerate(steps[1:], start=1):
        state = model.next_state(state, (step["negotiation"] - 1, step["action"]))
        if [list(c) for c in state] != step["raw"]:
            raise ValueError(f"step {i}: the recorded state differs")
    return state
