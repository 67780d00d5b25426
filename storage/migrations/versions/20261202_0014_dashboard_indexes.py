"""dashboard indexes: the calls by their time (today's and the last 30 days' calls), the callback tasks by
their completion (today's completions) and by their deadline (the tasks at risk, the monthly KPIs' tasks due)

Revision ID: 0014
Revises: 0011
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0014'
down_revision: str | None = '0011'  # re-pointed at the merge after 0012 and 0013, built beside it
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_calls_created_at', 'calls', ['created_at'], unique=False)
    op.create_index('ix_callback_tasks_completed_at', 'callback_tasks', ['completed_at'], unique=False)
    op.create_index('ix_callback_tasks_deadline', 'callback_tasks', ['deadline'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_callback_tasks_deadline', table_name='callback_tasks')
    op.drop_index('ix_callback_tasks_completed_at', table_name='callback_tasks')
    op.drop_index('ix_calls_created_at', table_name='calls')
