"""Mutants of ``policy.mirrored`` and ``peers.tunnel``: deliberately wrong models, each killed
by the property's own checks (as tests/test_qm_mutants.py does for the ``qm.*`` profiles).

A mutant replaces one function of the model (the concrete lookup, the mirror check, an end
point or mode check of ``peers.tunnel``). The kill test runs the property's checks with the
mutant in place and asserts that at least one of them fails, after asserting that all of
them pass on the real model: the checks tell the wrong model from the right one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from qmcheck.model.formats.loader import load_text
from qmcheck.model.semantics import lookup as lookup_module
from qmcheck.model.semantics.negotiation import MODE_RULES
from qmcheck.model.values.packet import Packet
from qmcheck.model.values.policy import Host, Policy
from qmcheck.properties.checks import mirror as mirror_module
from qmcheck.properties.checks import peers as peers_module
from qmcheck.properties.cli.main import main
from tests.strategies import text, universe

SITES = Path(__file__).parent / "fixtures" / "sites"

# ---------------------------------------------------------------- policy.mirrored

# web: protected outbound only (a kernel dir out without its dir in); mgmt-in: UDP replies
# discarded, outbound UDP passed (no protection either way); ssh: both directions
ONE_WAY = f"""\
host: h
policies:
  - name: web-out
    direction: out
    source: {text(4, 0)}/30
    destination: {text(4, 4)}/30
    protocol: tcp
    destination-port: 1
    action: ESP_AES128_HMAC_SHA1
  - name: mgmt-in
    direction: in
    source: {text(4, 0)}/30
    destination: {text(4, 4)}/30
    protocol: udp
    action: DISCARD
  - name: ssh
    source: {text(4, 0)}/30
    destination: {text(4, 4)}/30
    protocol: tcp
    destination-port: 2
    action: ESP_AES128_HMAC_SHA1
