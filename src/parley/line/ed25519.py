"""Ed25519 signature verification for the line's transcripts: one signature, or many at once.

Every log entry of the line is signed with Ed25519 (RFC 8032); the offline transcript verifier checks
tens of thousands of them, under very few public keys. This module verifies them with the C extension
:mod:`parley.line._ed25519` when it was built (``NATIVE``), else with OpenSSL through ``cryptography``.

The criterion (RFC 8032 section 5.1.7, cofactored, strict decoding). A public key ``A`` is 32 bytes; a
signature is 64 bytes, ``R`` (32) then ``S`` (32, little-endian). With p = 2^255 - 19, the group order
L = 2^252 + 27742317777372353535851937790883648493 and the base point ``B``:

* ``A`` and ``R`` decode strictly (section 5.1.3): y, the low 255 bits, must be < p; x^2 =
  (y^2 - 1) / (d y^2 + 1) must have a square root; x = 0 with the sign bit (bit 255) set is refused;
* ``S`` < L;
* k = SHA-512(R || A || M), read as a 512-bit little-endian integer, mod L;
* valid iff [8][S]B == [8]R + [8][k]A.

Batches. n signatures (A_i, R_i, S_i, M_i) with independent random nonzero 128-bit z_i pass together iff

    [8]( -[(sum z_i S_i) mod L] B + sum [z_i] R_i + sum over distinct A of [(sum_{A_i = A} z_i k_i) mod L] A ) == O

which holds whenever every signature is valid, and otherwise with probability at most about 2^-127.
Equal keys share one term, so the cost is dominated by decoding each R_i (one exponentiation, about 255
field squarings, about 40% of the time), hashing (about 15%), and a multi-scalar multiplication with
128-bit scalars (Pippenger's buckets, about 40%): on the 2-core x86_64 build machine a batch of 256
under 1-3 keys costs about 10-13 µs per signature, against 160-200 µs for OpenSSL's single verification
(bench/ed25519_batch.py).
:func:`verify_many` verifies in batches and, when a batch fails, splits it in halves until the failing
signatures are found (sub-batches of at most 4 are checked one by one), so its answer is per signature.
The extension releases the GIL for the hashing and arithmetic: :func:`verify_many_threaded` spreads
batches over threads, one per core.

Cofactored or not. OpenSSL (the fallback, and :mod:`.keys`) checks the cofactorless equation
[S]B == R + [k]A, which implies the cofactored one: OpenSSL accepts a subset of what this module's C
code accepts. They differ only for signatures built on purpose with small-order (torsion) components in
R or A, which an honest signer never produces; the cofactored form is the one a batch can check
exactly, so single and batch verification here always agree. Without the extension the fallback
applies the strict checks it can make cheaply in Python (lengths, S < L, y < p for A and R) and then
OpenSSL's verification.

>>> from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
>>> from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
>>> key = Ed25519PrivateKey.from_private_bytes(bytes(32))
>>> public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
>>> signature = key.sign(b"hello")
>>> verify(public, signature, b"hello"), verify(public, signature, b"hellO")
(True, False)
>>> verify_many([(public, signature, b"hello"), (public, signature, b"hellO")])
[True, False]
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import Executor, ThreadPoolExecutor

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

try:
    from parley.line import _ed25519 as _native

    NATIVE: bool = True
    """Whether the C extension imported (else OpenSSL through ``cryptography``)."""
except ImportError:  # built without a C compiler
    NATIVE = False

__all__ = ["DEFAULT_BATCH", "NATIVE", "L", "P", "verify", "verify_many", "verify_many_threaded"]

P = 2**255 - 19
"""The field prime p."""
L = 2**252 + 27742317777372353535851937790883648493
"""The order of the base point (the prime-order subgroup)."""
DEFAULT_BATCH = 256
"""Signatures per batch: past about 64 the per-signature cost flattens (Pippenger's method)."""
_SINGLY = 4
"""A failing sub-batch of at most this many signatures is verified one by one."""
_Item = tuple[bytes, bytes, bytes]


def _cheap_checks(public: bytes, signature: bytes) -> bool:
    """The strict checks that need no curve arithmetic: lengths, S < L, y < p for A and R."""
    if len(public) != 32 or len(signature) != 64:
        return False
    if int.from_bytes(signature[32:], "little") >= L:
        return False
    mask = (1 << 255) - 1
    return int.from_bytes(public, "little") & mask < P and int.from_bytes(signature[:32], "little") & mask < P


def _verify_openssl(public: bytes, signature: bytes, message: bytes) -> bool:
    """The fallback: the cheap strict checks, then OpenSSL's (cofactorless) verification."""
    if not _cheap_checks(public, signature):
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def verify(public: bytes, signature: bytes, message: bytes) -> bool:
    """Whether ``signature`` (64 bytes) is ``public``'s (32 bytes) Ed25519 signature of ``message``.

    The cofactored, strict criterion of the module docstring (OpenSSL's without the extension).
    Wrong lengths give False. About 60 µs with the extension (GIL released), 180 µs without.
    """
    if NATIVE:
        return _native.verify(public, signature, message)
    return _verify_openssl(public, signature, message)


def _settle(items: Sequence[_Item], out: list[bool], lo: int, hi: int) -> None:
    """Fills ``out[lo:hi]`` with the validity of ``items[lo:hi]``: one batch, halved while it fails."""
    if hi - lo <= _SINGLY:
        for i in range(lo, hi):
            out[i] = _native.verify(*items[i])
        return
    publics, signatures, messages = zip(*items[lo:hi], strict=True)
    if _native.verify_batch(publics, signatures, messages, os.urandom(16 * (hi - lo))):
        out[lo:hi] = [True] * (hi - lo)
        return
    mid = (lo + hi) // 2
    _settle(items, out, lo, mid)
    _settle(items, out, mid, hi)


def verify_many(items: Sequence[tuple[bytes, bytes, bytes]], *, batch: int = DEFAULT_BATCH) -> list[bool]:
    """Per-item validity of ``(public, signature, message)`` triples, in order.

    With the extension: batches of ``batch`` signatures (random 128-bit coefficients from
    :func:`os.urandom`); a failing batch is bisected down to its failing items, which costs about
    three times a passing batch for one bad signature. Without it: :func:`verify` item by item.
    """
    if batch < 1:
        raise ValueError("batch must be at least 1")
    if not NATIVE:
        return [_verify_openssl(*item) for item in items]
    out = [False] * len(items)
    for lo in range(0, len(items), batch):
        _settle(items, out, lo, min(lo + batch, len(items)))
    return out


def verify_many_threaded(
    items: Sequence[tuple[bytes, bytes, bytes]],
    *,
    threads: int = 2,
    batch: int = DEFAULT_BATCH,
    executor: Executor | None = None,
) -> list[bool]:
    """:func:`verify_many` with its batches spread over ``threads`` threads (or over ``executor``).

    The extension releases the GIL while it hashes and computes, so on k cores k threads verify
    about k times as many signatures per second (the OpenSSL fallback gains nothing).
    """
    if batch < 1:
        raise ValueError("batch must be at least 1")
    if threads < 1:
        raise ValueError("threads must be at least 1")
    chunks = [items[lo : lo + batch] for lo in range(0, len(items), batch)]
    if executor is None and (threads == 1 or len(chunks) <= 1):
        return verify_many(items, batch=batch)

    def run(chunk: Sequence[_Item]) -> list[bool]:
        return verify_many(chunk, batch=batch)

    out: list[bool] = []
    if executor is not None:
        for part in executor.map(run, chunks):
            out.extend(part)
        return out
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="ed25519") as pool:
        for part in pool.map(run, chunks):
            out.extend(part)
    return out
