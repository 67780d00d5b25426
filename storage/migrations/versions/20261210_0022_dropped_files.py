"""dropped files: the drop folder's imports, one row per distinct content (SHA-256, unique)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-10
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0022'
down_revision: str | None = '0021'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        'dropped_files',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('file_name', sa.String(length=255), nullable=False),
        sa.Column('folder', sa.String(length=1024), nullable=False),
        sa.Column('size_bytes', sa.BigInteger(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('imported_by', sa.String(length=64), nullable=False),
        sa.Column('claimed_by', sa.String(length=64), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('started_at', TS, nullable=False),
        sa.Column('heartbeat_at', TS, nullable=False),
        sa.Column('finished_at', TS, nullable=True),
        sa.Column('moved_to', sa.String(length=1024), nullable=True),
        sa.Column('summary', sa.JSON(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_dropped_files')),
        sa.UniqueConstraint('sha256', name=op.f('uq_dropped_files_sha256')),
    )
    op.create_index(op.f('ix_dropped_files_status'), 'dropped_files', ['status'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_dropped_files_status'), table_name='dropped_files')
    op.drop_table('dropped_files')
