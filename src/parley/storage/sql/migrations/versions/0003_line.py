"""The line: entries (append-only), the outbox, pinned keys; the shared service's registry,
witnessed chain heads and reported forks.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25

Frozen copy of the line tables of ``tables.py`` as they stood. On PostgreSQL a trigger refuses any
UPDATE or DELETE of ``line_entries``: entries are append-only (TRUNCATE, an administrator's act on
the whole table, is left to the database's privileges).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PARTY = sa.String(64)
_DIGEST = sa.String(71)
_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_APPEND_ONLY = """
CREATE FUNCTION line_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'line entries are append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER line_entries_no_update_or_delete BEFORE UPDATE OR DELETE ON line_entries
    FOR EACH ROW EXECUTE FUNCTION line_entries_append_only();
"""


def upgrade() -> None:
    op.create_table(
        "line_entries",
        sa.Column("holder", _PARTY, nullable=False),
        sa.Column("hash", _DIGEST, nullable=False),
        sa.Column("author", _PARTY, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("thread", sa.String(36), nullable=True),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.Column("entry", sa.Text(), nullable=False),
        sa.Column("received_us", sa.BigInteger(), nullable=False),
        sa.Column("deadline_us", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("holder", "hash", name="pk_line_entries"),
        sa.UniqueConstraint("holder", "author", "seq", name="uq_line_entries_holder_author_seq"),
    )
    op.create_index("ix_line_entries_holder_thread", "line_entries", ["holder", "thread"])
    op.create_index("ix_line_entries_holder_deadline_us", "line_entries", ["holder", "deadline_us"])
    op.create_table(
        "line_outbox",
        sa.Column("seq", _SEQ, primary_key=True, autoincrement=True),
        sa.Column("holder", _PARTY, nullable=False),
        sa.Column("recipient", _PARTY, nullable=False),
        sa.Column("hash", _DIGEST, nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_us", sa.BigInteger(), nullable=False),
        sa.Column("delivered_us", sa.BigInteger(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("seq", name="pk_line_outbox"),
        sa.UniqueConstraint("holder", "recipient", "hash", name="uq_line_outbox_holder_recipient_hash"),
    )
    op.create_index(
        "ix_line_outbox_holder_delivered_us_next_attempt_us",
        "line_outbox",
        ["holder", "delivered_us", "next_attempt_us"],
    )
    op.create_table(
        "line_pins",
        sa.Column("holder", _PARTY, nullable=False),
        sa.Column("party", _PARTY, nullable=False),
        sa.Column("key_id", sa.String(80), nullable=False),
        sa.Column("pinned_us", sa.BigInteger(), nullable=False),
        sa.Column("proof", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("holder", "party", "key_id", name="pk_line_pins"),
    )
    op.create_table(
        "line_registry",
        sa.Column("party", _PARTY, nullable=False),
        sa.Column("key_id", sa.String(80), nullable=False),
        sa.Column("base_url", sa.Text(), nullable=False),
        sa.Column("display_name", sa.Text(), nullable=False),
        sa.Column("registered_us", sa.BigInteger(), nullable=False),
        sa.Column("keys", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("party", name="pk_line_registry"),
    )
    op.create_table(
        "line_witness",
        sa.Column("party", _PARTY, nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("head", _DIGEST, nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.Column("countersignature", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("party", "seq", name="pk_line_witness"),
    )
    op.create_table(
        "line_forks",
        sa.Column("id", _SEQ, primary_key=True, autoincrement=True),
        sa.Column("party", _PARTY, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("head", _DIGEST, nullable=False),
        sa.Column("other_head", _DIGEST, nullable=False),
        sa.Column("reported_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_line_forks"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_APPEND_ONLY)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS line_entries_no_update_or_delete ON line_entries")
        op.execute("DROP FUNCTION IF EXISTS line_entries_append_only()")
    op.drop_table("line_forks")
    op.drop_table("line_witness")
    op.drop_table("line_registry")
    op.drop_table("line_pins")
    op.drop_index("ix_line_outbox_holder_delivered_us_next_attempt_us", table_name="line_outbox")
    op.drop_table("line_outbox")
    op.drop_index("ix_line_entries_holder_deadline_us", table_name="line_entries")
    op.drop_index("ix_line_entries_holder_thread", table_name="line_entries")
    op.drop_table("line_entries")
