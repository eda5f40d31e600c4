"""After Quick Mode: the SA lifecycle (docs/SPEC.md 3 "After Quick Mode", issue 12).

Time is abstract: soft and hard expiry are nondeterministic steps. The lifecycle's variables
(``state.LIFE``) exist only when it is on (``QMOptions.lifecycle``); then this module replaces
the kernel's ESP actions (a host holds a current and an old pair) and adds these actions, each
with its guard and updates in the expression style of ``actions.py`` (so every engine and the
z3 encoding pick them up through ``reads``/``writes``):

- ``i_rekey``: the soft expiry of the initiator's pair starts a rekey (bounded by ``--rekeys``):
  the pair becomes the old pair on both hosts, still carrying traffic, and a new Quick Mode
  starts in the same component (racoon pfkey.c pk_recvexpire: only the phase 2 initiator
  rekeys). Taken only when the previous exchange has ended with nothing in flight (stale
  messages of an exchange carry its message ID and are discarded by real daemons; an ESP
  packet sent before the soft expiry has arrived), and when the old pair of the previous rekey
  is gone (its hard expiry comes before the new pair's soft expiry).
- ``i_delete_old``: a profile with ``delete-old: after-rekey`` removes the old pair as soon as
  the new one is installed; ``i_old_expire`` / ``r_old_expire``: the hard expiry of an old
  pair, after the rekey exchange has ended and with no ESP or notification in flight (the
  margin between soft and hard expiry is minutes; flights are milliseconds).
- ``i_orphan_expire`` / ``r_orphan_expire``: the hard expiry of a current pair whose peer lacks
  it, once its owner can no longer rekey it (bound reached, or the peer lost its ISAKMP SA).
  A healthy pair is not expired at the end of the bound (time stops there), so these two
  guards contain the orphan condition by construction: ``ox`` then means "an orphan lasted
  to its hard expiry", which is what ``qm.orphan-heals`` reads.
- delete notifications (``--delete-notify`` and the profile's ``delete-notify: sent``): a side
  that removes its old pair tells the peer, which removes its copy; the network may lose it.
- ``i_restart`` / ``r_restart`` (``--restart``, once per pair): the host loses its SAD entries
  of this pair and its daemon state; ``i_reinit``: a restarted initiator negotiates again
  (a new Phase 1 and Quick Mode), carrying INITIAL-CONTACT when ``--initial-contact``; a
  responder that honours it removes every older SA of the peer.
- ``i_dpd`` / ``r_dpd`` (``--dpd`` and ``dpd: supported``): the survivor of a restart finds
  the peer dead (RFC 3706) and clears the SAs it holds with it; DPD's timeout (delay x
  retries, tens of seconds) is taken to be shorter than a lifetime, so an orphan does not
  expire while a DPD that would remove it is pending.

The restart is per pair (exact with one negotiation, the lifecycle matrix's setting).
"""

from __future__ import annotations

from dataclasses import replace

from qmcheck.model.quickmode.actions import Action, _Build
from qmcheck.model.quickmode.collision import (
    collision_actions,
    install_when_done,
    orphan_expiry,
    track_newest,
    y_quiet,
    y_rank_progress,
)
from qmcheck.model.quickmode.expressions import (
    FALSE,
    TRUE,
    Expr,
    add,
    and_,
    eq,
    in_,
    ite,
    lt,
    ne,
    not_,
    or_,
    var,
)
from qmcheck.model.quickmode.options import QMOptions
from qmcheck.model.quickmode.profiles import Profile
from qmcheck.model.quickmode.state import (
    ABSENT,
    DELETED,
    I_DEAD,
    I_DONE,
    I_START,
    I_WAIT2,
    INSTALLED,
    R_DEAD,
    R_DONE,
    R_IDLE,
    R_REFUSED,
    Layout,
)

