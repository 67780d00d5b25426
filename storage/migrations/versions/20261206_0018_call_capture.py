"""call capture: how a call takes spoken answers (record | stream | keypad) and which turn listens for one

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06

A streamed answer (issue 18) moves the live call on only if the turn it was heard in is still the call's
current turn and that turn listens for speech (calls.speech_seq): the compare-and-set that decides between
a stream result, a key and the <Gather> timeout. `capture` turns to "record" when a call's stream fails.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('calls', sa.Column('capture', sa.String(length=16), nullable=True))
    op.add_column('calls', sa.Column('speech_seq', sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column('calls', 'speech_seq')
    op.drop_column('calls', 'capture')
