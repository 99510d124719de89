"""layers and imports

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_geospatial_table(
        "layer_admin_areas",
        sa.Column("fid", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("level", sa.Text(), nullable=True),
        sa.Column("parent_id", sa.Text(), nullable=True),
        sa.Column("attrs", sa.JSON(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("fid", name=op.f("pk_layer_admin_areas")),
    )
    with op.batch_alter_table("layer_admin_areas", schema=None) as batch_op:
        batch_op.create_geospatial_index(
            "idx_layer_admin_areas_geom",
            ["geom"],
            unique=False,
            postgresql_using="gist",
            postgresql_ops={},
        )
        batch_op.create_index("ix_layer_admin_areas_id", ["id"], unique=False)

    op.create_geospatial_table(
        "layer_crews",
        sa.Column("fid", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.Text(), nullable=True),
        sa.Column("unit_id", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("members", sa.Float(), nullable=True),
        sa.Column("attrs", sa.JSON(), nullable=True),
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
        sa.PrimaryKeyConstraint("fid", name=op.f("pk_layer_crews")),
    )
    with op.batch_alter_table("layer_crews", schema=None) as batch_op:
        batch_op.create_geospatial_index(
            "idx_layer_crews_geom",
            ["geom"],
            unique=False,
            postgresql_using="gist",
            postgresql_ops={},
        )
        batch_op.create_index("ix_layer_crews_id", ["id"], unique=False)

    op.create_table(
        "layer_imports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("snap_tolerance_m", sa.Float(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.Column("imported_by", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_layer_imports")),
    )
    op.create_geospatial_table(
        "layer_lv_lines",
        sa.Column("fid", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.Text(), nullable=True),
        sa.Column("from_node", sa.Text(), nullable=True),
        sa.Column("to_node", sa.Text(), nullable=True),
        sa.Column("transformer_id", sa.Text(), nullable=True),
        sa.Column("voltage_kv", sa.Float(), nullable=True),
        sa.Column("attrs", sa.JSON(), nullable=True),
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
        sa.PrimaryKeyConstraint("fid", name=op.f("pk_layer_lv_lines")),
    )
    with op.batch_alter_table("layer_lv_lines", schema=None) as batch_op:
        batch_op.create_geospatial_index(
            "idx_layer_lv_lines_geom",
            ["geom"],
            unique=False,
            postgresql_using="gist",
            postgresql_ops={},
        )
        batch_op.create_index("ix_layer_lv_lines_id", ["id"], unique=False)

    op.create_geospatial_table(
        "layer_mv_lines",
        sa.Column("fid", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.Text(), nullable=True),
        sa.Column("feeder", sa.Text(), nullable=True),
        sa.Column("from_node", sa.Text(), nullable=True),
        sa.Column("to_node", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("voltage_kv", sa.Float(), nullable=True),
        sa.Column("unit_id", sa.Text(), nullable=True),
        sa.Column("attrs", sa.JSON(), nullable=True),
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
        sa.PrimaryKeyConstraint("fid", name=op.f("pk_layer_mv_lines")),
    )
    with op.batch_alter_table("layer_mv_lines", schema=None) as batch_op:
        batch_op.create_geospatial_index(
            "idx_layer_mv_lines_geom",
            ["geom"],
            unique=False,
            postgresql_using="gist",
            postgresql_ops={},
        )
        batch_op.create_index("ix_layer_mv_lines_id", ["id"], unique=False)

    op.create_geospatial_table(
        "layer_places",
        sa.Column("fid", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("kind", sa.Text(), nullable=True),
        sa.Column("aliases", sa.Text(), nullable=True),
        sa.Column("admin_id", sa.Text(), nullable=True),
        sa.Column("attrs", sa.JSON(), nullable=True),
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
        sa.PrimaryKeyConstraint("fid", name=op.f("pk_layer_places")),
    )
    with op.batch_alter_table("layer_places", schema=None) as batch_op:
        batch_op.create_geospatial_index(
            "idx_layer_places_geom",
            ["geom"],
            unique=False,
            postgresql_using="gist",
            postgresql_ops={},
        )

    op.create_geospatial_table(
        "layer_poles",
        sa.Column("fid", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.Text(), nullable=True),
        sa.Column("line_name", sa.Text(), nullable=True),
        sa.Column("number", sa.Text(), nullable=True),
        sa.Column("node", sa.Text(), nullable=True),
        sa.Column("line_id", sa.Text(), nullable=True),
        sa.Column("attrs", sa.JSON(), nullable=True),
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
        sa.PrimaryKeyConstraint("fid", name=op.f("pk_layer_poles")),
    )
    with op.batch_alter_table("layer_poles", schema=None) as batch_op:
        batch_op.create_geospatial_index(
            "idx_layer_poles_geom",
            ["geom"],
            unique=False,
            postgresql_using="gist",
            postgresql_ops={},
        )
        batch_op.create_index("ix_layer_poles_id", ["id"], unique=False)

    op.create_geospatial_table(
        "layer_roads",
        sa.Column("fid", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("kind", sa.Text(), nullable=True),
        sa.Column("speed_kmh", sa.Float(), nullable=True),
        sa.Column("oneway", sa.Text(), nullable=True),
        sa.Column("attrs", sa.JSON(), nullable=True),
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
        sa.PrimaryKeyConstraint("fid", name=op.f("pk_layer_roads")),
    )
    with op.batch_alter_table("layer_roads", schema=None) as batch_op:
        batch_op.create_geospatial_index(
            "idx_layer_roads_geom",
            ["geom"],
            unique=False,
            postgresql_using="gist",
            postgresql_ops={},
        )
        batch_op.create_index("ix_layer_roads_id", ["id"], unique=False)

    op.create_geospatial_table(
        "layer_schematic",
        sa.Column("fid", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("element_id", sa.Text(), nullable=True),
        sa.Column("feeder", sa.Text(), nullable=True),
        sa.Column("attrs", sa.JSON(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                dimension=2, spatial_index=False, from_text="ST_GeomFromEWKT", name="geometry"
            ),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("fid", name=op.f("pk_layer_schematic")),
    )
    with op.batch_alter_table("layer_schematic", schema=None) as batch_op:
        batch_op.create_geospatial_index(
            "idx_layer_schematic_geom",
            ["geom"],
            unique=False,
            postgresql_using="gist",
            postgresql_ops={},
        )

    op.create_geospatial_table(
        "layer_service_points",
        sa.Column("fid", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.Text(), nullable=True),
        sa.Column("account_no", sa.Text(), nullable=True),
        sa.Column("transformer_id", sa.Text(), nullable=True),
        sa.Column("node", sa.Text(), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("category", sa.Text(), nullable=True),
        sa.Column("attrs", sa.JSON(), nullable=True),
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
        sa.PrimaryKeyConstraint("fid", name=op.f("pk_layer_service_points")),
    )
    with op.batch_alter_table("layer_service_points", schema=None) as batch_op:
        batch_op.create_geospatial_index(
            "idx_layer_service_points_geom",
            ["geom"],
            unique=False,
            postgresql_using="gist",
            postgresql_ops={},
        )
        batch_op.create_index("ix_layer_service_points_account_no", ["account_no"], unique=False)
        batch_op.create_index("ix_layer_service_points_id", ["id"], unique=False)
        batch_op.create_index(
            "ix_layer_service_points_transformer_id", ["transformer_id"], unique=False
        )

    op.create_geospatial_table(
        "layer_substations",
        sa.Column("fid", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("node", sa.Text(), nullable=True),
        sa.Column("voltage_kv", sa.Float(), nullable=True),
        sa.Column("attrs", sa.JSON(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("fid", name=op.f("pk_layer_substations")),
    )
    with op.batch_alter_table("layer_substations", schema=None) as batch_op:
        batch_op.create_geospatial_index(
            "idx_layer_substations_geom",
            ["geom"],
            unique=False,
            postgresql_using="gist",
            postgresql_ops={},
        )
        batch_op.create_index("ix_layer_substations_id", ["id"], unique=False)

    op.create_geospatial_table(
        "layer_switches",
        sa.Column("fid", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.Text(), nullable=True),
        sa.Column("kind", sa.Text(), nullable=True),
        sa.Column("from_node", sa.Text(), nullable=True),
        sa.Column("to_node", sa.Text(), nullable=True),
        sa.Column("normal_state", sa.Text(), nullable=True),
        sa.Column("feeder", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("attrs", sa.JSON(), nullable=True),
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
        sa.PrimaryKeyConstraint("fid", name=op.f("pk_layer_switches")),
    )
    with op.batch_alter_table("layer_switches", schema=None) as batch_op:
        batch_op.create_geospatial_index(
            "idx_layer_switches_geom",
            ["geom"],
            unique=False,
            postgresql_using="gist",
            postgresql_ops={},
        )
        batch_op.create_index("ix_layer_switches_id", ["id"], unique=False)

    op.create_geospatial_table(
        "layer_territories",
        sa.Column("fid", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("unit_id", sa.Text(), nullable=True),
        sa.Column("id", sa.Text(), nullable=True),
        sa.Column("area_class", sa.Text(), nullable=True),
        sa.Column("attrs", sa.JSON(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("fid", name=op.f("pk_layer_territories")),
    )
    with op.batch_alter_table("layer_territories", schema=None) as batch_op:
        batch_op.create_geospatial_index(
            "idx_layer_territories_geom",
            ["geom"],
            unique=False,
            postgresql_using="gist",
            postgresql_ops={},
        )
        batch_op.create_index("ix_layer_territories_id", ["id"], unique=False)

    op.create_geospatial_table(
        "layer_transformers",
        sa.Column("fid", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("hv_node", sa.Text(), nullable=True),
        sa.Column("lv_node", sa.Text(), nullable=True),
        sa.Column("kva", sa.Float(), nullable=True),
        sa.Column("feeder", sa.Text(), nullable=True),
        sa.Column("attrs", sa.JSON(), nullable=True),
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
        sa.PrimaryKeyConstraint("fid", name=op.f("pk_layer_transformers")),
    )
    with op.batch_alter_table("layer_transformers", schema=None) as batch_op:
        batch_op.create_geospatial_index(
            "idx_layer_transformers_geom",
            ["geom"],
            unique=False,
            postgresql_using="gist",
            postgresql_ops={},
        )
        batch_op.create_index("ix_layer_transformers_id", ["id"], unique=False)

    op.create_geospatial_table(
        "layer_units",
        sa.Column("fid", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("kind", sa.Text(), nullable=True),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("attrs", sa.JSON(), nullable=True),
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
        sa.PrimaryKeyConstraint("fid", name=op.f("pk_layer_units")),
    )
    with op.batch_alter_table("layer_units", schema=None) as batch_op:
        batch_op.create_geospatial_index(
            "idx_layer_units_geom",
            ["geom"],
            unique=False,
            postgresql_using="gist",
            postgresql_ops={},
        )
        batch_op.create_index("ix_layer_units_id", ["id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("layer_units", schema=None) as batch_op:
        batch_op.drop_index("ix_layer_units_id")
        batch_op.drop_geospatial_index(
            "idx_layer_units_geom", postgresql_using="gist", column_name="geom"
        )

    op.drop_geospatial_table("layer_units")
    with op.batch_alter_table("layer_transformers", schema=None) as batch_op:
        batch_op.drop_index("ix_layer_transformers_id")
        batch_op.drop_geospatial_index(
            "idx_layer_transformers_geom", postgresql_using="gist", column_name="geom"
        )

    op.drop_geospatial_table("layer_transformers")
    with op.batch_alter_table("layer_territories", schema=None) as batch_op:
        batch_op.drop_index("ix_layer_territories_id")
        batch_op.drop_geospatial_index(
            "idx_layer_territories_geom", postgresql_using="gist", column_name="geom"
        )

    op.drop_geospatial_table("layer_territories")
    with op.batch_alter_table("layer_switches", schema=None) as batch_op:
        batch_op.drop_index("ix_layer_switches_id")
        batch_op.drop_geospatial_index(
            "idx_layer_switches_geom", postgresql_using="gist", column_name="geom"
        )

    op.drop_geospatial_table("layer_switches")
    with op.batch_alter_table("layer_substations", schema=None) as batch_op:
        batch_op.drop_index("ix_layer_substations_id")
        batch_op.drop_geospatial_index(
            "idx_layer_substations_geom", postgresql_using="gist", column_name="geom"
        )

    op.drop_geospatial_table("layer_substations")
    with op.batch_alter_table("layer_service_points", schema=None) as batch_op:
        batch_op.drop_index("ix_layer_service_points_transformer_id")
        batch_op.drop_index("ix_layer_service_points_id")
        batch_op.drop_index("ix_layer_service_points_account_no")
        batch_op.drop_geospatial_index(
            "idx_layer_service_points_geom", postgresql_using="gist", column_name="geom"
        )

    op.drop_geospatial_table("layer_service_points")
    with op.batch_alter_table("layer_schematic", schema=None) as batch_op:
        batch_op.drop_geospatial_index(
            "idx_layer_schematic_geom", postgresql_using="gist", column_name="geom"
        )

    op.drop_geospatial_table("layer_schematic")
    with op.batch_alter_table("layer_roads", schema=None) as batch_op:
        batch_op.drop_index("ix_layer_roads_id")
        batch_op.drop_geospatial_index(
            "idx_layer_roads_geom", postgresql_using="gist", column_name="geom"
        )

    op.drop_geospatial_table("layer_roads")
    with op.batch_alter_table("layer_poles", schema=None) as batch_op:
        batch_op.drop_index("ix_layer_poles_id")
        batch_op.drop_geospatial_index(
            "idx_layer_poles_geom", postgresql_using="gist", column_name="geom"
        )

    op.drop_geospatial_table("layer_poles")
    with op.batch_alter_table("layer_places", schema=None) as batch_op:
        batch_op.drop_geospatial_index(
            "idx_layer_places_geom", postgresql_using="gist", column_name="geom"
        )

    op.drop_geospatial_table("layer_places")
    with op.batch_alter_table("layer_mv_lines", schema=None) as batch_op:
        batch_op.drop_index("ix_layer_mv_lines_id")
        batch_op.drop_geospatial_index(
            "idx_layer_mv_lines_geom", postgresql_using="gist", column_name="geom"
        )

    op.drop_geospatial_table("layer_mv_lines")
    with op.batch_alter_table("layer_lv_lines", schema=None) as batch_op:
        batch_op.drop_index("ix_layer_lv_lines_id")
        batch_op.drop_geospatial_index(
            "idx_layer_lv_lines_geom", postgresql_using="gist", column_name="geom"
        )

    op.drop_geospatial_table("layer_lv_lines")
    op.drop_table("layer_imports")
    with op.batch_alter_table("layer_crews", schema=None) as batch_op:
        batch_op.drop_index("ix_layer_crews_id")
        batch_op.drop_geospatial_index(
            "idx_layer_crews_geom", postgresql_using="gist", column_name="geom"
        )

    op.drop_geospatial_table("layer_crews")
    with op.batch_alter_table("layer_admin_areas", schema=None) as batch_op:
        batch_op.drop_index("ix_layer_admin_areas_id")
        batch_op.drop_geospatial_index(
            "idx_layer_admin_areas_geom", postgresql_using="gist", column_name="geom"
        )

    op.drop_geospatial_table("layer_admin_areas")
