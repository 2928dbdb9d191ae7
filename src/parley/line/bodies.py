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
from parley.line.shapes import check_route, check_volume, check_window, members
from parley.line.times import parse_time

#: Longest subject, in characters.
MAX_SUBJECT = 200
#: Longest reason, conditions, display name or "what" of a notice, in characters.
MAX_REASON = 4_000
#: Longest free text, in characters.
MAX_TEXT = 16_000

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
    RequestType.VACATE: (_COMMON | {"volume"}, frozenset({"ref"})),
    RequestType.HOLD_CLEAR: (_COMMON | {"volume"}, frozenset({"ref"})),
    RequestType.PASSAGE: (_COMMON | {"route"}, frozenset({"ref"})),
    RequestType.NOTICE: (_COMMON | {"what"}, frozenset({"volume", "route", "ref"})),
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
    vertices = 0
    if "volume" in body:
        vertices += check_volume(body["volume"], "body.volume")
    if "route" in body:
        vertices += check_route(body["route"], "body.route")
    if kind is RequestType.NOTICE:
        text(body["what"], "body.what", MAX_REASON)
        if "volume" not in body and "route" not in body:
            raise InvalidEntry("body: a notice needs a volume or a route")
    if kind is RequestType.FREE_TEXT:
        text(body["text"], "body.text", MAX_TEXT)
    return vertices


def _empty(body: dict[str, Any]) -> int:
    members(body, "body", set())
    return 0


def _accept(body: dict[str, Any]) -> int:
    members(body, "body", set(), {"conditions", "late"})
    if "conditions" in body:
        text(body["conditions"], "body.conditions", MAX_REASON)
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
}


def check_body(kind: str, body: object) -> int:
    """Check the body of an entry of ``kind``; returns the number of vertices it carries."""
    if not isinstance(body, dict):
        raise InvalidEntry("body: expected an object")
    return _CHECKS[kind](body)
