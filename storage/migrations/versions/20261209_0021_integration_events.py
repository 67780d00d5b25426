"""integration events: the outbox of result notifications and the results feed

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-09

One row per change the core system hears of, written in the change's own transaction. On PostgreSQL each row
keeps the id of the transaction that wrote it (`txid`, pg_current_xact_id()), so the feed can hold back the
events of transactions still open (integration.feed); SQLite serialises writers, its rows keep 0.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0021'
down_revision: str | None = '0020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
PENDING = sa.text("delivered_at IS NULL AND dead_at IS NULL")
DEAD = sa.text("dead_at IS NOT NULL")


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    txid_default = sa.text("(pg_current_xact_id()::text::bigint)") if postgresql else sa.text("0")
    op.create_table(
        'integration_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('event_id', sa.String(length=36), nullable=False),
        sa.Column('type', sa.String(length=32), nullable=False),
        sa.Column('policy_no', sa.String(length=40), nullable=False),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.Column('created_at', TS, nullable=False),
        sa.Column('txid', sa.BigInteger(), server_default=txid_default, nullable=False),
        sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
        sa.Column('next_attempt_at', TS, nullable=True),
        sa.Column('delivered_at', TS, nullable=True),
        sa.Column('dead_at', TS, nullable=True),
        sa.Column('resent_at', TS, nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('claimed_by', sa.String(length=64), nullable=True),
        sa.Column('claim_expires_at', TS, nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_integration_events')),
        sa.UniqueConstraint('event_id', name=op.f('uq_integration_events_event_id')),
    )
    op.create_index(op.f('ix_integration_events_policy_no'), 'integration_events', ['policy_no'], unique=False)
    op.create_index('ix_integration_events_feed', 'integration_events', ['type', 'txid', 'id'], unique=False)
    op.create_index('ix_integration_events_pending', 'integration_events', ['next_attempt_at'], unique=False,
                    postgresql_where=PENDING, sqlite_where=PENDING)
    op.create_index('ix_integration_events_dead', 'integration_events', ['dead_at'], unique=False,
                    postgresql_where=DEAD, sqlite_where=DEAD)


def downgrade() -> None:
    op.drop_index('ix_integration_events_dead', table_name='integration_events')
    op.drop_index('ix_integration_events_pending', table_name='integration_events')
    op.drop_index('ix_integration_events_feed', table_name='integration_events')
    op.drop_index(op.f('ix_integration_events_policy_no'), table_name='integration_events')
    op.drop_table('integration_events')
