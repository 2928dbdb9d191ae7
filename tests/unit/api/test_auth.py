"""Access-token authentication and scope checks (parley.api.auth)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from parley.api.auth import (
    AuthenticationError,
    AuthorizationError,
    KeySet,
    Principal,
    TokenVerifier,
    bearer_token,
    require_scopes,
)
from parley.config import Settings
from parley.devtokens import mint_token

SC = "utm.strategic_coordination"
CMSA = "utm.conformance_monitoring_sa"
AUD = "dss.example.com"


# -- helpers ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def private_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": "test-issuer",
        "sub": "uss1",
        "aud": AUD,
        "scope": f"{SC} {CMSA}",
        "iat": now,
        "exp": now + 600,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(key: Any, algorithm: str = "RS256", kid: str | None = None, **overrides: Any) -> str:
    headers = {"kid": kid} if kid is not None else None
    return jwt.encode(claims(**overrides), key, algorithm=algorithm, headers=headers)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def forge(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"
    return f"{signing_input}.{b64url(signature)}"


def verifier_for(tmp_path: Path, *keys: Any, audiences: tuple[str, ...] = (AUD,)) -> TokenVerifier:
    files = [write(tmp_path / f"key{i}.pem", public_pem(k)) for i, k in enumerate(keys)]
    return TokenVerifier(KeySet.from_settings(Settings(public_key_files=files)), audiences)


def rejected(verifier: TokenVerifier, token: str, request_host: str | None = None) -> str:
    with pytest.raises(AuthenticationError) as info:
        verifier.verify(token, request_host=request_host)
    return info.value.message


# -- valid tokens ----------------------------------------------------------------------------------


def test_valid_rs256_token_yields_principal(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    verifier = verifier_for(tmp_path, rsa_key)
    principal = verifier.verify(sign(rsa_key), request_host=None)
    assert principal == Principal(sub="uss1", scopes=frozenset({SC, CMSA}))


def test_valid_es256_token_yields_principal(tmp_path: Path, ec_key: ec.EllipticCurvePrivateKey) -> None:
    verifier = verifier_for(tmp_path, ec_key)
    principal = verifier.verify(sign(ec_key, "ES256", scope=SC), request_host=None)
    assert principal.sub == "uss1"
    assert principal.scopes == frozenset({SC})


def test_scopes_from_list_in_scope_or_scp(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    verifier = verifier_for(tmp_path, rsa_key)
    assert verifier.verify(sign(rsa_key, scope=[SC]), request_host=None).scopes == {SC}
    assert verifier.verify(sign(rsa_key, scope=None, scp=[CMSA]), request_host=None).scopes == {CMSA}
    assert verifier.verify(sign(rsa_key, scope=None), request_host=None).scopes == frozenset()


def test_malformed_scope_claim_rejected(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    verifier = verifier_for(tmp_path, rsa_key)
    assert "`scope` claim" in rejected(verifier, sign(rsa_key, scope=42))


def test_key_from_certificate_pem(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "auth.example.com")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(rsa_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(rsa_key, hashes.SHA256())
    )
    path = write(tmp_path / "cert.pem", cert.public_bytes(serialization.Encoding.PEM))
    verifier = TokenVerifier(KeySet.from_settings(Settings(public_key_files=[path])), [AUD])
    assert verifier.verify(sign(rsa_key), request_host=None).sub == "uss1"


def test_several_keys_in_one_pem_file(
    tmp_path: Path, rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    path = write(tmp_path / "both.pem", public_pem(rsa_key) + public_pem(ec_key))
    verifier = TokenVerifier(KeySet.from_settings(Settings(public_key_files=[path])), [AUD])
    assert verifier.verify(sign(rsa_key), request_host=None).sub == "uss1"
    assert verifier.verify(sign(ec_key, "ES256"), request_host=None).sub == "uss1"


# -- JWKS ------------------------------------------------------------------------------------------


def jwks_file(tmp_path: Path, entries: list[tuple[str, Any]]) -> Path:
    keys = []
    for kid, key in entries:
        if isinstance(key, rsa.RSAPrivateKey):
            jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
        else:
            jwk = jwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
        keys.append({**jwk, "kid": kid, "use": "sig"})
    keys.append({"kty": "oct", "k": "c2VjcmV0", "kid": "symmetric"})  # skipped: not a public key
    return write(tmp_path / "jwks.json", json.dumps({"keys": keys}).encode())


def test_jwks_selects_key_by_kid(
    tmp_path: Path,
    rsa_key: rsa.RSAPrivateKey,
    other_rsa_key: rsa.RSAPrivateKey,
    ec_key: ec.EllipticCurvePrivateKey,
) -> None:
    path = jwks_file(tmp_path, [("a", rsa_key), ("b", other_rsa_key), ("e", ec_key)])
    keys = KeySet.from_settings(Settings(jwks_file=path))
    assert [k.kid for k in keys.keys] == ["a", "b", "e"]
    assert [k.kid for k in keys.candidates(kid="b", algorithm="RS256")] == ["b"]
    verifier = TokenVerifier(keys, [AUD])
    assert verifier.verify(sign(other_rsa_key, kid="b", sub="uss2"), request_host=None).sub == "uss2"
    assert verifier.verify(sign(ec_key, "ES256", kid="e"), request_host=None).sub == "uss1"
    # Without a kid, every key of the right type is tried.
    assert verifier.verify(sign(other_rsa_key), request_host=None).sub == "uss1"


def test_jwks_kid_mismatch_rejected(
    tmp_path: Path, rsa_key: rsa.RSAPrivateKey, other_rsa_key: rsa.RSAPrivateKey
) -> None:
    path = jwks_file(tmp_path, [("a", rsa_key), ("b", other_rsa_key)])
    verifier = TokenVerifier(KeySet.from_settings(Settings(jwks_file=path)), [AUD])
    # Signed by key a but claiming kid b: only key b is tried.
    assert "signature" in rejected(verifier, sign(rsa_key, kid="b"))
    assert "not accepted" in rejected(verifier, sign(rsa_key, kid="unknown"))


def test_jwks_must_hold_a_usable_key(tmp_path: Path) -> None:
    path = write(tmp_path / "jwks.json", b'{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}')
    with pytest.raises(ValueError, match="no RSA or EC P-256"):
        KeySet.from_settings(Settings(jwks_file=path))
    bad = write(tmp_path / "bad.json", b"not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        KeySet.from_settings(Settings(jwks_file=bad))


# -- key files -------------------------------------------------------------------------------------


def test_missing_or_bad_key_files_raise_value_error(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(ValueError, match="Cannot read key file"):
        KeySet.from_settings(Settings(public_key_files=[tmp_path / "absent.pem"]))
    with pytest.raises(ValueError, match="no PEM block"):
        KeySet.from_settings(Settings(public_key_files=[write(tmp_path / "x.pem", b"hello")]))
    with pytest.raises(ValueError, match="private key"):
        KeySet.from_settings(Settings(public_key_files=[write(tmp_path / "p.pem", private_pem(rsa_key))]))
    p384 = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(ValueError, match="P-256"):
        KeySet.from_settings(Settings(public_key_files=[write(tmp_path / "e.pem", public_pem(p384))]))


def test_no_keys_configured(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="No access-token verification keys"):
        KeySet.from_settings(Settings(data_dir=tmp_path))
    empty = KeySet.from_settings(Settings(data_dir=tmp_path), allow_empty=True)
    assert empty.keys == ()


# -- claims ----------------------------------------------------------------------------------------


def test_expired_token_rejected(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    verifier = verifier_for(tmp_path, rsa_key)
    now = int(time.time())
    assert rejected(verifier, sign(rsa_key, iat=now - 7200, exp=now - 3600)) == "Access token expired"


def test_expiry_within_leeway_accepted(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    verifier = verifier_for(tmp_path, rsa_key)
    now = int(time.time())
    assert verifier.verify(sign(rsa_key, exp=now - 5), request_host=None).sub == "uss1"


def test_a_verified_token_is_checked_again_for_time(
    tmp_path: Path, rsa_key: rsa.RSAPrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Verification is remembered per token, but expiry and not-before are checked on every call."""
    verifier = verifier_for(tmp_path, rsa_key)
    now = int(time.time())
    token = sign(rsa_key, nbf=now - 10, exp=now + 60)
    assert verifier.verify(token, request_host=None).sub == "uss1"
    assert verifier.verify(token, request_host=None).sub == "uss1"  # remembered
    monkeypatch.setattr("parley.api.auth.time.time", lambda: now - 10 - 31.0)  # before nbf - leeway
    assert rejected(verifier, token) == "Access token is not yet valid"
    monkeypatch.setattr("parley.api.auth.time.time", lambda: now + 60 + 31.0)  # past exp + leeway
    assert rejected(verifier, token) == "Access token expired"


