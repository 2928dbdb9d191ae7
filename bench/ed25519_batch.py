#!/usr/bin/env python3
"""Ed25519 verification speed: OpenSSL against the C extension, single and batch, and threads.

Prints microseconds per signature (messages of 400 bytes) for OpenSSL's single verification (through
``cryptography``, public keys already loaded), the extension's single verification, and its batch
verification at 16, 64, 256 and 1024 signatures under one key, three keys and all-distinct keys; then
the wall-clock and CPU seconds of :func:`parley.line.ed25519.verify_many_threaded` on ``--n``
signatures (three keys) with 1 and 2 threads. Each figure is the best of ``--repeats`` runs (the
median in brackets): shared machines are noisy, and the best run is the one least disturbed.
Targets: batches of >= 256 under 1-3 keys at most ~15 µs per signature on one core; 100,000
signatures in <= 1 s of wall-clock time on 2 threads.

    python bench/ed25519_batch.py
    python bench/ed25519_batch.py --n 20000 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from parley.line import ed25519

try:
    from parley.line import _ed25519 as native

    HAVE_NATIVE = True
except ImportError:
    HAVE_NATIVE = False

Item = tuple[bytes, bytes, bytes]
MESSAGE_BYTES = 400


def signatures(n: int, nkeys: int) -> list[Item]:
    """n signatures of random 400-byte messages, by nkeys fresh keys in turn."""
    keys = [Ed25519PrivateKey.generate() for _ in range(nkeys)]
    publics = [k.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw) for k in keys]
    out = []
    for i in range(n):
        message = os.urandom(MESSAGE_BYTES)
        out.append((publics[i % nkeys], keys[i % nkeys].sign(message), message))
    return out


def timed(run: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Best and median wall-clock seconds of ``run`` over ``repeats`` runs."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def batch_run(verify_batch: Callable[..., bool], items: list[Item], rounds: int) -> Callable[[], None]:
    """``rounds`` batch verifications of ``items``, fresh coefficients each time."""
    publics, sigs, messages = (list(column) for column in zip(*items, strict=True))

    def run() -> None:
        for _ in range(rounds):
            assert verify_batch(publics, sigs, messages, os.urandom(16 * len(items)))

    return run


def per_signature(seconds: tuple[float, float], n: int) -> str:
    best, median = seconds
    return f"{best / n * 1e6:8.2f} ({median / n * 1e6:6.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=100_000, help="signatures for the threaded run")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"C extension: {'yes' if HAVE_NATIVE else 'NO (OpenSSL fallback)'}; {os.cpu_count()} CPUs")
    print("µs per signature, best (median)")

    sample = signatures(2000, 3)
    loaded = [(Ed25519PublicKey.from_public_bytes(p), s, m) for p, s, m in sample]

    def openssl() -> None:
        for key, signature, message in loaded:
            key.verify(signature, message)

    print(f"{'OpenSSL single':36} {per_signature(timed(openssl, args.repeats), len(loaded))}")
    if HAVE_NATIVE:

        def single() -> None:
            for item in sample:
                assert native.verify(*item)

        print(f"{'extension single':36} {per_signature(timed(single, args.repeats), len(sample))}")
        for mode, nkeys in (("1 key", 1), ("3 keys", 3), ("distinct keys", 0)):
            for size in (16, 64, 256, 1024):
                items = signatures(size, nkeys or size)
                rounds = max(1, 2048 // size)
                run = batch_run(native.verify_batch, items, rounds)
                label = f"extension batch {size:5} {mode}"
                print(f"{label:36} {per_signature(timed(run, args.repeats), size * rounds)}")

    many = signatures(args.n, 3)
    print(f"\nverify_many_threaded, {args.n:,} signatures, 3 keys: wall s best (median), CPU s of the best")
    for threads in (1, 2):
        walls, cpus = [], []
        for _ in range(max(1, min(args.repeats, 3))):
            cpu, start = time.process_time(), time.perf_counter()
            ok = ed25519.verify_many_threaded(many, threads=threads)
            walls.append(time.perf_counter() - start)
            cpus.append(time.process_time() - cpu)
            assert all(ok)
        best = walls.index(min(walls))
        print(
            f"{threads} thread{'s' if threads > 1 else ' '}  {walls[best]:6.3f} ({statistics.median(walls):6.3f})"
            f"   CPU {cpus[best]:6.3f}"
        )


if __name__ == "__main__":
    main()
