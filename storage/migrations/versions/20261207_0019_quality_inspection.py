"""quality inspection (质检): the monthly sample of calls and cases, and the reviews of each

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07

A call or a case is drawn at most once (unique), whatever the period. A sample carries a version for optimistic
locking (a stale review form is refused); its reviews keep the reviewer's marks on each answer the robot heard.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        'qa_samples',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('period', sa.String(length=7), nullable=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('call_id', sa.Integer(), nullable=True),
        sa.Column('case_id', sa.Integer(), nullable=True),
        sa.Column('branch_id', sa.Integer(), nullable=False),
        sa.Column('stratum', sa.String(length=64), nullable=False),
        sa.Column('seed', sa.String(length=64), nullable=False),
        sa.Column('drawn_at', TS, nullable=False),
        sa.Column('drawn_by', sa.String(length=64), nullable=False),
        sa.Column('reviewed_at', TS, nullable=True),
        sa.Column('version_id', sa.Integer(), server_default='1', nullable=False),
        sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name=op.f('fk_qa_samples_call_id_calls')),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_qa_samples_case_id_cases')),
        sa.ForeignKeyConstraint(['branch_id'], ['branches.id'], name=op.f('fk_qa_samples_branch_id_branches')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_qa_samples')),
        sa.UniqueConstraint('call_id', name=op.f('uq_qa_samples_call_id')),
        sa.UniqueConstraint('case_id', name=op.f('uq_qa_samples_case_id')),
    )
    op.create_index(op.f('ix_qa_samples_period'), 'qa_samples', ['period'], unique=False)
    op.create_index(op.f('ix_qa_samples_branch_id'), 'qa_samples', ['branch_id'], unique=False)
    op.create_table(
        'qa_reviews',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('sample_id', sa.Integer(), nullable=False),
        sa.Column('reviewer', sa.String(length=64), nullable=False),
        sa.Column('at', TS, nullable=False),
        sa.Column('opinion', sa.String(length=8), nullable=False),
        sa.Column('marks', sa.JSON(), nullable=False),
        sa.Column('result_correct', sa.Boolean(), nullable=True),
        sa.Column('result_before', sa.String(length=16), nullable=True),
        sa.Column('result_after', sa.String(length=16), nullable=True),
        sa.Column('followed_rules', sa.Boolean(), nullable=True),
        sa.Column('score', sa.Integer(), nullable=True),
        sa.Column('remarks', sa.Text(), nullable=False),
        sa.Column('language', sa.String(length=16), nullable=True),
        sa.Column('model', sa.String(length=128), nullable=True),
        sa.Column('channel', sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(['sample_id'], ['qa_samples.id'], name=op.f('fk_qa_reviews_sample_id_qa_samples')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_qa_reviews')),
    )
    op.create_index(op.f('ix_qa_reviews_sample_id'), 'qa_reviews', ['sample_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_qa_reviews_sample_id'), table_name='qa_reviews')
    op.drop_table('qa_reviews')
    op.drop_index(op.f('ix_qa_samples_branch_id'), table_name='qa_samples')
    op.drop_index(op.f('ix_qa_samples_period'), table_name='qa_samples')
    op.drop_table('qa_samples')
