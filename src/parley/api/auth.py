"""Authentication of API calls: verify the caller's JWT access token and check its scopes.

ASTM F3548-21 USSs call the DSS with OAuth 2.0 bearer tokens issued by an authorization server the
DSS trusts. This module checks such a token against a set of accepted public keys (PEM files, a JWKS
file and, for development only, Parley's own dev key pair) and yields a :class:`Principal`; the HTTP
layer maps :class:`AuthenticationError` to 401 and :class:`AuthorizationError` to 403.

Nothing here depends on FastAPI.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from parley.devtokens import ensure_dev_keys

if TYPE_CHECKING:
    from parley.config import Settings

#: The only signature algorithms accepted (F3548 / InterUSS practice). Never ``none`` or HMAC.
ACCEPTED_ALGORITHMS: Final = ("RS256", "ES256")

#: Tokens longer than this are rejected before any parsing.
MAX_TOKEN_LENGTH: Final = 16 * 1024

_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----.+?-----END \1-----", re.DOTALL)

VerificationKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


# -- results and errors ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller: ``sub`` is the USS identity (the F3548 ``manager``)."""

    sub: str
    scopes: frozenset[str]


class AuthenticationError(Exception):
    """The caller could not be authenticated (HTTP 401)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AuthorizationError(Exception):
    """The caller is authenticated but lacks a required scope (HTTP 403)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# -- keys ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AcceptedKey:
    """One key that may sign accepted tokens; ``source`` says where it came from (for messages)."""

    key: VerificationKey
    kid: str | None
    source: str

    @property
    def algorithm(self) -> str:
        """The JWS algorithm this key verifies."""
        return "RS256" if isinstance(self.key, rsa.RSAPublicKey) else "ES256"


@dataclass(frozen=True, slots=True)
class KeySet:
    """The public keys whose signatures Parley accepts."""

    keys: tuple[AcceptedKey, ...]

    @classmethod
    def from_settings(cls, settings: Settings, *, allow_empty: bool = False) -> KeySet:
        """Load every key the settings name; with ``dev_auth``, also the (created if missing) dev key.

        Raises ``ValueError`` if a file is missing, unreadable or holds no usable key, and (unless
        ``allow_empty``) if no key at all is configured, since then no call could ever be authenticated.
        """
        keys: list[AcceptedKey] = []
        for path in settings.public_key_files:
            keys.extend(load_pem_keys(path))
        if settings.jwks_file is not None:
            keys.extend(load_jwks(settings.jwks_file))
        if settings.dev_auth:
            _, public_path = ensure_dev_keys(settings.dev_key_dir)
            keys.extend(load_pem_keys(public_path))
        if not keys and not allow_empty:
            raise ValueError(
                "No access-token verification keys configured: set public_key_files and/or jwks_file "
                "(or, for development only, dev_auth)"
            )
        return cls(keys=tuple(keys))

    def candidates(self, *, kid: str | None, algorithm: str) -> list[AcceptedKey]:
        """Keys to try for a token signed with ``algorithm`` and (maybe) naming ``kid``.

        When the token names a ``kid`` and some keys have kids, the keys with that kid come first and
        kid-less keys (PEM files, the dev key) after them; keys with another kid are never tried.
        Otherwise every key of the right type is tried.
        """
        fitting = [k for k in self.keys if k.algorithm == algorithm]
        if kid is not None and any(k.kid is not None for k in self.keys):
            return [k for k in fitting if k.kid == kid] + [k for k in fitting if k.kid is None]
        return fitting


def load_pem_keys(path: Path) -> list[AcceptedKey]:
    """Load every public key (``PUBLIC KEY``, ``RSA PUBLIC KEY``) and certificate in a PEM file."""
    data = _read(path)
    blocks = list(_PEM_BLOCK.finditer(data))
    if not blocks:
        raise ValueError(f"Public key file {path} holds no PEM block")
    return [_load_pem_block(m.group(1).decode("ascii"), m.group(0), path=path) for m in blocks]


def _load_pem_block(label: str, block: bytes, *, path: Path) -> AcceptedKey:
    if "PRIVATE KEY" in label:
        raise ValueError(f"Public key file {path} holds a private key; give the public key instead")
    if label not in ("CERTIFICATE", "PUBLIC KEY", "RSA PUBLIC KEY"):
        raise ValueError(f"Public key file {path} holds an unsupported PEM block `{label}`")
    try:
        if label == "CERTIFICATE":
            public_key: object = x509.load_pem_x509_certificate(block).public_key()
        else:
            public_key = serialization.load_pem_public_key(block)
    except ValueError as exc:
        raise ValueError(f"Public key file {path}: cannot load its `{label}` block: {exc}") from exc
    return AcceptedKey(key=_check_key(public_key, source=str(path)), kid=None, source=str(path))


