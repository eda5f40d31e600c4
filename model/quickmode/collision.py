"""Rekey collisions (issue 12): the pair's responder rekeys the same pair (``--collide``).

Both hosts reach the soft expiry of the pair and each starts a rekey Quick Mode for it. The
pair's own rekey (``i_rekey`` in lifecycle.py, started by the pair's initiator I) is the
exchange "x" of the component's usual variables; the responder's rekey is a second exchange
"y" in which the pair's responder host is the initiator. Its actions are those of
``actions.build_actions`` with every exchange variable renamed (``EXCHANGE`` -> ``y*``, the IKE
slots -> ``ya*``/``yb*``) and the roles swapped (so the SPIs come from the same two allocators,
in swapped order): the profile's operation lists run unchanged in the other direction.

Profile keys (``lifecycle:``), each cited per daemon in the profile files:

- ``rekey-by``: ``initiator`` (only the pair's initiator rekeys: no collision) or ``both``.
- ``rekey-until``: how long R may still start its own rekey once I's rekey is under way:
  ``peer-m1`` (until R receives I's message 1, which marks the old pair as being rekeyed) or
  ``newer-sa`` (until R has a newer pair installed).
- ``collision``: what the host does that answers a colliding rekey while its own is under way:
  ``keep-both`` (both exchanges complete, two new pairs stay, the later installed carries the
  outbound traffic) or ``defer-out`` (it only registers the new outbound SA and installs it in
  the step that completes its own rekey; if its own rekey fails, never: the strongSwan #1896
  bug class, used by a mutant). Only the pair's initiator host answers a colliding rekey.

Each host sends on the newest installed outbound SA of the pair (``nwi``/``nwr`` remember which
of the two new pairs it installed last). One collision per run; after it no further rekey.
"""

from __future__ import annotations

import re
from dataclasses import replace

from qmcheck.model.quickmode.actions import Action, _Build
from qmcheck.model.quickmode.expressions import (
    Expr,
    and_,
    eq,
    in_,
    ite,
    lt,
    ne,
    not_,
    substitute,
    var,
)
from qmcheck.model.quickmode.options import QMOptions
from qmcheck.model.quickmode.profiles import Profile
from qmcheck.model.quickmode.state import (
    DELETED,
    EXCHANGE,
    I_DEAD,
    I_DONE,
    I_IDLE,
    I_START,
    I_WAIT2,
    INSTALLED,
    R_DEAD,
    R_DONE,
    R_GIVEUP,
    R_IDLE,
    R_M1,
    R_M3,
    R_REFUSED,
    R_WAIT3,
    Layout,
)

#: Base actions that stay with the pair's own exchange (the kernel's ESP, the acquire).
_NOT_COPIED = ("i_start", "i_send_esp", "r_send_esp", "i_recv_esp", "r_recv_esp")
_SWAP = {"I": "R", "R": "I"}


def ymap(layout: Layout) -> dict[str, Expr]:
    """Renaming of the pair's exchange into the colliding one (roles swapped)."""
    out: dict[str, Expr] = {n: var(f"y{n}") for n in EXCHANGE}
    for j in range(layout.slots):
        out[f"a{j}"] = var(f"ya{j}")
        out[f"b{j}"] = var(f"yb{j}")
    out["role"] = ite(eq(var("role"), 0), 1, 0)  # the y-initiator runs on the other host
    return out


def installed_y(host: str) -> Expr:
    """Both SAs of the colliding rekey's pair installed on the pair's I or R host."""
    a, b = ("yrin", "yrout") if host == "I" else ("yiin", "yiout")
    return and_(eq(var(a), INSTALLED), eq(var(b), INSTALLED))


def y_quiet(layout: Layout) -> Expr:
    """The colliding exchange is not running (not started or ended) and its slots are empty."""
    return and_(in_(var("yip"), (I_IDLE, I_DONE, I_DEAD)),
                in_(var("yrp"), (R_IDLE, R_DONE, R_DEAD, R_REFUSED)),
                *(eq(var(f"y{c}{j}"), 0) for c in "ab" for j in range(layout.slots)))


def _swap_text(text: str) -> str:
    return re.sub(r"\b([IR])\b", lambda m: _SWAP[m.group(1)], text)


def _copy(action: Action, mapping: dict[str, Expr], layout: Layout) -> Action:
    order = {n: i for i, n in enumerate(layout.names + layout.shared_names)}
    updates = []
    for name, expr in action.updates:
        target = mapping[name].name if name in mapping else name
        updates.append((target, substitute(expr, mapping)))
    updates.sort(key=lambda u: order[u[0]])
    if action.event in ("lose", "dup"):
        message = {"I->R": "R->I", "R->I": "I->R"}[action.message]
    else:
        message = f"R-rekey {action.message}" if action.message else ""
    return Action(f"y_{action.name}", action.slot, _SWAP.get(action.actor, action.actor),
                  action.event, message, substitute(action.guard, mapping), tuple(updates),
                  f"[R's rekey] {_swap_text(action.text)}")