#: Old-pair states and the notification channel states.
NONE, LIVE, GONE = 0, 1, 2
IDLE, FLIGHT, DONE = 0, 1, 2
#: Restart states (``rs``).
RS_NONE, RS_I, RS_R, RS_I_AGAIN = range(4)
#: The component scalars a new exchange starts from (rekey or negotiation after a restart).
_FRESH = ("ipc", "ic", "rpc", "rc", "iin", "iout", "rin", "rout", "iis", "ios", "ris", "ros",
          "iks", "rks", "m1s", "m2s", "di", "dr", "dups", "lost", "g2", "g3")


def installed(side: str) -> Expr:
    """Both current SAs of a side installed."""
    a, b = ("iin", "iout") if side == "I" else ("rin", "rout")
    return and_(eq(var(a), INSTALLED), eq(var(b), INSTALLED))


def _gone(entry: str) -> Expr:
    """An entry after its host lost or removed it."""
    return ite(eq(var(entry), ABSENT), ABSENT, DELETED)


def _channels_empty(layout: Layout) -> Expr:
    return and_(*(eq(var(f"{c}{j}"), 0) for c in "ab" for j in range(layout.slots)))


def _ended() -> Expr:
    """The exchange has ended on both sides (neither daemon runs or waits)."""
    return and_(in_(var("ip"), (I_DONE, I_DEAD)), in_(var("rp"), (R_IDLE, R_DONE, R_DEAD,
                                                                   R_REFUSED)))


def _quiet_notes() -> Expr:
    """No delete notification or INITIAL-CONTACT in flight."""
    return and_(ne(var("dni"), FLIGHT), ne(var("dnr"), FLIGHT), ne(var("icm"), FLIGHT))


class Mechanisms:
    """Which mechanisms are in force: the option switched on and the profile has it."""

    def __init__(self, options: QMOptions, prof: Profile) -> None:
        life = prof.lifecycle
        self.delete = options.delete_notify and life["delete-notify"] == "sent"
        self.dpd = options.dpd and life["dpd"] == "supported"
        self.ic = options.initial_contact and life["initial-contact"] == "honoured"
        self.restart = options.restart
        self.newest = life["outbound"] == "newest"
        self.early_delete = life["delete-old"] == "after-rekey"
        self.reuse_spi = life["rekey-spi"] == "reuse"
        self.deferred_out = life["responder-outbound"] == "on-delete"
        self.collide = options.collide and life["rekey-by"] == "both"


def lifecycle_actions(options: QMOptions, prof: Profile, layout: Layout,
                      base: tuple[Action, ...]) -> tuple[Action, ...]:
    """``base`` (actions.build_actions) with the lifecycle's changes and actions; ``base``
    itself when the lifecycle is off."""
    if not layout.lifecycle:
        return base
    mech = Mechanisms(options, prof)
    out: list[Action] = []
    for action in base:
        if action.name.endswith("_send_esp"):
            action = _send_esp(action, layout, mech, options)
        elif action.name.endswith("_recv_esp"):
            action = _recv_esp(action, layout, mech)
        elif mech.deferred_out and action.name.startswith("r_m3_") \
                and action.name.endswith("install-out"):
            action = _deferred_install(action, layout)
        out.append(action)
    out.extend(_new_actions(options, prof, layout, mech))
    if mech.collide:
        out.extend(collision_actions(options, prof, layout, base))
        out.extend(orphan_expiry(layout, and_(_ended(), _channels_empty(layout), y_quiet(layout),
                                              eq(var("ei"), 0), eq(var("er"), 0),
                                              _quiet_notes())))
        if prof.lifecycle["collision"] == "defer-out":
            out = [install_when_done(a, layout) if not a.name.startswith("y_") else a
                   for a in out]
        out = [track_newest(a, layout) for a in out]
    if options.no_expiry:  # lifetimes of 0: no soft expiry (rekey) and no hard expiry
        out = [a for a in out if a.event not in ("rekey", "expire")]
    return tuple(out)


