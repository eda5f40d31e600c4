"""Counterexample traces: build from a path of the model, save, load, replay, render.

A trace is a versioned JSON document (``format: qmcheck-qm-trace``, ``version: 1``): the model
options, the property, and the steps, each with the negotiation, the action id and the full
concrete state (raw integer components and a readable description). ``replay`` runs the steps
through the transition system again and checks every state. Renderers: text (only what
changed), Mermaid sequence diagram, DOT (in traces/render.py).
"""

from __future__ import annotations

import json
import re
from pathlib import Path, PurePath
from typing import Any

from qmcheck.model.formats.json_text import parse_json
from qmcheck.model.formats.loader import read_text
from qmcheck.model.quickmode.compiled import QMModel
from qmcheck.model.quickmode.interface import State
from qmcheck.model.quickmode.options import QMOptions
from qmcheck.model.quickmode.profiles import load_profile
from qmcheck.model.values.errors import InputError
from qmcheck.model.values.text import shown
from qmcheck.properties.catalogue import info

FORMAT = "qmcheck-qm-trace"
VERSION = 1


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
    """A stable file name: property, profile (a profile file's name without its folder) and
    fault setting."""
    label = re.sub(r"[^A-Za-z0-9]+", "-", options.label()).strip("-")
    profile = re.sub(r"[^A-Za-z0-9_.-]+", "-", PurePath(options.profile).stem)
    return f"{property_id}__{profile}__{label}.json"


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


MAX_STEPS = 10_000  # longer traces are refused (explored counterexamples are far shorter)
MAX_MESSAGE = 4000  # the message is free text (a note of the run), shown escaped
TOP_KEYS = ("format", "version", "property", "message", "options", "variables", "steps")


def load_options(trace: dict[str, Any], source: str) -> QMOptions:
    """The model options recorded in a trace (InputError when they are malformed): every
    field of ``QMOptions`` with its exact type (booleans are booleans, numbers integers)."""
    raw = trace.get("options")
    if not isinstance(raw, dict):
        raise InputError("the trace has no 'options' object", source=source, field="options")
    fields = QMOptions.__dataclass_fields__
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise InputError(f"unknown option '{shown(unknown[0])}'", source=source,
                         field="options")
    for name, value in raw.items():
        default = fields[name].default
        kind = type(default)
        if default is None and type(value) is int:  # ``retransmits``: None or a number
            continue
        if type(value) is not kind:
            raise InputError(f"must be {kind.__name__}, not {shown(value)}", source=source,
                             field=f"options.{name}")
    try:
        options = QMOptions(**raw)
        load_profile(options.profile)
    except InputError as error:
        raise InputError(error.message, source=source, field=f"options.{error.field}") from None
    except TypeError as error:
        raise InputError(str(error), source=source, field="options") from None
    return options


def load_trace(path: str | Path) -> dict[str, Any]:
    """Read and validate a trace file against its schema (format ``qmcheck-qm-trace``,
    version 1): every field with its type, nesting and integers bounded. Every problem is an
    InputError (exit 2). ``verify_trace`` then checks the content by replaying it."""
    source = str(path)
    trace = parse_json(read_text(source, "a counterexample trace"), source)
    if not isinstance(trace, dict) or trace.get("format") != FORMAT:
        raise InputError(f"not a qmcheck counterexample (expected format {FORMAT!r})",
                         source=source, field="format")
    if type(trace.get("version")) is not int or trace.get("version") != VERSION:
        raise InputError(f"unsupported version {shown(trace.get('version'))} (this is "
                         f"{VERSION})", source=source, field="version")
    unknown = sorted(set(trace) - set(TOP_KEYS))
    if unknown:
        raise InputError(f"unknown key '{shown(unknown[0])}'", source=source,
                         field=shown(unknown[0]))
    load_options(trace, source)
    for key in ("property", "message"):
        if not isinstance(trace.get(key), str):
            raise InputError(f"'{key}' must be a string", source=source, field=key)
    if len(trace["message"]) > MAX_MESSAGE:
        raise InputError(f"'message' is longer than {MAX_MESSAGE} characters", source=source,
                         field="message")
    if info(trace["property"]) is None or not trace["property"].startswith("qm."):
        raise InputError(f"unknown property '{shown(trace['property'])}'", source=source,
                         field="property")
    if not isinstance(trace.get("variables"), list) or not all(
            isinstance(v, str) for v in trace["variables"]):
        raise InputError("'variables' must be a list of names", source=source,
                         field="variables")
    steps = trace.get("steps")
    if not isinstance(steps, list) or not steps:
        raise InputError("'steps' must be a non-empty list", source=source, field="steps")
    if len(steps) > MAX_STEPS:
        raise InputError(f"more than {MAX_STEPS} steps", source=source, field="steps")
    for i, step in enumerate(steps):
        if not isinstance(step, dict) or not isinstance(step.get("raw"), list) \
                or not isinstance(step.get("state"), list):
            raise InputError(f"step {i} needs 'state' and 'raw' lists", source=source,
                             field=f"steps[{i}]")
        if not all(isinstance(c, list) and all(type(x) is int for x in c)
                   for c in step["raw"]):
            raise InputError(f"step {i}: 'raw' must be lists of integers", source=source,
                             field=f"steps[{i}].raw")
        if i and (not isinstance(step.get("action"), str)
                  or type(step.get("negotiation")) is not int):
            raise InputError(f"step {i} needs 'negotiation' and 'action'", source=source,
                             field=f"steps[{i}]")
    return trace


def verify_trace(trace: dict[str, Any], source: str) -> State:
    """Replay a loaded trace and check every recorded field against the trace the model
    rebuilds from its steps; a trace edited anywhere is an InputError naming the field."""
    try:
        final = replay(trace)
    except ValueError as error:
        raise InputError(f"the trace does not replay: {error}", source=source,
                         field="steps") from None
    model = QMModel(load_options(trace, source))
    state = model.init_states()[0]
    steps: list[tuple[int, str, State]] = [(-1, "", state)]
    for step in trace["steps"][1:]:
        state = model.next_state(state, (step["negotiation"] - 1, step["action"]))
        steps.append((step["negotiation"] - 1, step["action"], state))
    expected = json.loads(json.dumps(build_trace(model, trace["property"], trace["message"],
                                                 steps)))
    if expected != trace:
        raise InputError(f"the trace was changed: {_first_difference(expected, trace)} differs "
                         "from what its steps produce", source=source,
                         field=_first_difference(expected, trace))
    return final


def _first_difference(expected: Any, got: Any, path: str = "") -> str:
    """The path of the first field where two JSON values differ (``steps[3].state``)."""
    if isinstance(expected, dict) and isinstance(got, dict):
        for key in sorted(set(expected) | set(got)):
            if expected.get(key) != got.get(key):
                return _first_difference(expected.get(key), got.get(key),
                                         f"{path}.{key}" if path else str(key))
    if isinstance(expected, list) and isinstance(got, list) and len(expected) == len(got):
        for i, (e, g) in enumerate(zip(expected, got, strict=True)):
            if e != g:
                return _first_difference(e, g, f"{path}[{i}]")
    return shown(path or "the document")


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
