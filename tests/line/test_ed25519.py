"""Ed25519 verification (:mod:`parley.line.ed25519` and its C extension): SHA-512 and scalar reduction,
strict decoding, agreement with OpenSSL on honest signatures, the cofactored criterion on signatures
with small-order components (single and batch agree), batches, threads and the OpenSSL fallback.

A tiny pure-Python Ed25519 (extended coordinates over Python ints) builds the signatures OpenSSL
cannot: non-canonical encodings, torsion components.
"""

from __future__ import annotations

import hashlib
import os
import random
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parley.line import ed25519

try:
    from parley.line import _ed25519 as native

    HAVE_NATIVE = True
except ImportError:  # built without a C compiler: only the fallback's tests run
    HAVE_NATIVE = False
needs_native = pytest.mark.skipif(not HAVE_NATIVE, reason="the C extension parley.line._ed25519 is not built")

Item = tuple[bytes, bytes, bytes]
FAST = settings(deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow])

# -- a reference Ed25519 in Python (slow; a few dozen uses) ------------------------------------------

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, -1, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)
Point = tuple[int, int, int, int]  # extended coordinates (X, Y, Z, T): x = X/Z, y = Y/Z, x y = T/Z
IDENTITY: Point = (0, 1, 1, 0)


def ref_add(p: Point, q: Point) -> Point:
    """P + Q (add-2008-hwcd-3, complete on this curve, so it doubles too)."""
    x1, y1, z1, t1 = p
    x2, y2, z2, t2 = q
    a = (y1 - x1) * (y2 - x2) % P
    b = (y1 + x1) * (y2 + x2) % P
    c = 2 * D * t1 * t2 % P
    d = 2 * z1 * z2 % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def ref_mul(s: int, p: Point) -> Point:
    q = IDENTITY
    while s > 0:
        if s & 1:
            q = ref_add(q, p)
        p = ref_add(p, p)
        s >>= 1
    return q


def ref_neg(p: Point) -> Point:
    x, y, z, t = p
    return (-x % P, y, z, -t % P)


def ref_is_identity(p: Point) -> bool:
    x, y, z, _ = p
    return x % P == 0 and (y - z) % P == 0


def ref_decode(b: bytes) -> Point | None:
    """RFC 8032 5.1.3, strict."""
    if len(b) != 32:
        return None
    y = int.from_bytes(b, "little")
    sign, y = y >> 255, y & ((1 << 255) - 1)
    if y >= P:
        return None
    x2 = (y * y - 1) * pow(D * y * y + 1, -1, P) % P
    if x2 == 0:
        if sign:
            return None
        return (0, y, 1, 0)
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P:
        return None
    if x & 1 != sign:
        x = P - x
    return (x, y, 1, x * y % P)


def ref_encode(p: Point) -> bytes:
    x, y, z, _ = p
    zi = pow(z, -1, P)
    x, y = x * zi % P, y * zi % P
    return (y | (x & 1) << 255).to_bytes(32, "little")


def decoded(b: bytes) -> Point:
    point = ref_decode(b)
    assert point is not None
    return point


BASE = decoded(bytes.fromhex("58" + "66" * 31))


def challenge(r: bytes, a: bytes, m: bytes) -> int:
    return int.from_bytes(hashlib.sha512(r + a + m).digest(), "little") % L


def ref_sign(a: int, public: bytes, r_point: Point, r: int, message: bytes) -> bytes:
    """The signature R || S with R = r_point (whose discrete log to B is r, up to torsion) and
    S = r + k a: valid under the cofactored equation whenever public = [a]B plus torsion."""
    r_bytes = ref_encode(r_point)
    s = (r + challenge(r_bytes, public, message) * a) % L
    return r_bytes + s.to_bytes(32, "little")


@cache
def torsion8() -> Point:
    """A point of order 8 ([L] of a random curve point, until the order is 8)."""
    y = 2
    while True:
        p = ref_decode(y.to_bytes(32, "little"))
        if p is not None:
            t = ref_mul(L, p)
            if not ref_is_identity(ref_mul(4, t)):
                return t
        y += 1


def no_root_y() -> bytes:
    """An encoding whose y is < p but gives no x (x^2 = (y^2 - 1)/(d y^2 + 1) has no root)."""
    y = 2
    while ref_decode(y.to_bytes(32, "little")) is not None:
        y += 1
    return y.to_bytes(32, "little")


