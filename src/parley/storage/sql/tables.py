"""The DSS's SQL schema (SQLAlchemy Core, one :class:`~sqlalchemy.MetaData`).

Units are in column names: altitudes in metres (``*_m``, WGS84 as the domain's), times in
microseconds since the Unix epoch, UTC (``*_us``). Each entity's S2 cells (signed 64-bit ids, see
:func:`parley.domain.cells.to_signed`) live in a ``*_cells`` table keyed by ``(entity_id, cell_id)``
and indexed by ``cell_id``: a search is a lookup of the area's cells there.

Production databases are created by the Alembic migrations in ``migrations/`` (which must create
exactly these tables; ``tests/integration/test_migrations.py`` checks it); :meth:`MetaData.create_all`
is for tests only.
"""

from __future__ import annotations

import sqlalchemy as sa

#: Constraint and index names, so that migrations and ``create_all`` name them the same way.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: Length of an entity id column: a canonical UUID.
ID_LENGTH = 36

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


def _id(
    name: str = "id", *, primary_key: bool = False, nullable: bool = False, index: bool = False
) -> sa.Column[str]:
    return sa.Column(name, sa.String(ID_LENGTH), primary_key=primary_key, nullable=nullable, index=index)


def _extent_columns() -> list[sa.Column[object]]:
    """The bounds of an entity's extent (NULL: unbounded, which stored entities never are) and its
    cells (a JSON array, read with the row; the ``*_cells`` table indexes them)."""
    return [
        sa.Column("cells", sa.Text(), nullable=False),
        sa.Column("altitude_lower_m", sa.Float(), nullable=True),
        sa.Column("altitude_upper_m", sa.Float(), nullable=True),
        sa.Column("time_start_us", sa.BigInteger(), nullable=True),
        sa.Column("time_end_us", sa.BigInteger(), nullable=True, index=True),
    ]


