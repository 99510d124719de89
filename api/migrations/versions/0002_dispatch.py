"""dispatch: work orders and their event log, crews, positions, routes, callbacks

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_geospatial_table(
        "crews",
        sa.Column("crew_id", sa.Text(), nullable=False),
        sa.Column("unit_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("head_count", sa.Integer(), nullable=True),
        sa.Column("members", sa.JSON(), nullable=True),
        sa.Column("base_lon", sa.Float(), nullable=True),
        sa.Column("base_lat", sa.Float(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("position_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("job_order_id", sa.Text(), nullable=True),
        sa.Column("job_lon", sa.Float(), nullable=True),
        sa.Column("job_lat", sa.Float(), nullable=True),
        sa.Column("next_order_id", sa.Text(), nullable=True),
        sa.Column("next_lon", sa.Float(), nullable=True),
        sa.Column("next_lat", sa.Float(), nullable=True),
        sa.Column("free_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("crew_id", name=op.f("pk_crews")),
    )
    with op.batch_alter_table("crews", schema=None) as batch_op:
        batch_op.create_geospatial_index(
            "idx_crews_geom", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
        )
        batch_op.create_index(batch_op.f("ix_crews_unit_id"), ["unit_id"], unique=False)

    op.create_geospatial_table(
        "work_orders",
        sa.Column("order_id", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("incident_id", sa.Text(), nullable=True),
        sa.Column("call_id", sa.Text(), nullable=True),
        sa.Column("unit_id", sa.Text(), nullable=True),
        sa.Column("area_class", sa.Text(), nullable=True),
        sa.Column("first_call_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("crew_id", sa.Text(), nullable=True),
        sa.Column("department", sa.Text(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_work_orders")),
        sa.UniqueConstraint("call_id", name=op.f("uq_work_orders_call_id")),
        sa.UniqueConstraint("incident_id", name=op.f("uq_work_orders_incident_id")),
    )
    with op.batch_alter_table("work_orders", schema=None) as batch_op:
        batch_op.create_geospatial_index(
            "idx_work_orders_geom",
            ["geom"],
            unique=False,
            postgresql_using="gist",
            postgresql_ops={},
        )
        batch_op.create_index(batch_op.f("ix_work_orders_crew_id"), ["crew_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_work_orders_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_work_orders_unit_id"), ["unit_id"], unique=False)

    op.create_table(
        "crew_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("crew_id", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("order_id", sa.Text(), nullable=True),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["crew_id"], ["crews.crew_id"], name=op.f("fk_crew_events_crew_id_crews")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crew_events")),
    )
    with op.batch_alter_table("crew_events", schema=None) as batch_op:
        batch_op.create_index("ix_crew_events_crew_at", ["crew_id", "at"], unique=False)

    op.create_table(
        "crew_positions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("crew_id", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["crew_id"], ["crews.crew_id"], name=op.f("fk_crew_positions_crew_id_crews")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crew_positions")),
    )
    with op.batch_alter_table("crew_positions", schema=None) as batch_op:
        batch_op.create_index("ix_crew_positions_crew_at", ["crew_id", "at"], unique=False)

    op.create_table(
        "order_calls",
        sa.Column("order_id", sa.Text(), nullable=False),
        sa.Column("call_id", sa.Text(), nullable=False),
        sa.Column("attached_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["work_orders.order_id"], name=op.f("fk_order_calls_order_id_work_orders")
        ),
        sa.PrimaryKeyConstraint("order_id", "call_id", name=op.f("pk_order_calls")),
    )
    with op.batch_alter_table("order_calls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_calls_call_id"), ["call_id"], unique=False)

    op.create_table(
        "order_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.Text(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("crew_id", sa.Text(), nullable=True),
        sa.Column("event_key", sa.Text(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["work_orders.order_id"],
            name=op.f("fk_order_events_order_id_work_orders"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_events")),
        sa.UniqueConstraint("event_key", name=op.f("uq_order_events_event_key")),
        sa.UniqueConstraint("order_id", "seq", name="uq_order_events_order_seq"),
    )
    op.create_geospatial_table(
        "order_routes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.Text(), nullable=False),
        sa.Column("crew_id", sa.Text(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("travel_s", sa.Float(), nullable=False),
        sa.Column("metres", sa.Float(), nullable=False),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="LINESTRING",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["work_orders.order_id"],
            name=op.f("fk_order_routes_order_id_work_orders"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_routes")),
    )
    with op.batch_alter_table("order_routes", schema=None) as batch_op:
        batch_op.create_geospatial_index(
            "idx_order_routes_geom",
            ["geom"],
            unique=False,
            postgresql_using="gist",
            postgresql_ops={},
        )
        batch_op.create_index(batch_op.f("ix_order_routes_order_id"), ["order_id"], unique=False)

    op.create_table(
        "callback_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.Text(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["order_events.id"],
            name=op.f("fk_callback_attempts_event_id_order_events"),
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["work_orders.order_id"],
            name=op.f("fk_callback_attempts_order_id_work_orders"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_attempts")),
        sa.UniqueConstraint("event_id", name=op.f("uq_callback_attempts_event_id")),
    )
    with op.batch_alter_table("callback_attempts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_callback_attempts_order_id"), ["order_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("callback_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_callback_attempts_order_id"))
    op.drop_table("callback_attempts")

    with op.batch_alter_table("order_routes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_routes_order_id"))
        batch_op.drop_geospatial_index(
            "idx_order_routes_geom", postgresql_using="gist", column_name="geom"
        )
    op.drop_geospatial_table("order_routes")

    op.drop_table("order_events")

    with op.batch_alter_table("order_calls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_calls_call_id"))
    op.drop_table("order_calls")

    with op.batch_alter_table("crew_positions", schema=None) as batch_op:
        batch_op.drop_index("ix_crew_positions_crew_at")
    op.drop_table("crew_positions")

    with op.batch_alter_table("crew_events", schema=None) as batch_op:
        batch_op.drop_index("ix_crew_events_crew_at")
    op.drop_table("crew_events")

    with op.batch_alter_table("work_orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_work_orders_unit_id"))
        batch_op.drop_index(batch_op.f("ix_work_orders_status"))
        batch_op.drop_index(batch_op.f("ix_work_orders_crew_id"))
        batch_op.drop_geospatial_index(
            "idx_work_orders_geom", postgresql_using="gist", column_name="geom"
        )
    op.drop_geospatial_table("work_orders")

    with op.batch_alter_table("crews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crews_unit_id"))
        batch_op.drop_geospatial_index(
            "idx_crews_geom", postgresql_using="gist", column_name="geom"
        )
    op.drop_geospatial_table("crews")
