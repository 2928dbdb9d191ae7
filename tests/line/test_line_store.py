"""The line's store on SQLite and PostgreSQL: append-only entries with their outbox rows in one
transaction, idempotent re-delivery, forks refused, the outbox's life, pinned keys, the shared
service's registry and witnessed heads (a different head at a witnessed position is a fork)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from parley.ports.line import ForkDetected, Pin, Registration, StoredEntry, WitnessedHead
from parley.storage.sql.line import SqlLineRepository
from parley.storage.sql.uow import SqlStore

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def repo(request: pytest.FixtureRequest) -> SqlLineRepository:
    store: SqlStore = request.getfixturevalue(f"{request.param}_store")
    return SqlLineRepository(store)


def entry(holder: str, author: str, seq: int, *, thread: str | None = None, marker: str = "") -> StoredEntry:
    h = f"sha256:{author[:1]}{seq:063d}" if not marker else f"sha256:{marker * 64}"
    return StoredEntry(
        holder=holder,
        hash=h,
        author=author,
        seq=seq,
        kind="request" if thread else "key",
        thread=thread,
        at=T0 + timedelta(seconds=seq),
        text=json.dumps({"party": author, "seq": seq, "body": {"text": "é ✓"}}, ensure_ascii=False),
        received_at=T0 + timedelta(seconds=seq, milliseconds=5),
    )


def test_append_get_head_and_chain(repo: SqlLineRepository) -> None:
    thread = "4a7b1e7c-0f6a-4e31-9b1d-3c5c2b7b9a10"
    for seq in (1, 2, 3):
        assert repo.append(entry("red", "red", seq, thread=thread if seq > 1 else None), now=T0)
    assert repo.append(entry("red", "blue", 1), now=T0)
    head = repo.head("red", "red")
    assert head is not None and head.seq == 3 and head.entry["body"]["text"] == "é ✓"
    assert [e.seq for e in repo.entries("red", author="red")] == [1, 2, 3]
    assert [e.seq for e in repo.thread("red", thread)] == [2, 3]
    assert repo.threads("red") == [thread]
    assert repo.count("red") == 4 and repo.count("blue") == 0
    got = repo.get("red", entry("red", "red", 2).hash)
    assert got == entry("red", "red", 2, thread=thread)


def test_the_same_entry_again_is_a_no_op_and_another_at_its_place_a_fork(repo: SqlLineRepository) -> None:
    assert repo.append(entry("red", "blue", 1), deliver_to=["aid"], now=T0)
    assert not repo.append(entry("red", "blue", 1), deliver_to=["aid"], now=T0)
    assert repo.pending("red") == 1
    with pytest.raises(ForkDetected) as fork:
        repo.append(entry("red", "blue", 1, marker="f"), deliver_to=["aid"], now=T0)
    assert (fork.value.author, fork.value.seq) == ("blue", 1)
    assert repo.count("red") == 1 and repo.pending("red") == 1


def test_the_outbox_delivers_each_entry_to_each_recipient_until_done(repo: SqlLineRepository) -> None:
    first, second = entry("red", "red", 1), entry("red", "red", 2)
    repo.append(first, deliver_to=["blue", "aid", "blue"], now=T0)
    repo.append(second, deliver_to=["blue"], now=T0)
    due = repo.due("red", T0)
    assert [(d.recipient, d.hash) for d in due] == [
        ("aid", first.hash),
        ("blue", first.hash),
        ("blue", second.hash),
    ]
    repo.mark_delivered(due[0], T0 + timedelta(seconds=1))
    repo.mark_failed(due[1], T0 + timedelta(seconds=30), "blue unreachable")
    # While blue's first delivery backs off, its second waits too: blue gets them in order.
    assert repo.due("red", T0 + timedelta(seconds=2)) == []
    later = repo.due("red", T0 + timedelta(seconds=31))
    assert [(d.recipient, d.attempts, d.last_error) for d in later] == [
        ("blue", 1, "blue unreachable"),
        ("blue", 0, None),
    ]
    assert repo.pending("red") == 2


def test_batches_in_one_call_each(repo: SqlLineRepository) -> None:
    thread = "4a7b1e7c-0f6a-4e31-9b1d-3c5c2b7b9a10"
    one, two, three = (entry("blue", "red", s, thread=thread) for s in (1, 2, 3))
    assert repo.append(one, now=T0)
    assert repo.append_all([(one, ["red"]), (two, ["red", "aid"]), (three, ())], now=T0) == [
        False,
        True,
        True,
    ]
    assert repo.held("blue", [one.hash, three.hash, "sha256:" + "9" * 64]) == {one.hash, three.hash}
    assert repo.get_all("blue", [three.hash, two.hash, two.hash]) == {two.hash: two, three.hash: three}
    assert repo.held("blue", []) == set() and repo.get_all("blue", []) == {}
    by_thread = repo.threads_entries("blue", [thread, "b0b0b0b0-0000-4000-8000-000000000000"])
    assert [e.seq for e in by_thread[thread]] == [1, 2, 3]
    assert by_thread["b0b0b0b0-0000-4000-8000-000000000000"] == []
    # A fork anywhere in the batch: nothing of it is stored.
    four = entry("blue", "red", 4, thread=thread)
    with pytest.raises(ForkDetected):
        repo.append_all([(four, ["red"]), (entry("blue", "red", 2, marker="f"), ())], now=T0)
    assert repo.get("blue", four.hash) is None and repo.pending("blue") == 2
    due = repo.due("blue", T0)
    assert [(d.recipient, d.hash) for d in due] == [("aid", two.hash), ("red", two.hash)]
    repo.mark_all_failed(due, T0 + timedelta(seconds=5), "x" * 600)
    again = repo.due("blue", T0 + timedelta(seconds=5))
    assert [(d.attempts, d.last_error) for d in again] == [(1, "x" * 500)] * 2
    repo.mark_all_delivered(again, T0 + timedelta(seconds=6))
    assert repo.pending("blue") == 0 and repo.due("blue", T0 + timedelta(days=1)) == []


def test_pins_keep_the_history(repo: SqlLineRepository) -> None:
    repo.pin(Pin("red", "blue", "ed25519:AAA", T0, None))
    repo.pin(Pin("red", "blue", "ed25519:AAA", T0 + timedelta(hours=1), None))  # already pinned
    repo.pin(Pin("red", "blue", "ed25519:BBB", T0 + timedelta(days=1), {"signed_by": "ed25519:AAA"}))
    pins = repo.pins("red", "blue")
    assert [(p.key_id, p.proof) for p in pins] == [
        ("ed25519:AAA", None),
        ("ed25519:BBB", {"signed_by": "ed25519:AAA"}),
    ]
    assert repo.pins("aid", "blue") == []


def test_registry_and_witness(repo: SqlLineRepository) -> None:
    repo.register(Registration("blue", "ed25519:AAA", "http://x/parties/blue", "Blue", T0, [{"key": "AAA"}]))
    repo.register(Registration("blue", "ed25519:BBB", "http://x/parties/blue", "Blue", T0, [{"key": "BBB"}]))
    got = repo.registration("blue")
    assert got is not None and got.key_id == "ed25519:BBB" and got.keys == [{"key": "BBB"}]
    assert [r.party for r in repo.registrations()] == ["blue"]

    head = WitnessedHead("blue", 7, "sha256:" + "a" * 64, T0, {"sig": "x"})
    assert repo.witness(head) == head
    assert repo.witness(WitnessedHead("blue", 7, head.head, T0 + timedelta(seconds=5), {"sig": "y"})) == head
    with pytest.raises(ForkDetected):
        repo.witness(WitnessedHead("blue", 7, "sha256:" + "b" * 64, T0, {"sig": "z"}))
    assert [f["other_head"] for f in repo.forks()] == ["sha256:" + "b" * 64]
    assert [w.seq for w in repo.witnessed("blue")] == [7]
