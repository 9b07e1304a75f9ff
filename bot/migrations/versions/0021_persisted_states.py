"""persistence: people's user_data and conversation states, shared by every instance

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-01 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db

revision: str = '0021'
down_revision: str | Sequence[str] | None = '0020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('persisted_states',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('telegram_id', sa.BigInteger(), nullable=False),
    sa.Column('value', sa.LargeBinary(), nullable=False),
    sa.Column('expires_at', bot.db.UTCDateTime(), nullable=True),
    sa.Column('updated_at', bot.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('name', 'key', name=op.f('pk_persisted_states'))
    )
    with op.batch_alter_table('persisted_states', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_persisted_states_telegram_id'), ['telegram_id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('persisted_states', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_persisted_states_telegram_id'))
    op.drop_table('persisted_states')