# -- signatures made by OpenSSL ----------------------------------------------------------------------


def public_bytes(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


@cache
def keys(n: int, seed: int) -> list[Ed25519PrivateKey]:
    rng = random.Random(seed)
    return [Ed25519PrivateKey.from_private_bytes(rng.randbytes(32)) for _ in range(n)]


@cache
def signed(n: int, nkeys: int, seed: int = 0, max_len: int = 2000) -> list[Item]:
    """n OpenSSL signatures under nkeys keys (key i % nkeys), messages of random lengths 0..max_len."""
    rng = random.Random(seed)
    ks = keys(nkeys, seed)
    out = []
    for i in range(n):
        key = ks[i % nkeys]
        message = rng.randbytes(rng.randint(0, max_len))
        out.append((public_bytes(key), key.sign(message), message))
    return out


def openssl_ok(item: Item) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(item[0]).verify(item[1], item[2])
    except (InvalidSignature, ValueError):
        return False
    return True


def flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def corrupt(item: Item, how: int, where: int) -> Item:
    """item with one bit flipped: how 0 = signature, 1 = message (a byte appended if empty), 2 = key."""
    public, signature, message = item
    if how == 0:
        return public, flip(signature, where % 512), message
    if how == 1:
        return (public, signature, flip(message, where % (8 * len(message))) if message else b"\0")
    return flip(public, where % 256), signature, message


def batch(items: list[Item], randomness: bytes | None = None) -> bool:
    publics, signatures, messages = ([item[i] for item in items] for i in range(3))
    return native.verify_batch(publics, signatures, messages, randomness or os.urandom(16 * len(items)))


# -- SHA-512 and scalars -----------------------------------------------------------------------------


@needs_native
@pytest.mark.parametrize(
    "n", [0, 1, 55, 56, 111, 112, 113, 127, 128, 129, 239, 240, 241, 255, 256, 1000, 4099]
)
def test_sha512_matches_hashlib_around_block_edges(n: int) -> None:
    data = random.Random(n).randbytes(n)
    assert native._sha512(data) == hashlib.sha512(data).digest()


@needs_native
@FAST
@given(st.binary(max_size=700))
def test_sha512_matches_hashlib(data: bytes) -> None:
    assert native._sha512(data) == hashlib.sha512(data).digest()


def sc_reduce(value: int) -> int:
    return int.from_bytes(native._sc_reduce(value.to_bytes(64, "little")), "little")


@needs_native
@pytest.mark.parametrize(
    "value", [0, 1, L - 1, L, L + 1, 2 * L - 1, 2 * L, 2**252, 2**253, 2**256 - 1, L * L, 2**511, 2**512 - 1]
)
def test_sc_reduce_edges(value: int) -> None:
    assert sc_reduce(value) == value % L


@needs_native
@settings(deadline=None, max_examples=300)
@given(st.integers(min_value=0, max_value=2**512 - 1))
def test_sc_reduce_matches_python(value: int) -> None:
    assert sc_reduce(value) == value % L


# -- decoding, encoding, group arithmetic ----------------------------------------------------------------

near_p = st.builds(
    lambda y, sign: (y | sign << 255).to_bytes(32, "little"),
    st.integers(min_value=0, max_value=40) | st.integers(min_value=P - 40, max_value=2**255 - 1),
    st.integers(min_value=0, max_value=1),
)


@needs_native
@settings(deadline=None, max_examples=300)
@given(st.binary(min_size=32, max_size=32) | near_p)
def test_decoding_matches_the_reference_and_round_trips(b: bytes) -> None:
    point = ref_decode(b)
    assert native._decompress_ok(b) == (point is not None)
    assert native._roundtrip(b) == (b if point is not None else None)


@needs_native
def test_strict_decoding_edge_encodings() -> None:
    y1 = (1).to_bytes(32, "little")  # the identity (x = 0)
    assert native._decompress_ok(y1)
    assert not native._decompress_ok(flip(y1, 255))  # x = 0 with the sign bit set
    y_minus_1 = (P - 1).to_bytes(32, "little")  # (0, -1), order 2
    assert native._decompress_ok(y_minus_1)
    assert not native._decompress_ok(flip(y_minus_1, 255))
    for y in range(19):  # y + p < 2^255: the non-canonical encodings
        canonical, non_canonical = y.to_bytes(32, "little"), (y + P).to_bytes(32, "little")
        assert native._decompress_ok(canonical) == (ref_decode(canonical) is not None)
        assert not native._decompress_ok(non_canonical)
        assert not native._decompress_ok(flip(non_canonical, 255))
    assert not native._decompress_ok(no_root_y())
    assert not native._decompress_ok(b"\1" * 31) and not native._decompress_ok(b"\1" * 33)


@needs_native
@settings(deadline=None, max_examples=25)
@given(st.lists(st.integers(min_value=1, max_value=L - 1), min_size=1, max_size=5), st.data())
def test_multi_scalar_multiplication_matches_the_reference(logs: list[int], data: st.DataObject) -> None:
    points = [ref_mul(x, BASE) for x in logs]
    if data.draw(st.booleans()):
        points[0] = ref_add(points[0], torsion8())
    scalars = data.draw(st.lists(st.integers(0, 2**256 - 1), min_size=len(points), max_size=len(points)))
    expected = IDENTITY
    for s, p in zip(scalars, points, strict=True):
        expected = ref_add(expected, ref_mul(s, p))
    encoded = b"".join(ref_encode(p) for p in points)
    packed = b"".join(s.to_bytes(32, "little") for s in scalars)
    assert native._msm(encoded, packed, 0) == ref_encode(expected)  # Straus
    assert native._msm(encoded, packed, 1) == ref_encode(expected)  # Pippenger
    with_base = IDENTITY
    for s, p in zip(scalars, [BASE, *points[1:]], strict=True):
        with_base = ref_add(with_base, ref_mul(s, p))
    assert native._msm(encoded, packed, 2) == ref_encode(with_base)  # s_0 on the base point's table


@needs_native
def test_pippenger_on_many_points_matches_straus() -> None:
    rng = random.Random(7)
    points = b"".join(ref_encode(ref_mul(rng.randrange(1, L), BASE)) for _ in range(70))
    for bits in (128, 256):
        scalars = b"".join(rng.getrandbits(bits).to_bytes(32, "little") for _ in range(70))
        assert native._msm(points, scalars, 0) == native._msm(points, scalars, 1)


# -- the RFC 8032 test vectors (section 7.1) ---------------------------------------------------------

RFC8032 = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
    (
        "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
        "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
        "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704",
    ),
]


