"""job: what the machine's own preparation expects (time, filament), once it prepared the file

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.add_column(sa.Column('estimate_s', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('filament_mm', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('filament_g', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('estimate_source', sa.String(length=200), nullable=False, server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_column('estimate_source')
        batch_op.drop_column('filament_g')
        batch_op.drop_column('filament_mm')
        batch_op.drop_column('estimate_s')
