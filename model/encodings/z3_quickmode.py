"""The z3 back-end of the Quick Mode transition system (one definition, two back-ends).

Nothing of the protocol is re-stated here: the actions of ``qm_actions`` (guards and
simultaneous updates, as ``qm_expr`` trees) are folded into z3 terms with ``Z3Ops``.

- Variables: for each state (a step index or a tag) and component, one bit-vector per
  ``Layout.names`` entry, and per state one per shared kernel variable (``Layout.shared_names``:
  the hosts' SPI allocators), bounded by their finite domains. A symbolic state is a list: one
  dict per component (its own variables plus the state's shared ones), then the shared dict.
- Steps: for each step, component and action one ``Bool`` indicator; exactly one indicator of a
  step is true (``PbEq``). An indicator implies the action's guard on the pre-state, its updates
  on the post-state and the frame of the component; a component none of whose indicators is
  true keeps all its variables. A shared variable takes the value the firing action gives it
  (whichever component it belongs to), else keeps its value.
- Predicates: the bad states of the ``qm.*`` safety properties (``bad``), the goal of
  qm.reachable-installed and the deadlock predicate of qm.no-deadlock, as z3 formulas.

With ``--reorder`` the explicit semantics keeps channel slots sorted (``Layout.canonical``);
this encoding leaves them unsorted. Both systems are related by ``canonical`` applied to each
component (a bisimulation: the channels are multisets), so verdicts and shortest trace lengths
agree; ``replay_steps`` maps slot numbers when a trace is replayed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import z3

from qmcheck.model.quickmode.compiled import QMModel, quiescent
from qmcheck.model.quickmode.expressions import Expr, fold
from qmcheck.model.quickmode.interface import Local, State, Step

SymLocal = dict[str, Any]  # variable name -> z3 bit-vector term
SymState = list[SymLocal]  # one per component (with the shared variables), then the shared

#: The ``qm.*`` properties that are state predicates ("always not bad"), in catalogue order.
SAFETY_IDS: tuple[str, ...] = (
    "qm.responder-installs-after-msg3",
    "qm.responder-nothing-before-msg3",
    "qm.initiator-spi-after-msg2",
    "qm.spi-unique",
    "qm.agreement",
    "qm.no-black-hole",
    "qm.no-orphan",
    "qm.no-deadlock",
    "qm.initiator-nothing-before-msg2",
    "qm.no-larval-leak",
)
#: The SA lifecycle's safety properties (local predicates; only when the lifecycle is on).
LIFE_SAFETY_IDS: tuple[str, ...] = ("qm.rekey-no-black-hole", "qm.orphan-heals",
                                    "qm.rekey-keeps-outbound")
#: Safety properties that are a local predicate of one negotiation component.
LOCAL_IDS: tuple[str, ...] = tuple(
    p for p in SAFETY_IDS if p not in ("qm.spi-unique", "qm.no-deadlock"))


def as_bool(x: Any) -> Any:
    """A z3 Bool from a Bool or a 0/1 value term."""
    return x if z3.is_bool(x) else x != 0


BITS = 6  # values < 8; sums of channel slots (counting invariants) stay < 64


_NUMS: dict[tuple[int, int], tuple[z3.Context, Any]] = {}


def num(v: int, ctx: z3.Context | None = None) -> Any:
    """The bit-vector constant ``v`` in ``ctx`` (cached: a few constants appear everywhere)."""
    ctx = ctx or z3.main_ctx()
    hit = _NUMS.get((id(ctx), v))
    if hit is None or hit[0] is not ctx:
        hit = _NUMS[(id(ctx), v)] = (ctx, z3.BitVecVal(v, BITS, ctx))
    return hit[1]


def as_int(x: Any) -> Any:
    """A z3 value (bit-vector) from a value or a Bool term."""
    return z3.If(x, num(1, x.ctx), num(0, x.ctx)) if z3.is_bool(x) else x


def _nary(make: Any, xs: Sequence[Any], empty: bool, ctx: z3.Context | None) -> Any:
    """``z3.And`` / ``z3.Or`` over Bools through the C API (no per-argument coercion)."""
    if not xs:
        return z3.BoolVal(empty, ctx)
    if len(xs) == 1:
        return xs[0]
    arr = (z3.Ast * len(xs))()
    for j, x in enumerate(xs):
        arr[j] = x.as_ast()
    ctx = xs[0].ctx
    return z3.BoolRef(make(ctx.ref(), len(xs), arr), ctx)


def mk_and(xs: Sequence[Any], ctx: z3.Context | None = None) -> Any:
    return _nary(z3.z3.Z3_mk_and, xs, True, ctx)


def mk_or(xs: Sequence[Any], ctx: z3.Context | None = None) -> Any:
    return _nary(z3.z3.Z3_mk_or, xs, False, ctx)


class Z3Ops:
    """``qm_expr.Ops`` over z3 (in one context): guards become Bools, values bit-vectors;
    operations coerce."""

    def __init__(self, ctx: z3.Context | None = None) -> None:
        self.ctx = ctx or z3.main_ctx()

    def const(self, value: int) -> Any:
        return num(value, self.ctx)

    def eq(self, a: Any, b: Any) -> Any:
        if z3.is_bool(a) and z3.is_bool(b):
            return a == b
        return as_int(a) == as_int(b)

    def ne(self, a: Any, b: Any) -> Any:
        return z3.Not(self.eq(a, b))

    def lt(self, a: Any, b: Any) -> Any:
        return z3.ULT(as_int(a), as_int(b))

    def le(self, a: Any, b: Any) -> Any:
        return z3.ULE(as_int(a), as_int(b))

    def add(self, a: Any, b: Any) -> Any:
        return as_int(a) + as_int(b)

    def and_(self, xs: Sequence[Any]) -> Any:
        return mk_and([as_bool(x) for x in xs], self.ctx)

    def or_(self, xs: Sequence[Any]) -> Any:
        return mk_or([as_bool(x) for x in xs], self.ctx)

    def not_(self, a: Any) -> Any:
        return z3.Not(as_bool(a))

    def ite(self, c: Any, a: Any, b: Any) -> Any:
        if z3.is_bool(a) and z3.is_bool(b):
            return z3.If(as_bool(c), a, b)
        return z3.If(as_bool(c), as_int(a), as_int(b))


def fold_shared(expr: Expr, env: Mapping[str, Any], memo: dict[Any, Any],
                ops: Z3Ops | None = None) -> Any:
    """``qm_expr.fold`` with ``Z3Ops``, memoized on structure: a node whose operator and folded
    arguments were seen before (z3 terms are hash-consed, so equal terms have equal ids) is not
    built again. Each node is still interpreted by ``fold`` itself (one definition)."""
    if ops is None:
        ops = Z3Ops(next(iter(env.values())).ctx)
    if expr.op in ("var", "const"):
        return fold(expr, env, ops)
    args = [fold_shared(a, env, memo, ops) for a in expr.args]
    key = (expr.op, *(a.get_id() for a in args))
    hit = memo.get(key)
    if hit is None:
        slots = {f"#{j}": a for j, a in enumerate(args)}
        shallow = Expr(expr.op, tuple(Expr("var", name=n) for n in slots))
        hit = memo[key] = fold(shallow, slots, ops)
    return hit


def pred(expr: Expr, env: Mapping[str, Any], memo: dict[Any, Any] | None = None) -> Any:
    """A ``qm_expr`` predicate as a z3 Bool over one component's variables."""
    return as_bool(fold_shared(expr, env, {} if memo is None else memo))


