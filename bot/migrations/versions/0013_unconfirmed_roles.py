"""directory: roles and leadership from a roster matched by username wait for confirmation

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-24 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | Sequence[str] | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unconfirmed_role', sa.Enum(
            'admin', 'staff', 'member', 'resident', name='role', native_enum=False, length=20),
            nullable=True))
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unconfirmed_leader', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.drop_column('unconfirmed_leader')
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.drop_column('unconfirmed_role')
