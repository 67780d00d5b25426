"""dialer pauses and heartbeats: the supervisors' pauses of calling (all, a branch, a product type) with their
history, and one heartbeat row per running dialer

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'dialer_pauses',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('scope', sa.String(length=80), nullable=False),
        sa.Column('branch_code', sa.String(length=32), nullable=True),
        sa.Column('product_type', sa.Enum('traditional', 'participating', 'universal', 'investment_linked', 'health',
                                          name='producttype', native_enum=False, create_constraint=False,
                                          length=32), nullable=True),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('paused_by', sa.String(length=64), nullable=False),
        sa.Column('paused_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('resumed_by', sa.String(length=64), nullable=True),
        sa.Column('resumed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('resume_reason', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_dialer_pauses')),
    )
    op.create_index(op.f('ix_dialer_pauses_paused_at'), 'dialer_pauses', ['paused_at'], unique=False)
    # one pause in force per scope: two supervisors pausing the same branch at once get one pause, not two
    op.create_index('uq_dialer_pauses_scope_in_force', 'dialer_pauses', ['scope'], unique=True,
                    sqlite_where=sa.text('resumed_at IS NULL'), postgresql_where=sa.text('resumed_at IS NULL'))
    op.create_table(
        'dialer_heartbeats',
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_tick_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('ticks_every_s', sa.Integer(), nullable=True),
        sa.Column('in_flight', sa.Integer(), nullable=False),
        sa.Column('placed', sa.Integer(), nullable=False),
        sa.Column('paused', sa.Integer(), nullable=False),
        sa.Column('backoff_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('cps', sa.Float(), nullable=False),
        sa.Column('cps_limit', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_dialer_heartbeats')),
    )


def downgrade() -> None:
    op.drop_table('dialer_heartbeats')
    op.drop_index('uq_dialer_pauses_scope_in_force', table_name='dialer_pauses')
    op.drop_index(op.f('ix_dialer_pauses_paused_at'), table_name='dialer_pauses')
    op.drop_table('dialer_pauses')
