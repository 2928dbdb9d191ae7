"""Development keys, token minting and the `parley token` command."""

from __future__ import annotations

import stat
from pathlib import Path

import jwt
import pytest
import typer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from typer.testing import CliRunner

from parley.api.auth import KeySet, Principal, TokenVerifier
from parley.cli.token import token
from parley.config import Settings
from parley.devtokens import ensure_dev_keys, mint_token

SC = "utm.strategic_coordination"
CMSA = "utm.conformance_monitoring_sa"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_ensure_dev_keys_creates_private_key_0600(tmp_path: Path) -> None:
    key_dir = tmp_path / "var" / "dev-keys"
    private, public = ensure_dev_keys(key_dir)
    assert (private, public) == (key_dir / "private.pem", key_dir / "public.pem")
    assert mode(private) == 0o600
    assert mode(key_dir) & 0o077 == 0
    key = serialization.load_pem_private_key(private.read_bytes(), password=None)
    assert key.key_size == 2048  # type: ignore[union-attr]
    assert public.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")


def test_ensure_dev_keys_is_idempotent_and_repairs(tmp_path: Path) -> None:
    private, public = ensure_dev_keys(tmp_path)
    first_private, first_public = private.read_bytes(), public.read_bytes()
    private.chmod(0o644)
    public.unlink()
    ensure_dev_keys(tmp_path)
    assert private.read_bytes() == first_private
    assert public.read_bytes() == first_public
    assert mode(private) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["private.pem", "public.pem"]


def test_minted_token_claims(tmp_path: Path) -> None:
    private, public = ensure_dev_keys(tmp_path)
    signed = mint_token(
        private.read_bytes(), sub="uss1", scopes=[SC, CMSA], audience="dss", lifetime_s=60, kid="k1"
    )
    assert jwt.get_unverified_header(signed)["kid"] == "k1"
    claims = jwt.decode(signed, public.read_bytes(), algorithms=["RS256"], audience="dss")
    assert claims["sub"] == "uss1"
    assert claims["scope"] == f"{SC} {CMSA}"
    assert claims["iss"] == "parley-dev"
    assert claims["exp"] - claims["iat"] == 60


def test_minted_token_verifies_against_dev_key_set(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, dev_auth=True)
    private, _ = ensure_dev_keys(settings.dev_key_dir)
    signed = mint_token(private.read_bytes(), sub="uss1", scopes=[SC], audience="localhost")
    verifier = TokenVerifier(KeySet.from_settings(settings), [])
    assert verifier.verify(signed, request_host="localhost") == Principal("uss1", frozenset({SC}))


def test_mint_es256(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    signed = mint_token(pem, sub="uss1", scopes=[SC], audience="a", algorithm="ES256")
    assert jwt.decode(signed, key.public_key(), algorithms=["ES256"], audience="a")["sub"] == "uss1"
    with pytest.raises(ValueError, match="RS256 needs an RSA"):
        mint_token(pem, sub="uss1", scopes=[SC], audience="a")


def test_mint_rejects_bad_arguments(tmp_path: Path) -> None:
    pem = ensure_dev_keys(tmp_path)[0].read_bytes()
    with pytest.raises(ValueError, match="algorithm"):
        mint_token(pem, sub="u", scopes=[SC], audience="a", algorithm="HS256")
    with pytest.raises(ValueError, match="scope"):
        mint_token(pem, sub="u", scopes=["a b"], audience="a")
    with pytest.raises(ValueError, match="lifetime"):
        mint_token(pem, sub="u", scopes=[SC], audience="a", lifetime_s=0)
    with pytest.raises(ValueError, match="PEM private key"):
        mint_token(b"nope", sub="u", scopes=[SC], audience="a")


# -- CLI -------------------------------------------------------------------------------------------


def cli() -> typer.Typer:
    app = typer.Typer()
    app.command("token")(token)

    @app.command("noop")
    def noop() -> None:
        """Keeps `token` a subcommand, as in the root app."""

    return app


def test_token_command_prints_verifiable_token(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli(),
        ["token", "--sub", "uss9", "--scope", SC, "--scope", CMSA, "--data-dir", str(tmp_path)],
    )
    assert result.exit_code == 0, result.output
    assert "development only" in result.stderr
    printed = result.stdout.strip()
    assert printed.count(".") == 2 and "\n" not in printed
    assert mode(tmp_path / "dev-keys" / "private.pem") == 0o600
    keys = KeySet.from_settings(Settings(data_dir=tmp_path, dev_auth=True))
    principal = TokenVerifier(keys, []).verify(printed, request_host="localhost")
    assert principal == Principal("uss9", frozenset({SC, CMSA}))


def test_token_command_with_explicit_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    key = ec.generate_private_key(ec.SECP256R1())
    key_path = tmp_path / "signer.pem"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    result = CliRunner().invoke(
        cli(),
        ["token", "--sub", "u", "--scope", SC, "--aud", "dss", "--lifetime", "120", "--key", str(key_path)],
    )
    assert result.exit_code == 0, result.output
    claims = jwt.decode(result.stdout.strip(), key.public_key(), algorithms=["ES256"], audience="dss")
    assert claims["exp"] - claims["iat"] == 120
    assert not (tmp_path / "var").exists()  # no dev key created when --key is given


def test_token_command_requires_scope(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli(), ["token", "--sub", "u", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "--scope" in result.output
    assert not (tmp_path / "dev-keys").exists()