def collision_actions(options: QMOptions, prof: Profile, layout: Layout,
                      base: tuple[Action, ...]) -> list[Action]:
    """The colliding exchange's actions (renamed copies of ``base``) and R's soft expiry that
    starts it."""
    life = prof.lifecycle
    mapping = ymap(layout)
    own_done = and_(eq(var("ip"), I_DONE), eq(var("iin"), INSTALLED),
                    eq(var("iout"), INSTALLED))
    out: list[Action] = []
    for action in base:
        if action.name in _NOT_COPIED:
            continue
        copy = _copy(action, mapping, layout)
        if life["collision"] == "defer-out" and "yrout" in copy.writes:
            new = dict(copy.updates)
            b = _Build(layout)
            for name, expr in new.items():
                b.set(name, ite(own_done, expr, var(name)) if name in ("yrout", "yros")
                      else expr)
            b.set("ydf", ite(own_done, var("ydf"), 1))
            copy = replace(copy, updates=b.updates(),
                           text=copy.text + " (while I's own rekey has not completed: only "
                                            "registered, installed when it completes)")
        out.append(copy)

    # R's soft expiry while I's rekey of the same pair has not reached it: the collision.
    window = (eq(var("rp"), R_IDLE) if life["rekey-until"] == "peer-m1"
              else in_(var("rp"), (R_IDLE, R_M1, R_WAIT3, R_M3, R_GIVEUP, R_DEAD, R_REFUSED)))
    start = prof.lists(options.commit_bit)[("initiator", "start")]
    b = _Build(layout)
    b.set("yk", 1)
    b.set("yip", I_START if start else I_WAIT2)
    out.append(Action("r_rekey", None, "R", "rekey", "",
                      and_(eq(var("yk"), 0), lt(0, var("rk")), eq(var("rs"), 0),
                           eq(var("or"), 1), eq(var("rg"), 1), window), b.updates(),
                      "soft expiry of R's copy of the pair while I's rekey of it has not "
                      "reached R: R starts its own rekey (a collision)"))

    return out


def install_when_done(action: Action, layout: Layout) -> Action:
    """``collision: defer-out``: the step that completes I's own rekey (I's phase becomes done
    with both its SAs installed) also installs the outbound SA of R's rekey it registered."""
    new = dict(action.updates)
    if "ip" not in new or (new["ip"].op == "const" and new["ip"].value != I_DONE):
        return action
    after = {n: new.get(n, var(n)) for n in ("ip", "iin", "iout")}
    done = and_(eq(var("ydf"), 1), eq(after["ip"], I_DONE), eq(after["iin"], INSTALLED),
                eq(after["iout"], INSTALLED))
    b = _Build(layout)
    for name, expr in new.items():
        b.set(name, expr)
    b.set("yrout", ite(done, INSTALLED, var("yrout")))
    b.set("yros", ite(done, var("yrks"), var("yros")))
    b.set("ydf", ite(done, 2, var("ydf")))
    return replace(action, updates=b.updates(),
                   text=action.text + " (and, if it registered the outbound SA of R's rekey, "
                                      "installs it now)")


def orphan_expiry(layout: Layout, quiet: Expr) -> list[Action]:
    """Hard expiry of the colliding rekey's pair on a host whose peer lacks it (no further
    rekey comes after a collision, so an orphan is never replaced)."""
    out = []
    for host, peer, entries in (("I", "R", ("yrin", "yrout")), ("R", "I", ("yiin", "yiout"))):
        b = _Build(layout)
        for e in entries:
            b.set(e, DELETED)
        b.set("ox", 1)
        out.append(Action(f"y_{host.lower()}_orphan_expire", None, host, "expire", "",
                          and_(eq(var("yk"), 1), installed_y(host),
                               not_(installed_y(peer)), quiet), b.updates(),
                          f"hard expiry of {host}'s pair from R's rekey, which its peer does "
                          "not have (an orphan nobody removed)"))
    return out


#: Outbound entries and which host's newest pointer their install sets (0: x, 1: y).
_OUTBOUND = (("iout", "nwi", 0), ("yrout", "nwi", 1), ("rout", "nwr", 0), ("yiout", "nwr", 1))


def track_newest(action: Action, layout: Layout) -> Action:
    """An action that installs an outbound SA makes it its host's newest."""
    new = dict(action.updates)
    touched = [(e, p, v) for e, p, v in _OUTBOUND if e in new]
    if not touched:
        return action
    b = _Build(layout)
    for name, expr in new.items():
        b.set(name, expr)
    for entry, pointer, value in touched:
        now = and_(eq(new[entry], INSTALLED), ne(var(entry), INSTALLED))
        b.set(pointer, ite(now, value, b.cur(pointer)))
    return replace(action, updates=b.updates())


def y_rank_progress(v: dict[str, int]) -> int:
    """The colliding exchange's part of the lifecycle progress (see lifecycle.life_rank)."""
    return (v["yk"] + v["ydf"]
            + sum(int(v[e] == DELETED) for e in ("yiin", "yiout", "yrin", "yrout")))