# -- replaced kernel actions ---------------------------------------------------------------
def _send_esp(action: Action, layout: Layout, mech: Mechanisms, options: QMOptions) -> Action:
    """The kernel sends on the newest (or oldest) installed outbound SA of the traffic."""
    side = action.actor
    flight, count, entry, spi, old, old_spi = (
        ("ei", "di", "iout", "ios", "oi", "oio") if side == "I"
        else ("er", "dr", "rout", "ros", "or", "oro"))
    new_ok, old_ok = eq(var(entry), INSTALLED), eq(var(old), LIVE)
    chosen = (ite(new_ok, var(spi), var(old_spi)) if mech.newest
              else ite(old_ok, var(old_spi), var(spi)))
    any_ok = or_(new_ok, old_ok)
    if mech.collide:  # the colliding rekey's pair: which of the two new ones came last
        y_entry, y_spi, pointer = ("yrout", "yros", "nwi") if side == "I" \
            else ("yiout", "yios", "nwr")
        y_ok = eq(var(y_entry), INSTALLED)
        y_first = and_(y_ok, or_(eq(var(pointer), 1), not_(new_ok)))
        newest = ite(y_first, var(y_spi), ite(new_ok, var(spi), var(old_spi)))
        oldest = ite(old_ok, var(old_spi), ite(and_(y_first, new_ok), var(spi),
                                               ite(y_ok, var(y_spi), var(spi))))
        chosen = newest if mech.newest else oldest
        any_ok = or_(new_ok, old_ok, y_ok)
    b = _Build(layout)
    b.set(flight, add(chosen, 1))
    b.set(count, add(var(count), 1))
    rule = "the newest" if mech.newest else "the oldest"
    return replace(action, guard=and_(any_ok, eq(var(flight), 0),
                                      lt(var(count), options.esp)),
                   updates=b.updates(),
                   text=f"{side}'s kernel sends an ESP packet on {rule} installed outbound SA "
                        "(current or old pair)")


def _recv_esp(action: Action, layout: Layout, mech: Mechanisms) -> Action:
    """Accepted when the current or the old inbound SA of that SPI is installed (or, in a
    collision, the inbound SA of the colliding rekey's pair)."""
    flight, entry, spi, old, old_spi = (("ei", "rin", "ris", "or", "ori") if action.actor == "R"
                                        else ("er", "iin", "iis", "oi", "oii"))
    ok = or_(and_(eq(var(entry), INSTALLED), eq(var(flight), add(var(spi), 1))),
             and_(eq(var(old), LIVE), eq(var(flight), add(var(old_spi), 1))))
    if mech.collide:
        y_entry, y_spi = ("yiin", "yiis") if action.actor == "R" else ("yrin", "yris")
        ok = or_(ok, and_(eq(var(y_entry), INSTALLED), eq(var(flight), add(var(y_spi), 1))))
    b = _Build(layout)
    b.set(flight, 0)
    b.set("bh", or_(var("bh"), not_(ok)))
    b.set("rbh", or_(var("rbh"), and_(eq(var("rg"), 1), not_(ok))))
    return replace(action, updates=b.updates(),
                   text=f"an ESP packet reaches {action.actor}'s kernel (dropped unless an "
                        "installed inbound SA, current or old, has its SPI)")


def _deferred_install(action: Action, layout: Layout) -> Action:
    """``responder-outbound: on-delete``: in a rekey the responder installs its new outbound
    SA only when the initiator's delete of the old pair arrives."""
    new = dict(action.updates)
    rekeying = ne(var("rk"), 0)
    b = _Build(layout)
    for name, expr in new.items():
        if name in ("rout", "ros"):
            b.set(name, ite(rekeying, var(name), expr))
        else:
            b.set(name, expr)
    return replace(action, updates=b.updates(),
                   text=action.text + " (in a rekey: only when the delete of the old pair "
                                      "arrives)")


# -- new actions ---------------------------------------------------------------------------
def _fresh_exchange(b: _Build, prof: Profile, options: QMOptions) -> None:
    """Reset the component's exchange variables and start the initiator's start list."""
    for name in _FRESH:
        b.set(name, ABSENT if name in ("iin", "iout", "rin", "rout") else 0)
    start = prof.lists(options.commit_bit)[("initiator", "start")]
    b.set("ip", I_START if start else I_WAIT2)
    b.set("rp", R_IDLE)
    for name in ("dni", "dnr", "icm"):
        b.set(name, IDLE)


