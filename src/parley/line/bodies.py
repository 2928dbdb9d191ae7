"""The ``body`` of each kind of entry, checked strictly (unknown members are refused).

======== ====================================================================================
kind     body
======== ====================================================================================
key      ``public`` (the key id being introduced), optional ``name`` (display name)
request  ``type``, ``subject``, ``reason``, ``deadline``, optional ``ref`` {``kind``: operation |
         constraint, ``id``}, and per type: vacate, hold_clear: ``volume``; passage: ``route``;
         notice: ``what`` and a ``volume`` and/or a ``route``; free_text: ``text``
delivered {}
read     {}
accept   optional ``conditions``, optional ``late``
decline  ``reason``, optional ``late``
counter  ``volume`` and/or ``window``, optional ``reason``, optional ``late``
withdraw optional ``reason``
expired  ``recipient`` (whose answer is missing)
certificate  the clearance certificate (:mod:`parley.compliance.certificate`)
verdict  ``recipient`` (whose certificate), ``certificate`` (its hash), ``outcome`` (verified |
         verified_with_own_surveillance | failed), ``reasons`` (required when failed), optional
         ``agreement`` {``matched``, ``total``, ``max_difference_m``} (the cross-check with the
         requester's own surveillance)
alarm    ``recipient`` (the obligor), ``type`` (overdue | violation), ``aircraft`` (ids), ``observed_at``,
         optional ``reason``, optional ``evidence`` {``commitment``, ``samples``}
waiver   ``ref`` {``kind``: operation | constraint | request, ``id``}, ``reason``, ``conflicts`` [{``protected``,
         ``start``, ``end``}], ``unchecked`` [protection ids]: a planner went on despite protected
         items (or without checking them); not in a thread (``docs/protection.md``)
======== ====================================================================================

``late`` is either absent or ``true``: an answer signed after the request's deadline carries it.

>>> check_body("decline", {"reason": "aircraft on station until 0700"})
0
>>> check_body("decline", {})
Traceback (most recent call last):
...
parley.line.errors.InvalidEntry: body: missing reason
"""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from parley.line.errors import InvalidEntry
from parley.line.keys import KEY_ID_PREFIX
from parley.line.shapes import check_route, check_volume, check_window, members, number
from parley.line.times import parse_time

#: Longest subject, in characters.
MAX_SUBJECT = 200
#: Longest reason, conditions, display name or "what" of a notice, in characters.
MAX_REASON = 4_000
#: Longest free text, in characters.
MAX_TEXT = 16_000
#: Largest buffer a vacate or hold_clear may ask for, metres (horizontal and vertical).
MAX_BUFFER_M = 100_000.0
#: An aircraft id (the obligor's own: its operation's id).
AIRCRAFT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}")

KEY_ID = re.compile(re.escape(KEY_ID_PREFIX) + r"[A-Za-z0-9_-]{43}")
PARTY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class RequestType(StrEnum):
    VACATE = "vacate"
    HOLD_CLEAR = "hold_clear"
    PASSAGE = "passage"
    NOTICE = "notice"
    FREE_TEXT = "free_text"


#: Request types whose acceptance is an obligation (checked later from tracks).
OBLIGATING = frozenset({RequestType.VACATE, RequestType.HOLD_CLEAR})


def text(value: object, field: str, limit: int, *, empty: bool = False) -> str:
    if not isinstance(value, str):
        raise InvalidEntry(f"{field}: expected a string")
    if not empty and not value.strip():
        raise InvalidEntry(f"{field}: must not be empty")
    if len(value) > limit:
        raise InvalidEntry(f"{field}: longer than {limit} characters")
    return value


def party_id(value: object, field: str) -> str:
    if not isinstance(value, str) or not PARTY_ID.fullmatch(value):
        raise InvalidEntry(f"{field}: not a party id (letters, digits, '.', '_', '-', at most 64)")
    return value


def key_id(value: object, field: str) -> str:
    if not isinstance(value, str) or not KEY_ID.fullmatch(value):
        raise InvalidEntry(f"{field}: not an Ed25519 key id ('ed25519:' and 43 base64url characters)")
    return value


def _late(body: dict[str, Any]) -> None:
    if "late" in body and body["late"] is not True:
        raise InvalidEntry("body.late: when present, must be true")


def _key(body: dict[str, Any]) -> int:
    members(body, "body", {"public"}, {"name"})
    key_id(body["public"], "body.public")
    if "name" in body:
        text(body["name"], "body.name", MAX_REASON)
    return 0


_REQUEST_TYPES = {t.value: t for t in RequestType}
_COMMON = frozenset({"type", "subject", "reason", "deadline"})
#: Per request type: the members required, and those allowed besides.
_REQUEST_MEMBERS: dict[RequestType, tuple[frozenset[str], frozenset[str]]] = {
    RequestType.VACATE: (_COMMON | {"volume"}, frozenset({"ref", "buffer"})),
    RequestType.HOLD_CLEAR: (_COMMON | {"volume"}, frozenset({"ref", "buffer"})),
    RequestType.PASSAGE: (_COMMON | {"route"}, frozenset({"ref"})),
    RequestType.NOTICE: (
        _COMMON | {"what"},
        frozenset({"volume", "route", "ref", "protected", "amends", "cancels"}),
    ),
    RequestType.FREE_TEXT: (_COMMON | {"text"}, frozenset({"ref"})),
}


