"""patrol: a shift's days of the week, a duty offered to a teammate for a swap

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0017'
down_revision: str | Sequence[str] | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('patrol_shifts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('weekdays', sa.Integer(), nullable=False,
                                      server_default='127'))
    with op.batch_alter_table('patrol_duties', schema=None) as batch_op:
        batch_op.add_column(sa.Column('swap_offered_to_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_patrol_duties_swap_offered_to_id_people'), 'people',
            ['swap_offered_to_id'], ['id'], ondelete='SET NULL')


def downgrade() -> None:
    with op.batch_alter_table('patrol_duties', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_patrol_duties_swap_offered_to_id_people'),
                                 type_='foreignkey')
        batch_op.drop_column('swap_offered_to_id')
    with op.batch_alter_table('patrol_shifts', schema=None) as batch_op:
        batch_op.drop_column('weekdays')
