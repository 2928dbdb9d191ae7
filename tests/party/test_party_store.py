"""The party nodes' store (:class:`SqlPartyRepository`) on SQLite and on PostgreSQL: one suite.

Operations are saved with optimistic revisions (a stale revision is :class:`VersionMismatch`, a
second insert :class:`AlreadyExists`); what a node knows of others' entities is upserted and
deleted; telemetry answers the latest sample; notifications come in order, filtered by time; and
every party sees only its own.
"""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parley.domain.errors import AlreadyExists, VersionMismatch
from parley.domain.operations import (
    OpKind,
    OpState,
    OwnOperation,
    PeerEntity,
    TelemetrySample,
    UserNotification,
)
from parley.storage.sql.party import SqlPartyRepository
from parley.storage.sql.uow import SqlStore

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def repo(request: pytest.FixtureRequest) -> SqlPartyRepository:
    """The repository on each database in turn, empty."""
    store: SqlStore = request.getfixturevalue(f"{request.param}_store")
    return SqlPartyRepository(store)


def oid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def details(n: int = 0) -> dict[str, Any]:
    return {
        "volumes": [
            {
                "volume": {
                    "outline_circle": {
                        "center": {"lat": 47.0 + n * 1e-3, "lng": 8.0},
                        "radius": {"value": 123.456, "units": "M"},
                    },
                    "altitude_lower": {"value": 0.0, "reference": "W84", "units": "M"},
                    "altitude_upper": {"value": 120.5, "reference": "W84", "units": "M"},
                },
                "time_start": {"value": "2026-03-01T12:00:00.000001Z", "format": "RFC3339"},
                "time_end": {"value": "2026-03-01T13:00:00Z", "format": "RFC3339"},
            }
        ],
        "off_nominal_volumes": [],
        "priority": n,
    }


def operation(n: int = 1, party: str = "red", **changes: Any) -> OwnOperation:
    base = OwnOperation(
        party=party,
        id=oid(n),
        kind=OpKind.OPERATIONAL_INTENT,
        state=OpState.ACCEPTED,
        details=details(n),
        reference={"id": oid(n), "ovn": f"ovn-{n}", "version": 1, "state": "Accepted"},
        subscription_id=oid(1000 + n),
        meta={"name": f"Flight {n} – Zürich", "flight_plan_id": f"fp-{n}"},
        created_at=T0 + timedelta(seconds=n),
        updated_at=T0 + timedelta(seconds=n, microseconds=7),
    )
    return base.with_(**changes)


def sample(op: int, seconds: float, **changes: Any) -> TelemetrySample:
    base = TelemetrySample(
        operation_id=oid(op),
        t=T0 + timedelta(seconds=seconds),
        lat=47.0 + seconds * 1e-5,
        lng=8.0,
        alt_m=100.25,
        speed_mps=12.0,
        track_deg=271.5,
        vertical_speed_mps=-0.5,
        accuracy_h_m=3.0,
        accuracy_v_m=None,
    )
    return dataclasses.replace(base, **changes)


def note(party: str, seconds: float, kind: str = "conflict", **changes: Any) -> UserNotification:
    return UserNotification(
        party=party,
        at=T0 + timedelta(seconds=seconds),
        kind=kind,
        message=f"{kind} at {seconds}",
        operation_id=changes.pop("operation_id", None),
        body=changes.pop("body", {"n": seconds}),
    )


# -- operations ----------------------------------------------------------------------------------


def test_save_get_list(repo: SqlPartyRepository) -> None:
    assert repo.get_operation("red", oid(1)) is None
    assert repo.list_operations("red") == []
    first = repo.save_operation(operation(1), expected_revision=None)
    assert first.revision == 1 and first == operation(1).with_(revision=1)
    assert repo.get_operation("red", oid(1)) == first
    second = repo.save_operation(operation(2, nonconforming_since=T0), expected_revision=None)
    assert repo.list_operations("red") == [first, second]  # in order of creation
    assert repo.get_operation_by_flight_plan("red", "fp-2") == second
    assert repo.get_operation_by_flight_plan("red", "fp-9") is None


def test_values_round_trip_exactly(repo: SqlPartyRepository) -> None:
    cest = timezone(timedelta(hours=2))
    op = operation(
        3,
        kind=OpKind.CONSTRAINT,
        state=OpState.PUBLISHED,
        details={"volumes": details()["volumes"], "type": "réservation", "geozone": {"x": [1, 2.5, None]}},
        reference=None,
        subscription_id=None,
        meta={},
        created_at=datetime(2026, 3, 1, 14, 0, 0, 999_999, tzinfo=cest),
        updated_at=datetime(2026, 3, 1, 14, 0, 1, 1, tzinfo=cest),
    )
    repo.save_operation(op, expected_revision=None)
    got = repo.get_operation("red", op.id)
    assert got == op.with_(revision=1)
    assert got is not None and got.created_at is not None and got.created_at.utcoffset() == timedelta(0)


