"""fablab_profile: description, address, contact and declared equipment (Open Know-Where)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('fablab_profile', schema=None) as batch_op:
        batch_op.add_column(sa.Column('description', sa.String(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('address', sa.JSON(), nullable=False, server_default=sa.text("'{}'")))
        batch_op.add_column(sa.Column('contact', sa.JSON(), nullable=False, server_default=sa.text("'{}'")))
        batch_op.add_column(sa.Column('equipment', sa.JSON(), nullable=False, server_default=sa.text("'[]'")))


def downgrade() -> None:
    with op.batch_alter_table('fablab_profile', schema=None) as batch_op:
        batch_op.drop_column('equipment')
        batch_op.drop_column('contact')
        batch_op.drop_column('address')
        batch_op.drop_column('description')
