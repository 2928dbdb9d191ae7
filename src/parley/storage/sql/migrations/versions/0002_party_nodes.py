"""Party nodes: their own operations, what they know of others', telemetry, user notifications.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

Frozen copy of the party tables of ``tables.py`` as they stood. Times are microseconds since the
Unix epoch UTC; JSON documents are text.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.String(36)
_PARTY = sa.String(64)
_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "party_operations",
        sa.Column("party_id", _PARTY, nullable=False),
        sa.Column("id", _ID, nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("reference", sa.Text(), nullable=True),
        sa.Column("subscription_id", _ID, nullable=True),
        sa.Column("meta", sa.Text(), nullable=False),
        sa.Column("flight_plan_id", sa.String(128), nullable=True),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("updated_us", sa.BigInteger(), nullable=False),
        sa.Column("nonconforming_since_us", sa.BigInteger(), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("party_id", "id", name="pk_party_operations"),
    )
    op.create_index(
        "ix_party_operations_party_id_flight_plan_id", "party_operations", ["party_id", "flight_plan_id"]
    )
    op.create_table(
        "party_peer_entities",
        sa.Column("party_id", _PARTY, nullable=False),
        sa.Column("id", _ID, nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("reference", sa.Text(), nullable=False),
        sa.Column("details", sa.Text(), nullable=True),
        sa.Column("updated_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("party_id", "id", name="pk_party_peer_entities"),
    )
    op.create_table(
        "party_telemetry",
        sa.Column("seq", _SEQ, primary_key=True, autoincrement=True),
        sa.Column("party_id", _PARTY, nullable=False),
        sa.Column("operation_id", _ID, nullable=False),
        sa.Column("t_us", sa.BigInteger(), nullable=False),
        sa.Column("sample", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_party_telemetry"),
    )
    op.create_index(
        "ix_party_telemetry_party_id_operation_id_t_us",
        "party_telemetry",
        ["party_id", "operation_id", "t_us"],
    )
    op.create_table(
        "party_notifications",
        sa.Column("seq", _SEQ, primary_key=True, autoincrement=True),
        sa.Column("party_id", _PARTY, nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("operation_id", _ID, nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_party_notifications"),
    )
    op.create_index("ix_party_notifications_party_id_at_us", "party_notifications", ["party_id", "at_us"])


def downgrade() -> None:
    op.drop_index("ix_party_notifications_party_id_at_us", table_name="party_notifications")
    op.drop_table("party_notifications")
    op.drop_index("ix_party_telemetry_party_id_operation_id_t_us", table_name="party_telemetry")
    op.drop_table("party_telemetry")
    op.drop_table("party_peer_entities")
    op.drop_index("ix_party_operations_party_id_flight_plan_id", table_name="party_operations")
    op.drop_table("party_operations")
