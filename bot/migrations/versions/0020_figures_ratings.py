"""figures: residents' satisfaction with resolved reports (asked once, counted once)

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-30 06:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db

revision: str = '0020'
down_revision: str | Sequence[str] | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('tipoff_ratings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tipoff_id', sa.Integer(), nullable=False),
    sa.Column('asked_at', bot.db.UTCDateTime(), nullable=False),
    sa.Column('score', sa.Integer(), nullable=True),
    sa.Column('rated_at', bot.db.UTCDateTime(), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('comment_message_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['tipoff_id'], ['tipoffs.id'], name=op.f('fk_tipoff_ratings_tipoff_id_tipoffs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tipoff_ratings')),
    sa.UniqueConstraint('tipoff_id', name=op.f('uq_tipoff_ratings_tipoff_id'))
    )
    with op.batch_alter_table('tipoff_ratings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tipoff_ratings_rated_at'), ['rated_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('tipoff_ratings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tipoff_ratings_rated_at'))
    op.drop_table('tipoff_ratings')
