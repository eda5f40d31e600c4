"""Promela for SPIN, generated from the Quick Mode model's own action expressions.

One configuration (``QMOptions``) becomes one Promela process whose loop holds one ``d_step``
per model action and negotiation component: the guard and the simultaneous updates of
``model/quickmode/actions.py`` are folded into Promela with ``expressions.fold``, so SPIN runs the
very transition relation qmcheck explores, not a hand-written twin. Each variable of each
component is a global ``unsigned`` bit field as wide as its domain (``Layout.domains``), the
shared kernel part (one SPI allocator per host) is one field per host, and the constant
``role`` of a component is folded in. With reordering the IKE channels are multisets in
qmcheck (``Layout.canonical`` sorts the occupied slots); the generated code keeps them sorted
too (one insertion pass after an action that writes a channel, which adds at most one message
to it), so SPIN's stored states are exactly qmcheck's states without reductions.

Properties become assertion options that are executable only in a bad state and change
nothing, so they add no state: ``assert(<id>)`` on a hidden variable named after the property
(``qm.no-orphan`` -> ``qm_no_orphan``), which pan prints when violated; a hidden ``seen_<id>``
(no part of a stored state) lets each fire once, so pan's output stays short.
``qm.no-deadlock`` is a ``timeout`` option (no action enabled) asserting that every
component is quiescent, and ``qm.reachable-installed`` is an assertion that fails where
both sides have installed (a "violation" there means: reachable). pan's ``-c0`` keeps
searching after a violation and prints each assertion that failed: one run, every verdict.

    python -m benchmarks.promela --profile hpux --loss --negotiations 2 > qm.pml
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence

from qmcheck.model.quickmode.compiled import QMModel, local_properties, quiescent
from qmcheck.model.quickmode.expressions import Expr, fold
from qmcheck.model.quickmode.options import QMOptions
from qmcheck.model.quickmode.state import INSTALLED, LARVAL

#: Properties the generated model checks, in report order (qmcheck ids).
SAFETY_IDS: tuple[str, ...] = (
    "qm.responder-installs-after-msg3", "qm.responder-nothing-before-msg3",
    "qm.initiator-spi-after-msg2", "qm.initiator-nothing-before-msg2", "qm.agreement",
    "qm.no-black-hole", "qm.no-orphan", "qm.no-larval-leak", "qm.spi-unique",
)
CHECKED_IDS: tuple[str, ...] = (*SAFETY_IDS, "qm.no-deadlock", "qm.reachable-installed")


def flag(pid: str) -> str:
    """The hidden variable pan names for a property (``qm.no-orphan`` -> ``qm_no_orphan``)."""
    return pid.replace(".", "_").replace("-", "_")


class PromelaOps:
    """``expressions.Ops`` building Promela source text (integers and booleans alike)."""

    def const(self, value: int) -> str:
        return str(value)

    def eq(self, a: str, b: str) -> str:
        return f"({a} == {b})"

    def ne(self, a: str, b: str) -> str:
        return f"({a} != {b})"

    def lt(self, a: str, b: str) -> str:
        return f"({a} < {b})"

    def le(self, a: str, b: str) -> str:
        return f"({a} <= {b})"

    def add(self, a: str, b: str) -> str:
        return f"({a} + {b})"

    def and_(self, xs: Sequence[str]) -> str:
        return "(" + " && ".join(xs) + ")" if xs else "1"

    def or_(self, xs: Sequence[str]) -> str:
        return "(" + " || ".join(xs) + ")" if xs else "0"

    def not_(self, a: str) -> str:
        return f"(!{a})"

    def ite(self, c: str, a: str, b: str) -> str:
        return f"({c} -> {a} : {b})"


OPS = PromelaOps()


def bits(size: int) -> int:
    """Bits of an unsigned field holding 0 .. size-1."""
    return max(1, (size - 1).bit_length())


class Generator:
    """The Promela text of one configuration (``text``), from ``QMModel``'s actions."""

    def __init__(self, options: QMOptions) -> None:
        self.options = options
        self.model = QMModel(options)
        self.layout = self.model.layout
        if any("role" in a.writes for a in self.model.action_list):
            raise ValueError("the generator folds role as a constant, but an action writes it")
        init = self.model.init_states()[0]
        self.roles = [local[self.layout.index["role"]] for local in init[:-1]]
        self.initial = init

    def env(self, c: int) -> dict[str, str]:
        """Promela names of component ``c``'s variables (role folded), shared ones included."""
        out = {n: f"{n}_{c}" for n in self.layout.names}
        out["role"] = str(self.roles[c])
        out.update({n: n for n in self.layout.shared_names})
        return out

    def expr(self, e: Expr, env: Mapping[str, str]) -> str:
        return fold(e, env, OPS)

    def declarations(self) -> list[str]:
        dom = self.layout.domains
        lines: list[str] = []
        for c, local in enumerate(self.initial[:-1]):
            for name, value in zip(self.layout.names, local, strict=True):
                if name != "role":
                    lines.append(f"unsigned {name}_{c} : {bits(dom[name])} = {value};")
        for name, value in zip(self.layout.shared_names, self.initial[-1], strict=True):
            lines.append(f"unsigned {name} : {bits(dom[name])} = {value};")
        temps = [*self.layout.names, *self.layout.shared_names]
        lines.append("hidden byte " + ", ".join(f"t_{n}" for n in temps) + ";")
        lines.append("hidden byte " + ", ".join(flag(p) for p in CHECKED_IDS) + ";")
        lines.append("hidden byte " + ", ".join(f"seen_{flag(p)}" for p in CHECKED_IDS) + ";")
        return lines

    def sort_pass(self, chan: str, c: int) -> list[str]:
        """One insertion pass keeping channel ``chan`` of component ``c`` sorted (0 = empty
        sorts last), as ``Layout.canonical``."""
        k = self.layout.slots
        out: list[str] = []
        for i in range(k - 1, 0, -1):
            x, y = f"{chan}{i - 1}_{c}", f"{chan}{i}_{c}"
            out.append(f"if :: ({y} != 0 && ({x} == 0 || {x} > {y})) -> "
                       f"t_role = {x}; {x} = {y}; {y} = t_role :: else -> skip fi")
        return out

    def action(self, c: int, index: int) -> str:
        act = self.model.action_list[index]
        env = self.env(c)
        body = [f"/* {act.id} (component {c}) */ {self.expr(act.guard, env)}"]
        body += [f"t_{n} = {self.expr(e, env)}" for n, e in act.updates]
        body += [f"{env[n]} = t_{n}" for n, _ in act.updates]
        if self.options.reorder:
            for chan in ("a", "b"):
                if any(n.startswith(chan) and n[1:].isdigit() for n in act.writes):
                    body += self.sort_pass(chan, c)
        return ":: d_step { " + ";\n       ".join(body) + " }"

    def spi_clash(self) -> str:
        """``QMModel.spi_collisions``: two live inbound entries of one host share an SPI."""
        entries: list[tuple[int, str, str]] = []
        for c, role in enumerate(self.roles):
            entries.append((role, f"iin_{c}", f"iis_{c}"))
            entries.append((1 - role, f"rin_{c}", f"ris_{c}"))
        live = "(({s} == {l} || {s} == {i}) && {p} != 0)"
        clauses = []
        for x in range(len(entries)):
            for y in range(x + 1, len(entries)):
                (hx, sx, px), (hy, sy, py) = entries[x], entries[y]
                if hx == hy:
                    clauses.append("(" + live.format(s=sx, l=LARVAL, i=INSTALLED, p=px)
                                   + " && " + live.format(s=sy, l=LARVAL, i=INSTALLED, p=py)
                                   + f" && {px} == {py})")
        return "(" + " || ".join(clauses) + ")" if clauses else "0"

    def checks(self) -> list[str]:
        preds = local_properties(self.layout)
        ncomp = len(self.roles)
        out: list[str] = []
        for pid in SAFETY_IDS:
            if pid == "qm.spi-unique":
                bad = self.spi_clash()
            else:
                bad = OPS.or_([self.expr(preds[pid], self.env(c)) for c in range(ncomp)])
            out.append(self.report(pid, bad))
        goal = OPS.or_([self.expr(preds["goal"], self.env(c)) for c in range(ncomp)])
        out.append(self.report("qm.reachable-installed", goal))
        quiet = OPS.and_([self.expr(quiescent(self.layout), self.env(c)) for c in range(ncomp)])
        name = flag("qm.no-deadlock")
        out.append(f":: d_step {{ timeout -> if :: !{quiet} && !seen_{name} -> seen_{name} = 1; "
                   f"assert({name}) :: else -> skip fi }}")
        return out

    @staticmethod
    def report(pid: str, bad: str) -> str:
        """An option taken in a bad state: the first time, a failing assertion named after the
        property (``seen_*`` is hidden, so it is no part of a stored state)."""
        name = flag(pid)
        return f":: d_step {{ {bad} && !seen_{name} -> seen_{name} = 1; assert({name}) }}"

    def text(self, *, properties: bool = True) -> str:
        """The whole Promela model."""
        lines = [f"/* qmcheck Quick Mode model v2, generated by benchmarks/promela.py: profile "
                 f"{self.options.profile}, {self.options.label()}, "
                 f"{len(self.roles)} component(s), {len(self.model.action_list)} actions each "
                 "*/", *self.declarations(), "", "active proctype qm() {", "  do"]
        for c in range(len(self.roles)):
            for i in range(len(self.model.action_list)):
                lines.append("  " + self.action(c, i))
        if properties:
            lines += ["  " + x for x in self.checks()]
        lines += ["  od", "}", ""]
        return "\n".join(lines)


def promela(options: QMOptions, *, properties: bool = True) -> str:
    """Promela for ``options``: SPIN's reachable states are qmcheck's without reductions."""
    return Generator(options).text(properties=properties)


def options_from_args(argv: Sequence[str] | None = None) -> tuple[QMOptions, bool]:
    """QMOptions from command-line flags named as ``qmcheck protocol``'s."""
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="hpux")
    for name in ("loss", "duplicate", "reorder", "commit-bit", "simultaneous"):
        ap.add_argument(f"--{name}", action="store_true")
    ap.add_argument("--timers", default="eager")
    ap.add_argument("--retransmits", type=int, default=None)
    ap.add_argument("--negotiations", type=int, default=1)
    ap.add_argument("--no-properties", action="store_true")
    a = ap.parse_args(argv)
    opts = QMOptions(profile=a.profile, loss=a.loss, duplicate=a.duplicate, reorder=a.reorder,
                     commit_bit=a.commit_bit, simultaneous=a.simultaneous, timers=a.timers,
                     retransmits=a.retransmits, negotiations=a.negotiations)
    return opts, not a.no_properties


if __name__ == "__main__":
    options, props = options_from_args()
    sys.stdout.write(promela(options, properties=props))
