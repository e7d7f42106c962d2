"""job queue-order index: state, priority descending, created_at, id

The dispatcher reads the queue as `WHERE state = 'queued' ORDER BY priority DESC, created_at, id
LIMIT n`. The old index (state, priority, created_at) found the queued rows but not in that order,
so every dispatch round sorted the whole queue; this one yields the first n rows in order.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_index('ix_job_state_priority_created')
        batch_op.create_index(
            'ix_job_queue_order', ['state', sa.text('priority DESC'), 'created_at', 'id'], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_index('ix_job_queue_order')
        batch_op.create_index('ix_job_state_priority_created', ['state', 'priority', 'created_at'], unique=False)
