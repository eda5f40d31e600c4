"""``qmcheck trace INITIATOR.log RESPONDER.log``: is a real strongSwan Quick Mode run a path of
the model? Reads two charon file logs (levels: default 1, ike 2, chd 2, knl 2, esp 2), one
result per Quick Mode negotiation the initiator started: ``holds`` when the run is a path of the
profile's model (message loss allowed), with the witness path and the smallest retransmission
bound (and whether it needs eager timers); ``refuted`` with the first events no model step
explains. With ``--rekeys N`` the whole run (rekeys, hard expiries, delete notifications) is
checked at once against the SA lifecycle model with at most N rekeys."""

from __future__ import annotations

import argparse
from typing import Any

from qmcheck.model.formats.loader import read_text
from qmcheck.model.quickmode.options import MAX_REKEYS, MAX_RETRANSMITS, PROFILES
from qmcheck.properties.cli.options import add_output_options, cli_int
from qmcheck.properties.results import Report, Result
from qmcheck.properties.traces.inclusion import smallest_bound
from qmcheck.properties.traces.lifecycle_inclusion import smallest_lifecycle_bound
from qmcheck.properties.traces.strongswan_lifecycle import lifecycle_events
from qmcheck.properties.traces.strongswan_log import (
    Event,
    load_charon_log,
    negotiations,
    of_negotiation,
    outcome,
)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]

    parser = sub.add_parser("trace", help="check that strongSwan logs are a path of the model",
                            description=__doc__)
    parser.add_argument("initiator", metavar="INITIATOR.log", help="the initiator's charon log")
    parser.add_argument("responder", metavar="RESPONDER.log", help="the responder's charon log")
    parser.add_argument("--profile", choices=list(PROFILES), default="strongswan",
                        help="implementation profile of the model (default: strongswan)")
    parser.add_argument("--max-retransmits", type=cli_int("--max-retransmits", 0, MAX_RETRANSMITS),
                        default=4, metavar="N",
                        help="largest retransmission bound to try (default 4)")
    parser.add_argument("--rekeys", type=cli_int("--rekeys", 0, MAX_REKEYS), default=0,
                        metavar="N",
                        help="check the whole run against the SA lifecycle model with at most N "
                             "rekeys (default 0: each Quick Mode on its own)")
    add_output_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> Report:
    max_retransmits = int(args.max_retransmits)
    text_i = read_text(args.initiator, "a charon log")
    text_r = read_text(args.responder, "a charon log")
    i_all = load_charon_log(text_i, "I", args.initiator)
    r_all = load_charon_log(text_r, "R", args.responder)
    report = Report("trace", [args.initiator, args.responder])
    if args.rekeys:
        return _lifecycle(report, args, lifecycle_events(text_i, "I"),
                          lifecycle_events(text_r, "R"), max_retransmits)
    rekeyed = any(e.kind == "expire" for e in lifecycle_events(text_i, "I")
                  + lifecycle_events(text_r, "R"))
    hint = "; the logs show SA expiries: check the whole run with --rekeys N" if rekeyed else ""
    initiated = [m for m in negotiations(i_all)
                 if any(e.kind == "send" and e.message == "msg1" for e in i_all if e.mid == m)]
    for mid in initiated:
        i_ev, r_ev = of_negotiation(i_all, mid), of_negotiation(r_all, mid)
        result = smallest_bound(i_ev, r_ev, args.profile, max_retransmits)
        verdict = "holds" if result.included else "refuted"
        status = outcome(i_ev, r_ev)
        message = _inclusion_text(f"Quick Mode {mid} ({status})", f"{args.profile} model",
                                  result, max_retransmits) + ("" if result.included else hint)
        report.add(Result(
            "trace.inclusion", verdict, (str(mid),), "error", "explicit", message,
            {"events": [e.to_json() for e in i_ev + r_ev]},
            extra={"outcome": status, "inclusion": result.to_json()}))
    if not initiated:
        report.add(_nothing_to_check(()))
    return report


def _nothing_to_check(subject: tuple[str, ...]) -> Result:
    return Result("trace.inclusion", "unknown", subject, "warning", "explicit",
                  "nothing to check: the initiator's log holds no Quick Mode it started")


def _inclusion_text(what: str, model: str, result: Any, max_retransmits: int) -> str:
    """``what`` is (or is not) a path of ``model``: the bound and the path, or where it stops."""
    if result.included:
        timers = ", eager timers" if result.eager_timers else ""
        return (f"{what} is a path of the {model} with at most {result.retransmits} "
                f"retransmissions{timers}: {' '.join(result.path)}")
    return (f"{what} is not a path of the {model} (up to {max_retransmits} retransmissions); "
            f"no step explains {' / '.join(result.blocked_at) or 'the end'}")


def _lifecycle(report: Report, args: argparse.Namespace, i_ev: list[Event], r_ev: list[Event],
               max_retransmits: int) -> Report:
    """One result for the whole run against the lifecycle model."""
    rekeys = int(args.rekeys)
    if not any(e.kind == "send" and e.message == "msg1" for e in i_ev):
        report.add(_nothing_to_check(("lifecycle",)))
        return report
    result = smallest_lifecycle_bound(i_ev, r_ev, args.profile, rekeys, max_retransmits)
    message = _inclusion_text(f"the run ({len(negotiations(i_ev))} Quick Modes)",
                              f"{args.profile} lifecycle model (--rekeys {rekeys})", result,
                              max_retransmits)
    report.add(Result(
        "trace.inclusion", "holds" if result.included else "refuted", ("lifecycle",), "error",
        "explicit", message, {"events": [e.to_json() for e in i_ev + r_ev]},
        extra={"rekeys": rekeys, "inclusion": result.to_json()}))
    return report