def _request(body: dict[str, Any]) -> int:
    if not isinstance(body, dict) or "type" not in body:
        raise InvalidEntry("body: missing type")
    kind = _REQUEST_TYPES.get(body["type"]) if type(body["type"]) is str else None
    if kind is None:
        raise InvalidEntry(
            f"body.type: expected one of {', '.join(t.value for t in RequestType)}, not {body['type']!r}"
        )
    required, optional = _REQUEST_MEMBERS[kind]
    members(body, "body", required, optional)
    text(body["subject"], "body.subject", MAX_SUBJECT)
    text(body["reason"], "body.reason", MAX_REASON)
    parse_time(body["deadline"], "body.deadline")
    if "ref" in body:
        ref = members(body["ref"], "body.ref", {"kind", "id"})
        if ref["kind"] not in ("operation", "constraint"):
            raise InvalidEntry("body.ref.kind: expected operation or constraint")
        text(ref["id"], "body.ref.id", 100)
    if "buffer" in body:
        buffer = members(body["buffer"], "body.buffer", {"h_m", "v_m"})
        for name in ("h_m", "v_m"):
            value = number(buffer[name], f"body.buffer.{name}")
            if not 0.0 <= value <= MAX_BUFFER_M:
                raise InvalidEntry(f"body.buffer.{name}: must be within [0, {MAX_BUFFER_M:g}] m")
    vertices = 0
    if "volume" in body:
        vertices += check_volume(body["volume"], "body.volume")
    if "route" in body:
        vertices += check_route(body["route"], "body.route")
    if kind is RequestType.NOTICE:
        text(body["what"], "body.what", MAX_REASON)
        if "protected" in body or "amends" in body or "cancels" in body:
            from parley.protection.forms import check_notice_body  # numpy, shapely: only when needed

            vertices += check_notice_body(body)
        elif "volume" not in body and "route" not in body:
            raise InvalidEntry("body: a notice needs a volume or a route")
    if kind is RequestType.FREE_TEXT:
        text(body["text"], "body.text", MAX_TEXT)
    return vertices


def _empty(body: dict[str, Any]) -> int:
    members(body, "body", set())
    return 0


def _accept(body: dict[str, Any]) -> int:
    members(body, "body", set(), {"conditions", "late", "affected"})
    if "conditions" in body:
        text(body["conditions"], "body.conditions", MAX_REASON)
    if "affected" in body:
        affected = body["affected"]
        if not isinstance(affected, list) or len(affected) > MAX_ITEMS:
            raise InvalidEntry(f"body.affected: expected a list of at most {MAX_ITEMS} aircraft ids")
        for i, name in enumerate(affected):
            if not isinstance(name, str) or not AIRCRAFT.fullmatch(name):
                raise InvalidEntry(f"body.affected[{i}]: not an aircraft id")
            if i and not affected[i - 1] < name:
                raise InvalidEntry("body.affected: aircraft ids must be in strictly ascending order")
    _late(body)
    return 0


def _decline(body: dict[str, Any]) -> int:
    members(body, "body", {"reason"}, {"late"})
    text(body["reason"], "body.reason", MAX_REASON)
    _late(body)
    return 0


def _counter(body: dict[str, Any]) -> int:
    members(body, "body", set(), {"volume", "window", "reason", "late"})
    if "volume" not in body and "window" not in body:
        raise InvalidEntry("body: a counter needs a volume or a window")
    vertices = check_volume(body["volume"], "body.volume") if "volume" in body else 0
    if "window" in body:
        check_window(body["window"], "body.window")
    if "reason" in body:
        text(body["reason"], "body.reason", MAX_REASON)
    _late(body)
    return vertices


def _withdraw(body: dict[str, Any]) -> int:
    members(body, "body", set(), {"reason"})
    if "reason" in body:
        text(body["reason"], "body.reason", MAX_REASON)
    return 0


#: Outcomes of a verdict on a certificate.
VERDICTS = ("verified", "verified_with_own_surveillance", "failed")
#: Types of alarm.
ALARMS = ("overdue", "violation")
#: Most reasons in a verdict, aircraft named by an alarm.
MAX_ITEMS = 100
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def _certificate(body: dict[str, Any]) -> int:
    from parley.compliance.certificate import check_certificate_body

    return check_certificate_body(body)


