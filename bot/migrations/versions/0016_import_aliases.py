"""import aliases: a roster's team, role and area names mapped once; an upload's choices

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db

revision: str = '0016'
down_revision: str | Sequence[str] | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('import_aliases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scope_path', sa.String(length=255), nullable=False),
    sa.Column('kind', sa.Enum('team', 'role', 'area', name='importaliaskind', native_enum=False, create_constraint=False, length=20), nullable=False),
    sa.Column('text', sa.String(length=100), nullable=False),
    sa.Column('target', sa.String(length=32), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', bot.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['people.id'], name=op.f('fk_import_aliases_created_by_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_aliases')),
    sa.UniqueConstraint('scope_path', 'kind', 'text', name=op.f('uq_import_aliases_scope_path_kind_text'))
    )
    with op.batch_alter_table('import_aliases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_import_aliases_scope_path'), ['scope_path'], unique=False)
    with op.batch_alter_table('pending_uploads', schema=None) as batch_op:
        batch_op.add_column(sa.Column('choices', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('pending_uploads', schema=None) as batch_op:
        batch_op.drop_column('choices')
    with op.batch_alter_table('import_aliases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_import_aliases_scope_path'))
    op.drop_table('import_aliases')
