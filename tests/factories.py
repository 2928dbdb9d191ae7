"""Builders of domain requests for tests (plain functions, no magic)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from parley.domain.entities import EntityId
from parley.domain.geo import Circle, LatLng, Polygon, Volume3D, Volume4D

T0 = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)


def new_id() -> EntityId:
    return EntityId(str(uuid.uuid4()))


def square(lat: float, lng: float, half_deg: float = 0.01) -> Polygon:
    """A small square centred on (lat, lng)."""
    return Polygon(
        (
            LatLng(lat - half_deg, lng - half_deg),
            LatLng(lat - half_deg, lng + half_deg),
            LatLng(lat + half_deg, lng + half_deg),
            LatLng(lat + half_deg, lng - half_deg),
        )
    )


def volume(
    start: datetime,
    minutes: float = 60.0,
    *,
    lat: float = 46.0,
    lng: float = 7.0,
    half_deg: float = 0.01,
    alt: tuple[float, float] = (0.0, 120.0),
    circle_m: float | None = None,
) -> Volume4D:
    outline = Circle(LatLng(lat, lng), circle_m) if circle_m is not None else square(lat, lng, half_deg)
    return Volume4D(Volume3D(outline, alt[0], alt[1]), start, start + timedelta(minutes=minutes))