def _new_actions(options: QMOptions, prof: Profile, layout: Layout,
                 mech: Mechanisms) -> list[Action]:
    out: list[Action] = []

    def emit(name: str, actor: str, event: str, message: str, guard: Expr, b: _Build,
             text: str) -> None:
        out.append(Action(name, None, actor, event, message, guard, b.updates(), text))

    ended = _ended()
    empty = _channels_empty(layout)
    no_esp = and_(eq(var("ei"), 0), eq(var("er"), 0))
    if mech.collide:  # the colliding rekey has ended too; after it, no further rekey
        ended = and_(ended, y_quiet(layout))

    # Soft expiry of the initiator's pair: a rekey.
    b = _Build(layout)
    b.set("oi", LIVE)
    b.set("oii", var("iis"))
    b.set("oio", var("ios"))
    b.set("or", ite(installed("R"), LIVE, NONE))
    b.set("ori", var("ris"))
    b.set("oro", var("ros"))
    b.set("ooi", not_(installed("R")))
    b.set("oor", 0)
    b.set("rg", installed("R"))
    _fresh_exchange(b, prof, options)
    if mech.reuse_spi:
        b.set("iis", var("iis"))  # the daemon asks for the old SPI again
        b.set("iin", ABSENT)
    b.set("rk", add(var("rk"), 1))
    emit("i_rekey", "I", "rekey", "",
         and_(lt(var("rk"), options.rekeys), eq(var("ip"), I_DONE), installed("I"), ended,
              empty, no_esp, in_(var("rs"), (RS_NONE, RS_I_AGAIN)), ne(var("oi"), LIVE),
              ne(var("or"), LIVE), _quiet_notes(),
              eq(var("yk"), 0) if mech.collide else TRUE), b,
         "soft expiry of I's pair: I starts a rekey (a new Quick Mode; the old pair still "
         "carries traffic)")

    # Removal of the old pair by the rekeying initiator once its new pair is installed.
    if mech.early_delete:
        b = _Build(layout)
        b.set("oi", GONE)
        b.set("oor", ite(eq(var("or"), LIVE), 1, var("oor")))
        if mech.delete:
            b.set("dni", FLIGHT)
        emit("i_delete_old", "I", "delete", "delete" if mech.delete else "",
             and_(eq(var("oi"), LIVE), eq(var("ip"), I_DONE), installed("I"),
                  eq(var("dni"), IDLE)), b,
             "I removes the old pair now that the new one is installed"
             + (" and sends a delete notification" if mech.delete else ""))

    # Hard expiry of an old pair.
    dpd_pending_i = and_(eq(var("rs"), RS_R), eq(var("dp"), 0)) if mech.dpd else None
    dpd_pending_r = and_(in_(var("rs"), (RS_I, RS_I_AGAIN)), eq(var("dp"), 0)) \
        if mech.dpd else None
    for side, old, orphan, note, peer_old, pending in (
            ("I", "oi", "ooi", "dni", "or", dpd_pending_i),
            ("R", "or", "oor", "dnr", "oi", dpd_pending_r)):
        b = _Build(layout)
        b.set(old, GONE)
        b.set("ox", or_(var("ox"), eq(var(orphan), 1)))
        if mech.delete:
            b.set(note, ite(and_(eq(var(note), IDLE), eq(var(peer_old), LIVE)), FLIGHT,
                            var(note)))
        # a restarted initiator negotiates again (it has traffic) before the responder's
        # stale pair expires, unless the responder holds two (then the older one goes first)
        waits = and_(eq(var("rs"), RS_I), not_(installed("R"))) if side == "R" else None
        guard = and_(eq(var(old), LIVE), ended, no_esp, _quiet_notes(),
                     not_(pending) if pending is not None else TRUE,
                     not_(waits) if waits is not None and mech.restart else TRUE)
        emit(f"{side.lower()}_old_expire", side, "expire", "", guard, b,
             f"hard expiry of {side}'s old pair: its kernel removes it"
             + (" and the daemon sends a delete notification" if mech.delete else ""))

    # Hard expiry of a current pair that is an orphan and can no longer be rekeyed.
    i_stuck = or_(eq(var("rk"), options.rekeys), eq(var("rs"), RS_R),
                  eq(var("yk"), 1) if mech.collide else FALSE)
    r_stuck = ne(var("rs"), RS_I)  # a restarted initiator negotiates again first
    for side, peer, stuck, pending in (("I", "R", i_stuck, dpd_pending_i),
                                       ("R", "I", r_stuck, dpd_pending_r)):
        mine = ("iin", "iout") if side == "I" else ("rin", "rout")
        b = _Build(layout)
        for e in mine:
            b.set(e, DELETED)
        b.set("ox", 1)
        emit(f"{side.lower()}_orphan_expire", side, "expire", "",
             and_(installed(side), not_(installed(peer)), ended, empty, no_esp, stuck,
                  _quiet_notes(), not_(pending) if pending is not None else TRUE), b,
             f"hard expiry of {side}'s pair, which its peer does not have (an orphan nobody "
             "removed)")

    # Delete notifications.
    if mech.delete:
        for side, note, old, direction in (("R", "dni", "or", "I->R"),
                                           ("I", "dnr", "oi", "R->I")):
            b = _Build(layout)
            b.set(note, DONE)
            b.set(old, ite(eq(var(old), LIVE), GONE, var(old)))
            text = f"{side} receives the delete notification and removes its old pair"
            if side == "R" and mech.deferred_out:
                late = and_(ne(var("rk"), 0), eq(var("rin"), INSTALLED),
                            ne(var("rout"), INSTALLED), eq(var("rp"), R_DONE))
                b.set("rout", ite(late, INSTALLED, var("rout")))
                b.set("ros", ite(late, var("rks"), var("ros")))
                text += "; installs its new outbound SA"
            emit(f"{side.lower()}_recv_delete", side, "recv", "delete",
                 eq(var(note), FLIGHT), b, text)
            if options.loss:
                b = _Build(layout)
                b.set(note, DONE)
                emit(f"lose_delete_{'ir' if side == 'R' else 'ri'}", "net", "lose-notify",
                     "delete", eq(var(note), FLIGHT), b,
                     f"the network loses the delete notification {direction}")

    # The restart fault.
    if mech.restart:
        for side, mine, old, phase, rs, peer_orphan, peer_old in (
                ("I", ("iin", "iout"), "oi", I_DEAD, RS_I, "oor", "or"),
                ("R", ("rin", "rout"), "or", R_DEAD, RS_R, "ooi", "oi")):
            b = _Build(layout)
            for e in mine:
                b.set(e, _gone(e))
            b.set(old, ite(eq(var(old), LIVE), GONE, var(old)))
            b.set("ip" if side == "I" else "rp", phase)
            for name in (("ipc", "ic") if side == "I" else ("rpc", "rc")):
                b.set(name, 0)
            b.set("rs", rs)
            b.set(peer_orphan, ite(eq(var(peer_old), LIVE), 1, var(peer_orphan)))
            b.set("rg", 0)
            has = or_(*(eq(var(e), INSTALLED) for e in mine), eq(var(old), LIVE))
            emit(f"{side.lower()}_restart", side, "restart", "",
                 and_(eq(var("rs"), RS_NONE), has), b,
                 f"{side}'s host restarts: it loses its SA database entries of this pair and "
                 "its daemon state (ISAKMP SA included)")
        b = _Build(layout)
        b.set("or", ite(installed("R"), LIVE, var("or")))
        b.set("ori", ite(installed("R"), var("ris"), var("ori")))
        b.set("oro", ite(installed("R"), var("ros"), var("oro")))
        b.set("oor", ite(installed("R"), 1, var("oor")))
        b.set("oi", NONE)
        _fresh_exchange(b, prof, options)
        b.set("rs", RS_I_AGAIN)
        if mech.ic:
            b.set("icm", FLIGHT)
        emit("i_reinit", "I", "start", "INITIAL-CONTACT" if mech.ic else "",
             and_(eq(var("rs"), RS_I), eq(var("ip"), I_DEAD), ended, empty, no_esp,
                  or_(ne(var("or"), LIVE), not_(installed("R")))), b,
             "the restarted I has traffic again: a new Phase 1 and Quick Mode"
             + (" (with INITIAL-CONTACT)" if mech.ic else ""))
        if mech.ic:
            b = _Build(layout)
            b.set("icm", DONE)
            b.set("or", ite(eq(var("or"), LIVE), GONE, var("or")))
            emit("r_recv_initial_contact", "R", "recv", "INITIAL-CONTACT",
                 eq(var("icm"), FLIGHT), b,
                 "R receives INITIAL-CONTACT and removes every older SA of the peer")
            if options.loss:
                b = _Build(layout)
                b.set("icm", DONE)
                emit("lose_initial_contact", "net", "lose-notify", "INITIAL-CONTACT",
                     eq(var("icm"), FLIGHT), b, "the network loses INITIAL-CONTACT I->R")

    # Dead peer detection by the survivor of a restart.
    if mech.dpd and mech.restart:
        b = _Build(layout)
        for e in ("iin", "iout"):
            b.set(e, ite(eq(var(e), INSTALLED), DELETED, var(e)))
        b.set("oi", ite(eq(var("oi"), LIVE), GONE, var("oi")))
        b.set("dp", 1)
        emit("i_dpd", "I", "dpd", "",
             and_(eq(var("rs"), RS_R), eq(var("dp"), 0), in_(var("ip"), (I_DONE, I_DEAD)),
                  or_(eq(var("iin"), INSTALLED), eq(var("iout"), INSTALLED),
                      eq(var("oi"), LIVE))), b,
             "I's DPD gets no R-U-THERE-ACK: the peer is dead, I clears its SAs with it")
        b = _Build(layout)
        before_reinit = eq(var("rs"), RS_I)
        for e in ("rin", "rout"):
            b.set(e, ite(and_(before_reinit, eq(var(e), INSTALLED)), DELETED, var(e)))
        # after the new negotiation only the pair left over from before the restart (the old
        # pair marked orphan at i_reinit) belongs to the dead ISAKMP SA
        stale = and_(eq(var("or"), LIVE), or_(before_reinit, eq(var("oor"), 1)))
        b.set("or", ite(stale, GONE, var("or")))
        b.set("dp", 1)
        emit("r_dpd", "R", "dpd", "",
             and_(in_(var("rs"), (RS_I, RS_I_AGAIN)), eq(var("dp"), 0),
                  in_(var("rp"), (R_IDLE, R_DONE, R_DEAD, R_REFUSED)),
                  or_(and_(before_reinit, or_(eq(var("rin"), INSTALLED),
                                              eq(var("rout"), INSTALLED))), stale)), b,
             "R's DPD finds the old ISAKMP SA dead: R clears the SAs it held with the peer")
    return out


#: Weights that make ``rank`` grow on every lifecycle step (see ``life_rank``).
EPOCH = 10**7
PROGRESS = 10**5


def life_rank(v: dict[str, int]) -> int:
    """The lifecycle's part of the model's rank. A rekey or a new negotiation after a restart
    starts an epoch, which weighs more than everything an exchange does; within an epoch every
    lifecycle step increases ``progress`` by more than an exchange step can lower the rest."""
    epoch = v["rk"] + int(v["rs"] == RS_I_AGAIN)
    progress = (v["oi"] + v["or"] + v["dni"] + v["dnr"] + v["icm"] + v["rs"] + v["dp"]
                + v["ox"] + sum(int(v[e] == DELETED) for e in ("iin", "iout", "rin", "rout"))
                + (y_rank_progress(v) if "yk" in v else 0))
    return EPOCH * epoch + PROGRESS * progress
