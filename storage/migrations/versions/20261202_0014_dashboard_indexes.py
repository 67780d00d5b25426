"""dashboard indexes: the calls by their time (today's and the last 30 days' calls), the callback tasks by
their completion (today's completions) and by their deadline (the tasks at risk, the monthly KPIs' tasks due)

Revision ID: 0014
Revises: 0011
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
CALL_COUNTS = ['task_id', 'policy_id', 'answered_at', 'outcome', 'result_class']


def upgrade() -> None:
    # PostgreSQL reads the last 30 days' calls from the index alone (the columns the dashboard counts with)
    op.create_index('ix_calls_created_at', 'calls', ['created_at'], unique=False, postgresql_include=CALL_COUNTS)
    op.create_index('ix_callback_tasks_completed_at', 'callback_tasks', ['completed_at'], unique=False)
    op.create_index('ix_callback_tasks_deadline', 'callback_tasks', ['deadline'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_callback_tasks_deadline', table_name='callback_tasks')
    op.drop_index('ix_callback_tasks_completed_at', table_name='callback_tasks')
    op.drop_index('ix_calls_created_at', table_name='calls')