def load_jwks(path: Path) -> list[AcceptedKey]:
    """Load the RSA and EC P-256 signature keys of a JWKS file (other kinds of key are skipped)."""
    data = _read(path)
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"JWKS file {path} is not valid JSON: {exc}") from exc
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise ValueError(f"JWKS file {path} must be a JSON object with a `keys` list")
    keys: list[AcceptedKey] = []
    for index, jwk in enumerate(document["keys"]):
        where = f"JWKS file {path}, key #{index}"
        if not isinstance(jwk, Mapping):
            raise ValueError(f"{where} is not a JSON object")
        kty = jwk.get("kty")
        if kty not in ("RSA", "EC") or jwk.get("use", "sig") != "sig":
            continue
        if kty == "EC" and jwk.get("crv") != "P-256":
            continue
        if "alg" in jwk and jwk["alg"] not in ACCEPTED_ALGORITHMS:
            continue
        kid = jwk.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise ValueError(f"{where}: `kid` must be a string")
        try:
            loaded: object = jwt.PyJWK(dict(jwk)).key
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError, KeyError) as exc:
            raise ValueError(f"{where} cannot be loaded: {exc}") from exc
        if isinstance(loaded, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            loaded = loaded.public_key()
        source = f"{path}#{kid}" if kid is not None else f"{path}#{index}"
        keys.append(AcceptedKey(key=_check_key(loaded, source=where), kid=kid, source=source))
    if not keys:
        raise ValueError(f"JWKS file {path} holds no RSA or EC P-256 signature key")
    return keys


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ValueError(f"Cannot read key file {path}: {exc.strerror or exc}") from exc


def _check_key(key: object, *, source: str) -> VerificationKey:
    if isinstance(key, rsa.RSAPublicKey):
        return key
    if isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise ValueError(f"{source}: EC key on curve {key.curve.name} is not supported (need P-256)")
        return key
    raise ValueError(f"{source}: unsupported key type {type(key).__name__} (need RSA or EC P-256)")


# -- tokens ----------------------------------------------------------------------------------------


def bearer_token(authorization_header: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header value."""
    if authorization_header is None or not authorization_header.strip():
        raise AuthenticationError("Missing access token")
    parts = authorization_header.split()
    if len(parts) != 2 or parts[0].lower() != "bearer":
        raise AuthenticationError("Authorization header must be `Bearer <token>`")
    return parts[1]


#: Verified tokens remembered per verifier (the cache is emptied when full).
_VERIFIED_CACHE_SIZE: Final = 10_000


@dataclass(frozen=True, slots=True)
class _Verified:
    """A token whose signature and claims were checked once."""

    principal: Principal
    exp: float
    nbf: float | None
    aud: object


def _optional_number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass(frozen=True, slots=True)
class TokenVerifier:
    """Verifies access tokens against a :class:`KeySet`.

    ``audiences`` are the accepted ``aud`` values; when empty, ``aud`` must instead name the host the
    request was addressed to (as F3548 USSs address tokens to the DSS's host name).
    """

    keys: KeySet
    audiences: Sequence[str]
    leeway_s: float = 30
    #: Tokens whose signature was verified, with what later calls must still check (a USS reuses
    #: one token for many calls; checking an RSA signature again for the same bytes is waste).
    _verified: dict[str, _Verified] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "audiences", tuple(self.audiences))
        if self.leeway_s < 0:
            raise ValueError("leeway_s must not be negative")

    def verify(self, token: str, *, request_host: str | None) -> Principal:
        """Check ``token``'s signature and claims; return the caller, or raise AuthenticationError."""
        if not token:
            raise AuthenticationError("Missing access token")
        if len(token) > MAX_TOKEN_LENGTH:
            raise AuthenticationError("Access token is too large")
        cached = self._cached(token, request_host)
        if cached is not None:
            return cached
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise AuthenticationError(f"Access token could not be decoded: {exc}") from exc

        algorithm = header.get("alg")
        if algorithm not in ACCEPTED_ALGORITHMS:
            raise AuthenticationError(
                f"Access token algorithm `{algorithm}` is not accepted "
                f"(expected one of: {', '.join(ACCEPTED_ALGORITHMS)})"
            )
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise AuthenticationError("Access token `kid` header must be a string")

        claims = self._decode(token, algorithm=algorithm, kid=kid)
        self._check_audience(claims.get("aud"), request_host=request_host)

        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub.strip():
            raise AuthenticationError("Access token `sub` claim must be a non-empty string")
        principal = Principal(sub=sub, scopes=_scopes(claims))
        if len(self._verified) >= _VERIFIED_CACHE_SIZE:
            self._verified.clear()
        self._verified[token] = _Verified(
            principal, float(claims["exp"]), _optional_number(claims.get("nbf")), claims.get("aud")
        )
        return principal

    def _cached(self, token: str, request_host: str | None) -> Principal | None:
        """The caller of an already verified token, after the checks that depend on the moment
        (expiry, not-before) and on the request (audience); None when not verified before."""
        seen = self._verified.get(token)
        if seen is None:
            return None
        now = time.time()
        if now > seen.exp + self.leeway_s:
            self._verified.pop(token, None)
            raise AuthenticationError("Access token expired")
        if seen.nbf is not None and now < seen.nbf - self.leeway_s:
            raise AuthenticationError("Access token is not yet valid")
        self._check_audience(seen.aud, request_host=request_host)
        return seen.principal

    def _decode(self, token: str, *, algorithm: str, kid: str | None) -> dict[str, Any]:
        candidates = self.keys.candidates(kid=kid, algorithm=algorithm)
        if not candidates:
            named = f" with key id `{kid}`" if kid is not None else ""
            raise AuthenticationError(f"Access token is signed{named} by a key that is not accepted")
        for candidate in candidates:
            try:
                claims: dict[str, Any] = jwt.decode(
                    token,
                    key=candidate.key,
                    algorithms=[algorithm],
                    options={"require": ["exp", "sub", "aud"], "verify_aud": False},
                    leeway=self.leeway_s,
                )
            except jwt.InvalidSignatureError:
                continue
            except jwt.ExpiredSignatureError as exc:
                raise AuthenticationError("Access token expired") from exc
            except jwt.ImmatureSignatureError as exc:
                raise AuthenticationError("Access token is not yet valid") from exc
            except jwt.MissingRequiredClaimError as exc:
                raise AuthenticationError(f"Access token is missing the `{exc.claim}` claim") from exc
            except jwt.InvalidTokenError as exc:
                raise AuthenticationError(f"Access token is invalid: {exc}") from exc
            return claims
        raise AuthenticationError("Access token signature does not match any accepted key")

    def _check_audience(self, aud: object, *, request_host: str | None) -> None:
        if isinstance(aud, str):
            presented = [aud]
        elif isinstance(aud, list) and aud and all(isinstance(a, str) for a in aud):
            presented = [str(a) for a in aud]
        else:
            raise AuthenticationError("Access token `aud` claim must be a string or a list of strings")

        if self.audiences:
            if any(a in self.audiences for a in presented):
                return
            expected = ", ".join(self.audiences)
        else:
            if request_host is None or not _normalise_host(request_host):
                raise AuthenticationError(
                    "Access token audience cannot be checked: the request names no host"
                )
            host = _normalise_host(request_host)
            if any(_normalise_host(a) == host for a in presented):
                return
            expected = host
        raise AuthenticationError(
            f"Access token audience `{' '.join(presented)}` is not accepted (expected one of: {expected})"
        )


def _normalise_host(host: str) -> str:
    """``host`` without port, trailing dot or case: ``Example.COM.:8082`` -> ``example.com``."""
    host = host.strip()
    if host.startswith("["):  # [IPv6]:port
        end = host.find("]")
        host = host[1:end] if end != -1 else host[1:]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".").lower()


def _scopes(claims: Mapping[str, Any]) -> frozenset[str]:
    """Scopes from ``scope`` (space-separated string or list) or ``scp`` (list or string)."""
    scopes: set[str] = set()
    for name in ("scope", "scp"):
        value = claims.get(name)
        if value is None:
            continue
        if isinstance(value, str):
            scopes.update(value.split())
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            scopes.update(str(v) for v in value)
        else:
            raise AuthenticationError(f"Access token `{name}` claim must be a string or a list of strings")
    return frozenset(scopes)


# -- scopes ----------------------------------------------------------------------------------------


def require_scopes(principal: Principal, alternatives: Sequence[frozenset[str]]) -> None:
    """Pass if ``principal`` holds every scope of at least one of ``alternatives``.

    This is the meaning of an OpenAPI ``security`` list: any one requirement satisfies it, and a
    requirement needs all of its scopes. Raises :class:`AuthorizationError` otherwise.
    """
    if not alternatives:
        raise ValueError("require_scopes needs at least one alternative scope set")
    if any(required <= principal.scopes for required in alternatives):
        return
    raise AuthorizationError(_missing_message(alternatives))


def _missing_message(alternatives: Iterable[frozenset[str]]) -> str:
    sets = [sorted(a) for a in alternatives]
    if all(len(s) == 1 for s in sets):
        names = [s[0] for s in sets]
        if len(names) == 1:
            return f"Missing required scope: {names[0]}"
        return f"Missing required scope: one of {', '.join(names)}"
    described = [" and ".join(s) for s in sets]
    if len(described) == 1:
        return f"Missing required scopes: {described[0]}"
    return f"Missing required scopes: one of ({'), ('.join(described)})"
