"""OVN minting, requested suffixes, id parsing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.domain.entities import EntityId, parse_entity_id
from parley.domain.errors import InvalidInput
from parley.domain.ovn import mint_ovn, ovn_from_suffix, validate_ovn

T = datetime(2026, 11, 25, 12, tzinfo=UTC)
ID = EntityId("4a7b1e7c-0f6a-4e31-9b1d-3c5c2b7b9a10")


def uuid7_at(t: datetime) -> str:
    millis = int(t.timestamp() * 1000)
    value = (millis << 80) | (0x7 << 76) | (0x2 << 62) | 0x123
    return str(uuid.UUID(int=value))


@given(st.binary(min_size=1, max_size=32), st.binary(min_size=1, max_size=32))
def test_ovns_are_valid_and_differ_by_salt(a: bytes, b: bytes) -> None:
    x, y = mint_ovn(ID, 1, T, a), mint_ovn(ID, 1, T, b)
    assert validate_ovn(x) == x
    assert (x == y) == (a == b)


def test_requested_suffix() -> None:
    suffix = uuid7_at(T + timedelta(seconds=30))
    assert ovn_from_suffix(ID, suffix, T) == f"{ID}_{suffix}"
    with pytest.raises(InvalidInput, match="away"):
        ovn_from_suffix(ID, uuid7_at(T - timedelta(minutes=10)), T)
    with pytest.raises(InvalidInput, match="version 4"):
        ovn_from_suffix(ID, str(uuid.uuid4()), T)
    with pytest.raises(InvalidInput, match="not a UUID"):
        ovn_from_suffix(ID, "nope", T)


def test_ovn_length_limits() -> None:
    with pytest.raises(InvalidInput):
        validate_ovn("short")
    with pytest.raises(InvalidInput):
        validate_ovn("x" * 129)


@given(st.uuids())
def test_entity_ids_parse_in_canonical_form(u: uuid.UUID) -> None:
    assert parse_entity_id(str(u).upper()) == str(u)


@pytest.mark.parametrize(
    "bad", ["", "abc", "4a7b1e7c0f6a4e319b1d3c5c2b7b9a10", "{4a7b1e7c-0f6a-4e31-9b1d-3c5c2b7b9a10}"]
)
def test_malformed_ids_are_refused(bad: str) -> None:
    with pytest.raises(InvalidInput):
        parse_entity_id(bad)
