"""questions: residents ask their community staff; prompts for the staff's answers

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-25 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db

revision: str = '0015'
down_revision: str | Sequence[str] | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('questions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=16), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('anonymous', sa.Boolean(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('status', sa.Enum('open', 'answered', name='questionstatus', native_enum=False,
                                create_constraint=False, length=20), nullable=False),
    sa.Column('answer', sa.Text(), nullable=True),
    sa.Column('answered_by_id', sa.Integer(), nullable=True),
    sa.Column('answer_named', sa.Boolean(), nullable=False),
    sa.Column('answered_at', bot.db.UTCDateTime(), nullable=True),
    sa.Column('created_at', bot.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['answered_by_id'], ['people.id'],
                            name=op.f('fk_questions_answered_by_id_people')),
    sa.ForeignKeyConstraint(['area_id'], ['areas.id'], name=op.f('fk_questions_area_id_areas')),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'],
                            name=op.f('fk_questions_person_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_questions')),
    sa.UniqueConstraint('reference', name=op.f('uq_questions_reference'))
    )
    with op.batch_alter_table('questions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_questions_area_id'), ['area_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_questions_person_id'), ['person_id'], unique=False)
    op.create_table('question_prompts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('chat_id', sa.BigInteger(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('question_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('named', sa.Boolean(), nullable=False),
    sa.Column('card_message_id', sa.Integer(), nullable=True),
    sa.Column('created_at', bot.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'],
                            name=op.f('fk_question_prompts_person_id_people'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['question_id'], ['questions.id'],
                            name=op.f('fk_question_prompts_question_id_questions'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_question_prompts')),
    sa.UniqueConstraint('chat_id', 'message_id',
                        name=op.f('uq_question_prompts_chat_id_message_id'))
    )


def downgrade() -> None:
    op.drop_table('question_prompts')
    with op.batch_alter_table('questions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_questions_person_id'))
        batch_op.drop_index(batch_op.f('ix_questions_area_id'))
    op.drop_table('questions')
