"""replays: update ids seen in the last day, so a replayed update is handled once

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 06:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db

revision: str = '0012'
down_revision: str | Sequence[str] | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('seen_updates',
    sa.Column('update_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('seen_at', bot.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('update_id', name=op.f('pk_seen_updates'))
    )
    with op.batch_alter_table('seen_updates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_seen_updates_seen_at'), ['seen_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('seen_updates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_seen_updates_seen_at'))
    op.drop_table('seen_updates')
