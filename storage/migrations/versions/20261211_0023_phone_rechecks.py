"""phone rechecks: the phones an import touched whose phone-quality holds are still to be evaluated

The phone rules of an import are evaluated for these phones only (intake.phone_quality); the index they look
policies up by, ix_policies_applicant_phone, exists since the first migration.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-11
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0023'
down_revision: str | None = '0022'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'phone_rechecks',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('phone', sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_phone_rechecks')),
    )


def downgrade() -> None:
    op.drop_table('phone_rechecks')
