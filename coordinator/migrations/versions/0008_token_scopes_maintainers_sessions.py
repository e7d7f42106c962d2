"""token scopes and expiry, design maintainers, server-side dashboard sessions

Existing tokens keep acting on every fablab and never expire. Every existing design gets its first
publisher (the `published_by` of its earliest version) as maintainer, so whoever published a design
before keeps publishing it, and nobody else does.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fablabs', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_api_token_name'), ['name'], unique=False)
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.alter_column('fablabs', server_default=None)
    op.create_table(
        'design_maintainer',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('design_id', sa.Integer(), nullable=False),
        sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column('added_by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['design_id'], ['design.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('design_id', 'name'),
    )
    with op.batch_alter_table('design_maintainer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_design_maintainer_design_id'), ['design_id'], unique=False)
    op.create_table(
        'dashboard_session',
        sa.Column('id_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('token_id', sa.Integer(), nullable=False),
        sa.Column('csrf', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['token_id'], ['api_token.id']),
        sa.PrimaryKeyConstraint('id_hash'),
    )
    with op.batch_alter_table('dashboard_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dashboard_session_token_id'), ['token_id'], unique=False)
    _first_publishers_maintain()


def _first_publishers_maintain() -> None:
    """One maintainer per design: who published its earliest version (ties: the lowest id)."""
    op.execute(
        """
        INSERT INTO design_maintainer (design_id, name, added_by, added_at)
        SELECT v.design_id, v.published_by, '', v.published_at
        FROM design_version v
        WHERE v.id IN (
            SELECT MIN(w.id) FROM design_version w
            WHERE w.published_by <> ''
              AND w.published_at = (SELECT MIN(x.published_at) FROM design_version x
                                    WHERE x.design_id = w.design_id AND x.published_by <> '')
            GROUP BY w.design_id
        )
        """
    )


def downgrade() -> None:
    with op.batch_alter_table('dashboard_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dashboard_session_token_id'))
    op.drop_table('dashboard_session')
    with op.batch_alter_table('design_maintainer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_design_maintainer_design_id'))
    op.drop_table('design_maintainer')
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_token_name'))
        batch_op.drop_column('expires_at')
        batch_op.drop_column('fablabs')