@pytest.mark.parametrize(("seed", "public", "message", "signature"), RFC8032)
def test_rfc8032_vectors(seed: str, public: str, message: str, signature: str) -> None:
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed))
    # the vector as typed here must be what OpenSSL computes, or it proves nothing
    assert public_bytes(key).hex() == public
    assert key.sign(bytes.fromhex(message)).hex() == signature
    item = (bytes.fromhex(public), bytes.fromhex(signature), bytes.fromhex(message))
    assert ed25519.verify(*item)
    assert ed25519.verify_many([item, corrupt(item, 0, 3)], batch=2) == [True, False]


# -- agreement with OpenSSL on honest signatures -----------------------------------------------------


@needs_native
def test_openssl_signatures_verify_singly() -> None:
    items = signed(1500, 1500, seed=1)
    assert all(native.verify(*item) for item in items)
    assert all(ed25519.verify_many(items))
    assert all(openssl_ok(item) for item in items[:50])
    assert native.verify(*(bytearray(x) for x in items[0]))
    assert native.verify(*(memoryview(x) for x in items[0]))


@needs_native
@pytest.mark.parametrize("mode", ["one key", "three keys", "distinct keys"])
@pytest.mark.parametrize("size", [1, 2, 7, 63, 64, 300])
def test_batches_of_valid_signatures_pass_and_one_bad_one_fails_them(mode: str, size: int) -> None:
    nkeys = {"one key": 1, "three keys": 3, "distinct keys": size}[mode]
    items = signed(size, nkeys, seed=size, max_len=600)
    assert batch(items)
    rng = random.Random(size * 31 + nkeys)
    for _ in range(3):
        bad = list(items)
        i = rng.randrange(size)
        bad[i] = corrupt(bad[i], rng.randrange(3), rng.randrange(4096))
        assert not batch(bad)


@needs_native
def test_batch_pippenger_threshold_is_covered() -> None:
    threshold = native._PIPPENGER_MIN
    assert 1 < threshold <= 300  # the batch tests above run both multi-scalar methods
    for size in (threshold - 1, threshold):
        assert batch(signed(size, 3, seed=99, max_len=100))