_numbers = itertools.count(10_000)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(
    moment=st.datetimes(
        min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
    )
)
def test_times_round_trip_to_the_microsecond(repo: SqlPartyRepository, moment: datetime) -> None:
    n = next(_numbers)  # the repository is shared by the examples: each its own ids
    op = operation(n, created_at=moment, updated_at=moment, nonconforming_since=moment)
    repo.save_operation(op, expected_revision=None)
    got = repo.get_operation("red", op.id)
    assert got is not None
    assert (got.created_at, got.updated_at, got.nonconforming_since) == (moment, moment, moment)
    repo.add_telemetry("red", [sample(n, 0, t=moment)])
    latest = repo.latest_telemetry("red", oid(n))
    assert latest is not None and latest.t == moment
    party = f"p{n}"
    added = repo.add_notification(UserNotification(party=party, at=moment, kind="k", message=""))
    assert repo.list_notifications(party, after=moment, before=moment) == [added]
    assert added.at == moment


def test_an_update_needs_the_current_revision(repo: SqlPartyRepository) -> None:
    v1 = repo.save_operation(operation(1), expected_revision=None)
    v2 = repo.save_operation(v1.with_(state=OpState.ACTIVATED), expected_revision=v1.revision)
    assert v2.revision == 2 and repo.get_operation("red", oid(1)) == v2
    with pytest.raises(VersionMismatch):
        repo.save_operation(v1.with_(state=OpState.ENDED), expected_revision=v1.revision)
    with pytest.raises(VersionMismatch):
        repo.save_operation(v2.with_(state=OpState.ENDED), expected_revision=7)
    assert repo.get_operation("red", oid(1)) == v2  # the stale writes changed nothing
    with pytest.raises(VersionMismatch):  # an update of what does not exist
        repo.save_operation(operation(5), expected_revision=1)
    assert repo.get_operation("red", oid(5)) is None


def test_a_second_insert_already_exists(repo: SqlPartyRepository) -> None:
    first = repo.save_operation(operation(1), expected_revision=None)
    with pytest.raises(AlreadyExists):
        repo.save_operation(operation(1, state=OpState.ACTIVATED), expected_revision=None)
    assert repo.get_operation("red", oid(1)) == first


def test_an_operation_without_its_times_is_refused_not_taken_for_a_duplicate(
    repo: SqlPartyRepository,
) -> None:
    with pytest.raises(ValueError, match="created_at"):
        repo.save_operation(operation(1, created_at=None), expected_revision=None)
    assert repo.get_operation("red", oid(1)) is None


def test_ended_operations_are_listed_on_demand(repo: SqlPartyRepository) -> None:
    a = repo.save_operation(operation(1), expected_revision=None)
    b = repo.save_operation(operation(2), expected_revision=None)
    ended = repo.save_operation(a.with_(state=OpState.ENDED), expected_revision=a.revision)
    assert repo.list_operations("red") == [b]
    assert repo.list_operations("red", include_ended=True) == [ended, b]
    assert repo.get_operation("red", oid(1)) == ended


# -- peers ---------------------------------------------------------------------------------------


def peer(n: int, party: str = "red", version: int = 1, **changes: Any) -> PeerEntity:
    base = PeerEntity(
        party=party,
        id=oid(n),
        kind=OpKind.OPERATIONAL_INTENT,
        reference={"id": oid(n), "manager": "blue", "version": version, "ovn": f"o{version}"},
        details=details(n),
        updated_at=T0 + timedelta(seconds=version),
    )
    return dataclasses.replace(base, **changes)


def test_peers_are_upserted_and_deleted(repo: SqlPartyRepository) -> None:
    assert repo.get_peer("red", oid(1)) is None and repo.list_peers("red") == []
    repo.save_peer(peer(2))
    repo.save_peer(peer(1))
    assert repo.list_peers("red") == [peer(1), peer(2)]
    newer = peer(1, version=2, kind=OpKind.CONSTRAINT, details=None)
    repo.save_peer(newer)
    assert repo.get_peer("red", oid(1)) == newer
    assert repo.list_peers("red") == [newer, peer(2)]
    repo.delete_peer("red", oid(1))
    assert repo.get_peer("red", oid(1)) is None and repo.list_peers("red") == [peer(2)]
    repo.delete_peer("red", oid(1))  # deleting what is not there is no error
    assert repo.list_peers("red") == [peer(2)]


