"""retention of the outbox and of the API's kept answers

`integration_pruned` keeps, per event type, the last event retention deleted (integration.retention), so the
results feed can refuse a cursor that would skip deleted events; `created_at` indexes let retention find old
rows of integration_events and api_idempotency without reading the whole table.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-12
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0024'
down_revision: str | None = '0023'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'integration_pruned',
        sa.Column('type', sa.String(length=32), nullable=False),
        sa.Column('txid', sa.BigInteger(), nullable=False),
        sa.Column('event_pk', sa.BigInteger(), nullable=False),
        sa.Column('deleted', sa.BigInteger(), nullable=False),
        sa.Column('pruned_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('type', name=op.f('pk_integration_pruned')),
    )
    op.create_index(op.f('ix_integration_events_created_at'), 'integration_events', ['created_at'], unique=False)
    op.create_index(op.f('ix_api_idempotency_created_at'), 'api_idempotency', ['created_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_api_idempotency_created_at'), table_name='api_idempotency')
    op.drop_index(op.f('ix_integration_events_created_at'), table_name='integration_events')
    op.drop_table('integration_pruned')