def test_not_yet_valid_token_rejected(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    verifier = verifier_for(tmp_path, rsa_key)
    now = int(time.time())
    token = sign(rsa_key, nbf=now + 3600, exp=now + 7200)
    assert rejected(verifier, token) == "Access token is not yet valid"


def test_wrong_audience_rejected(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    verifier = verifier_for(tmp_path, rsa_key, audiences=(AUD, "other.example.com"))
    message = rejected(verifier, sign(rsa_key, aud="evil.example.com"))
    assert message == (
        "Access token audience `evil.example.com` is not accepted "
        "(expected one of: dss.example.com, other.example.com)"
    )
    assert verifier.verify(sign(rsa_key, aud=["x", "other.example.com"]), request_host=None).sub == "uss1"


def test_audience_from_request_host(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    verifier = verifier_for(tmp_path, rsa_key, audiences=())
    token = sign(rsa_key, aud="DSS.Example.com")
    assert verifier.verify(token, request_host="dss.example.COM").sub == "uss1"
    assert verifier.verify(token, request_host="dss.example.com:8082").sub == "uss1"
    assert "is not accepted (expected one of: localhost)" in rejected(verifier, token, "localhost")
    assert "names no host" in rejected(verifier, token, None)


def test_missing_audience_rejected(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    verifier = verifier_for(tmp_path, rsa_key)
    assert rejected(verifier, sign(rsa_key, aud=None)) == "Access token is missing the `aud` claim"


def test_missing_sub_rejected(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    verifier = verifier_for(tmp_path, rsa_key)
    assert rejected(verifier, sign(rsa_key, sub=None)) == "Access token is missing the `sub` claim"
    assert "`sub` claim must be a non-empty string" in rejected(verifier, sign(rsa_key, sub=""))


def test_missing_exp_rejected(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    verifier = verifier_for(tmp_path, rsa_key)
    assert rejected(verifier, sign(rsa_key, exp=None)) == "Access token is missing the `exp` claim"


# -- forged and foreign tokens ---------------------------------------------------------------------


def test_alg_none_rejected(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    verifier = verifier_for(tmp_path, rsa_key)
    token = forge({"alg": "none", "typ": "JWT"}, claims())
    assert "algorithm `none` is not accepted" in rejected(verifier, token)


def test_hs256_rejected_even_with_public_key_as_secret(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    verifier = verifier_for(tmp_path, rsa_key)
    header = {"alg": "HS256", "typ": "JWT"}
    unsigned = forge(header, claims()).rsplit(".", 1)[0]
    # The classic key-confusion attack: HMAC keyed with the server's public key.
    mac = hmac.new(public_pem(rsa_key), unsigned.encode("ascii"), hashlib.sha256).digest()
    assert "algorithm `HS256` is not accepted" in rejected(verifier, f"{unsigned}.{b64url(mac)}")


def test_alg_mismatched_with_key_type_rejected(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    verifier = verifier_for(tmp_path, rsa_key)  # only an RSA key: an ES256 token has no candidate
    es_token = sign(ec.generate_private_key(ec.SECP256R1()), "ES256")
    assert "not accepted" in rejected(verifier, es_token)


def test_signature_by_unknown_key_rejected(
    tmp_path: Path, rsa_key: rsa.RSAPrivateKey, other_rsa_key: rsa.RSAPrivateKey
) -> None:
    verifier = verifier_for(tmp_path, rsa_key)
    message = rejected(verifier, sign(other_rsa_key))
    assert message == "Access token signature does not match any accepted key"


def test_tampered_payload_rejected(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    verifier = verifier_for(tmp_path, rsa_key)
    header, _, signature = sign(rsa_key).split(".")
    evil_payload = b64url(json.dumps(claims(sub="someone-else")).encode())
    assert "signature" in rejected(verifier, f"{header}.{evil_payload}.{signature}")


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "....", "x" * 20000])
def test_garbage_token_rejected(tmp_path: Path, rsa_key: rsa.RSAPrivateKey, garbage: str) -> None:
    verifier = verifier_for(tmp_path, rsa_key)
    assert rejected(verifier, garbage).startswith(("Access token", "Missing access token"))


# -- Authorization header --------------------------------------------------------------------------


def test_bearer_token_parsing() -> None:
    assert bearer_token("Bearer abc.def.ghi") == "abc.def.ghi"
    assert bearer_token("bearer   abc") == "abc"
    for missing in (None, "", "   "):
        with pytest.raises(AuthenticationError) as info:
            bearer_token(missing)
        assert info.value.message == "Missing access token"
    for bad in ("Basic dXNlcjpwYXNz", "Bearer", "Bearer a b", "abc.def.ghi"):
        with pytest.raises(AuthenticationError) as info:
            bearer_token(bad)
        assert info.value.message == "Authorization header must be `Bearer <token>`"


# -- scopes ----------------------------------------------------------------------------------------


def test_require_scopes_any_alternative_passes() -> None:
    principal = Principal(sub="uss1", scopes=frozenset({CMSA}))
    require_scopes(principal, [frozenset({SC}), frozenset({CMSA})])
    both = Principal(sub="uss1", scopes=frozenset({SC, CMSA, "x"}))
    require_scopes(both, [frozenset({SC, CMSA})])


def test_require_scopes_fails_naming_what_was_needed() -> None:
    principal = Principal(sub="uss1", scopes=frozenset({"utm.constraint_management"}))
    with pytest.raises(AuthorizationError) as info:
        require_scopes(principal, [frozenset({SC}), frozenset({CMSA})])
    assert info.value.message == f"Missing required scope: one of {SC}, {CMSA}"
    with pytest.raises(AuthorizationError) as info:
        require_scopes(Principal(sub="uss1", scopes=frozenset({SC})), [frozenset({SC, CMSA})])
    assert info.value.message == f"Missing required scopes: {CMSA} and {SC}"
    with pytest.raises(ValueError):
        require_scopes(principal, [])


# -- development keys ------------------------------------------------------------------------------


def test_dev_auth_trusts_dev_key(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, dev_auth=True)
    keys = KeySet.from_settings(settings)  # creates the dev key pair
    private = (settings.dev_key_dir / "private.pem").read_bytes()
    token = mint_token(private, sub="uss-dev", scopes=[SC], audience="localhost")
    principal = TokenVerifier(keys, []).verify(token, request_host="localhost")
    assert principal == Principal(sub="uss-dev", scopes=frozenset({SC}))
    # A second load reuses the same key pair.
    assert TokenVerifier(KeySet.from_settings(settings), []).verify(token, request_host="localhost")
