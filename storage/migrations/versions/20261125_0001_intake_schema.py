"""intake schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('branches',
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_branches')),
    sa.UniqueConstraint('code', name=op.f('uq_branches_code'))
    )
    op.create_table('agents',
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('phone', sa.String(length=32), nullable=False),
    sa.Column('branch_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['branch_id'], ['branches.id'], name=op.f('fk_agents_branch_id_branches')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agents')),
    sa.UniqueConstraint('code', name=op.f('uq_agents_code'))
    )
    op.create_table('policies',
    sa.Column('policy_no', sa.String(length=40), nullable=False),
    sa.Column('product_code', sa.String(length=40), nullable=False),
    sa.Column('product_name', sa.String(length=128), nullable=False),
    sa.Column('product_type', sa.Enum('traditional', 'participating', 'universal', 'investment_linked', 'health', name='producttype', native_enum=False, length=32), nullable=False),
    sa.Column('channel', sa.Enum('agency', 'bancassurance', 'intermediary', 'telesales', 'internet', name='channel', native_enum=False, length=32), nullable=False),
    sa.Column('policy_term_years', sa.Integer(), nullable=True),
    sa.Column('guaranteed_renewal', sa.Boolean(), nullable=False),
    sa.Column('is_group', sa.Boolean(), nullable=False),
    sa.Column('premium', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('payment_frequency', sa.Enum('single', 'annual', 'semiannual', 'quarterly', 'monthly', name='paymentfrequency', native_enum=False, length=32), nullable=False),
    sa.Column('payment_years', sa.Integer(), nullable=False),
    sa.Column('issue_date', sa.Date(), nullable=False),
    sa.Column('receipt_signed_date', sa.Date(), nullable=True),
    sa.Column('receipt_logged_date', sa.Date(), nullable=True),
    sa.Column('cooling_off_days', sa.Integer(), nullable=False),
    sa.Column('cooling_off_end', sa.Date(), nullable=True),
    sa.Column('applicant_name', sa.String(length=64), nullable=False),
    sa.Column('applicant_gender', sa.Enum('M', 'F', name='gender', native_enum=False, length=32), nullable=False),
    sa.Column('applicant_birth_date', sa.Date(), nullable=False),
    sa.Column('applicant_id_no', sa.String(length=32), nullable=False),
    sa.Column('applicant_phone', sa.String(length=32), nullable=False),
    sa.Column('applicant_phone_valid', sa.Boolean(), nullable=False),
    sa.Column('applicant_phone2', sa.String(length=32), nullable=True),
    sa.Column('insured_name', sa.String(length=64), nullable=False),
    sa.Column('insured_is_applicant', sa.Boolean(), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=False),
    sa.Column('agent_is_applicant', sa.Boolean(), nullable=False),
    sa.Column('branch_id', sa.Integer(), nullable=False),
    sa.Column('bank_name', sa.String(length=128), nullable=True),
    sa.Column('dual_recorded', sa.Boolean(), nullable=False),
    sa.Column('dual_recorded_derived', sa.Boolean(), nullable=False),
    sa.Column('callback_required', sa.Boolean(), nullable=False),
    sa.Column('exclusion_reason', sa.Enum('group_business', 'term_one_year_or_less', name='exclusionreason', native_enum=False, length=32), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_policies_agent_id_agents')),
    sa.ForeignKeyConstraint(['branch_id'], ['branches.id'], name=op.f('fk_policies_branch_id_branches')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policies')),
    sa.UniqueConstraint('policy_no', name=op.f('uq_policies_policy_no'))
    )
    with op.batch_alter_table('policies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_policies_agent_id'), ['agent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_policies_applicant_phone'), ['applicant_phone'], unique=False)
        batch_op.create_index(batch_op.f('ix_policies_branch_id'), ['branch_id'], unique=False)

    op.create_table('callback_tasks',
    sa.Column('policy_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('queued', 'held', 'in_progress', 'completed', 'cancelled', name='taskstatus', native_enum=False, length=32), nullable=False),
    sa.Column('opens_on', sa.Date(), nullable=False),
    sa.Column('deadline', sa.Date(), nullable=False),
    sa.Column('questionnaire_variant', sa.Enum('A', 'B', name='questionnairevariant', native_enum=False, length=32), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('result_class', sa.Enum('standard', 'sub_standard', 'problem', 'verification', name='resultclass', native_enum=False, length=32), nullable=True),
    sa.Column('reason_codes', sa.JSON(), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['policy_id'], ['policies.id'], name=op.f('fk_callback_tasks_policy_id_policies')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_callback_tasks')),
    sa.UniqueConstraint('policy_id', name=op.f('uq_callback_tasks_policy_id'))
    )
    with op.batch_alter_table('callback_tasks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_callback_tasks_status'), ['status'], unique=False)

    op.create_table('cases',
    sa.Column('policy_id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=True),
    sa.Column('branch_id', sa.Integer(), nullable=False),
    sa.Column('type', sa.Enum('verification_case', 'dialect_case', 'first_explanation_case', 'second_explanation_case', 'mis_selling_case', 'proxy_signature_case', 'in_person_visit_case', 'letter_case', 'contract_quality_case', name='casetype', native_enum=False, length=32), nullable=False),
    sa.Column('reason', sa.String(length=48), nullable=False),
    sa.Column('status', sa.Enum('open', 'in_progress', 'closed', 'cancelled', name='casestatus', native_enum=False, length=32), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolution_action', sa.String(length=48), nullable=True),
    sa.Column('resolution_note', sa.Text(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['branch_id'], ['branches.id'], name=op.f('fk_cases_branch_id_branches')),
    sa.ForeignKeyConstraint(['policy_id'], ['policies.id'], name=op.f('fk_cases_policy_id_policies')),
    sa.ForeignKeyConstraint(['task_id'], ['callback_tasks.id'], name=op.f('fk_cases_task_id_callback_tasks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cases'))
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cases_branch_id'), ['branch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_policy_id'), ['policy_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_task_id'), ['task_id'], unique=False)

    op.create_table('task_holds',
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Enum('duplicate_number', 'wrong_number', name='holdreason', native_enum=False, length=32), nullable=False),
    sa.Column('detail', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('released_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('release_note', sa.String(length=255), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['task_id'], ['callback_tasks.id'], name=op.f('fk_task_holds_task_id_callback_tasks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_task_holds'))
    )
    with op.batch_alter_table('task_holds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_task_holds_task_id'), ['task_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('task_holds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_task_holds_task_id'))

    op.drop_table('task_holds')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_task_id'))
        batch_op.drop_index(batch_op.f('ix_cases_status'))
        batch_op.drop_index(batch_op.f('ix_cases_policy_id'))
        batch_op.drop_index(batch_op.f('ix_cases_branch_id'))

    op.drop_table('cases')
    with op.batch_alter_table('callback_tasks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_callback_tasks_status'))

    op.drop_table('callback_tasks')
    with op.batch_alter_table('policies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_policies_branch_id'))
        batch_op.drop_index(batch_op.f('ix_policies_applicant_phone'))
        batch_op.drop_index(batch_op.f('ix_policies_agent_id'))

    op.drop_table('policies')
    op.drop_table('agents')
    op.drop_table('branches')
