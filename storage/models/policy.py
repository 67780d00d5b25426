"""A newly issued policy with its applicant and insured facts and the intake decision."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Numeric, String, false
from sqlalchemy.orm import Mapped, mapped_column

from kit.vocab import Channel, ExclusionReason, Gender, PaymentFrequency, ProductType
from storage.base import Base, IdMixin, TimestampMixin, enum_column


class Policy(IdMixin, TimestampMixin, Base):
    __tablename__ = "policies"
    __table_args__ = (
        # The queue's search on the end of a phone number (LIKE '%1234'): a trigram index on PostgreSQL (pg_trgm).
        # SQLite has none; there it is an empty partial index so that both backends name the same indexes.
        Index("ix_policies_applicant_phone_trgm", "applicant_phone", postgresql_using="gin",
              postgresql_ops={"applicant_phone": "gin_trgm_ops"}, sqlite_where=false()),
        # One branch's policies (the dashboard) and the groupings of the monthly KPIs, read from this index alone
        # on PostgreSQL (migration 0017).
        Index("ix_policies_branch_groupings", "branch_id", "id",
              postgresql_include=["agent_id", "channel", "product_type"]),
    )

    policy_no: Mapped[str] = mapped_column(String(40), unique=True)
    product_code: Mapped[str] = mapped_column(String(40))
    product_name: Mapped[str] = mapped_column(String(128))
    product_type: Mapped[ProductType] = mapped_column(enum_column(ProductType))
    channel: Mapped[Channel] = mapped_column(enum_column(Channel))
    policy_term_years: Mapped[int | None]  # None = whole life (终身)
    guaranteed_renewal: Mapped[bool]
    is_group: Mapped[bool]
    premium: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    payment_frequency: Mapped[PaymentFrequency] = mapped_column(enum_column(PaymentFrequency))
    payment_years: Mapped[int]
    issue_date: Mapped[date]
    receipt_signed_date: Mapped[date | None]
    receipt_logged_date: Mapped[date | None]
    cooling_off_days: Mapped[int]
    cooling_off_end: Mapped[date | None]

    applicant_name: Mapped[str] = mapped_column(String(64), index=True)  # the queue's search
    applicant_gender: Mapped[Gender] = mapped_column(enum_column(Gender))
    applicant_birth_date: Mapped[date]
    applicant_id_no: Mapped[str] = mapped_column(String(32))
    applicant_phone: Mapped[str] = mapped_column(String(32), index=True)  # E.164 when valid, else as given
    applicant_phone_valid: Mapped[bool]
    applicant_phone2: Mapped[str | None] = mapped_column(String(32))
    insured_name: Mapped[str] = mapped_column(String(64))
    insured_is_applicant: Mapped[bool]

    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"), index=True)
    agent_is_applicant: Mapped[bool]
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"))  # indexed with its id (__table_args__)
    bank_name: Mapped[str | None] = mapped_column(String(128))
    dual_recorded: Mapped[bool]
    dual_recorded_derived: Mapped[bool]  # True when the file had no value and intake derived it (§8.4)

    dispute_started_on: Mapped[date | None]  # a complaint or lawsuit (retention runs 2 years past its end)
    dispute_ended_on: Mapped[date | None]
    callback_required: Mapped[bool]
    exclusion_reason: Mapped[ExclusionReason | None] = mapped_column(enum_column(ExclusionReason))


class PhoneRecheck(IdMixin, Base):
    """A phone number an import has touched whose phone-quality holds are not evaluated yet: the applicant phones
    of the policies a chunk inserted or updated (new and old values) and the old and new phones of the agents it
    changed. Written in each chunk's transaction and taken (evaluated, deleted) by the import's last transaction
    (intake.phone_quality), so the numbers of an import that stops in between are evaluated by the next one."""

    __tablename__ = "phone_rechecks"

    phone: Mapped[str] = mapped_column(String(32))
