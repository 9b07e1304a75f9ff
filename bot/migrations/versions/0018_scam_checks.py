"""scamcheck: checks kept as kind, verdict, community and time; early warnings to staff

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30 07:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db

revision: str = '0018'
down_revision: str | Sequence[str] | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('scam_checks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=True),
    sa.Column('verdict', sa.Enum('high', 'suspicious', 'none', name='verdict', native_enum=False,
                                 create_constraint=False, length=20), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=True),
    sa.Column('repeat', sa.Boolean(), nullable=False),
    sa.Column('checked_at', bot.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['areas.id'],
                            name=op.f('fk_scam_checks_community_id_areas'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scam_checks'))
    )
    with op.batch_alter_table('scam_checks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scam_checks_checked_at'), ['checked_at'],
                              unique=False)
        batch_op.create_index('ix_scam_checks_community_kind_at',
                              ['community_id', 'kind', 'checked_at'], unique=False)
    op.create_table('scam_warnings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('tip_id', sa.String(length=64), nullable=False),
    sa.Column('warned_at', bot.db.UTCDateTime(), nullable=False),
    sa.Column('broadcast_id', sa.Integer(), nullable=True),
    sa.Column('sent_by_id', sa.Integer(), nullable=True),
    sa.Column('sent_at', bot.db.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['community_id'], ['areas.id'],
                            name=op.f('fk_scam_warnings_community_id_areas'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sent_by_id'], ['people.id'],
                            name=op.f('fk_scam_warnings_sent_by_id_people'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scam_warnings')),
    sa.UniqueConstraint('community_id', 'kind',
                        name=op.f('uq_scam_warnings_community_id_kind'))
    )


def downgrade() -> None:
    op.drop_table('scam_warnings')
    with op.batch_alter_table('scam_checks', schema=None) as batch_op:
        batch_op.drop_index('ix_scam_checks_community_kind_at')
        batch_op.drop_index(batch_op.f('ix_scam_checks_checked_at'))
    op.drop_table('scam_checks')
