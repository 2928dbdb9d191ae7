"""The protection notice forms on the line and the waiver entry: strict checks naming the member;
a transcript with a waiver verifies, a waiver in a thread does not parse."""

from __future__ import annotations

from typing import Any

import pytest

from parley.line.bodies import check_body
from parley.line.entry import Entry, Kind
from parley.line.errors import InvalidEntry
from parley.line.transcript import verify_transcript
from parley.protection.forms import check_only_members, exact_members, read_notice
from parley.protection.notice import protected_from_notice
from tests.line.helpers import request_body
from tests.line.world import World
from tests.protection.scenario import convoy, now_plus

PID = "5f0c1b9e-8a6f-4d2b-9c1e-0a1b2c3d4e5f"
COMMON = {
    "type": "notice",
    "subject": "s",
    "reason": "r",
    "deadline": "2030-01-01T00:00:00.000000Z",
    "what": "w",
}


def _item() -> Any:
    return protected_from_notice(convoy(), id=PID)


def test_the_three_forms_are_read_back() -> None:
    item = _item()
    exact = read_notice({**COMMON, **exact_members(item)}, thread="x")
    assert exact.form == "exact" and exact.id == PID and exact.item == item
    check_only = read_notice({**COMMON, **check_only_members(item, amends=True)}, thread="x")
    assert check_only.form == "check_only" and check_only.amends and check_only.item is None
    assert check_only.cells and all(lng % 0.25 == 0 and lat % 0.25 == 0 for lng, lat in check_only.cells)
    assert check_body("request", {**COMMON, "cancels": PID}) == 0


@pytest.mark.parametrize(
    ("change", "member"),
    [
        (
            lambda b: b["protected"]["check_only"]["cells"].append([40.1, 35.0]),
            "body.protected.check_only.cells[1]",
        ),
        (
            lambda b: b["protected"]["check_only"]["cells"].insert(0, [40.25, 35.0]),
            "body.protected.check_only.cells",
        ),
        (lambda b: b["protected"].update(id="NOT-A-UUID"), "body.protected.id"),
        (lambda b: b.update(volume={}), "body.volume"),
        (lambda b: b.update(amends="0b7e3f4a-1c2d-4e5f-8a9b-0c1d2e3f4a5b"), "body.amends"),
        (lambda b: b["protected"].pop("check_only") and b["protected"].pop("kind"), "body.protected"),
    ],
)
def test_a_malformed_check_only_notice_is_refused_naming_the_member(change: Any, member: str) -> None:
    body = {**COMMON, "protected": {"kind": "movement", "id": PID,
            "check_only": {"start": now_plus(0), "end": now_plus(60), "cells": [[40.0, 35.0]]}}}  # fmt: skip
    check_body("request", body)
    change(body)
    with pytest.raises(InvalidEntry) as raised:
        check_body("request", body)
    assert raised.value.message.startswith(member), raised.value.message


def test_a_cancellation_carries_nothing_else_and_an_exact_notice_is_checked() -> None:
    with pytest.raises(InvalidEntry, match=r"body\.protected: a cancellation"):
        check_body("request", {**COMMON, "cancels": PID, **convoy()})
    bad = convoy()
    bad["route"]["properties"]["half_width_m"] = 0.0
    with pytest.raises(InvalidEntry, match="half_width_m"):
        check_body("request", {**COMMON, **bad})


def _waiver(**changes: Any) -> dict[str, Any]:
    body = {"ref": {"kind": "operation", "id": "op-1"}, "reason": "medevac",
            "conflicts": [{"protected": PID, "start": now_plus(0), "end": now_plus(5)}], "unchecked": []}  # fmt: skip
    return body | changes


def test_a_waiver_names_what_it_goes_on_with() -> None:
    assert check_body("waiver", _waiver()) == 0
    for body, member in (
        (_waiver(conflicts=[], unchecked=[]), "body: a waiver"),
        (_waiver(reason=""), "body.reason"),
        (_waiver(ref={"kind": "thread", "id": "x"}), "body.ref.kind"),
    ):
        with pytest.raises(InvalidEntry) as raised:
            check_body("waiver", body)
        assert raised.value.message.startswith(member)


def test_a_transcript_with_a_waiver_verifies_and_a_waiver_in_a_thread_does_not_parse() -> None:
    w = World()
    w.add("RED", "BLUE")
    w.request(0, "RED", ["BLUE"], request_body("free_text", text="which frequency?"))
    entry = w.parties["RED"].write(10, Kind.WAIVER, _waiver())
    w.held["RED"].append(entry)
    report = verify_transcript(w.transcript("RED"))
    assert report.ok, "\n".join(report.lines())
    assert any("waiver operation op-1: 1 protection conflict(s)" in line for line in report.timeline)
    threaded = {**entry.to_json(), "thread": "6f1c1e7e-4a3b-4c2d-9e8f-0a1b2c3d4e5f"}
    with pytest.raises(InvalidEntry, match="waiver entries have thread null"):
        Entry.from_json(threaded)
