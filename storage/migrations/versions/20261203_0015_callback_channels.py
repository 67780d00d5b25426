"""callback channels: the channel a callback task is on now (phone, ecallback, letter, visit) and the channel
each questionnaire session ran on (a Twilio call, or the same questionnaire off the phone)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _channel() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column('channel', sa.Enum('phone', 'ecallback', 'letter', 'visit', name='callbackchannel',
                                        native_enum=False, create_constraint=False, length=32),
                     server_default='phone', nullable=False)


def upgrade() -> None:
    # a constant default: PostgreSQL adds the column without rewriting the table
    op.add_column('callback_tasks', _channel())
    op.add_column('calls', _channel())


def downgrade() -> None:
    # plain ALTER TABLE … DROP COLUMN (SQLite ≥ 3.35 and PostgreSQL): a batch copy would drop the tables that
    # events, recordings and cases point at, which SQLite's foreign keys refuse once they have rows
    op.drop_column('calls', 'channel')
    op.drop_column('callback_tasks', 'channel')