@needs_native
def test_every_single_bit_flip_is_rejected() -> None:
    public, signature, message = signed(1, 1, seed=5, max_len=0)[0]
    message = b"twenty-four bytes, flip!"
    signature = keys(1, 5)[0].sign(message)
    assert native.verify(public, signature, message)
    for bit in range(512):
        assert not native.verify(public, flip(signature, bit), message), bit
    for bit in range(256):
        assert not native.verify(flip(public, bit), signature, message), bit
    for bit in range(8 * len(message)):
        assert not native.verify(public, signature, flip(message, bit)), bit


@needs_native
@FAST
@given(
    st.lists(
        st.tuples(st.integers(0, 149), st.integers(0, 2), st.integers(0, 10**6)),
        max_size=6,
        unique_by=lambda c: c[0],
    )
)
def test_verify_many_names_exactly_the_bad_items(corruptions: list[tuple[int, int, int]]) -> None:
    items = list(signed(150, 3, seed=11, max_len=300))
    bad = set()
    for index, how, where in corruptions:
        items[index] = corrupt(items[index], how, where)
        bad.add(index)
    expected = [i not in bad for i in range(len(items))]
    assert ed25519.verify_many(items, batch=64) == expected
    assert ed25519.verify_many(items[:40], batch=40) == expected[:40]


@needs_native
@FAST
@given(
    st.lists(st.integers(0, 399), min_size=1, max_size=130),
    st.lists(st.tuples(st.integers(0, 129), st.integers(0, 2), st.integers(0, 10**6)), max_size=5),
)
def test_random_batches_agree_with_openssl(picks: list[int], corruptions: list[tuple[int, int, int]]) -> None:
    pool = signed(400, 5, seed=17, max_len=150)  # key i % 5: random picks make random key groupings
    items = [pool[i] for i in picks]
    for index, how, where in corruptions:
        if index < len(items):
            items[index] = corrupt(items[index], how, where)
    expected = [openssl_ok(item) for item in items]
    assert ed25519.verify_many(items, batch=50) == expected
    assert batch(items) == all(expected)


# -- strict decoding in signatures -------------------------------------------------------------------


def reference_key(seed: int) -> tuple[int, bytes]:
    a = random.Random(seed).randrange(1, L)
    return a, ref_encode(ref_mul(a, BASE))


