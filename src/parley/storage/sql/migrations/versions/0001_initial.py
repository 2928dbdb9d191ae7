"""The DSS schema: operational intents, constraints, subscriptions with their cells; USS
availability; reports.

Revision ID: 0001
Revises:
Create Date: 2026-01-01

Frozen copy of ``tables.py`` as it stood (revisions never import the live schema). Times are
microseconds since the Unix epoch UTC, altitudes metres, cells signed 64-bit S2 ids.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.String(36)


def _extent_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("cells", sa.Text(), nullable=False),
        sa.Column("altitude_lower_m", sa.Float(), nullable=True),
        sa.Column("altitude_upper_m", sa.Float(), nullable=True),
        sa.Column("time_start_us", sa.BigInteger(), nullable=True),
        sa.Column("time_end_us", sa.BigInteger(), nullable=True),
    ]


def _create_cells_table(name: str, parent: str) -> None:
    op.create_table(
        name,
        sa.Column("entity_id", _ID, nullable=False),
        sa.Column("cell_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.ForeignKeyConstraint(
            ["entity_id"], [f"{parent}.id"], name=f"fk_{name}_entity_id_{parent}", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("entity_id", "cell_id", name=f"pk_{name}"),
    )
    op.create_index(f"ix_{name}_cell_id", name, ["cell_id"])


def upgrade() -> None:
    op.create_table(
        "operational_intents",
        sa.Column("id", _ID, nullable=False),
        sa.Column("manager", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("ovn", sa.Text(), nullable=False),
        sa.Column("uss_base_url", sa.Text(), nullable=False),
        sa.Column("subscription_id", _ID, nullable=True),
        *_extent_columns(),
        sa.PrimaryKeyConstraint("id", name="pk_operational_intents"),
    )
    op.create_index("ix_operational_intents_subscription_id", "operational_intents", ["subscription_id"])
    op.create_index("ix_operational_intents_time_end_us", "operational_intents", ["time_end_us"])
    _create_cells_table("operational_intent_cells", "operational_intents")

    op.create_table(
        "constraints",
        sa.Column("id", _ID, nullable=False),
        sa.Column("manager", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("ovn", sa.Text(), nullable=False),
        sa.Column("uss_base_url", sa.Text(), nullable=False),
        *_extent_columns(),
        sa.PrimaryKeyConstraint("id", name="pk_constraints"),
    )
    op.create_index("ix_constraints_time_end_us", "constraints", ["time_end_us"])
    _create_cells_table("constraint_cells", "constraints")

    op.create_table(
        "subscriptions",
        sa.Column("id", _ID, nullable=False),
        sa.Column("manager", sa.Text(), nullable=False),
        sa.Column("version", sa.Text(), nullable=False),
        sa.Column("notification_index", sa.Integer(), nullable=False),
        sa.Column("uss_base_url", sa.Text(), nullable=False),
        sa.Column("notify_for_operational_intents", sa.Boolean(), nullable=False),
        sa.Column("notify_for_constraints", sa.Boolean(), nullable=False),
        sa.Column("implicit", sa.Boolean(), nullable=False),
        *_extent_columns(),
        sa.PrimaryKeyConstraint("id", name="pk_subscriptions"),
    )
    op.create_index("ix_subscriptions_time_end_us", "subscriptions", ["time_end_us"])
    _create_cells_table("subscription_cells", "subscriptions")

    op.create_table(
        "uss_availability",
        sa.Column("uss", sa.Text(), nullable=False),
        sa.Column("availability", sa.String(16), nullable=False),
        sa.Column("version", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("uss", name="pk_uss_availability"),
    )
    op.create_table(
        "dss_reports",
        sa.Column("report_id", _ID, nullable=False),
        sa.Column("reporter", sa.Text(), nullable=False),
        sa.Column("received_at_us", sa.BigInteger(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("report_id", name="pk_dss_reports"),
    )


def downgrade() -> None:
    op.drop_table("dss_reports")
    op.drop_table("uss_availability")
    for parent, cells in (
        ("subscriptions", "subscription_cells"),
        ("constraints", "constraint_cells"),
        ("operational_intents", "operational_intent_cells"),
    ):
        op.drop_index(f"ix_{cells}_cell_id", table_name=cells)
        op.drop_table(cells)
        op.drop_index(f"ix_{parent}_time_end_us", table_name=parent)
        if parent == "operational_intents":
            op.drop_index("ix_operational_intents_subscription_id", table_name=parent)
        op.drop_table(parent)
