"""Renderings of a counterexample trace: text (changes only), Mermaid sequence diagram, DOT."""

from __future__ import annotations

import itertools
from typing import Any

from qmcheck.model.values.errors import InputError

FORMATS = ("text", "mermaid", "dot")
_SKIP = ("negotiation", "spi", "initiator", "responder")


def _flat(component: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in component.items():
        if key in _SKIP:
            continue
        if isinstance(value, list):
            out[key] = "[" + ", ".join(str(v) for v in value) + "]"
        elif isinstance(value, dict):
            out[key] = ", ".join(f"{k}={v}" for k, v in sorted(value.items()))
        else:
            out[key] = str(value)
    return out


def _who(component: dict[str, Any], actor: str) -> str:
    if actor == "I":
        return str(component["initiator"])
    if actor == "R":
        return str(component["responder"])
    return "net"


def changes(before: list[dict[str, Any]], after: list[dict[str, Any]]
            ) -> list[tuple[int, str, str, str]]:
    """``(negotiation, field, old, new)`` for every field that differs."""
    out: list[tuple[int, str, str, str]] = []
    for b, a in zip(before, after, strict=True):
        fb, fa = _flat(b), _flat(a)
        out.extend((int(a["negotiation"]), k, fb[k], fa[k]) for k in fa if fb.get(k) != fa[k])
    return out


def render_text(trace: dict[str, Any]) -> str:
    """The initial state in full, then per step the action and only what changed."""
    opts = trace["options"]
    lines = [f"counterexample to {trace['property']}",
             f"profile {opts['profile']}; " + ", ".join(
                 f"{k}={v}" for k, v in sorted(opts.items()) if k != "profile")]
    if trace.get("message"):
        lines.append(str(trace["message"]))
    steps = trace["steps"]
    lines.append("step 0: initial state")
    for comp in steps[0]["state"]:
        lines.append(f"  negotiation {comp['negotiation']} (initiator {comp['initiator']}, "
                     f"responder {comp['responder']})")
        lines.extend(f"    {k} = {v}" for k, v in _flat(comp).items())
    if steps[0].get("kernel"):
        lines.append("  kernel: " + ", ".join(f"{k} = {v}" for k, v in
                                               sorted(steps[0]["kernel"].items())))
    for prev, step in itertools.pairwise(steps):
        comp = step["state"][step["negotiation"] - 1]
        who = _who(comp, step["actor"])
        lines.append(f"step {step['step']}: [n{step['negotiation']}] {who}: {step['text']}"
                     f"  ({step['action']})")
        lines.extend(f"    {k}: {old} -> {new}" for _, k, old, new in
                     changes(prev["state"], step["state"]))
        kb, ka = prev.get("kernel", {}), step.get("kernel", {})
        lines.extend(f"    kernel {k}: {kb.get(k)} -> {v}" for k, v in sorted(ka.items())
                     if kb.get(k) != v)
    return "\n".join(lines) + "\n"


def _fates(steps: list[dict[str, Any]]) -> dict[tuple[int, str], str]:
    """What became of each copy put on the wire, keyed by (sending step, message)."""
    flight: dict[tuple[int, str], list[tuple[str, int | None]]] = {}
    fate: dict[tuple[int, str], str] = {}
    for step in steps[1:]:
        n, ev, msg = step["negotiation"], step["event"], step["message"]
        consumed: tuple[str, str] | None = None
        if ev in ("recv", "drop"):
            consumed = ("I->R" if step["actor"] == "R" else "R->I", msg)
        elif ev == "lose":
            consumed = (msg, step.get("lost_message", ""))
        elif ev == "dup":
            flight.setdefault((n, msg), []).append((step.get("dup_message", ""), None))
        if consumed is not None:
            queue = flight.get((n, consumed[0]), [])
            for i, (m, origin) in enumerate(queue):
                if m == consumed[1]:
                    if origin is not None:
                        fate[(origin, m)] = "lost" if ev == "lose" else "received"
                    queue.pop(i)
                    break
        for direction, sent in step.get("sent", []):
            flight.setdefault((n, direction), []).append((sent, step["step"]))
            fate[(step["step"], sent)] = "in flight"
    return fate


def render_mermaid(trace: dict[str, Any]) -> str:
    """A sequence diagram: host lifelines, each message at its sending step, lost ones crossed."""
    steps = annotate(trace)["steps"]
    lines = ["sequenceDiagram", "    participant A as Host A", "    participant B as Host B",
             f"    Note over A,B: counterexample to {trace['property']} "
             f"({trace['options']['profile']})"]
    fate = _fates(steps)
    for prev, step in itertools.pairwise(steps):
        comp = step["state"][step["negotiation"] - 1]
        i_host, r_host = comp["initiator"], comp["responder"]
        tag = f"[n{step['negotiation']}]"
        who = _who(comp, step["actor"])
        if step["event"] == "dup":
            lines.append(f"    Note over A,B: {tag} network duplicates a {step['message']} "
                         "message")
        elif step["event"] == "retransmit":
            lines.append(f"    Note over {who}: {tag} timer: retransmits {step['message']}")
        elif step["event"] not in ("send", "lose"):
            delta = [f"{k} {new}" if k != "black hole" else "BLACK HOLE: packet dropped"
                     for n, k, _, new in changes(prev["state"], step["state"])
                     if n == step["negotiation"] and ("." in k or k == "black hole")]
            note = step["text"].split(":")[0]
            if note.count("(") > note.count(")"):
                note = step["text"]  # the colon was inside a parenthesis
            if delta:
                note += ": " + ", ".join(delta)
            where = "A,B" if step["actor"] == "net" else who  # the lifecycle's lost notes
            lines.append(f"    Note over {where}: {tag} {note}")
        for direction, msg in step.get("sent", []):
            src, dst = (i_host, r_host) if direction == "I->R" else (r_host, i_host)
            f = fate.get((step["step"], msg), "in flight")
            arrow = {"received": "->>", "lost": "-x", "in flight": "-)"}[f]
            suffix = {"received": "", "lost": " (lost)", "in flight": " (in flight)"}[f]
            lines.append(f"    {src}{arrow}{dst}: {tag} {msg}{suffix}")
    return "\n".join(lines) + "\n"


def annotate(trace: dict[str, Any]) -> dict[str, Any]:
    """Mark in each step which messages it put on the wire (``sent``: [direction, message])."""
    steps = [dict(s) for s in trace["steps"]]
    for prev, step in itertools.pairwise(steps):
        n = step["negotiation"] - 1
        sent: list[list[str]] = []
        if step["event"] != "dup":
            for direction in ("I->R", "R->I"):
                before = list(prev["state"][n][direction])
                after = list(step["state"][n][direction])
                for m in before:
                    if m in after:
                        after.remove(m)
                sent.extend([direction, m] for m in after)
        step["sent"] = sent
        if step["event"] in ("lose", "dup"):
            before = list(prev["state"][n][step["message"]])
            after = list(step["state"][n][step["message"]])
            small, big = (after, before) if step["event"] == "lose" else (before, after)
            for m in small:
                big.remove(m)
            step["lost_message" if step["event"] == "lose" else "dup_message"] = \
                big[0] if big else ""
    return {**trace, "steps": steps}


def render_dot(trace: dict[str, Any]) -> str:
    """The trace as a chain of states, each labelled with what changed."""
    steps = trace["steps"]
    lines = ["digraph counterexample {", "  rankdir=TB;", "  node [shape=box, fontsize=10];",
             f"  label=\"{_esc(trace['property'])} ({_esc(trace['options']['profile'])})\";"]
    lines.append(f"  s0 [label=\"initial\\n{len(steps[0]['state'])} negotiation(s)\"];")
    for prev, step in itertools.pairwise(steps):
        delta = [f"n{n} {k}: {new}" for n, k, _, new in changes(prev["state"], step["state"])]
        label = "\\n".join(_esc(d) for d in delta) or "(no change)"
        lines.append(f"  s{step['step']} [label=\"{label}\"];")
        lines.append(f"  s{prev['step']} -> s{step['step']} "
                     f"[label=\"n{step['negotiation']} {_esc(step['action'])}\"];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _esc(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\"", "\\\"")


def render_trace(trace: dict[str, Any], fmt: str) -> str:
    """Render a loaded trace in ``text``, ``mermaid`` or ``dot``."""
    if fmt == "text":
        return render_text(trace)
    if fmt == "mermaid":
        return render_mermaid(trace)
    if fmt == "dot":
        return render_dot(trace)
    raise InputError(f"unknown format {fmt!r} (expected text, mermaid or dot)",
                     source="<command line>", field="format")