"""


def _host(text_: str) -> Host:
    host = load_text(text_, "h.yaml")
    assert isinstance(host, Host)
    return host


def _ipsec(policy: Policy | None) -> bool:
    return policy is not None and policy.action.is_ipsec


def mirrored_checks(host: Host) -> list[str]:
    """The checks of ``policy.mirrored`` (tests/test_directions.py): brute force over the
    small universe agrees with the z3 findings, every witness replays, and the missing
    mirror of ``web-out`` is found. Returns the names of the checks that fail."""
    lookup = lookup_module.lookup
    failed: list[str] = []
    truth = set()
    for packet in universe(4):
        if packet.direction == "out":
            o, i = lookup(host, packet), lookup(host, packet.reversed())
            if _ipsec(o) != _ipsec(i):
                truth.add((o and o.name, i and i.name))
    findings = mirror_module.mirror_findings(host)
    found = set()
    for f in findings:
        if f.verdict != "refuted" or f.packet is None:
            failed.append("verdict")
            continue
        o, i = lookup(host, f.packet), lookup(host, f.packet.reversed())
        if _ipsec(o) == _ipsec(i) or o is not f.outbound or i is not f.inbound:
            failed.append("replay")
        found.add((o and o.name, i and i.name))
    if not truth <= found:
        failed.append("brute-force")
    if not any(o == "web-out" for o, _ in found):
        failed.append("web-out")
    return failed


def _lookup_ignoring_direction(host: Host, packet: Packet) -> Policy | None:
    """Mutant: every policy applies both ways (the lookup forgets ``direction``)."""
    both = tuple(replace(p, direction="both") for p in host.policies)
    return REAL["lookup"](replace(host, policies=both), packet)  # type: ignore[return-value]


def _mirror_compares_actions(host: Host, timeout_ms: int = 10_000
                             ) -> list[mirror_module.MirrorFinding]:
    """Mutant: the check compares the actions of a packet and its reply instead of whether
    each is protected, so an outbound PASS against an inbound DISCARD is a finding too."""
    out = list(REAL["mirror_findings"](host, timeout_ms))  # type: ignore[call-overload]
    seen = {(f.outbound, f.inbound) for f in out}
    for packet in universe(4):
        if packet.direction != "out":
            continue
        o = REAL["lookup"](host, packet)
        i = REAL["lookup"](host, packet.reversed())
        actions = [str(p.action) if p is not None else "PASS" for p in (o, i)]  # type: ignore[attr-defined]
        if actions[0] != actions[1] and (o, i) not in seen:
            seen.add((o, i))
            out.append(mirror_module.MirrorFinding("refuted", packet, o, i))  # type: ignore[arg-type]
    return out


def _mirror_skips_out_only(host: Host, timeout_ms: int = 10_000
                           ) -> list[mirror_module.MirrorFinding]:
    """Mutant: an outbound-only policy (a ``dir out`` without its ``dir in``) is taken as
    mirrored: no finding where the outbound packet hits it."""
    return [f for f in REAL["mirror_findings"](host, timeout_ms)  # type: ignore[attr-defined]
            if f.outbound is None or f.outbound.direction != "out"]


REAL: dict[str, Callable[..., object]] = {
    "lookup": lookup_module.lookup, "mirror_findings": mirror_module.mirror_findings}

MIRROR_MUTANTS: dict[str, tuple[object, str, Callable[..., object]]] = {
    "lookup-ignores-direction": (lookup_module, "lookup", _lookup_ignoring_direction),
    "mirror-compares-actions": (mirror_module, "mirror_findings", _mirror_compares_actions),
    "mirror-ignores-out-only": (mirror_module, "mirror_findings", _mirror_skips_out_only),
}


def test_mirrored_checks_pass_on_the_real_model() -> None:
    assert mirrored_checks(_host(ONE_WAY)) == []


@pytest.mark.parametrize("name", sorted(MIRROR_MUTANTS))
def test_mirrored_mutant_is_killed(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    module, attribute, mutant = MIRROR_MUTANTS[name]
    monkeypatch.setattr(module, attribute, mutant)
    if attribute == "lookup":  # the mirror check's own replay uses the same lookup
        monkeypatch.setattr(mirror_module, "lookup", mutant)
    assert mirrored_checks(_host(ONE_WAY)) != [], f"{name} survives"


# ---------------------------------------------------------------- peers.tunnel

def _variant(tmp_path: Path, folder: str, name: str, *changes: tuple[str, str]) -> str:
    """A copy of tests/fixtures/sites/NAME in its own folder, with text replaced."""
    (tmp_path / folder).mkdir(exist_ok=True)
    path = tmp_path / folder / name
    source = (SITES / name).read_text()
    for old, new in changes:
        assert old in source
        source = source.replace(old, new)
    path.write_text(source)
    return str(path)


def _tunnel_refutations(a: str, b: str, profile: str) -> list[str]:
    code = main(["peers", a, b, "--profile", profile, "--format", "json"])
    assert code in (0, 1)
    return [r["message"] for r in json.loads(_CAPTURE["out"]())["results"]
            if r["property"] == "peers.tunnel" and r["verdict"] == "refuted"]


_CAPTURE: dict[str, Callable[[], str]] = {}


def tunnel_checks(tmp_path: Path) -> list[str]:
    """The checks of ``peers.tunnel`` (tests/test_gateways.py): the site pair holds; I's
    tunnel to a wrong end point, R's tunnel back to a wrong one, and a mode mismatch under
    strongswan are refuted; the mode mismatch under libreswan is not. Returns the names of
    the checks that fail."""
    gw_a, gw_b = str(SITES / "gw-a.yaml"), str(SITES / "gw-b.yaml")
    # gw-b only answers (its policy applies inbound): each end point has one check that can
    # see it; with both sides initiating, the other direction's check would see it as well
    answering = ("  - name: lan\n", "  - name: lan\n    direction: in\n")
    wrong_i = _variant(tmp_path, "i", "gw-a.yaml", ("tunnel: 203.0.113.1", "tunnel: 203.0.113.9"))
    only_in = _variant(tmp_path, "b", "gw-b.yaml", answering)
    wrong_r = _variant(tmp_path, "r", "gw-b.yaml", answering,
                       ("tunnel: 198.51.100.1", "tunnel: 198.51.100.9"))
    transport = _variant(tmp_path, "t", "gw-b.yaml", ("    tunnel: 198.51.100.1\n", ""))
    failed = []
    if _tunnel_refutations(gw_a, gw_b, "strongswan"):
        failed.append("site pair holds")
    if not any("203.0.113.9" in m for m in _tunnel_refutations(wrong_i, only_in, "hpux")):
        failed.append("initiator end point")
    if not any("198.51.100.9" in m for m in _tunnel_refutations(gw_a, wrong_r, "hpux")):
        failed.append("responder end point")
    strongswan = _tunnel_refutations(gw_a, transport, "strongswan")
    if not any(MODE_RULES["invalid-id"] in m for m in strongswan):
        failed.append("mode (strongswan)")
    if _tunnel_refutations(gw_a, transport, "libreswan"):
        failed.append("mode (libreswan)")
    return failed


def _no_initiator_end(policy: Policy, responder: Host) -> str | None:
    """Mutant: I's tunnel end point is never checked."""
    return None


