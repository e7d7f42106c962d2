"""ledger events, fablab hourly rates

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 05:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table('ledger_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', _text(300), nullable=False),
    sa.Column('source_kind', _text(16), nullable=False),
    sa.Column('source_id', _text(130), nullable=False),
    sa.Column('action', _text(16), nullable=False),
    sa.Column('provider', _text(200), nullable=False),
    sa.Column('receiver', _text(200), nullable=False),
    sa.Column('resource_kind', _text(16), nullable=False),
    sa.Column('resource', _text(300), nullable=False),
    sa.Column('quantity', sa.Float(), nullable=False),
    sa.Column('unit', _text(8), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('begin', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end', sa.DateTime(timezone=True), nullable=True),
    sa.Column('build_id', _text(32), nullable=True),
    sa.Column('job_id', _text(32), nullable=True),
    sa.Column('design', _text(64), nullable=True),
    sa.Column('design_version', _text(64), nullable=True),
    sa.Column('fablab', _text(63), nullable=True),
    sa.Column('machine_id', _text(63), nullable=True),
    sa.Column('spool_id', sa.Integer(), nullable=True),
    sa.Column('note', _text(500), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key', name='uq_ledger_event_key')
    )
    with op.batch_alter_table('ledger_event', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_event_at', ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_event_build_id'), ['build_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_event_job_id'), ['job_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_event_design'), ['design'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_event_fablab'), ['fablab'], unique=False)
    with op.batch_alter_table('fablab_profile', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hourly_rate', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('currency', _text(3), nullable=False, server_default='EUR'))


def downgrade() -> None:
    with op.batch_alter_table('fablab_profile', schema=None) as batch_op:
        batch_op.drop_column('currency')
        batch_op.drop_column('hourly_rate')
    with op.batch_alter_table('ledger_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_event_fablab'))
        batch_op.drop_index(batch_op.f('ix_ledger_event_design'))
        batch_op.drop_index(batch_op.f('ix_ledger_event_job_id'))
        batch_op.drop_index(batch_op.f('ix_ledger_event_build_id'))
        batch_op.drop_index('ix_ledger_event_at')
    op.drop_table('ledger_event')
