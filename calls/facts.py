"""From the stored policy to the plain facts a flow speaks (flows never see an ORM object)."""

from __future__ import annotations

from datetime import date

from flows.facts import PolicyFacts
from kit.calendar import age_on
from kit.settings import QuestionnaireSettings
from storage.models import Agent, CallbackTask, Policy


def policy_facts(policy: Policy, task: CallbackTask, agent: Agent, today: date,
                 settings: QuestionnaireSettings) -> PolicyFacts:
    if policy.receipt_signed_date is None or policy.cooling_off_end is None:
        raise ValueError(f"policy {policy.policy_no} has no receipt date yet: it cannot be called back")
    return PolicyFacts(
        applicant_name=policy.applicant_name,
        applicant_gender=str(policy.applicant_gender),
        applicant_birth_date=policy.applicant_birth_date,
        applicant_age=age_on(policy.applicant_birth_date, today),
        insured_name=policy.insured_name,
        insured_is_applicant=policy.insured_is_applicant,
        product_name=policy.product_name,
        product_type=str(policy.product_type),
        channel=str(policy.channel),
        premium=policy.premium,
        payment_frequency=str(policy.payment_frequency),
        payment_years=policy.payment_years,
        policy_term_years=policy.policy_term_years,
        receipt_signed_date=policy.receipt_signed_date,
        cooling_off_days=policy.cooling_off_days,
        cooling_off_end=policy.cooling_off_end,
        dual_recorded=policy.dual_recorded,
        variant=str(task.questionnaire_variant),
        agent_name=agent.name,
        bank_name=policy.bank_name,
        phone_last4=policy.applicant_phone[-4:],
        company_name=settings.company_name,
        hotline=settings.hotline,
    )
