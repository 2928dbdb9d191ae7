"""Sign-in's parts without a browser: argon2 hashes, signed sessions, the bundle's build stamp."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from parley.api.ui.auth import SessionSigner, check_password, hash_password
from parley.config import UiOperator

ROOT = Path(__file__).resolve().parents[2]


def test_passwords_are_argon2_and_checked() -> None:
    op = UiOperator(name="bill", password_hash=hash_password("s3cret"))
    assert op.password_hash.startswith("$argon2id$")
    assert check_password([op], "bill", "s3cret") == op
    assert check_password([op], "bill", "wrong") is None
    assert check_password([op], "nobody", "s3cret") is None


def test_a_session_is_signed_and_expires() -> None:
    op = UiOperator(name="bill", password_hash=hash_password("pw"))
    signer = SessionSigner(b"k" * 32)
    cookie = signer.issue("blue", op, "csrf-token", now=1_000)
    session = signer.read(cookie, now=2_000)
    assert session is not None and (session.party, session.operator, session.csrf) == (
        "blue",
        "bill",
        "csrf-token",
    )
    assert signer.read(cookie, now=1_000 + 13 * 3600) is None  # expired
    assert SessionSigner(b"x" * 32).read(cookie, now=2_000) is None  # another key
    head, _, mac = cookie.partition(".")
    forged = head[:-2] + ("A" if head[-2] != "A" else "B") + head[-1] + "." + mac
    assert signer.read(forged, now=2_000) is None
    assert signer.read("garbage", now=2_000) is None and signer.read(None) is None


def test_the_committed_page_was_built_from_the_current_web_sources() -> None:
    """``make web`` rebuilds src/parley/web/static/ and its stamp; a change to web/ needs it."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "web_stamp.py"), "--check"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert (ROOT / "src" / "parley" / "web" / "static" / "index.html").is_file()