def _no_responder_end(policy: Policy, chosen: Policy, initiator: Host,
                      mode_rule: str = "rfc2407") -> str | None:
    """Mutant: R's tunnel back is never checked (only the mode)."""
    found = REAL_TUNNEL["responder"](policy, chosen, initiator, mode_rule)
    return found if found is not None and " mode, " in found else None


def _no_mode(policy: Policy, chosen: Policy, initiator: Host,
             mode_rule: str = "rfc2407") -> str | None:
    """Mutant: the mode is never compared (only R's end point)."""
    return REAL_TUNNEL["responder"](policy, chosen, initiator, "initiator")


def _mode_ignores_profile(policy: Policy, chosen: Policy, initiator: Host,
                          mode_rule: str = "rfc2407") -> str | None:
    """Mutant: every responder refuses another mode (the RFC 2407 reading for all
    profiles: Libreswan's taking the initiator's mode is lost)."""
    return REAL_TUNNEL["responder"](policy, chosen, initiator, "rfc2407")


REAL_TUNNEL: dict[str, Callable[..., str | None]] = {
    "initiator": peers_module.initiator_tunnel_problem,
    "responder": peers_module.responder_tunnel_problem}

TUNNEL_MUTANTS: dict[str, tuple[str, Callable[..., str | None]]] = {
    "tunnel-ignores-initiator-end": ("initiator_tunnel_problem", _no_initiator_end),
    "tunnel-ignores-responder-end": ("responder_tunnel_problem", _no_responder_end),
    "tunnel-ignores-mode": ("responder_tunnel_problem", _no_mode),
    "tunnel-mode-ignores-profile": ("responder_tunnel_problem", _mode_ignores_profile),
}


@contextmanager
def _captured(capsys: pytest.CaptureFixture[str]) -> Iterator[None]:
    _CAPTURE["out"] = lambda: capsys.readouterr().out
    try:
        yield
    finally:
        _CAPTURE.clear()


def test_tunnel_checks_pass_on_the_real_model(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    with _captured(capsys):
        assert tunnel_checks(tmp_path) == []


@pytest.mark.parametrize("name", sorted(TUNNEL_MUTANTS))
def test_tunnel_mutant_is_killed(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    attribute, mutant = TUNNEL_MUTANTS[name]
    monkeypatch.setattr(peers_module, attribute, mutant)
    with _captured(capsys):
        assert tunnel_checks(tmp_path) != [], f"{name} survives"


def test_docs_list_every_code_mutant() -> None:
    """docs/MUTANTS.md's table of code mutants (properties/checks/mutants.CODE_MUTANTS) names
    exactly the mutants of this file, each with its property."""
    from qmcheck.properties.checks.mutants import CODE_MUTANTS

    assert set(CODE_MUTANTS) == set(MIRROR_MUTANTS) | set(TUNNEL_MUTANTS)
    assert {n for n, (prop, _) in CODE_MUTANTS.items() if prop == "peers.tunnel"} == set(
        TUNNEL_MUTANTS)
    doc = (Path(__file__).parents[1] / "docs" / "MUTANTS.md").read_text(encoding="utf-8")
    for name, (prop, _) in CODE_MUTANTS.items():
        assert f"| `{name}` | `{prop}` |" in doc