# -- telemetry -----------------------------------------------------------------------------------


def test_the_latest_sample_is_the_latest_in_time(repo: SqlPartyRepository) -> None:
    assert repo.latest_telemetry("red", oid(1)) is None
    repo.add_telemetry("red", [])
    repo.add_telemetry("red", [sample(1, 10), sample(1, 30), sample(1, 20)])
    assert repo.latest_telemetry("red", oid(1)) == sample(1, 30)
    repo.add_telemetry("red", [sample(1, 5)])  # late, out of order: not the latest
    assert repo.latest_telemetry("red", oid(1)) == sample(1, 30)
    # two samples at the same time: the one stored last
    repo.add_telemetry("red", [sample(1, 30, lat=48.0)])
    assert repo.latest_telemetry("red", oid(1)) == sample(1, 30, lat=48.0)
    # another operation's are its own
    repo.add_telemetry("red", [sample(2, 99, speed_mps=None, track_deg=None, vertical_speed_mps=None)])
    assert repo.latest_telemetry("red", oid(1)) == sample(1, 30, lat=48.0)
    assert repo.latest_telemetry("red", oid(2)) == sample(
        2, 99, speed_mps=None, track_deg=None, vertical_speed_mps=None
    )


# -- notifications -------------------------------------------------------------------------------


def test_notifications_in_order_and_filtered_by_time(repo: SqlPartyRepository) -> None:
    assert repo.list_notifications("red") == []
    added = [
        repo.add_notification(note("red", 20, "b", operation_id=oid(1))),
        repo.add_notification(note("red", 10, "a")),
        repo.add_notification(note("red", 20, "c", body={"nested": {"list": [1, "é"]}})),
        repo.add_notification(note("red", 30, "d")),
    ]
    assert [n.seq for n in added] == sorted(n.seq for n in added) and len({n.seq for n in added}) == 4
    assert added[0] == dataclasses.replace(note("red", 20, "b", operation_id=oid(1)), seq=added[0].seq)
    kinds = [n.kind for n in repo.list_notifications("red")]
    assert kinds == ["a", "b", "c", "d"]  # by time, then in the order they were added
    assert repo.list_notifications("red")[2].body == {"nested": {"list": [1, "é"]}}
    at = T0 + timedelta(seconds=20)
    assert [n.kind for n in repo.list_notifications("red", after=at)] == ["b", "c", "d"]
    assert [n.kind for n in repo.list_notifications("red", before=at)] == ["a", "b", "c"]
    assert [n.kind for n in repo.list_notifications("red", after=at, before=at)] == ["b", "c"]
    assert [n.kind for n in repo.list_notifications("red", after=at + timedelta(microseconds=1))] == ["d"]
    assert [n.kind for n in repo.list_notifications("red", limit=2)] == ["a", "b"]
    assert repo.list_notifications("red", after=T0 + timedelta(hours=1)) == []


# -- parties -------------------------------------------------------------------------------------


def test_parties_are_isolated(repo: SqlPartyRepository) -> None:
    # the same ids in two parties are two different things
    red = repo.save_operation(operation(1, party="red"), expected_revision=None)
    blue = repo.save_operation(operation(1, party="blue", state=OpState.ACTIVATED), expected_revision=None)
    assert repo.get_operation("red", oid(1)) == red and repo.get_operation("blue", oid(1)) == blue
    assert repo.list_operations("green") == [] and repo.get_operation("green", oid(1)) is None
    assert repo.get_operation_by_flight_plan("green", "fp-1") is None
    repo.save_operation(blue.with_(state=OpState.ENDED), expected_revision=blue.revision)
    assert repo.get_operation("red", oid(1)) == red

    repo.save_peer(peer(7, party="red"))
    repo.save_peer(peer(7, party="blue", version=3))
    assert repo.get_peer("red", oid(7)) == peer(7, party="red")
    repo.delete_peer("blue", oid(7))
    assert repo.list_peers("red") == [peer(7, party="red")] and repo.list_peers("blue") == []

    repo.add_telemetry("red", [sample(1, 1)])
    repo.add_telemetry("blue", [sample(1, 2, lat=10.0)])
    assert repo.latest_telemetry("red", oid(1)) == sample(1, 1)
    assert repo.latest_telemetry("green", oid(1)) is None

    repo.add_notification(note("red", 1, "for red"))
    repo.add_notification(note("blue", 2, "for blue"))
    assert [n.kind for n in repo.list_notifications("red")] == ["for red"]
    assert [n.party for n in repo.list_notifications("blue")] == ["blue"]
    assert repo.list_notifications("green") == []
