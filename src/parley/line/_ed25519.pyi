"""Ed25519 verification in C (RFC 8032 5.1.7, cofactored, strict decoding), single and batch.

Built from ``_ed25519.c`` when a C compiler is present; :mod:`parley.line.ed25519` wraps it and
falls back to OpenSSL without it. The underscore functions are test hooks.
"""

from collections.abc import Sequence
from typing import Final

from _typeshed import ReadableBuffer

_PIPPENGER_MIN: Final[int]

def verify(public: ReadableBuffer, signature: ReadableBuffer, message: ReadableBuffer, /) -> bool: ...
def verify_batch(
    publics: Sequence[ReadableBuffer],
    signatures: Sequence[ReadableBuffer],
    messages: Sequence[ReadableBuffer],
    randomness: ReadableBuffer,
    /,
) -> bool: ...
def _sha512(data: ReadableBuffer, /) -> bytes: ...
def _sc_reduce(b: ReadableBuffer, /) -> bytes: ...
def _decompress_ok(b: ReadableBuffer, /) -> bool: ...
def _roundtrip(b: ReadableBuffer, /) -> bytes | None: ...
def _msm(points: ReadableBuffer, scalars: ReadableBuffer, method: int, /) -> bytes | None: ...
