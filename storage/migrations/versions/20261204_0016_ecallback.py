"""e-callback: the SMS queue and the simulated provider's outbox, e-callback links with their one-time codes,
snapshots of the key screens; call events name the applicant as who answered off the phone (a wider column)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table('call_events') as batch:
        batch.alter_column('who', existing_type=sa.String(length=8), type_=sa.String(length=16),
                           existing_nullable=False)
    op.create_table(
        'sms_messages',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('to_number', sa.String(length=32), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('purpose', sa.String(length=16), nullable=False),
        sa.Column('task_id', sa.Integer(), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_try_at', TS, nullable=True),
        sa.Column('claimed_by', sa.String(length=64), nullable=True),
        sa.Column('claim_expires_at', TS, nullable=True),
        sa.Column('provider_sid', sa.String(length=64), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('sent_at', TS, nullable=True),
        sa.Column('created_at', TS, nullable=False),
        sa.Column('updated_at', TS, nullable=False),
        sa.ForeignKeyConstraint(['task_id'], ['callback_tasks.id'],
                                name=op.f('fk_sms_messages_task_id_callback_tasks')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sms_messages')),
    )
    op.create_index(op.f('ix_sms_messages_task_id'), 'sms_messages', ['task_id'], unique=False)
    op.create_index(op.f('ix_sms_messages_status'), 'sms_messages', ['status'], unique=False)
    op.create_table(
        'sms_outbox',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('message_sid', sa.String(length=64), nullable=False),
        sa.Column('to_number', sa.String(length=32), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('sent_at', TS, nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sms_outbox')),
        sa.UniqueConstraint('message_sid', name=op.f('uq_sms_outbox_message_sid')),
    )
    op.create_index(op.f('ix_sms_outbox_to_number'), 'sms_outbox', ['to_number'], unique=False)
    op.create_table(
        'ecallback_links',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('task_id', sa.Integer(), nullable=False),
        sa.Column('policy_id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('expires_at', TS, nullable=False),
        sa.Column('message_id', sa.Integer(), nullable=True),
        sa.Column('call_id', sa.Integer(), nullable=True),
        sa.Column('code_hash', sa.String(length=64), nullable=True),
        sa.Column('code_salt', sa.String(length=32), nullable=True),
        sa.Column('code_expires_at', TS, nullable=True),
        sa.Column('code_sent_at', TS, nullable=True),
        sa.Column('codes_sent', sa.Integer(), nullable=False),
        sa.Column('wrong_codes', sa.Integer(), nullable=False),
        sa.Column('locked_at', TS, nullable=True),
        sa.Column('verified_at', TS, nullable=True),
        sa.Column('used_at', TS, nullable=True),
        sa.Column('closed_at', TS, nullable=True),
        sa.Column('closed_reason', sa.String(length=32), nullable=True),
        sa.Column('created_at', TS, nullable=False),
        sa.Column('updated_at', TS, nullable=False),
        sa.ForeignKeyConstraint(['task_id'], ['callback_tasks.id'],
                                name=op.f('fk_ecallback_links_task_id_callback_tasks')),
        sa.ForeignKeyConstraint(['policy_id'], ['policies.id'], name=op.f('fk_ecallback_links_policy_id_policies')),
        sa.ForeignKeyConstraint(['message_id'], ['sms_messages.id'],
                                name=op.f('fk_ecallback_links_message_id_sms_messages')),
        sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name=op.f('fk_ecallback_links_call_id_calls')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_ecallback_links')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_ecallback_links_token_hash')),
    )
    op.create_index(op.f('ix_ecallback_links_task_id'), 'ecallback_links', ['task_id'], unique=False)
    op.create_index(op.f('ix_ecallback_links_policy_id'), 'ecallback_links', ['policy_id'], unique=False)
    op.create_table(
        'ecallback_snapshots',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('call_id', sa.Integer(), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('path', sa.String(length=512), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('size_bytes', sa.Integer(), nullable=False),
        sa.Column('stored_at', TS, nullable=False),
        sa.Column('retain_until', sa.Date(), nullable=True),
        sa.Column('purged_at', TS, nullable=True),
        sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name=op.f('fk_ecallback_snapshots_call_id_calls')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_ecallback_snapshots')),
    )
    op.create_index(op.f('ix_ecallback_snapshots_call_id'), 'ecallback_snapshots', ['call_id'], unique=False)


def downgrade() -> None:
    op.drop_table('ecallback_snapshots')
    op.drop_table('ecallback_links')
    op.drop_table('sms_outbox')
    op.drop_table('sms_messages')
    with op.batch_alter_table('call_events') as batch:
        batch.alter_column('who', existing_type=sa.String(length=16), type_=sa.String(length=8),
                           existing_nullable=False)
