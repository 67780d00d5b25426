"""agent lines: the dial target (ivr.agent_target) that reaches a console agent, and the target each call
was handed to — the link between a hand-off and the agent desk

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('users') as batch_op:
        batch_op.add_column(sa.Column('agent_line', sa.String(length=128), nullable=True))
    with op.batch_alter_table('calls') as batch_op:
        batch_op.add_column(sa.Column('handoff_target', sa.String(length=128), nullable=True))
        batch_op.create_index(batch_op.f('ix_calls_handoff_target'), ['handoff_target'], unique=False)
    _backfill_handoff_target()


def _backfill_handoff_target() -> None:
    """Calls handed off before this revision: the target their hand-off event recorded (detail.agent)."""
    bind = op.get_bind()
    calls = sa.table('calls', sa.column('id', sa.Integer), sa.column('handoff_target', sa.String))
    events = sa.table('call_events', sa.column('call_id', sa.Integer), sa.column('seq', sa.Integer),
                      sa.column('kind', sa.String), sa.column('detail', sa.JSON))
    rows = bind.execute(sa.select(events.c.call_id, events.c.detail).where(events.c.kind == 'handoff')
                        .order_by(events.c.call_id, events.c.seq)).all()
    targets: dict[int, str] = {}
    for call_id, detail in rows:
        target = (detail or {}).get('agent') or ''
        if target:
            targets[call_id] = str(target)[:128]  # the last hand-off of a call wins
    for call_id, target in targets.items():
        bind.execute(sa.update(calls).where(calls.c.id == call_id).values(handoff_target=target))


def downgrade() -> None:
    # plain ALTER TABLE … DROP COLUMN (SQLite ≥ 3.35 and PostgreSQL): a batch copy of `calls` would drop the
    # table its events, recordings and cases point at, which SQLite's foreign keys refuse once it has rows
    op.drop_index(op.f('ix_calls_handoff_target'), table_name='calls')
    op.drop_column('calls', 'handoff_target')
    op.drop_column('users', 'agent_line')
