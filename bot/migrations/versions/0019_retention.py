"""retention: when a report's media were deleted, when a person left

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 07:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db

revision: str = '0019'
down_revision: str | Sequence[str] | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('tipoffs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('media_deleted_at', bot.db.UTCDateTime(), nullable=True))
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.add_column(sa.Column('left_at', bot.db.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.drop_column('left_at')
    with op.batch_alter_table('tipoffs', schema=None) as batch_op:
        batch_op.drop_column('media_deleted_at')
