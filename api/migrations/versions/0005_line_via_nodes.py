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


def upgrade() -> None:
    for table in ("layer_mv_lines", "layer_lv_lines"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("via_nodes", sa.Text(), nullable=True))


def downgrade() -> None:
    for table in ("layer_lv_lines", "layer_mv_lines"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("via_nodes")
