"""Times on the line: one textual form, RFC 3339 in UTC with microseconds and ``Z``.

Every time in an entry (``at``, a request's ``deadline``, window ``start``/``end``) is written
``YYYY-MM-DDTHH:MM:SS.ffffffZ``, exactly 27 characters, so that one instant has one spelling (the
signed bytes do not depend on who formatted it) and times compare as strings.

>>> from datetime import datetime, timezone
>>> format_time(datetime(2017, 5, 3, 6, 30, tzinfo=timezone.utc))
'2017-05-03T06:30:00.000000Z'
>>> parse_time("2017-05-03T06:30:00.000000Z", "at").minute
30
>>> parse_time("2017-05-03T06:30:00Z", "at")
Traceback (most recent call last):
...
parley.line.errors.InvalidEntry: at: not a UTC time written YYYY-MM-DDTHH:MM:SS.ffffffZ: '2017-05-03T06:30:00Z'
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from parley.line.errors import InvalidEntry

_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z", re.ASCII)
_MATCH = _TIME.fullmatch


def format_time(when: datetime) -> str:
    """The line's spelling of an aware datetime (converted to UTC)."""
    if when.tzinfo is None:
        raise ValueError("a naive datetime has no place on the line")
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: object, field: str) -> datetime:
    """The aware UTC datetime written ``text``; :class:`InvalidEntry` naming ``field`` otherwise."""
    if type(text) is not str or not _MATCH(text):
        raise InvalidEntry(f"{field}: not a UTC time written YYYY-MM-DDTHH:MM:SS.ffffffZ: {text!r}")
    try:
        return datetime.fromisoformat(text)  # "Z": UTC
    except ValueError as error:
        raise InvalidEntry(f"{field}: not a valid date and time: {text!r}") from error
