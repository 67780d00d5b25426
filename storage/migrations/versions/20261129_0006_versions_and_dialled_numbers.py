"""optimistic locking on tasks and cases; the number each call dialled; hold sources as vocabulary; the
time each case turns warning (one SLA truth)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('callback_tasks') as batch_op:
        batch_op.add_column(sa.Column('version_id', sa.Integer(), nullable=False, server_default='1'))
    with op.batch_alter_table('cases') as batch_op:
        batch_op.add_column(sa.Column('version_id', sa.Integer(), nullable=False, server_default='1'))
        batch_op.add_column(sa.Column('warn_at', sa.DateTime(timezone=True), nullable=True))
    _backfill_warn_at()
    with op.batch_alter_table('cases') as batch_op:
        batch_op.alter_column('warn_at', existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.create_index(batch_op.f('ix_cases_warn_at'), ['warn_at'], unique=False)
    with op.batch_alter_table('calls') as batch_op:
        batch_op.add_column(sa.Column('dialled_number', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('caller_id', sa.String(length=32), nullable=True))
    with op.batch_alter_table('task_holds') as batch_op:
        batch_op.alter_column('source', existing_type=sa.String(length=16), type_=sa.String(length=32),
                              existing_nullable=False, existing_server_default='intake')
    # calls placed before this revision keep NULL: the number they dialled was not recorded (the policy's
    # number now may have been corrected since), and a guess would tie a complaint to the wrong number


def _backfill_warn_at() -> None:
    """Cases opened before this revision: the shipped warning thresholds (2 days before due, or 70 % of the
    time elapsed), which is what the live computation used for them until now unless configured otherwise."""
    from datetime import timedelta

    bind = op.get_bind()
    cases = sa.table('cases', sa.column('id', sa.Integer), sa.column('created_at', sa.DateTime(timezone=True)),
                     sa.column('due_at', sa.DateTime(timezone=True)), sa.column('warn_at', sa.DateTime(timezone=True)))
    rows = bind.execute(sa.select(cases.c.id, cases.c.created_at, cases.c.due_at)).all()
    for case_id, created, due in rows:
        warn = max(created, min(due - timedelta(days=2), created + (due - created) * 0.7))
        bind.execute(sa.update(cases).where(cases.c.id == case_id).values(warn_at=warn))


def downgrade() -> None:
    with op.batch_alter_table('task_holds') as batch_op:
        batch_op.alter_column('source', existing_type=sa.String(length=32), type_=sa.String(length=16),
                              existing_nullable=False, existing_server_default='intake')
    with op.batch_alter_table('calls') as batch_op:
        batch_op.drop_column('caller_id')
        batch_op.drop_column('dialled_number')
    with op.batch_alter_table('cases') as batch_op:
        batch_op.drop_column('version_id')
        batch_op.drop_index(batch_op.f('ix_cases_warn_at'))
        batch_op.drop_column('warn_at')
    with op.batch_alter_table('callback_tasks') as batch_op:
        batch_op.drop_column('version_id')
