"""queue indexes: the open cases' queue and SLA counts from one covering index, the applicant search

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30

- ix_cases_open_queue: the open cases only (partial), with every column the queue's filters, its processing
  order and the SLA counts read, so PostgreSQL answers them with an index-only scan (bench/console.py).
- ix_policies_applicant_name: the queue's search on the applicant's name.
- ix_policies_applicant_phone_trgm: the search on the end of a phone number (LIKE '%1234'); a trigram index
  (pg_trgm) on PostgreSQL. SQLite has no such index: there it is an empty partial index, kept so that models
  and migrations name the same indexes on both backends.
- cases is vacuumed after 1,000 changed or added rows instead of PostgreSQL's default 20 % of the table: an
  index-only scan reads the table for every page changed since the last vacuum (bench/console.py --churn:
  3 % of the open cases changed made the supervisor's page twice as slow).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN_CASES = sa.text("status IN ('in_progress', 'open')")  # kit.vocab.OPEN_CASE_STATUSES
AUTOVACUUM = ('autovacuum_vacuum_scale_factor', 'autovacuum_vacuum_threshold', 'autovacuum_vacuum_insert_scale_factor',
              'autovacuum_vacuum_insert_threshold')
QUEUE_COLUMNS = ['branch_id', 'type', 'created_at', 'due_at', 'warn_at', 'closed_at', 'assigned_to', 'policy_id',
                 'id']


def upgrade() -> None:
    op.create_index('ix_cases_open_queue', 'cases', QUEUE_COLUMNS, postgresql_where=OPEN_CASES,
                    sqlite_where=OPEN_CASES)
    op.create_index('ix_policies_applicant_name', 'policies', ['applicant_name'])
    if op.get_bind().dialect.name == 'postgresql':
        # pg_trgm ships with PostgreSQL (contrib) and is a trusted extension: the database's owner may create it
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
        op.execute('ALTER TABLE cases SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000, '
                   'autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 1000)')
    op.create_index('ix_policies_applicant_phone_trgm', 'policies', ['applicant_phone'], postgresql_using='gin',
                    postgresql_ops={'applicant_phone': 'gin_trgm_ops'}, sqlite_where=sa.false())


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f"ALTER TABLE cases RESET ({', '.join(AUTOVACUUM)})")  # pg_trgm stays: others may use it
    op.drop_index('ix_policies_applicant_phone_trgm', table_name='policies')
    op.drop_index('ix_policies_applicant_name', table_name='policies')
    op.drop_index('ix_cases_open_queue', table_name='cases')
