"""lines' inner nodes where a tee cuts them (via_nodes)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 05:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# plain ALTER TABLE (SQLite 3.35 and newer drop a column in place): a batch operation
# would copy and rename the table, which SpatiaLite's geometry triggers refuse


def upgrade() -> None:
    for table in ("layer_mv_lines", "layer_lv_lines"):
        op.add_column(table, sa.Column("via_nodes", sa.Text(), nullable=True))


def downgrade() -> None:
    for table in ("layer_lv_lines", "layer_mv_lines"):
        op.drop_column(table, "via_nodes")
