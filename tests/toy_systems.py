"""Small transition systems with hand-derived state counts, for the generic engine's tests."""

from __future__ import annotations

from qmcheck.model.transitions.system import (
    Action,
    Env,
    Part,
    Property,
    Symmetry,
    TransitionSystem,
    Variable,
)


def token_ring(n: int, *, symmetric: bool = False) -> TransitionSystem:
    """``n`` processes pass a token; the holder may enter and leave its critical section.

    Reachable: the holder ``tok = i`` with ``cs_i`` in {0, 1} and every other ``cs`` 0, so
    ``2n`` states and ``2n`` transitions (one successor each). For ``n = 2`` swapping the two
    processes (renaming ``tok``) is a symmetry of the ring: 2 orbits.
    """
    cs = [f"cs{i}" for i in range(n)]
    variables = (Variable("tok", n), *(Variable(c, 2) for c in cs))
    actions = []
    for i in range(n):
        actions.append(Action(
            f"enter{i}", frozenset({"tok", cs[i]}), frozenset({cs[i]}),
            lambda e, i=i: e["tok"] == i and e[f"cs{i}"] == 0, lambda e, i=i: {f"cs{i}": 1}))
        actions.append(Action(
            f"leave{i}", frozenset({cs[i]}), frozenset({cs[i], "tok"}),
            lambda e, i=i: e[f"cs{i}"] == 1,
            lambda e, i=i: {f"cs{i}": 0, "tok": (i + 1) % n}))
    props = (
        Property("mutex", "always", (Part(frozenset(cs), lambda e: sum(e.values()) > 1),)),
        Property("zero-enters", "eventually", (Part(frozenset({"cs0"}), lambda e: e["cs0"] == 1),)),
        Property("no-deadlock", "no-deadlock"),
    )
    syms = (Symmetry("procs", tuple((c,) for c in cs), renamed=("tok",)),) \
        if symmetric and n == 2 else ()
    init = {"tok": 0, **dict.fromkeys(cs, 0)}
    return TransitionSystem(variables, (init,), tuple(actions), props, syms, name="token ring")


def shared_counter(*, symmetric: bool = False) -> TransitionSystem:
    """Two writers each read the shared ``x`` into ``tmp`` and write ``tmp + 1``: lost update.

    Reachable (by hand, DESIGN of the test): 13 states, 14 transitions; with the writers
    interchangeable 8 orbits. ``final-two`` is refuted by r0 r1 w0 w1 (x ends at 1).
    """
    variables = (Variable("x", 3), Variable("pc0", 3), Variable("tmp0", 3),
                 Variable("pc1", 3), Variable("tmp1", 3))
    actions = []
    for i in (0, 1):
        pc, tmp = f"pc{i}", f"tmp{i}"
        actions.append(Action(f"read{i}", frozenset({pc, "x"}), frozenset({pc, tmp}),
                              lambda e, pc=pc: e[pc] == 0,
                              lambda e, pc=pc, tmp=tmp: {tmp: e["x"], pc: 1}))
        actions.append(Action(f"write{i}", frozenset({pc, tmp}), frozenset({pc, "x"}),
                              lambda e, pc=pc: e[pc] == 1,
                              lambda e, pc=pc, tmp=tmp: {"x": e[tmp] + 1, pc: 2}))

    def both_done_wrong(e: Env) -> bool:
        return e["pc0"] == 2 and e["pc1"] == 2 and e["x"] != 2

    def done(e: Env) -> bool:
        return e["pc0"] == 2 and e["pc1"] == 2

    props = (
        Property("final-two", "always",
                 (Part(frozenset({"x", "pc0", "pc1"}), both_done_wrong),)),
        Property("no-deadlock", "no-deadlock", (Part(frozenset({"pc0", "pc1"}), done),)),
        Property("both-done", "sometimes", (Part(frozenset({"pc0", "pc1"}), done),)),
        # read only at terminal states: no visibility condition protects it, only the
        # dependency of read_i on write_j through x (partial-order reduction must keep x = 1)
        Property("ends-at-two", "no-deadlock", (Part(frozenset({"x"}), lambda e: e["x"] == 2),)),
    )
    syms = (Symmetry("writers", (("pc0", "tmp0"), ("pc1", "tmp1"))),) if symmetric else ()
    init = dict.fromkeys(("x", "pc0", "tmp0", "pc1", "tmp1"), 0)
    return TransitionSystem(variables, (init,), tuple(actions), props, syms,
                            name="shared counter")


def buggy_mutex(*, symmetric: bool = False, fair_try: bool = True) -> TransitionSystem:
    """Check-then-set mutex: ``try_i`` tests the other flag, ``set_i`` raises its own and enters.

    The flag is 1 exactly in the critical section, so a state is ``(pc0, pc1)``: all 9 are
    reachable, 16 transitions; 6 orbits with the processes interchangeable. ``mutex`` is refuted
    by try0 try1 set0 set1. ``zero-enters`` holds under strong fairness of ``try`` (it is enabled
    whenever process 1 is outside its section) and is refuted by a fair cycle without it.
    """
    variables = tuple(Variable(n, s) for n, s in (("pc0", 3), ("flag0", 2), ("pc1", 3),
                                                  ("flag1", 2)))
    actions = []
    for i, j in ((0, 1), (1, 0)):
        pc, fl, other = f"pc{i}", f"flag{i}", f"flag{j}"
        actions.append(Action(f"try{i}", frozenset({pc, other}), frozenset({pc}),
                              lambda e, pc=pc, other=other: e[pc] == 0 and e[other] == 0,
                              lambda e, pc=pc: {pc: 1}, fair=fair_try))
        actions.append(Action(f"set{i}", frozenset({pc}), frozenset({pc, fl}),
                              lambda e, pc=pc: e[pc] == 1, lambda e, pc=pc, fl=fl: {fl: 1, pc: 2}))
        actions.append(Action(f"leave{i}", frozenset({pc}), frozenset({pc, fl}),
                              lambda e, pc=pc: e[pc] == 2, lambda e, pc=pc, fl=fl: {fl: 0, pc: 0}))
    props = (
        Property("mutex", "always",
                 (Part(frozenset({"pc0", "pc1"}), lambda e: e["pc0"] == 2 and e["pc1"] == 2),)),
        Property("zero-enters", "eventually", (Part(frozenset({"pc0"}), lambda e: e["pc0"] == 2),)),
        Property("no-deadlock", "no-deadlock"),
    )
    syms = (Symmetry("procs", (("pc0", "flag0"), ("pc1", "flag1"))),) if symmetric else ()
    init = dict.fromkeys(("pc0", "flag0", "pc1", "flag1"), 0)
    return TransitionSystem(variables, (init,), tuple(actions), props, syms, name="buggy mutex")
