"""SARIF 2.1.0 rendering of any report, for code-scanning views (GitHub, VS Code).

Generic: a result is placed where ``Result.extra["location"] = {"file": F, "line": N}`` says
(``"line"`` may be None: the file itself); ``extra["related_locations"]`` is a list of the
same shape with an optional ``"message"``. Only refutations (``kind: fail``) and unknowns
(``kind: open``) become SARIF results; the rules are the catalogue entries of the properties
that appear. The witness and the subject go into the result's ``properties``.
"""

from __future__ import annotations

import json
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

from qmcheck.model import __version__
from qmcheck.properties.catalogue import info
from qmcheck.properties.results import Report, Result

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/qmcheck/qmcheck"


def _uri(path: str) -> str:
    """A URI reference for a file name (percent-encoded: ``<built-in>/x`` is one too)."""
    text = path.replace("\\", "/")
    if text.startswith("/"):
        return "file://" + quote(text)
    return quote(str(PurePosixPath(text)))


def _location(loc: dict[str, Any], message: str | None = None, ident: int | None = None
              ) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(str(loc["file"]))}}
    if loc.get("line"):
        physical["region"] = {"startLine": int(loc["line"])}
    out: dict[str, Any] = {"physicalLocation": physical}
    if ident is not None:
        out["id"] = ident
    text = message if message is not None else loc.get("message")
    if text:
        out["message"] = {"text": str(text)}
    return out


def _rule(property_id: str) -> dict[str, Any]:
    entry = info(property_id)
    meaning = entry.meaning if entry else property_id
    rule: dict[str, Any] = {
        "id": property_id,
        "name": property_id.replace(".", "-"),
        "shortDescription": {"text": meaning},
        "fullDescription": {"text": meaning},
        "defaultConfiguration": {"level": entry.severity if entry else "warning"},
    }
    if entry:
        rule["properties"] = {"kind": entry.kind, "flavour": entry.flavour,
                              "engines": list(entry.engines)}
    return rule


def sarif_result(result: Result, rule_index: int, fallback_file: str | None
                 ) -> dict[str, Any]:
    """One SARIF result object."""
    refuted = result.verdict == "refuted"
    out: dict[str, Any] = {
        "ruleId": result.property,
        "ruleIndex": rule_index,
        "kind": "fail" if refuted else "open",
        "level": result.severity if refuted else "none",
        "message": {"text": result.message or result.property},
    }
    loc = result.extra.get("location")
    if loc is None and fallback_file is not None:
        loc = {"file": fallback_file, "line": None}
    if loc is not None:
        out["locations"] = [_location(loc)]
    related = result.extra.get("related_locations") or []
    if related:
        out["relatedLocations"] = [_location(r, ident=k) for k, r in enumerate(related)]
    props: dict[str, Any] = {"subject": list(result.subject), "engine": result.engine}
    if result.witness is not None:
        props["witness"] = result.witness
    if result.counterexample is not None:
        props["counterexample"] = result.counterexample
    out["properties"] = props
    fingerprint = "/".join([result.property, *result.subject])
    out["partialFingerprints"] = {"qmcheckSubject/v1": fingerprint}
    return out


def to_sarif_dict(report: Report) -> dict[str, Any]:
    """The SARIF log as a dictionary."""
    findings = [r for r in report.shown_results() if r.verdict in ("refuted", "unknown")]
    rule_ids = sorted({r.property for r in findings})
    index = {rid: k for k, rid in enumerate(rule_ids)}
    fallback = report.inputs[0] if report.inputs and not str(report.inputs[0]).startswith(
        "<") else None
    artifacts = sorted({_uri(str(r.extra["location"]["file"])) for r in findings
                        if r.extra.get("location")} | ({_uri(fallback)} if fallback else set()))
    run: dict[str, Any] = {
        "tool": {"driver": {"name": "qmcheck", "version": __version__,
                            "semanticVersion": __version__, "informationUri": INFORMATION_URI,
                            "rules": [_rule(rid) for rid in rule_ids]}},
        "artifacts": [{"location": {"uri": uri}} for uri in artifacts],
        "results": [sarif_result(r, index[r.property], fallback) for r in findings],
        "properties": {"command": report.command, "summary": report.summary(),
                       "findings": report.finding_counts(), "omitted": report.omitted(),
                       "files": list(report.files)},
    }
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}


def to_sarif(report: Report) -> str:
    """The report as a SARIF 2.1.0 JSON document (deterministic: same input, same bytes)."""
    return json.dumps(to_sarif_dict(report), indent=2) + "\n"