def value(expr: Expr, env: Mapping[str, Any], memo: dict[Any, Any] | None = None) -> Any:
    """A ``qm_expr`` value as a z3 bit-vector over one component's variables."""
    return as_int(fold_shared(expr, env, {} if memo is None else memo))


def substitute(term: Any, pairs: Sequence[tuple[Any, Any]]) -> Any:
    """``z3.substitute`` through the C API (without its per-pair sort checks in Python)."""
    n = len(pairs)
    src, dst = (z3.Ast * n)(), (z3.Ast * n)()
    for j, (a, b) in enumerate(pairs):
        src[j], dst[j] = a.as_ast(), b.as_ast()
    ctx = term.ctx
    return z3.z3._to_expr_ref(z3.z3.Z3_substitute(ctx.ref(), term.as_ast(), n, src, dst), ctx)


class QMEncoding:
    """The z3 transition system of one ``QMModel`` (all its components)."""

    def __init__(self, model: QMModel) -> None:
        self.model = model
        self.layout = model.layout
        self.names = model.layout.names
        self.shared = model.layout.shared_names
        self.all_names = self.names + self.shared
        self.domains = model.layout.domains
        self.actions = model.action_list
        self.init_state: State = model.init_states()[0]
        self.components = len(self.init_state) - 1
        self.bits = BITS
        # a context of its own: term ids, hence solver runs and models, do not depend on what
        # else the process built before (byte-identical reports), and memory is freed with it
        self.ctx = z3.Context()
        self._guards: dict[int, Expr] = {i: a.guard for i, a in enumerate(self.actions)}
        self._updates: dict[int, dict[str, Expr]] = {
            i: dict(a.updates) for i, a in enumerate(self.actions)}
        self._template: tuple[Any, SymLocal, SymLocal, dict[int, Any]] | None = None
        self._shared_template: dict[str, tuple[Any, Any]] | None = None
        # predicates are folded once over these variables, then substituted (fast, in z3)
        self._base: SymLocal = self.local_vars("base", -1, shared=True)
        self._preds: dict[Any, tuple[Any, Any]] = {}
        self._terminal: Any = None
        self._memo: dict[Any, Any] = {}  # fold_shared's memo for terms over ``_base``
        self._sources = (z3.Ast * len(self.all_names))()
        for j, n in enumerate(self.all_names):
            self._sources[j] = self._base[n].as_ast()
        self._targets: dict[int, tuple[Mapping[str, Any], Any]] = {}
        self._quiescent = quiescent(self.layout)

    def at(self, expr: Expr, env: Mapping[str, Any]) -> Any:
        """``pred(expr, env)``, folded once per expression and instantiated by substitution."""
        hit = self._preds.get(id(expr))
        if hit is None or hit[0] is not expr:
            hit = self._preds[id(expr)] = (expr, pred(expr, self._base, self._memo))
        return self._subst(hit[1], env)

    def _subst(self, term: Any, env: Mapping[str, Any]) -> Any:
        """``term`` over ``_base`` with ``env``'s terms in place of the variables.

        (z3's C substitution with cached argument arrays: the Python ``z3.substitute`` checks
        every pair's sorts on each call and dominated the encoding time.)
        """
        if env is self._base:
            return term
        hit = self._targets.get(id(env))
        if hit is None or hit[0] is not env:
            to = (z3.Ast * len(self.all_names))()
            for j, n in enumerate(self.all_names):
                to[j] = (env[n] if n in env else self._base[n]).as_ast()
            hit = self._targets[id(env)] = (env, to)
        ctx = term.ctx
        ast = z3.z3.Z3_substitute(ctx.ref(), term.as_ast(), len(self.all_names), self._sources,
                                  hit[1])
        return z3.z3._to_expr_ref(ast, ctx)

    # -- variables -------------------------------------------------------------------------
    def local_vars(self, tag: str, comp: int = 0, *, shared: bool = False) -> SymLocal:
        """Fresh variables of one component, named ``NAME.c{comp}.{tag}`` (with ``shared``,
        fresh shared variables too: a component with its kernel, for one-component checks)."""
        out = {n: z3.BitVec(f"{n}.c{comp}.{tag}", BITS, self.ctx) for n in self.names}
        if shared:
            out.update(self.shared_vars(f"{tag}.c{comp}"))
        return out

    def shared_vars(self, tag: str) -> SymLocal:
        """Fresh shared (kernel) variables, named ``NAME.{tag}``."""
        return {n: z3.BitVec(f"{n}.{tag}", BITS, self.ctx) for n in self.shared}

    def state_vars(self, tag: str) -> SymState:
        """Fresh variables of a whole state: components (each with the shared ones), shared."""
        shared = self.shared_vars(tag)
        comps: SymState = [self.local_vars(tag, c) | shared for c in range(self.components)]
        return [*comps, shared]

    def local_bounds(self, s: SymLocal) -> Any:
        """Every variable of the component inside its finite domain."""
        return z3.And(*[z3.ULT(s[n], self.domains[n]) for n in self.names])

    def shared_bounds(self, s: SymLocal) -> Any:
        return z3.And(*[z3.ULT(s[n], self.domains[n]) for n in self.shared])

    def bounds(self, s: SymState) -> Any:
        return z3.And(*[self.local_bounds(c) for c in s[:-1]], self.shared_bounds(s[-1]))

    # -- initial states and steps ----------------------------------------------------------
    def local_init(self, s: SymLocal, local: Local) -> Any:
        """The component equals the concrete local state ``local``."""
        return z3.And(*[s[n] == v for n, v in zip(self.names, local, strict=True)])

    def init(self, s: SymState) -> Any:
        """The initial state of the model (its one canonical initial state)."""
        kern = self.init_state[-1]
        return z3.And(*[self.local_init(s[c], loc) for c, loc in enumerate(self.init_state[:-1])],
                      *[s[-1][n] == v for n, v in zip(self.shared, kern, strict=True)])

    def action_formula(self, i: int, pre: SymLocal, post: SymLocal) -> Any:
        """Action ``i`` on one component with the shared variables: guard, updates, frame."""
        new = self._updates[i]
        names = [n for n in self.all_names if n in post]
        eqs = [post[n] == (value(new[n], pre) if n in new else pre[n]) for n in names]
        return z3.And(pred(self._guards[i], pre), *eqs)

    def enabled(self, i: int, pre: SymLocal) -> Any:
        """The guard of action ``i`` on one component."""
        return self.at(self._guards[i], pre)

    def indicators(self, tag: str) -> dict[tuple[int, int], Any]:
        """One Bool per (component, action) of a step, named ``act.c{c}.{action id}.{tag}``."""
        return {(c, i): z3.Bool(f"act.c{c}.{a.id}.{tag}", self.ctx)
                for c in range(self.components) for i, a in enumerate(self.actions)}

    def local_effect(self, pre: SymLocal, post: SymLocal, picks: Mapping[int, Any]) -> Any:
        """Guards of the picked action and each variable's next value (functional form).

        ``post[n]`` is an if-then-else over the picked actions that update ``n``, else
        ``pre[n]``; with no pick true the component stutters.
        """
        body = [z3.Implies(picks[i], self.enabled(i, pre)) for i in picks]
        for n in self.names:
            # actions with the same new value share one branch (z3 terms are hash-consed)
            groups: dict[int, tuple[Any, list[Any]]] = {}
            for i in sorted(picks):
                upd = self._updates[i].get(n)
                if upd is not None:
                    term = value(upd, pre, self._memo if pre is self._base else None)
                    groups.setdefault(term.get_id(), (term, []))[1].append(picks[i])
            nxt = pre[n]
            for term, who in reversed(list(groups.values())):
                nxt = z3.If(mk_or(who), term, nxt)
            body.append(post[n] == nxt)
        return z3.And(*body)

    def _effect_template(self) -> tuple[Any, SymLocal, SymLocal, dict[int, Any]]:
        """``local_effect`` once over placeholder variables (instantiated by substitution)."""
        if self._template is None:
            pre, post = self._base, self.local_vars("post", -1)
            picks = {i: z3.Bool(f"act.{i}.tmpl", self.ctx) for i in range(len(self.actions))}
            self._template = (z3.simplify(self.local_effect(pre, post, picks)), pre, post, picks)
        return self._template

    def local_step(self, pre: SymLocal, post: SymLocal, picks: Mapping[int, Any]) -> Any:
        """``local_effect`` instantiated from the template (fast: one substitution).

        ``pre`` holds the component's and the shared variables; the shared variables' next
        values are not constrained here (``shared_next``)."""
        formula, tpre, tpost, tpicks = self._effect_template()
        pairs = [(tpre[n], pre[n]) for n in self.all_names]
        pairs += [(tpost[n], post[n]) for n in self.names]
        pairs += [(tpicks[i], picks[i]) for i in tpicks]
        return substitute(formula, pairs)

    def shared_next(self, pre: SymLocal, picks: Mapping[int, Any]) -> dict[str, tuple[Any, Any]]:
        """For each shared variable: (some picked action of this component writes it, the
        value it writes), over the component's pre-state."""
        if self._shared_template is None:
            _, tpre, _, tpicks = self._effect_template()
            out: dict[str, tuple[Any, Any]] = {}
            for n in self.shared:
                who = [i for i in sorted(tpicks) if n in self._updates[i]]
                term = tpre[n]
                for i in reversed(who):
                    term = z3.If(tpicks[i], value(self._updates[i][n], tpre, self._memo), term)
                out[n] = (mk_or([tpicks[i] for i in who], self.ctx), term)
            self._shared_template = out
        _, tpre, _, tpicks = self._effect_template()
        pairs = [(tpre[n], pre[n]) for n in self.all_names]
        pairs += [(tpicks[i], picks[i]) for i in tpicks]
        return {n: (substitute(c, pairs), substitute(t, pairs))
                for n, (c, t) in self._shared_template.items()}

    def trans(self, pre: SymState, post: SymState, picks: Mapping[tuple[int, int], Any]) -> Any:
        """One interleaving step of the whole state: exactly one (component, action) fires."""
        body = []
        nxt = {n: pre[-1][n] for n in self.shared}
        for c in range(self.components):
            mine = {i: picks[(c, i)] for i in range(len(self.actions))}
            body.append(self.local_step(pre[c], post[c], mine))
            for n, (cond, term) in self.shared_next(pre[c], mine).items():
                nxt[n] = z3.If(cond, term, nxt[n])
        body += [post[-1][n] == nxt[n] for n in self.shared]
        return z3.And(*body, z3.PbEq([(p, 1) for p in picks.values()], 1))

    # -- properties ------------------------------------------------------------------------
    def local_bad(self, pid: str, s: SymLocal) -> Any:
        """The bad-state predicate of a local property on one component."""
        return self.at(self.model.local_preds[pid], s)

    def quiet(self, s: SymLocal) -> Any:
        return self.at(self._quiescent, s)

    def terminal(self, s: SymLocal) -> Any:
        """No action of the component is enabled."""
        if self._terminal is None:
            self._terminal = z3.And(*[z3.Not(self.enabled(i, self._base))
                                      for i in range(len(self.actions))])
        return self._subst(self._terminal, s)

    def goal(self, s: SymState) -> Any:
        """Some component has both pairs installed (qm.reachable-installed)."""
        return z3.Or(*[self.at(self.model.local_preds["goal"], c) for c in s[:-1]])

    def spi_collision(self, s: SymState) -> Any:
        """Two live inbound entries of one host hold the same SPI (the allocator's values)."""
        entries = []
        for pos, comp in enumerate(s[:-1]):
            for side, name, spi in ((0, "iin", "iis"), (1, "rin", "ris")):
                live = z3.And(z3.Or(comp[name] == 1, comp[name] == 2), comp[spi] != 0)
                host = z3.If(comp["role"] == 0, num(side, self.ctx), num(1 - side, self.ctx))
                entries.append((pos, live, host, comp[spi]))
            if self.layout.lifecycle:  # the old pairs' inbound SAs (1: installed)
                for side, name, spi in ((0, "oi", "oii"), (1, "or", "ori")):
                    live = z3.And(comp[name] == 1, comp[spi] != 0)
                    host = z3.If(comp["role"] == 0, num(side, self.ctx),
                                 num(1 - side, self.ctx))
                    entries.append((-1 - pos, live, host, comp[spi]))
            if self.layout.collide:  # the colliding rekey's entries (y-initiator on R's host)
                for side, name, spi in ((1, "yiin", "yiis"), (0, "yrin", "yris")):
                    live = z3.And(z3.Or(comp[name] == 1, comp[name] == 2), comp[spi] != 0)
                    host = z3.If(comp["role"] == 0, num(side, self.ctx),
                                 num(1 - side, self.ctx))
                    entries.append((f"y{name}{pos}", live, host, comp[spi]))
        # two entries of one component sit on different hosts unless one is an old pair's
        # (negative position): compare every pair of distinct positions
        clash = [z3.And(l1, l2, h1 == h2, p1 == p2)
                 for k, (c1, l1, h1, p1) in enumerate(entries)
                 for (c2, l2, h2, p2) in entries[k + 1:] if c1 != c2]
        return z3.Or(*clash) if clash else z3.BoolVal(False, self.ctx)

    def deadlock(self, s: SymState) -> Any:
        """No step is enabled and some component is not quiescent (qm.no-deadlock)."""
        comps = s[:-1]
        return z3.And(*[self.terminal(c) for c in comps],
                      z3.Not(z3.And(*[self.quiet(c) for c in comps])))

    def bad(self, pid: str, s: SymState) -> Any:
        """The bad states of a safety property over a whole state."""
        if pid == "qm.spi-unique":
            return self.spi_collision(s)
        if pid == "qm.no-deadlock":
            return self.deadlock(s)
        if pid == "not-goal":
            return self.goal(s)
        return z3.Or(*[self.local_bad(pid, c) for c in s[:-1]])

    # -- models back to concrete states ----------------------------------------------------
    def read_local(self, m: z3.ModelRef, s: SymLocal) -> Local:
        return tuple(m.eval(s[n], model_completion=True).as_long() for n in self.names)

    def read_state(self, m: z3.ModelRef, s: SymState) -> State:
        kern = tuple(m.eval(s[-1][n], model_completion=True).as_long() for n in self.shared)
        return (*(self.read_local(m, c) for c in s[:-1]), kern)

    def read_step(self, m: z3.ModelRef, picks: Mapping[tuple[int, int], Any]) -> tuple[int, int]:
        """The (component, action index) whose indicator is true."""
        for key in sorted(picks):
            if z3.is_true(m.eval(picks[key], model_completion=True)):
                return key
        raise ValueError("no action indicator is true in the model")


