"""Chains: links, rotations, forks."""

from __future__ import annotations

import pytest

from parley.line.chain import ChainHead, check_chain, check_link, check_no_fork
from parley.line.entry import Entry, Kind
from parley.line.errors import BadSignature, BrokenChain, ForkDetected
from parley.line.keys import PartyKey
from tests.line.helpers import Party, at, request_body


def test_a_chain_with_rotations_checks() -> None:
    red = Party("RED")
    red.request(0, ["BLUE"], request_body())
    rotation = red.rotate(5)
    assert rotation.key != rotation.body["public"]
    red.request(6, ["BLUE"], request_body(deadline=40))
    red.rotate(7)
    assert check_chain(red.entries) == ChainHead.of(red.entries[-1])


def test_after_a_rotation_the_old_key_no_longer_signs() -> None:
    red = Party("RED")
    old = red.key
    red.rotate(5)
    red.key = old
    red.request(6, ["BLUE"], request_body())
    with pytest.raises(BadSignature, match="RED#3"):
        check_chain(red.entries)


def test_a_rotation_not_signed_by_the_pinned_key_is_refused() -> None:
    red = Party("RED")
    red.key = PartyKey.generate()  # a stranger's key
    red.rotate(5)
    with pytest.raises(BadSignature, match="RED#2"):
        check_chain(red.entries)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"party": "AID"}, "party:"),
        ({"seq": 4}, "seq: expected 3"),
        ({"prev": "sha256:" + "1" * 64}, "prev: is not the hash"),
        ({"at": at(-120)}, "at: earlier"),
    ],
)
def test_broken_links_are_named(change: dict[str, object], message: str) -> None:
    red = Party("RED")
    first = red.request(0, ["BLUE"], request_body())
    second = red.request(1, ["BLUE"], request_body())
    broken = Entry.from_json({**second.to_json(), **change})
    with pytest.raises(BrokenChain, match=message):
        check_link(first, broken)
    check_link(first, second)
    check_link(ChainHead.of(first), second)


def test_chains_start_with_a_key_entry() -> None:
    red = Party("RED")
    red.request(0, ["BLUE"], request_body())
    with pytest.raises(BrokenChain, match="seq"):
        check_chain(red.entries[1:])
    with pytest.raises(BrokenChain, match="empty"):
        check_chain([])


def test_two_entries_at_one_position_are_a_fork() -> None:
    red = Party("RED")
    base = red.head
    one = red.request(0, ["BLUE"], request_body())
    red.entries.pop()
    assert red.head == base
    other = red.request(0, ["BLUE"], request_body(reason="rewritten"))
    check_no_fork(one, one)
    check_no_fork(one, red.entries[0])  # different positions
    with pytest.raises(ForkDetected, match="RED#2: fork"):
        check_no_fork(one, other)
    with pytest.raises(ForkDetected):
        check_no_fork(ChainHead.of(one), other)
    assert one.kind is Kind.REQUEST
