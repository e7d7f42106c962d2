"""build_task: which figure a planned task's duration came from

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 06:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('build_task', schema=None) as batch_op:
        batch_op.add_column(sa.Column('planned_source', sa.String(length=32), nullable=False, server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('build_task', schema=None) as batch_op:
        batch_op.drop_column('planned_source')
