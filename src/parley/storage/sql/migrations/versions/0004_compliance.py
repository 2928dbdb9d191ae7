"""Compliance and protection: the evidence that travels with a certificate or an alarm (track
samples, not signed into the log), the obligor's watches of its accepted obligations, a party's own
surveillance feed (the requester's cross-check); on the shared service, protected sites and
movements notified check-only (ADR 0010) and the disclosure log.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07

Frozen copy of the tables of ``tables.py`` as they stood. ``line_evidence`` rows are written with
the entry they belong to and never changed (on PostgreSQL a trigger refuses UPDATE and DELETE, as
for the entries).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PARTY = sa.String(64)
_DIGEST = sa.String(71)
_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_APPEND_ONLY = """
CREATE FUNCTION line_evidence_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'line evidence is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER line_evidence_no_update_or_delete BEFORE UPDATE OR DELETE ON line_evidence
    FOR EACH ROW EXECUTE FUNCTION line_evidence_append_only();
"""


def upgrade() -> None:
    op.create_table(
        "line_evidence",
        sa.Column("holder", _PARTY, nullable=False),
        sa.Column("hash", _DIGEST, nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("holder", "hash", name="pk_line_evidence"),
    )
    op.create_table(
        "line_watches",
        sa.Column("holder", _PARTY, nullable=False),
        sa.Column("thread", sa.String(36), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("holder", "thread", name="pk_line_watches"),
    )
    op.create_index("ix_line_watches_holder_active", "line_watches", ["holder", "active"])
    op.create_table(
        "party_surveillance",
        sa.Column("seq", _SEQ, primary_key=True, autoincrement=True),
        sa.Column("party_id", _PARTY, nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("track_id", sa.String(64), nullable=False),
        sa.Column("t_us", sa.BigInteger(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lng", sa.Float(), nullable=False),
        sa.Column("alt_m", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_party_surveillance"),
    )
    op.create_index("ix_party_surveillance_party_id_t_us", "party_surveillance", ["party_id", "t_us"])
    op.create_table(
        "line_protected",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("notifier", _PARTY, nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("check_only", sa.Text(), nullable=False),
        sa.Column("start_us", sa.BigInteger(), nullable=False),
        sa.Column("end_us", sa.BigInteger(), nullable=False),
        sa.Column("registered_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_line_protected"),
    )
    op.create_index("ix_line_protected_end_us", "line_protected", ["end_us"])
    op.create_table(
        "line_disclosures",
        sa.Column("seq", _SEQ, primary_key=True, autoincrement=True),
        sa.Column("protected_id", sa.String(36), nullable=False),
        sa.Column("party", _PARTY, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_line_disclosures"),
    )
    op.create_index("ix_line_disclosures_protected_id_at_us", "line_disclosures", ["protected_id", "at_us"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_APPEND_ONLY)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS line_evidence_no_update_or_delete ON line_evidence")
        op.execute("DROP FUNCTION IF EXISTS line_evidence_append_only()")
    op.drop_index("ix_line_disclosures_protected_id_at_us", table_name="line_disclosures")
    op.drop_table("line_disclosures")
    op.drop_index("ix_line_protected_end_us", table_name="line_protected")
    op.drop_table("line_protected")
    op.drop_index("ix_party_surveillance_party_id_t_us", table_name="party_surveillance")
    op.drop_table("party_surveillance")
    op.drop_index("ix_line_watches_holder_active", table_name="line_watches")
    op.drop_table("line_watches")
    op.drop_table("line_evidence")
