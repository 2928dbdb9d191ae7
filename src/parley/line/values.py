"""``hot_value``: the dataclass decorator of the line's values made by the ten thousand.

Entries, legs, threads and events are immutable values. A frozen dataclass enforces that at run
time by writing each field through ``object.__setattr__`` in ``__init__``, which cost about 4 µs per
entry on the 2-core development machine (a transcript of 100,000 entries builds some 300,000 of
these values). So they are frozen for the type checker (mypy refuses any assignment to a field) and
plain slotted dataclasses at run time (about 1 µs).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, dataclass_transform

T = TypeVar("T")

if TYPE_CHECKING:

    @dataclass_transform(frozen_default=True)
    def hot_value(*, eq: bool = True) -> Callable[[type[T]], type[T]]: ...

else:

    def hot_value(*, eq: bool = True) -> Callable[[type[Any]], type[Any]]:
        return dataclass(slots=True, eq=eq)
