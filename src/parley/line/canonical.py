"""Canonical JSON (RFC 8785, the JSON Canonicalization Scheme) and the digests of canonical forms.

What is signed and hashed on the line is always the canonical form of a JSON value: members sorted by
their UTF-16 code units, no insignificant white space, strings in UTF-8 with the minimal escapes,
numbers as ECMAScript prints them. Two parties that agree on a value agree on its bytes.

>>> canonical({"b": 1.0, "a": ["é", 1e21]})
b'{"a":["\\xc3\\xa9",1e+21],"b":1}'
>>> digest({"a": 1})
'sha256:015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862'
"""

from __future__ import annotations

import hashlib
from typing import Any

import rfc8785

from parley.domain.errors import InvalidInput

#: Prefix of every digest written on the line (the algorithm, so that it can change one day).
DIGEST_PREFIX = "sha256:"


def canonical(value: Any) -> bytes:
    """The RFC 8785 canonical bytes of a JSON value (dicts, lists, str, int, float, bool, None).

    Raises :class:`~parley.domain.errors.InvalidInput` for what JSON cannot carry exactly: NaN or
    infinite numbers, integers beyond 2**53 in magnitude, non-string keys, other types.
    """
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as error:
        raise InvalidInput(f"not canonical JSON: {error}") from error


def digest(value: Any) -> str:
    """``sha256:`` and the hexadecimal SHA-256 of the canonical form of ``value``."""
    return DIGEST_PREFIX + hashlib.sha256(canonical(value)).hexdigest()