def _cells_table(name: str, parent: sa.Table) -> sa.Table:
    """``name(entity_id -> parent.id, cell_id)``: the cells of each entity of ``parent``."""
    return sa.Table(
        name,
        metadata,
        sa.Column(
            "entity_id",
            sa.String(ID_LENGTH),
            sa.ForeignKey(parent.c.id, ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("cell_id", sa.BigInteger(), primary_key=True, autoincrement=False, index=True),
    )


operational_intents = sa.Table(
    "operational_intents",
    metadata,
    _id(primary_key=True),
    sa.Column("manager", sa.Text(), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("ovn", sa.Text(), nullable=False),
    sa.Column("uss_base_url", sa.Text(), nullable=False),
    _id("subscription_id", nullable=True, index=True),
    *_extent_columns(),
)
operational_intent_cells = _cells_table("operational_intent_cells", operational_intents)

constraints = sa.Table(
    "constraints",
    metadata,
    _id(primary_key=True),
    sa.Column("manager", sa.Text(), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("ovn", sa.Text(), nullable=False),
    sa.Column("uss_base_url", sa.Text(), nullable=False),
    *_extent_columns(),
)
constraint_cells = _cells_table("constraint_cells", constraints)

subscriptions = sa.Table(
    "subscriptions",
    metadata,
    _id(primary_key=True),
    sa.Column("manager", sa.Text(), nullable=False),
    sa.Column("version", sa.Text(), nullable=False),
    sa.Column("notification_index", sa.Integer(), nullable=False),
    sa.Column("uss_base_url", sa.Text(), nullable=False),
    sa.Column("notify_for_operational_intents", sa.Boolean(), nullable=False),
    sa.Column("notify_for_constraints", sa.Boolean(), nullable=False),
    sa.Column("implicit", sa.Boolean(), nullable=False),
    *_extent_columns(),
)
subscription_cells = _cells_table("subscription_cells", subscriptions)

uss_availability = sa.Table(
    "uss_availability",
    metadata,
    sa.Column("uss", sa.Text(), primary_key=True),
    sa.Column("availability", sa.String(16), nullable=False),
    sa.Column("version", sa.Text(), nullable=False),
)

dss_reports = sa.Table(
    "dss_reports",
    metadata,
    _id("report_id", primary_key=True),
    sa.Column("reporter", sa.Text(), nullable=False),
    sa.Column("received_at_us", sa.BigInteger(), nullable=False),
    sa.Column("payload", sa.Text(), nullable=False),
)

# -- party nodes (several parties may share one database: every row names its party) -------------

PARTY_LENGTH = 64

party_operations = sa.Table(
    "party_operations",
    metadata,
    sa.Column("party_id", sa.String(PARTY_LENGTH), primary_key=True),
    _id(primary_key=True),
    sa.Column("kind", sa.String(24), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("details", sa.Text(), nullable=False),
    sa.Column("reference", sa.Text(), nullable=True),
    _id("subscription_id", nullable=True),
    sa.Column("meta", sa.Text(), nullable=False),
    sa.Column("flight_plan_id", sa.String(128), nullable=True),
    sa.Column("created_us", sa.BigInteger(), nullable=False),
    sa.Column("updated_us", sa.BigInteger(), nullable=False),
    sa.Column("nonconforming_since_us", sa.BigInteger(), nullable=True),
    sa.Column("revision", sa.Integer(), nullable=False),
    sa.Index("ix_party_operations_party_id_flight_plan_id", "party_id", "flight_plan_id"),
)

party_peer_entities = sa.Table(
    "party_peer_entities",
    metadata,
    sa.Column("party_id", sa.String(PARTY_LENGTH), primary_key=True),
    _id(primary_key=True),
    sa.Column("kind", sa.String(24), nullable=False),
    sa.Column("reference", sa.Text(), nullable=False),
    sa.Column("details", sa.Text(), nullable=True),
    sa.Column("updated_us", sa.BigInteger(), nullable=False),
)

party_telemetry = sa.Table(
    "party_telemetry",
    metadata,
    sa.Column(
        "seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    ),
    sa.Column("party_id", sa.String(PARTY_LENGTH), nullable=False),
    _id("operation_id"),
    sa.Column("t_us", sa.BigInteger(), nullable=False),
    sa.Column("sample", sa.Text(), nullable=False),
    sa.Index("ix_party_telemetry_party_id_operation_id_t_us", "party_id", "operation_id", "t_us"),
)

party_notifications = sa.Table(
    "party_notifications",
    metadata,
    sa.Column(
        "seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    ),
    sa.Column("party_id", sa.String(PARTY_LENGTH), nullable=False),
    sa.Column("at_us", sa.BigInteger(), nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    _id("operation_id", nullable=True),
    sa.Column("message", sa.Text(), nullable=False),
    sa.Column("body", sa.Text(), nullable=False),
    sa.Index("ix_party_notifications_party_id_at_us", "party_id", "at_us"),
)

# -- the line -----------------------------------------------------------------------------------

#: Length of an entry digest: ``sha256:`` and 64 hexadecimal digits.
DIGEST_LENGTH = 71

line_entries = sa.Table(
    "line_entries",
    metadata,
    sa.Column("holder", sa.String(PARTY_LENGTH), primary_key=True),
    sa.Column("hash", sa.String(DIGEST_LENGTH), primary_key=True),
    sa.Column("author", sa.String(PARTY_LENGTH), nullable=False),
    sa.Column("seq", sa.BigInteger(), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    _id("thread", nullable=True),
    sa.Column("at_us", sa.BigInteger(), nullable=False),
    sa.Column("entry", sa.Text(), nullable=False),
    sa.Column("received_us", sa.BigInteger(), nullable=False),
    #: A request's deadline (NULL for other kinds): what the expiry sweep looks up.
    sa.Column("deadline_us", sa.BigInteger(), nullable=True),
    sa.UniqueConstraint("holder", "author", "seq", name="uq_line_entries_holder_author_seq"),
    sa.Index("ix_line_entries_holder_thread", "holder", "thread"),
    sa.Index("ix_line_entries_holder_deadline_us", "holder", "deadline_us"),
)

line_outbox = sa.Table(
    "line_outbox",
    metadata,
    sa.Column(
        "seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    ),
    sa.Column("holder", sa.String(PARTY_LENGTH), nullable=False),
    sa.Column("recipient", sa.String(PARTY_LENGTH), nullable=False),
    sa.Column("hash", sa.String(DIGEST_LENGTH), nullable=False),
    sa.Column("created_us", sa.BigInteger(), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("next_attempt_us", sa.BigInteger(), nullable=False),
    sa.Column("delivered_us", sa.BigInteger(), nullable=True),
    sa.Column("last_error", sa.Text(), nullable=True),
    sa.UniqueConstraint("holder", "recipient", "hash", name="uq_line_outbox_holder_recipient_hash"),
    sa.Index(
        "ix_line_outbox_holder_delivered_us_next_attempt_us", "holder", "delivered_us", "next_attempt_us"
    ),
)

line_pins = sa.Table(
    "line_pins",
    metadata,
    sa.Column("holder", sa.String(PARTY_LENGTH), primary_key=True),
    sa.Column("party", sa.String(PARTY_LENGTH), primary_key=True),
    sa.Column("key_id", sa.String(80), primary_key=True),
    sa.Column("pinned_us", sa.BigInteger(), nullable=False),
    sa.Column("proof", sa.Text(), nullable=True),
)

line_registry = sa.Table(
    "line_registry",
    metadata,
    sa.Column("party", sa.String(PARTY_LENGTH), primary_key=True),
    sa.Column("key_id", sa.String(80), nullable=False),
    sa.Column("base_url", sa.Text(), nullable=False),
    sa.Column("display_name", sa.Text(), nullable=False),
    sa.Column("registered_us", sa.BigInteger(), nullable=False),
    sa.Column("keys", sa.Text(), nullable=False),
)

line_witness = sa.Table(
    "line_witness",
    metadata,
    sa.Column("party", sa.String(PARTY_LENGTH), primary_key=True),
    sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("head", sa.String(DIGEST_LENGTH), nullable=False),
    sa.Column("at_us", sa.BigInteger(), nullable=False),
    sa.Column("countersignature", sa.Text(), nullable=False),
)

line_forks = sa.Table(
    "line_forks",
    metadata,
    sa.Column(
        "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    ),
    sa.Column("party", sa.String(PARTY_LENGTH), nullable=False),
    sa.Column("seq", sa.BigInteger(), nullable=False),
    sa.Column("head", sa.String(DIGEST_LENGTH), nullable=False),
    sa.Column("other_head", sa.String(DIGEST_LENGTH), nullable=False),
    sa.Column("reported_us", sa.BigInteger(), nullable=False),
)

line_evidence = sa.Table(
    "line_evidence",
    metadata,
    sa.Column("holder", sa.String(PARTY_LENGTH), primary_key=True),
    sa.Column("hash", sa.String(DIGEST_LENGTH), primary_key=True),
    #: JSON: the track samples a certificate or an alarm commits to, by aircraft.
    sa.Column("evidence", sa.Text(), nullable=False),
)

line_watches = sa.Table(
    "line_watches",
    metadata,
    sa.Column("holder", sa.String(PARTY_LENGTH), primary_key=True),
    _id("thread", primary_key=True),
    #: JSON: the watch's state (parley.compliance.watch), resumed after a restart.
    sa.Column("state", sa.Text(), nullable=False),
    sa.Column("active", sa.Boolean(), nullable=False),
    sa.Column("updated_us", sa.BigInteger(), nullable=False),
    sa.Index("ix_line_watches_holder_active", "holder", "active"),
)

party_surveillance = sa.Table(
    "party_surveillance",
    metadata,
    sa.Column(
        "seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    ),
    sa.Column("party_id", sa.String(PARTY_LENGTH), nullable=False),
    #: The feed (a radar, a partner's picture...) and its own id of the track.
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("track_id", sa.String(64), nullable=False),
    sa.Column("t_us", sa.BigInteger(), nullable=False),
    sa.Column("lat", sa.Float(), nullable=False),
    sa.Column("lng", sa.Float(), nullable=False),
    sa.Column("alt_m", sa.Float(), nullable=False),
    sa.Index("ix_party_surveillance_party_id_t_us", "party_id", "t_us"),
)

line_protected = sa.Table(
    "line_protected",
    metadata,
    _id("id", primary_key=True),
    sa.Column("notifier", sa.String(PARTY_LENGTH), nullable=False),
    #: JSON: the notice members that say what is protected (geometry, ``protected``).
    sa.Column("body", sa.Text(), nullable=False),
    #: JSON: the parties that may check against it (and do not see it).
    sa.Column("check_only", sa.Text(), nullable=False),
    sa.Column("start_us", sa.BigInteger(), nullable=False),
    sa.Column("end_us", sa.BigInteger(), nullable=False),
    sa.Column("registered_us", sa.BigInteger(), nullable=False),
    sa.Index("ix_line_protected_end_us", "end_us"),
)

line_disclosures = sa.Table(
    "line_disclosures",
    metadata,
    sa.Column(
        "seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    ),
    _id("protected_id"),
    sa.Column("party", sa.String(PARTY_LENGTH), nullable=False),
    #: exact (a notice with the geometry was delivered) | check (a check against it was made)
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("at_us", sa.BigInteger(), nullable=False),
    sa.Column("detail", sa.Text(), nullable=False),
    sa.Index("ix_line_disclosures_protected_id_at_us", "protected_id", "at_us"),
)

#: Every table, parents before children (the order to create; reverse it to drop).
ALL_TABLES: tuple[sa.Table, ...] = (
    operational_intents,
    operational_intent_cells,
    constraints,
    constraint_cells,
    subscriptions,
    subscription_cells,
    uss_availability,
    dss_reports,
    party_operations,
    party_peer_entities,
    party_telemetry,
    party_notifications,
    line_entries,
    line_outbox,
    line_pins,
    line_registry,
    line_witness,
    line_forks,
    line_evidence,
    line_watches,
    party_surveillance,
    line_protected,
    line_disclosures,
)