def replay_steps(model: QMModel, states: Sequence[State],
                 steps: Sequence[tuple[int, int]]) -> list[tuple[int, str, State]]:
    """Replay a symbolic trace through ``QMModel.next_state``; return the concrete steps.

    ``states`` are the symbolic states (``len(steps) + 1``), ``steps`` the (component, action
    index) that fired. Each symbolic state must equal the explicit one up to ``canonical`` of
    the channels; with reordering an action's slot number may differ (the explicit semantics
    sorts the slots), so the explicit step is the same action at the slot that gives the same
    successor. Raises ValueError when the trace does not replay.
    """
    reorder = model.options.reorder
    layout = model.layout

    def canon(state: State) -> State:
        return (*(layout.canonical(c, reorder) for c in state[:-1]), state[-1])

    state = model.init_states()[0]
    if canon(states[0]) != state:
        raise ValueError("the symbolic initial state differs from the model's")
    out: list[tuple[int, str, State]] = [(-1, "", state)]
    for k, (comp, idx) in enumerate(steps):
        action = model.action_list[idx]
        target = canon(states[k + 1])
        chosen: Step | None = None
        candidates: list[Step] = [(comp, action.id)]
        if reorder:
            candidates += sorted((c, a) for c, a in model.actions(state)
                                 if c == comp and a != action.id
                                 and model.action_list[model.action_index[a]].name == action.name)
        for step in candidates:
            try:
                nxt = model.next_state(state, step)
            except ValueError:
                continue
            if nxt == target:
                chosen = step
                state = nxt
                break
        if chosen is None:
            raise ValueError(f"step {k + 1} ({comp}, {action.id}) does not replay")
        out.append((chosen[0], chosen[1], state))
    return out