def _verdict(body: dict[str, Any]) -> int:
    members(body, "body", {"recipient", "certificate", "outcome"}, {"reasons", "agreement"})
    party_id(body["recipient"], "body.recipient")
    if not isinstance(body["certificate"], str) or not _DIGEST.fullmatch(body["certificate"]):
        raise InvalidEntry("body.certificate: expected the hash of the certificate entry")
    if body["outcome"] not in VERDICTS:
        raise InvalidEntry(f"body.outcome: expected one of {', '.join(VERDICTS)}")
    reasons = body.get("reasons", [])
    if not isinstance(reasons, list) or len(reasons) > MAX_ITEMS:
        raise InvalidEntry(f"body.reasons: expected a list of at most {MAX_ITEMS} texts")
    for i, reason in enumerate(reasons):
        text(reason, f"body.reasons[{i}]", MAX_REASON)
    if body["outcome"] == "failed" and not reasons:
        raise InvalidEntry("body.reasons: a failed verdict says why")
    if "agreement" in body:
        agreement = members(body["agreement"], "body.agreement", {"matched", "total"}, {"max_difference_m"})
        for name in ("matched", "total"):
            value = agreement[name]
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidEntry(f"body.agreement.{name}: expected a count")
        if agreement["matched"] > agreement["total"]:
            raise InvalidEntry("body.agreement: more matched than there are")
        if "max_difference_m" in agreement:
            number(agreement["max_difference_m"], "body.agreement.max_difference_m")
    return 0


def _alarm(body: dict[str, Any]) -> int:
    members(body, "body", {"recipient", "type", "aircraft", "observed_at"}, {"reason", "evidence"})
    party_id(body["recipient"], "body.recipient")
    if body["type"] not in ALARMS:
        raise InvalidEntry(f"body.type: expected one of {', '.join(ALARMS)}")
    aircraft = body["aircraft"]
    if not isinstance(aircraft, list) or not 1 <= len(aircraft) <= MAX_ITEMS:
        raise InvalidEntry(f"body.aircraft: expected a list of 1 to {MAX_ITEMS} aircraft ids")
    for i, name in enumerate(aircraft):
        text(name, f"body.aircraft[{i}]", 100)
    parse_time(body["observed_at"], "body.observed_at")
    if "reason" in body:
        text(body["reason"], "body.reason", MAX_REASON)
    if "evidence" in body:
        evidence = members(body["evidence"], "body.evidence", {"commitment", "samples"})
        if not isinstance(evidence["commitment"], str) or not _DIGEST.fullmatch(evidence["commitment"]):
            raise InvalidEntry("body.evidence.commitment: expected 'sha256:' and 64 lowercase hex digits")
        count = evidence["samples"]
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise InvalidEntry("body.evidence.samples: expected a positive count")
    return 0


def _waiver(body: dict[str, Any]) -> int:
    members(body, "body", {"ref", "reason", "conflicts", "unchecked"})
    ref = members(body["ref"], "body.ref", {"kind", "id"})
    if ref["kind"] not in ("operation", "constraint", "request"):
        raise InvalidEntry("body.ref.kind: expected operation, constraint or request")
    text(ref["id"], "body.ref.id", 100)
    text(body["reason"], "body.reason", MAX_REASON)
    conflicts, unchecked = body["conflicts"], body["unchecked"]
    if not isinstance(conflicts, list) or len(conflicts) > MAX_ITEMS:
        raise InvalidEntry(f"body.conflicts: expected a list of at most {MAX_ITEMS} conflicts")
    for i, conflict in enumerate(conflicts):
        where = f"body.conflicts[{i}]"
        members(conflict, where, {"protected", "start", "end"})
        text(conflict["protected"], f"{where}.protected", 100)
        if not parse_time(conflict["start"], f"{where}.start") < parse_time(conflict["end"], f"{where}.end"):
            raise InvalidEntry(f"{where}.end: must be after start")
    if not isinstance(unchecked, list) or len(unchecked) > MAX_ITEMS:
        raise InvalidEntry(f"body.unchecked: expected a list of at most {MAX_ITEMS} protection ids")
    for i, pid in enumerate(unchecked):
        text(pid, f"body.unchecked[{i}]", 100)
    if not conflicts and not unchecked:
        raise InvalidEntry("body: a waiver names the conflicts gone on with, or the items left unchecked")
    return 0


def _expired(body: dict[str, Any]) -> int:
    members(body, "body", {"recipient"})
    party_id(body["recipient"], "body.recipient")
    return 0


_CHECKS: dict[str, Callable[[dict[str, Any]], int]] = {
    "key": _key,
    "request": _request,
    "delivered": _empty,
    "read": _empty,
    "accept": _accept,
    "decline": _decline,
    "counter": _counter,
    "withdraw": _withdraw,
    "expired": _expired,
    "certificate": _certificate,
    "verdict": _verdict,
    "alarm": _alarm,
    "waiver": _waiver,
}


def check_body(kind: str, body: object) -> int:
    """Check the body of an entry of ``kind``; returns the number of vertices it carries."""
    if not isinstance(body, dict):
        raise InvalidEntry("body: expected an object")
    return _CHECKS[kind](body)
