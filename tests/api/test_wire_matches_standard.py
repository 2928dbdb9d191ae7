"""Every wire model mirrors the standard's type in ``uas_standards`` field by field, and every
enum has exactly the standard's values."""

from __future__ import annotations

import typing
from enum import Enum

import pytest
from pydantic import BaseModel
from uas_standards.astm.f3548.v21 import api as std

from parley.api.wire import f3548v21 as wire
from parley.domain.entities import OperationalIntentState, UssAvailabilityState

MODELS = [
    name
    for name, obj in vars(wire).items()
    if isinstance(obj, type)
    and issubclass(obj, BaseModel)
    and not name.startswith("_")
    and obj.__module__ == wire.__name__
]


def _std_fields(cls: type) -> set[str]:
    fields: set[str] = set()
    for klass in reversed(cls.__mro__):
        fields.update(getattr(klass, "__annotations__", {}))
    return {f for f in fields if not f.startswith("_")}


def test_every_model_has_a_standard_counterpart() -> None:
    assert len(MODELS) >= 30
    missing = [name for name in MODELS if not hasattr(std, name)]
    assert missing == []


@pytest.mark.parametrize("name", MODELS)
def test_field_names_match(name: str) -> None:
    ours = set(getattr(wire, name).model_fields)
    theirs = _std_fields(getattr(std, name))
    assert ours == theirs


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (OperationalIntentState, std.OperationalIntentState),
        (UssAvailabilityState, std.UssAvailabilityState),
        (wire.TimeFormat, std.TimeFormat),
        (wire.AltitudeReference, std.AltitudeReference),
        (wire.Units, std.AltitudeUnits),
        (wire.Units, std.RadiusUnits),
        (wire.ExchangeRecordRecorderRole, std.ExchangeRecordRecorderRole),
    ],
)
def test_enum_values_match(ours: type[Enum], theirs: type[Enum]) -> None:
    assert {e.value for e in ours} == {e.value for e in theirs}


def test_required_response_fields_are_required() -> None:
    """A field the standard requires in a response is never optional in ours."""
    for name in MODELS:
        model = getattr(wire, name)
        if not issubclass(model, wire._Response):
            continue
        hints = typing.get_type_hints(getattr(std, name))
        for field, hint in hints.items():
            std_optional = type(None) in typing.get_args(hint) or hasattr(getattr(std, name), field)
            if not std_optional:
                assert model.model_fields[field].is_required(), f"{name}.{field}"