def with_valid(bad: Item, n: int = 6) -> list[Item]:
    """bad among n - 1 valid OpenSSL signatures (in the middle)."""
    items = list(signed(n - 1, 2, seed=3, max_len=50))
    return [*items[: n // 2], bad, *items[n // 2 :]]


def rejected_everywhere(item: Item) -> None:
    assert not native.verify(*item)
    assert not batch([item])
    assert not batch(with_valid(item))
    assert ed25519.verify_many(with_valid(item), batch=8) == [True] * 3 + [False] + [True] * 2


def accepted_everywhere(item: Item) -> None:
    assert native.verify(*item)
    assert batch([item])
    assert batch(with_valid(item))
    for n in (2, 7, 64, 300):
        assert batch([*signed(n - 1, 3, seed=n, max_len=100), item])
    assert ed25519.verify_many(with_valid(item), batch=8) == [True] * 6


@needs_native
def test_non_canonical_s_is_rejected() -> None:
    public, signature, message = signed(1, 1, seed=21)[0]
    s = int.from_bytes(signature[32:], "little")
    item = (public, signature[:32] + (s + L).to_bytes(32, "little"), message)
    rejected_everywhere(item)
    assert not ed25519._verify_openssl(*item)


@needs_native
def test_non_canonical_r_is_rejected() -> None:
    a, public = reference_key(1)
    message = b"R is the identity"
    # R = O (r = 0), so S = k a; canonically encoded it verifies ...
    accepted_everywhere((public, ref_sign(a, public, IDENTITY, 0, message), message))
    # ... as y = p + 1 it must not, though a lenient decoder would read the same point
    r_bytes = (P + 1).to_bytes(32, "little")
    s = challenge(r_bytes, public, message) * a % L
    rejected_everywhere((public, r_bytes + s.to_bytes(32, "little"), message))
    assert not ed25519._verify_openssl(public, r_bytes + s.to_bytes(32, "little"), message)


@needs_native
def test_non_canonical_a_is_rejected() -> None:
    message = b"A has small order"
    r = 12345
    r_point = ref_mul(r, BASE)
    for y in (1, 0):  # the identity; (sqrt(-1) x, 0), of order 4: [8][k]A = O for every k
        canonical = y.to_bytes(32, "little")
        non_canonical = (y + P).to_bytes(32, "little")
        assert ref_decode(canonical) is not None
        accepted_everywhere((canonical, ref_sign(0, canonical, r_point, r, message), message))
        rejected_everywhere((non_canonical, ref_sign(0, non_canonical, r_point, r, message), message))


@needs_native
def test_negative_zero_x_is_rejected() -> None:
    a, public = reference_key(2)
    message = b"x = 0, sign 1"
    for y in (1, P - 1):  # the identity and (0, -1), of order 2: [8]R = O and [8][k]A = O
        negative_zero = (y | 1 << 255).to_bytes(32, "little")
        s = challenge(negative_zero, public, message) * a % L  # what a lenient decoder accepts as R
        rejected_everywhere((public, negative_zero + s.to_bytes(32, "little"), message))
        forged = ref_sign(0, negative_zero, ref_mul(7, BASE), 7, message)  # ... or as A
        rejected_everywhere((negative_zero, forged, message))


@needs_native
def test_no_square_root_is_rejected() -> None:
    a, public = reference_key(3)
    message = b"no root"
    bad = no_root_y()
    s = challenge(bad, public, message) * a % L
    rejected_everywhere((public, bad + s.to_bytes(32, "little"), message))
    rejected_everywhere((bad, ref_sign(0, bad, ref_mul(9, BASE), 9, message), message))


# -- the cofactored criterion: torsion components, single and batch agree ------------------------------


@needs_native
@pytest.mark.parametrize("torsion_multiple", [1, 2, 3, 4, 5, 7])
def test_small_order_component_in_r_is_accepted_single_and_batch(torsion_multiple: int) -> None:
    a, public = reference_key(10 + torsion_multiple)
    rng = random.Random(torsion_multiple)
    r = rng.randrange(1, L)
    r_point = ref_add(ref_mul(r, BASE), ref_mul(torsion_multiple, torsion8()))
    message = rng.randbytes(100)
    item = (public, ref_sign(a, public, r_point, r, message), message)
    accepted_everywhere(item)
    # the cofactorless equation of OpenSSL refuses it: [S]B = R - T + [k]A
    assert not openssl_ok(item)
    # and the same construction without the torsion is what OpenSSL accepts too
    plain = (public, ref_sign(a, public, ref_mul(r, BASE), r, message), message)
    assert openssl_ok(plain) and native.verify(*plain)


@needs_native
def test_small_order_component_in_a_is_accepted_single_and_batch() -> None:
    rng = random.Random(8)
    a = rng.randrange(1, L)
    public = ref_encode(ref_add(ref_mul(a, BASE), torsion8()))
    items = []
    for i in range(5):  # several signatures under the one key: grouped into one scalar in a batch
        r = rng.randrange(1, L)
        message = rng.randbytes(i * 10)
        items.append((public, ref_sign(a, public, ref_mul(r, BASE), r, message), message))
    for item in items:
        accepted_everywhere(item)
    assert batch(items + list(signed(20, 2, seed=4, max_len=10)))
    bad = list(items)
    bad[2] = corrupt(bad[2], 1, 0)
    assert not batch(bad)
    assert ed25519.verify_many(bad, batch=5) == [True, True, False, True, True]


# -- the batch API -------------------------------------------------------------------------------------


@needs_native
def test_verify_batch_arguments() -> None:
    items = signed(4, 2, seed=6, max_len=20)
    publics, signatures, messages = ([item[i] for item in items] for i in range(3))
    assert native.verify_batch([], [], [], b"")
    with pytest.raises(ValueError, match="length"):
        native.verify_batch(publics, signatures[:3], messages, os.urandom(64))
    with pytest.raises(ValueError, match="randomness"):
        native.verify_batch(publics, signatures, messages, os.urandom(63))
    assert not native.verify_batch(
        publics, [*signatures[:3], signatures[3] + b"\0"], messages, os.urandom(64)
    )
    assert not native.verify_batch([*publics[:3], publics[3][:31]], signatures, messages, os.urandom(64))
    # buffers of any kind; zero coefficients are replaced by one
    as_views = [memoryview(s) for s in signatures]
    assert native.verify_batch(tuple(bytearray(p) for p in publics), as_views, messages, bytes(64))
    assert not native.verify_batch(publics, signatures, [*messages[:3], messages[3] + b"!"], bytes(64))
    with pytest.raises(TypeError):
        native.verify_batch(publics, signatures, [*messages[:3], "text"], bytes(64))  # type: ignore[list-item]


def test_verify_wrong_lengths_are_false() -> None:
    public, signature, message = signed(1, 1, seed=12, max_len=10)[0]
    assert ed25519.verify(public, signature, message)
    assert not ed25519.verify(public[:31], signature, message)
    assert not ed25519.verify(public, signature + b"\0", message)
    assert not ed25519.verify(b"", b"", message)
    with pytest.raises(ValueError):
        ed25519.verify_many([], batch=0)


# -- threads ---------------------------------------------------------------------------------------------


@needs_native
def test_two_threads_verify_batches_concurrently() -> None:
    good = signed(300, 3, seed=13, max_len=400)
    bad = list(good)
    bad[150] = corrupt(bad[150], 0, 100)
    results: dict[str, list[bool]] = {"good": [], "bad": []}
    barrier = threading.Barrier(2)

    def work(name: str, items: list[Item]) -> None:
        barrier.wait()
        for _ in range(4):
            results[name].append(batch(items))

    threads = [threading.Thread(target=work, args=(n, i)) for n, i in (("good", good), ("bad", bad))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {"good": [True] * 4, "bad": [False] * 4}


def spinner_coverage(call: Callable[[], object]) -> float:
    """The share of ``call``'s duration over which another Python thread kept running."""
    stamps: list[float] = []
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            stamps.append(time.perf_counter())

    switch = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)
    spinner = threading.Thread(target=spin)
    spinner.start()
    try:
        time.sleep(0.005)
        start = time.perf_counter()
        call()
        end = time.perf_counter()
    finally:
        stop.set()
        spinner.join()
        sys.setswitchinterval(switch)
    inside = [t for t in stamps if start < t < end]
    return (inside[-1] - inside[0]) / (end - start) if inside else 0.0


@needs_native
def test_the_gil_is_released_during_a_batch() -> None:
    items = signed(3000, 3, seed=16, max_len=100)
    # about 40 ms in C: were the GIL held, the spinner could run 0.5 ms of it at most
    assert spinner_coverage(lambda: batch(items)) > 0.5


def test_verify_many_threaded_matches_verify_many() -> None:
    items = list(signed(700, 3, seed=14, max_len=200))
    for i in (0, 333, 699):
        items[i] = corrupt(items[i], i % 3, i)
    expected = [i not in (0, 333, 699) for i in range(700)]
    assert ed25519.verify_many(items, batch=100) == expected
    assert ed25519.verify_many_threaded(items, threads=2, batch=100) == expected
    with ThreadPoolExecutor(3) as pool:
        assert ed25519.verify_many_threaded(items, batch=64, executor=pool) == expected
    assert ed25519.verify_many_threaded(items[:10], threads=1) == expected[:10]


# -- the OpenSSL fallback ------------------------------------------------------------------------------


def test_fallback_gives_the_same_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    items = list(signed(120, 3, seed=15, max_len=300))
    rng = random.Random(15)
    for i in rng.sample(range(120), 12):
        items[i] = corrupt(items[i], rng.randrange(3), rng.randrange(10**6))
    s = int.from_bytes(items[5][1][32:], "little")
    items[5] = (items[5][0], items[5][1][:32] + (s + L).to_bytes(32, "little"), items[5][2])
    items[6] = (items[6][0][:31], items[6][1], items[6][2])
    items[7] = (items[7][0], items[7][1][:63], items[7][2])

    def check() -> list[bool]:
        return ed25519.verify_many(items, batch=32)

    answers = check()
    assert answers == [openssl_ok(item) and ed25519._cheap_checks(item[0], item[1]) for item in items]
    monkeypatch.setattr(ed25519, "NATIVE", False)
    assert check() == answers
    assert ed25519.verify_many_threaded(items, batch=32) == answers
    assert [ed25519.verify(*item) for item in items] == answers
